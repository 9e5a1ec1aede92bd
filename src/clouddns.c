/* clouddns.c - look up, compare, then modify or create: the update flow of
 * the id-keyed DNS-hosting APIs (see clouddns.h).
 *
 * Per host name: LOOKUP; one record holding the address -> nothing is sent
 * (both APIs answer an unchanged value with an error, and DNSPod bans
 * clients that send unchanged updates); one record with another value ->
 * MODIFY; none -> CREATE; more than one -> permanent failure saying which.
 * The first failing step ends the update. A record this process created is
 * remembered (id and value) for the API's index lag, so that a lookup that
 * does not show it yet leads to a MODIFY of that id, or to nothing, never to
 * a second CREATE. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clouddns.h"
#include "ev.h"
#include "homeport.h"
#include "http.h"
#include "log.h"
#include "url.h"
#include "util.h"

/* ---- the record-id cache ---- */

#define CACHE_SLOTS 32
#define CACHE_KEY_MAX 768

static struct {
	char key[CACHE_KEY_MAX];
	struct clouddns_cached v;
} cache[CACHE_SLOTS];

static int64_t mono_s(void)
{
	return ev_now_ms() / 1000;
}

static const struct clouddns_cached *cache_get(const char *key, int64_t now, uint32_t max_age)
{
	if (!key[0])
		return NULL;
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		if (cache[i].key[0] && strcmp(cache[i].key, key) == 0)
			return now - cache[i].v.at <= (int64_t)max_age ? &cache[i].v : NULL;
	return NULL;
}

/* The slot for key: its own, else a free one, else the oldest. */
static size_t cache_slot(const char *key)
{
	size_t oldest = 0;

	for (size_t i = 0; i < CACHE_SLOTS; i++)
		if (strcmp(cache[i].key, key) == 0)
			return i;
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		if (!cache[i].key[0])
			return i;
		if (cache[i].v.at < cache[oldest].v.at)
			oldest = i;
	}
	return oldest;
}

static void cache_put(const char *key, const char *id, const char *value, int64_t now)
{
	size_t slot;

	if (!key[0])
		return;
	slot = cache_slot(key);
	snprintf(cache[slot].key, sizeof(cache[slot].key), "%s", key);
	snprintf(cache[slot].v.id, sizeof(cache[slot].v.id), "%s", id);
	snprintf(cache[slot].v.value, sizeof(cache[slot].v.value), "%s", value);
	cache[slot].v.at = now;
}

static void cache_drop(const char *key)
{
	if (!key[0])
		return;
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		if (strcmp(cache[i].key, key) == 0)
			memset(&cache[i], 0, sizeof(cache[i]));
}

/* ---- pure helpers ---- */

int clouddns_endpoint_parse(const char *server, struct clouddns_endpoint *ep,
			    char *err, size_t errlen)
{
	struct url_parts u;
	int n;

	memset(ep, 0, sizeof(*ep));
	snprintf(err, errlen, "server is not a usable http(s) URL");
	if (url_split(server, &u) < 0 || (strcasecmp(u.scheme, "https") && strcasecmp(u.scheme, "http")))
		return -1;
	if (u.has_query || u.has_user) {
		snprintf(err, errlen, "server must not carry a query or user information");
		return -1;
	}
	n = snprintf(ep->host, sizeof(ep->host), "%s%s%s", u.host, u.port[0] ? ":" : "", u.port);
	if (n < 0 || (size_t)n >= sizeof(ep->host))
		return -1;
	n = snprintf(ep->path, sizeof(ep->path), "%s", u.path[0] ? u.path : "/");
	if (n < 0 || (size_t)n >= sizeof(ep->path))
		return -1;
	n = snprintf(ep->url, sizeof(ep->url), "%s://%s%s", u.scheme, ep->host, ep->path);
	if (n < 0 || (size_t)n >= sizeof(ep->url))
		return -1;
	return 0;
}

static void lower_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	while (n && src[n - 1] == '.')
		n--;
	if (n >= size)
		n = size - 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] + 32) : src[i];
	dst[n] = '\0';
}

