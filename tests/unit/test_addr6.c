/* test_addr6.c - which IPv6 address homeport uses (addr6_pick.c), over
 * synthetic address and neighbour lists, and the ipv6_host setting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "addr6_pick.h"
#include "pinhole.h"

#define NOW 1000000
#define IF_LAN 2
#define IF_OTHER 3
#define MIN_MS 60000

static struct addr6_cand cand(const char *a, uint32_t flags, int64_t pref_ms, uint32_t cstamp)
{
	struct addr6_cand c = { .ifindex = IF_LAN, .prefixlen = 64, .scope = RT_SCOPE_UNIVERSE,
				.flags = flags, .cstamp = cstamp,
				.preferred_until = pref_ms == ADDR6_FOREVER ? ADDR6_FOREVER
									    : NOW + pref_ms };
	assert_int_equal(inet_pton(AF_INET6, a, &c.addr), 1);
	return c;
}

static const char *chosen(struct addr6_cand *c, size_t n)
{
	static char buf[INET6_ADDRSTRLEN];
	ssize_t i = addr6_pick(c, n, IF_LAN, true, NOW);

	if (i < 0)
		return "none";
	inet_ntop(AF_INET6, &c[i].addr, buf, sizeof(buf));
	return buf;
}

static void test_excluded(void **state)
{
	struct addr6_cand c[] = {
		cand("fe80::1", IFA_F_PERMANENT, ADDR6_FOREVER, 1),
		cand("fd00::1", IFA_F_PERMANENT, ADDR6_FOREVER, 1),
		cand("2001:db8:1::1", IFA_F_TEMPORARY, 3600000, 1),
		cand("2001:db8:1::2", IFA_F_DEPRECATED, 0, 1),
		cand("2001:db8:1::3", IFA_F_TENTATIVE | IFA_F_PERMANENT, ADDR6_FOREVER, 1),
		cand("2001:db8:1::4", IFA_F_DADFAILED | IFA_F_TENTATIVE | IFA_F_PERMANENT,
		     ADDR6_FOREVER, 1),
		cand("2001:db8:1::5", IFA_F_PERMANENT, ADDR6_FOREVER, 1),
		cand("2001:db8:1::6", 0, 0, 1),   /* lifetime ran out, flag not yet set */
		cand("2001:db8:1::7", IFA_F_OPTIMISTIC, 3600000, 1),
	};

	c[0].scope = RT_SCOPE_LINK;
	c[6].ifindex = IF_OTHER;
	assert_string_equal(chosen(c, 9), "none");
	assert_int_equal(c[0].verdict, A6_NOT_GLOBAL);
	assert_int_equal(c[1].verdict, A6_NOT_PUBLIC);
	assert_int_equal(c[2].verdict, A6_TEMPORARY);
	assert_int_equal(c[3].verdict, A6_DEPRECATED);
	assert_int_equal(c[4].verdict, A6_TENTATIVE);
	assert_int_equal(c[5].verdict, A6_DADFAILED);
	assert_int_equal(c[6].verdict, A6_OTHER_IF);
	assert_int_equal(c[7].verdict, A6_DEPRECATED);
	assert_int_equal(c[8].verdict, A6_TENTATIVE);
	/* Without the public rule (status shows the best non-public one). */
	assert_int_equal(addr6_pick(c, 2, IF_LAN, false, NOW), 1);
	for (int v = A6_CHOSEN; v <= A6_DEPRECATED; v++)
		assert_string_not_equal(addr6_verdict_text((enum addr6_verdict)v), "?");
}

static void test_permanent_first(void **state)
{
	struct addr6_cand c[] = {
		cand("2001:db8:1::aa", 0, 86400000, 50),
		cand("2001:db8:1::10", IFA_F_PERMANENT, ADDR6_FOREVER, 10),
		cand("2001:db8:1::bb", 0, ADDR6_FOREVER, 60),
	};
	assert_string_equal(chosen(c, 3), "2001:db8:1::10");
	assert_int_equal(c[0].verdict, A6_RUNNER_UP);
	assert_int_equal(c[1].verdict, A6_CHOSEN);
	/* Without the static one: the infinite lifetime. */
	assert_string_equal(chosen(c, 1), "2001:db8:1::aa");
	c[1] = c[2];
	assert_string_equal(chosen(c, 2), "2001:db8:1::bb");
}

