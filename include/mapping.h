/* mapping.h - per-service port mappings (mapping.c), as gateway.c drives
 * them. One entry per service and protocol (a "both" service is two
 * entries), each an explicit state machine:
 *
 *   pending -> mapped | conflict | refused | failed
 *
 * and manual: a service forwarded by hand ([service] map = manual, or
 * every service with protocol = none): nothing is ever asked of the router
 * for it, it stays manual until the configuration says otherwise.
 *
 * gateway.c finds the gateway and tells mapping.c which protocol (a
 * gw_backend) to map with; mapping.c reports back what it learns on the
 * way (a gateway that lost its table, stopped answering, a mapping that
 * vanished). It never names a protocol: it reasons in outcomes and
 * capabilities (gw_backend.h). The entries copy everything they need from
 * the config: nothing points into it.
 *
 * Ownership: mapping.c only ever deletes mappings it created, and
 * remembers them in <state_dir>/mappings.json (mapstore.c; rewritten when
 * that set changed, at most once per event-loop pass, and always before a
 * request for a new mapping leaves). When the gateway comes up, a
 * remembered mapping that a configured service still wants is adopted;
 * one nobody wants any more (service removed while the daemon was down,
 * or it was killed) is deleted if the router's entry still points at the
 * same internal host, port and description (read back where the protocol
 * can), then forgotten. A mapping held by another host is never deleted. */
#ifndef HP_MAPPING_H
#define HP_MAPPING_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "config.h"
#include "gw_backend.h"

enum map_state { MAP_PENDING, MAP_MAPPED, MAP_CONFLICT, MAP_REFUSED, MAP_FAILED, MAP_MANUAL };
#define MAP_STATES (MAP_MANUAL + 1)

#define MAPPING_MAX_BACKENDS 8

/* What mapping.c needs to know of the gateway gateway.c found. */
struct mapping_gw {
	const struct gw_backend *via;        /* protocol used for every new mapping */
	/* Every protocol that answers on this gateway (via among them): a
	 * mapping is deleted with the protocol that made it, when it can. */
	const struct gw_backend *answering[MAPPING_MAX_BACKENDS];
	char address[INET_ADDRSTRLEN];       /* the gateway: a new one forgets "lease 0 only" */
	char lan_addr[INET_ADDRSTRLEN];      /* this host's address towards it */
	char locator[256];                   /* via's locator (the IGD root URL), "" if none */
	uint32_t check_interval;             /* seconds between verifications */
};

/* Calls back into gateway.c. Each may run from inside a mapping callback,
 * so gateway.c must defer anything that re-enters mapping.c. */
struct mapping_hooks {
	void (*gateway_lost)(const char *why);     /* no answer: find it again */
	void (*gateway_trouble)(const char *why);  /* any failure to reach it */
	void (*state_lost)(const char *why);       /* it lost (some of) our mappings */
};

/* Loads the remembered mappings from cfg->daemon.state_dir, then applies
 * cfg (every service pending until the gateway is up). 0 / -1. */
int  mapping_init(const struct hp_config *cfg);
void mapping_set_hooks(const struct mapping_hooks *hooks);
void mapping_fini(void);             /* frees every entry; deletes nothing */

/* Keep entries whose service is config_service_equal, delete the mappings
 * of removed or changed ones, add the new ones (mapped at once if the
 * gateway is up). */
void mapping_apply_config(const struct hp_config *cfg);

void mapping_gateway_up(const struct mapping_gw *gw);  /* (re)map everything */
void mapping_gateway_down(const char *why);            /* stop; entries pending */
void mapping_remap_all(const char *why);   /* the router lost its table: add again */
void mapping_verify_all(void);             /* check_interval / refresh */

/* Delete this daemon's mappings (unless keep), then call done; done may
 * be called before this returns. The caller bounds the time. */
void mapping_shutdown(bool keep, void (*done)(void *arg), void *arg);

/* --once: every entry reached a first result (or the gateway is down),
 * and no deletion of a remembered mapping is in flight. */
bool mapping_once_done(bool *all_ok);

/* The log line ("KIND SERVICE/PROTO: old -> new: error") and the event of
 * an entry's state change; mapping.c's and pinhole.c's transitions. */
void mapping_note(const char *kind, const char *service, const char *proto,
		  const char *event_proto, unsigned port, enum map_state from, enum map_state to,
		  const char *old_error, const char *error);

/* Pure policy helpers (unit-tested). */
const char *mapping_state_name(enum map_state s);
/* Retry delay after the n-th consecutive failure (n >= 1), jitter in
 * [0, 1) spreading it by up to +20 %. */
int64_t mapping_backoff_ms(unsigned failures, double jitter);
/* When to look at a mapping again: half the granted lease, but no later
 * than check_interval (granted 0 = permanent). */
int64_t mapping_recheck_ms(uint32_t granted, uint32_t check_interval);
/* Is the description a router reports (got) the one we set (want)? Equal,
 * or a non-empty prefix of it (routers may cut long descriptions). */
bool mapping_desc_matches(const char *want, const char *got);

/* The "services" array of SPEC "Status"; external_address is ext_ip:port
 * where a service is expected from the internet (ext_ip NULL: unknown). */
json_t *mapping_status_json(const char *ext_ip);

#endif
