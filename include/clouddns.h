/* clouddns.h - the update flow shared by the DNS-hosting APIs that keep
 * records by id (Alibaba Cloud DNS in provider_alidns.c, DNSPod in
 * provider_dnspod.c): for every host name, look its record up, compare,
 * then modify it, create it, or send nothing. An API plugs in by building
 * its signed requests and parsing its replies (struct clouddns_api); the
 * flow, the record-id cache and the error sentences live here once. */
#ifndef HP_CLOUDDNS_H
#define HP_CLOUDDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "provider.h"

#define CLOUDDNS_ID_MAX    32        /* record ids: [A-Za-z0-9_-], shorter than this */
#define CLOUDDNS_VALUE_MAX 64        /* an address as text */
#define CLOUDDNS_TTL_DEF   600       /* the smallest TTL both free plans allow */

enum clouddns_op { CLOUDDNS_LOOKUP, CLOUDDNS_CREATE, CLOUDDNS_MODIFY };

/* One entry's settings, read from its [ddns:NAME] section. */
struct clouddns_conf {
	const char *server;          /* API URL */
	const char *key_id;
	const char *key_secret;      /* from key_secret_file; never logged */
	const char *zone;
	const char *line;            /* NULL: the API's default line */
	uint32_t ttl;                /* 0: CLOUDDNS_TTL_DEF */
	const char *ca_file;
	uint32_t timeout;
	bool allow_http;
	char *const *hostnames;
	size_t n_hostnames;
};

/* The API endpoint, split for signing. */
struct clouddns_endpoint {
	char url[512];               /* scheme://host[:port]/path, no query */
	char host[300];              /* host[:port], as curl sends it in Host */
	char path[200];              /* "/" at least */
};

/* The record being worked on. */
struct clouddns_target {
	const char *host;            /* the host name as configured */
	char name[256];              /* host in lower case, no final dot */
	char rr[256];                /* name relative to the zone; "@" for the apex */
	const char *zone;
	const char *type;            /* "A" or "AAAA" */
	const char *line;
	const char *value;           /* the address to publish */
	uint32_t ttl;
	char record_id[CLOUDDNS_ID_MAX];   /* CLOUDDNS_MODIFY: which record */
};

/* What a parser found in a successful reply, or learnt from a failed one. */
struct clouddns_reply {
	size_t matches;              /* LOOKUP: records of that name, type and line */
	char record_id[CLOUDDNS_ID_MAX];   /* LOOKUP: first match; CREATE: the new one */
	char value[CLOUDDNS_VALUE_MAX];    /* LOOKUP: first match's value */
	bool holds;                  /* CREATE/MODIFY: "already holds that value" */
	bool clock_skew;             /* failed: the provider refused our clock */
	bool stale_id;               /* failed: the provider does not know that record id */
};

/* One signed request, built by an API; the flow frees it. */
struct clouddns_request {
	const char *method;          /* "GET" or "POST" */
	char *url;
	char *body;                  /* NULL: none */
	char *headers[10];           /* "Name: value" */
	size_t n_headers;
};

/* Append "name: value" to r's headers. 0 / -1 when they are full. */
int clouddns_header(struct clouddns_request *r, const char *name, const char *value);

struct clouddns_rule;

/* How an API spells a record's members in a lookup reply. */
struct clouddns_fields {
	const char *name;            /* relative name: "RR", "Name" */
	const char *type;
	const char *line;            /* a record without it is on the default line */
	const char *value;
};

struct clouddns_api {
	const char *name;            /* in messages: "Alibaba Cloud DNS", "DNSPod" */
	const char *tag;             /* in logs and cache keys: "alidns", "dnspod" */
	const char *default_line;
	/* Seconds a just-created record may stay missing from lookups (the
	 * API's index lags): the flow trusts its own record of the create
	 * that long instead of creating the record again. */
	uint32_t index_lag;
	/* Build and sign the request for op on t at wall-clock time now. 0 / -1. */
	int (*build)(const struct clouddns_conf *c, const struct clouddns_endpoint *ep,
		     enum clouddns_op op, const struct clouddns_target *t, int64_t now,
		     struct clouddns_request *out);
	/* Its JSON replies, read by clouddns_parse(): */
	const char *reply_member;    /* the object holding the reply; NULL: the root */
	const char *error_member;    /* in it, the object with Code and Message; NULL: itself */
	const char *list_path[2];    /* in it, the lookup's list of records */
	struct clouddns_fields fields;
	const struct clouddns_rule *rules;   /* its error codes */
	size_t n_rules;
};

