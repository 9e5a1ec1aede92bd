/* nl.h - rtnetlink plumbing shared by route.c (the default router) and
 * ipif.c (an interface's addresses): the socket, dump requests, reading
 * what the kernel sends (and only the kernel) and walking its messages. */
#ifndef HP_NL_H
#define HP_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/netlink.h>

/* A NETLINK_ROUTE socket subscribed to groups (0: none). -1 with errno. */
int nl_open(unsigned groups, bool nonblock);

/* Ask the kernel to dump every object of type (RTM_GETROUTE, RTM_GETADDR):
 * req (len bytes: an rtmsg, an ifaddrmsg) follows the header. 0 / -1. */
int nl_dump(int fd, uint16_t type, const void *req, size_t len, uint32_t seq);

/* One datagram into buf: its length, 0 when it came from anyone but the
 * kernel (dropped: only the kernel speaks for its tables), -1 with errno. */
ssize_t nl_recv(int fd, void *buf, size_t len, int flags);

/* Pure: fn for every message in buf (len bytes) but NLMSG_DONE and
 * NLMSG_ERROR. 1 when the buffer ends a dump (NLMSG_DONE), -1 on an error
 * message, a malformed buffer or fn < 0, else 0. */
int nl_walk(const void *buf, size_t len, int (*fn)(const struct nlmsghdr *h, void *arg),
	    void *arg);

#endif
