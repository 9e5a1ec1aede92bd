/* provider_cloudflare.c - Cloudflare API v4 with a bearer token.
 *
 * Per update: GET /zones?name=ZONE for the zone id, then per host name
 * GET /zones/ID/dns_records?type=A&name=HOST; PATCH the record only when
 * its content differs, POST a new one when there is none. Ids are looked
 * up afresh by every update (a handle lives for one update only), which
 * costs one request more per update and never acts on a stale id. The
 * first failing step ends the update. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "homeport.h"
#include "http.h"
#include "log.h"
#include "provider.h"
#include "util.h"

#define DEFAULT_BASE "https://api.cloudflare.com/client/v4"
#define RATE_LIMIT_WAIT 300          /* a 429 blocks every call for 5 minutes */

/* ---- keys ---- */

enum { K_SERVER, K_TOKEN_FILE, K_ZONE, K_TTL, K_PROXIED, K_CA_FILE, K_ALLOW_HTTP, K_TIMEOUT };

static const struct cfgkey keys[] = {
	[K_SERVER]     = { .name = "server", .type = CK_URL, .flags = CK_FP | CK_PRESET },
	[K_TOKEN_FILE] = { .name = "token_file", .type = CK_SECRET_FILE,
			   .flags = CK_FP | CK_REQUIRED },
	[K_ZONE]       = { .name = "zone", .type = CK_ZONE, .flags = CK_FP | CK_REQUIRED },
	[K_TTL]        = { .name = "ttl", .type = CK_SECONDS, .flags = CK_FP, .max = INT32_MAX },
	[K_PROXIED]    = { .name = "proxied", .type = CK_BOOL, .flags = CK_FP, .def = "no" },
	[K_CA_FILE]    = CFGKEY_CA_FILE,
	[K_ALLOW_HTTP] = CFGKEY_ALLOW_HTTP,
	[K_TIMEOUT]    = CFGKEY_TIMEOUT,
};

static void cf_validate(struct cfg_ddns *d, struct config_check *chk)
{
	uint32_t ttl = cfg_ddns_num(d, K_TTL);

	if (ttl != 0 && ttl != 1 && (ttl < 60 || ttl > 86400))
		config_check_error(chk, "ttl", "ttl: Cloudflare takes 1 (automatic) or 60-86400");
}

/* ---- the reply parser (pure, fuzzed) ---- */

static bool is_auth_code(json_int_t code)
{
	/* 9109 invalid token, 10000 authentication error, 6003/6111 malformed
	 * auth headers, 9106 missing credentials. */
	return code == 9109 || code == 10000 || code == 6003 || code == 6111 || code == 9106;
}

/* errors[0] -> "Cloudflare CODE: message". */
static json_int_t first_error(json_t *root, char *buf, size_t len)
{
	json_t *e = json_array_get(json_object_get(root, "errors"), 0);
	json_t *jc = json_object_get(e, "code"), *jm = json_object_get(e, "message");
	json_int_t code = json_is_integer(jc) ? json_integer_value(jc) : 0;
	char msg[160] = "";

	if (json_is_string(jm))
		http_clean_text(msg, sizeof(msg), json_string_value(jm),
				json_string_length(jm));
	if (code)
		snprintf(buf, len, "Cloudflare %lld: %s", (long long)code,
			 msg[0] ? msg : "error");
	else
		snprintf(buf, len, "Cloudflare: %s", msg[0] ? msg : "request failed");
	return code;
}

static bool id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

/* result[0] of a list, or the result object itself. */
static int read_item(json_t *result, struct provider_cf_item *item)
{
	json_t *obj = json_is_array(result) ? json_array_get(result, 0) : result;
	json_t *id, *content;

	if (json_is_array(result) && json_array_size(result) == 0)
		return 0;
	if (!json_is_object(obj))
		return -1;
	id = json_object_get(obj, "id");
	if (!json_is_string(id) || !id_ok(json_string_value(id)))
		return -1;
	snprintf(item->id, sizeof(item->id), "%s", json_string_value(id));
	content = json_object_get(obj, "content");
	if (json_is_string(content))
		http_clean_text(item->content, sizeof(item->content),
				json_string_value(content), json_string_length(content));
	item->found = true;
	return 0;
}

static void fail(struct ddns_result *res, enum ddns_outcome o, uint32_t retry, const char *msg)
{
	res->outcome = o;
	res->retry_after = retry;
	snprintf(res->error, sizeof(res->error), "%s", msg);
}

int provider_cloudflare_parse(const char *body, size_t len, long status,
			      uint32_t retry_after, struct provider_cf_item *item,
			      struct ddns_result *res)
{
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *ok = json_object_get(root, "success");
	char msg[256];
	json_int_t code = 0;
	int rc = -1;

