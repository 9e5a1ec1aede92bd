/* test_dyndns2.c - the dyndns2 reply parser (provider_dyndns2_parse):
 * every documented code, one line per host, one line for all hosts,
 * missing lines, worst outcome wins, hostile bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "provider.h"

static const char *const one[] = { "www.dyn.example" };
static const char *const two[] = { "www.dyn.example", "cam.dyn.example" };

static struct ddns_result parse(const char *body, const char *const *hosts, size_t n)
{
	struct ddns_result r;

	memset(&r, 0xaa, sizeof(r));   /* the parser must set every field */
	provider_dyndns2_parse(body, strlen(body), hosts, n, &r);
	return r;
}

static void test_success_codes(void **state)
{
	struct ddns_result r = parse("good 203.0.113.2\n", one, 1);

	assert_int_equal(r.outcome, DDNS_OK);
	assert_string_equal(r.error, "");
	assert_int_equal(r.retry_after, 0);
	r = parse("nochg 203.0.113.2", one, 1);
	assert_int_equal(r.outcome, DDNS_OK);
	r = parse("good 203.0.113.2\r\nnochg 203.0.113.2\r\n", two, 2);
	assert_int_equal(r.outcome, DDNS_OK);
}

static void test_permanent_codes(void **state)
{
	static const char *const perm[] = {
		"badauth", "!donator", "notfqdn", "nohost", "numhost", "abuse",
		"badagent", "!yours", "badsys", "!active",
	};

	for (size_t i = 0; i < sizeof(perm) / sizeof(perm[0]); i++) {
		struct ddns_result r = parse(perm[i], one, 1);
		assert_int_equal(r.outcome, DDNS_PERMFAIL);
		/* the protocol's own code is in the sentence */
		assert_non_null(strstr(r.error, perm[i]));
		assert_int_equal(r.retry_after, 0);
	}
	assert_string_equal(parse("badauth\n", one, 1).error,
			    "dyndns2 badauth: bad user name or password");
}

static void test_server_trouble_waits(void **state)
{
	struct ddns_result r = parse("911\n", one, 1);

	assert_int_equal(r.outcome, DDNS_TEMPFAIL);
	assert_true(r.retry_after >= 1800);
	assert_non_null(strstr(r.error, "911"));
	r = parse("dnserr", one, 1);
	assert_int_equal(r.outcome, DDNS_TEMPFAIL);
	assert_true(r.retry_after >= 1800);
	r = parse("interror", one, 1);
	assert_int_equal(r.outcome, DDNS_TEMPFAIL);
}

static void test_unknown_is_temporary(void **state)
{
	struct ddns_result r = parse("<html><body>Bad Gateway</body></html>", one, 1);

	assert_int_equal(r.outcome, DDNS_TEMPFAIL);
	assert_non_null(strstr(r.error, "www.dyn.example"));
	/* exact first word: no substring matching */
	assert_int_equal(parse("goodness", one, 1).outcome, DDNS_TEMPFAIL);
	assert_int_equal(parse("xgood 1.2.3.4", one, 1).outcome, DDNS_TEMPFAIL);
	assert_int_equal(parse("", one, 1).outcome, DDNS_TEMPFAIL);
	assert_int_equal(parse("\n\n  \r\n", one, 1).outcome, DDNS_TEMPFAIL);
}

static void test_per_host_names_host(void **state)
{
	struct ddns_result r = parse("good 203.0.113.2\nnohost\n", two, 2);

	assert_int_equal(r.outcome, DDNS_PERMFAIL);
	assert_non_null(strstr(r.error, "nohost"));
	assert_non_null(strstr(r.error, "cam.dyn.example"));
	assert_null(strstr(r.error, "www.dyn.example"));
}

static void test_one_line_for_all(void **state)
{
	struct ddns_result r = parse("badauth\n", two, 2);

	assert_int_equal(r.outcome, DDNS_PERMFAIL);
	r = parse("good 203.0.113.2\n", two, 2);
	assert_int_equal(r.outcome, DDNS_OK);
}

static void test_missing_line_fails(void **state)
{
	static const char *const three[] = { "a.dyn.example", "b.dyn.example", "c.dyn.example" };
	struct ddns_result r = parse("good 1.2.3.4\ngood 1.2.3.4\n", three, 3);

	assert_int_equal(r.outcome, DDNS_TEMPFAIL);
	assert_non_null(strstr(r.error, "c.dyn.example"));
}

