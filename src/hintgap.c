/* hintgap.c - an action at most once per gap (hintgap.h). */
#include <stddef.h>

#include "hintgap.h"

void hintgap_init(struct hintgap *g, int64_t gap_ms, ev_timer_cb action, void *arg)
{
	g->gap_ms = gap_ms;
	g->last_ms = 0;
	g->timer = action ? ev_timer_new(action, arg) : NULL;
}

void hintgap_fini(struct hintgap *g)
{
	ev_timer_free(g->timer);
	g->timer = NULL;
}

int64_t hintgap_wait(const struct hintgap *g)
{
	int64_t left = g->last_ms ? g->last_ms + g->gap_ms - ev_now_ms() : 0;

	return left > 0 ? left : 0;
}

void hintgap_arm(struct hintgap *g, int64_t ms)
{
	if (!ev_timer_armed(g->timer))
		ev_timer_arm(g->timer, ms > 0 ? ms : 0);
}

void hintgap_hurry(struct hintgap *g)
{
	if (ev_timer_armed(g->timer))
		ev_timer_arm(g->timer, 0);
}

bool hintgap_due(const struct hintgap *g)
{
	return g->timer && ev_timer_armed(g->timer);
}

void hintgap_disarm(struct hintgap *g)
{
	ev_timer_disarm(g->timer);
}

void hintgap_ran(struct hintgap *g)
{
	g->last_ms = ev_now_ms();
}

void hintgap_reset(struct hintgap *g)
{
	g->last_ms = 0;
	hintgap_disarm(g);
}

bool hintgap_take(struct hintgap *g)
{
	if (hintgap_wait(g) > 0)
		return false;
	hintgap_ran(g);
	return true;
}
