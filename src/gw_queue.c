/* gw_queue.c - the request queue of the gateway backends (gw_queue.h).
 * Requests leave one at a time from a 0 ms "kick" timer, never from
 * inside the caller: a callback may queue the next request or cancel
 * others without re-entering a send. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_queue.h"
#include "util.h"

/* Ids are unique across every queue and restart: a stale id held by a
 * caller never cancels another request. */
static uint64_t last_id;

static void on_kick(void *arg)
{
	struct gwq *q = arg;
	struct gw_result res;

	if (!q->head || q->sent)
		return;
	memset(&res, 0, sizeof(res));
	q->sent = true;
	if (q->ops->send(q, q->head, &res) == 0)
		ev_timer_arm(q->deadline, q->deadline_ms);
	else
		gwq_finish(q, &res);     /* arms the kick for the next one */
}

static void on_deadline(void *arg)
{
	struct gwq *q = arg;
	struct gw_result res = { .outcome = GW_GONE, .timed_out = true };

	if (!q->sent)
		return;
	if (q->ops->expired)
		q->ops->expired(q, q->head);
	snprintf(res.error, sizeof(res.error), "timed out after %d ms", q->deadline_ms);
	gwq_finish(q, &res);
}

int gwq_init(struct gwq *q, const struct gwq_ops *ops, int deadline_ms)
{
	memset(q, 0, sizeof(*q));
	q->ops = ops;
	q->deadline_ms = deadline_ms;
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
	if (!q->sent)
		ev_timer_arm(q->kick, 0);
	return r->id;
}

struct gwq_req *gwq_on_wire(const struct gwq *q)
{
	return q->sent ? q->head : NULL;
}

/* The callback may free the queue (a backend stopped from inside it):
 * nothing here touches q after it. */
void gwq_finish(struct gwq *q, const struct gw_result *res)
{
	struct gwq_req *r = q->head;

	if (!r)
		return;
	q->head = r->next;
	if (!q->head)
		q->tail = NULL;
	q->sent = false;
	ev_timer_disarm(q->deadline);
	if (q->head)
		ev_timer_arm(q->kick, 0);
	if (!r->cancelled && r->cb)
		r->cb(r->arg, res);
	free(r);
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
	struct gwq_req **pp = &q->head, *prev = NULL;

	for (; *pp; prev = *pp, pp = &(*pp)->next) {
		struct gwq_req *r = *pp;

		if (r->id != id)
			continue;
		if (r == q->head && q->sent) {
			r->cancelled = true;     /* its answer is still read */
			return;
		}
		*pp = r->next;
		if (q->tail == r)
			q->tail = prev;
		free(r);
		return;
	}
}

void gwq_cancel_all(struct gwq *q)
{
	struct gwq_req *rest = q->head;

	if (rest && q->sent) {
		rest->cancelled = true;
		rest = rest->next;
		q->head->next = NULL;
		q->tail = q->head;
	} else {
		q->head = q->tail = NULL;
	}
	free_list(rest);
}

bool gwq_busy(const struct gwq *q)
{
	return q->head != NULL;
}
