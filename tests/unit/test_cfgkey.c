/* test_cfgkey.c - typed provider keys (cfgkey.c) and every provider's key
 * table: each type parses, refuses, prints and compares as homeport.conf(5)
 * says, and each table is one a provider can be built from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cfgkey.h"
#include "config.h"
#include "ddns_policy.h"
#include "homeport.h"
#include "provider.h"

static const char *const colours[] = { "red", "green", "blue", NULL };

static const struct cfgkey keys[] = {
	{ .name = "text", .type = CK_STRING },
	{ .name = "secret_file", .type = CK_SECRET_FILE },
	{ .name = "count", .type = CK_UINT, .min = 1, .max = 9 },
	{ .name = "wait", .type = CK_DURATION, .def = "30", .min = 1, .max = 300 },
	{ .name = "ttl", .type = CK_SECONDS, .max = 1000 },
	{ .name = "flag", .type = CK_BOOL, .def = "no" },
	{ .name = "url", .type = CK_URL },
	{ .name = "server", .type = CK_ADDRESS },
	{ .name = "zone", .type = CK_ZONE },
	{ .name = "key_name", .type = CK_DNSNAME, .what = "key name" },
	{ .name = "colour", .type = CK_CHOICE, .choices = colours },
	{ .name = "regex", .type = CK_REGEX },
	{ .name = "header", .type = CK_HEADER, .flags = CK_REPEAT },
};

enum { TEXT, SECRET, COUNT, WAIT, TTL, FLAG, URL, SERVER, ZONE, KEY_NAME, COLOUR, REGEX, HEADER };

/* Parse text as key k into a fresh value; the value's text form in out. */
static int parse(size_t k, const char *text, char *why, size_t len, struct cfg_value *v)
{
	memset(v, 0, sizeof(*v));
	return cfgkey_parse(&keys[k], text, v, why, len);
}

static void test_parse_accepts(void **state)
{
	static const struct { size_t k; const char *in, *str; uint32_t num; } cases[] = {
		{ TEXT, "a b", "a b", 0 }, { TEXT, "", NULL, 0 },
		{ COUNT, "9", NULL, 9 }, { WAIT, "5m", NULL, 300 }, { WAIT, "1", NULL, 1 },
		{ TTL, "2m", NULL, 120 }, { FLAG, "on", NULL, 1 }, { FLAG, "False", NULL, 0 },
		{ URL, "https://x.example/p?q=1", "https://x.example/p?q=1", 0 },
		{ URL, "", NULL, 0 },
		{ SERVER, "192.0.2.1:53", "192.0.2.1:53", 0 },
		{ SERVER, "[2001:db8::1]:53", "[2001:db8::1]:53", 0 },
		{ SERVER, "2001:db8::1", "2001:db8::1", 0 },
		{ ZONE, "example.org.", "example.org", 0 },
		{ KEY_NAME, "tsig-key.", "tsig-key.", 0 },
		{ COLOUR, "GREEN", "green", 0 },
		{ REGEX, "^ok( [0-9]+)?$", "^ok( [0-9]+)?$", 0 },
		{ REGEX, "[*+]+ a\\** [[:digit:]]+ []*]? (ok|good)*",
		  "[*+]+ a\\** [[:digit:]]+ []*]? (ok|good)*", 0 },
	};
	struct cfg_value v;
	char why[200];

	for (size_t i = 0; i < HP_ARRAY_LEN(cases); i++) {
		if (parse(cases[i].k, cases[i].in, why, sizeof(why), &v) < 0)
			fail_msg("%s = \"%s\" refused: %s", keys[cases[i].k].name, cases[i].in, why);
		if (cases[i].str || v.str)
			assert_string_equal(v.str ? v.str : "(null)",
					    cases[i].str ? cases[i].str : "(null)");
		assert_int_equal(v.num, cases[i].num);
		cfgkey_free(&keys[cases[i].k], &v);
	}
}

