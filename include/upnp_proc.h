/* upnp_proc.h - starting and ending homeport-upnp-helper (owned by
 * gw_upnp.c). The helper is a program of its own, exec'd from a fork so
 * that it never holds a copy of the daemon's memory (secrets, config):
 * fd 3 is its end of a SOCK_SEQPACKET socketpair, 0-2 are /dev/null, its
 * environment is empty, it runs as "nobody" when the daemon is root, with
 * NO_NEW_PRIVS, and dies with the daemon (PR_SET_PDEATHSIG).
 *
 * Where it is: homeport-upnp-helper next to the running homeportd (a
 * build tree, or a package that installs both in one directory), else in
 * HP_HELPER_DIR, fixed at build time ($(LIBEXECDIR)/homeport). */
#ifndef HP_UPNP_PROC_H
#define HP_UPNP_PROC_H

#include <sys/types.h>

/* Once, before any fork (name service lookups, the path). */
void upnp_proc_prepare(void);
/* Tools that are not homeportd name the helper themselves. */
void upnp_proc_set_path(const char *path);
const char *upnp_proc_path(void);

/* Start a helper: 0 with *fd (ours, non-blocking, close-on-exec) and
 * *pid; -1 (logged) otherwise. */
int  upnp_proc_start(int *fd, pid_t *pid);
/* End it; reaped from the loop (helper_proc_stop()). */
void upnp_proc_stop(pid_t pid);

#endif
