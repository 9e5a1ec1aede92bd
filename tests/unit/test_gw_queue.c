/* Unit tests for the gateway request queue (gw_queue.c): the window rule
 * (back to 1 on an error, no answer or a slow answer; one more per window
 * of quick good answers, up to the maximum), the window on the wire,
 * requests that go alone, order, cancel, deadlines, and a callback that
 * stops the queue. Driven through the real event loop with a fake backend
 * that only records what it was asked to send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ev.h"
#include "gw_queue.h"

/* ---- the window rule, without I/O ----------------------------------- */

static void test_window_grows_one_step_per_window_of_good_answers(void **state)
{
	struct gwq_window w;
	unsigned sizes[12];

	gwq_window_init(&w, 4);
	assert_int_equal(w.size, 1);
	for (size_t i = 0; i < 12; i++) {
		gwq_window_note(&w, true);
		sizes[i] = w.size;
	}
	/* 1 good -> 2, 2 more -> 3, 3 more -> 4, then capped */
	assert_int_equal(sizes[0], 2);
	assert_int_equal(sizes[1], 2);
	assert_int_equal(sizes[2], 3);
	assert_int_equal(sizes[4], 3);
	assert_int_equal(sizes[5], 4);
	assert_int_equal(sizes[11], 4);
}

static void test_window_back_to_one_at_once(void **state)
{
	struct gwq_window w;

	gwq_window_init(&w, 4);
	for (int i = 0; i < 10; i++)
		gwq_window_note(&w, true);
	assert_int_equal(w.size, 4);
	gwq_window_note(&w, false);
	assert_int_equal(w.size, 1);
	/* and grows back only after good answers, from the start */
	gwq_window_note(&w, true);
	assert_int_equal(w.size, 2);
	gwq_window_note(&w, true);
	gwq_window_note(&w, false);
	assert_int_equal(w.size, 1);
	gwq_window_note(&w, true);
	assert_int_equal(w.size, 2);
}

static void test_window_of_one_stays_one(void **state)
{
	struct gwq_window w;

	gwq_window_init(&w, 1);
	for (int i = 0; i < 10; i++)
		gwq_window_note(&w, true);
	assert_int_equal(w.size, 1);
	gwq_window_init(&w, 0);
	gwq_window_note(&w, true);
	assert_int_equal(w.size, 1);
}

static void test_what_counts_as_good(void **state)
{
	struct gw_result r = { .outcome = GW_OK };

	assert_true(gwq_window_good(&r, 0));
	assert_true(gwq_window_good(&r, GWQ_SLOW_MS));
	assert_false(gwq_window_good(&r, GWQ_SLOW_MS + 1));
	r.outcome = GW_NOT_FOUND;
	assert_true(gwq_window_good(&r, 5));
	for (enum gw_outcome o = GW_CONFLICT; o <= GW_GONE; o++) {
		if (o == GW_NOT_FOUND)
			continue;
		r.outcome = o;
		assert_false(gwq_window_good(&r, 5));
	}
	r = (struct gw_result){ .outcome = GW_GONE, .timed_out = true };
	assert_false(gwq_window_good(&r, 5));
}

/* ---- the queue, through the event loop ------------------------------ */

#define MAX_SENT 64

static struct {
	struct gwq q;
	uint64_t sent[MAX_SENT];           /* ids, in the order send saw them */
	size_t n_sent;
	unsigned most_on_wire;
	uint64_t answered[MAX_SENT];       /* ids whose callback ran */
	size_t n_answered;
	struct gw_result last;
	size_t n_expired;
	size_t break_at;                   /* ev_break when this many answered */
	bool stop_in_cb;
} T;

static int fake_send(struct gwq *q, struct gwq_req *r, struct gw_result *res)
{
	assert_true(T.n_sent < MAX_SENT);
	T.sent[T.n_sent++] = r->id;
	if (q->on_wire > T.most_on_wire)
		T.most_on_wire = q->on_wire;
	return 0;
}

static void fake_expired(struct gwq *q, struct gwq_req *r)
{
	T.n_expired++;
}

static const struct gwq_ops fake_ops = { .send = fake_send, .expired = fake_expired };

/* arg: the id of the request (see push) */
static void on_answer(void *arg, const struct gw_result *r)
{
	T.answered[T.n_answered++] = (uint64_t)(uintptr_t)arg;
	T.last = *r;
	if (T.stop_in_cb)
		gwq_fini(&T.q);
	if (T.break_at && T.n_answered == T.break_at)
		ev_break();
}