static void test_parse_refuses(void **state)
{
	static const struct { size_t k; const char *in, *why; } cases[] = {
		{ COUNT, "10", "must be between 1 and 9" }, { COUNT, "0", "must be between 1 and 9" },
		{ COUNT, "x", "invalid number \"x\"" },
		{ WAIT, "6m", "must be between 1s and 5m" },
		{ WAIT, "soon", "invalid duration \"soon\" (a number with optional s, m, h or d)" },
		{ TTL, "1h", "too large" },
		{ FLAG, "maybe", "invalid boolean \"maybe\" (yes/no, true/false, on/off, 1/0)" },
		{ URL, "ftp://x.example/", "\"ftp://x.example/\" is not an https:// URL" },
		{ URL, "https://x.example/a b", "is not an https:// URL" },
		{ SERVER, "ns.example", "is not ADDRESS[:PORT] with an IP address" },
		{ SERVER, "192.0.2.1:0", "is not ADDRESS[:PORT]" },
		{ SERVER, "[2001:db8::1", "is not ADDRESS[:PORT]" },
		{ ZONE, "a..b", "\"a..b\" is not a valid DNS zone name" },
		{ ZONE, "", "\"\" is not a valid DNS zone name" },
		{ KEY_NAME, "-k", "\"-k\" is not a valid key name" },
		{ COLOUR, "pink", "\"pink\" is not red, green or blue" },
		{ REGEX, "(ok", "Unmatched ( or \\(" },
		{ REGEX, "((a{20}){20}){20}", "repetition counts too large" },
		{ REGEX, "ok**", "a repetition of a repetition" },
		{ REGEX, "o+?k", "a repetition of a repetition" },
		{ REGEX, "ok{2}*", "a repetition of a repetition" },
		{ REGEX, "\"o *******************************", "a repetition of a repetition" },
		{ HEADER, "X-Key", "expected \"Name: value\"" },
		{ HEADER, "X Key: v", "invalid header name" },
	};
	struct cfg_value v;
	char why[200];

	for (size_t i = 0; i < HP_ARRAY_LEN(cases); i++) {
		if (parse(cases[i].k, cases[i].in, why, sizeof(why), &v) == 0)
			fail_msg("%s = \"%s\" accepted", keys[cases[i].k].name, cases[i].in);
		if (strstr(why, cases[i].why) == NULL)
			fail_msg("%s = \"%s\": \"%s\" lacks \"%s\"", keys[cases[i].k].name,
				 cases[i].in, why, cases[i].why);
		cfgkey_free(&keys[cases[i].k], &v);
	}
}

static void test_repeat_defaults_equal(void **state)
{
	struct cfg_value a[HP_ARRAY_LEN(keys)], b[HP_ARRAY_LEN(keys)];
	char why[100];

	cfgkey_defaults(keys, HP_ARRAY_LEN(keys), a);
	cfgkey_defaults(keys, HP_ARRAY_LEN(keys), b);
	assert_int_equal(a[WAIT].num, 30);
	assert_false(a[WAIT].set);
	assert_false(cfgkey_present(&keys[WAIT], &a[WAIT]));
	assert_int_equal(cfgkey_parse(&keys[HEADER], "A: 1", &a[HEADER], why, sizeof(why)), 0);
	assert_int_equal(cfgkey_parse(&keys[HEADER], "B: 2", &a[HEADER], why, sizeof(why)), 0);
	assert_int_equal(a[HEADER].n_list, 2);
	assert_string_equal(a[HEADER].list[1], "B: 2");
	assert_true(cfgkey_present(&keys[HEADER], &a[HEADER]));
	assert_false(cfgkey_equal(&keys[HEADER], &a[HEADER], &b[HEADER]));
	/* a secret file compares by content, not by path */
	a[SECRET].str = strdup("one.pass");
	b[SECRET].str = strdup("two.pass");
	a[SECRET].secret = strdup("pw");
	b[SECRET].secret = strdup("pw");
	assert_true(cfgkey_equal(&keys[SECRET], &a[SECRET], &b[SECRET]));
	b[SECRET].secret[0] = 'P';
	assert_false(cfgkey_equal(&keys[SECRET], &a[SECRET], &b[SECRET]));
	for (size_t i = 0; i < HP_ARRAY_LEN(keys); i++) {
		cfgkey_free(&keys[i], &a[i]);
		cfgkey_free(&keys[i], &b[i]);
	}
}

static char *dump(size_t k, struct cfg_value *v, const char *preset)
{
	static char buf[512];
	FILE *f;

	memset(buf, 0, sizeof(buf));
	f = fmemopen(buf, sizeof(buf), "w");

	cfgkey_dump(&keys[k], v, preset, f);
	fclose(f);
	return buf;
}

static void test_dump(void **state)
{
	struct cfg_value v = { 0 };
	char why[100];

	assert_string_equal(dump(SECRET, &v, NULL), "");
	v.str = strdup("a.pass");
	assert_string_equal(dump(SECRET, &v, NULL), "secret_file     = a.pass ; not loaded\n");
	v.secret = strdup("hunter2");
	assert_string_equal(dump(SECRET, &v, NULL), "secret_file     = a.pass ; <redacted>\n");
	cfgkey_free(&keys[SECRET], &v);
	v.num = 300;
	assert_string_equal(dump(WAIT, &v, NULL), "wait            = 5m\n");
	assert_string_equal(dump(TTL, &v, NULL), "ttl             = 300\n");
	assert_string_equal(dump(FLAG, &v, NULL), "flag            = yes\n");
	v.num = 0;
	assert_string_equal(dump(URL, &v, NULL), "");
	assert_int_equal(cfgkey_parse(&keys[HEADER], "A: 1", &v, why, sizeof(why)), 0);
	assert_int_equal(cfgkey_parse(&keys[HEADER], "B: 2", &v, why, sizeof(why)), 0);
	/* header values and URL user info and queries may hold credentials */
	assert_string_equal(dump(HEADER, &v, NULL),
			    "header          = A: <redacted>\nheader          = B: <redacted>\n");
	cfgkey_free(&keys[HEADER], &v);
	static const struct { const char *in, *out; } urls[] = {
		{ "https://x.example/u", "https://x.example/u" },
		{ "https://x.example/u?token=t0k", "https://x.example/u?<redacted>" },
		{ "https://me:pw@x.example/u", "https://<redacted>@x.example/u" },
		{ "https://me:p@w@x.example:8443?k=1", "https://<redacted>@x.example:8443?<redacted>" },
		{ "http://x.example/a@b", "http://x.example/a@b" },
	};
	for (size_t i = 0; i < HP_ARRAY_LEN(urls); i++) {
		char want[200];
		assert_int_equal(parse(URL, urls[i].in, why, sizeof(why), &v), 0);
		snprintf(want, sizeof(want), "url             = %s\n", urls[i].out);
		assert_string_equal(dump(URL, &v, NULL), want);
		cfgkey_free(&keys[URL], &v);
	}
}

