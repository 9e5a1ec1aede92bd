/* pidwatch.h - being told from the loop that a child process has ended,
 * without reaping it (the caller does: child.c kills the rest of its
 * process group first, helper_proc.c reads its status). Through a pidfd
 * in the loop, or where there is none (an old kernel) a look every
 * 50 ms. */
#ifndef HP_PIDWATCH_H
#define HP_PIDWATCH_H

#include <stdbool.h>
#include <sys/types.h>

typedef void (*pidwatch_cb)(void *arg);

struct pidwatch;

/* done runs once, from the loop, when pid (our child) has exited. */
struct pidwatch *pidwatch_new(pid_t pid, pidwatch_cb done, void *arg);
/* Stop watching; done is not called. NULL is fine. */
void pidwatch_free(struct pidwatch *w);
/* Has pid exited (a zombie, not reaped yet)? */
bool pidwatch_exited(pid_t pid);

#endif
