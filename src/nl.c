/* nl.c - rtnetlink plumbing (nl.h). */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nl.h"

#define REQ_MAX 32                   /* bytes after the header: rtmsg, ifaddrmsg */

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

int nl_dump(int fd, uint16_t type, const void *req, size_t len, uint32_t seq)
{
	struct {
		struct nlmsghdr h;
		char body[REQ_MAX];
	} m;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	if (len > sizeof(m.body)) {
		errno = EINVAL;
		return -1;
	}
	memset(&m, 0, sizeof(m));
	m.h.nlmsg_len = NLMSG_LENGTH(len);
	m.h.nlmsg_type = type;
	m.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	m.h.nlmsg_seq = seq;
	memcpy(NLMSG_DATA(&m.h), req, len);
	return sendto(fd, &m, m.h.nlmsg_len, 0, (struct sockaddr *)&kernel,
		      sizeof(kernel)) == (ssize_t)m.h.nlmsg_len ? 0 : -1;
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

int nl_walk(const void *buf, size_t len, int (*fn)(const struct nlmsghdr *h, void *arg),
	    void *arg)
{
	const struct nlmsghdr *h = buf;
	unsigned int left = (unsigned int)len;

	if (len > 0x7fffffff)
		return -1;
	for (; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		if (h->nlmsg_type == NLMSG_ERROR || fn(h, arg) < 0)
			return -1;
	}
	return left == 0 ? 0 : -1;
}