static void test_header_lines(void **state)
{
	char why[100], **lines;
	size_t n;

	lines = cfgkey_header_lines("X-Key: k1\r\n\n  Authorization: Bearer t \n", &n, why, sizeof(why));
	assert_non_null(lines);
	assert_int_equal(n, 2);
	assert_string_equal(lines[0], "X-Key: k1");
	assert_string_equal(lines[1], "Authorization: Bearer t");
	assert_null(lines[2]);
	cfgkey_header_lines_free(lines);
	lines = cfgkey_header_lines("X-Key: k1\nsecret-token-alone\n", &n, why, sizeof(why));
	assert_null(lines);
	assert_string_equal(why, "line 2: expected \"Name: value\"");   /* never the content */
	assert_null(cfgkey_header_lines("X Y: z", &n, why, sizeof(why)));
	assert_string_equal(why, "line 1: invalid header name");
	lines = cfgkey_header_lines("", &n, why, sizeof(why));
	assert_non_null(lines);
	assert_int_equal(n, 0);
	cfgkey_header_lines_free(lines);
}

/* Every provider's table: unique names, defaults its own parser takes,
 * flags that make sense for the type, a start and a record type. */
static void test_provider_tables(void **state)
{
	const struct provider_preset *p;

	for (size_t i = 0; (p = provider_preset_at(i)) != NULL; i++) {
		const struct provider_ops *ops = p->ops;
		struct cfg_value *v = calloc(ops->n_keys, sizeof(*v));

		assert_non_null(ops->name);
		assert_non_null(ops->start);
		assert_non_null(ops->cancel);
		assert_true(ops->records & DDNS_REC_A);
		cfgkey_defaults(ops->keys, ops->n_keys, v);      /* aborts on a bad default */
		for (size_t k = 0; k < ops->n_keys; k++) {
			const struct cfgkey *key = &ops->keys[k];
			assert_int_equal(cfgkey_find(ops->keys, ops->n_keys, key->name), (ssize_t)k);
			assert_true(strcmp(key->name, "provider") && strcmp(key->name, "hostname") &&
				    strcmp(key->name, "force_interval"));
			if (key->flags & CK_PRESET)
				assert_int_equal(key->type, CK_URL);
			if (key->type == CK_CHOICE)
				assert_non_null(key->choices);
			cfgkey_free(key, &v[k]);
		}
		free(v);
		assert_ptr_equal(provider_preset_find(p->name), p);
	}
}

/* A key at its default counts as unset in the fingerprint: writing
 * "proxied = no" changes nothing, "proxied = yes" does. */
static void test_fingerprint_defaults(void **state)
{
	struct cfg_ddns a, b;
	char fa[DDNS_FP_LEN + 1], fb[DDNS_FP_LEN + 1], why[100];

	config_ddns_init(&a, "cf", provider_preset_find("cloudflare"));
	config_ddns_init(&b, "cf", provider_preset_find("cloudflare"));
	assert_int_equal(config_ddns_set(&b, "proxied", "no", why, sizeof(why)), 0);
	assert_int_equal(ddns_policy_fingerprint(&a, "00", fa), 0);
	assert_int_equal(ddns_policy_fingerprint(&b, "00", fb), 0);
	assert_string_equal(fa, fb);
	assert_true(config_ddns_equal(&a, &b));
	assert_int_equal(config_ddns_set(&b, "proxied", "yes", why, sizeof(why)), 0);
	assert_int_equal(ddns_policy_fingerprint(&b, "00", fb), 0);
	assert_string_not_equal(fa, fb);
	assert_false(config_ddns_equal(&a, &b));
	/* timeout is no part of where an entry publishes */
	assert_int_equal(config_ddns_set(&a, "timeout", "10s", why, sizeof(why)), 0);
	assert_int_equal(ddns_policy_fingerprint(&a, "00", fb), 0);
	assert_string_equal(fa, fb);
	assert_int_equal(config_ddns_set(&a, "nonsense", "1", why, sizeof(why)), -1);
	assert_string_equal(why, "'nonsense' does not apply to provider cloudflare");
	config_ddns_fini(&a);
	config_ddns_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_repeat_defaults_equal),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_header_lines),
		cmocka_unit_test(test_provider_tables),
		cmocka_unit_test(test_fingerprint_defaults),
	};
	return cmocka_run_group_tests_name("cfgkey", tests, NULL, NULL);
}
