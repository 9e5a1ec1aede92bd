/* gw_upnp.h - the UPnP IGD backend: miniupnpc runs in a helper process
 * so that a slow, hanging or hostile router never blocks the event loop;
 * the gateway's SSDP NOTIFYs are heard here too (its announcements).
 * gateway.c and mapping.c use it through gw_backend_upnp only; the
 * functions below are its own API for the tools that drive it directly.
 *
 * Each request has a hard deadline; past it the helper running it is
 * killed, the request ends GW_GONE (timed_out), and a new helper is
 * started for the next request (it re-reads the last IGD's description by
 * itself). A few requests can be on the wire at once, each in a helper of
 * its own (gw_queue.h's window); the extra helpers end when nothing waits.
 * Results: UPnP 718 -> GW_CONFLICT, 606 -> GW_REFUSED, 714 ->
 * GW_NOT_FOUND, 725 (and 402 to an add with a lease) -> GW_PERMANENT_ONLY,
 * another UPnP error -> GW_TEMPORARY, a garbage reply -> GW_FAULT, no IGD
 * or no answer -> GW_GONE. */
#ifndef HP_GW_UPNP_H
#define HP_GW_UPNP_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "gw_backend.h"

extern const struct gw_backend gw_backend_upnp;

/* The IGD the last discovery found. */
struct upnp_igd {
	char root_url[256];
	char control_url[256];
	char service_type[128];      /* urn:...:WANIPConnection:1 or :2 */
	int igd_version;             /* 1 or 2 */
	char lan_addr[INET_ADDRSTRLEN];   /* our address towards the IGD */
	char gateway_addr[INET_ADDRSTRLEN];
	bool connected;              /* WAN link up (as the IGD says) */
	bool has_6fc;                /* describes WANIPv6FirewallControl (IGD v2 pinholes) */
	bool fw_known;               /* GetFirewallStatus answered: */
	bool fw_enabled;             /* FirewallEnabled */
	bool fw_inbound;             /* InboundPinholeAllowed */
};

int  upnp_init(int deadline_ms);     /* 0 / -1 */
void upnp_helper_path(const char *path);  /* tools: where homeport-upnp-helper is */
void upnp_fini(void);                /* kills the helper; pending callbacks are dropped */
const struct upnp_igd *upnp_igd(void);   /* NULL before a discovery succeeded */

/* root_url NULL: SSDP discovery (on ifname if not NULL), where only an
 * IGD at gateway counts (the others are named in gw_result.ignored).
 * OK: u.found. */
uint64_t upnp_discover(const char *root_url, const char *ifname, const char *gateway,
		       gw_cb cb, void *arg);
uint64_t upnp_get_external_ip(gw_cb cb, void *arg);
/* proto: SVC_TCP or SVC_UDP (config.h). lease 0 = permanent. OK: u.map
 * with the lease asked, confirmed when the reply was a complete SOAP
 * AddPortMappingResponse. */
uint64_t upnp_add_mapping(unsigned proto, uint16_t ext_port, const char *int_host,
			  uint16_t int_port, const char *desc, uint32_t lease,
			  gw_cb cb, void *arg);
uint64_t upnp_get_mapping(unsigned proto, uint16_t ext_port, gw_cb cb, void *arg);
uint64_t upnp_delete_mapping(unsigned proto, uint16_t ext_port, gw_cb cb, void *arg);
/* IPv6 pinholes (GW_FAMILY_IPV6 requests of gw_backend_upnp): over IPv6 to
 * q->via6, from q->int_host, which is the address opened. Add OK: u.map
 * with the UniqueID in handle; delete: q->handle. */
uint64_t upnp_add_pinhole(const struct gw_map_req *q, gw_cb cb, void *arg);
uint64_t upnp_delete_pinhole(const struct gw_map_req *q, gw_cb cb, void *arg);
/* CheckPinholeWorking: OK while the router holds q->handle, GW_NOT_FOUND once not. */
uint64_t upnp_check_pinhole(const struct gw_map_req *q, gw_cb cb, void *arg);
void upnp_cancel(uint64_t id);
void upnp_cancel_all(void);
bool upnp_busy(void);                /* a request is queued or in flight */

#endif