static void test_longest_lifetime(void **state)
{
	struct addr6_cand c[] = {
		cand("2001:db8:1::1", 0, 600 * 1000, 10),
		cand("2001:db8:2::1", 0, 14400 * 1000, 5),
		cand("2001:db8:3::1", 0, 3600 * 1000, 20),
	};
	assert_string_equal(chosen(c, 3), "2001:db8:2::1");
}

/* Renumbering: the new prefix wins while both are preferred with similar
 * lifetimes, and whatever the order they are listed in. */
static void test_new_prefix_wins(void **state)
{
	struct addr6_cand c[] = {
		cand("2001:db8:1::10", 0, 14400 * 1000 - 5 * MIN_MS, 100),
		cand("2001:db8:2::10", 0, 14400 * 1000, 900),
	};
	struct addr6_cand r[] = { c[1], c[0] };

	assert_string_equal(chosen(c, 2), "2001:db8:2::10");
	assert_string_equal(chosen(r, 2), "2001:db8:2::10");
	/* Both static: the newer one. */
	c[0] = cand("2001:db8:1::10", IFA_F_PERMANENT, ADDR6_FOREVER, 100);
	c[1] = cand("2001:db8:2::10", IFA_F_PERMANENT, ADDR6_FOREVER, 900);
	assert_string_equal(chosen(c, 2), "2001:db8:2::10");
	/* The old one deprecated: the new one, even if older by cstamp. */
	c[0] = cand("2001:db8:1::10", IFA_F_PERMANENT, ADDR6_FOREVER, 900);
	c[1] = cand("2001:db8:2::10", IFA_F_PERMANENT | IFA_F_DEPRECATED, 0, 100);
	assert_string_equal(chosen(c, 2), "2001:db8:1::10");
}

/* Two routers refreshing their prefixes at different moments: lifetimes
 * that differ by a few minutes never flip the choice. */
static void test_no_flapping(void **state)
{
	struct addr6_cand c[] = {
		cand("2001:db8:1::10", 0, 14400 * 1000, 100),
		cand("2001:db8:2::10", 0, 14400 * 1000 - 10 * MIN_MS, 200),
	};

	assert_string_equal(chosen(c, 2), "2001:db8:2::10");
	c[0].preferred_until -= 10 * MIN_MS;
	c[1].preferred_until += 10 * MIN_MS;
	assert_string_equal(chosen(c, 2), "2001:db8:2::10");
	c[0].preferred_until += 20 * MIN_MS;
	assert_string_equal(chosen(c, 2), "2001:db8:2::10");
	/* Short lifetimes: 2 minutes of slack at least. */
	c[0] = cand("2001:db8:1::10", 0, 300 * 1000, 100);
	c[1] = cand("2001:db8:2::10", 0, 200 * 1000, 200);
	assert_string_equal(chosen(c, 2), "2001:db8:2::10");
	c[1] = cand("2001:db8:2::10", 0, 100 * 1000, 200);
	assert_string_equal(chosen(c, 2), "2001:db8:1::10");
}

static void test_deterministic_tie(void **state)
{
	struct addr6_cand c[] = {
		cand("2001:db8:1::20", IFA_F_PERMANENT, ADDR6_FOREVER, 7),
		cand("2001:db8:1::10", IFA_F_PERMANENT, ADDR6_FOREVER, 7),
	};
	assert_string_equal(chosen(c, 2), "2001:db8:1::10");
}

