/* provider_dyndns2.c - the dyndns2 protocol (Dyn's remote access API) and
 * every preset built on it (noip, he, desec, ...: see provider.c).
 *
 * GET server?hostname=h1,h2&myip=IP with Basic auth. The reply body holds
 * one line per host whose first word is the verdict; the HTTP status is
 * not reliable (badauth arrives with 200 or 401), except for deSEC, which
 * signals errors by status only. Hosts go in batches (one per request for
 * ONE_HOST_PER_REQUEST presets, at most 20 otherwise, the protocol's limit);
 * the first failed batch ends the update, so a failing provider is not
 * hammered with the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "homeport.h"
#include "http.h"
#include "log.h"
#include "provider.h"
#include "util.h"

#define MAX_HOSTS_PER_REQUEST 20
#define RETRY_SERVER_TROUBLE  1800   /* 911, dnserr: "no sooner than 30 minutes" */

/* ---- keys ---- */

enum { K_SERVER, K_USERNAME, K_PASSWORD_FILE, K_CA_FILE, K_ALLOW_HTTP, K_TIMEOUT };

static const struct cfgkey keys[] = {
	[K_SERVER]        = { .name = "server", .type = CK_URL, .flags = CK_FP | CK_PRESET },
	[K_USERNAME]      = { .name = "username", .type = CK_STRING, .flags = CK_FP },
	[K_PASSWORD_FILE] = { .name = "password_file", .type = CK_SECRET_FILE, .flags = CK_FP },
	[K_CA_FILE]       = CFGKEY_CA_FILE,
	[K_ALLOW_HTTP]    = CFGKEY_ALLOW_HTTP,
	[K_TIMEOUT]       = CFGKEY_TIMEOUT,
};

/* Which keys are required depends on the preset. */
static void dd2_validate(struct cfg_ddns *d, struct config_check *chk)
{
	config_check_require(chk, "server", cfg_ddns_str(d, K_SERVER) || d->preset->default_server);
	if (!(d->preset->flags & PRESET_NO_USERNAME))
		config_check_require(chk, "username", cfg_ddns_str(d, K_USERNAME) != NULL);
	config_check_require(chk, "password_file", cfg_ddns_str(d, K_PASSWORD_FILE) != NULL);
}

/* ---- the reply parser (pure, fuzzed) ---- */

struct code_info {
	const char *word;
	enum ddns_outcome outcome;
	bool per_host;                /* the message names the host */
	const char *text;
};

static const struct code_info codes[] = {
	{ "good",        DDNS_OK,       false, "" },
	{ "nochg",       DDNS_OK,       false, "" },
	{ "badauth",     DDNS_PERMFAIL, false, "bad user name or password" },
	{ "!donator",    DDNS_PERMFAIL, false, "option not available to this account" },
	{ "notfqdn",     DDNS_PERMFAIL, true,  "not a fully qualified host name" },
	{ "nohost",      DDNS_PERMFAIL, true,  "host name not in this account" },
	{ "numhost",     DDNS_PERMFAIL, false, "too many hosts in one request" },
	{ "abuse",       DDNS_PERMFAIL, true,  "blocked for abuse" },
	{ "badagent",    DDNS_PERMFAIL, false, "client or request method refused" },
	{ "!yours",      DDNS_PERMFAIL, true,  "host name belongs to another account" },
	{ "!active",     DDNS_PERMFAIL, true,  "host name not active" },
	{ "badsys",      DDNS_PERMFAIL, false, "bad system parameter" },
	{ "dnserr",      DDNS_TEMPFAIL, false, "provider DNS error, retry in 30 minutes" },
	{ "911",         DDNS_TEMPFAIL, false, "provider outage, retry in 30 minutes" },
	{ "interror",    DDNS_TEMPFAIL, false, "provider internal error" },
	{ "servererror", DDNS_TEMPFAIL, false, "provider server error" },
};

static const struct code_info *code_find(const char *word, size_t n)
{
	for (size_t i = 0; i < HP_ARRAY_LEN(codes); i++)
		if (strlen(codes[i].word) == n && memcmp(codes[i].word, word, n) == 0)
			return &codes[i];
	return NULL;
}

