/* upnp_wire.h - the messages between gw_upnp.c (daemon side) and the
 * miniupnpc helper program (src/upnp-helper/, homeport-upnp-helper);
 * owned by gw_upnp. One fixed-size struct per SOCK_SEQPACKET message each
 * way; both sides check the length and magic and terminate every string
 * before use. The daemon also cleans every string it gets (the helper
 * parses the router's replies and is trusted no more than the router). */
#ifndef HP_UPNP_WIRE_H
#define HP_UPNP_WIRE_H

#include <net/if.h>
#include <stdint.h>
#include <sys/types.h>

#include "gw_upnp.h"

#define UPNP_WIRE_MAGIC 0x68705533u   /* "hpU3": a helper of another build fails at once */
#define UPNP_HELPER_NAME "homeport-upnp-helper"
#define UPNP_HELPER_FD 3              /* the helper's end of the socketpair */
#define UPNP_IGNORED_MAX 4            /* IGDs reported as ignored, per discovery */

/* What the helper says; gw_upnp.c sorts it into a gw_result. */
enum upnp_status {
	UPNP_ST_OK = 0,
	UPNP_ST_ERROR = -1,          /* the router answered with an error (upnp_code) or garbage */
	UPNP_ST_TIMEOUT = -2,        /* (daemon side only) */
	UPNP_ST_NO_IGD = -3,         /* discovery found no IGD */
};

struct upnp_entry {                  /* GetSpecificPortMappingEntry */
	char int_client[INET_ADDRSTRLEN];
	uint16_t int_port;
	char desc[81];
	bool enabled;
	uint32_t lease;              /* remaining seconds, 0 = permanent */
};

#define UPNP_UID_LEN 8               /* a pinhole's UniqueID: 1..65535 */

struct upnp_result {
	enum upnp_status status;
	int upnp_code;               /* UPnP error code (718, 725, ...), 0 if none */
	char error[160];             /* e.g. "UPnP 718 ConflictInMappingEntry"; "" on OK */
	/* discover over SSDP: description URLs of IGDs that are not at the
	 * gateway, ignored ("" ends the list) */
	char ignored[UPNP_IGNORED_MAX][128];
	/* add OK: the router's reply was a complete SOAP
	 * AddPortMappingResponse, so it says it holds the mapping. */
	bool confirmed;
	union {
		struct upnp_igd igd;                 /* discover */
		char ext_ip[INET_ADDRSTRLEN];        /* external IP */
		struct upnp_entry entry;             /* get */
		char uid[UPNP_UID_LEN];              /* pinhole add: its UniqueID */
	} u;
};

enum upnp_wire_op {
	UPNP_OP_DISCOVER = 1,
	UPNP_OP_EXT_IP,
	UPNP_OP_ADD,
	UPNP_OP_GET,
	UPNP_OP_DELETE,
	UPNP_OP_PIN_ADD,             /* WANIPv6FirewallControl AddPinhole */
	UPNP_OP_PIN_DEL,             /* DeletePinhole */
	UPNP_OP_PIN_CHECK,           /* CheckPinholeWorking: does the router still hold it? */
};

struct upnp_wire_req {
	uint32_t magic;
	uint32_t op;                 /* enum upnp_wire_op */
	uint64_t id;
	char root_url[256];          /* discover: "" = SSDP; others: the IGD to use */
	/* What a discovery found at root_url, for a helper started to widen
	 * the window: it takes these instead of fetching the description
	 * again (a request the router would serve in the middle of our
	 * mappings). "" = fetch it; pinhole requests always do. */
	char control_url[256];
	char service_type[128];
	char lan_addr[INET_ADDRSTRLEN];
	char ifname[IF_NAMESIZE];    /* discover over SSDP: "" = any */
	char gateway[INET_ADDRSTRLEN];   /* discover over SSDP: the only IGD address trusted */
	char proto[4];               /* "TCP" / "UDP" */
	uint16_t ext_port, int_port;
	char int_host[INET_ADDRSTRLEN];   /* "" = our address towards the IGD */
	char desc[81];
	uint32_t lease;
	/* pinholes: the address opened, which is also the request's source
	 * (routers open pinholes only for the asking address); the IPv6
	 * gateway the request goes to (scope_id: its interface when
	 * link-local); the pinhole's UniqueID (delete) */
	char addr6[INET6_ADDRSTRLEN];
	char via6[INET6_ADDRSTRLEN];
	uint32_t scope_id;
	char uid[UPNP_UID_LEN];
};

struct upnp_wire_rep {
	uint32_t magic;
	uint64_t id;
	struct upnp_result res;
};

#endif