static void stop_loop(void *arg)
{
	ev_break();
}

/* Let every 0 ms timer (the queue's kick) run once. */
static void spin(void)
{
	struct ev_timer *t = ev_timer_new(stop_loop, NULL);

	ev_timer_arm(t, 0);
	assert_int_equal(ev_run(), 0);
	ev_timer_free(t);
}

static int setup(void **state)
{
	memset(&T, 0, sizeof(T));
	assert_int_equal(ev_init(), 0);
	assert_int_equal(gwq_init(&T.q, &fake_ops, 60000, 4), 0);
	return 0;
}

static int teardown(void **state)
{
	gwq_fini(&T.q);
	ev_fini();
	return 0;
}

static uint64_t push(bool alone)
{
	struct gwq_req *r = calloc(1, sizeof(*r));
	uint64_t id;

	r->alone = alone;
	id = gwq_push(&T.q, r, on_answer, NULL);
	/* the callback's arg: which request answered */
	r->arg = (void *)(uintptr_t)id;
	return id;
}

static void answer(struct gwq_req *r, enum gw_outcome o)
{
	struct gw_result res = { .outcome = o };

	gwq_finish_req(&T.q, r, &res);
}

/* Answer every request on the wire, oldest first. */
static void answer_wire(enum gw_outcome o)
{
	while (gwq_on_wire(&T.q))
		answer(gwq_on_wire(&T.q), o);
}

static void test_queue_starts_with_one_and_opens_up(void **state)
{
	uint64_t ids[12];

	for (size_t i = 0; i < 12; i++)
		ids[i] = push(false);
	spin();
	assert_int_equal(T.n_sent, 1);
	assert_int_equal(T.q.on_wire, 1);
	answer_wire(GW_OK);
	spin();
	assert_int_equal(T.q.on_wire, 2);
	answer_wire(GW_OK);
	spin();
	assert_int_equal(T.q.on_wire, 3);
	answer_wire(GW_OK);
	spin();
	assert_int_equal(T.q.on_wire, 4);
	answer_wire(GW_OK);
	spin();
	answer_wire(GW_OK);
	spin();
	assert_false(gwq_busy(&T.q));
	assert_int_equal(T.n_sent, 12);
	assert_int_equal(T.most_on_wire, 4);
	/* sent and answered in the order they were queued */
	for (size_t i = 0; i < 12; i++) {
		assert_int_equal(T.answered[i], ids[i]);
		assert_int_equal(T.sent[i], ids[i]);
	}
}

static void open_up(void)
{
	for (int i = 0; i < 6; i++)
		gwq_window_note(&T.q.win, true);
	assert_int_equal(T.q.win.size, 4);
}

static void test_an_error_closes_the_window(void **state)
{
	open_up();
	for (int i = 0; i < 10; i++)
		push(false);
	spin();
	assert_int_equal(T.q.on_wire, 4);
	answer(gwq_on_wire(&T.q), GW_TEMPORARY);
	spin();
	/* three still on the wire, the window is 1: nothing more leaves */
	assert_int_equal(T.q.on_wire, 3);
	assert_int_equal(T.n_sent, 4);
	answer_wire(GW_OK);
	spin();
	/* the three good answers opened it again, one step per window */
	assert_true(T.q.on_wire >= 1 && T.q.on_wire <= 3);
	assert_int_equal(T.n_sent, 4 + T.q.on_wire);
}

static void test_a_slow_answer_closes_the_window(void **state)
{
	struct gwq_req *r;

	open_up();
	for (int i = 0; i < 6; i++)
		push(false);
	spin();
	assert_int_equal(T.q.on_wire, 4);
	r = gwq_on_wire(&T.q);
	r->sent_ms -= GWQ_SLOW_MS + 50;      /* as if it had taken that long */
	answer(r, GW_OK);
	assert_int_equal(T.q.win.size, 1);
	spin();
	assert_int_equal(T.n_sent, 4);
}

