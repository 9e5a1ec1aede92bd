/* pidwatch.c - a child's end seen from the loop (pidwatch.h). */
#include <stdlib.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ev.h"
#include "pidwatch.h"
#include "util.h"

#define POLL_FALLBACK_MS 50       /* no pidfd (old kernel): look this often */

struct pidwatch {
	pid_t pid;
	int pidfd;                     /* -1: polled with a timer */
	struct ev_timer *poll;
	pidwatch_cb done;
	void *arg;
};

bool pidwatch_exited(pid_t pid)
{
	siginfo_t si = { 0 };

	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       si.si_pid == pid;
}

static void on_pidfd(int fd, short revents, void *arg)
{
	struct pidwatch *w = arg;

	ev_fd_del(w->pidfd);        /* readable for good: once is enough */
	w->done(w->arg);
}

static void on_poll(void *arg)
{
	struct pidwatch *w = arg;

	if (pidwatch_exited(w->pid))
		w->done(w->arg);
	else
		ev_timer_arm(w->poll, POLL_FALLBACK_MS);
}

struct pidwatch *pidwatch_new(pid_t pid, pidwatch_cb done, void *arg)
{
	struct pidwatch *w = xcalloc(1, sizeof(*w));

	w->pid = pid;
	w->done = done;
	w->arg = arg;
	w->pidfd = pidfd_open(pid, 0);
	if (w->pidfd >= 0 && ev_fd_add(w->pidfd, POLLIN, on_pidfd, w) == 0)
		return w;
	if (w->pidfd >= 0)
		close(w->pidfd);
	w->pidfd = -1;
	w->poll = ev_timer_new(on_poll, w);
	ev_timer_arm(w->poll, POLL_FALLBACK_MS);
	return w;
}

void pidwatch_free(struct pidwatch *w)
{
	if (!w)
		return;
	if (w->pidfd >= 0) {
		ev_fd_del(w->pidfd);
		close(w->pidfd);
	}
	ev_timer_free(w->poll);
	free(w);
}