/* Start and length of line i (blank lines skipped); false if none. */
static bool line_at(const char *body, size_t len, size_t want, const char **start, size_t *n)
{
	size_t pos = 0, idx = 0;

	while (pos < len) {
		size_t end = pos;
		while (end < len && body[end] != '\n')
			end++;
		size_t s = pos, e = end;
		while (s < e && (body[s] == ' ' || body[s] == '\t' || body[s] == '\r'))
			s++;
		if (s < e) {
			if (idx++ == want) {
				*start = body + s;
				*n = e - s;
				return true;
			}
		}
		pos = end + 1;
	}
	return false;
}

static size_t count_lines(const char *body, size_t len)
{
	const char *s;
	size_t n, count = 0;

	/* Bounded: nobody sends more lines than hosts that matter. */
	while (count <= MAX_HOSTS_PER_REQUEST && line_at(body, len, count, &s, &n))
		count++;
	return count;
}

static int rank(enum ddns_outcome o)
{
	return o == DDNS_PERMFAIL ? 2 : o == DDNS_TEMPFAIL ? 1 : 0;
}

/* One host's line -> outcome and message. */
static void judge_line(const char *line, size_t n, const char *host, struct ddns_result *r)
{
	size_t w = 0;
	const struct code_info *ci;
	char word[40];

	while (w < n && line[w] != ' ' && line[w] != '\t' && line[w] != '\r')
		w++;
	ci = code_find(line, w);
	memset(r, 0, sizeof(*r));
	if (!ci) {
		http_clean_text(word, sizeof(word), line, w);
		r->outcome = DDNS_TEMPFAIL;
		snprintf(r->error, sizeof(r->error),
			 "dyndns2: unexpected reply \"%s\" for %s", word, host);
		return;
	}
	r->outcome = ci->outcome;
	if (ci->outcome == DDNS_OK)
		return;
	if (strcmp(ci->word, "911") == 0 || strcmp(ci->word, "dnserr") == 0)
		r->retry_after = RETRY_SERVER_TROUBLE;
	if (ci->per_host)
		snprintf(r->error, sizeof(r->error), "dyndns2 %s: %s: %s", ci->word, host, ci->text);
	else
		snprintf(r->error, sizeof(r->error), "dyndns2 %s: %s", ci->word, ci->text);
}

void provider_dyndns2_parse(const char *body, size_t len,
			    const char *const *hosts, size_t n_hosts,
			    struct ddns_result *res)
{
	size_t lines = count_lines(body, len);

	memset(res, 0, sizeof(*res));
	res->outcome = DDNS_OK;
	if (lines == 0) {
		res->outcome = DDNS_TEMPFAIL;
		snprintf(res->error, sizeof(res->error), "dyndns2: empty reply");
		return;
	}
	for (size_t i = 0; i < n_hosts; i++) {
		struct ddns_result r;
		const char *line;
		size_t n;

		/* One line for many hosts applies to all (account-wide codes). */
		if (!line_at(body, len, lines == 1 ? 0 : i, &line, &n)) {
			memset(&r, 0, sizeof(r));
			r.outcome = DDNS_TEMPFAIL;
			snprintf(r.error, sizeof(r.error), "dyndns2: no answer for %s", hosts[i]);
		} else {
			judge_line(line, n, hosts[i], &r);
		}
		if (rank(r.outcome) > rank(res->outcome))
			*res = r;
	}
}

/* ---- one update ---- */

struct dd2 {
	const struct cfg_ddns *cfg;
	char ip[64];
	enum ddns_record rec;
	ddns_done_cb done;
	void *ctx;
	const char *base;             /* update URL */
	size_t next;                  /* first host of the next batch */
	size_t batch;                 /* hosts in the request in flight */
	struct http_call *call;
};

static void dd2_free(struct dd2 *d)
{
	if (!d)
		return;
	http_cancel(d->call);
	free(d);
}

static void dd2_finish(struct dd2 *d, const struct ddns_result *res)
{
	d->done(d->ctx, res);
	dd2_free(d);
}

