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

enum gw_protocol_pref { GW_PREF_AUTO, GW_PREF_UPNP, GW_PREF_NATPMP };

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
	bool ipv6;                     /* also a pinhole in the IPv6 firewall (default yes) */
	char *file;                    /* where the section started */
	int line;
};

/* Record types, as bits: [ddns:*] records is a set of them. */
enum ddns_record { DDNS_REC_A = 1, DDNS_REC_AAAA = 2 };

/* Provider families: one implementation each (provider_*.c). */
enum ddns_family {
	DDNS_DYNDNS2, DDNS_CLOUDFLARE, DDNS_DUCKDNS, DDNS_RFC2136, DDNS_WEBHOOK
};

struct cfg_header {
	char *value;                   /* "Name: value" as written */
};

struct cfg_ddns {
	char *name;
	char *provider;                /* as written: "noip", "dyndns2", ... */
	const struct provider_preset *preset;
	enum ddns_family family;
	char **hostnames;
	size_t n_hostnames;
	uint32_t force_interval;       /* seconds */
	unsigned records;              /* DDNS_REC_A | DDNS_REC_AAAA (default A) */
	struct addr6_host ipv6_host;   /* whose address AAAA records get (default self) */

	/* dyndns2 family, rfc2136 (host[:port]) */
	char *server;                  /* URL (dyndns2) or host[:port] (rfc2136); NULL: preset's */
	char *username;
	char *password_file;  char *password;        /* secret, loaded */
	/* cloudflare, duckdns */
	char *token_file;     char *token;           /* secret, loaded */
	char *zone;                    /* cloudflare, rfc2136 */
	uint32_t ttl;                  /* 0: provider default */
	bool proxied;                  /* cloudflare */
	/* rfc2136 */
	char *key_name;
	char *key_algorithm;           /* "hmac-sha256" (default), "hmac-sha512", ... */
	char *key_secret_file; char *key_secret;     /* secret: base64 as in BIND key files */
	/* webhook */
	char *url;                     /* template with %ip% and %hostname% */
	char *method;                  /* GET (default), POST, PUT, PATCH */
	struct cfg_header *headers;    /* "header" may be given several times */
	size_t n_headers;
	char *body;                    /* optional request body template */
	char *success_regex;           /* POSIX extended; NULL: any 2xx succeeds */
	/* every HTTP provider */
	char *ca_file;
	uint32_t timeout;              /* seconds, default 30 */
	bool allow_http;               /* default no: refuse http:// URLs */

	char *file;                    /* where the section started */
	int line;
};

struct hp_config {
	char *path;                    /* main file */
	struct cfg_daemon daemon;
	struct cfg_gateway gateway;
	struct cfg_service *services;
	size_t n_services;
	struct cfg_ddns *ddns;
	size_t n_ddns;
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

/* True when two entries would publish the same way (reload keeps their state). */
bool config_ddns_equal(const struct cfg_ddns *a, const struct cfg_ddns *b);
bool config_service_equal(const struct cfg_service *a, const struct cfg_service *b);

#endif
