/* test_util.c - durations, booleans, ports and the public-address rule of
 * SPEC "Status". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <cmocka.h>

#include "util.h"

static void test_duration(void **state)
{
	static const struct { const char *in; int rc; uint32_t out; } cases[] = {
		{ "0", 0, 0 }, { "90", 0, 90 }, { "90s", 0, 90 }, { "5m", 0, 300 },
		{ "2h", 0, 7200 }, { "30d", 0, 2592000 }, { "4294967295", 0, 4294967295u },
		{ "49710d", 0, 4294944000u },
		{ "", -1, 0 }, { "s", -1, 0 }, { "5x", -1, 0 }, { "5mm", -1, 0 },
		{ "-5", -1, 0 }, { " 5", -1, 0 }, { "5 m", -1, 0 }, { "4294967296", -1, 0 },
		{ "49711d", -1, 0 }, { "99999999999999999999", -1, 0 }, { "1.5h", -1, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t v = 12345;
		int rc = parse_duration(cases[i].in, &v);
		if (rc != cases[i].rc)
			fail_msg("parse_duration(\"%s\") = %d", cases[i].in, rc);
		if (rc == 0 && v != cases[i].out)
			fail_msg("parse_duration(\"%s\") -> %u", cases[i].in, v);
	}
	assert_int_equal(parse_duration(NULL, &(uint32_t){ 0 }), -1);
}

static void test_bool(void **state)
{
	const char *yes[] = { "yes", "YES", "true", "On", "1" };
	const char *no[] = { "no", "False", "off", "0" };
	const char *bad[] = { "", "y", "2", "yess", "enable" };
	bool b;

	for (size_t i = 0; i < 5; i++) {
		b = false;
		assert_int_equal(parse_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < 4; i++) {
		b = true;
		assert_int_equal(parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(parse_bool(bad[i], &b), -1);
}

static void test_port(void **state)
{
	uint16_t p = 0;

	assert_int_equal(parse_port("1", &p), 0);
	assert_int_equal(p, 1);
	assert_int_equal(parse_port("65535", &p), 0);
	assert_int_equal(p, 65535);
	assert_int_equal(parse_port("0", &p), -1);
	assert_int_equal(parse_port("65536", &p), -1);
	assert_int_equal(parse_port("-1", &p), -1);
	assert_int_equal(parse_port("80a", &p), -1);
	assert_int_equal(parse_port("", &p), -1);
	assert_int_equal(parse_port("+80", &p), -1);
}

static void test_public(void **state)
{
	static const struct { const char *ip; bool pub; } cases[] = {
		{ "0.1.2.3", false }, { "10.0.0.1", false }, { "10.255.255.255", false },
		{ "100.63.255.255", true }, { "100.64.0.0", false }, { "100.127.255.255", false },
		{ "100.128.0.0", true }, { "127.0.0.1", false }, { "169.254.1.1", false },
		{ "172.15.255.255", true }, { "172.16.0.0", false }, { "172.31.255.255", false },
		{ "172.32.0.0", true }, { "192.167.255.255", true }, { "192.168.0.1", false },
		{ "192.169.0.0", true }, { "203.0.113.2", true }, { "198.51.100.7", true },
		{ "8.8.8.8", true }, { "11.0.0.0", true }, { "223.255.255.255", true },
		{ "224.0.0.1", false }, { "239.255.255.250", false }, { "240.0.0.1", false },
		{ "255.255.255.255", false },
		{ "", false }, { "300.1.1.1", false }, { "1.2.3", false }, { "::1", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (ipv4_str_is_public(cases[i].ip) != cases[i].pub)
			fail_msg("ipv4_str_is_public(\"%s\") != %d", cases[i].ip, cases[i].pub);
	assert_false(ipv4_str_is_public(NULL));
}

static const char *clean(const char *in)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "%s", in);
	return str_sanitize(buf);
}

/* Strings from a router reach logs and status only this way. */
static void test_sanitize(void **state)
{
	assert_string_equal(clean("UPnP 718 ConflictInMappingEntry"),
			    "UPnP 718 ConflictInMappingEntry");
	assert_string_equal(clean("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
			    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* a forged log line with a journald priority */
	assert_string_equal(clean("ok\n<0>homeportd: pwned\r"), "ok?<0>homeportd: pwned?");
	assert_string_equal(clean("\x1b[31mred\x7f\t"), "?[31mred??");
	/* C1 controls, overlong forms, surrogates, cut sequences, stray bytes */
	assert_string_equal(clean("a\xc2\x85" "b"), "a??b");
	assert_string_equal(clean("\xc0\xaf\xe0\x80\xaf"), "?????");
	assert_string_equal(clean("\xed\xa0\x80"), "???");
	assert_string_equal(clean("x\xe2\x82"), "x??");
	assert_string_equal(clean("\xff\xfe\x80"), "???");
	assert_string_equal(clean("\xf4\x90\x80\x80"), "????");
	assert_string_equal(clean(""), "");
	assert_null(str_sanitize(NULL));
}

static void test_public6(void **state)
{
	static const struct { const char *ip; bool pub; } cases[] = {
		{ "::", false }, { "::1", false }, { "::2", true },
		{ "::ffff:203.0.113.2", false }, { "::fffe:cb00:7102", true },
		{ "64:ff9b::cb00:7102", false }, { "64:ff9b:0:0:1::", true },
		{ "100::1", false }, { "100::ffff:ffff:ffff:ffff", false }, { "100:0:0:1::", true },
		{ "fc00::1", false }, { "fd12:3456::1", false }, { "fbff:ffff::1", true },
		{ "fe80::1", false }, { "febf:ffff::1", false }, { "fec0::1", false },
		{ "feff::1", false }, { "ff02::1", false }, { "ff0e::1", false },
		{ "fe7f:ffff::1", true }, { "2001:db8::1", true }, { "2001:db8:77::10", true },
		{ "2a00:1450::1", true }, { "2002:cb00:7102::1", true },
		{ "", false }, { "203.0.113.2", false }, { "2001:db8::g", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (ipv6_str_is_public(cases[i].ip) != cases[i].pub)
			fail_msg("ipv6_str_is_public(\"%s\") != %d", cases[i].ip, cases[i].pub);
	assert_false(ipv6_str_is_public(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_public),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_public6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