static size_t batch_size(const struct dd2 *d)
{
	unsigned flags = d->cfg->preset ? d->cfg->preset->flags : 0;
	size_t left = d->cfg->n_hostnames - d->next;

	if (flags & PRESET_ONE_HOST_PER_REQUEST)
		return 1;
	return left < MAX_HOSTS_PER_REQUEST ? left : MAX_HOSTS_PER_REQUEST;
}

/* The address parameters of one request (the preset table in
 * homeport.conf(5)): A always goes in myip; AAAA in myipv6 or myip, as the
 * preset's servers want it. deSEC replaces the other family unless told
 * to keep it. */
const char *provider_dyndns2_addr_query(enum preset_v6 v6, enum ddns_record rec, char *buf,
					size_t len, const char *ip)
{
	bool aaaa = rec == DDNS_REC_AAAA;

	if (!aaaa)
		snprintf(buf, len, "myip=%s%s", ip, v6 == PRESET_V6_DESEC ? "&myipv6=preserve" : "");
	else if (v6 == PRESET_V6_MYIP)
		snprintf(buf, len, "myip=%s", ip);
	else
		snprintf(buf, len, "myipv6=%s%s", ip, v6 == PRESET_V6_DESEC ? "&myipv4=preserve" : "");
	return buf;
}

static char *build_url(const struct dd2 *d)
{
	const char *extra = d->cfg->preset ? d->cfg->preset->extra_query : NULL;
	size_t cap = strlen(d->base) + 96 + (extra ? strlen(extra) : 0);
	char addr[160];
	char *url, *ip = http_escape(d->ip);

	for (size_t i = 0; i < d->batch; i++)
		cap += strlen(d->cfg->hostnames[d->next + i]) * 3 + 1;
	url = xcalloc(cap, 1);
	snprintf(url, cap, "%s%shostname=", d->base, strchr(d->base, '?') ? "&" : "?");
	for (size_t i = 0; i < d->batch; i++) {
		char *h = http_escape(d->cfg->hostnames[d->next + i]);
		if (i)
			strcat(url, ",");
		strcat(url, h);
		free(h);
	}
	strcat(url, "&");
	strcat(url, provider_dyndns2_addr_query(d->cfg->preset ? d->cfg->preset->v6 :
						PRESET_V6_MYIPV6, d->rec, addr, sizeof(addr), ip));
	if (extra) {
		strcat(url, "&");
		strcat(url, extra);
	}
	free(ip);
	return url;
}

static void on_reply(void *arg, const struct http_response *resp);

static int send_batch(struct dd2 *d)
{
	const struct cfg_ddns *c = d->cfg;
	unsigned flags = c->preset ? c->preset->flags : 0;
	const char *password = cfg_ddns_secret(c, K_PASSWORD_FILE);
	struct http_request req = {
		.method = "GET", .password = password ? password : "",
		.ca_file = cfg_ddns_str(c, K_CA_FILE), .timeout = cfg_ddns_num(c, K_TIMEOUT),
		.allow_http = cfg_ddns_bool(c, K_ALLOW_HTTP),
	};
	char *url;

	d->batch = batch_size(d);
	url = build_url(d);
	req.url = url;
	/* he.net: the Basic-auth user is the record's own name. */
	req.username = (flags & PRESET_USER_IS_HOSTNAME) ? c->hostnames[d->next] :
		       cfg_ddns_str(c, K_USERNAME);
	if (!req.username && !password)
		req.password = NULL;
	log_debug("dyndns2 %s: update of %zu host(s) from %s", c->name ? c->name : "-",
		  d->batch, c->hostnames[d->next]);
	d->call = http_start(&req, on_reply, d);
	free(url);
	return d->call ? 0 : -1;
}

/* deSEC: errors are HTTP statuses; the body only says "good". */
static bool judge_status(const struct dd2 *d, const struct http_response *r,
			 struct ddns_result *res)
{
	unsigned flags = d->cfg->preset ? d->cfg->preset->flags : 0;
	char what[160];

