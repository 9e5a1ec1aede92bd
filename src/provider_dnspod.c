/* provider_dnspod.c - DNSPod (Tencent Cloud), API 3.0 version 2021-03-23,
 * signed with TC3-HMAC-SHA256 (cloudsig.c, service "dnspod"); the update
 * flow is clouddns.c's.
 *
 * Calls, each a POST of a JSON body to "/": DescribeRecordList (Domain,
 * Subdomain, RecordType, RecordLine; an empty list is the error
 * ResourceNotFound.NoDataOfRecord, which here means "no record"),
 * ModifyRecord (Domain, SubDomain, RecordType, RecordLine, Value, RecordId,
 * TTL) and CreateRecord (the same without RecordId). Replies are
 * {"Response": {...}}, errors {"Response": {"Error": {"Code", "Message"}}}
 * with HTTP 200 ("错误码" of the DNSPod API and the API 3.0 common error
 * codes). DNSPod treats updates that do not change the value as abuse:
 * clouddns.c never sends one. A created record can take up to 30 s to show
 * in DescribeRecordList (its documentation says so). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clouddns.h"
#include "cloudsig.h"
#include "homeport.h"
#include "http.h"

#define VERSION "2021-03-23"
#define LINE_DEFAULT "默认"     /* the default line, as the API names it */
#define SERVICE "dnspod"
#define CONTENT_TYPE "application/json"
#define POLICY_HINT "(grant the key the QcloudDNSPodFullAccess policy)"

#define OP(x) CLOUDDNS_OP_BIT(CLOUDDNS_##x)

static const struct clouddns_rule rules[] = {
	{ "ResourceNotFound.NoDataOfRecord", OP(LOOKUP), CLOUDDNS_EMPTY, NULL },
	{ "ResourceNotFound.NoDataOfRecord", OP(MODIFY), CLOUDDNS_STALE, NULL },
	{ "InvalidParameter.RecordIdInvalid", OP(MODIFY), CLOUDDNS_STALE, NULL },
	{ "InvalidParameter.DomainRecordExist", OP(CREATE), CLOUDDNS_HOLDS, NULL },
	{ "AuthFailure.SignatureExpire", 0, CLOUDDNS_CLOCK, NULL },
	{ "AuthFailure.SecretIdNotFound", 0, CLOUDDNS_PERM, "(check key_id)" },
	{ "AuthFailure.InvalidSecretId", 0, CLOUDDNS_PERM, "(check key_id)" },
	{ "AuthFailure.SignatureFailure", 0, CLOUDDNS_PERM, "(check key_secret_file)" },
	{ "AuthFailure.UnauthorizedOperation", 0, CLOUDDNS_PERM, POLICY_HINT },
	{ "AuthFailure.", 0, CLOUDDNS_PERM, "(check key_id and key_secret_file)" },
	{ "UnauthorizedOperation.", 0, CLOUDDNS_PERM, POLICY_HINT },
	{ "RequestLimitExceeded.", 0, CLOUDDNS_THROTTLE, NULL },
	{ "LimitExceeded.FailedLoginLimitExceeded", 0, CLOUDDNS_THROTTLE, NULL },
	{ "InternalError.", 0, CLOUDDNS_TEMP, NULL },
	{ "ServiceUnavailable", 0, CLOUDDNS_TEMP, NULL },
	{ "FailedOperation.UnknowError", 0, CLOUDDNS_TEMP, NULL },
	{ "InvalidParameter.OperateFailed", 0, CLOUDDNS_TEMP, NULL },
	{ "InvalidParameterValue.DomainNotExists", 0, CLOUDDNS_PERM, "(check zone)" },
	{ "InvalidParameter.DomainInvalid", 0, CLOUDDNS_PERM, "(check zone)" },
	{ "FailedOperation.NotDomainOwner", 0, CLOUDDNS_PERM, "(check zone)" },
	{ "InvalidParameter.RecordLineInvalid", 0, CLOUDDNS_PERM, "(check line)" },
};