static void test_worst_wins(void **state)
{
	/* temporary first, permanent later: permanent is the verdict */
	struct ddns_result r = parse("911\nnotfqdn\n", two, 2);

	assert_int_equal(r.outcome, DDNS_PERMFAIL);
	assert_non_null(strstr(r.error, "notfqdn"));
	r = parse("nochg 1.2.3.4\n911\n", two, 2);
	assert_int_equal(r.outcome, DDNS_TEMPFAIL);
	assert_true(r.retry_after >= 1800);
}

static void test_hostile_bytes(void **state)
{
	const char body[] = "\x1b[31mgood\x00\xff\n";
	struct ddns_result r;
	char big[70000];

	provider_dyndns2_parse(body, sizeof(body) - 1, one, 1, &r);
	assert_int_equal(r.outcome, DDNS_TEMPFAIL);
	for (const char *p = r.error; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);    /* no escape codes in logs */
	memset(big, 'A', sizeof(big));
	provider_dyndns2_parse(big, sizeof(big), one, 1, &r);   /* not NUL-terminated */
	assert_int_equal(r.outcome, DDNS_TEMPFAIL);
	assert_true(strlen(r.error) < sizeof(r.error));
}

/* The per-preset IPv6 forms (homeport.conf(5), "AAAA records by provider"). */
static void test_addr_query(void **state)
{
	static const struct {
		const char *preset;
		enum ddns_record rec;
		const char *ip, *want;
	} cases[] = {
		{ "dyndns2", DDNS_REC_A, "203.0.113.2", "myip=203.0.113.2" },
		{ "dyndns2", DDNS_REC_AAAA, "2001:db8::10", "myipv6=2001:db8::10" },
		{ "dynu", DDNS_REC_AAAA, "2001:db8::10", "myipv6=2001:db8::10" },
		{ "noip", DDNS_REC_AAAA, "2001:db8::10", "myip=2001:db8::10" },
		{ "he", DDNS_REC_AAAA, "2001:db8::10", "myip=2001:db8::10" },
		{ "strato", DDNS_REC_AAAA, "2001:db8::10", "myip=2001:db8::10" },
		{ "nsupdate.info", DDNS_REC_AAAA, "2001:db8::10", "myip=2001:db8::10" },
		{ "desec", DDNS_REC_A, "203.0.113.2", "myip=203.0.113.2&myipv6=preserve" },
		{ "desec", DDNS_REC_AAAA, "2001:db8::10", "myipv6=2001:db8::10&myipv4=preserve" },
	};
	static const char *const no_aaaa[] = { "dyndns", "3322", "oray", "ovh", "dnsomatic" };
	char buf[160];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct provider_preset *p = provider_preset_find(cases[i].preset);
		assert_non_null(p);
		assert_true(provider_records(p) & DDNS_REC_AAAA);
		provider_dyndns2_addr_query(p->v6, cases[i].rec, buf, sizeof(buf), cases[i].ip);
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("%s: \"%s\", not \"%s\"", cases[i].preset, buf, cases[i].want);
	}
	for (size_t i = 0; i < sizeof(no_aaaa) / sizeof(no_aaaa[0]); i++)
		assert_int_equal(provider_records(provider_preset_find(no_aaaa[i])), DDNS_REC_A);
	for (const char *f = "rfc2136"; f; f = strcmp(f, "rfc2136") == 0 ? "cloudflare" :
	     strcmp(f, "cloudflare") == 0 ? "duckdns" : strcmp(f, "duckdns") == 0 ? "webhook" : NULL)
		assert_int_equal(provider_records(provider_preset_find(f)), DDNS_REC_A | DDNS_REC_AAAA);
	assert_string_equal(provider_preset_find("nsupdate.info")->v6_server,
			    "https://ipv6.nsupdate.info/nic/update");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_codes),
		cmocka_unit_test(test_permanent_codes),
		cmocka_unit_test(test_server_trouble_waits),
		cmocka_unit_test(test_unknown_is_temporary),
		cmocka_unit_test(test_per_host_names_host),
		cmocka_unit_test(test_one_line_for_all),
		cmocka_unit_test(test_missing_line_fails),
		cmocka_unit_test(test_worst_wins),
		cmocka_unit_test(test_hostile_bytes),
		cmocka_unit_test(test_addr_query),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
