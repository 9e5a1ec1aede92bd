/* route.h - what the kernel's routing table says about the gateway. */
#ifndef HP_ROUTE_H
#define HP_ROUTE_H

#include <stddef.h>

/* This host's address on the route towards addr (dotted quads). 0 / -1. */
int route_source(const char *addr, char *out, size_t len);

#endif
