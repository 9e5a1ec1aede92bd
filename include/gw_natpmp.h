/* gw_natpmp.h - NAT-PMP (RFC 6886) through libnatpmp, non-blocking in the
 * event loop, with our own deadline, stale replies drained and every reply
 * checked (opcode, ports); plus the 224.0.0.1:5350 announcement listener.
 *
 * Calls queue a request and return its id (> 0), or 0 if it could not be
 * queued; requests go out one at a time. The callback runs once from the
 * event loop unless natpmp_cancel(id) came first. */
#ifndef HP_GW_NATPMP_H
#define HP_GW_NATPMP_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

enum natpmp_status {
	NATPMP_ST_OK = 0,
	NATPMP_ST_ERROR = -1,        /* result_code from the gateway, or a local error */
	NATPMP_ST_TIMEOUT = -2,      /* no (valid) reply before the deadline */
};

struct natpmp_result {
	enum natpmp_status status;
	int result_code;             /* RFC 6886 result code (2 = not authorized, ...), 0 if none */
	char error[160];             /* e.g. "NAT-PMP 2 not authorized"; "" on OK */
	uint32_t epoch;              /* seconds since start of epoch, from the reply */
	char ext_ip[INET_ADDRSTRLEN];/* natpmp_get_external_ip */
	uint16_t int_port, ext_port; /* natpmp_map: as granted */
	uint32_t lifetime;           /* natpmp_map: as granted */
};

typedef void (*natpmp_cb)(void *arg, const struct natpmp_result *r);
typedef void (*natpmp_announce_cb)(void *arg, const char *ext_ip, uint32_t epoch);

/* gateway NULL: the default route's gateway. deadline_ms bounds each request. */
int  natpmp_init(const char *gateway, int deadline_ms);
void natpmp_fini(void);
const char *natpmp_gateway_addr(void);   /* dotted quad, "" if unknown */

uint64_t natpmp_get_external_ip(natpmp_cb cb, void *arg);
/* proto: SVC_TCP or SVC_UDP. lifetime 0 is not allowed here (use unmap). */
uint64_t natpmp_map(unsigned proto, uint16_t int_port, uint16_t ext_port,
		    uint32_t lifetime, natpmp_cb cb, void *arg);
uint64_t natpmp_unmap(unsigned proto, uint16_t int_port, natpmp_cb cb, void *arg);
void natpmp_cancel(uint64_t id);
void natpmp_cancel_all(void);

/* Join 224.0.0.1 on ifname (NULL: the interface towards the gateway) and
 * call cb for every well-formed announcement sent by the gateway. */
int  natpmp_listen_announcements(const char *ifname, natpmp_announce_cb cb, void *arg);

/* RFC 6886 3.6: did the gateway lose its state? prev_* are the last epoch
 * seen and our monotonic time (ms) then. */
bool natpmp_epoch_reset(uint32_t prev_epoch, int64_t prev_ms, uint32_t epoch, int64_t now_ms);

#endif
