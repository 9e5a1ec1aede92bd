/* ipif.c - an interface's IPv4 address through rtnetlink.
 *
 * Two sockets: one subscribed to RTMGRP_IPV4_IFADDR for events, one for
 * the dump that says what is there at start. Events are read only once the
 * dump is complete, so an event queued meanwhile is applied after the
 * snapshot it may postdate, never before it. When the kernel drops events
 * (ENOBUFS: the socket overflowed) the set is dumped afresh. Both sockets
 * are non-blocking and read from the event loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ev.h"
#include "ipif.h"
#include "log.h"
#include "nl.h"
#include "nlmsg.h"
#include "util.h"

#define RECV_BUF 16384

static struct {
	bool running;
	char ifname[IF_NAMESIZE];
	unsigned ifindex;              /* at start; labels find a re-created interface */
	int ev_fd, dump_fd;
	uint32_t seq;
	struct ipif_set set, dumping;
	bool have;                     /* what was last reported */
	struct in_addr cur;
	bool reported;
	ipif_cb cb;
	void *cb_arg;
} I = { .ev_fd = -1, .dump_fd = -1 };

/* ---- the pure part ---- */

static bool label_matches(const char *label, const char *ifname)
{
	size_t n = strlen(ifname);

	return strncmp(label, ifname, n) == 0 && (label[n] == '\0' || label[n] == ':');
}

static ssize_t set_find(const struct ipif_set *set, struct in_addr a)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].a.s_addr == a.s_addr)
			return (ssize_t)i;
	return -1;
}

static void set_put(struct ipif_set *set, struct in_addr a, bool secondary)
{
	ssize_t i = set_find(set, a);

	if (i < 0) {
		if (set->n == IPIF_MAX)
			return;                 /* more aliases than anyone publishes */
		i = (ssize_t)set->n++;
	}
	set->v[i].a = a;
	set->v[i].secondary = secondary;
}

static void set_drop(struct ipif_set *set, struct in_addr a)
{
	ssize_t i = set_find(set, a);

	if (i < 0)
		return;
	memmove(&set->v[i], &set->v[i + 1], (set->n - (size_t)i - 1) * sizeof(set->v[0]));
	set->n--;
}

struct apply {
	struct ipif_set *set;
	const char *ifname;
	unsigned ifindex;
};

/* One RTM_NEWADDR / RTM_DELADDR (nlmsg.c takes IFA_LOCAL, this host's
 * address, over IFA_ADDRESS, which is the peer's on a PPP link). */
static void apply_addr(const struct nlmsg *m, void *arg)
{
	const struct apply *ap = arg;
	const struct nlmsg_addr *a = &m->u.addr;

	if (a->family != AF_INET)
		return;
	if (a->label[0] ? !label_matches(a->label, ap->ifname) :
	    (unsigned)a->ifindex != ap->ifindex || !ap->ifindex)
		return;
	if (m->del)
		set_drop(ap->set, a->addr.v4);
	else
		set_put(ap->set, a->addr.v4, a->flags & IFA_F_SECONDARY);
}

int ipif_apply(struct ipif_set *set, const char *ifname, unsigned ifindex,
	       const void *buf, size_t len)
{
	struct apply ap = { .set = set, .ifname = ifname, .ifindex = ifindex };

	return nlmsg_each(buf, len, NLMSG_K_ADDR, apply_addr, &ap);
}

bool ipif_choose(const struct ipif_set *set, struct in_addr *out)
{
	int best = -1, best_rank = 0;

	for (size_t i = 0; i < set->n; i++) {
		int rank = (ipv4_is_public(set->v[i].a) ? 2 : 0) + (set->v[i].secondary ? 0 : 1);
		if (best < 0 || rank > best_rank) {
			best = (int)i;
			best_rank = rank;
		}
	}
	if (best < 0)
		return false;
	*out = set->v[best].a;
	return true;
}

/* ---- the sockets ---- */

static void on_event(int fd, short revents, void *arg);

static void why_none(char *buf, size_t len)
{
	if (if_nametoindex(I.ifname) == 0)
		snprintf(buf, len, "interface %s does not exist", I.ifname);
	else
		snprintf(buf, len, "interface %s has no IPv4 address", I.ifname);
}

