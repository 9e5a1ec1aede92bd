/* helper_proc.h - starting and ending the daemon's helper programs
 * (homeport-upnp-helper, homeport-http-helper). A helper is a program of
 * its own, exec'd from a fork so that it never holds a copy of the
 * daemon's memory: fd HELPER_PROC_FD is its end of a SOCK_SEQPACKET
 * socketpair, 0-2 are /dev/null, its environment is empty but for the
 * variables it names in env_keep, it runs with
 * NO_NEW_PRIVS, dies with the daemon (PR_SET_PDEATHSIG) and, if asked,
 * as "nobody" when the daemon is root.
 *
 * Where it is: next to the running homeportd (a build tree, or a package
 * that installs both in one directory), else in HP_HELPER_DIR, fixed at
 * build time ($(LIBEXECDIR)/homeport). */
#ifndef HP_HELPER_PROC_H
#define HP_HELPER_PROC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HELPER_PROC_FD 3             /* the helper's end of the socketpair */
#define HELPER_PROC_GRACE_MS 1000    /* from SIGTERM to SIGKILL */

struct helper_proc {
	const char *name;            /* program file name */
	const char *log_name;        /* for messages: "upnp", "http" */
	bool as_nobody;              /* switch to "nobody" when we run as root */
	const char *const *env_keep; /* NULL-ended names passed on from our environment */
	/* filled in by helper_proc_prepare() */
	bool prepared, nobody;
	uid_t uid;
	gid_t gid;
	char path[PATH_MAX];
};

/* Once, before any fork (name service lookups, the path). */
void helper_proc_prepare(struct helper_proc *p);
/* Tools that are not homeportd name the helper themselves. */
void helper_proc_set_path(struct helper_proc *p, const char *path);

/* Start one: 0 with *fd (ours, non-blocking, close-on-exec) and *pid;
 * -1 (logged) otherwise. */
int  helper_proc_start(struct helper_proc *p, int *fd, pid_t *pid);
/* End it without waiting: SIGTERM now, SIGKILL HELPER_PROC_GRACE_MS later
 * if it is still there; it is reaped from the loop when it ends, and why
 * it ended is logged when that is not our signal (an exit status of its
 * own: 3, it could not confine itself). */
void helper_proc_stop(const struct helper_proc *p, pid_t pid);
/* At the end, before ev_fini(): kill and reap those still ending. */
void helper_proc_reap_all(void);
/* How many are ending (stopped, not reaped yet). */
size_t helper_proc_ending(void);

#endif