static void test_interface(void **state)
{
	struct addr6_cand c[] = {
		cand("2001:db8:1::10", IFA_F_PERMANENT, ADDR6_FOREVER, 7),
	};
	c[0].ifindex = IF_OTHER;
	assert_int_equal(addr6_pick(c, 1, IF_LAN, true, NOW), -1);
	assert_int_equal(addr6_pick(c, 1, IF_OTHER, true, NOW), 0);
	assert_int_equal(addr6_pick(c, 1, 0, true, NOW), -1);
	assert_int_equal(addr6_pick(c, 0, IF_LAN, true, NOW), -1);
}

/* ---- other hosts ----------------------------------------------------- */

static const uint8_t MAC[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
static const uint8_t OTHER_MAC[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x66 };

static struct addr6_neigh neigh(const char *a, const uint8_t *mac, uint16_t nud, int64_t seen)
{
	struct addr6_neigh n = { .ifindex = IF_LAN, .state = nud, .first_seen = seen };

	assert_int_equal(inet_pton(AF_INET6, a, &n.addr), 1);
	memcpy(n.mac, mac, 6);
	return n;
}

static struct in6_addr ip6(const char *a)
{
	struct in6_addr x;

	assert_int_equal(inet_pton(AF_INET6, a, &x), 1);
	return x;
}

static void test_eui64(void **state)
{
	struct in6_addr p = ip6("2001:db8:77::1"), out, a;
	char buf[INET6_ADDRSTRLEN];

	addr6_eui64(&p, MAC, &out);
	inet_ntop(AF_INET6, &out, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8:77:0:11:22ff:fe33:4455");
	p = ip6("::20");
	a = ip6("2001:db8:78::abcd");
	addr6_with_suffix(&a, &p, &out);
	inet_ntop(AF_INET6, &out, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8:78::20");
	a = ip6("2001:db8:77:5:1:2:3:4");
	addr6_prefix_text(&a, 64, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8:77:5::/64");
	addr6_prefix_text(&a, 128, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8:77:5::/64");
	a = ip6("2001:db8:77:ff:1:2:3:4");
	addr6_prefix_text(&a, 60, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8:77:f0::/60");
	addr6_prefix_text(&a, 0, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8:77:ff::/64");
}

static void test_neigh(void **state)
{
	struct in6_addr pfx[] = { ip6("2001:db8:2::1"), ip6("2001:db8:1::1") };
	struct addr6_neigh n[] = {
		neigh("fe80::11:22ff:fe33:4455", MAC, NUD_REACHABLE, 1),      /* link-local */
		neigh("2001:db8:1::abcd", MAC, NUD_REACHABLE, 1),             /* old prefix */
		neigh("2001:db8:2::99", OTHER_MAC, NUD_REACHABLE, 1),         /* other device */
		neigh("2001:db8:2:0:1234:5678:9abc:def0", MAC, NUD_REACHABLE, 5), /* privacy */
		neigh("2001:db8:2:0:11:22ff:fe33:4455", MAC, NUD_STALE, 9),   /* EUI-64 */
		neigh("fd00::11:22ff:fe33:4455", MAC, NUD_REACHABLE, 1),      /* ULA */
		neigh("2001:db8:2::5", MAC, NUD_FAILED, 1),
		neigh("2001:db8:3::5", MAC, NUD_REACHABLE, 1),                /* not on-link */
	};

	assert_int_equal(addr6_pick_neigh(n, 8, MAC, IF_LAN, pfx, 2), 4);
	/* Without the EUI-64 one: in the current prefix beats the old one. */
	assert_int_equal(addr6_pick_neigh(n, 4, MAC, IF_LAN, pfx, 2), 3);
	/* Only the old prefix left. */
	assert_int_equal(addr6_pick_neigh(n, 2, MAC, IF_LAN, pfx, 2), 1);
	assert_int_equal(addr6_pick_neigh(n, 2, MAC, IF_LAN, pfx, 1), -1);
	/* Another interface, or an unknown device. */
	assert_int_equal(addr6_pick_neigh(n, 8, MAC, IF_OTHER, pfx, 2), -1);
	assert_int_equal(addr6_pick_neigh(n, 8, (const uint8_t[6]){ 2, 0, 0, 0, 0, 1 },
					  IF_LAN, pfx, 2), -1);
	/* Failed and ULA never; no prefix known: anything public. */
	assert_int_equal(addr6_pick_neigh(&n[5], 2, MAC, IF_LAN, pfx, 2), -1);
	assert_int_equal(addr6_pick_neigh(&n[5], 3, MAC, IF_LAN, NULL, 0), 2);
}

static void test_neigh_ties(void **state)
{
	struct in6_addr pfx[] = { ip6("2001:db8:2::1") };
	struct addr6_neigh n[] = {
		neigh("2001:db8:2::b", MAC, NUD_STALE, 20),
		neigh("2001:db8:2::a", MAC, NUD_STALE, 10),     /* known longest */
		neigh("2001:db8:2::c", MAC, NUD_REACHABLE, 30), /* confirmed */
	};

	assert_int_equal(addr6_pick_neigh(n, 2, MAC, IF_LAN, pfx, 1), 1);
	assert_int_equal(addr6_pick_neigh(n, 3, MAC, IF_LAN, pfx, 1), 2);
	n[0].first_seen = 10;
	assert_int_equal(addr6_pick_neigh(n, 2, MAC, IF_LAN, pfx, 1), 1);
}

/* ---- ipv6_host ------------------------------------------------------- */

static void test_host_parse(void **state)
{
	static const struct { const char *in, *out; } good[] = {
		{ "self", "self" }, { "SELF", "self" }, { "::20", "::20" },
		{ "::0:0:0:20", "::20" }, { "::1:2:3:4", "::1:2:3:4" },
		{ "02:11:22:33:44:55", "02:11:22:33:44:55" },
		{ "02-AB-22-33-44-55", "02:ab:22:33:44:55" },
	};
	static const char *const bad[] = {
		"", "me", "::", "2001:db8::20", "1::20", "::1:2:3:4:5", "20",
		"01:11:22:33:44:55",            /* multicast */
		"00:00:00:00:00:00", "02:11:22:33:44", "02:11:22:33:44:55:66",
		"02:11-22:33:44:55", "0g:11:22:33:44:55", "::ffff:ffff:ffff:ffff:ffff",
	};
	struct addr6_host h, h2;
	char why[200], out[64];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (addr6_host_parse(good[i].in, &h, why, sizeof(why)) != 0)
			fail_msg("'%s' refused: %s", good[i].in, why);
		addr6_host_format(&h, out, sizeof(out));
		assert_string_equal(out, good[i].out);
		assert_int_equal(addr6_host_parse(out, &h2, why, sizeof(why)), 0);
		assert_true(addr6_host_equal(&h, &h2));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		if (addr6_host_parse(bad[i], &h, why, sizeof(why)) == 0)
			fail_msg("'%s' accepted", bad[i]);
		assert_true(why[0] != '\0');
	}
	addr6_host_parse("::20", &h, why, sizeof(why));
	addr6_host_parse("::21", &h2, why, sizeof(why));
	assert_false(addr6_host_equal(&h, &h2));
	addr6_host_parse("self", &h2, why, sizeof(why));
	assert_false(addr6_host_equal(&h, &h2));
}

static void test_pinhole_lease(void **state)
{
	assert_int_equal(pinhole_lease(0), 86400);        /* permanent: a day */
	assert_int_equal(pinhole_lease(1), 1);
	assert_int_equal(pinhole_lease(3600), 3600);
	assert_int_equal(pinhole_lease(86400), 86400);
	assert_int_equal(pinhole_lease(7 * 86400), 86400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_excluded),
		cmocka_unit_test(test_permanent_first),
		cmocka_unit_test(test_longest_lifetime),
		cmocka_unit_test(test_new_prefix_wins),
		cmocka_unit_test(test_no_flapping),
		cmocka_unit_test(test_deterministic_tie),
		cmocka_unit_test(test_interface),
		cmocka_unit_test(test_eui64),
		cmocka_unit_test(test_neigh),
		cmocka_unit_test(test_neigh_ties),
		cmocka_unit_test(test_host_parse),
		cmocka_unit_test(test_pinhole_lease),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