	memset(item, 0, sizeof(*item));
	memset(res, 0, sizeof(*res));
	if (json_is_object(root))
		code = first_error(root, msg, sizeof(msg));
	else
		snprintf(msg, sizeof(msg), "Cloudflare: unreadable reply (HTTP %ld)", status);
	if (status == 429) {
		fail(res, DDNS_TEMPFAIL, retry_after ? retry_after : RATE_LIMIT_WAIT, msg);
	} else if (status >= 500 || status == 408 || status == 404) {
		/* A server fault is temporary whatever error code it carries.
		 * 404: a zone or record id went stale; the next update looks again. */
		fail(res, DDNS_TEMPFAIL, retry_after, msg);
	} else if (status == 401 || status == 403 || is_auth_code(code)) {
		fail(res, DDNS_PERMFAIL, 0, msg);
	} else if (!json_is_object(root)) {
		fail(res, DDNS_TEMPFAIL, 0, msg);
	} else if (status >= 400 || !json_is_true(ok)) {
		fail(res, status >= 400 ? DDNS_PERMFAIL : DDNS_TEMPFAIL, 0, msg);
	} else if (status < 200 || status > 299) {
		snprintf(msg, sizeof(msg), "Cloudflare: unexpected HTTP %ld", status);
		fail(res, DDNS_TEMPFAIL, 0, msg);
	} else if (read_item(json_object_get(root, "result"), item) < 0) {
		fail(res, DDNS_TEMPFAIL, 0, "Cloudflare: reply without a usable result");
	} else {
		rc = 0;
	}
	json_decref(root);
	return rc;
}

/* ---- one update ---- */

enum cf_step { CF_ZONE, CF_LOOKUP, CF_WRITE };

struct cf {
	const struct cfg_ddns *cfg;
	char ip[64];
	const char *type;            /* "A" or "AAAA" */
	ddns_done_cb done;
	void *ctx;
	const char *base;
	char zone_id[65];
	char record_id[65];           /* of the current host, when found */
	size_t host;                  /* index into cfg->hostnames */
	enum cf_step step;
	bool create;                  /* CF_WRITE is a POST */
	struct http_call *call;
};

static void cf_free(struct cf *c)
{
	if (!c)
		return;
	http_cancel(c->call);
	free(c);
}

static void on_reply(void *arg, const struct http_response *resp);

static int cf_send(struct cf *c, const char *method, const char *path, const char *body)
{
	const char *hdr[] = { "Content-Type: application/json" };
	size_t n = strlen(c->base) + strlen(path) + 1;
	char *url = xcalloc(n, 1);
	const char *token = cfg_ddns_secret(c->cfg, K_TOKEN_FILE);
	struct http_request req = {
		.method = method, .bearer = token ? token : "",
		.headers = hdr, .n_headers = body ? 1 : 0, .body = body,
		.ca_file = cfg_ddns_str(c->cfg, K_CA_FILE), .timeout = cfg_ddns_num(c->cfg, K_TIMEOUT),
		.allow_http = cfg_ddns_bool(c->cfg, K_ALLOW_HTTP),
	};

	snprintf(url, n, "%s%s", c->base, path);
	req.url = url;
	c->call = http_start(&req, on_reply, c);
	free(url);
	return c->call ? 0 : -1;
}

static int send_zone(struct cf *c)
{
	char *z = http_escape(cfg_ddns_str(c->cfg, K_ZONE));
	char path[600];
	int rc;

	snprintf(path, sizeof(path), "/zones?name=%s", z);
	free(z);
	c->step = CF_ZONE;
	rc = cf_send(c, "GET", path, NULL);
	return rc;
}

static int send_lookup(struct cf *c)
{
	char *h = http_escape(c->cfg->hostnames[c->host]);
	char path[1024];

	snprintf(path, sizeof(path), "/zones/%s/dns_records?type=%s&name=%s", c->zone_id, c->type,
		 h);
	free(h);
	c->step = CF_LOOKUP;
	return cf_send(c, "GET", path, NULL);
}

