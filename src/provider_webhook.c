/* provider_webhook.c - any HTTP API through a template: url, method,
 * header lines and an optional body with %ip% and %hostname% replaced.
 *
 * In the URL the values are percent-encoded; in headers and the body they
 * go in as they are (a JSON body wants the plain name). When %hostname%
 * appears anywhere, one request goes per host name, in order, and the first
 * failure ends the update; otherwise one request serves them all. Success
 * is a 2xx whose body matches success_regex (POSIX ERE) when one is set.
 * Credentials belong in header_file (a secret file of "Name: value"
 * lines, sent as they are, after the header lines); no header is ever
 * logged. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "homeport.h"
#include "http.h"
#include "log.h"
#include "provider.h"
#include "util.h"

enum {
	K_URL, K_METHOD, K_HEADER, K_HEADER_FILE, K_BODY, K_SUCCESS_REGEX, K_CA_FILE,
	K_ALLOW_HTTP, K_TIMEOUT
};

static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", NULL };

static const struct cfgkey keys[] = {
	[K_URL]           = { .name = "url", .type = CK_URL, .flags = CK_FP | CK_REQUIRED },
	[K_METHOD]        = { .name = "method", .type = CK_CHOICE, .flags = CK_FP, .def = "GET",
			      .choices = methods },
	[K_HEADER]        = { .name = "header", .type = CK_HEADER, .flags = CK_FP | CK_REPEAT },
	[K_HEADER_FILE]   = { .name = "header_file", .type = CK_HEADER_FILE, .flags = CK_FP },
	[K_BODY]          = { .name = "body", .type = CK_STRING, .flags = CK_FP },
	[K_SUCCESS_REGEX] = { .name = "success_regex", .type = CK_REGEX, .flags = CK_FP },
	[K_CA_FILE]       = CFGKEY_CA_FILE,
	[K_ALLOW_HTTP]    = CFGKEY_ALLOW_HTTP,
	[K_TIMEOUT]       = CFGKEY_TIMEOUT,
};

struct hook {
	const struct cfg_ddns *cfg;
	char ip[64];
	char ipv6[64];               /* AAAA: the address (also in ip); A: "" */
	ddns_done_cb done;
	void *ctx;
	regex_t re;
	bool have_re;
	bool per_host;
	size_t host;
	struct http_call *call;
};

/* tmpl with %ip%, %ipv6% and %hostname% replaced (host may be NULL: left
 * as is). */
static char *subst(const char *tmpl, const struct hook *h, const char *host, bool escape)
{
	char *eip = escape ? http_escape(h->ip) : xstrdup(h->ip);
	char *eip6 = escape ? http_escape(h->ipv6) : xstrdup(h->ipv6);
	char *eh = host ? (escape ? http_escape(host) : xstrdup(host)) : NULL;
	size_t cap = strlen(tmpl) + 1, len = 0;
	char *out;

	/* Each marker is longer than nothing: size for the worst case. */
	cap += (strlen(tmpl) / 4 + 1) * (strlen(eip) + strlen(eip6) + (eh ? strlen(eh) : 0));
	out = xcalloc(cap, 1);
	for (const char *p = tmpl; *p;) {
		const char *val = NULL;
		size_t skip = 0;

		if (strncmp(p, "%ip%", 4) == 0) {
			val = eip;
			skip = 4;
		} else if (strncmp(p, "%ipv6%", 6) == 0) {
			val = eip6;
			skip = 6;
		} else if (eh && strncmp(p, "%hostname%", 10) == 0) {
			val = eh;
			skip = 10;
		}
		if (val) {
			memcpy(out + len, val, strlen(val));
			len += strlen(val);
			p += skip;
		} else {
			out[len++] = *p++;
		}
	}
	out[len] = '\0';
	free(eip);
	free(eip6);
	free(eh);
	return out;
}

