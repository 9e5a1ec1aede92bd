/* sandbox.h - what the helpers' sandboxes have in common (src/sandbox/),
 * for homeport-upnp-helper (upnp_sandbox.h) and homeport-http-helper
 * (http_sandbox.h): nothing open but the socket to the daemon, a cap on
 * the address space, NO_NEW_PRIVS, and a seccomp filter that is an allow
 * list. Every helper may use its socket, memory, time, signals and
 * Internet sockets (AF_INET, AF_INET6); a policy adds its own calls. A
 * call outside the list fails with EPERM rather than killing the helper,
 * so a path nobody foresaw ends as an error the daemon reports. */
#ifndef HP_SANDBOX_H
#define HP_SANDBOX_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>

struct sandbox_policy {
	const char *const *calls;         /* allowed whatever their arguments, NULL-ended */
	const unsigned long *ioctls;      /* ioctl(2) requests allowed */
	size_t n_ioctls;
	int (*rules)(scmp_filter_ctx ctx); /* rules on arguments; NULL: none */
	unsigned long mem_margin;         /* address space allowed beyond the image */
};

/* A helper's start, before it confines itself: with --check-sandbox it
 * exits with check()'s result, with any other argument 64; else signals
 * are back to default (SIGPIPE ignored) and none is blocked. */
void sandbox_start(int argc, char **argv, const char *name, int (*check)(void));

/* Confine this process: fd is the one descriptor kept open. 0 / -1. */
int sandbox_enter(int fd, const struct sandbox_policy *p);

/* Allow the call named (skipped where this architecture has none). */
int sandbox_allow(scmp_filter_ctx ctx, const char *name);

/* The --check-sandbox mode: confine (fds 0-2 kept), try what every helper is
 * refused and allowed, then what own() tries, one line each on stdout:
 * "WHAT: allowed|ERROR (ok|WRONG)". 0 when all came out as they should. */
int sandbox_check(const struct sandbox_policy *p, int (*own)(void));
/* One line of it: rc < 0 with errno EPERM/EACCES is a refusal. 0 / 1. */
int sandbox_expect(const char *what, int rc, bool allowed);
/* The same for a call that returns a descriptor, closed after. */
int sandbox_expect_fd(const char *what, int fd, bool allowed);

#endif
