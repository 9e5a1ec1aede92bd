/* sandbox.c - confining homeport-http-helper (http_sandbox.h) with the
 * helpers' common sandbox (sandbox.h). What libcurl 7.88 with OpenSSL 3
 * and glibc's resolver use, from their set-up on, was measured with
 * strace -f over the HTTPS providers' and webhooks' tests (test_providers.py,
 * test_clouddns.py, test_hooks.py) and name resolution through DNS
 * (test_trust.py): beyond the common calls, reading files (CA bundles,
 * resolver configuration, /etc/localtime), the socketpairs libcurl wakes
 * itself with, and the threaded resolver's threads. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <sched.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_sandbox.h"
#include "sandbox.h"

static const char *const calls[] = {
	"lseek", "pread64", "uname",               /* reading files; see rules() */
	"signalfd4",                               /* ev.c's, made confined */
	"sysinfo",                                 /* OpenSSL's set-up */
	"sendmmsg",                                /* glibc's DNS queries */
	"set_robust_list", "rseq",                 /* a new thread */
	"sched_getaffinity",                       /* (its CPUs: ASan's threads ask) */
	NULL,
};

static const unsigned long ioctls[] = { FIONREAD, FIONBIO };

/* Flags of open(2) that would change a file or make one. */
#define WRITE_FLAGS (O_ACCMODE | O_CREAT | O_TRUNC)

static int rules(scmp_filter_ctx ctx)
{
	int rc = 0;

	/* Files read-only: CA bundles, resolver configuration. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
			       SCMP_A2(SCMP_CMP_MASKED_EQ, WRITE_FLAGS, O_RDONLY));
	/* libcurl's wake-up pairs: connected to nothing else. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
			       SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	/* Threads (the resolver's), never a process. clone3's flags are out
	 * of the filter's sight: ENOSYS makes glibc fall back to clone. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			       SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	return rc;
}

static const struct sandbox_policy policy = {
	.calls = calls, .ioctls = ioctls, .n_ioctls = sizeof(ioctls) / sizeof(ioctls[0]),
	.rules = rules,
	/* beyond the image: libcurl, OpenSSL, and a resolver thread (its
	 * stack, perhaps a malloc arena) for each name being looked up: 32
	 * at once pass (--check-sandbox) */
	.mem_margin = 512UL << 20,
};

int http_sandbox_enter(int fd)
{
	return sandbox_enter(fd, &policy);
}

static int resolve(const char *name)
{
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(name, "443", NULL, &ai);

	freeaddrinfo(ai);
	if (rc != 0)
		errno = rc == EAI_SYSTEM ? errno : ENOENT;
	return rc == 0 ? 0 : -1;
}

#define THREADS 32                /* resolver threads alive at once, in the check */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool go;
} start = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };

/* What libcurl's resolver thread does, once all of them are up. */
static void *resolver(void *arg)
{
	pthread_mutex_lock(&start.lock);
	while (!start.go)
		pthread_cond_wait(&start.cond, &start.lock);
	pthread_mutex_unlock(&start.lock);
	return (void *)(intptr_t)resolve("localhost");
}

static int start_threads(void)
{
	pthread_t t[THREADS];
	int rc = 0, n = 0;
	void *res;

	while (n < THREADS && (rc = pthread_create(&t[n], NULL, resolver, NULL)) == 0)
		n++;
	pthread_mutex_lock(&start.lock);
	start.go = true;
	pthread_cond_broadcast(&start.cond);
	pthread_mutex_unlock(&start.lock);
	for (int i = 0; i < n; i++)
		if (pthread_join(t[i], &res) == 0 && res && rc == 0)
			rc = ENOENT;
	errno = rc;
	return rc ? -1 : 0;
}

static int start_process(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	return pid < 0 ? -1 : 0;
}

static int own(void)
{
	int sv[2] = { -1, -1 }, bad = 0;

	bad |= sandbox_expect_fd("open /etc/hosts read-only", open("/etc/hosts", O_RDONLY), true);
	bad |= sandbox_expect_fd("open /dev/null for writing", open("/dev/null", O_WRONLY), false);
	bad |= sandbox_expect_fd("create a file",
				 open("/tmp/homeport-sandbox-check", O_RDONLY | O_CREAT, 0600),
				 false);
	bad |= sandbox_expect("unix socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv), true);
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	bad |= sandbox_expect("resolve localhost", resolve("localhost"), true);
	bad |= sandbox_expect("32 resolver threads at once", start_threads(), true);
	bad |= sandbox_expect("start a process", start_process(), false);
	bad |= sandbox_expect("ptrace", (int)ptrace(PTRACE_TRACEME, 0, NULL, NULL), false);
	return bad;
}

int http_sandbox_check(void)
{
	return sandbox_check(&policy, own);
}
