/* hook.h - [hook:NAME]: run a program or call a URL on events.
 *
 * Each hook has its own FIFO of the events it asked for (HOOK_QUEUE_MAX;
 * when full the oldest is dropped and the number dropped is logged) and
 * at most one run at a time, beside the loop: a program through child.c,
 * a URL through http.c's curl multi handle. Every run ends in one log
 * line (exit status, HTTP status, or why it failed), a program's output
 * is logged (bounded), and the counters feed the metrics. */
#ifndef HP_HOOK_H
#define HP_HOOK_H

#include <jansson.h>
#include "config.h"

#define HOOK_QUEUE_MAX 128
#define HOOK_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

int  hook_init(const struct hp_config *cfg);          /* subscribes to events; 0 / -1 */
/* After a reload: hooks are matched by name and keep their queue; a
 * removed hook's queue is dropped, its run in flight ends on its own. */
void hook_apply_config(const struct hp_config *cfg);
void hook_fini(void);          /* kills runs in flight, drops queues (logged) */

/* [{"name", "runs", "failures", "dropped", "queued"}] for the metrics. */
json_t *hook_stats_json(void);

#endif
