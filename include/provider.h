/* provider.h - DDNS providers: the preset table (provider.c) and the key
 * and function table every protocol family fills (provider_*.c).
 *
 * Adding a provider: one provider_X.c defining a struct provider_ops with
 * its keys (cfgkey.h), checks and functions; one row in provider.c's
 * table (with its extern line); its documentation in homeport.conf(5) and
 * etc/homeport.conf. Nothing else names it. */
#ifndef HP_PROVIDER_H
#define HP_PROVIDER_H

#include <stdbool.h>
#include <stdint.h>
#include "cfgkey.h"
#include "config.h"

/* Preset quirks. */
#define PRESET_ONE_HOST_PER_REQUEST 0x01  /* he, oray, ovh, ... */
#define PRESET_USER_IS_HOSTNAME     0x02  /* he: Basic auth user = the hostname */
#define PRESET_STATUS_BY_HTTP       0x04  /* desec: errors are HTTP statuses */
#define PRESET_NO_USERNAME          0x08  /* username not required */

struct provider_ops;

/* How a dyndns2 preset sends an IPv6 address (the per-preset table is in
 * homeport.conf(5)). Each record type goes in a request of its own. */
enum preset_v6 {
	PRESET_V6_MYIPV6,    /* myipv6=ADDR (and no myip): the generic dyndns2 server */
	PRESET_V6_MYIP,      /* myip=ADDR: the server tells the families apart */
	PRESET_V6_DESEC,     /* myipv6=ADDR&myipv4=preserve; A requests carry myipv6=preserve */
	PRESET_V6_NONE,      /* no AAAA: records = AAAA is refused at config check */
};

/* One row per name users can write in "provider = ..." (provider.c). */
struct provider_preset {
	const char *name;                /* config value of "provider" */
	const struct provider_ops *ops;  /* the protocol family that serves it */
	const char *default_server;      /* update URL; NULL: "server" is required */
	unsigned flags;
	const char *extra_query;         /* appended to the query, e.g. "system=dyndns" */
	uint32_t min_interval;           /* seconds between two updates, 0: none */
	const char *doc;                 /* one line for the man page / -nv */
	enum preset_v6 v6;               /* dyndns2 presets: how AAAA is sent */
	const char *v6_server;           /* update URL for AAAA requests; NULL: the same */
};

const struct provider_preset *provider_preset_find(const char *name);
/* The record types a preset can publish (DDNS_REC_*): its family's, less
 * AAAA for a dyndns2 preset whose servers take no IPv6. */
unsigned provider_records(const struct provider_preset *p);
/* NULL-terminated walk for docs and tests. */
const struct provider_preset *provider_preset_at(size_t i);

/* The first declaration of a key named name by any provider (NULL: none
 * has it), for the parser, which meets keys before it may know the
 * provider. */
const struct cfgkey *provider_key_any(const char *name);

enum ddns_outcome { DDNS_OK, DDNS_TEMPFAIL, DDNS_PERMFAIL };

struct ddns_result {
	enum ddns_outcome outcome;
	uint32_t retry_after;            /* seconds the provider asked us to wait; 0: backoff */
	char error[256];                 /* human sentence with the protocol's code; "" on OK */
};

typedef void (*ddns_done_cb)(void *ctx, const struct ddns_result *res);

/* Record types, as bits: struct provider_ops.records is a set of them. */
enum ddns_record { DDNS_REC_A = 1, DDNS_REC_AAAA = 2 };

/* A protocol family (provider_*.c): the keys it takes and what it does. */
struct provider_ops {
	const char *name;                /* "dyndns2", "cloudflare", ... */
	const struct cfgkey *keys;       /* beyond provider, hostname, force_interval */
	size_t n_keys;
	unsigned records;                /* DDNS_REC_A | DDNS_REC_AAAA it can publish */
	/* Section checks beyond each key's own, once every key is parsed and
	 * every secret file loaded; reports through config_check_*(). May
	 * derive values (e.g. from a key file). NULL: none. */
	void (*validate)(struct cfg_ddns *cfg, struct config_check *chk);
	/* Publish addr (rec DDNS_REC_A: IPv4 dotted quad; DDNS_REC_AAAA: IPv6)
	 * for every hostname of cfg. Returns a handle; done is called exactly
	 * once later (never from inside start) unless cancel is called first.
	 * Returns NULL when it cannot start; then *res says why and done is
	 * never called. Called through provider_start(), which refuses a
	 * record type not in records. */
	void *(*start)(const struct cfg_ddns *cfg, enum ddns_record rec, const char *addr,
		       ddns_done_cb done, void *ctx, struct ddns_result *res);
	void (*cancel)(void *handle);
};

/* ops->start, once rec is known to be one ops can publish. */
void *provider_start(const struct provider_ops *ops, const struct cfg_ddns *cfg,
		     enum ddns_record rec, const char *addr, ddns_done_cb done, void *ctx,
		     struct ddns_result *res);

/* Reply parsers of the HTTP providers, exposed for unit tests and fuzzers
 * (added by the HTTP-provider helper). */

/* dyndns2: the reply body for hosts[0..n_hosts) -> *res, worst host wins. */
/* dyndns2: the address parameters of a request ("myip=...", ...) for a
 * preset's IPv6 form and the record type, into buf. */
const char *provider_dyndns2_addr_query(enum preset_v6 v6, enum ddns_record rec, char *buf,
					size_t len, const char *ip);
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