int clouddns_target_names(struct clouddns_target *t, const char *host, const char *zone)
{
	char z[256];
	size_t hn, zn;

	lower_copy(t->name, sizeof(t->name), host);
	lower_copy(z, sizeof(z), zone);
	hn = strlen(t->name);
	zn = strlen(z);
	if (hn == 0 || zn == 0)
		return -1;
	if (strcmp(t->name, z) == 0) {
		snprintf(t->rr, sizeof(t->rr), "@");
		return 0;
	}
	if (hn <= zn + 1 || t->name[hn - zn - 1] != '.' || strcmp(t->name + hn - zn, z) != 0)
		return -1;
	snprintf(t->rr, sizeof(t->rr), "%.*s", (int)(hn - zn - 1), t->name);
	return 0;
}

bool clouddns_same_address(const char *a, const char *b)
{
	unsigned char x[16], y[16];

	if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
		return memcmp(x, y, 4) == 0;
	if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
		return memcmp(x, y, 16) == 0;
	return strcmp(a, b) == 0;
}

bool clouddns_id_ok(const char *id)
{
	size_t n = strlen(id);

	return n > 0 && n < CLOUDDNS_ID_MAX &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

enum clouddns_next clouddns_decide(const struct clouddns_reply *lookup,
				   const struct clouddns_cached *cached, const char *ip,
				   char *id_out)
{
	id_out[0] = '\0';
	if (lookup->matches > 1)
		return CLOUDDNS_NEXT_DUPLICATE;
	if (lookup->matches == 1) {
		if (clouddns_same_address(lookup->value, ip))
			return CLOUDDNS_NEXT_HOST;
		snprintf(id_out, CLOUDDNS_ID_MAX, "%s", lookup->record_id);
		return CLOUDDNS_NEXT_MODIFY;
	}
	/* Not found: our own recent create still counts (index lag). */
	if (cached && cached->id[0]) {
		if (clouddns_same_address(cached->value, ip))
			return CLOUDDNS_NEXT_HOST;
		snprintf(id_out, CLOUDDNS_ID_MAX, "%s", cached->id);
		return CLOUDDNS_NEXT_MODIFY;
	}
	return CLOUDDNS_NEXT_CREATE;
}

int clouddns_header(struct clouddns_request *r, const char *name, const char *value)
{
	if (r->n_headers >= HP_ARRAY_LEN(r->headers) ||
	    asprintf(&r->headers[r->n_headers], "%s: %s", name, value) < 0)
		return -1;
	r->n_headers++;
	return 0;
}

static void utc_text(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "?");
}

void clouddns_clock_text(int64_t server_time, int64_t now, char *buf, size_t len)
{
	char s[40], h[40];
	int64_t d = now - server_time;

	utc_text(now, h, sizeof(h));
	if (server_time <= 0) {
		snprintf(buf, len, "this host's clock says %s: check that it is right (NTP)", h);
		return;
	}
	utc_text(server_time, s, sizeof(s));
	snprintf(buf, len, "the server's clock says %s, this host's %s (%lld s %s): "
		 "set this host's clock (NTP)", s, h, (long long)(d < 0 ? -d : d),
		 d < 0 ? "behind" : "ahead");
}

/* ---- one update ---- */

struct cd {
	const struct clouddns_api *api;
	struct clouddns_conf conf;
	struct clouddns_endpoint ep;
	char type[8];
	char ip[CLOUDDNS_VALUE_MAX];
	ddns_done_cb done;
	void *ctx;
	size_t host;                     /* index into conf.hostnames */
	enum clouddns_op op;
	struct clouddns_target t;
	char cache_key[CACHE_KEY_MAX];
	struct http_call *call;
};

static void cd_free(struct cd *c)
{
	if (!c)
		return;
	http_cancel(c->call);
	free(c);
}

static void set_res(struct ddns_result *res, enum ddns_outcome o, uint32_t retry,
		    const char *fmt, ...) HP_PRINTF(4, 5);

static void set_res(struct ddns_result *res, enum ddns_outcome o, uint32_t retry,
		    const char *fmt, ...)
{
	va_list ap;

	res->outcome = o;
	res->retry_after = retry;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
}

