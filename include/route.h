/* route.h - what the kernel's routing table says about the gateway. */
#ifndef HP_ROUTE_H
#define HP_ROUTE_H

#include <stddef.h>
#include <netinet/in.h>

/* This host's address on the route towards addr (dotted quads). 0 / -1. */
int route_source(const char *addr, char *out, size_t len);

/* The gateway of the lowest-metric IPv4 default route. 0 / -1 (logged). */
int route_default_gw(struct in_addr *gw);

#endif
