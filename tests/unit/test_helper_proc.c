/* test_helper_proc.c - stopping a helper never blocks the loop: a helper
 * that ignores SIGTERM is still alive when helper_proc_stop() returns,
 * the loop keeps running, it is killed after the grace and reaped (no
 * zombie); one that ends on SIGTERM is reaped at once; one still ending at
 * the end is reaped by helper_proc_reap_all(). The helpers are small
 * shell scripts that say "ready" on their socket once set up. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "ev.h"
#include "helper_proc.h"

static char dir[] = "/tmp/hp-test-helper-XXXXXX";
static int ticks;

static struct helper_proc P = { .name = "test-helper", .log_name = "test" };

static void script(const char *body)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/test-helper", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	helper_proc_set_path(&P, path);
}

/* Start the helper and wait (bounded) for its "ready". */
static pid_t start_ready(void)
{
	struct pollfd p;
	char buf[16];
	pid_t pid;
	int fd;

	assert_int_equal(helper_proc_start(&P, &fd, &pid), 0);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_true(read(fd, buf, sizeof(buf)) > 0);
	close(fd);
	return pid;
}

static struct ev_timer *tick;

static void on_tick(void *arg)
{
	ticks++;
	if (helper_proc_ending() == 0)
		ev_break();
	else
		ev_timer_arm(tick, 20);
}

static void on_stuck(void *arg)
{
	fail_msg("the helper was not reaped");
}

/* Run the loop until no helper is ending; the ticks it made meanwhile. */
static int run_until_reaped(void)
{
	struct ev_timer *stuck = ev_timer_new(on_stuck, NULL);

	ticks = 0;
	tick = ev_timer_new(on_tick, NULL);
	ev_timer_arm(tick, 0);
	ev_timer_arm(stuck, 10000);
	ev_run();
	ev_timer_free(stuck);
	ev_timer_free(tick);
	return ticks;
}

static bool reaped(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD;
}

static int setup(void **state)
{
	assert_non_null(mkdtemp(dir));
	assert_int_equal(ev_init(), 0);
	return 0;
}

static int teardown(void **state)
{
	char path[128];

	helper_proc_reap_all();
	ev_fini();
	snprintf(path, sizeof(path), "%s/test-helper", dir);
	unlink(path);
	rmdir(dir);
	memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
	return 0;
}

static void test_ignoring_sigterm_is_killed_later_and_reaped(void **state)
{
	pid_t pid;

	script("trap '' TERM\necho ready >&3\nexec /bin/sleep 30");
	pid = start_ready();
	helper_proc_stop(&P, pid);
	/* stop returned at once, with the helper alive and not reaped */
	assert_int_equal(kill(pid, 0), 0);
	assert_int_equal((int)helper_proc_ending(), 1);
	/* the loop ran meanwhile (a tick every 20 ms of the 1 s grace) */
	assert_true(run_until_reaped() > 0);
	assert_true(reaped(pid));
}

static void test_ending_on_sigterm_is_reaped(void **state)
{
	pid_t pid;

	script("echo ready >&3\nexec /bin/sleep 30");
	pid = start_ready();
	helper_proc_stop(&P, pid);
	run_until_reaped();
	assert_true(reaped(pid));
}

static void test_reap_all_at_the_end(void **state)
{
	pid_t pid;

	script("trap '' TERM\necho ready >&3\nexec /bin/sleep 30");
	pid = start_ready();
	helper_proc_stop(&P, pid);
	assert_int_equal((int)helper_proc_ending(), 1);
	helper_proc_reap_all();
	assert_int_equal((int)helper_proc_ending(), 0);
	assert_true(reaped(pid));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ignoring_sigterm_is_killed_later_and_reaped,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ending_on_sigterm_is_reaped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reap_all_at_the_end, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
