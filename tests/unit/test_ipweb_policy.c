/* test_ipweb_policy.c - the pure decisions of the web IP sources: reading
 * replies strictly, the pacing arithmetic (never below one minute, refresh
 * never below ten seconds, backoff), picking the next source in rotation,
 * and when the answers of a round are believed. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ipweb_policy.h"

static struct in_addr A(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static enum ipweb_reply parse(const char *body, char *ip, char *why)
{
	struct in_addr a = { 0 };
	enum ipweb_reply r = ipweb_policy_parse(body, strlen(body), &a, why, 120);

	inet_ntop(AF_INET, &a, ip, INET_ADDRSTRLEN);
	return r;
}

static void test_parse_plain(void **state)
{
	char ip[INET_ADDRSTRLEN], why[120];

	assert_int_equal(parse("203.0.113.2", ip, why), IPWEB_REPLY_OK);
	assert_string_equal(ip, "203.0.113.2");
	assert_string_equal(why, "");
	assert_int_equal(parse("  198.51.100.7\r\n", ip, why), IPWEB_REPLY_OK);
	assert_string_equal(ip, "198.51.100.7");
	assert_int_equal(parse("\n8.8.8.8\n\n", ip, why), IPWEB_REPLY_OK);
	assert_int_equal(parse("255.255.255.254", ip, why), IPWEB_REPLY_NOT_PUBLIC);
	assert_int_equal(parse("1.0.0.0", ip, why), IPWEB_REPLY_OK);
}

static void test_parse_checkip_page(void **state)
{
	char ip[INET_ADDRSTRLEN], why[120];

	/* Dyn's and Oray's checkip page */
	assert_int_equal(parse("<html><head><title>Current IP Check</title></head><body>"
			       "Current IP Address: 203.0.113.9</body></html>\r\n", ip, why),
			 IPWEB_REPLY_OK);
	assert_string_equal(ip, "203.0.113.9");
	assert_int_equal(parse("Current IP Address: 203.0.113.9\n", ip, why), IPWEB_REPLY_OK);
	/* twice, or a tail glued to the address: not what such a page says */
	assert_int_equal(parse("Current IP Address: 203.0.113.9 Current IP Address: 203.0.113.10",
			       ip, why), IPWEB_REPLY_GARBAGE);
	assert_int_equal(parse("Current IP Address: 203.0.113.9x", ip, why), IPWEB_REPLY_GARBAGE);
	assert_int_equal(parse("Current IP Address: 203.0.113", ip, why), IPWEB_REPLY_GARBAGE);
	assert_int_equal(parse("Current IP Address: 10.1.2.3<", ip, why), IPWEB_REPLY_NOT_PUBLIC);
}

static void test_parse_rejects_garbage(void **state)
{
	static const char *const bad[] = {
		"", " ", "\n", "203.0.113", "203.0.113.2.5", "203.0.113.256", "203.0.113.02",
		"0203.0.113.2", "203.0.113.-2", "203.0.113.2a", "a203.0.113.2", "203. 0.113.2",
		"203.0.113.2 198.51.100.7", "2001:db8::1", "::ffff:203.0.113.2", "0x7f.0.0.1",
		"<html>203.0.113.2</html>", "{\"ip\":\"203.0.113.2\"}", "203.0.113.2\n<br>",
		"1234.0.0.1", "203..113.2", ".203.0.113.2", "203.0.113.2.", "+203.0.113.2",
	};
	char ip[INET_ADDRSTRLEN], why[120];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], ip, why) != IPWEB_REPLY_GARBAGE)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_true(why[0] != '\0');
	}
	assert_string_equal((parse("", ip, why), why), "empty reply");
	assert_string_equal((parse("hello\x01", ip, why), why), "not an IPv4 address: \"hello?\"");
}

static void test_parse_bounds(void **state)
{
	char body[IPWEB_BODY_MAX + 2], why[120];
	struct in_addr a;

	/* A NUL inside: the length counts, not the terminator */
	assert_int_equal(ipweb_policy_parse("203.0.113.2\0junk", 16, &a, why, sizeof(why)),
			 IPWEB_REPLY_GARBAGE);
	/* only len bytes are read */
	assert_int_equal(ipweb_policy_parse("203.0.113.2999", 11, &a, why, sizeof(why)),
			 IPWEB_REPLY_OK);
	memset(body, ' ', sizeof(body));
	memcpy(body, "203.0.113.2", 11);
	assert_int_equal(ipweb_policy_parse(body, IPWEB_BODY_MAX, &a, why, sizeof(why)),
			 IPWEB_REPLY_OK);
	assert_int_equal(ipweb_policy_parse(body, IPWEB_BODY_MAX + 1, &a, why, sizeof(why)),
			 IPWEB_REPLY_GARBAGE);
	/* a tiny message buffer is still terminated */
	assert_int_equal(ipweb_policy_parse("x", 1, &a, why, 4), IPWEB_REPLY_GARBAGE);
	assert_int_equal(strlen(why), 3);
}

static void test_parse_not_public(void **state)
{
	static const char *const priv[] = {
		"10.0.0.1", "192.168.1.1", "172.16.5.4", "100.64.0.1", "127.0.0.1",
		"169.254.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255",
	};
	char ip[INET_ADDRSTRLEN], why[120];

	for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
		assert_int_equal(parse(priv[i], ip, why), IPWEB_REPLY_NOT_PUBLIC);
	parse("100.64.1.2\n", ip, why);
	assert_string_equal(why, "answered 100.64.1.2, which is not a public address");
}

