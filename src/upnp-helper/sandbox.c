/* sandbox.c - confining homeport-upnp-helper (upnp_sandbox.h) with the
 * helpers' common sandbox (sandbox.h). What miniupnpc, glibc's allocator
 * and a numeric getaddrinfo() use was measured with strace against
 * miniupnpd and hostile servers (tests/integration/test_backends.py), and
 * IPv6 pinholes: a socket bound to the host's address (test_ipv6.py).
 * Beyond the common calls it needs only the ioctls that name an
 * interface; no file can be opened at all. */
#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include "sandbox.h"
#include "upnp_sandbox.h"

/* ioctl(2) requests allowed: on sockets, what an interface name needs. */
static const unsigned long ioctls[] = {
	FIONREAD, FIONBIO, SIOCGIFADDR, SIOCGIFINDEX, SIOCGIFCONF, SIOCGIFFLAGS,
};

static const struct sandbox_policy policy = {
	.ioctls = ioctls, .n_ioctls = sizeof(ioctls) / sizeof(ioctls[0]),
	.mem_margin = 128UL << 20,        /* beyond what the fresh image maps */
};

int upnp_sandbox_enter(int fd)
{
	return sandbox_enter(fd, &policy);
}

static int no_files(void)
{
	return sandbox_expect_fd("open /etc/passwd", open("/etc/passwd", O_RDONLY), false) |
	       sandbox_expect_fd("open /proc/self/status", open("/proc/self/status", O_RDONLY),
				 false);
}

int upnp_sandbox_check(void)
{
	return sandbox_check(&policy, no_files);
}