static void request_free(struct clouddns_request *r)
{
	free(r->url);
	free(r->body);
	for (size_t i = 0; i < r->n_headers; i++)
		free(r->headers[i]);
	memset(r, 0, sizeof(*r));
}

static void on_reply(void *arg, const struct http_response *resp);

static const char *op_name(enum clouddns_op op)
{
	return op == CLOUDDNS_LOOKUP ? "looking up" : op == CLOUDDNS_CREATE ? "creating" : "updating";
}

static int cd_send(struct cd *c, enum clouddns_op op)
{
	struct clouddns_request r = { 0 };
	struct http_request req = { 0 };

	c->op = op;
	if (c->api->build(&c->conf, &c->ep, op, &c->t, (int64_t)time(NULL), &r) < 0) {
		request_free(&r);
		return -1;
	}
	req.method = r.method;
	req.url = r.url;
	req.body = r.body;
	req.headers = (const char *const *)r.headers;
	req.n_headers = r.n_headers;
	req.ca_file = c->conf.ca_file;
	req.timeout = c->conf.timeout;
	req.allow_http = c->conf.allow_http;
	log_debug("%s: %s %s record %s (line %s)", c->api->tag, op_name(op), c->t.type,
		  c->t.name, c->t.line);
	c->call = http_start(&req, on_reply, c);
	request_free(&r);
	return c->call ? 0 : -1;
}

/* Set up c->t for the current host name; -1 with *res when it is not in the zone. */
static int target_setup(struct cd *c, struct ddns_result *res)
{
	const char *host = c->conf.hostnames[c->host];
	struct clouddns_target *t = &c->t;
	int n;

	memset(t, 0, sizeof(*t));
	t->host = host;
	t->zone = c->conf.zone;
	t->type = c->type;
	t->line = c->conf.line ? c->conf.line : c->api->default_line;
	t->value = c->ip;
	t->ttl = c->conf.ttl ? c->conf.ttl : CLOUDDNS_TTL_DEF;
	if (clouddns_target_names(t, host, c->conf.zone) < 0) {
		set_res(res, DDNS_PERMFAIL, 0, "%s: %s is not in zone %s", c->api->name, host,
			c->conf.zone);
		return -1;
	}
	n = snprintf(c->cache_key, sizeof(c->cache_key), "%s|%s|%s|%s|%s|%s|%s", c->api->tag,
		     c->ep.url, c->conf.key_id, c->conf.zone, t->rr, t->type, t->line);
	if (n < 0 || (size_t)n >= sizeof(c->cache_key))
		c->cache_key[0] = '\0';       /* absurdly long names: no cache */
	return 0;
}

/* Start the next host name's lookup; 1 when every host is done, -1 with *res. */
static int next_host(struct cd *c, struct ddns_result *res)
{
	if (++c->host >= c->conf.n_hostnames)
		return 1;
	if (target_setup(c, res) < 0)
		return -1;
	if (cd_send(c, CLOUDDNS_LOOKUP) < 0) {
		set_res(res, DDNS_TEMPFAIL, 0, "%s: cannot start a request", c->api->name);
		return -1;
	}
	return 0;
}

static int after_lookup(struct cd *c, const struct clouddns_reply *rep, struct ddns_result *res)
{
	const struct clouddns_cached *cached =
		cache_get(c->cache_key, mono_s(), c->api->index_lag);

	switch (clouddns_decide(rep, cached, c->ip, c->t.record_id)) {
	case CLOUDDNS_NEXT_HOST:
		log_debug("%s: %s %s already holds %s", c->api->tag, c->t.type, c->t.name, c->ip);
		return next_host(c, res);
	case CLOUDDNS_NEXT_DUPLICATE:
		set_res(res, DDNS_PERMFAIL, 0, "%s: %zu %s records for %s (line %s); homeport "
			"keeps exactly one up to date: delete the others", c->api->name,
			rep->matches, c->t.type, c->t.name, c->t.line);
		return -1;
	case CLOUDDNS_NEXT_MODIFY:
		return cd_send(c, CLOUDDNS_MODIFY) < 0 ? -2 : 0;
	case CLOUDDNS_NEXT_CREATE:
		return cd_send(c, CLOUDDNS_CREATE) < 0 ? -2 : 0;
	}
	return -2;
}

