/* pinhole.h - IPv6 firewall pinholes for the services (pinhole.c), as
 * gateway.c drives them beside the IPv4 mappings (mapping.c). One entry
 * per service with ipv6 = yes and protocol, an explicit state machine:
 *
 *   pending -> mapped | refused | failed
 *
 * A pinhole is for this host's IPv6 address (addr6.h) and keeps the
 * internal port. It goes through the protocol gateway.c picks
 * (gw_pinhole_pick: UPnP IGD v2 or PCP) and reasons in outcomes only; it
 * is deleted by the protocol that made it.
 * Routers cannot be asked whether a pinhole still exists (miniupnpd
 * 2.3.1's CheckPinholeWorking always fails), and updating one misbehaves
 * (UpdatePinhole drops restrictions; a re-add after it duplicates the
 * rule), so whenever in doubt a pinhole is deleted and added again: at
 * renewal (half the lease), when the address changes, after a restart
 * of the daemon. After the router lost its state, they are added again.
 * UniqueIDs are kept in mappings.json (mapstore.h, the IPv6 set). */
#ifndef HP_PINHOLE_H
#define HP_PINHOLE_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <jansson.h>

#include "config.h"
#include "gw_backend.h"

/* The gateway as pinholes see it. */
struct pinhole_gw {
	const struct gw_backend *be;     /* a protocol with GW_CAP_PINHOLE that answers, or NULL */
	bool has_firewall;               /* be found an IPv6 firewall it can open */
	char address[INET_ADDRSTRLEN];   /* the (IPv4) gateway: recorded with each pinhole */
	char locator[256];               /* be's locator (the IGD root URL) */
	uint32_t check_interval;
};

/* After mapping_init (which opens mappings.json) and addr6_init. 0 / -1. */
int  pinhole_init(const struct hp_config *cfg);
void pinhole_fini(void);
void pinhole_apply_config(const struct hp_config *cfg);

void pinhole_gateway_up(const struct pinhole_gw *gw);
void pinhole_gateway_down(const char *why);
void pinhole_remap_all(const char *why);   /* the router lost its table: add again */
void pinhole_verify_all(void);             /* check_interval, refresh */
/* The gateway may have restarted (it says so, or came back after failing
 * us): pinholes cannot be looked up, so each is deleted and added again. */
void pinhole_doubt_all(void);

/* Delete this daemon's pinholes (unless keep), then call done; done may be
 * called before this returns. The caller bounds the time. */
void pinhole_shutdown(bool keep, void (*done)(void *arg), void *arg);

/* --once: every entry reached a first result. */
bool pinhole_once_done(bool *all_ok);

/* Status: the IPv6 entries, each after its service's IPv4 entries in the
 * "services" array of SPEC "Status"; and the "gateway.ipv6" object (or
 * null when IPv6 is off or this host has no global IPv6 address). */
void pinhole_status_merge(json_t *services);
json_t *pinhole_gateway_json(void);

/* Pure (unit-tested): the lease a pinhole asks for, from a service's
 * lease: IGD v2 takes 1 s to 1 day; 0 (permanent) asks for a day. */
uint32_t pinhole_lease(uint32_t svc_lease);

#endif
