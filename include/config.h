/* config.h - the parsed, validated, read-only configuration snapshot.
 *
 * config_load() builds a whole new snapshot; the daemon swaps it in whole on
 * reload and frees the old one only after every module has applied the new
 * one. Modules may keep pointers into the snapshot they were last given. */
#ifndef HP_CONFIG_H
#define HP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr6_pick.h"
#include "cfgkey.h"

enum gw_protocol_pref { GW_PREF_AUTO, GW_PREF_UPNP, GW_PREF_NATPMP, GW_PREF_PCP,
			     GW_PREF_NONE };

/* Where the external IPv4 comes from (SPEC "Without UPnP, NAT-PMP or PCP"). */
enum ip_source { IPSRC_AUTO, IPSRC_GATEWAY, IPSRC_WEB, IPSRC_INTERFACE };

/* Bit mask: a "both" service is SVC_TCP | SVC_UDP. */
enum svc_protocol { SVC_TCP = 1, SVC_UDP = 2 };

struct cfg_daemon {
	char *state_dir;
	char *socket;
	char *include_dir;
	int log_level;                 /* syslog priority */
	char *user;                    /* NULL: stay who we were started as */
	char *control_group;           /* NULL: the daemon's group */
};

struct cfg_gateway {
	enum gw_protocol_pref protocol;
	char *upnp_url;                /* NULL: discover with SSDP */
	char *interface;               /* NULL: any */
	uint32_t check_interval;       /* seconds */
	uint32_t lease;                /* seconds, 0 = permanent */
	bool keep_mappings;
	enum ip_source ip_source;
	char *ip_source_if;            /* IPSRC_INTERFACE: the interface's name */
	char **check_urls;             /* web sources; n_check_urls == 0: the built-in list */
	size_t n_check_urls;
	char *ca_file;                 /* extra CA bundle for the web sources, as written */
	char *ca_path;                 /* ca_file found (see config_load), for use */
	bool allow_http;               /* web sources may be http:// */
	bool ipv6;                     /* auto (yes): pinholes, this host's IPv6 address */
};

struct cfg_service {
	char *name;
	unsigned protocols;            /* SVC_TCP | SVC_UDP */
	uint16_t internal_port;
	uint16_t external_port;        /* defaults to internal_port */
	char *internal_host;           /* NULL: this host's LAN address */
	char *description;             /* defaults to "homeport:NAME" */
	uint32_t lease;                /* defaults to [gateway] lease */
	bool manual;                   /* map = manual: forwarded by hand, never asked for */
	bool ipv6;                     /* also a pinhole in the IPv6 firewall (default yes) */
	char *file;                    /* where the section started */
	int line;
};

struct provider_preset;
struct provider_ops;

/* A [ddns:NAME] entry. The keys every provider takes have fields; the
 * provider's own keys (struct provider_ops.keys) are values[], one per
 * key in the provider's table order, read with the accessors below. */
struct cfg_ddns {
	char *name;
	char *provider;                /* as written: "noip", "dyndns2", ... */
	const struct provider_preset *preset;
	const struct provider_ops *ops;  /* preset->ops */
	char **hostnames;
	size_t n_hostnames;
	uint32_t force_interval;       /* seconds */
	unsigned records;              /* DDNS_REC_A | DDNS_REC_AAAA (provider.h), default A */
	struct addr6_host ipv6_host;   /* whose address AAAA records get (default self) */
	struct cfg_value *values;      /* [ops->n_keys] */

	char *file;                    /* where the section started */
	int line;
};

/* [hook:NAME]: a program to run or a URL to call on events (config_hook.c). */
struct cfg_hook {
	char *name;
	unsigned events;               /* bit mask of EVENT_BIT(enum event_type) */
	char **argv;                   /* exec: program and arguments; NULL: a url hook */
	char *url;                     /* template */
	char *method;                  /* NULL: POST with a body, else GET */
	char **headers;                /* "header" may be given several times */
	size_t n_headers;
	char *header_file;
	char **secret_headers;         /* "Name: value" lines loaded from header_file */
	size_t n_secret_headers;
	char *body;                    /* template */
	char *ca_file;
	bool allow_http;
	uint32_t timeout;              /* seconds */
	char *file;                    /* where the section started */
	int line;
	struct {                       /* where keys were written, for late checks */
		int exec, url, header_file, ca_file, http_key;
		const char *http_key_name;
	} at;
};

