/* Unit tests for what hooks are made of: exec split like a shell without
 * one (and written back so that it reads the same), templates encoded for
 * where they stand, and metrics label escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config_hook.h"
#include "metrics.h"
#include "template.h"

static char **split_ok(const char *s, size_t want_argc)
{
	char **argv = NULL, why[160] = "";
	size_t n = 0;

	if (config_split_args(s, &argv, why, sizeof(why)) != 0)
		fail_msg("\"%s\": %s", s, why);
	while (argv[n])
		n++;
	assert_int_equal(n, want_argc);
	return argv;
}

static void split_bad(const char *s, const char *why_part)
{
	char **argv = NULL, why[160] = "";

	assert_int_equal(config_split_args(s, &argv, why, sizeof(why)), -1);
	assert_null(argv);
	if (!strstr(why, why_part))
		fail_msg("\"%s\": \"%s\" lacks \"%s\"", s, why, why_part);
}

static void test_split(void **state)
{
	char **a = split_ok("  /usr/bin/notify --to admin\t-v ", 4);

	assert_string_equal(a[0], "/usr/bin/notify");
	assert_string_equal(a[3], "-v");
	config_free_args(a);
	a = split_ok("/bin/x 'a b' \"c \\\"d\\\" \\\\ \\n\" e\\ f '' g'h'\"i\"", 6);
	assert_string_equal(a[1], "a b");
	assert_string_equal(a[2], "c \"d\" \\ \\n");    /* only \" \\ \$ \` escape */
	assert_string_equal(a[3], "e f");
	assert_string_equal(a[4], "");
	assert_string_equal(a[5], "ghi");
	config_free_args(a);
	a = split_ok("/bin/x '$HOME | ; & > <' \"a|b;c\" x#y", 4);
	assert_string_equal(a[1], "$HOME | ; & > <");
	assert_string_equal(a[2], "a|b;c");
	assert_string_equal(a[3], "x#y");
	config_free_args(a);
}

static void test_split_refuses(void **state)
{
	split_bad("", "no program");
	split_bad("   ", "no program");
	split_bad("/bin/x 'open", "single quote");
	split_bad("/bin/x \"open", "double quote");
	split_bad("/bin/x end\\", "backslash");
	split_bad("/bin/x $HOME", "shell");
	split_bad("/bin/x \"$HOME\"", "single quotes");
	split_bad("/bin/x a|b", "'|'");
	split_bad("/bin/x > /tmp/f", "'>'");
	split_bad("/bin/x a;b", "';'");
	split_bad("/bin/x `id`", "'`'");
	split_bad("/bin/x #comment", "'#'");
	split_bad("/bin/x https://a/?x=1&y=2", "'&'");
}

static void test_quote_round_trip(void **state)
{
	static const char *const args[] = {
		"/bin/x", "", "a b", "it's", "\"q\"", "back\\slash", "$HOME", "a;b", " ;c", "#x",
		"tab\there", "https://a.example/p?x=1&y=%20", "~user", "ok-_./:=@%+,",
	};
	char *text = NULL, **argv = NULL, why[160];
	size_t len = 0, n = sizeof(args) / sizeof(args[0]);
	FILE *f = open_memstream(&text, &len);

	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(' ', f);
		config_quote_arg(args[i], f);
	}
	fclose(f);
	assert_null(strstr(text, " ;"));     /* inih would take that for a comment */
	if (config_split_args(text, &argv, why, sizeof(why)) != 0)
		fail_msg("%s: %s", text, why);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(argv[i], args[i]);
	assert_null(argv[n]);
	config_free_args(argv);
	free(text);
}

static const char *vars(void *arg, const char *name, size_t len, char *buf, size_t buflen)
{
	static const char *const table[][2] = {
		{ "event", "ip-change" }, { "name", "web cam" }, { "error", "say \"no\"\n\\ & go" },
		{ "empty", "" },
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strlen(table[i][0]) == len && memcmp(table[i][0], name, len) == 0)
			return table[i][1];
	return NULL;
}

static void expect(const char *tmpl, enum tmpl_enc enc, const char *want)
{
	char *got = tmpl_expand(tmpl, enc, vars, NULL);

	assert_string_equal(got, want);
	free(got);
}

static void test_encodings(void **state)
{
	expect("https://x/s?m=%event%+%name%&e=%error%", TMPL_URL,
	       "https://x/s?m=ip-change+web%20cam&e=say%20%22no%22%0A%5C%20%26%20go");
	expect("{\"text\": \"%event% %error%\"}", TMPL_JSON,
	       "{\"text\": \"ip-change say \\\"no\\\"\\u000a\\\\ & go\"}");
	expect("Title: %error%", TMPL_HEADER, "Title: say \"no\" \\ & go");
	expect("%event% %error%", TMPL_RAW, "ip-change say \"no\"\n\\ & go");
	/* unknown names, percent-encodings and lone signs stay as written */
	expect("a%20b %unknown% 100% %empty%|%% %event", TMPL_URL, "a%20b %unknown% 100% |%% %event");
	expect("%event%%name%", TMPL_RAW, "ip-changeweb cam");
}

static bool known(const char *name, size_t len)
{
	return vars(NULL, name, len, NULL, 0) != NULL;
}

static void test_unknown_variables(void **state)
{
	char bad[40];

	assert_false(tmpl_find_unknown("https://x/?a=%event%&b=%20%2F%ab%", known, bad, sizeof(bad)));
	assert_true(tmpl_find_unknown("https://x/?h=%hostname%", known, bad, sizeof(bad)));
	assert_string_equal(bad, "%hostname%");
	assert_true(tmpl_find_unknown("%20%old_ipp%", known, bad, sizeof(bad)));
	assert_string_equal(bad, "%old_ipp%");
	assert_false(tmpl_find_unknown("%event%%name%", known, bad, sizeof(bad)));
}

static void test_metrics_escape(void **state)
{
	char out[64];

	metrics_escape("a\"b\\c\nd", out, sizeof(out));
	assert_string_equal(out, "a\\\"b\\\\c\\nd");
	metrics_escape("\\\\\\\\\\\\", out, 6);                /* never cut an escape in two */
	assert_string_equal(out, "\\\\\\\\");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_refuses),
		cmocka_unit_test(test_quote_round_trip),
		cmocka_unit_test(test_encodings),
		cmocka_unit_test(test_unknown_variables),
		cmocka_unit_test(test_metrics_escape),
	};
	return cmocka_run_group_tests_name("hook config", tests, NULL, NULL);
}
