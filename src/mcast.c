/* mcast.c - the 224.0.0.1 listener sockets of the NAT-PMP and PCP
 * backends, and PCP's ff02::1 one (mcast.h). */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mcast.h"

/* The interface holding the address a connected socket uses towards the
 * gateway (the kernel picked it by route). 0 if none. */
static unsigned iface_of(int fd)
{
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	struct ifaddrs *ifs, *i;
	unsigned idx = 0;

	if (getsockname(fd, (struct sockaddr *)&me, &len) < 0 || getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr == me.sin_addr.s_addr) {
			idx = if_nametoindex(i->ifa_name);
			break;
		}
	freeifaddrs(ifs);
	return idx;
}

static int open_listener(uint16_t port, const char *ifname, int towards_fd, const char *who,
			 ev_fd_cb cb, void *arg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct ip_mreqn mr = { .imr_ifindex = 0 };
	int fd, one = 1, zero = 0;
	unsigned idx = ifname ? if_nametoindex(ifname) : iface_of(towards_fd);

	if (ifname && !idx) {
		log_warn("%s: interface %s", who, ifname);
		return -1;
	}
	mr.imr_ifindex = (int)idx;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("%s: announcement socket", who);
		return -1;
	}
	inet_pton(AF_INET, "224.0.0.1", &mr.imr_multiaddr);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		log_warn("%s: cannot listen on 224.0.0.1:%u", who, (unsigned)port);
		close(fd);
		return -1;
	}
	/* Only the group joined here, not every group any socket joined. */
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof(zero));
	if (ev_fd_add(fd, POLLIN, cb, arg) < 0) {
		log_warn("%s: ev_fd_add", who);
		close(fd);
		return -1;
	}
	log_debug("%s: listening for announcements on ifindex %u", who, idx);
	return fd;
}

int mcast_listen(int *fd, uint16_t port, const char *ifname, int towards_fd, const char *who,
		 ev_fd_cb cb, void *arg)
{
	int s = open_listener(port, ifname, towards_fd, who, cb, arg);

	if (s < 0)
		return -1;
	mcast_close(fd);
	*fd = s;
	return 0;
}

int mcast_listen6(int *fd, uint16_t port, unsigned ifindex, const char *who, ev_fd_cb cb,
		  void *arg)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct ipv6_mreq mr = { .ipv6mr_interface = ifindex };
	int s, one = 1, zero = 0;

	s = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0) {
		log_warn("%s: IPv6 announcement socket", who);
		return -1;
	}
	inet_pton(AF_INET6, "ff02::1", &mr.ipv6mr_multiaddr);
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
	    bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(s, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof(mr)) < 0) {
		log_warn("%s: cannot listen on [ff02::1]:%u (ifindex %u)", who, (unsigned)port,
			 ifindex);
		close(s);
		return -1;
	}
#ifdef IPV6_MULTICAST_ALL
	setsockopt(s, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &zero, sizeof(zero));
#else
	(void)zero;
#endif
	if (ev_fd_add(s, POLLIN, cb, arg) < 0) {
		log_warn("%s: ev_fd_add", who);
		close(s);
		return -1;
	}
	mcast_close(fd);
	*fd = s;
	log_debug("%s: listening for IPv6 announcements on ifindex %u", who, ifindex);
	return 0;
}

void mcast_close(int *fd)
{
	if (*fd < 0)
		return;
	ev_fd_del(*fd);
	close(*fd);
	*fd = -1;
}