struct hp_config {
	char *path;                    /* main file */
	struct cfg_daemon daemon;
	struct cfg_gateway gateway;
	struct cfg_service *services;
	size_t n_services;
	struct cfg_ddns *ddns;
	size_t n_ddns;
	struct cfg_hook *hooks;
	size_t n_hooks;
};

/* Every problem found, each "FILE:LINE: message" (or "FILE: message" when
 * no line applies). */
struct config_errors {
	char **msgs;
	size_t n;
};

/* Parse path plus its include_dir drop-ins, load secrets, validate.
 * Returns 0 and *out on success; -1 with every problem in errs otherwise.
 * base_env: $CREDENTIALS_DIRECTORY is read from the environment. */
int  config_load(const char *path, struct hp_config **out, struct config_errors *errs);
void config_free(struct hp_config *cfg);
void config_errors_free(struct config_errors *errs);

/* The effective configuration as INI, secrets as <redacted> (homeportd -nv). */
void config_dump(const struct hp_config *cfg, FILE *out);

const struct cfg_service *config_find_service(const struct hp_config *cfg, const char *name);
const struct cfg_ddns *config_find_ddns(const struct hp_config *cfg, const char *name);

/* True when two entries would publish the same way (reload keeps their
 * state); records and ipv6_host are not compared: each record type keeps
 * its own state (ddns.c). */
bool config_ddns_equal(const struct cfg_ddns *a, const struct cfg_ddns *b);

/* A provider's key values, by index into its key table; each aborts on a
 * key of another type (our own bug). str: NULL when unset; secret: a
 * secret file's content; list: every value of a repeated key. */
const char *cfg_ddns_str(const struct cfg_ddns *d, size_t key);
const char *cfg_ddns_secret(const struct cfg_ddns *d, size_t key);
uint32_t    cfg_ddns_num(const struct cfg_ddns *d, size_t key);
bool        cfg_ddns_bool(const struct cfg_ddns *d, size_t key);
const char *const *cfg_ddns_list(const struct cfg_ddns *d, size_t key, size_t *n);

/* An entry made by hand (tools, tests): preset's keys at their defaults.
 * config_ddns_set parses text for the key named key as the config parser
 * does (0, or -1 with why); a secret file's content is set with
 * config_ddns_set_secret. */
void config_ddns_init(struct cfg_ddns *d, const char *name, const struct provider_preset *preset);
int  config_ddns_set(struct cfg_ddns *d, const char *key, const char *text, char *why, size_t len);
int  config_ddns_set_secret(struct cfg_ddns *d, const char *key, const char *secret);
void config_ddns_fini(struct cfg_ddns *d);

/* A provider's validate hook reports through these while the config is
 * checked. key: the key whose FILE:LINE the message gets (NULL, or a key
 * not written: the section's); messages start with the key's name, as
 * every config error does. require: "[ddns:NAME]: 'key' is required"
 * unless present; returns present. */
struct config_check;
void config_check_error(struct config_check *chk, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool config_check_require(struct config_check *chk, const char *key, bool present);
/* The same IPv4 mapping (ipv6 is not compared: pinhole.c follows it). */
bool config_service_equal(const struct cfg_service *a, const struct cfg_service *b);

/* For the section parsers in config_*.c: report "FILE:LINE: message";
 * read a secret file given by key at FILE:LINE (NULL, reported, when it
 * cannot be used); a path relative to the main file's directory. */
void config_error(struct config_errors *errs, const char *file, int line,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
char *config_read_secret(struct config_errors *errs, const struct hp_config *cfg,
			 const char *file, int line, const char *key, const char *path);
char *config_path(const struct hp_config *cfg, const char *path);

#endif
