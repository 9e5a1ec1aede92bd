/* nlmsg.h - rtnetlink messages: the dump requests we send and the address,
 * route and neighbour messages the kernel sends back. Pure: no I/O, so the
 * unit tests and the fuzzer can feed it anything. Used by addr6.c and
 * route.c. */
#ifndef HP_NLMSG_H
#define HP_NLMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>

#define NLMSG_FOREVER UINT32_MAX     /* a lifetime that never runs out */

enum nlmsg_kind {
	NLMSG_K_OTHER,       /* a message we do not use (skipped) */
	NLMSG_K_ADDR,        /* RTM_NEWADDR / RTM_DELADDR */
	NLMSG_K_ROUTE,       /* RTM_NEWROUTE / RTM_DELROUTE */
	NLMSG_K_NEIGH,       /* RTM_NEWNEIGH / RTM_DELNEIGH */
	NLMSG_K_DONE,        /* the end of a dump */
	NLMSG_K_ERROR,       /* an error (or an acknowledgement: error 0) */
};

union nlmsg_ip {
	struct in_addr v4;
	struct in6_addr v6;
};

struct nlmsg_addr {
	int family;                  /* AF_INET, AF_INET6 */
	int ifindex;
	unsigned prefixlen;
	unsigned scope;              /* RT_SCOPE_UNIVERSE (0) = global */
	uint32_t flags;              /* IFA_F_*, the 32-bit IFA_FLAGS when given */
	union nlmsg_ip addr;         /* IFA_LOCAL, else IFA_ADDRESS */
	bool has_cacheinfo;
	uint32_t preferred, valid;   /* seconds left, NLMSG_FOREVER */
	uint32_t cstamp;             /* created, 1/100 s since boot */
	char label[IF_NAMESIZE];     /* IFA_LABEL ("eth0:1" for an alias), "" if none */
};

struct nlmsg_route {
	int family;
	unsigned dst_len;            /* 0: a default route */
	uint32_t table;              /* RTA_TABLE over rtm_table */
	unsigned type;               /* RTN_UNICAST, ... */
	int oif;                     /* 0: none (a first nexthop's for multipath) */
	bool has_gateway;
	union nlmsg_ip gateway;
	uint32_t priority;           /* the metric */
};

struct nlmsg_neigh {
	int family;
	int ifindex;
	uint16_t state;              /* NUD_* */
	union nlmsg_ip dst;
	bool has_lladdr;             /* an Ethernet-sized link-layer address */
	uint8_t lladdr[6];
};

struct nlmsg {
	enum nlmsg_kind kind;
	bool del;                    /* RTM_DEL* */
	uint32_t seq;
	uint16_t flags;              /* NLM_F_* */
	int error;                   /* NLMSG_K_ERROR: a negative errno, 0 = ack */
	union {
		struct nlmsg_addr addr;
		struct nlmsg_route route;
		struct nlmsg_neigh neigh;
	} u;
};

/* The next message of buf[*off..len) into m; *off moves past it.
 * 1: a message; 0: no more; -1: malformed (the rest of buf is dropped).
 * A known message type whose body is too short or of a family other than
 * AF_INET/AF_INET6 comes back as NLMSG_K_OTHER. */
int nlmsg_next(const uint8_t *buf, size_t len, size_t *off, struct nlmsg *m);

/* fn for every message of kind in buf (len bytes), until the end of a dump.
 * 1: the dump ended (NLMSG_DONE); -1: an error message or a malformed
 * buffer; 0: the buffer ended first (more to read). */
int nlmsg_each(const uint8_t *buf, size_t len, enum nlmsg_kind kind,
	       void (*fn)(const struct nlmsg *m, void *arg), void *arg);

/* A dump request (RTM_GETADDR, RTM_GETROUTE, RTM_GETNEIGH) for family into
 * buf. Returns its length, or 0 if len is too small or type unknown. */
size_t nlmsg_dump_request(uint8_t *buf, size_t len, uint16_t type, int family, uint32_t seq);

#endif
