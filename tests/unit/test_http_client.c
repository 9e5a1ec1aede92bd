/* test_http_client.c - http.c when its helper cannot run (a helper path
 * that does not exist): the request is taken, fails from the loop with
 * the transport error the entries retry ("the HTTP helper ended"), never
 * from inside http_start; a cancelled request is never called back; a
 * refused method is refused at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ev.h"
#include "helper_proc.h"
#include "http.h"

static int calls;
static bool in_start;
static char last_error[128], last_host[64];
static int last_code;

static void on_done(void *ctx, const struct http_response *r)
{
	assert_false(in_start);
	calls++;
	last_code = r->curl_code;
	snprintf(last_error, sizeof(last_error), "%s", r->error);
	snprintf(last_host, sizeof(last_host), "%s", r->host);
	ev_break();
}

static void on_stuck(void *arg)
{
	fail_msg("no callback");
}

static void run(void)
{
	struct ev_timer *t = ev_timer_new(on_stuck, NULL);

	ev_timer_arm(t, 10000);
	ev_run();
	ev_timer_free(t);
}

static struct http_call *start(const char *method)
{
	struct http_request req = { .url = "https://api.example:8443/x", .method = method };
	struct http_call *c;

	in_start = true;
	c = http_start(&req, on_done, NULL);
	in_start = false;
	return c;
}

static void test_missing_helper_fails_from_the_loop(void **state)
{
	assert_int_equal(ev_init(), 0);
	http_helper_path("/nonexistent/homeport-http-helper");
	calls = 0;
	assert_non_null(start(NULL));
	assert_int_equal(calls, 0);
	run();
	assert_int_equal(calls, 1);
	assert_int_not_equal(last_code, 0);
	assert_string_equal(last_error, "the HTTP helper ended");
	assert_string_equal(last_host, "api.example");
	assert_int_equal(http_helper_pid(), 0);
	/* the next request tries a new helper */
	assert_non_null(start("POST"));
	run();
	assert_int_equal(calls, 2);
	http_fini();
	helper_proc_reap_all();
	ev_fini();
}

static void on_quiet(void *arg)
{
	ev_break();
}

static void test_cancelled_is_never_called_back(void **state)
{
	struct ev_timer *t;

	assert_int_equal(ev_init(), 0);
	http_helper_path("/nonexistent/homeport-http-helper");
	calls = 0;
	http_cancel(start(NULL));
	t = ev_timer_new(on_quiet, NULL);
	ev_timer_arm(t, 300);
	ev_run();
	ev_timer_free(t);
	assert_int_equal(calls, 0);
	http_fini();
	helper_proc_reap_all();
	ev_fini();
}

static void test_unknown_method_refused(void **state)
{
	assert_int_equal(ev_init(), 0);
	assert_null(start("TRACE"));
	http_fini();
	helper_proc_reap_all();
	ev_fini();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_helper_fails_from_the_loop),
		cmocka_unit_test(test_cancelled_is_never_called_back),
		cmocka_unit_test(test_unknown_method_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
