/* helper_proc.c - the helper processes (helper_proc.h). Between fork and
 * exec the child only makes async-signal-safe calls. A helper being
 * stopped is reaped from the loop when it ends (pidwatch.h), never waited
 * for: one that ignores SIGTERM gets SIGKILL after HELPER_PROC_GRACE_MS. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <unistd.h>

#include "ev.h"
#include "helper_proc.h"
#include "homeport.h"
#include "log.h"
#include "pidwatch.h"
#include "util.h"

#ifndef HP_HELPER_DIR
#define HP_HELPER_DIR "/usr/local/libexec/homeport"
#endif

static bool executable(const char *path)
{
	return access(path, X_OK) == 0;
}

/* Next to our own executable, else the build-time directory. */
static void find_helper(struct helper_proc *P)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash && snprintf(P->path, sizeof(P->path), "%.*s/%s", (int)(slash - self), self,
				      P->name) < (int)sizeof(P->path) && executable(P->path))
			return;
	}
	snprintf(P->path, sizeof(P->path), "%s/%s", HP_HELPER_DIR, P->name);
}

void helper_proc_prepare(struct helper_proc *P)
{
	struct passwd *pw;

	if (P->prepared)
		return;
	P->prepared = true;
	if (!P->path[0])
		find_helper(P);
	if (!P->as_nobody || geteuid() != 0)
		return;
	pw = getpwnam("nobody");
	if (pw && pw->pw_uid != 0) {
		P->uid = pw->pw_uid;
		P->gid = pw->pw_gid;
		P->nobody = true;
	}
}

void helper_proc_set_path(struct helper_proc *P, const char *path)
{
	snprintf(P->path, sizeof(P->path), "%s", path);
}

#define ENV_MAX 8

/* Before the fork: the entries of our environment that P passes on. */
static void keep_env(const struct helper_proc *P, char **envp)
{
	size_t n = 0;

	for (const char *const *k = P->env_keep; k && *k && n + 1 < ENV_MAX; k++) {
		size_t len = strlen(*k);
		for (char **e = environ; *e; e++) {
			if (strncmp(*e, *k, len) == 0 && (*e)[len] == '=') {
				envp[n++] = *e;
				break;
			}
		}
	}
	envp[n] = NULL;
}

/* The child: never returns. */
static void exec_helper(const struct helper_proc *P, int fd, pid_t parent, char **envp)
{
	char *const argv[] = { (char *)P->name, NULL };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	sigset_t none;

	/* Out of the way of 0-3 first: dup2 onto them then clears close-on-exec. */
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	null = null < 0 ? -1 : fcntl(null, F_DUPFD_CLOEXEC, 10);
	if (fd < 0 || null < 0 || dup2(fd, HELPER_PROC_FD) < 0 || dup2(null, 0) < 0 ||
	    dup2(null, 1) < 0)
		_exit(126);
#ifndef HP_ASAN
	if (dup2(null, 2) < 0)          /* nothing it writes reaches our log */
		_exit(126);
#endif
	if (close_range(HELPER_PROC_FD + 1, ~0U, 0) < 0)
		_exit(126);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (P->nobody && (setgroups(0, NULL) < 0 || setgid(P->gid) < 0 || setuid(P->uid) < 0 ||
			 setuid(0) == 0))
		_exit(126);
	/* After the switch: changing credentials clears it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		_exit(126);
	execve(P->path, argv, envp);
	_exit(127);
}

int helper_proc_start(struct helper_proc *P, int *fd, pid_t *pid)
{
	pid_t parent = getpid();
	char *envp[ENV_MAX];
	int sv[2];

	helper_proc_prepare(P);
	keep_env(P, envp);
	if (!executable(P->path))    /* it will end at once: say why */
		log_warn("%s: helper %s", P->log_name, P->path);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("%s: socketpair", P->log_name);
		return -1;
	}
	*pid = fork();
	if (*pid < 0) {
		log_warn("%s: fork", P->log_name);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (*pid == 0)
		exec_helper(P, sv[1], parent, envp);
	close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		log_warn("%s: helper socket", P->log_name);
		close(sv[0]);
		helper_proc_stop(P, *pid);
		return -1;
	}
	*fd = sv[0];
	log_debug("%s: helper %d started (%s)", P->log_name, (int)*pid, P->path);
	return 0;
}

/* ---- stopping ---- */

/* A helper told to end, until it is reaped. */
struct ending {
	const char *log_name;
	pid_t pid;
	bool killed;                 /* by us, after the grace */
	struct pidwatch *watch;
	struct ev_timer *grace;
	struct ending *next;
};

static struct ending *endings;

static void ending_free(struct ending *e)
{
	for (struct ending **pp = &endings; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	pidwatch_free(e->watch);
	ev_timer_free(e->grace);
	free(e);
}

/* Why a helper ended, where it was not as told: its
 * own exit codes (helpers' and exec_helper()'s) and signals not ours. */
static void log_end(const struct ending *e, int status)
{
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	const char *why = code == 3 ? " (it could not confine itself)" :
			  code == 126 ? " (it could not be set up)" :
			  code == 127 ? " (it could not be run)" : "";

	if (code > 0)
		log_warnx("%s: helper %d exited with status %d%s", e->log_name, (int)e->pid, code,
			  why);
	else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM &&
		 !(e->killed && WTERMSIG(status) == SIGKILL))
		log_warnx("%s: helper %d killed by signal %d", e->log_name, (int)e->pid,
			  WTERMSIG(status));
	/* else it ended as told: no line (a flood of announcements stops
	 * helpers too, and the log must stay short) */
}

static void on_ended(void *arg)
{
	struct ending *e = arg;
	int status = 0;
	pid_t r;

	while ((r = waitpid(e->pid, &status, WNOHANG)) < 0 && errno == EINTR)
		;
	if (r == e->pid)
		log_end(e, status);
	ending_free(e);
}

static void on_grace(void *arg)
{
	struct ending *e = arg;

	log_notice("%s: helper %d did not end on SIGTERM: killed", e->log_name, (int)e->pid);
	e->killed = true;
	kill(e->pid, SIGKILL);
}

void helper_proc_stop(const struct helper_proc *P, pid_t pid)
{
	struct ending *e;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	e = xcalloc(1, sizeof(*e));
	e->log_name = P->log_name;
	e->pid = pid;
	e->grace = ev_timer_new(on_grace, e);
	ev_timer_arm(e->grace, HELPER_PROC_GRACE_MS);
	e->watch = pidwatch_new(pid, on_ended, e);
	e->next = endings;
	endings = e;
}

void helper_proc_reap_all(void)
{
	while (endings) {
		struct ending *e = endings;

		kill(e->pid, SIGKILL);
		while (waitpid(e->pid, NULL, 0) < 0 && errno == EINTR)
			;
		ending_free(e);
	}
}

size_t helper_proc_ending(void)
{
	size_t n = 0;

	for (const struct ending *e = endings; e; e = e->next)
		n++;
	return n;
}
