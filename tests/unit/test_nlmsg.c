/* test_nlmsg.c - rtnetlink messages as the kernel writes them, and broken
 * ones, through nlmsg.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "nlmsg.h"

/* A message under construction. */
struct msg {
	uint8_t buf[1024];
	size_t len;
	size_t start;                /* of the current message */
};

static void begin(struct msg *m, uint16_t type, uint16_t flags, uint32_t seq,
		  const void *body, size_t blen)
{
	struct nlmsghdr h = { .nlmsg_type = type, .nlmsg_flags = flags, .nlmsg_seq = seq };

	m->start = m->len;
	memcpy(m->buf + m->len, &h, sizeof(h));
	m->len += NLMSG_HDRLEN;
	memcpy(m->buf + m->len, body, blen);
	m->len += NLMSG_ALIGN(blen);
}

static void attr(struct msg *m, uint16_t type, const void *data, size_t dlen)
{
	struct rtattr a = { .rta_len = (unsigned short)RTA_LENGTH(dlen), .rta_type = type };

	memcpy(m->buf + m->len, &a, sizeof(a));
	memcpy(m->buf + m->len + RTA_LENGTH(0), data, dlen);
	m->len += RTA_SPACE(dlen);
}

static void end(struct msg *m)
{
	uint32_t len = (uint32_t)(m->len - m->start);

	memcpy(m->buf + m->start, &len, sizeof(len));
}

static struct in6_addr ip6(const char *a)
{
	struct in6_addr x;

	assert_int_equal(inet_pton(AF_INET6, a, &x), 1);
	return x;
}

static void test_addr(void **state)
{
	struct msg m = { .len = 0 };
	struct ifaddrmsg ifa = { .ifa_family = AF_INET6, .ifa_prefixlen = 64,
				 .ifa_flags = IFA_F_PERMANENT, .ifa_scope = RT_SCOPE_UNIVERSE,
				 .ifa_index = 7 };
	struct ifa_cacheinfo ci = { .ifa_prefered = 3600, .ifa_valid = 7200, .cstamp = 555 };
	struct in6_addr a = ip6("2001:db8:77::10"), peer = ip6("2001:db8:77::1");
	uint32_t flags = IFA_F_TEMPORARY | IFA_F_MANAGETEMPADDR;
	struct nlmsg out;
	size_t off = 0;

	begin(&m, RTM_NEWADDR, NLM_F_MULTI, 42, &ifa, sizeof(ifa));
	attr(&m, IFA_ADDRESS, &a, sizeof(a));
	attr(&m, IFA_CACHEINFO, &ci, sizeof(ci));
	attr(&m, IFA_FLAGS, &flags, sizeof(flags));
	end(&m);
	/* Point-to-point: IFA_LOCAL is ours, IFA_ADDRESS the peer. */
	begin(&m, RTM_DELADDR, 0, 43, &ifa, sizeof(ifa));
	attr(&m, IFA_ADDRESS, &peer, sizeof(peer));
	attr(&m, IFA_LOCAL, &a, sizeof(a));
	end(&m);

	assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), 1);
	assert_int_equal(out.kind, NLMSG_K_ADDR);
	assert_false(out.del);
	assert_int_equal(out.seq, 42);
	assert_int_equal(out.u.addr.ifindex, 7);
	assert_int_equal(out.u.addr.prefixlen, 64);
	assert_int_equal(out.u.addr.flags, flags);          /* IFA_FLAGS wins */
	assert_true(out.u.addr.has_cacheinfo);
	assert_int_equal(out.u.addr.preferred, 3600);
	assert_int_equal(out.u.addr.valid, 7200);
	assert_int_equal(out.u.addr.cstamp, 555);
	assert_memory_equal(&out.u.addr.addr.v6, &a, sizeof(a));

	assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), 1);
	assert_true(out.del);
	assert_int_equal(out.u.addr.flags, IFA_F_PERMANENT);
	assert_false(out.u.addr.has_cacheinfo);
	assert_memory_equal(&out.u.addr.addr.v6, &a, sizeof(a));
	assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), 0);
}

