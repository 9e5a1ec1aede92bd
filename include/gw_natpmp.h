/* gw_natpmp.h - the NAT-PMP backend (RFC 6886) through libnatpmp,
 * non-blocking in the event loop, with our own deadline, stale replies
 * drained and every reply checked (opcode, ports); plus the
 * 224.0.0.1:5350 announcement listener. gateway.c and mapping.c use it
 * through gw_backend_natpmp only; the functions below are its own API for
 * the tools and unit tests that drive it directly.
 *
 * Results: GW_OK; GW_REFUSED (result 2, not authorized); GW_TEMPORARY
 * (any other result code, e.g. 3 no WAN address yet); GW_FAULT (a local
 * failure, no NAT-PMP server: ICMP port unreachable); GW_GONE (no valid
 * reply before the deadline). Each reply's epoch is checked against the
 * last one (RFC 6886 3.6): gw_result.state_lost when it went back. */
#ifndef HP_GW_NATPMP_H
#define HP_GW_NATPMP_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "gw_backend.h"

extern const struct gw_backend gw_backend_natpmp;

typedef void (*natpmp_announce_cb)(void *arg, const char *ext_ip, uint32_t epoch);

/* gateway NULL: the default route's gateway. deadline_ms bounds each request. */
int  natpmp_init(const char *gateway, int deadline_ms);
void natpmp_fini(void);
const char *natpmp_gateway_addr(void);   /* dotted quad, "" if unknown */

uint64_t natpmp_get_external_ip(gw_cb cb, void *arg);
/* proto: SVC_TCP or SVC_UDP. lifetime 0 is not allowed here (use unmap). */
uint64_t natpmp_map(unsigned proto, uint16_t int_port, uint16_t ext_port,
		    uint32_t lifetime, gw_cb cb, void *arg);
uint64_t natpmp_unmap(unsigned proto, uint16_t int_port, gw_cb cb, void *arg);
void natpmp_cancel(uint64_t id);
void natpmp_cancel_all(void);

/* Join 224.0.0.1 on ifname (NULL: the interface towards the gateway) and
 * call cb for every well-formed announcement sent by the gateway. */
int  natpmp_listen_announcements(const char *ifname, natpmp_announce_cb cb, void *arg);

/* RFC 6886 3.6: did the gateway lose its state? prev_* are the last epoch
 * seen and our monotonic time (ms) then. */
bool natpmp_epoch_reset(uint32_t prev_epoch, int64_t prev_ms, uint32_t epoch, int64_t now_ms);

/* NAT-PMP lifetime to ask for a configured lease (0 = permanent: a week,
 * renewed; NAT-PMP has no permanent mappings). */
uint32_t natpmp_lifetime(uint32_t lease);

#endif
