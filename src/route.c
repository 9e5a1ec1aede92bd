/* route.c - the routing table, as far as the gateway side needs it: the
 * default router over rtnetlink (no /proc, no commands: it works under
 * ProcSubset=pid and in any namespace; messages read by nlmsg.c), and our
 * address towards it. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "nl.h"
#include "nlmsg.h"
#include "route.h"

#define DUMP_MAX_READS 64            /* a routing table larger than 64 reads: give up */

struct scan {
	unsigned ifindex;
	struct route_default *best;
};

/* One route message: a default route of the main table via a gateway? */
static void consider(const struct nlmsg *m, void *arg)
{
	const struct nlmsg_route *r = &m->u.route;
	const struct scan *sc = arg;
	struct route_default *best = sc->best;
	unsigned ifindex = sc->ifindex;

	if (m->del || r->family != AF_INET || r->dst_len != 0 || r->type != RTN_UNICAST ||
	    r->table != RT_TABLE_MAIN || !r->has_gateway ||
	    (ifindex && (unsigned)r->oif != ifindex))
		return;
	if (best->found && r->priority >= best->metric)
		return;
	best->found = true;
	best->gw = r->gateway.v4;
	best->ifindex = (unsigned)r->oif;
	best->metric = r->priority;
}

int route_scan(const void *buf, size_t len, unsigned ifindex, struct route_default *best)
{
	struct scan sc = { .ifindex = ifindex, .best = best };

	return nlmsg_each(buf, len, NLMSG_K_ROUTE, consider, &sc);
}

static int read_dump(int fd, unsigned ifindex, struct route_default *best)
{
	static char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));

	if (nl_dump(fd, RTM_GETROUTE, AF_INET, 1) < 0)
		return -1;
	for (int i = 0; i < DUMP_MAX_READS; i++) {
		ssize_t n = nl_recv(fd, buf, sizeof(buf), 0);
		int rc;

		if (n < 0)
			return -1;
		if (n == 0)
			continue;            /* not the kernel's */
		rc = route_scan(buf, (size_t)n, ifindex, best);
		if (rc != 0)
			return rc > 0 ? 0 : -1;
	}
	return -1;
}

int route_default_gw(const char *ifname, char gw[INET_ADDRSTRLEN], char out_if[IF_NAMESIZE],
		     char *err, size_t errlen)
{
	struct route_default best = { .found = false };
	struct timeval tv = { .tv_sec = 1 };
	unsigned ifindex = 0;
	int fd, rc = -1;

	if (ifname && !(ifindex = if_nametoindex(ifname))) {
		snprintf(err, errlen, "no interface %s", ifname);
		return -1;
	}
	fd = nl_open(0, false);
	if (fd < 0) {
		snprintf(err, errlen, "cannot read the routing table: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (read_dump(fd, ifindex, &best) < 0) {
		snprintf(err, errlen, "cannot read the routing table: %s", strerror(errno));
		goto out;
	}
	if (!best.found) {
		snprintf(err, errlen, "no default route%s%s: no gateway to trust",
			 ifname ? " on " : "", ifname ? ifname : "");
		goto out;
	}
	inet_ntop(AF_INET, &best.gw, gw, INET_ADDRSTRLEN);
	if (out_if && !if_indextoname(best.ifindex, out_if))
		out_if[0] = '\0';
	rc = 0;
out:
	close(fd);
	return rc;
}

/* connect() on a UDP socket picks the route and sends nothing. */
int route_source(const char *addr, char *out, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9) }, me;
	socklen_t mlen = sizeof(me);
	int fd, rc = -1;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&me, &mlen) < 0)
		goto out;
	if (inet_ntop(AF_INET, &me.sin_addr, out, (socklen_t)len))
		rc = 0;
out:
	close(fd);
	return rc;
}
