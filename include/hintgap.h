/* hintgap.h - an action that announcements (hints) ask for, at most once
 * per gap: gateway.c's questions to the gateway, gw_pcp.c's ANNOUNCE
 * requests. Asked within the gap, the action is put off to the gap's end
 * on a timer that, once armed, is never pushed back: a flood costs one
 * action per gap and cannot starve it. Without a timer (action NULL) it
 * is a plain limit: hintgap_take() says whether the gap has passed. */
#ifndef HP_HINTGAP_H
#define HP_HINTGAP_H

#include <stdbool.h>
#include <stdint.h>

#include "ev.h"

struct hintgap {
	int64_t gap_ms;
	int64_t last_ms;             /* when the action last ran; 0: never */
	struct ev_timer *timer;      /* the put-off action; NULL: a plain limit */
};

void hintgap_init(struct hintgap *g, int64_t gap_ms, ev_timer_cb action, void *arg);
void hintgap_fini(struct hintgap *g);

/* ms until the gap since the last run has passed: 0 when it has. */
int64_t hintgap_wait(const struct hintgap *g);
/* The action in ms, unless it is due already (a due time stays). */
void hintgap_arm(struct hintgap *g, int64_t ms);
/* The action that is due, at once. */
void hintgap_hurry(struct hintgap *g);
bool hintgap_due(const struct hintgap *g);
void hintgap_disarm(struct hintgap *g);
/* The action runs now: the gap starts. */
void hintgap_ran(struct hintgap *g);
/* Forget the last run (and what is due). */
void hintgap_reset(struct hintgap *g);
/* The plain limit: true, and the gap starts, when it has passed. */
bool hintgap_take(struct hintgap *g);

#endif
