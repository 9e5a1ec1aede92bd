/* test_hintgap.c - the action asked for by announcements, once per gap:
 * never run, it may run at once; right after a run it waits (at most the
 * gap); a due time is never pushed back, only hurried; the plain limit
 * takes once per gap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ev.h"
#include "hintgap.h"

static void action(void *arg)
{
}

static void test_put_off_within_the_gap(void **state)
{
	struct hintgap g;

	assert_int_equal(ev_init(), 0);
	hintgap_init(&g, 60000, action, NULL);
	assert_int_equal(hintgap_wait(&g), 0);
	assert_false(hintgap_due(&g));
	hintgap_ran(&g);
	assert_true(hintgap_wait(&g) > 0 && hintgap_wait(&g) <= 60000);
	hintgap_arm(&g, 50000);
	assert_true(hintgap_due(&g));
	hintgap_arm(&g, 59000);                 /* not pushed back */
	assert_true(ev_timer_remaining_ms(g.timer) <= 50000);
	hintgap_hurry(&g);
	assert_int_equal(ev_timer_remaining_ms(g.timer), 0);
	hintgap_reset(&g);
	assert_false(hintgap_due(&g));
	assert_int_equal(hintgap_wait(&g), 0);
	hintgap_fini(&g);
	ev_fini();
}

static void test_plain_limit_takes_once_per_gap(void **state)
{
	struct hintgap g;

	assert_int_equal(ev_init(), 0);
	hintgap_init(&g, 60000, NULL, NULL);
	assert_true(hintgap_take(&g));
	assert_false(hintgap_take(&g));
	assert_false(hintgap_due(&g));
	g.last_ms -= 60000;                     /* the gap has passed */
	assert_true(hintgap_take(&g));
	hintgap_fini(&g);
	ev_fini();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_off_within_the_gap),
		cmocka_unit_test(test_plain_limit_takes_once_per_gap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
