/* mcast.h - listening for a gateway's announcements to 224.0.0.1: NAT-PMP
 * (RFC 6886 3.2.1) and PCP (RFC 6887 14.1.3) both send them to port 5350;
 * PCP also to [ff02::1]:5350.
 * Each backend has its own socket (SO_REUSEADDR: every one of them gets
 * every datagram) and its own parser. */
#ifndef HP_MCAST_H
#define HP_MCAST_H

#include <stdint.h>

#include "ev.h"

/* A non-blocking UDP socket bound to 224.0.0.1:port, member of that group
 * on ifname, or (ifname NULL) on the interface holding the local address
 * of towards_fd, a socket connected to the gateway, and watched by the
 * event loop (cb). who names the caller in logs. On success it replaces
 * *fd (the one before, when >= 0, is closed): 0. Else -1 (logged), *fd
 * unchanged. */
int mcast_listen(int *fd, uint16_t port, const char *ifname, int towards_fd, const char *who,
		 ev_fd_cb cb, void *arg);
/* The same for [ff02::1]:port on interface ifindex (PCP over IPv6). */
int mcast_listen6(int *fd, uint16_t port, unsigned ifindex, const char *who, ev_fd_cb cb,
		  void *arg);
/* Stop watching and close *fd (when >= 0); *fd becomes -1. */
void mcast_close(int *fd);

#endif