/* ---- the keys both providers take (homeport.conf(5)) ---- */

enum {
	CLOUDDNS_K_SERVER, CLOUDDNS_K_KEY_ID, CLOUDDNS_K_KEY_SECRET_FILE, CLOUDDNS_K_ZONE,
	CLOUDDNS_K_TTL, CLOUDDNS_K_LINE, CLOUDDNS_K_CA_FILE, CLOUDDNS_K_ALLOW_HTTP,
	CLOUDDNS_K_TIMEOUT, CLOUDDNS_N_KEYS
};

/* The key table of a provider whose default line is line_default. */
#define CLOUDDNS_KEYS(line_default) {                                                   \
	[CLOUDDNS_K_SERVER] = { .name = "server", .type = CK_URL, .flags = CK_FP | CK_PRESET }, \
	[CLOUDDNS_K_KEY_ID] = { .name = "key_id", .type = CK_STRING,                         \
				.flags = CK_FP | CK_REQUIRED },                              \
	[CLOUDDNS_K_KEY_SECRET_FILE] = { .name = "key_secret_file", .type = CK_SECRET_FILE,  \
					 .flags = CK_FP | CK_REQUIRED },                     \
	[CLOUDDNS_K_ZONE] = { .name = "zone", .type = CK_ZONE, .flags = CK_FP | CK_REQUIRED }, \
	[CLOUDDNS_K_TTL] = { .name = "ttl", .type = CK_SECONDS, .flags = CK_FP, .def = "600",  \
			     .min = 1, .max = 86400 },                                       \
	[CLOUDDNS_K_LINE] = { .name = "line", .type = CK_STRING, .flags = CK_FP,             \
			      .def = line_default },                                         \
	[CLOUDDNS_K_CA_FILE] = CFGKEY_CA_FILE,                                               \
	[CLOUDDNS_K_ALLOW_HTTP] = CFGKEY_ALLOW_HTTP,                                         \
	[CLOUDDNS_K_TIMEOUT] = CFGKEY_TIMEOUT,                                               \
}

/* struct provider_ops.validate of both: host names inside the zone, a key
 * id and a line that can travel in a header, a query and JSON. */
void clouddns_validate(struct cfg_ddns *d, struct config_check *chk);

/* struct provider_ops.start of both, given their api. */
void *clouddns_start_entry(const struct clouddns_api *api, const struct cfg_ddns *d,
			   enum ddns_record rec, const char *addr, ddns_done_cb done, void *ctx,
			   struct ddns_result *res);

/* Publish ip (type "A" or "AAAA") for every host name of c through api; the
 * provider_ops contract: done once, later, unless cancelled; NULL with *res
 * when it cannot start. */
void *clouddns_start(const struct clouddns_api *api, const struct clouddns_conf *c,
		     const char *type, const char *ip, ddns_done_cb done, void *ctx,
		     struct ddns_result *res);
void clouddns_cancel(void *handle);

/* ---- pure pieces, exposed for the APIs and the unit tests ---- */

/* server -> endpoint; -1 with a sentence in err when it is not a usable
 * http(s) URL without query or user info. */
int clouddns_endpoint_parse(const char *server, struct clouddns_endpoint *ep,
			    char *err, size_t errlen);

/* host relative to zone ("www", "a.b", "@") into t->name / t->rr; -1 when
 * host is not zone or inside it. */
int clouddns_target_names(struct clouddns_target *t, const char *host, const char *zone);

/* Two addresses are the same when they parse to the same bytes ("2001:DB8::1"
 * and "2001:db8:0::1"); otherwise when the texts are equal. */
bool clouddns_same_address(const char *a, const char *b);

/* id is a usable record id: 1..CLOUDDNS_ID_MAX-1 of [A-Za-z0-9_-]. */
bool clouddns_id_ok(const char *id);