static void test_interval_floor(void **state)
{
	assert_int_equal(ipweb_policy_interval(10), 60);
	assert_int_equal(ipweb_policy_interval(0), 60);
	assert_int_equal(ipweb_policy_interval(59), 60);
	assert_int_equal(ipweb_policy_interval(60), 60);
	assert_int_equal(ipweb_policy_interval(300), 300);
	assert_int_equal(ipweb_policy_interval(86400), 86400);
}

static void test_wait(void **state)
{
	struct ipweb_pace never = { -1, 0 }, p = { 1000000, 0 };
	int64_t I = 300000;

	assert_int_equal(ipweb_policy_wait(&never, 5, I, false), 0);
	assert_int_equal(ipweb_policy_wait(&p, 1000000, I, false), I);
	assert_int_equal(ipweb_policy_wait(&p, 1000000 + I - 1, I, false), 1);
	assert_int_equal(ipweb_policy_wait(&p, 1000000 + I, I, false), 0);
	/* refresh: ten seconds, whatever the interval */
	assert_int_equal(ipweb_policy_wait(&p, 1000000 + 1000, I, true), 9000);
	assert_int_equal(ipweb_policy_wait(&p, 1000000 + 10000, I, true), 0);
	/* a backoff holds both */
	p.hold_until = 1000000 + 2 * I;
	assert_int_equal(ipweb_policy_wait(&p, 1000000 + I, I, false), I);
	assert_int_equal(ipweb_policy_wait(&p, 1000000 + 10000, I, true), 2 * I - 10000);
	never.hold_until = 50;
	assert_int_equal(ipweb_policy_wait(&never, 20, I, false), 30);
}

static void test_pick_rotates(void **state)
{
	struct ipweb_pace p[3] = { { -1, 0 }, { -1, 0 }, { -1, 0 } };
	bool asked[3] = { false, false, false };
	int64_t w, I = 60000;

	assert_int_equal(ipweb_policy_pick(p, asked, 3, 1, 0, I, false, &w), 1);
	assert_int_equal(w, 0);
	assert_int_equal(ipweb_policy_pick(p, asked, 3, 2, 0, I, false, &w), 2);
	asked[2] = true;
	assert_int_equal(ipweb_policy_pick(p, asked, 3, 2, 0, I, false, &w), 0);
	/* the soonest askable wins when none may go now */
	p[0].last_asked = 1000;
	p[1].last_asked = 500;
	assert_int_equal(ipweb_policy_pick(p, asked, 3, 0, 2000, I, false, &w), 1);
	assert_int_equal(w, I - 1500);
	asked[0] = asked[1] = true;
	assert_int_equal(ipweb_policy_pick(p, asked, 3, 0, 2000, I, false, &w), -1);
}

static void test_backoff(void **state)
{
	assert_int_equal(ipweb_policy_backoff(1, 300, 0), 300);
	assert_int_equal(ipweb_policy_backoff(2, 300, 0), 600);
	assert_int_equal(ipweb_policy_backoff(3, 300, 0), 1200);
	assert_int_equal(ipweb_policy_backoff(7, 300, 0), 19200);
	assert_int_equal(ipweb_policy_backoff(8, 300, 0), IPWEB_BACKOFF_MAX);
	assert_int_equal(ipweb_policy_backoff(1000, 300, 0), IPWEB_BACKOFF_MAX);
	assert_int_equal(ipweb_policy_backoff(4000000000u, 86400, 0), IPWEB_BACKOFF_MAX);
	/* Retry-After when longer, capped at a day */
	assert_int_equal(ipweb_policy_backoff(1, 300, 900), 900);
	assert_int_equal(ipweb_policy_backoff(3, 300, 900), 1200);
	assert_int_equal(ipweb_policy_backoff(1, 300, 10u * 86400), IPWEB_RETRY_AFTER_MAX);
}

static void test_tally(void **state)
{
	struct in_addr x = A("203.0.113.2"), y = A("203.0.113.3"), z = A("198.51.100.1"), out;
	struct ipweb_vote v[3] = { { 0, x }, { 1, y }, { 2, x } };

	/* nothing yet */
	assert_int_equal(ipweb_policy_tally(v, 0, 3, NULL, &out), IPWEB_UNDECIDED);
	/* one of several: not enough for a new address */
	assert_int_equal(ipweb_policy_tally(v, 1, 3, NULL, &out), IPWEB_UNDECIDED);
	assert_int_equal(ipweb_policy_tally(v, 1, 3, &y, &out), IPWEB_UNDECIDED);
	/* ...but it confirms the address believed before */
	assert_int_equal(ipweb_policy_tally(v, 1, 3, &x, &out), IPWEB_CONFIRM);
	assert_int_equal(out.s_addr, x.s_addr);
	/* two that disagree, then a third that sides with one */
	assert_int_equal(ipweb_policy_tally(v, 2, 3, NULL, &out), IPWEB_UNDECIDED);
	assert_int_equal(ipweb_policy_tally(v, 3, 3, NULL, &out), IPWEB_AGREE);
	assert_int_equal(out.s_addr, x.s_addr);
	/* a new address agreed on this round beats the old belief */
	v[0].addr = y;
	assert_int_equal(ipweb_policy_tally(v, 2, 3, &z, &out), IPWEB_AGREE);
	assert_int_equal(out.s_addr, y.s_addr);
	/* the only source configured */
	v[0].addr = z;
	assert_int_equal(ipweb_policy_tally(v, 1, 1, &x, &out), IPWEB_SOLE);
	assert_int_equal(out.s_addr, z.s_addr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_plain),
		cmocka_unit_test(test_parse_checkip_page),
		cmocka_unit_test(test_parse_rejects_garbage),
		cmocka_unit_test(test_parse_bounds),
		cmocka_unit_test(test_parse_not_public),
		cmocka_unit_test(test_interval_floor),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_pick_rotates),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_tally),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