/* ---- requests ---- */

static const char *action_of(enum clouddns_op op)
{
	return op == CLOUDDNS_LOOKUP ? "DescribeRecordList" :
	       op == CLOUDDNS_CREATE ? "CreateRecord" : "ModifyRecord";
}

/* The JSON body for op; NULL when the record id is not a number. */
static char *body_for(enum clouddns_op op, const struct clouddns_target *t)
{
	json_t *j = json_pack("{s:s, s:s, s:s}", "Domain", t->zone, "RecordType", t->type,
			      "RecordLine", t->line);
	char *body = NULL, *end = NULL;
	unsigned long long id = 0;

	if (!j)
		return NULL;
	if (op == CLOUDDNS_LOOKUP) {
		json_object_set_new(j, "Subdomain", json_string(t->rr));
		json_object_set_new(j, "Limit", json_integer(100));
	} else {
		json_object_set_new(j, "SubDomain", json_string(t->rr));
		json_object_set_new(j, "Value", json_string(t->value));
		json_object_set_new(j, "TTL", json_integer(t->ttl));
	}
	if (op == CLOUDDNS_MODIFY) {
		id = strtoull(t->record_id, &end, 10);
		if (!t->record_id[0] || *end || id == 0 || id > INT64_MAX)
			goto out;
		json_object_set_new(j, "RecordId", json_integer((json_int_t)id));
	}
	body = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
out:
	json_decref(j);
	return body;
}

static int dnspod_build(const struct clouddns_conf *c, const struct clouddns_endpoint *ep,
			enum clouddns_op op, const struct clouddns_target *t, int64_t now,
			struct clouddns_request *out)
{
	struct cloudsig_tc3 r = {
		.host = ep->host, .service = SERVICE, .action = action_of(op),
		.content_type = CONTENT_TYPE, .time = now, .sign_action = true,
		.secret_id = c->key_id, .secret_key = c->key_secret,
	};
	struct cloudsig_tc3_out s;

	out->method = "POST";
	out->body = body_for(op, t);
	out->url = strdup(ep->url);
	if (!out->body || !out->url)
		return -1;
	r.payload = out->body;
	r.payload_len = strlen(out->body);
	if (cloudsig_tc3_sign(&r, &s) < 0 ||
	    clouddns_header(out, "Content-Type", CONTENT_TYPE) < 0 ||
	    clouddns_header(out, "X-TC-Action", r.action) < 0 ||
	    clouddns_header(out, "X-TC-Version", VERSION) < 0 ||
	    clouddns_header(out, "X-TC-Timestamp", s.timestamp) < 0 ||
	    clouddns_header(out, "X-TC-Language", "en-US") < 0 ||
	    clouddns_header(out, "Authorization", s.authorization) < 0)
		return -1;
	return 0;
}

const struct clouddns_api provider_dnspod_api = {
	.name = "DNSPod",
	.tag = "dnspod",
	.default_line = LINE_DEFAULT,
	.index_lag = 60,
	.build = dnspod_build,
	.reply_member = "Response",
	.error_member = "Error",
	.list_path = { "RecordList" },
	.fields = { "Name", "Type", "Line", "Value" },
	.rules = rules,
	.n_rules = HP_ARRAY_LEN(rules),
};

static const struct cfgkey keys[] = CLOUDDNS_KEYS(LINE_DEFAULT);

static void *dnspod_start(const struct cfg_ddns *d, enum ddns_record rec, const char *addr,
			    ddns_done_cb done, void *ctx, struct ddns_result *res)
{
	return clouddns_start_entry(&provider_dnspod_api, d, rec, addr, done, ctx, res);
}

const struct provider_ops provider_dnspod_ops = {
	.name = "dnspod",
	.keys = keys,
	.n_keys = HP_ARRAY_LEN(keys),
	.records = DDNS_REC_A | DDNS_REC_AAAA,
	.validate = clouddns_validate,
	.start = dnspod_start,
	.cancel = clouddns_cancel,
};