static void test_addr_odd(void **state)
{
	struct msg m = { .len = 0 };
	struct ifaddrmsg ifa = { .ifa_family = AF_INET6, .ifa_index = 1 };
	struct ifaddrmsg bridge = { .ifa_family = AF_BRIDGE };
	struct in_addr v4 = { htonl(0xcb007102) };
	uint8_t shortbody[4] = { AF_INET6 };
	struct nlmsg out;
	size_t off = 0;

	/* An IPv4-sized address in an IPv6 message; no address at all. */
	begin(&m, RTM_NEWADDR, 0, 1, &ifa, sizeof(ifa));
	attr(&m, IFA_ADDRESS, &v4, sizeof(v4));
	end(&m);
	begin(&m, RTM_NEWADDR, 0, 1, &ifa, sizeof(ifa));
	end(&m);
	begin(&m, RTM_NEWADDR, 0, 1, &bridge, sizeof(bridge));
	end(&m);
	begin(&m, RTM_NEWADDR, 0, 1, shortbody, sizeof(shortbody));
	end(&m);
	/* IPv4 is parsed too. */
	ifa.ifa_family = AF_INET;
	begin(&m, RTM_NEWADDR, 0, 1, &ifa, sizeof(ifa));
	attr(&m, IFA_LOCAL, &v4, sizeof(v4));
	end(&m);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), 1);
		assert_int_equal(out.kind, NLMSG_K_OTHER);
	}
	assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), 1);
	assert_int_equal(out.kind, NLMSG_K_ADDR);
	assert_int_equal(out.u.addr.family, AF_INET);
	assert_int_equal(out.u.addr.addr.v4.s_addr, v4.s_addr);
}

static void test_route(void **state)
{
	struct msg m = { .len = 0 };
	struct rtmsg rtm = { .rtm_family = AF_INET6, .rtm_dst_len = 0, .rtm_table = RT_TABLE_MAIN,
			     .rtm_type = RTN_UNICAST };
	struct in6_addr gw = ip6("fe80::1"), gw2 = ip6("2001:db8:77::1");
	uint32_t oif = 4, prio = 1024, table = 254;
	uint8_t mp[64] = { 0 };
	struct rtnexthop nh = { .rtnh_ifindex = 9 };
	struct rtattr a = { .rta_len = (unsigned short)RTA_LENGTH(sizeof(gw2)),
			    .rta_type = RTA_GATEWAY };
	struct nlmsg out;
	size_t off = 0;

	begin(&m, RTM_NEWROUTE, 0, 0, &rtm, sizeof(rtm));
	attr(&m, RTA_TABLE, &table, sizeof(table));
	attr(&m, RTA_GATEWAY, &gw, sizeof(gw));
	attr(&m, RTA_OIF, &oif, sizeof(oif));
	attr(&m, RTA_PRIORITY, &prio, sizeof(prio));
	end(&m);
	/* Multipath: the first nexthop. */
	nh.rtnh_len = (unsigned short)(RTNH_ALIGN(sizeof(nh)) + RTA_SPACE(sizeof(gw2)));
	memcpy(mp, &nh, sizeof(nh));
	memcpy(mp + RTNH_ALIGN(sizeof(nh)), &a, sizeof(a));
	memcpy(mp + RTNH_ALIGN(sizeof(nh)) + RTA_LENGTH(0), &gw2, sizeof(gw2));
	begin(&m, RTM_DELROUTE, 0, 0, &rtm, sizeof(rtm));
	attr(&m, RTA_MULTIPATH, mp, nh.rtnh_len);
	end(&m);

	assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), 1);
	assert_int_equal(out.kind, NLMSG_K_ROUTE);
	assert_int_equal(out.u.route.oif, 4);
	assert_int_equal(out.u.route.priority, 1024);
	assert_int_equal(out.u.route.table, 254);
	assert_int_equal(out.u.route.dst_len, 0);
	assert_true(out.u.route.has_gateway);
	assert_memory_equal(&out.u.route.gateway.v6, &gw, sizeof(gw));
	assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), 1);
	assert_true(out.del);
	assert_int_equal(out.u.route.oif, 9);
	assert_true(out.u.route.has_gateway);
	assert_memory_equal(&out.u.route.gateway.v6, &gw2, sizeof(gw2));
}

static void test_neigh(void **state)
{
	struct msg m = { .len = 0 };
	struct ndmsg nd = { .ndm_family = AF_INET6, .ndm_ifindex = 3, .ndm_state = NUD_STALE };
	struct in6_addr dst = ip6("2001:db8:77::20");
	uint8_t mac[6] = { 2, 0x11, 0x22, 0x33, 0x44, 0x55 }, longmac[8] = { 0 };
	struct nlmsg out;
	size_t off = 0;

	begin(&m, RTM_NEWNEIGH, 0, 0, &nd, sizeof(nd));
	attr(&m, NDA_DST, &dst, sizeof(dst));
	attr(&m, NDA_LLADDR, mac, sizeof(mac));
	end(&m);
	begin(&m, RTM_NEWNEIGH, 0, 0, &nd, sizeof(nd));
	attr(&m, NDA_DST, &dst, sizeof(dst));
	attr(&m, NDA_LLADDR, longmac, sizeof(longmac));     /* not Ethernet */
	end(&m);
	begin(&m, RTM_NEWNEIGH, 0, 0, &nd, sizeof(nd));     /* no destination */
	attr(&m, NDA_LLADDR, mac, sizeof(mac));
	end(&m);

	assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), 1);
	assert_int_equal(out.kind, NLMSG_K_NEIGH);
	assert_int_equal(out.u.neigh.ifindex, 3);
	assert_int_equal(out.u.neigh.state, NUD_STALE);
	assert_true(out.u.neigh.has_lladdr);
	assert_memory_equal(out.u.neigh.lladdr, mac, 6);
	assert_memory_equal(&out.u.neigh.dst.v6, &dst, sizeof(dst));
	assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), 1);
	assert_int_equal(out.kind, NLMSG_K_NEIGH);
	assert_false(out.u.neigh.has_lladdr);
	assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), 1);
	assert_int_equal(out.kind, NLMSG_K_OTHER);
}

