/* Unit tests for the default-route pick (route.c) on netlink dumps built
 * here: the lowest metric wins, only default routes of the main table
 * with a gateway count (a multipath route's first nexthop), an interface
 * restricts the pick, and truncated or erroneous messages end the scan. */
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "route.h"

static char buf[8192] __attribute__((aligned(4)));
static size_t len;

static void attr(struct nlmsghdr *h, unsigned short type, const void *data, size_t n)
{
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(n);
	memcpy(RTA_DATA(a), data, n);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Append one RTM_NEWROUTE; gw NULL: none; table 0: RT_TABLE_MAIN in the header. */
static void route(unsigned char dst_len, const char *gw, uint32_t oif, uint32_t metric,
		  uint32_t table, unsigned char type)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(buf + len);
	struct rtmsg *rt = NLMSG_DATA(h);
	struct in_addr a;

	memset(h, 0, NLMSG_LENGTH(sizeof(*rt)));
	h->nlmsg_type = RTM_NEWROUTE;
	h->nlmsg_len = NLMSG_LENGTH(sizeof(*rt));
	rt->rtm_family = AF_INET;
	rt->rtm_dst_len = dst_len;
	rt->rtm_table = table ? RT_TABLE_UNSPEC : RT_TABLE_MAIN;
	rt->rtm_type = type;
	if (table)
		attr(h, RTA_TABLE, &table, 4);
	if (gw) {
		inet_pton(AF_INET, gw, &a);
		attr(h, RTA_GATEWAY, &a, 4);
	}
	attr(h, RTA_OIF, &oif, 4);
	attr(h, RTA_PRIORITY, &metric, 4);
	len += NLMSG_ALIGN(h->nlmsg_len);
}

/* Append a multipath default route: two nexthops, each with a gateway. */
static void multipath(const char *gw1, uint32_t if1, const char *gw2, uint32_t if2,
		      uint32_t metric)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(buf + len);
	struct rtmsg *rt = NLMSG_DATA(h);
	char mp[64];
	size_t n = 0;
	const char *gws[2] = { gw1, gw2 };
	uint32_t ifs[2] = { if1, if2 };

	memset(mp, 0, sizeof(mp));
	for (int i = 0; i < 2; i++) {
		struct rtnexthop *nh = (struct rtnexthop *)(mp + n);
		struct rtattr *a = RTNH_DATA(nh);

		nh->rtnh_ifindex = (int)ifs[i];
		a->rta_type = RTA_GATEWAY;
		a->rta_len = (unsigned short)RTA_LENGTH(4);
		inet_pton(AF_INET, gws[i], RTA_DATA(a));
		nh->rtnh_len = (unsigned short)(RTNH_LENGTH(0) + RTA_ALIGN(a->rta_len));
		n += RTNH_ALIGN(nh->rtnh_len);
	}
	memset(h, 0, NLMSG_LENGTH(sizeof(*rt)));
	h->nlmsg_type = RTM_NEWROUTE;
	h->nlmsg_len = NLMSG_LENGTH(sizeof(*rt));
	rt->rtm_family = AF_INET;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_type = RTN_UNICAST;
	attr(h, RTA_PRIORITY, &metric, 4);
	attr(h, RTA_MULTIPATH, mp, n);
	len += NLMSG_ALIGN(h->nlmsg_len);
}

static void done(void)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(buf + len);

	memset(h, 0, NLMSG_HDRLEN);
	h->nlmsg_type = NLMSG_DONE;
	h->nlmsg_len = NLMSG_LENGTH(4);
	len += NLMSG_ALIGN(h->nlmsg_len);
}

static const char *pick(unsigned ifindex, int *rc)
{
	static char ip[INET_ADDRSTRLEN];
	struct route_default best = { .found = false };

	*rc = route_scan(buf, len, ifindex, &best);
	if (!best.found)
		return "none";
	inet_ntop(AF_INET, &best.gw, ip, sizeof(ip));
	return ip;
}

static int reset(void **state)
{
	memset(buf, 0, sizeof(buf));
	len = 0;
	return 0;
}

static void test_lowest_metric_wins(void **state)
{
	int rc;

	route(24, NULL, 2, 0, 0, RTN_UNICAST);                  /* the LAN itself */
	route(0, "192.168.1.1", 3, 600, 0, RTN_UNICAST);        /* wlan */
	route(0, "192.168.77.1", 2, 100, 0, RTN_UNICAST);       /* eth */
	route(0, "10.0.0.1", 2, 50, 200, RTN_UNICAST);          /* another table */
	route(0, NULL, 4, 10, 0, RTN_UNICAST);                  /* no gateway (a tunnel) */
	route(0, "10.9.9.9", 2, 1, 0, RTN_BLACKHOLE);
	done();
	assert_string_equal(pick(0, &rc), "192.168.77.1");
	assert_int_equal(rc, 1);
	assert_string_equal(pick(3, &rc), "192.168.1.1");      /* [gateway] interface */
	assert_string_equal(pick(9, &rc), "none");
}

static void test_multipath(void **state)
{
	int rc;

	multipath("192.168.77.1", 2, "192.168.1.1", 3, 100);
	done();
	assert_string_equal(pick(0, &rc), "192.168.77.1");
	assert_int_equal(rc, 1);
	assert_string_equal(pick(2, &rc), "192.168.77.1");
	assert_string_equal(pick(3, &rc), "none");              /* not the first nexthop's */
}

static void test_partial_and_broken(void **state)
{
	int rc;

	route(0, "192.168.77.1", 2, 100, 0, RTN_UNICAST);
	assert_string_equal(pick(0, &rc), "192.168.77.1");
	assert_int_equal(rc, 0);                                 /* more to read */
	/* a message cut short */
	assert_string_equal(pick(0, &rc), "192.168.77.1");
	len -= 3;
	pick(0, &rc);
	assert_int_equal(rc, -1);
	len += 3;
	/* an error answer */
	((struct nlmsghdr *)buf)->nlmsg_type = NLMSG_ERROR;
	pick(0, &rc);
	assert_int_equal(rc, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_lowest_metric_wins, reset),
		cmocka_unit_test_setup(test_multipath, reset),
		cmocka_unit_test_setup(test_partial_and_broken, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
