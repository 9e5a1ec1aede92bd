/* provider_alidns.c - Alibaba Cloud DNS (云解析 DNS), API version 2015-01-09,
 * RPC style, signed with ACS3-HMAC-SHA256 (cloudsig.c); the update flow is
 * clouddns.c's.
 *
 * Calls, each a GET with its parameters in the query (the canonical query
 * string is the query sent): DescribeSubDomainRecords (DomainName,
 * SubDomain, Type, Line; the reply's RR is lower case),
 * UpdateDomainRecord (RecordId, RR, Type, Value, TTL, Line) and
 * AddDomainRecord (DomainName, RR, Type, Value, TTL, Line). Lang=en makes
 * the messages English. Errors are {"Code", "Message", "RequestId", ...}
 * with an HTTP 4xx/5xx status ("错误代码表" and the common error codes of
 * Alibaba Cloud OpenAPI). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clouddns.h"
#include "cloudsig.h"
#include "homeport.h"
#include "http.h"
#include "util.h"

#define VERSION "2015-01-09"
#define LINE_DEFAULT "default"

static const struct clouddns_rule rules[] = {
	/* "the DNS record already exists": it holds that value */
	{ "DomainRecordDuplicate", CLOUDDNS_OP_BIT(CLOUDDNS_CREATE) | CLOUDDNS_OP_BIT(CLOUDDNS_MODIFY),
	  CLOUDDNS_HOLDS, NULL },
	/* a remembered record id that is gone (deleted by hand) */
	{ "DomainRecordNotBelongToUser", CLOUDDNS_OP_BIT(CLOUDDNS_MODIFY), CLOUDDNS_STALE, NULL },
	{ "InvalidTimeStamp.Expired", 0, CLOUDDNS_CLOCK, NULL },
	{ "Throttling.", 0, CLOUDDNS_THROTTLE, NULL },
	{ "SignatureNonceUsed", 0, CLOUDDNS_TEMP, NULL },
	{ "InternalError", 0, CLOUDDNS_TEMP, NULL },
	{ "ServiceUnavailable", 0, CLOUDDNS_TEMP, NULL },
	{ "LastOperationNotFinished", 0, CLOUDDNS_TEMP, NULL },
	{ "InvalidAccessKeyId.", 0, CLOUDDNS_PERM, "(check key_id)" },
	{ "SignatureDoesNotMatch", 0, CLOUDDNS_PERM, "(check key_secret_file)" },
	{ "IncompleteSignature", 0, CLOUDDNS_PERM, "(check key_secret_file)" },
	{ "Forbidden.", 0, CLOUDDNS_PERM, "(grant the AccessKey the AliyunDNSFullAccess policy)" },
	{ "NoPermission*", 0, CLOUDDNS_PERM, "(grant the AccessKey the AliyunDNSFullAccess policy)" },
	{ "IncorrectDomainUser", 0, CLOUDDNS_PERM, "(check zone)" },
	{ "InvalidDomainName.", 0, CLOUDDNS_PERM, "(check zone)" },
};

/* ---- requests ---- */

static void nonce_hex(char *out)
{
	unsigned char b[16];
	static const char digits[] = "0123456789abcdef";

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		abort();                      /* the kernel always has 16 bytes for us */
	for (size_t i = 0; i < sizeof(b); i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[32] = '\0';
}

/* The action and its parameters for op. */
static size_t params_for(enum clouddns_op op, const struct clouddns_target *t,
			 const char *ttl, struct cloudsig_param *p, const char **action)
{
	size_t n = 0;

	p[n++] = (struct cloudsig_param){ "Lang", "en" };
	p[n++] = (struct cloudsig_param){ "Type", t->type };
	p[n++] = (struct cloudsig_param){ "Line", t->line };
	if (op == CLOUDDNS_LOOKUP) {
		*action = "DescribeSubDomainRecords";
		p[n++] = (struct cloudsig_param){ "DomainName", t->zone };
		p[n++] = (struct cloudsig_param){ "SubDomain", t->name };
		p[n++] = (struct cloudsig_param){ "PageSize", "100" };
		return n;
	}
	p[n++] = (struct cloudsig_param){ "RR", t->rr };
	p[n++] = (struct cloudsig_param){ "Value", t->value };
	p[n++] = (struct cloudsig_param){ "TTL", ttl };
	if (op == CLOUDDNS_CREATE) {
		*action = "AddDomainRecord";
		p[n++] = (struct cloudsig_param){ "DomainName", t->zone };
	} else {
		*action = "UpdateDomainRecord";
		p[n++] = (struct cloudsig_param){ "RecordId", t->record_id };
	}
	return n;
}

static int alidns_build(const struct clouddns_conf *c, const struct clouddns_endpoint *ep,
			enum clouddns_op op, const struct clouddns_target *t, int64_t now,
			struct clouddns_request *out)
{
	struct cloudsig_param p[10];
	struct cloudsig_acs3_out s;
	char ttl[16], nonce[33];
	const char *action = NULL;
	struct cloudsig_acs3 r = {
		.method = "GET", .host = ep->host, .uri = ep->path, .version = VERSION,
		.nonce = nonce, .time = now, .key_id = c->key_id, .key_secret = c->key_secret,
	};
	char *query;
	int rc = -1;

	snprintf(ttl, sizeof(ttl), "%u", (unsigned)t->ttl);
	query = cloudsig_acs3_query(p, params_for(op, t, ttl, p, &action));
	nonce_hex(nonce);
	r.query = query;
	r.action = action;
	out->method = "GET";
	if (cloudsig_acs3_sign(&r, &s) < 0 || asprintf(&out->url, "%s?%s", ep->url, query) < 0)
		goto out;
	if (clouddns_header(out, "Accept", "application/json") < 0 ||
	    clouddns_header(out, "x-acs-action", action) < 0 ||
	    clouddns_header(out, "x-acs-version", VERSION) < 0 ||
	    clouddns_header(out, "x-acs-date", s.date) < 0 ||
	    clouddns_header(out, "x-acs-signature-nonce", nonce) < 0 ||
	    clouddns_header(out, "x-acs-content-sha256", s.content_sha256) < 0 ||
	    clouddns_header(out, "Authorization", s.authorization) < 0)
		goto out;
	rc = 0;
out:
	free(query);
	return rc;
}

const struct clouddns_api provider_alidns_api = {
	.name = "Alibaba Cloud DNS",
	.tag = "alidns",
	.default_line = LINE_DEFAULT,
	.index_lag = 60,
	.build = alidns_build,
	.list_path = { "DomainRecords", "Record" },
	.fields = { "RR", "Type", "Line", "Value" },
	.rules = rules,
	.n_rules = HP_ARRAY_LEN(rules),
};

static const struct cfgkey keys[] = CLOUDDNS_KEYS(LINE_DEFAULT);

static void *alidns_start(const struct cfg_ddns *d, enum ddns_record rec, const char *addr,
			    ddns_done_cb done, void *ctx, struct ddns_result *res)
{
	return clouddns_start_entry(&provider_alidns_api, d, rec, addr, done, ctx, res);
}

const struct provider_ops provider_alidns_ops = {
	.name = "alidns",
	.keys = keys,
	.n_keys = HP_ARRAY_LEN(keys),
	.records = DDNS_REC_A | DDNS_REC_AAAA,
	.validate = clouddns_validate,
	.start = alidns_start,
	.cancel = clouddns_cancel,
};