/* The next step after a successful reply: 0 a request is out, 1 all done,
 * -1 failed with *res set. */
static int advance(struct cd *c, const struct clouddns_reply *rep, struct ddns_result *res)
{
	int rc = 0;

	switch (c->op) {
	case CLOUDDNS_LOOKUP:
		rc = after_lookup(c, rep, res);
		break;
	case CLOUDDNS_CREATE:
	case CLOUDDNS_MODIFY:
		if (c->op == CLOUDDNS_MODIFY || rep->record_id[0])
			cache_put(c->cache_key, c->op == CLOUDDNS_MODIFY ? c->t.record_id :
				  rep->record_id, c->ip, mono_s());
		log_info("%s: %s %s %s -> %s%s", c->api->tag, c->op == CLOUDDNS_CREATE ?
			 "created" : "updated", c->t.type, c->t.name, c->ip,
			 rep->holds ? " (it already held it)" : "");
		rc = next_host(c, res);
		break;
	}
	if (rc == -2)
		set_res(res, DDNS_TEMPFAIL, 0, "%s: cannot start a request", c->api->name);
	return rc == -2 ? -1 : rc;
}

/* A failed reply: the API's sentence, with the host name and, for clock
 * trouble, both clocks. */
static void explain(struct cd *c, const struct http_response *resp,
		    const struct clouddns_reply *rep, struct ddns_result *res)
{
	char what[sizeof(res->error)], clock[160] = "", *colon;
	int n;

	snprintf(what, sizeof(what), "%s", res->error);
	if (rep->clock_skew) {
		/* Both clocks say more than the provider's sentence: keep its code only. */
		colon = strstr(what, ": ");
		if (colon)
			*colon = '\0';
		clouddns_clock_text(resp->date, (int64_t)time(NULL), clock, sizeof(clock));
		log_warnx("%s: the API refused this host's time: %s", c->api->tag, clock);
	}
	if (rep->stale_id)
		cache_drop(c->cache_key);
	n = snprintf(res->error, sizeof(res->error), "%s, %s: %s%s%s", c->api->name, c->t.name,
		     what, clock[0] ? "; " : "", clock);
	if (n < 0)
		snprintf(res->error, sizeof(res->error), "%s", what);
}

static void on_reply(void *arg, const struct http_response *resp)
{
	struct cd *c = arg;
	struct clouddns_reply rep;
	struct ddns_result res = { .outcome = DDNS_OK };
	int rc;

	c->call = NULL;
	memset(&rep, 0, sizeof(rep));
	if (resp->curl_code != 0 || resp->status == 0) {
		char what[200];
		http_failure_text(resp, what, sizeof(what));
		set_res(&res, DDNS_TEMPFAIL, 0, "%s, %s: %s", c->api->name, c->t.name, what);
		goto done;
	}
	if (clouddns_parse(c->api, c->op, &c->t, resp->body, resp->body_len, resp->status,
			   resp->retry_after, &rep, &res) < 0) {
		explain(c, resp, &rep, &res);
		goto done;
	}
	rc = advance(c, &rep, &res);
	if (rc == 0)
		return;
	if (rc > 0)
		memset(&res, 0, sizeof(res));
done:
	c->done(c->ctx, &res);
	cd_free(c);
}

static int check_conf(const struct clouddns_api *api, const struct clouddns_conf *cf,
		      struct ddns_result *res)
{
	if (!cf->n_hostnames || !cf->zone || !cf->key_id || !cf->key_secret || !cf->server) {
		set_res(res, DDNS_PERMFAIL, 0, "%s: hostname, zone, key_id, key_secret_file "
			"and server are required", api->name);
		return -1;
	}
	return 0;
}

void *clouddns_start(const struct clouddns_api *api, const struct clouddns_conf *cf,
		     const char *type, const char *ip, ddns_done_cb done, void *ctx,
		     struct ddns_result *res)
{
	struct cd *c = NULL;
	char err[128];
	const char *server = cf->server;