static void test_alone_goes_alone(void **state)
{
	uint64_t a, b, c;

	open_up();
	a = push(false);
	b = push(true);
	c = push(false);
	spin();
	/* b waits for a, c waits behind b */
	assert_int_equal(T.n_sent, 1);
	assert_int_equal(T.sent[0], a);
	answer_wire(GW_OK);
	spin();
	assert_int_equal(T.n_sent, 2);
	assert_int_equal(T.sent[1], b);
	assert_int_equal(T.q.on_wire, 1);
	answer_wire(GW_OK);
	spin();
	assert_int_equal(T.n_sent, 3);
	assert_int_equal(T.sent[2], c);
}

static void test_alone_does_not_grow_the_window(void **state)
{
	push(true);
	spin();
	answer_wire(GW_OK);
	assert_int_equal(T.q.win.size, 1);
	/* but its failure closes it */
	open_up();
	push(true);
	spin();
	answer_wire(GW_GONE);
	assert_int_equal(T.q.win.size, 1);
}

static void test_cancel_on_wire_and_waiting(void **state)
{
	uint64_t a, b, c;

	a = push(false);
	b = push(false);
	c = push(false);
	spin();
	gwq_cancel(&T.q, a);            /* on the wire: runs to its end, quietly */
	gwq_cancel(&T.q, b);            /* waiting: never sent */
	answer_wire(GW_OK);
	spin();
	assert_int_equal(T.n_answered, 0);
	assert_int_equal(T.n_sent, 2);
	assert_int_equal(T.sent[1], c);
	answer_wire(GW_OK);
	assert_int_equal(T.n_answered, 1);
	assert_int_equal(T.answered[0], c);
	assert_false(gwq_busy(&T.q));
}

static void test_cancel_all_leaves_nothing_stale(void **state)
{
	open_up();
	for (int i = 0; i < 8; i++)
		push(false);
	spin();
	assert_int_equal(T.q.on_wire, 4);
	gwq_cancel_all(&T.q);
	assert_false(gwq_waiting(&T.q));
	answer_wire(GW_OK);
	spin();
	assert_int_equal(T.n_answered, 0);
	assert_int_equal(T.n_sent, 4);
	assert_false(gwq_busy(&T.q));
}

static void test_ids_unique_across_queues(void **state)
{
	struct gwq other;
	struct gwq_req *r = calloc(1, sizeof(*r));
	uint64_t a = push(false), b;

	assert_int_equal(gwq_init(&other, &fake_ops, 1000, 1), 0);
	b = gwq_push(&other, r, NULL, NULL);
	assert_true(b > a);
	/* a stale id from the other queue cancels nothing here */
	gwq_cancel(&T.q, b);
	spin();
	assert_int_equal(T.sent[0], a);
	gwq_fini(&other);
}

static void give_up(void *arg)
{
	fail_msg("the deadlines never passed");
}

static void test_deadline_expires_each_request(void **state)
{
	struct ev_timer *guard = ev_timer_new(give_up, NULL);

	gwq_fini(&T.q);
	assert_int_equal(gwq_init(&T.q, &fake_ops, 20, 4), 0);
	open_up();
	push(false);
	push(false);
	push(false);
	T.break_at = 3;
	ev_timer_arm(guard, 10000);
	assert_int_equal(ev_run(), 0);
	ev_timer_free(guard);
	assert_false(gwq_busy(&T.q));
	assert_int_equal(T.n_expired, 3);
	assert_int_equal(T.n_answered, 3);
	assert_int_equal(T.last.outcome, GW_GONE);
	assert_true(T.last.timed_out);
	assert_int_equal(T.q.win.size, 1);
}

static void test_callback_may_stop_the_queue(void **state)
{
	open_up();
	for (int i = 0; i < 6; i++)
		push(false);
	spin();
	T.stop_in_cb = true;
	answer(gwq_on_wire(&T.q), GW_OK);    /* frees everything: no use after free */
	assert_int_equal(T.n_answered, 1);
	assert_false(gwq_busy(&T.q));
	assert_int_equal(gwq_init(&T.q, &fake_ops, 60000, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_grows_one_step_per_window_of_good_answers),
		cmocka_unit_test(test_window_back_to_one_at_once),
		cmocka_unit_test(test_window_of_one_stays_one),
		cmocka_unit_test(test_what_counts_as_good),
		cmocka_unit_test_setup_teardown(test_queue_starts_with_one_and_opens_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_error_closes_the_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_slow_answer_closes_the_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alone_goes_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alone_does_not_grow_the_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_on_wire_and_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_all_leaves_nothing_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_unique_across_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_expires_each_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_may_stop_the_queue, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
