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

enum gw_protocol_pref { GW_PREF_AUTO, GW_PREF_UPNP, GW_PREF_NATPMP };

/* Bit mask: a "both" service is SVC_TCP | SVC_UDP. */
enum svc_protocol { SVC_TCP = 1, SVC_UDP = 2 };

struct cfg_daemon {
	char *state_dir;
	char *socket;
	char *include_dir;
	int log_level;                 /* syslog priority */
};

struct cfg_gateway {
	enum gw_protocol_pref protocol;
	char *upnp_url;                /* NULL: discover with SSDP */
	char *interface;               /* NULL: any */
	uint32_t check_interval;       /* seconds */
	uint32_t lease;                /* seconds, 0 = permanent */
	bool keep_mappings;
};

struct cfg_service {
	char *name;
	unsigned protocols;            /* SVC_TCP | SVC_UDP */
	uint16_t internal_port;
	uint16_t external_port;        /* defaults to internal_port */
	char *internal_host;           /* NULL: this host's LAN address */
	char *description;             /* defaults to "homeport:NAME" */
	uint32_t lease;                /* defaults to [gateway] lease */
	char *file;                    /* where the section started */
	int line;
};

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

/* [hook:NAME]: a program to run or a URL to call on events (config_hook.c). */
struct cfg_hook {
	char *name;
	unsigned events;               /* bit mask of EVENT_BIT(enum event_type) */
	char **argv;                   /* exec: program and arguments; NULL: a url hook */
	char *url;                     /* template */
	char *method;                  /* NULL: POST with a body, else GET */
	struct cfg_header *headers;    /* "header" may be given several times */
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

/* True when two entries would publish the same way (reload keeps their state). */
bool config_ddns_equal(const struct cfg_ddns *a, const struct cfg_ddns *b);
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