/* Tell the callback when the chosen address changed. */
static void report(void)
{
	struct in_addr a;
	bool have = ipif_choose(&I.set, &a);
	char ip[INET_ADDRSTRLEN], why[IF_NAMESIZE + 64];

	if (I.reported && have == I.have && (!have || a.s_addr == I.cur.s_addr))
		return;
	I.reported = true;
	I.have = have;
	I.cur = a;
	if (have) {
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		log_info("ipif: %s has %s", I.ifname, ip);
	} else {
		why_none(why, sizeof(why));
		log_warnx("ipif: %s", why);
	}
	if (I.cb)
		I.cb(I.cb_arg, have ? ip : NULL, have ? NULL : why);
}

static void close_fd(int *fd)
{
	if (*fd < 0)
		return;
	ev_fd_del(*fd);
	close(*fd);
	*fd = -1;
}

/* Read what is queued on fd into set. 1: the dump ended, 0: nothing more
 * now, -1: the socket failed, -2: the kernel dropped events (ENOBUFS). */
static int drain(int fd, struct ipif_set *set)
{
	static char buf[RECV_BUF];

	for (;;) {
		ssize_t n = nl_recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		int rc;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0 && errno == ENOBUFS)
			return -2;
		if (n < 0)
			return -1;
		if (n == 0)
			continue;               /* not the kernel's */
		rc = ipif_apply(set, I.ifname, I.ifindex, buf, (size_t)n);
		if (rc != 0)
			return rc;
	}
}

static void on_dump(int fd, short revents, void *arg)
{
	int rc = drain(fd, &I.dumping);

	if (rc == 0)
		return;
	close_fd(&I.dump_fd);
	if (rc < 0) {
		log_warnx("ipif: reading the addresses of %s failed", I.ifname);
		return;
	}
	I.set = I.dumping;
	if (ev_fd_add(I.ev_fd, POLLIN, on_event, NULL) < 0)
		log_warn("ipif: cannot watch address events");
	report();
	on_event(I.ev_fd, POLLIN, NULL);     /* what came during the dump */
}

/* Ask the kernel for every IPv4 address; events wait until it answered. */
static int start_dump(void)
{
	ev_fd_del(I.ev_fd);
	close_fd(&I.dump_fd);
	memset(&I.dumping, 0, sizeof(I.dumping));
	I.dump_fd = nl_open(0, true);
	if (I.dump_fd < 0 || nl_dump(I.dump_fd, RTM_GETADDR, AF_INET, ++I.seq) < 0 ||
	    ev_fd_add(I.dump_fd, POLLIN, on_dump, NULL) < 0) {
		log_warn("ipif: cannot ask the kernel for addresses");
		close_fd(&I.dump_fd);
		return -1;
	}
	return 0;
}

static void on_event(int fd, short revents, void *arg)
{
	int rc = drain(fd, &I.set);

	if (rc == -2) {
		log_notice("ipif: address events were lost; reading the addresses again");
		start_dump();
		return;
	}
	if (rc < 0)
		log_warnx("ipif: a malformed address event was ignored");
	report();
}

int ipif_start(const char *ifname, ipif_cb cb, void *arg)
{
	ipif_stop();
	snprintf(I.ifname, sizeof(I.ifname), "%s", ifname);
	I.ifindex = if_nametoindex(ifname);
	I.cb = cb;
	I.cb_arg = arg;
	I.reported = false;
	memset(&I.set, 0, sizeof(I.set));
	I.ev_fd = nl_open(RTMGRP_IPV4_IFADDR, true);
	if (I.ev_fd < 0) {
		log_warn("ipif: cannot open a netlink socket");
		return -1;
	}
	I.running = true;
	if (start_dump() < 0) {
		ipif_stop();
		return -1;
	}
	log_info("ipif: following the IPv4 address of %s", ifname);
	return 0;
}

void ipif_stop(void)
{
	close_fd(&I.dump_fd);
	close_fd(&I.ev_fd);
	I.running = false;
}

void ipif_describe(char *buf, size_t len)
{
	if (!I.running)
		snprintf(buf, len, "no interface is followed");
	else if (!I.reported)
		snprintf(buf, len, "reading the addresses of %s", I.ifname);
	else if (I.have)
		snprintf(buf, len, "external IP from interface %s", I.ifname);
	else
		why_none(buf, len);
}