	http_failure_text(r, what, sizeof(what));
	memset(res, 0, sizeof(*res));
	if (r->curl_code != 0 || r->status == 0 || r->status >= 500 || r->status == 429) {
		res->outcome = DDNS_TEMPFAIL;
		res->retry_after = r->retry_after;
		snprintf(res->error, sizeof(res->error), "dyndns2: %s", what);
		return true;
	}
	if ((flags & PRESET_STATUS_BY_HTTP) && r->status >= 400) {
		res->outcome = (r->status == 408) ? DDNS_TEMPFAIL : DDNS_PERMFAIL;
		snprintf(res->error, sizeof(res->error), "dyndns2: %s%s", what,
			 r->status == 401 || r->status == 403 ? " (bad credentials)" :
			 r->status == 404 || r->status == 400 ? " (host name not found)" : "");
		return true;
	}
	return false;
}

static void on_reply(void *arg, const struct http_response *resp)
{
	struct dd2 *d = arg;
	struct ddns_result res;
	const char *const *hosts = (const char *const *)d->cfg->hostnames + d->next;

	d->call = NULL;
	if (!judge_status(d, resp, &res)) {
		provider_dyndns2_parse(resp->body, resp->body_len, hosts, d->batch, &res);
		/* A refusal we cannot read: the status still tells credentials. */
		if (res.outcome == DDNS_TEMPFAIL && !res.retry_after &&
		    (resp->status == 401 || resp->status == 403)) {
			res.outcome = DDNS_PERMFAIL;
			snprintf(res.error, sizeof(res.error),
				 "dyndns2: HTTP %ld from %s (bad credentials)", resp->status,
				 resp->host);
		}
	}
	d->next += d->batch;
	if (res.outcome != DDNS_OK || d->next >= d->cfg->n_hostnames) {
		dd2_finish(d, &res);
		return;
	}
	if (send_batch(d) < 0) {
		memset(&res, 0, sizeof(res));
		res.outcome = DDNS_TEMPFAIL;
		snprintf(res.error, sizeof(res.error), "dyndns2: cannot start a request");
		dd2_finish(d, &res);
	}
}

static void *dd2_start(const struct cfg_ddns *cfg, enum ddns_record rec, const char *ip,
		       ddns_done_cb done, void *ctx, struct ddns_result *res)
{
	struct dd2 *d = NULL;
	unsigned flags = cfg->preset ? cfg->preset->flags : 0;

	memset(res, 0, sizeof(*res));
	res->outcome = DDNS_PERMFAIL;
	if (!cfg->n_hostnames) {
		snprintf(res->error, sizeof(res->error), "dyndns2: no host name configured");
		goto fail;
	}
	if (!cfg_ddns_str(cfg, K_USERNAME) && !(flags & (PRESET_NO_USERNAME | PRESET_USER_IS_HOSTNAME))) {
		snprintf(res->error, sizeof(res->error), "dyndns2: no username configured");
		goto fail;
	}
	d = xcalloc(1, sizeof(*d));
	d->cfg = cfg;
	d->done = done;
	d->ctx = ctx;
	snprintf(d->ip, sizeof(d->ip), "%s", ip);
	d->rec = rec;
	d->base = cfg_ddns_str(cfg, K_SERVER);
	if (!d->base && cfg->preset)
		d->base = rec == DDNS_REC_AAAA && cfg->preset->v6_server ? cfg->preset->v6_server :
			  cfg->preset->default_server;
	if (!d->base) {
		snprintf(res->error, sizeof(res->error), "dyndns2: no server URL configured");
		goto fail;
	}
	if (!http_url_allowed(d->base, cfg_ddns_bool(cfg, K_ALLOW_HTTP))) {
		snprintf(res->error, sizeof(res->error),
			 "dyndns2: server is not an https:// URL (allow_http is off)");
		goto fail;
	}
	if (send_batch(d) < 0) {
		res->outcome = DDNS_TEMPFAIL;
		snprintf(res->error, sizeof(res->error), "dyndns2: cannot start a request");
		goto fail;
	}
	return d;
fail:
	dd2_free(d);
	return NULL;
}

static void dd2_cancel(void *handle)
{
	dd2_free(handle);
}

const struct provider_ops provider_dyndns2_ops = {
	.name = "dyndns2",
	.keys = keys,
	.n_keys = HP_ARRAY_LEN(keys),
	.records = DDNS_REC_A | DDNS_REC_AAAA,
	.validate = dd2_validate,
	.start = dd2_start,
	.cancel = dd2_cancel,
};
