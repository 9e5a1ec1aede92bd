/* child.h - a program run beside the event loop, never blocking it.
 *
 * child_start() spawns argv[0] (an absolute path) with exactly envp, in a
 * session and process group of its own, stdin /dev/null, stdout and
 * stderr into one pipe read here (the first CHILD_OUTPUT_MAX bytes kept),
 * no other descriptor, default signal dispositions and an empty signal
 * mask, working directory "/". At timeout_s its whole process group is
 * killed (SIGKILL); when it exits, whatever it left running in its group
 * is killed too. done runs once, from the loop. */
#ifndef HP_CHILD_H
#define HP_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHILD_OUTPUT_MAX 2048

struct child_result {
	int status;                    /* wait(2) status */
	bool timed_out;                /* killed at its timeout */
	int64_t ms;                    /* how long it ran */
	const char *output;            /* NUL-terminated, at most CHILD_OUTPUT_MAX bytes */
	size_t output_len;
	size_t output_lost;            /* bytes read beyond that and dropped */
};

typedef void (*child_done_cb)(void *arg, const struct child_result *r);

struct child;

/* NULL with errno set when it cannot be started (ENOENT, EACCES, ...). */
struct child *child_start(char *const argv[], char *const envp[], uint32_t timeout_s,
			  child_done_cb done, void *arg);
/* Kill its process group, reap it, free; done is not called. NULL is fine. */
void child_stop(struct child *c);

#endif
