/* nl.h - rtnetlink sockets shared by route.c (the default router), ipif.c
 * (an interface's IPv4 addresses) and addr6.c (this host's IPv6 addresses):
 * opening, asking for a dump and reading what the kernel sends (and only
 * the kernel). The messages themselves are read by nlmsg.c. */
#ifndef HP_NL_H
#define HP_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/netlink.h>

/* A NETLINK_ROUTE socket subscribed to groups (0: none). -1 with errno. */
int nl_open(unsigned groups, bool nonblock);

/* Ask the kernel to dump every object of type (RTM_GETROUTE, RTM_GETADDR,
 * RTM_GETNEIGH) of family (nlmsg.c builds the request). 0 / -1 with errno. */
int nl_dump(int fd, uint16_t type, int family, uint32_t seq);

/* One datagram into buf: its length, 0 when it came from anyone but the
 * kernel (dropped: only the kernel speaks for its tables), -1 with errno. */
ssize_t nl_recv(int fd, void *buf, size_t len, int flags);


#endif