static bool uses_hostname(const struct cfg_ddns *cfg)
{
	const char *body = cfg_ddns_str(cfg, K_BODY);
	size_t n;
	const char *const *hdrs = cfg_ddns_list(cfg, K_HEADER, &n);

	if (strstr(cfg_ddns_str(cfg, K_URL), "%hostname%") || (body && strstr(body, "%hostname%")))
		return true;
	for (size_t i = 0; i < n; i++)
		if (strstr(hdrs[i], "%hostname%"))
			return true;
	return false;
}

/* A line break in anything that lands in a header would let it forge
 * more headers (config and the gateway's IP should never carry one). */
static bool has_line_break(const struct cfg_ddns *cfg, const char *ip)
{
	size_t n;
	const char *const *hdrs = cfg_ddns_list(cfg, K_HEADER, &n);

	if (strpbrk(ip, "\r\n"))
		return true;
	for (size_t i = 0; i < cfg->n_hostnames; i++)
		if (strpbrk(cfg->hostnames[i], "\r\n"))
			return true;
	for (size_t i = 0; i < n; i++)
		if (strpbrk(hdrs[i], "\r\n"))
			return true;
	return false;
}

/* The config check read header_file already; a hand-made entry may not. */
static bool header_file_ok(const struct cfg_ddns *cfg, struct ddns_result *res)
{
	const char *file = cfg_ddns_secret(cfg, K_HEADER_FILE);
	char why[120], **lines;
	size_t n;

	if (file == NULL)
		return true;
	lines = cfgkey_header_lines(file, &n, why, sizeof(why));
	if (lines == NULL) {
		snprintf(res->error, sizeof(res->error), "webhook: header_file %s", why);
		return false;
	}
	cfgkey_header_lines_free(lines);
	return true;
}

static void hook_free(struct hook *h)
{
	if (!h)
		return;
	http_cancel(h->call);
	if (h->have_re)
		regfree(&h->re);
	free(h);
}

static void on_reply(void *arg, const struct http_response *resp);

static int send_one(struct hook *h)
{
	const struct cfg_ddns *c = h->cfg;
	const char *host = h->per_host ? c->hostnames[h->host] : NULL;
	const char *method = cfg_ddns_str(c, K_METHOD), *tbody = cfg_ddns_str(c, K_BODY);
	const char *file = cfg_ddns_secret(c, K_HEADER_FILE);
	size_t n_headers, n_file = 0;
	const char *const *theaders = cfg_ddns_list(c, K_HEADER, &n_headers);
	char **secret = file ? cfgkey_header_lines(file, &n_file, NULL, 0) : NULL;
	char **hdrs = xcalloc(n_headers + n_file + 1, sizeof(*hdrs));
	struct http_request req = {
		.method = method ? method : "GET", .n_headers = n_headers + n_file,
		.ca_file = cfg_ddns_str(c, K_CA_FILE), .timeout = cfg_ddns_num(c, K_TIMEOUT),
		.allow_http = cfg_ddns_bool(c, K_ALLOW_HTTP),
	};
	char *url = subst(cfg_ddns_str(c, K_URL), h, host, true);
	char *body = tbody ? subst(tbody, h, host, false) : NULL;
	char where[256];

	for (size_t i = 0; i < n_headers; i++)
		hdrs[i] = subst(theaders[i], h, host, false);
	for (size_t i = 0; i < n_file; i++)
		hdrs[n_headers + i] = secret[i];
	req.url = url;
	req.body = body;
	req.headers = (const char *const *)hdrs;
	http_url_host(url, where, sizeof(where));
	log_debug("webhook %s: %s to %s%s%s", c->name ? c->name : "-", req.method,
		  where, host ? " for " : "", host ? host : "");
	h->call = http_start(&req, on_reply, h);
	for (size_t i = 0; i < n_headers; i++)
		free_secret(hdrs[i]);
	free(hdrs);
	cfgkey_header_lines_free(secret);
	free_secret(url);
	free_secret(body);
	return h->call ? 0 : -1;
}

