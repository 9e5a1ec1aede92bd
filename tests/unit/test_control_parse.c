/* test_control_parse.c - the control socket's request grammar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "control.h"

static int parse(const char *s, struct control_request *req, const char **err)
{
	return control_parse(s, strlen(s), req, err);
}

static void test_commands(void **state)
{
	struct control_request req;
	const char *err = NULL;

	assert_int_equal(parse("status", &req, &err), 0);
	assert_int_equal(req.cmd, CTL_STATUS);
	assert_string_equal(req.arg, "");
	assert_int_equal(parse("refresh\r", &req, &err), 0);
	assert_int_equal(req.cmd, CTL_REFRESH);
	assert_int_equal(parse("  update   home  ", &req, &err), 0);
	assert_int_equal(req.cmd, CTL_UPDATE);
	assert_string_equal(req.arg, "home");
	assert_int_equal(parse("update", &req, &err), 0);
	assert_string_equal(req.arg, "");
	assert_int_equal(parse("log-level debug", &req, &err), 0);
	assert_int_equal(req.cmd, CTL_LOG_LEVEL);
	assert_string_equal(req.arg, "debug");
	assert_int_equal(parse("reload", &req, &err), 0);
	assert_int_equal(req.cmd, CTL_RELOAD);
}

static void test_rejects(void **state)
{
	struct control_request req;
	const char *err = NULL;
	char big[CONTROL_MAX_REQUEST + 2];

	assert_int_equal(parse("", &req, &err), -1);
	assert_string_equal(err, "unknown command");
	assert_int_equal(parse("statusx", &req, &err), -1);
	assert_int_equal(parse("stat", &req, &err), -1);
	assert_int_equal(parse("status now", &req, &err), -1);
	assert_string_equal(err, "this command takes no argument");
	assert_int_equal(control_parse("status\0x", 8, &req, &err), -1);
	assert_string_equal(err, "request contains a NUL byte");
	memset(big, 'a', sizeof(big));
	assert_int_equal(control_parse(big, sizeof(big), &req, &err), -1);
	assert_string_equal(err, "request too long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
