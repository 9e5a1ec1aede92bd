/* libFuzzer target: rtnetlink messages (from the kernel, but parsed by
 * our own code) through nlmsg.c, the neighbour choice over what they
 * carry, and route.c's default-router pick. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr6_pick.h"
#include "nlmsg.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr6_neigh neighs[64];
	struct addr6_cand cands[64];
	size_t off = 0, nn = 0, nc = 0, last = 0;
	struct nlmsg m;
	struct route_default best = { .found = false };
	int rc;

	while ((rc = nlmsg_next(data, size, &off, &m)) == 1) {
		if (off <= last || off > size)
			abort();                 /* must move forward, stay inside */
		last = off;
		if (m.kind == NLMSG_K_NEIGH && m.u.neigh.family == AF_INET6 && nn < 64) {
			neighs[nn] = (struct addr6_neigh){ .addr = m.u.neigh.dst.v6,
				.ifindex = m.u.neigh.ifindex, .state = m.u.neigh.state };
			memcpy(neighs[nn++].mac, m.u.neigh.lladdr, 6);
		}
		if (m.kind == NLMSG_K_ADDR && m.u.addr.family == AF_INET6 && nc < 64)
			cands[nc++] = (struct addr6_cand){ .addr = m.u.addr.addr.v6,
				.ifindex = m.u.addr.ifindex, .scope = m.u.addr.scope,
				.flags = m.u.addr.flags, .preferred_until = m.u.addr.preferred,
				.cstamp = m.u.addr.cstamp, .prefixlen = m.u.addr.prefixlen };
	}
	if (rc < 0 && off != size)
		abort();
	rc = route_scan(data, size, 0, &best);
	if (rc < -1 || rc > 1)
		abort();
	if (addr6_pick(cands, nc, 1, true, 0) >= (ssize_t)nc)
		abort();
	if (nn > 0 && addr6_pick_neigh(neighs, nn, neighs[0].mac, 0, NULL, 0) >= (ssize_t)nn)
		abort();
	return 0;
}
