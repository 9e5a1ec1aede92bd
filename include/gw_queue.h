/* gw_queue.h - the request queue every gateway backend shares: ids, one
 * request on the wire at a time, a deadline each, cancel and cancel-all.
 *
 * A backend embeds struct gwq_req at the start of its own request struct,
 * pushes it (the queue owns it from then on), and puts the head on the
 * wire when the queue asks (ops->send). It reports the answer with
 * gwq_finish(); past the deadline the queue calls ops->expired (the
 * backend forgets the request: kills a helper, stops retransmitting) and
 * finishes the request as GW_GONE "timed out after N ms". A cancelled
 * request that is on the wire still runs to its end, quietly: its answer
 * must not be taken for the next request's. */
#ifndef HP_GW_QUEUE_H
#define HP_GW_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "ev.h"
#include "gw_backend.h"
#include "log.h"

struct gwq_req {
	struct gwq_req *next;
	uint64_t id;
	bool cancelled;
	gw_cb cb;
	void *arg;
};

struct gwq;

struct gwq_ops {
	/* Put r (the head) on the wire: 0, or -1 after filling res (the
	 * request then finishes with it). */
	int  (*send)(struct gwq *q, struct gwq_req *r, struct gw_result *res);
	/* The deadline of r passed: forget it (the queue finishes it). */
	void (*expired)(struct gwq *q, struct gwq_req *r);
};

struct gwq {
	const struct gwq_ops *ops;
	struct gwq_req *head, *tail;     /* head is on the wire when sent */
	bool sent;
	int deadline_ms;
	struct ev_timer *deadline, *kick;
};

int  gwq_init(struct gwq *q, const struct gwq_ops *ops, int deadline_ms);
void gwq_fini(struct gwq *q);            /* frees every request, no callbacks */

/* Queue r (calloc'ed by the caller; freed by the queue). Returns its id. */
uint64_t gwq_push(struct gwq *q, struct gwq_req *r, gw_cb cb, void *arg);
/* The request on the wire, or NULL. */
struct gwq_req *gwq_on_wire(const struct gwq *q);
/* The request on the wire is answered: its callback (unless cancelled). */
void gwq_finish(struct gwq *q, const struct gw_result *res);
void gwq_fail(struct gwq *q, enum gw_outcome o, const char *fmt, ...) HP_PRINTF(3, 4);
void gwq_cancel(struct gwq *q, uint64_t id);
void gwq_cancel_all(struct gwq *q);
bool gwq_busy(const struct gwq *q);      /* a request is queued or on the wire */

#endif