static int send_write(struct cf *c)
{
	uint32_t ttl = cfg_ddns_num(c->cfg, K_TTL);
	json_t *j = json_pack("{s:s, s:i, s:b}", "content", c->ip,
			      "ttl", (int)(ttl ? ttl : 1),
			      "proxied", cfg_ddns_bool(c->cfg, K_PROXIED));
	char path[256], *body;
	int rc = -1;

	if (!j)
		return -1;
	if (c->create) {
		json_object_set_new(j, "type", json_string(c->type));
		json_object_set_new(j, "name", json_string(c->cfg->hostnames[c->host]));
		snprintf(path, sizeof(path), "/zones/%s/dns_records", c->zone_id);
	} else {
		snprintf(path, sizeof(path), "/zones/%s/dns_records/%s", c->zone_id, c->record_id);
	}
	body = json_dumps(j, JSON_COMPACT);
	if (body) {
		c->step = CF_WRITE;
		log_debug("cloudflare %s: %s %s", c->cfg->name ? c->cfg->name : "-",
			  c->create ? "creating" : "updating", c->cfg->hostnames[c->host]);
		rc = cf_send(c, c->create ? "POST" : "PATCH", path, body);
	}
	free(body);
	json_decref(j);
	return rc;
}

/* Next request after a successful reply; 1 when every host is done. */
static int advance(struct cf *c, const struct provider_cf_item *item)
{
	switch (c->step) {
	case CF_ZONE:
		snprintf(c->zone_id, sizeof(c->zone_id), "%s", item->id);
		c->host = 0;
		return send_lookup(c);
	case CF_LOOKUP:
		if (item->found && strcmp(item->content, c->ip) == 0)
			break;               /* already right: write nothing */
		c->create = !item->found;
		snprintf(c->record_id, sizeof(c->record_id), "%s", item->id);
		return send_write(c);
	case CF_WRITE:
		break;
	}
	if (++c->host >= c->cfg->n_hostnames)
		return 1;
	return send_lookup(c);
}

static void on_reply(void *arg, const struct http_response *resp)
{
	struct cf *c = arg;
	struct provider_cf_item item;
	struct ddns_result res = { .outcome = DDNS_OK };
	int rc;

	c->call = NULL;
	if (resp->curl_code != 0 || resp->status == 0) {
		char what[200];
		http_failure_text(resp, what, sizeof(what));
		fail(&res, DDNS_TEMPFAIL, 0, "");
		snprintf(res.error, sizeof(res.error), "Cloudflare: %s", what);
		goto done;
	}
	if (provider_cloudflare_parse(resp->body, resp->body_len, resp->status,
				      resp->retry_after, &item, &res) < 0)
		goto done;
	if (c->step == CF_ZONE && !item.found) {
		fail(&res, DDNS_PERMFAIL, 0, "");
		snprintf(res.error, sizeof(res.error),
			 "Cloudflare: zone %s not found for this token", cfg_ddns_str(c->cfg, K_ZONE));
		goto done;
	}
	rc = advance(c, &item);
	if (rc == 0)
		return;
	if (rc < 0)
		fail(&res, DDNS_TEMPFAIL, 0, "Cloudflare: cannot start a request");
done:
	c->done(c->ctx, &res);
	cf_free(c);
}

static void *cf_start(const struct cfg_ddns *cfg, enum ddns_record rec, const char *ip,
		      ddns_done_cb done, void *ctx, struct ddns_result *res)
{
	struct cf *c = NULL;

	memset(res, 0, sizeof(*res));
	res->outcome = DDNS_PERMFAIL;
	if (!cfg->n_hostnames || !cfg_ddns_str(cfg, K_ZONE) || !cfg_ddns_secret(cfg, K_TOKEN_FILE)) {
		snprintf(res->error, sizeof(res->error),
			 "Cloudflare: host name, zone and token are required");
		goto fail;
	}
	c = xcalloc(1, sizeof(*c));
	c->cfg = cfg;
	c->done = done;
	c->ctx = ctx;
	snprintf(c->ip, sizeof(c->ip), "%s", ip);
	c->type = rec == DDNS_REC_AAAA ? "AAAA" : "A";
	c->base = cfg_ddns_str(cfg, K_SERVER) ? cfg_ddns_str(cfg, K_SERVER) :
		  cfg->preset && cfg->preset->default_server ? cfg->preset->default_server :
		  DEFAULT_BASE;
	if (!http_url_allowed(c->base, cfg_ddns_bool(cfg, K_ALLOW_HTTP))) {
		snprintf(res->error, sizeof(res->error),
			 "Cloudflare: server is not an https:// URL (allow_http is off)");
		goto fail;
	}
	if (send_zone(c) < 0) {
		fail(res, DDNS_TEMPFAIL, 0, "Cloudflare: cannot start a request");
		goto fail;
	}
	return c;
fail:
	cf_free(c);
	return NULL;
}

static void cf_cancel(void *handle)
{
	cf_free(handle);
}

const struct provider_ops provider_cloudflare_ops = {
	.name = "cloudflare",
	.keys = keys,
	.n_keys = HP_ARRAY_LEN(keys),
	.records = DDNS_REC_A | DDNS_REC_AAAA,
	.validate = cf_validate,
	.start = cf_start,
	.cancel = cf_cancel,
};
