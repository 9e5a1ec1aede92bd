/* route.h - what the kernel's routing table says about the gateway: the
 * only router trusted as the gateway is this host's default IPv4 router
 * (SPEC "Which gateway is trusted"), read over rtnetlink. */
#ifndef HP_ROUTE_H
#define HP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>

struct route_default {
	bool found;
	struct in_addr gw;           /* the router */
	unsigned ifindex;            /* out of this interface */
	uint32_t metric;
};

/* The default IPv4 router: the lowest-metric default route of the main
 * table with a gateway (a multipath route's first nexthop, as addr6.c
 * takes the IPv6 one), out of ifname when given (NULL: any interface).
 * gw gets the dotted quad, out_if (may be NULL) the interface. 0, or -1
 * with a sentence in err. */
int route_default_gw(const char *ifname, char gw[INET_ADDRSTRLEN], char out_if[IF_NAMESIZE],
		     char *err, size_t errlen);

/* Pure (unit-tested): fold the RTM_NEWROUTE messages in one netlink
 * buffer into *best (zeroed before the first), keeping default
 * routes out of ifindex (0: any). Returns 1 when the buffer ends the dump
 * (NLMSG_DONE), -1 on NLMSG_ERROR or a malformed message, 0 otherwise. */
int route_scan(const void *buf, size_t len, unsigned ifindex, struct route_default *best);

/* This host's address on the route towards addr (dotted quads). 0 / -1. */
int route_source(const char *addr, char *out, size_t len);

#endif
