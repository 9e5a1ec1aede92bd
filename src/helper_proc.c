/* helper_proc.c - the helper processes (helper_proc.h). Between fork and
 * exec the child only makes async-signal-safe calls. */
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
#include <unistd.h>

#include "helper_proc.h"
#include "homeport.h"
#include "log.h"

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
		helper_proc_stop(*pid);
		return -1;
	}
	*fd = sv[0];
	log_debug("%s: helper %d started (%s)", P->log_name, (int)*pid, P->path);
	return 0;
}

void helper_proc_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}