static void judge(const struct hook *h, const struct http_response *r, struct ddns_result *res)
{
	char what[200];
	long s = r->status;

	memset(res, 0, sizeof(*res));
	http_failure_text(r, what, sizeof(what));
	if (r->curl_code != 0 || s == 0) {
		res->outcome = DDNS_TEMPFAIL;
		snprintf(res->error, sizeof(res->error), "webhook: %s", what);
	} else if (s >= 200 && s <= 299) {
		if (!h->have_re || regexec(&h->re, r->body, 0, NULL, 0) == 0)
			return;              /* DDNS_OK */
		res->outcome = DDNS_TEMPFAIL;
		snprintf(res->error, sizeof(res->error),
			 "webhook: reply from %s (HTTP %ld) does not match success_regex",
			 r->host, s);
	} else {
		res->outcome = (s >= 400 && s <= 499 && s != 408 && s != 429) ?
			       DDNS_PERMFAIL : DDNS_TEMPFAIL;
		res->retry_after = r->retry_after;
		snprintf(res->error, sizeof(res->error), "webhook: %s", what);
	}
}

static void on_reply(void *arg, const struct http_response *resp)
{
	struct hook *h = arg;
	struct ddns_result res;

	h->call = NULL;
	judge(h, resp, &res);
	if (res.outcome == DDNS_OK && h->per_host && ++h->host < h->cfg->n_hostnames) {
		if (send_one(h) == 0)
			return;
		res.outcome = DDNS_TEMPFAIL;
		snprintf(res.error, sizeof(res.error), "webhook: cannot start a request");
	}
	h->done(h->ctx, &res);
	hook_free(h);
}

static void *hook_start(const struct cfg_ddns *cfg, enum ddns_record rec, const char *ip,
			ddns_done_cb done, void *ctx, struct ddns_result *res)
{
	struct hook *h = NULL;
	const char *url = cfg_ddns_str(cfg, K_URL), *method = cfg_ddns_str(cfg, K_METHOD);
	const char *regex = cfg_ddns_str(cfg, K_SUCCESS_REGEX);

	memset(res, 0, sizeof(*res));
	res->outcome = DDNS_PERMFAIL;
	if (!url) {
		snprintf(res->error, sizeof(res->error), "webhook: no url configured");
		goto fail;
	}
	if (!http_url_allowed(url, cfg_ddns_bool(cfg, K_ALLOW_HTTP))) {
		snprintf(res->error, sizeof(res->error),
			 "webhook: url is not an https:// URL (allow_http is off)");
		goto fail;
	}
	if (method && strcmp(method, "GET") && strcmp(method, "POST") &&
	    strcmp(method, "PUT") && strcmp(method, "PATCH")) {
		snprintf(res->error, sizeof(res->error),
			 "webhook: method must be GET, POST, PUT or PATCH");
		goto fail;
	}
	if (has_line_break(cfg, ip)) {
		snprintf(res->error, sizeof(res->error), "webhook: line break in a header or host name");
		goto fail;
	}
	if (!header_file_ok(cfg, res))
		goto fail;
	h = xcalloc(1, sizeof(*h));
	h->cfg = cfg;
	h->done = done;
	h->ctx = ctx;
	snprintf(h->ip, sizeof(h->ip), "%s", ip);
	if (rec == DDNS_REC_AAAA)
		snprintf(h->ipv6, sizeof(h->ipv6), "%s", ip);
	h->per_host = uses_hostname(cfg) && cfg->n_hostnames > 0;
	if (regex) {
		if (regcomp(&h->re, regex, REG_EXTENDED | REG_NOSUB) != 0) {
			snprintf(res->error, sizeof(res->error), "webhook: bad success_regex");
			goto fail;
		}
		h->have_re = true;
	}
	if (send_one(h) < 0) {
		res->outcome = DDNS_TEMPFAIL;
		snprintf(res->error, sizeof(res->error), "webhook: cannot start a request");
		goto fail;
	}
	return h;
fail:
	hook_free(h);
	return NULL;
}

static void hook_cancel(void *handle)
{
	hook_free(handle);
}

const struct provider_ops provider_webhook_ops = {
	.name = "webhook",
	.keys = keys,
	.n_keys = HP_ARRAY_LEN(keys),
	.records = DDNS_REC_A | DDNS_REC_AAAA,
	.start = hook_start,
	.cancel = hook_cancel,
};
