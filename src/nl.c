/* nl.c - rtnetlink sockets (nl.h). */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nl.h"
#include "nlmsg.h"

int nl_open(unsigned groups, bool nonblock)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0),
			NETLINK_ROUTE);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int nl_dump(int fd, uint16_t type, int family, uint32_t seq)
{
	uint8_t req[64];
	size_t n = nlmsg_dump_request(req, sizeof(req), type, family, seq);
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	return sendto(fd, req, n, 0, (struct sockaddr *)&kernel, sizeof(kernel)) == (ssize_t)n ?
	       0 : -1;
}

ssize_t nl_recv(int fd, void *buf, size_t len, int flags)
{
	struct sockaddr_nl from;
	socklen_t flen = sizeof(from);
	ssize_t n;

	do
		n = recvfrom(fd, buf, len, flags, (struct sockaddr *)&from, &flen);
	while (n < 0 && errno == EINTR);
	if (n > 0 && (flen != sizeof(from) || from.nl_pid != 0))
		return 0;
	return n;
}
