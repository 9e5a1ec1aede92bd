/* provider.h - DDNS providers: the preset table and the function table
 * every protocol family implements (provider_*.c). */
#ifndef HP_PROVIDER_H
#define HP_PROVIDER_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"

/* Preset quirks. */
#define PRESET_ONE_HOST_PER_REQUEST 0x01  /* he, oray, ovh, ... */
#define PRESET_USER_IS_HOSTNAME     0x02  /* he: Basic auth user = the hostname */
#define PRESET_STATUS_BY_HTTP       0x04  /* desec: errors are HTTP statuses */
#define PRESET_NO_USERNAME          0x08  /* username not required */

struct provider_preset {
	const char *name;                /* config value of "provider" */
	enum ddns_family family;
	const char *default_server;      /* update URL; NULL: "server" is required */
	unsigned flags;
	const char *extra_query;         /* appended to the query, e.g. "system=dyndns" */
	uint32_t min_interval;           /* seconds between two updates, 0: none */
	const char *doc;                 /* one line for the man page / -nv */
};

const struct provider_preset *provider_preset_find(const char *name);
/* NULL-terminated walk for docs and tests. */
const struct provider_preset *provider_preset_at(size_t i);

enum ddns_outcome { DDNS_OK, DDNS_TEMPFAIL, DDNS_PERMFAIL };

struct ddns_result {
	enum ddns_outcome outcome;
	uint32_t retry_after;            /* seconds the provider asked us to wait; 0: backoff */
	char error[256];                 /* human sentence with the protocol's code; "" on OK */
};

typedef void (*ddns_done_cb)(void *ctx, const struct ddns_result *res);

struct provider_ops {
	enum ddns_family family;
	/* Publish ip (IPv4 dotted quad) for every hostname of cfg. Returns a
	 * handle; done is called exactly once later (never from inside start)
	 * unless cancel is called first. Returns NULL when it cannot start;
	 * then *res says why and done is never called. */
	void *(*start)(const struct cfg_ddns *cfg, const char *ip,
		       ddns_done_cb done, void *ctx, struct ddns_result *res);
	void (*cancel)(void *handle);
};

const struct provider_ops *provider_ops_for(enum ddns_family family);

/* One per family, each defined in its provider_*.c. */
extern const struct provider_ops provider_dyndns2_ops;     /* provider_dyndns2.c */
extern const struct provider_ops provider_cloudflare_ops;  /* provider_cloudflare.c */
extern const struct provider_ops provider_duckdns_ops;     /* provider_duckdns.c */
extern const struct provider_ops provider_rfc2136_ops;     /* provider_rfc2136.c */
extern const struct provider_ops provider_webhook_ops;     /* provider_webhook.c */

/* Reply parsers of the HTTP providers, exposed for unit tests and fuzzers
 * (added by the HTTP-provider helper). */

/* dyndns2: the reply body for hosts[0..n_hosts) -> *res, worst host wins. */
void provider_dyndns2_parse(const char *body, size_t len,
			    const char *const *hosts, size_t n_hosts,
			    struct ddns_result *res);

struct provider_cf_item {
	bool found;                      /* false: the result list was empty */
	char id[65];                     /* zone or record id, [A-Za-z0-9_-] only */
	char content[64];                /* record content, when there is one */
};

/* One Cloudflare API v4 reply. 0 when it succeeded: *item from result[0]
 * (lists) or result (objects). -1 with *res set otherwise. */
int provider_cloudflare_parse(const char *body, size_t len, long http_status,
			      uint32_t retry_after, struct provider_cf_item *item,
			      struct ddns_result *res);

#endif