static void test_done_error(void **state)
{
	struct msg m = { .len = 0 };
	int done = 0;
	struct nlmsgerr err = { .error = -EPERM };
	struct nlmsg out;
	size_t off = 0;

	begin(&m, NLMSG_DONE, NLM_F_MULTI | NLM_F_DUMP_INTR, 9, &done, sizeof(done));
	end(&m);
	begin(&m, NLMSG_ERROR, 0, 10, &err, sizeof(err));
	end(&m);
	begin(&m, NLMSG_ERROR, 0, 11, &done, 0);            /* no body at all */
	end(&m);
	assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), 1);
	assert_int_equal(out.kind, NLMSG_K_DONE);
	assert_true(out.flags & NLM_F_DUMP_INTR);
	assert_int_equal(out.seq, 9);
	assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), 1);
	assert_int_equal(out.kind, NLMSG_K_ERROR);
	assert_int_equal(out.error, -EPERM);
	assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), 1);
	assert_int_equal(out.kind, NLMSG_K_ERROR);
	assert_true(out.error < 0);
}

static void test_malformed(void **state)
{
	struct msg m = { .len = 0 };
	struct ifaddrmsg ifa = { .ifa_family = AF_INET6 };
	struct in6_addr a = ip6("2001:db8::1");
	struct nlmsg out;
	size_t off = 0;
	uint32_t huge = 5000, tiny = 4;

	begin(&m, RTM_NEWADDR, 0, 0, &ifa, sizeof(ifa));
	attr(&m, IFA_ADDRESS, &a, sizeof(a));
	end(&m);
	/* An attribute running past its message is dropped with the rest. */
	m.buf[NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifa))] = 200;
	assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), 1);
	assert_int_equal(out.kind, NLMSG_K_OTHER);
	/* A header longer than the buffer, or shorter than itself. */
	memcpy(m.buf, &huge, sizeof(huge));
	off = 0;
	assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), -1);
	assert_int_equal(off, m.len);
	memcpy(m.buf, &tiny, sizeof(tiny));
	off = 0;
	assert_int_equal(nlmsg_next(m.buf, m.len, &off, &out), -1);
	off = 0;
	assert_int_equal(nlmsg_next(m.buf, 10, &off, &out), -1);
	off = 0;
	assert_int_equal(nlmsg_next(m.buf, 0, &off, &out), 0);
}

static void test_request(void **state)
{
	uint8_t buf[64];
	struct nlmsghdr h;
	size_t n = nlmsg_dump_request(buf, sizeof(buf), RTM_GETADDR, AF_INET6, 77);

	assert_int_equal(n, NLMSG_LENGTH(sizeof(struct ifaddrmsg)));
	memcpy(&h, buf, sizeof(h));
	assert_int_equal(h.nlmsg_len, n);
	assert_int_equal(h.nlmsg_type, RTM_GETADDR);
	assert_int_equal(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	assert_int_equal(h.nlmsg_seq, 77);
	assert_int_equal(buf[NLMSG_HDRLEN], AF_INET6);
	assert_int_equal(nlmsg_dump_request(buf, sizeof(buf), RTM_GETROUTE, AF_INET6, 1),
			 NLMSG_LENGTH(sizeof(struct rtmsg)));
	assert_int_equal(nlmsg_dump_request(buf, sizeof(buf), RTM_GETNEIGH, AF_INET6, 1),
			 NLMSG_LENGTH(sizeof(struct ndmsg)));
	assert_int_equal(nlmsg_dump_request(buf, sizeof(buf), RTM_GETLINK, AF_INET6, 1), 0);
	assert_int_equal(nlmsg_dump_request(buf, 8, RTM_GETADDR, AF_INET6, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_addr_odd),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_neigh),
		cmocka_unit_test(test_done_error),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
