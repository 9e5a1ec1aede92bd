/* gw_queue.c - the request queue of the gateway backends (gw_queue.h).
 * Requests leave from a 0 ms "kick" timer, never from inside the caller:
 * a callback may queue the next request or cancel others without
 * re-entering a send. One deadline timer serves the whole wire: every
 * request has the same deadline and leaves after the ones before it, so
 * the oldest on the wire is always the next to expire. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_queue.h"
#include "util.h"

/* Ids are unique across every queue and restart: a stale id held by a
 * caller never cancels another request. */
static uint64_t last_id;

/* ---- the window ---------------------------------------------------------- */

void gwq_window_init(struct gwq_window *w, unsigned max)
{
	w->size = 1;
	w->max = max ? max : 1;
	w->streak = 0;
}

bool gwq_window_good(const struct gw_result *res, int64_t ms)
{
	return !res->timed_out && ms <= GWQ_SLOW_MS &&
		(res->outcome == GW_OK || res->outcome == GW_NOT_FOUND);
}

/* Back to 1 at once, up by one per window of good answers (a round trip). */
void gwq_window_note(struct gwq_window *w, bool good)
{
	if (!good) {
		w->size = 1;
		w->streak = 0;
	} else if (w->size < w->max && ++w->streak >= w->size) {
		w->size++;
		w->streak = 0;
	}
}

/* ---- the wire ------------------------------------------------------------ */

static void arm_deadline(struct gwq *q)
{
	int64_t left;

	if (!q->wire) {
		ev_timer_disarm(q->deadline);
		return;
	}
	left = q->wire->sent_ms + q->deadline_ms - ev_now_ms();
	ev_timer_arm(q->deadline, left > 0 ? left : 0);
}

static bool may_send(const struct gwq *q)
{
	if (!q->head || q->on_wire >= q->win.size)
		return false;
	return q->on_wire == 0 || (!q->head->alone && !q->wire->alone);
}

static void put_on_wire(struct gwq *q, struct gwq_req *r)
{
	struct gwq_req **pp = &q->wire;

	while (*pp)
		pp = &(*pp)->next;
	*pp = r;
	r->next = NULL;
	r->sent_ms = ev_now_ms();
	q->on_wire++;
	if (q->on_wire == 1)
		arm_deadline(q);
}

static void on_kick(void *arg)
{
	struct gwq *q = arg;

	while (may_send(q)) {
		struct gwq_req *r = q->head;
		struct gw_result res;

		q->head = r->next;
		if (!q->head)
			q->tail = NULL;
		put_on_wire(q, r);
		memset(&res, 0, sizeof(res));
		if (q->ops->send(q, r, &res) < 0) {
			gwq_finish_req(q, r, &res);  /* arms the kick for the rest */
			return;
		}
	}
}

static void on_deadline(void *arg)
{
	struct gwq *q = arg;
	struct gw_result res = { .outcome = GW_GONE, .timed_out = true };
	struct gwq_req *r = q->wire;

	if (!r)
		return;
	if (ev_now_ms() < r->sent_ms + q->deadline_ms) {
		arm_deadline(q);
		return;
	}
	if (q->ops->expired)
		q->ops->expired(q, r);
	snprintf(res.error, sizeof(res.error), "timed out after %d ms", q->deadline_ms);
	gwq_finish_req(q, r, &res);      /* re-arms for the next one */
}

int gwq_init(struct gwq *q, const struct gwq_ops *ops, int deadline_ms, unsigned max_window)
{
	memset(q, 0, sizeof(*q));
	q->ops = ops;
	q->deadline_ms = deadline_ms;
	gwq_window_init(&q->win, max_window);
	q->deadline = ev_timer_new(on_deadline, q);
	q->kick = ev_timer_new(on_kick, q);
	if (!q->deadline || !q->kick) {
		gwq_fini(q);
		return -1;
	}
	return 0;
}

static void free_list(struct gwq_req *r)
{
	while (r) {
		struct gwq_req *next = r->next;
		free(r);
		r = next;
	}
}

void gwq_fini(struct gwq *q)
{
	free_list(q->head);
	free_list(q->wire);
	ev_timer_free(q->deadline);
	ev_timer_free(q->kick);
	memset(q, 0, sizeof(*q));
}

uint64_t gwq_push(struct gwq *q, struct gwq_req *r, gw_cb cb, void *arg)
{
	r->next = NULL;
	r->id = ++last_id;
	r->cancelled = false;
	r->cb = cb;
	r->arg = arg;
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	if (may_send(q))
		ev_timer_arm(q->kick, 0);
	return r->id;
}

struct gwq_req *gwq_on_wire(const struct gwq *q)
{
	return q->wire;
}

static bool unlink_req(struct gwq_req **list, struct gwq_req *r)
{
	for (struct gwq_req **pp = list; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			return true;
		}
	return false;
}

/* The callback may stop the backend (gwq_fini): nothing touches q after it. */
void gwq_finish_req(struct gwq *q, struct gwq_req *r, const struct gw_result *res)
{
	bool good;

	if (!r || !unlink_req(&q->wire, r))
		return;
	q->on_wire--;
	good = gwq_window_good(res, ev_now_ms() - r->sent_ms);
	if (!good || !r->alone)
		gwq_window_note(&q->win, good);
	arm_deadline(q);
	if (may_send(q))
		ev_timer_arm(q->kick, 0);
	if (!r->cancelled && r->cb)
		r->cb(r->arg, res);
	free(r);
}

void gwq_finish(struct gwq *q, const struct gw_result *res)
{
	gwq_finish_req(q, q->wire, res);
}

void gwq_fail(struct gwq *q, enum gw_outcome o, const char *fmt, ...)
{
	struct gw_result res = { .outcome = o };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res.error, sizeof(res.error), fmt, ap);
	va_end(ap);
	gwq_finish(q, &res);
}

void gwq_cancel(struct gwq *q, uint64_t id)
{
	struct gwq_req *prev = NULL;

	for (struct gwq_req *r = q->wire; r; r = r->next)
		if (r->id == id) {
			r->cancelled = true;     /* its answer is still read */
			return;
		}
	for (struct gwq_req *r = q->head; r; prev = r, r = r->next)
		if (r->id == id) {
			unlink_req(&q->head, r);
			if (q->tail == r)
				q->tail = prev;
			free(r);
			return;
		}
}

void gwq_cancel_all(struct gwq *q)
{
	for (struct gwq_req *r = q->wire; r; r = r->next)
		r->cancelled = true;
	free_list(q->head);
	q->head = q->tail = NULL;
}

bool gwq_busy(const struct gwq *q)
{
	return q->head || q->wire;
}

bool gwq_waiting(const struct gwq *q)
{
	return q->head != NULL;
}