	memset(res, 0, sizeof(*res));
	if (check_conf(api, cf, res) < 0)
		return NULL;
	if (!http_url_allowed(server, cf->allow_http)) {
		set_res(res, DDNS_PERMFAIL, 0, "%s: server is not an https:// URL (allow_http is off)",
			api->name);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->api = api;
	c->conf = *cf;
	c->done = done;
	c->ctx = ctx;
	snprintf(c->type, sizeof(c->type), "%s", type);
	snprintf(c->ip, sizeof(c->ip), "%s", ip);
	if (clouddns_endpoint_parse(server, &c->ep, err, sizeof(err)) < 0) {
		set_res(res, DDNS_PERMFAIL, 0, "%s: %s", api->name, err);
		goto fail;
	}
	c->host = 0;
	if (target_setup(c, res) < 0)
		goto fail;
	if (cd_send(c, CLOUDDNS_LOOKUP) < 0) {
		set_res(res, DDNS_TEMPFAIL, 0, "%s: cannot start a request", api->name);
		goto fail;
	}
	return c;
fail:
	cd_free(c);
	return NULL;
}

void clouddns_cancel(void *handle)
{
	cd_free(handle);
}

/* ---- the provider_ops side ---- */

void *clouddns_start_entry(const struct clouddns_api *api, const struct cfg_ddns *d,
			   enum ddns_record rec, const char *addr, ddns_done_cb done, void *ctx,
			   struct ddns_result *res)
{
	struct clouddns_conf c = {
		.server = cfg_ddns_str(d, CLOUDDNS_K_SERVER),
		.key_id = cfg_ddns_str(d, CLOUDDNS_K_KEY_ID),
		.key_secret = cfg_ddns_secret(d, CLOUDDNS_K_KEY_SECRET_FILE),
		.zone = cfg_ddns_str(d, CLOUDDNS_K_ZONE),
		.line = cfg_ddns_str(d, CLOUDDNS_K_LINE),
		.ttl = cfg_ddns_num(d, CLOUDDNS_K_TTL),
		.ca_file = cfg_ddns_str(d, CLOUDDNS_K_CA_FILE),
		.timeout = cfg_ddns_num(d, CLOUDDNS_K_TIMEOUT),
		.allow_http = cfg_ddns_bool(d, CLOUDDNS_K_ALLOW_HTTP),
		.hostnames = d->hostnames,
		.n_hostnames = d->n_hostnames,
	};

	if (!c.server && d->preset)
		c.server = d->preset->default_server;
	return clouddns_start(api, &c, rec == DDNS_REC_AAAA ? "AAAA" : "A", addr, done, ctx, res);
}

/* Printable, no white space, no comma: it stands in the Authorization header. */
static bool key_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f || *s == ',' || *s == '/')
			return false;
	return true;
}

/* Valid UTF-8 without control characters: it travels in a query and in JSON. */
static bool line_ok(const char *s)
{
	json_t *j;

	if (!*s || strlen(s) > 64)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	j = json_string(s);                /* NULL unless valid UTF-8 */
	json_decref(j);
	return j != NULL;
}

void clouddns_validate(struct cfg_ddns *d, struct config_check *chk)
{
	const char *zone = cfg_ddns_str(d, CLOUDDNS_K_ZONE);
	const char *id = cfg_ddns_str(d, CLOUDDNS_K_KEY_ID);
	const char *line = cfg_ddns_str(d, CLOUDDNS_K_LINE);
	struct clouddns_target t;

	for (size_t i = 0; zone && i < d->n_hostnames; i++)
		if (clouddns_target_names(&t, d->hostnames[i], zone) < 0)
			config_check_error(chk, "hostname", "hostname: \"%s\" is not inside zone %s",
					   d->hostnames[i], zone);
	if (id && !key_id_ok(id))
		config_check_error(chk, "key_id", "key_id: not an access key id (printable, "
				   "no spaces, commas or slashes, at most 128 characters)");
	if (line && !line_ok(line))
		config_check_error(chk, "line", "line: not a line name (UTF-8 text, at most 64 "
				   "bytes)");
}
