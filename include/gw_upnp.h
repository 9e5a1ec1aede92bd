/* gw_upnp.h - UPnP IGD through miniupnpc, run in a helper process so that
 * a slow, hanging or hostile router never blocks the event loop.
 *
 * Every call is asynchronous: it queues a request and returns its id (> 0),
 * or 0 if it could not be queued. The callback runs once from the event
 * loop, unless upnp_cancel(id) came first. Each request has a hard
 * deadline; past it the helper is killed, the request fails with
 * UPNP_ST_TIMEOUT, and a new helper is started for the next request (it
 * re-reads the last IGD's description by itself). */
#ifndef HP_GW_UPNP_H
#define HP_GW_UPNP_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

enum upnp_status {
	UPNP_ST_OK = 0,
	UPNP_ST_ERROR = -1,          /* the router answered with an error (upnp_code) or garbage */
	UPNP_ST_TIMEOUT = -2,        /* deadline passed / helper died */
	UPNP_ST_NO_IGD = -3,         /* discovery found no IGD */
};

struct upnp_igd {
	char root_url[256];
	char control_url[256];
	char service_type[128];      /* urn:...:WANIPConnection:1 or :2 */
	int igd_version;             /* 1 or 2 */
	char lan_addr[INET_ADDRSTRLEN];   /* our address towards the IGD */
	char gateway_addr[INET_ADDRSTRLEN];
	bool connected;              /* WAN link up (as the IGD says) */
};

struct upnp_entry {                  /* GetSpecificPortMappingEntry */
	char int_client[INET_ADDRSTRLEN];
	uint16_t int_port;
	char desc[81];
	bool enabled;
	uint32_t lease;              /* remaining seconds, 0 = permanent */
};

struct upnp_result {
	enum upnp_status status;
	int upnp_code;               /* UPnP error code (718, 725, ...), 0 if none */
	char error[160];             /* e.g. "UPnP 718 ConflictInMappingEntry"; "" on OK */
	/* upnp_add_mapping OK: the router's reply was a complete SOAP
	 * AddPortMappingResponse, so it says it holds the mapping (false for
	 * every other request and every failure). */
	bool confirmed;
	union {
		struct upnp_igd igd;                 /* upnp_discover */
		char ext_ip[INET_ADDRSTRLEN];        /* upnp_get_external_ip */
		struct upnp_entry entry;             /* upnp_get_mapping */
	} u;
};

typedef void (*upnp_cb)(void *arg, const struct upnp_result *r);

int  upnp_init(int deadline_ms);     /* 0 / -1 */
void upnp_fini(void);                /* kills the helper; pending callbacks are dropped */

/* root_url NULL: SSDP discovery (on ifname if not NULL). */
uint64_t upnp_discover(const char *root_url, const char *ifname, upnp_cb cb, void *arg);
uint64_t upnp_get_external_ip(upnp_cb cb, void *arg);
/* proto: SVC_TCP or SVC_UDP (config.h). lease 0 = permanent. */
uint64_t upnp_add_mapping(unsigned proto, uint16_t ext_port, const char *int_host,
			  uint16_t int_port, const char *desc, uint32_t lease,
			  upnp_cb cb, void *arg);
uint64_t upnp_get_mapping(unsigned proto, uint16_t ext_port, upnp_cb cb, void *arg);
uint64_t upnp_delete_mapping(unsigned proto, uint16_t ext_port, upnp_cb cb, void *arg);
void upnp_cancel(uint64_t id);
void upnp_cancel_all(void);
bool upnp_busy(void);                /* a request is queued or in flight */

#endif
