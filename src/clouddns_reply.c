/* clouddns_reply.c - reading the replies of the id-keyed DNS APIs (see
 * clouddns.h): where an API keeps its reply, error and list of records
 * (struct clouddns_api), and what each error code means (its rule table).
 * Pure functions, fuzzed through clouddns_parse(). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "clouddns.h"
#include "homeport.h"
#include "http.h"

static bool rule_matches(const struct clouddns_rule *r, const char *code, enum clouddns_op op)
{
	size_t n = strlen(r->code);

	if (r->ops && !(r->ops & CLOUDDNS_OP_BIT(op)))
		return false;
	if (n && r->code[n - 1] == '*')
		return strncmp(code, r->code, n - 1) == 0;
	if (n && r->code[n - 1] == '.')
		return strncmp(code, r->code, n - 1) == 0 && (code[n - 1] == '.' || !code[n - 1]);
	return strcmp(code, r->code) == 0;
}

static enum clouddns_kind kind_of(const struct clouddns_rule *rules, size_t n_rules,
				  enum clouddns_op op, const char *code, long status,
				  const char **hint)
{
	*hint = NULL;
	if (status == 429)
		return CLOUDDNS_THROTTLE;
	for (size_t i = 0; code && i < n_rules; i++) {
		if (rule_matches(&rules[i], code, op)) {
			*hint = rules[i].hint;
			return rules[i].kind;
		}
	}
	if (status >= 500 || !code)       /* no code: no way to tell it is ours */
		return CLOUDDNS_TEMP;
	return CLOUDDNS_PERM;
}

int clouddns_error(const struct clouddns_rule *rules, size_t n_rules, enum clouddns_op op,
		   const char *code, const char *message, size_t message_len, long status,
		   uint32_t retry_after, struct clouddns_reply *out, struct ddns_result *res)
{
	const char *hint;
	enum clouddns_kind k;
	char msg[120] = "", cd[64] = "";

	if (code && !code[0])
		code = NULL;                 /* found by fuzz_clouddns: {"Code":""} */
	k = kind_of(rules, n_rules, op, code, status, &hint);

	if (k == CLOUDDNS_HOLDS || k == CLOUDDNS_EMPTY) {
		out->holds = k == CLOUDDNS_HOLDS;
		return 0;
	}
	if (message)
		http_clean_text(msg, sizeof(msg), message, message_len);
	if (code)
		http_clean_text(cd, sizeof(cd), code, strlen(code));
	else
		snprintf(cd, sizeof(cd), "HTTP %ld", status);
	res->outcome = k == CLOUDDNS_PERM ? DDNS_PERMFAIL : DDNS_TEMPFAIL;
	res->retry_after = retry_after;
	if (k == CLOUDDNS_THROTTLE && res->retry_after < CLOUDDNS_THROTTLE_WAIT)
		res->retry_after = CLOUDDNS_THROTTLE_WAIT;
	out->clock_skew = k == CLOUDDNS_CLOCK;
	out->stale_id = k == CLOUDDNS_STALE;
	if (snprintf(res->error, sizeof(res->error), "%s%s%s%s%s", cd, msg[0] ? ": " : "", msg,
		     hint ? " " : "", hint ? hint : "") < 0)
		snprintf(res->error, sizeof(res->error), "%s", cd);
	return -1;
}

const char *clouddns_json_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

bool clouddns_json_id(json_t *o, char *out)
{
	json_t *v = json_object_get(o, "RecordId");
	const char *s = json_is_string(v) ? json_string_value(v) : "";

	if (json_is_integer(v) && json_integer_value(v) > 0) {
		snprintf(out, CLOUDDNS_ID_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return true;
	}
	if (!clouddns_id_ok(s))
		return false;
	snprintf(out, CLOUDDNS_ID_MAX, "%s", s);
	return true;
}

static bool is_target(json_t *rec, const struct clouddns_fields *f,
		      const struct clouddns_target *t)
{
	const char *name = clouddns_json_str(rec, f->name), *type = clouddns_json_str(rec, f->type);
	const char *line = clouddns_json_str(rec, f->line);

	return name && type && strcasecmp(name, t->rr) == 0 && strcasecmp(type, t->type) == 0 &&
	       (!line || strcmp(line, t->line) == 0);
}

int clouddns_json_records(json_t *list, const struct clouddns_fields *f,
			  const struct clouddns_target *t, struct clouddns_reply *out,
			  struct ddns_result *res)
{
	json_t *rec;
	size_t i;

	if (!json_is_array(list))
		return clouddns_garbled(res, "no list of records");
	json_array_foreach(list, i, rec) {
		const char *value = clouddns_json_str(rec, f->value);
		if (!json_is_object(rec) || !is_target(rec, f, t) || out->matches++ > 0)
			continue;
		if (!value || !clouddns_json_id(rec, out->record_id))
			return clouddns_garbled(res, "a record without a usable RecordId or value");
		http_clean_text(out->value, sizeof(out->value), value, strlen(value));
	}
	return 0;
}

int clouddns_parse(const struct clouddns_api *api, enum clouddns_op op,
		   const struct clouddns_target *t, const char *body, size_t len, long status,
		   uint32_t retry_after, struct clouddns_reply *out, struct ddns_result *res)
{
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *reply = api->reply_member ? json_object_get(root, api->reply_member) : root;
	json_t *err = api->error_member ? json_object_get(reply, api->error_member) : reply;
	json_t *list = reply;
	const char *code = clouddns_json_str(err, "Code"), *msg = clouddns_json_str(err, "Message");
	int rc = 0;

	memset(out, 0, sizeof(*out));
	memset(res, 0, sizeof(*res));
	for (size_t i = 0; i < HP_ARRAY_LEN(api->list_path) && api->list_path[i]; i++)
		list = json_object_get(list, api->list_path[i]);
	if (code || status < 200 || status > 299)
		rc = clouddns_error(api->rules, api->n_rules, op, code, msg, msg ? strlen(msg) : 0,
				    status, retry_after, out, res);
	else if (!json_is_object(reply) || (api->error_member && err))
		rc = clouddns_garbled(res, "no reply object");
	else if (op == CLOUDDNS_LOOKUP)
		rc = clouddns_json_records(list, &api->fields, t, out, res);
	else
		clouddns_json_id(reply, out->record_id);
	json_decref(root);
	return rc;
}

int clouddns_garbled(struct ddns_result *res, const char *what)
{
	res->outcome = DDNS_TEMPFAIL;
	res->retry_after = 0;
	snprintf(res->error, sizeof(res->error), "unreadable reply: %s", what);
	return -1;
}
