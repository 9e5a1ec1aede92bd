/* route.c - the routing table, as far as the gateway side needs it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <net/if.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "natpmp_wire.h"
#include "route.h"

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

/* The kernel's table as text: the routing socket would be more code for
 * the same answer. */
int route_default_gw(struct in_addr *gw)
{
	char buf[16384], ifname[IF_NAMESIZE];
	FILE *f = fopen("/proc/self/net/route", "r");   /* /proc/net is hidden under ProcSubset=pid */
	size_t n;

	if (!f) {
		log_warn("gateway: /proc/self/net/route");
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (natpmp_wire_default_gw(buf, gw, ifname) < 0) {
		log_warnx("gateway: no default route, gateway unknown");
		return -1;
	}
	return 0;
}
