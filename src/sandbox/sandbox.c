/* sandbox.c - the helpers' common confinement (sandbox.h). The calls
 * below are what both helpers make on their socket to the daemon and on
 * the network, and what glibc's allocator, clocks and signal handling
 * use; each helper's policy adds what its library needs, measured with
 * strace (see upnp-helper/sandbox.c, http-helper/sandbox.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "homeport.h"
#include "sandbox.h"

static const char *const common[] = {
	/* the socket to the daemon and the network's sockets */
	"read", "write", "readv", "writev", "close", "recvfrom", "sendto", "recvmsg", "sendmsg",
	"connect", "bind", "getsockname", "getpeername", "setsockopt", "getsockopt",
	"shutdown", "poll", "ppoll", "select", "pselect6", "fcntl",
	/* memory */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
	/* time, signals, exit */
	"clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
	"exit", "exit_group", "getpid", "gettid", "getrandom", "futex", "sched_yield",
	"newfstatat", "fstat",
	NULL,
};

int sandbox_allow(scmp_filter_ctx ctx, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0;
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

static int allow_list(scmp_filter_ctx ctx, const char *const *names)
{
	int rc = 0;

	for (size_t i = 0; names && names[i]; i++)
		rc |= sandbox_allow(ctx, names[i]);
	return rc;
}

static int rules(scmp_filter_ctx ctx, const struct sandbox_policy *p)
{
	int rc = allow_list(ctx, common) | allow_list(ctx, p->calls);

	/* Internet sockets only: no Unix socket (the control socket, nscd),
	 * no netlink, no raw packets of other families. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			       SCMP_A0(SCMP_CMP_EQ, AF_INET));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			       SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	for (size_t i = 0; i < p->n_ioctls; i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_EQ, p->ioctls[i]));
	if (p->rules)
		rc |= p->rules(ctx);
	return rc;
}

static int filter(const struct sandbox_policy *p)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int rc = -1;

	if (!ctx)
		return -1;
	if (rules(ctx, p) == 0 && seccomp_load(ctx) == 0)
		rc = 0;
	seccomp_release(ctx);
	return rc;
}

/* Cap the address space: an endless body ends in ENOMEM, not in the
 * machine's memory. ASan reserves terabytes: not there. */
static void limit_memory(unsigned long margin)
{
#ifndef HP_ASAN
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	struct rlimit rl;

	if (f) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	rl.rlim_cur = rl.rlim_max = pages * (unsigned long)sysconf(_SC_PAGESIZE) + margin;
	setrlimit(RLIMIT_AS, &rl);
#endif
}

int sandbox_enter(int fd, const struct sandbox_policy *p)
{
	if (close_range((unsigned)fd + 1, ~0U, 0) < 0)
		return -1;
	limit_memory(p->mem_margin);
	/* The daemon set it before exec; set it again in case we were run
	 * some other way: seccomp needs it without CAP_SYS_ADMIN. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return filter(p);
}

void sandbox_start(int argc, char **argv, const char *name, int (*check)(void))
{
	int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2 };
	sigset_t none;

	/* _exit: a sanitizer build's exit-time leak check cannot run confined. */
	if (argc == 2 && strcmp(argv[1], "--check-sandbox") == 0)
		_exit(check());
	if (argc != 1) {
		fprintf(stderr, "%s: started by homeportd only\n", name);
		_exit(64);
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int sandbox_expect(const char *what, int rc, bool allowed)
{
	bool ok = allowed ? rc >= 0 : rc < 0 && (errno == EPERM || errno == EACCES);

	printf("%s: %s (%s)\n", what, rc >= 0 ? "allowed" : strerror(errno), ok ? "ok" : "WRONG");
	return ok ? 0 : 1;
}

int sandbox_expect_fd(const char *what, int fd, bool allowed)
{
	int bad = sandbox_expect(what, fd, allowed);

	if (fd >= 0)
		close(fd);
	return bad;
}

int sandbox_check(const struct sandbox_policy *p, int (*own)(void))
{
	static char true_path[] = "/bin/true";
	char *const argv[] = { true_path, NULL }, *const envp[] = { NULL };
	int bad = 0;

	fflush(stdout);
	if (sandbox_enter(STDERR_FILENO, p) < 0) {
		printf("cannot enter the sandbox: %s\n", strerror(errno));
		return 1;
	}
	bad |= sandbox_expect_fd("unix socket", socket(AF_UNIX, SOCK_STREAM, 0), false);
	bad |= sandbox_expect_fd("netlink socket", socket(AF_NETLINK, SOCK_RAW, 0), false);
	bad |= sandbox_expect_fd("inet socket", socket(AF_INET, SOCK_STREAM, 0), true);
	bad |= sandbox_expect_fd("inet6 socket", socket(AF_INET6, SOCK_DGRAM, 0), true);
	bad |= sandbox_expect("signal a process", kill(getpid(), 0), false);
	bad |= sandbox_expect("execve /bin/true", execve(argv[0], argv, envp), false);
	if (own)
		bad |= own();
	fflush(stdout);
	return bad;
}
