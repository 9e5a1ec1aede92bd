/* child.c - programs run beside the event loop (hooks).
 *
 * posix_spawn (a vfork-style clone in glibc: no copy of the daemon's
 * memory, which matters under ASan) does the set-up in the child: a new
 * session (setsid), signals back to default and unblocked (the daemon
 * blocks its own for signalfd), fds 0-2 only, chdir "/". Its exit is seen
 * from the loop (pidwatch.h). Before the exited leader is reaped its
 * process group is killed: a zombie keeps its pid, so the group id cannot
 * have been reused by then. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "ev.h"
#include "log.h"
#include "pidwatch.h"
#include "util.h"

struct child {
	pid_t pid;
	struct pidwatch *watch;
	int out_fd;                    /* read end of stdout+stderr, -1 at EOF */
	char out[CHILD_OUTPUT_MAX + 1];
	size_t out_len, out_lost;
	bool timed_out;
	int64_t started_ms;
	struct ev_timer *deadline;
	child_done_cb done;
	void *arg;
};

static void close_output(struct child *c)
{
	if (c->out_fd < 0)
		return;
	ev_fd_del(c->out_fd);
	close(c->out_fd);
	c->out_fd = -1;
}

static void read_output(struct child *c)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(c->out_fd, buf, sizeof(buf))) > 0) {
		size_t keep = CHILD_OUTPUT_MAX - c->out_len;
		if (keep > (size_t)n)
			keep = (size_t)n;
		memcpy(c->out + c->out_len, buf, keep);
		c->out_len += keep;
		c->out_lost += (size_t)n - keep;
	}
	c->out[c->out_len] = '\0';
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		close_output(c);
}

static void on_output(int fd, short revents, void *arg)
{
	read_output(arg);
}

static void child_free(struct child *c)
{
	close_output(c);
	pidwatch_free(c->watch);
	ev_timer_free(c->deadline);
	free(c);
}

/* Kill the group, then reap the leader (a zombie already, or soon). */
static int reap(struct child *c)
{
	int status = 0;

	kill(-c->pid, SIGKILL);
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

static void finish(struct child *c)
{
	struct child_result r = { .timed_out = c->timed_out };

	r.status = reap(c);
	if (c->out_fd >= 0)
		read_output(c);       /* what it wrote just before it ended */
	r.ms = ev_now_ms() - c->started_ms;
	r.output = c->out;
	r.output_len = c->out_len;
	r.output_lost = c->out_lost;
	c->done(c->arg, &r);
	child_free(c);
}

static void on_exit_seen(void *arg)
{
	finish(arg);
}

static void on_deadline(void *arg)
{
	struct child *c = arg;

	c->timed_out = true;
	kill(-c->pid, SIGKILL);     /* the leader lives: the group id is its own */
}

static int spawn(struct child *c, char *const argv[], char *const envp[], int out_w)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	posix_spawn_file_actions_adddup2(&fa, out_w, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawn_file_actions_addchdir_np(&fa, "/");
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	rc = posix_spawn(&c->pid, argv[0], &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return rc;
}

struct child *child_start(char *const argv[], char *const envp[], uint32_t timeout_s,
			  child_done_cb done, void *arg)
{
	struct child *c = xcalloc(1, sizeof(*c));
	int pipefd[2], rc;

	c->out_fd = -1;
	c->done = done;
	c->arg = arg;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		free(c);
		return NULL;
	}
	rc = spawn(c, argv, envp, pipefd[1]);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		free(c);
		errno = rc;
		return NULL;
	}
	c->started_ms = ev_now_ms();
	c->out_fd = pipefd[0];
	fcntl(c->out_fd, F_SETFL, O_NONBLOCK);   /* ours only: the child's end blocks */
	if (ev_fd_add(c->out_fd, POLLIN, on_output, c) < 0)
		close_output(c);
	c->deadline = ev_timer_new(on_deadline, c);
	ev_timer_arm(c->deadline, (int64_t)timeout_s * 1000);
	c->watch = pidwatch_new(c->pid, on_exit_seen, c);
	return c;
}

void child_stop(struct child *c)
{
	if (!c)
		return;
	reap(c);
	child_free(c);
}
