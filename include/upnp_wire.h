/* upnp_wire.h - the messages between gw_upnp.c (daemon side) and its
 * miniupnpc helper process (gw_upnp_helper.c); owned by gw_upnp. One
 * fixed-size struct per SOCK_SEQPACKET message each way; both sides check
 * the length and magic and terminate every string before use. */
#ifndef HP_UPNP_WIRE_H
#define HP_UPNP_WIRE_H

#include <net/if.h>
#include <stdint.h>
#include <sys/types.h>

#include "gw_upnp.h"

#define UPNP_WIRE_MAGIC 0x68705550u   /* "hpUP" */

enum upnp_wire_op {
	UPNP_OP_DISCOVER = 1,
	UPNP_OP_EXT_IP,
	UPNP_OP_ADD,
	UPNP_OP_GET,
	UPNP_OP_DELETE,
};

struct upnp_wire_req {
	uint32_t magic;
	uint32_t op;                 /* enum upnp_wire_op */
	uint64_t id;
	char root_url[256];          /* discover: "" = SSDP; others: the IGD to use */
	char ifname[IF_NAMESIZE];    /* discover over SSDP: "" = any */
	char proto[4];               /* "TCP" / "UDP" */
	uint16_t ext_port, int_port;
	char int_host[INET_ADDRSTRLEN];   /* "" = our address towards the IGD */
	char desc[81];
	uint32_t lease;
};

struct upnp_wire_rep {
	uint32_t magic;
	uint64_t id;
	struct upnp_result res;
};

/* Looks up the unprivileged user in the daemon, before any fork: name
 * service lookups are not safe in a child forked from a threaded process. */
void upnp_helper_prepare(void);

/* The helper: never returns. fd is its end of the socketpair, parent the
 * daemon's pid (to notice it died before PR_SET_PDEATHSIG was set). */
void upnp_helper_run(int fd, pid_t parent) __attribute__((noreturn));

/* "UPnP 718 ConflictInMappingEntry"-style name of a UPnP error code. */
const char *upnp_error_name(int code);

#endif
