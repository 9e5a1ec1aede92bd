/* Unit tests for the event loop: timer order, re-arming, freeing from a
 * callback, fd readiness, fd removal during dispatch, signals. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "ev.h"

static char order[16];
static size_t n_order;

static void record(void *arg)
{
	order[n_order++] = *(const char *)arg;
	if (n_order == 3)
		ev_break();
}

/* A loop with three timers that record 'a', 'b', 'c' when they fire. */
static void three_timers(struct ev_timer **ta, struct ev_timer **tb, struct ev_timer **tc)
{
	static const char a = 'a', b = 'b', c = 'c';

	assert_int_equal(ev_init(), 0);
	n_order = 0;
	*ta = ev_timer_new(record, (void *)&a);
	*tb = ev_timer_new(record, (void *)&b);
	*tc = ev_timer_new(record, (void *)&c);
}

static void test_timers_fire_in_due_order(void **state)
{
	struct ev_timer *ta, *tb, *tc;

	three_timers(&ta, &tb, &tc);
	ev_timer_arm(ta, 30);
	ev_timer_arm(tb, 10);
	ev_timer_arm(tc, 20);
	assert_true(ev_timer_armed(ta));
	assert_in_range(ev_timer_remaining_ms(ta), 1, 30);
	assert_int_equal(ev_run(), 0);
	assert_memory_equal(order, "bca", 3);
	assert_false(ev_timer_armed(ta));
	assert_int_equal(ev_timer_remaining_ms(ta), -1);
	ev_fini();
}

/* Timers due at once run in the order they were armed, whatever the order
 * they were made in: a request queued before a slow write (mappings.json)
 * leaves before it. */
static void test_timers_due_together_fire_in_arm_order(void **state)
{
	struct ev_timer *ta, *tb, *tc;

	three_timers(&ta, &tb, &tc);
	ev_timer_arm(tc, 0);
	ev_timer_arm(ta, 0);
	ev_timer_arm(tb, 0);
	assert_int_equal(ev_run(), 0);
	assert_memory_equal(order, "cab", 3);
	ev_fini();
}

static int rearm_count;
static struct ev_timer *rearm_timer;

static void rearm(void *arg)
{
	if (++rearm_count == 5)
		ev_break();
	else
		ev_timer_arm(rearm_timer, 0);
}

static void test_timer_rearm_from_callback(void **state)
{
	assert_int_equal(ev_init(), 0);
	rearm_count = 0;
	rearm_timer = ev_timer_new(rearm, NULL);
	ev_timer_arm(rearm_timer, 0);
	assert_int_equal(ev_run(), 0);
	assert_int_equal(rearm_count, 5);
	ev_fini();
}

static struct ev_timer *victim, *killer;
static int victim_fired;

static void victim_cb(void *arg)
{
	victim_fired++;
}

static void stop_cb(void *arg)
{
	ev_break();
}

static void killer_cb(void *arg)
{
	ev_timer_free(victim);   /* due in the same pass: must not fire */
	ev_timer_free(killer);   /* freeing itself is allowed too */
	victim = killer = NULL;
}

static void test_timer_free_in_callback(void **state)
{
	struct ev_timer *stop;

	assert_int_equal(ev_init(), 0);
	victim_fired = 0;
	killer = ev_timer_new(killer_cb, NULL);
	victim = ev_timer_new(victim_cb, NULL);
	stop = ev_timer_new(stop_cb, NULL);
	ev_timer_arm(killer, 5);
	ev_timer_arm(victim, 5);
	ev_timer_arm(stop, 30);
	usleep(10000);           /* both due before the loop's first pass */
	assert_int_equal(ev_run(), 0);
	assert_null(killer);
	assert_int_equal(victim_fired, 0);
	ev_fini();
}

struct pipe_ctx {
	int fds[2];
	int reads;
	char byte;
};

static void on_readable(int fd, short revents, void *arg)
{
	struct pipe_ctx *p = arg;

	assert_true(revents & POLLIN);
	assert_int_equal(read(fd, &p->byte, 1), 1);
	p->reads++;
	ev_fd_del(fd);
	ev_break();
}

static void write_later(void *arg)
{
	struct pipe_ctx *p = arg;

	assert_int_equal(write(p->fds[1], "x", 1), 1);
}

static void test_fd_readiness(void **state)
{
	struct pipe_ctx p = { .reads = 0 };
	struct ev_timer *t;

	assert_int_equal(ev_init(), 0);
	assert_int_equal(pipe(p.fds), 0);
	assert_int_equal(ev_fd_add(p.fds[0], POLLIN, on_readable, &p), 0);
	assert_int_equal(ev_fd_add(p.fds[0], POLLIN, on_readable, &p), -1);  /* twice: refused */
	t = ev_timer_new(write_later, &p);
	ev_timer_arm(t, 5);
	assert_int_equal(ev_run(), 0);
	assert_int_equal(p.reads, 1);
	assert_int_equal(p.byte, 'x');
	/* deleted: a second byte is not delivered */
	assert_int_equal(write(p.fds[1], "y", 1), 1);
	ev_timer_arm(t, 20);
	ev_timer_free(t);
	close(p.fds[0]);
	close(p.fds[1]);
	ev_fini();
}

static int got_signal;

static void on_signal(int signo, void *arg)
{
	got_signal = signo;
	ev_break();
}

static void test_signal_through_loop(void **state)
{
	assert_int_equal(ev_init(), 0);
	got_signal = 0;
	assert_int_equal(ev_signal(SIGUSR1, on_signal, NULL), 0);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(ev_run(), 0);
	assert_int_equal(got_signal, SIGUSR1);
	ev_fini();
}

/* Idle means asleep until the next timer: no periodic wake-up of its own. */
static void test_idle_loop_sleeps_until_the_next_timer(void **state)
{
	struct ev_timer *a, *b;

	assert_int_equal(ev_init(), 0);
	assert_int_equal(ev_wait_ms(), -1);                     /* nothing armed: forever */
	a = ev_timer_new(record, NULL);
	b = ev_timer_new(record, NULL);
	ev_timer_arm(a, 10 * 60 * 1000);
	assert_true(ev_wait_ms() > 10 * 60 * 1000 - 1000);
	ev_timer_arm(b, 30LL * 86400 * 1000);                   /* longer than an int of ms */
	ev_timer_disarm(a);
	assert_int_equal(ev_wait_ms(), INT_MAX);
	ev_timer_arm(a, 5);
	assert_true(ev_wait_ms() <= 5);
	ev_timer_free(a);
	ev_timer_free(b);
	ev_fini();
}

static void test_now_is_monotonic(void **state)
{
	int64_t a = ev_now_ms();
	usleep(2000);
	assert_true(ev_now_ms() >= a + 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_due_order),
		cmocka_unit_test(test_timers_due_together_fire_in_arm_order),
		cmocka_unit_test(test_timer_rearm_from_callback),
		cmocka_unit_test(test_timer_free_in_callback),
		cmocka_unit_test(test_fd_readiness),
		cmocka_unit_test(test_signal_through_loop),
		cmocka_unit_test(test_idle_loop_sleeps_until_the_next_timer),
		cmocka_unit_test(test_now_is_monotonic),
	};
	return cmocka_run_group_tests_name("ev", tests, NULL, NULL);
}
