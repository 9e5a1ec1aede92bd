/* gw_queue.h - the request queue every gateway backend shares: ids, a
 * small window of requests on the wire at once, a deadline each, cancel
 * and cancel-all.
 *
 * A backend embeds struct gwq_req at the start of its own request struct,
 * pushes it (the queue owns it from then on), and puts it on the wire
 * when the queue asks (ops->send). It reports the answer with
 * gwq_finish_req() (or gwq_finish() for the oldest on the wire); past the
 * deadline the queue calls ops->expired (the backend forgets the request:
 * kills a helper, stops retransmitting) and finishes the request as
 * GW_GONE "timed out after N ms". A cancelled request that is on the wire
 * still runs to its end, quietly: its answer must not be taken for
 * another request's.
 *
 * The window (how many requests may be on the wire at once): the router
 * serves requests one after another, but the round trips on our side
 * overlap, so a few at once map a batch faster. It starts at 1 and is
 * polite, like TCP's congestion window but quicker to back off
 * (gwq_window_good, gwq_window_note): an error answer, no answer or an
 * answer slower than GWQ_SLOW_MS takes it back to 1 at once; it grows by
 * one after a window's worth of quick good answers in a row (one step per
 * round trip), up to the backend's maximum (GWQ_WINDOW_MAX; 1 for a
 * protocol whose answers cannot be told apart). Requests leave in order:
 * one that must go alone (discovery) waits until the wire is empty, and
 * nothing leaves beside it. Requests about the same mapping are never on
 * the wire together (mapping.c sends the next only after the previous
 * one's answer), so the router cannot see them out of order. */
#ifndef HP_GW_QUEUE_H
#define HP_GW_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "ev.h"
#include "gw_backend.h"
#include "log.h"

/* The most on the wire at once. Against miniupnpd on the bed 2, 3 and 4
 * mapped 50 services equally fast (274 ms against 297 ms one at a time):
 * the router answers one after another, so two already hide our side's
 * round trip; the third covers a client side slower than the router's
 * (a helper starting, a Wi-Fi hop), and more only add load. */
#define GWQ_WINDOW_MAX 3
#define GWQ_SLOW_MS 300      /* a LAN router's answer takes a few ms; this one is busy */

struct gwq_req {
	struct gwq_req *next;        /* waiting list or wire list */
	uint64_t id;
	bool cancelled;
	bool alone;                  /* set before gwq_push: goes with nothing else on the
				      * wire, and its answer does not grow the window
				      * (discovery: its time and answer say nothing of
				      * the router's pace) */
	int64_t sent_ms;
	gw_cb cb;
	void *arg;
};

/* The window, apart so that its rule can be tested without I/O. */
struct gwq_window {
	unsigned size, max;
	unsigned streak;             /* quick good answers since the last step */
};

void gwq_window_init(struct gwq_window *w, unsigned max);
/* Is res, which took ms, a quick good answer? GW_OK and GW_NOT_FOUND (the
 * ordinary answer to reading back or deleting what is not there) are;
 * any other error answer, no answer or a slow one is not. */
bool gwq_window_good(const struct gw_result *res, int64_t ms);
/* Count one answer: good grows the window, bad takes it back to 1. */
void gwq_window_note(struct gwq_window *w, bool good);

struct gwq;

struct gwq_ops {
	/* Put r on the wire: 0, or -1 after filling res (the request then
	 * finishes with it). */
	int  (*send)(struct gwq *q, struct gwq_req *r, struct gw_result *res);
	/* The deadline of r passed: forget it (the queue finishes it). */
	void (*expired)(struct gwq *q, struct gwq_req *r);
};

struct gwq {
	const struct gwq_ops *ops;
	struct gwq_req *head, *tail;     /* waiting, in order */
	struct gwq_req *wire;            /* on the wire, oldest first */
	unsigned on_wire;
	struct gwq_window win;
	int deadline_ms;
	struct ev_timer *deadline, *kick;
};

/* max_window: 1 for a protocol that cannot tell its answers apart. */
int  gwq_init(struct gwq *q, const struct gwq_ops *ops, int deadline_ms, unsigned max_window);
void gwq_fini(struct gwq *q);            /* frees every request, no callbacks */

/* Queue r (calloc'ed by the caller; freed by the queue). Returns its id. */
uint64_t gwq_push(struct gwq *q, struct gwq_req *r, gw_cb cb, void *arg);
/* The oldest request on the wire, or NULL; ->next walks the others. */
struct gwq_req *gwq_on_wire(const struct gwq *q);
/* r (on the wire) is answered: its callback (unless cancelled). The
 * callback may stop the backend: nothing may touch q after this. */
void gwq_finish_req(struct gwq *q, struct gwq_req *r, const struct gw_result *res);
/* The same for the oldest request on the wire. */
void gwq_finish(struct gwq *q, const struct gw_result *res);
void gwq_fail(struct gwq *q, enum gw_outcome o, const char *fmt, ...) HP_PRINTF(3, 4);
void gwq_cancel(struct gwq *q, uint64_t id);
void gwq_cancel_all(struct gwq *q);
bool gwq_busy(const struct gwq *q);      /* a request is waiting or on the wire */
bool gwq_waiting(const struct gwq *q);   /* a request waits to be sent */

#endif
