/* sandbox.c - confining homeport-upnp-helper (upnp_sandbox.h). The
 * seccomp filter is an allow list (libseccomp): what miniupnpc, glibc's
 * allocator and a numeric getaddrinfo() use, measured with strace against
 * miniupnpd and hostile servers (tests/integration/test_backends.py), and
 * IPv6 pinholes: a socket bound to the host's address (test_ipv6.py).
 * Everything else fails with EPERM rather than killing the helper, so a
 * path we did not foresee ends as an error answer the daemon reports, not
 * as a dead helper; either way nothing forbidden happens. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "homeport.h"
#include "upnp_sandbox.h"

#define MEM_MARGIN (128UL << 20)   /* beyond what the fresh image maps */

/* Allowed without looking at arguments. A name this architecture does not
 * have is skipped. */
static const char *const plain[] = {
	/* the socket to the daemon and the router's sockets */
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

/* ioctl(2) requests allowed: on sockets, what an interface name needs. */
static const unsigned long ioctls[] = {
	FIONREAD, FIONBIO, SIOCGIFADDR, SIOCGIFINDEX, SIOCGIFCONF, SIOCGIFFLAGS,
};

static int allow(scmp_filter_ctx ctx, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0;
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

static int rules(scmp_filter_ctx ctx)
{
	int rc = 0;

	for (size_t i = 0; plain[i]; i++)
		rc |= allow(ctx, plain[i]);
	/* Internet sockets only: no Unix socket (the control socket), no
	 * netlink, no raw packets of other families. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			       SCMP_A0(SCMP_CMP_EQ, AF_INET));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			       SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_EQ, ioctls[i]));
	return rc;
}

static int filter(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int rc = -1;

	if (!ctx)
		return -1;
	if (rules(ctx) == 0 && seccomp_load(ctx) == 0)
		rc = 0;
	seccomp_release(ctx);
	return rc;
}

/* Cap the address space: a router's endless body ends in ENOMEM, not in
 * the machine's memory. ASan reserves terabytes: not there. */
static void limit_memory(void)
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
	rl.rlim_cur = rl.rlim_max = pages * (unsigned long)sysconf(_SC_PAGESIZE) + MEM_MARGIN;
	setrlimit(RLIMIT_AS, &rl);
#endif
}

int sandbox_enter(int fd)
{
	if (close_range((unsigned)fd + 1, ~0U, 0) < 0)
		return -1;
	limit_memory();
	/* The daemon set it before exec; set it again in case we were run
	 * some other way: seccomp needs it without CAP_SYS_ADMIN. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return filter();
}

static int expect(const char *what, int rc, bool allowed)
{
	bool ok = allowed ? rc >= 0 : rc < 0 && (errno == EPERM || errno == EACCES);

	printf("%s: %s (%s)\n", what, rc >= 0 ? "allowed" : strerror(errno), ok ? "ok" : "WRONG");
	return ok ? 0 : 1;
}

static int expect_fd(const char *what, int fd, bool allowed)
{
	int bad = expect(what, fd, allowed);

	if (fd >= 0)
		close(fd);
	return bad;
}

int sandbox_check(void)
{
	static char true_path[] = "/bin/true";
	char *const argv[] = { true_path, NULL }, *const envp[] = { NULL };
	int bad = 0;

	fflush(stdout);
	if (sandbox_enter(STDOUT_FILENO) < 0) {
		printf("cannot enter the sandbox: %s\n", strerror(errno));
		return 1;
	}
	bad |= expect_fd("open /etc/passwd", open("/etc/passwd", O_RDONLY), false);
	bad |= expect_fd("open /proc/self/status", open("/proc/self/status", O_RDONLY), false);
	bad |= expect_fd("unix socket", socket(AF_UNIX, SOCK_STREAM, 0), false);
	bad |= expect_fd("netlink socket", socket(AF_NETLINK, SOCK_RAW, 0), false);
	bad |= expect_fd("inet socket", socket(AF_INET, SOCK_STREAM, 0), true);
	bad |= expect_fd("inet6 socket", socket(AF_INET6, SOCK_DGRAM, 0), true);
	bad |= expect("signal a process", kill(getpid(), 0), false);
	bad |= expect("execve /bin/true", execve(argv[0], argv, envp), false);
	fflush(stdout);
	return bad;
}
