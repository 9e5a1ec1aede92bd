/* provider_duckdns.c - DuckDNS: one GET for every host name,
 * update?domains=a,b&token=T&ip=IP, answered "OK" or "KO".
 *
 * The token travels in the query, so the URL is a secret: it is built
 * here, handed to curl and never logged (http.c names only the host). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "homeport.h"
#include "http.h"
#include "log.h"
#include "provider.h"
#include "util.h"

#define DEFAULT_URL "https://www.duckdns.org/update"
#define SUFFIX ".duckdns.org"

enum { K_TOKEN_FILE, K_CA_FILE, K_ALLOW_HTTP, K_TIMEOUT };

static const struct cfgkey keys[] = {
	[K_TOKEN_FILE] = { .name = "token_file", .type = CK_SECRET_FILE,
			   .flags = CK_FP | CK_REQUIRED },
	[K_CA_FILE]    = CFGKEY_CA_FILE,
	[K_ALLOW_HTTP] = CFGKEY_ALLOW_HTTP,
	[K_TIMEOUT]    = CFGKEY_TIMEOUT,
};

struct duck {
	const struct cfg_ddns *cfg;
	ddns_done_cb done;
	void *ctx;
	struct http_call *call;
};

/* "myhome.duckdns.org" and "myhome" both mean the sub-domain "myhome". */
static char *domains_of(const struct cfg_ddns *cfg)
{
	size_t cap = 1;
	char *out;

	for (size_t i = 0; i < cfg->n_hostnames; i++)
		cap += strlen(cfg->hostnames[i]) * 3 + 1;
	out = xcalloc(cap, 1);
	for (size_t i = 0; i < cfg->n_hostnames; i++) {
		char *name = xstrdup(cfg->hostnames[i]), *esc;
		size_t n = strlen(name), s = strlen(SUFFIX);

		if (n > 0 && name[n - 1] == '.')
			name[--n] = '\0';
		if (n > s && strcasecmp(name + n - s, SUFFIX) == 0)
			name[n - s] = '\0';
		esc = http_escape(name);
		if (i)
			strcat(out, ",");
		strcat(out, esc);
		free(esc);
		free(name);
	}
	return out;
}

static void duck_free(struct duck *d)
{
	if (!d)
		return;
	http_cancel(d->call);
	free(d);
}

/* First line of the body, white space trimmed, is the verdict. */
static void judge(const struct http_response *r, struct ddns_result *res)
{
	size_t n = 0;
	const char *b = r->body;

	memset(res, 0, sizeof(*res));
	if (r->curl_code != 0 || r->status == 0 || r->status >= 500 || r->status == 429) {
		char what[200];
		http_failure_text(r, what, sizeof(what));
		res->outcome = DDNS_TEMPFAIL;
		res->retry_after = r->retry_after;
		snprintf(res->error, sizeof(res->error), "DuckDNS: %s", what);
		return;
	}
	while (*b == ' ' || *b == '\t' || *b == '\r' || *b == '\n')
		b++;
	while (b[n] && b[n] != '\r' && b[n] != '\n' && b[n] != ' ')
		n++;
	if (r->status == 200 && n == 2 && memcmp(b, "OK", 2) == 0) {
		res->outcome = DDNS_OK;
	} else if (n == 2 && memcmp(b, "KO", 2) == 0) {
		res->outcome = DDNS_PERMFAIL;
		snprintf(res->error, sizeof(res->error), "DuckDNS KO: bad token or domain");
	} else {
		char word[40];
		http_clean_text(word, sizeof(word), b, n);
		res->outcome = DDNS_TEMPFAIL;
		snprintf(res->error, sizeof(res->error),
			 "DuckDNS: unexpected reply \"%s\" (HTTP %ld)", word, r->status);
	}
}

static void on_reply(void *arg, const struct http_response *resp)
{
	struct duck *d = arg;
	struct ddns_result res;

	d->call = NULL;
	judge(resp, &res);
	d->done(d->ctx, &res);
	duck_free(d);
}

/* An AAAA update sends ipv6= alone: DuckDNS then takes the IPv4 of the
 * connection for the A record (it cannot be told to keep it). */
static char *build_url(const struct cfg_ddns *cfg, const char *base, enum ddns_record rec,
		       const char *ip)
{
	char *dom = domains_of(cfg), *tok = http_escape(cfg_ddns_secret(cfg, K_TOKEN_FILE)), *eip = http_escape(ip);
	size_t n = strlen(base) + strlen(dom) + strlen(tok) + strlen(eip) + 32;
	char *url = xcalloc(n, 1);

	snprintf(url, n, "%s%sdomains=%s&token=%s&%s=%s", base,
		 strchr(base, '?') ? "&" : "?", dom, tok, rec == DDNS_REC_AAAA ? "ipv6" : "ip", eip);
	free(dom);
	free_secret(tok);
	free(eip);
	return url;
}

static void *duck_start(const struct cfg_ddns *cfg, enum ddns_record rec, const char *ip,
			ddns_done_cb done, void *ctx, struct ddns_result *res)
{
	struct duck *d = NULL;
	const char *base = cfg->preset && cfg->preset->default_server ?
			   cfg->preset->default_server : DEFAULT_URL;
	struct http_request req = {
		.method = "GET", .ca_file = cfg_ddns_str(cfg, K_CA_FILE),
		.timeout = cfg_ddns_num(cfg, K_TIMEOUT), .allow_http = cfg_ddns_bool(cfg, K_ALLOW_HTTP),
	};
	char *url = NULL;

	memset(res, 0, sizeof(*res));
	res->outcome = DDNS_PERMFAIL;
	if (!cfg->n_hostnames || !cfg_ddns_secret(cfg, K_TOKEN_FILE)) {
		snprintf(res->error, sizeof(res->error), "DuckDNS: host name and token are required");
		goto out;
	}
	if (!http_url_allowed(base, req.allow_http)) {
		snprintf(res->error, sizeof(res->error),
			 "DuckDNS: server is not an https:// URL (allow_http is off)");
		goto out;
	}
	d = xcalloc(1, sizeof(*d));
	d->cfg = cfg;
	d->done = done;
	d->ctx = ctx;
	url = build_url(cfg, base, rec, ip);
	req.url = url;
	log_debug("duckdns %s: updating %zu host(s)", cfg->name ? cfg->name : "-",
		  cfg->n_hostnames);
	d->call = http_start(&req, on_reply, d);
	if (!d->call) {
		res->outcome = DDNS_TEMPFAIL;
		snprintf(res->error, sizeof(res->error), "DuckDNS: cannot start a request");
		duck_free(d);
		d = NULL;
	}
out:
	free_secret(url);
	return d;
}

static void duck_cancel(void *handle)
{
	duck_free(handle);
}

const struct provider_ops provider_duckdns_ops = {
	.name = "duckdns",
	.keys = keys,
	.n_keys = HP_ARRAY_LEN(keys),
	.records = DDNS_REC_A | DDNS_REC_AAAA,
	.start = duck_start,
	.cancel = duck_cancel,
};