/* A record this process created or modified, remembered by key. */
struct clouddns_cached {
	char id[CLOUDDNS_ID_MAX];
	char value[CLOUDDNS_VALUE_MAX];
	int64_t at;                  /* monotonic seconds */
};

enum clouddns_next {
	CLOUDDNS_NEXT_HOST,          /* the record holds the address: nothing to send */
	CLOUDDNS_NEXT_CREATE,
	CLOUDDNS_NEXT_MODIFY,        /* id_out says which record */
	CLOUDDNS_NEXT_DUPLICATE,     /* more than one record: refuse */
};

/* After a lookup: what to do for ip, given the record-id cache's entry for
 * this record (NULL: none, or older than the API's index lag). */
enum clouddns_next clouddns_decide(const struct clouddns_reply *lookup,
				   const struct clouddns_cached *cached, const char *ip,
				   char *id_out);

/* How an API's error code is taken (a table per API, first match wins). */
enum clouddns_kind {
	CLOUDDNS_PERM,               /* bad key, signature, permission, domain: stop */
	CLOUDDNS_TEMP,               /* server trouble: back off */
	CLOUDDNS_THROTTLE,           /* rate limit: back off, at least a minute */
	CLOUDDNS_CLOCK,              /* our clock is off: back off, say both clocks */
	CLOUDDNS_STALE,              /* unknown record id: forget it, look up again later */
	CLOUDDNS_HOLDS,              /* "already exists": the record holds the value */
	CLOUDDNS_EMPTY,              /* "no records": a lookup that found nothing */
};

#define CLOUDDNS_OPS_ALL 0u
#define CLOUDDNS_OP_BIT(op) (1u << (op))

struct clouddns_rule {
	const char *code;            /* exact code, or a prefix when it ends in '.' or '*' */
	unsigned ops;                /* CLOUDDNS_OP_BIT()s it applies to; 0: all */
	enum clouddns_kind kind;
	const char *hint;            /* appended to the message; NULL: none */
};

/* An error reply with code (NULL: none) and the provider's message: look
 * code up in rules (unknown codes: TEMP on HTTP 5xx, else PERM; no code: by
 * HTTP status alone) and fill *res / *out. Returns 0 when the code means
 * success (HOLDS, EMPTY), -1 otherwise. */
int clouddns_error(const struct clouddns_rule *rules, size_t n_rules, enum clouddns_op op,
		   const char *code, const char *message, size_t message_len, long status,
		   uint32_t retry_after, struct clouddns_reply *out, struct ddns_result *res);

/* ---- JSON replies ---- */

/* o's member key when it is a string, else NULL. */
const char *clouddns_json_str(json_t *o, const char *key);

/* o's RecordId, a JSON integer > 0 or a string clouddns_id_ok() takes, into
 * out (CLOUDDNS_ID_MAX bytes); false when there is none usable. */
bool clouddns_json_id(json_t *o, char *out);


/* One reply of api to op on t (pure; fuzzed). 0 with *out on success; -1
 * with *res set (a sentence with the provider's code, no API name). */
int clouddns_parse(const struct clouddns_api *api, enum clouddns_op op,
		   const struct clouddns_target *t, const char *body, size_t len, long status,
		   uint32_t retry_after, struct clouddns_reply *out, struct ddns_result *res);

/* Count the records of list that are t's (name and type in any case, same
 * line) into out->matches, the first one's id and value into out. 0, or -1
 * with *res when list is not an array or the first match is unusable. */
int clouddns_json_records(json_t *list, const struct clouddns_fields *f,
			  const struct clouddns_target *t, struct clouddns_reply *out,
			  struct ddns_result *res);

/* A reply that makes no sense: temporary, "unreadable reply: what". -1. */
int clouddns_garbled(struct ddns_result *res, const char *what);

#define CLOUDDNS_THROTTLE_WAIT 60    /* s: the least wait after a rate-limit answer */

/* "the server's clock says ..., this host's ... (N s ahead)" for a reply
 * dated server_time (0: unknown) received at now. */
void clouddns_clock_text(int64_t server_time, int64_t now, char *buf, size_t len);

/* The two APIs (provider_alidns.c, provider_dnspod.c). */
extern const struct clouddns_api provider_alidns_api;
extern const struct clouddns_api provider_dnspod_api;

#endif
