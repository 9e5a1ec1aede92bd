/* test_ipif.c - following an interface's IPv4 address through rtnetlink:
 * the message parser on hand-built messages (labels, aliases, PPP peers,
 * deletions, malformed buffers), the choice among several addresses, and
 * the real kernel in a private network namespace (root only: addresses
 * added and removed there reach the callback without polling). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "ev.h"
#include "ipif.h"

/* ---- building messages ---- */

struct buf {
	char data[4096];
	size_t len;
};

static void add_attr(struct nlmsghdr *h, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* One RTM_NEWADDR / RTM_DELADDR; label NULL: none; peer: a PPP-style pair. */
static void add_msg(struct buf *b, int type, unsigned index, const char *label,
		    const char *local, const char *peer, unsigned char flags)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(b->data + b->len);
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	struct in_addr a;

	memset(h, 0, 512);
	h->nlmsg_len = NLMSG_LENGTH(sizeof(*ifa));
	h->nlmsg_type = (unsigned short)type;
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = 24;
	ifa->ifa_flags = flags;
	ifa->ifa_index = index;
	if (local) {
		inet_pton(AF_INET, local, &a);
		add_attr(h, IFA_LOCAL, &a, sizeof(a));
	}
	inet_pton(AF_INET, peer ? peer : local, &a);
	add_attr(h, IFA_ADDRESS, &a, sizeof(a));
	if (label)
		add_attr(h, IFA_LABEL, label, strlen(label) + 1);
	b->len += NLMSG_ALIGN(h->nlmsg_len);
}

static void add_plain(struct buf *b, int type)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(b->data + b->len);

	memset(h, 0, NLMSG_LENGTH(sizeof(int)));
	h->nlmsg_len = NLMSG_LENGTH(sizeof(int));
	h->nlmsg_type = (unsigned short)type;
	b->len += NLMSG_ALIGN(h->nlmsg_len);
}

static const char *chosen(const struct ipif_set *s)
{
	static char ip[INET_ADDRSTRLEN];
	struct in_addr a;

	if (!ipif_choose(s, &a))
		return "none";
	return inet_ntop(AF_INET, &a, ip, sizeof(ip));
}

/* ---- the parser ---- */

static void test_dump_keeps_only_the_interface(void **state)
{
	struct buf b = { .len = 0 };
	struct ipif_set s = { .n = 0 };

	add_msg(&b, RTM_NEWADDR, 1, "lo", "127.0.0.1", NULL, 0);
	add_msg(&b, RTM_NEWADDR, 2, "eth0", "192.168.77.10", NULL, 0);
	add_msg(&b, RTM_NEWADDR, 7, "ppp0", "203.0.113.2", "203.0.113.1", 0);
	add_msg(&b, RTM_NEWADDR, 8, "ppp00", "198.51.100.9", NULL, 0);   /* not ppp0 */
	add_plain(&b, NLMSG_DONE);
	assert_int_equal(ipif_apply(&s, "ppp0", 7, b.data, b.len), 1);
	assert_int_equal(s.n, 1);
	/* IFA_LOCAL is ours, IFA_ADDRESS the PPP peer's */
	assert_string_equal(chosen(&s), "203.0.113.2");
}

static void test_events_add_and_remove(void **state)
{
	struct buf b = { .len = 0 };
	struct ipif_set s = { .n = 0 };

	add_msg(&b, RTM_NEWADDR, 7, "ppp0", "203.0.113.2", NULL, 0);
	assert_int_equal(ipif_apply(&s, "ppp0", 7, b.data, b.len), 0);
	assert_string_equal(chosen(&s), "203.0.113.2");
	/* the same address again changes nothing */
	assert_int_equal(ipif_apply(&s, "ppp0", 7, b.data, b.len), 0);
	assert_int_equal(s.n, 1);
	b.len = 0;
	add_msg(&b, RTM_DELADDR, 7, "ppp0", "203.0.113.2", NULL, 0);
	add_msg(&b, RTM_NEWADDR, 9, "ppp0", "203.0.113.77", NULL, 0);   /* redialled: new index */
	assert_int_equal(ipif_apply(&s, "ppp0", 7, b.data, b.len), 0);
	assert_string_equal(chosen(&s), "203.0.113.77");
	b.len = 0;
	add_msg(&b, RTM_DELADDR, 9, "ppp0", "203.0.113.77", NULL, 0);
	add_msg(&b, RTM_DELADDR, 9, "ppp0", "203.0.113.78", NULL, 0);   /* unknown: ignored */
	assert_int_equal(ipif_apply(&s, "ppp0", 7, b.data, b.len), 0);
	assert_string_equal(chosen(&s), "none");
}

static void test_aliases_and_labels(void **state)
{
	struct buf b = { .len = 0 };
	struct ipif_set s = { .n = 0 };

	/* an alias label belongs to the interface; no label: matched by index */
	add_msg(&b, RTM_NEWADDR, 3, "eth1:dsl", "10.1.1.1", NULL, 0);
	add_msg(&b, RTM_NEWADDR, 3, NULL, "10.2.2.2", NULL, IFA_F_SECONDARY);
	add_msg(&b, RTM_NEWADDR, 4, NULL, "203.0.113.50", NULL, 0);      /* another index */
	assert_int_equal(ipif_apply(&s, "eth1", 3, b.data, b.len), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(chosen(&s), "10.1.1.1");     /* primary before alias */
	b.len = 0;
	add_msg(&b, RTM_NEWADDR, 3, "eth1", "198.51.100.4", NULL, IFA_F_SECONDARY);
	assert_int_equal(ipif_apply(&s, "eth1", 3, b.data, b.len), 0);
	assert_string_equal(chosen(&s), "198.51.100.4"); /* public before private */
	/* no index known and no label: nothing matches */
	b.len = 0;
	s.n = 0;
	add_msg(&b, RTM_NEWADDR, 0, NULL, "198.51.100.5", NULL, 0);
	assert_int_equal(ipif_apply(&s, "eth9", 0, b.data, b.len), 0);
	assert_int_equal(s.n, 0);
}

static void test_set_is_bounded(void **state)
{
	struct buf b = { .len = 0 };
	struct ipif_set s = { .n = 0 };
	char ip[32];

	for (int i = 0; i < IPIF_MAX + 5; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		add_msg(&b, RTM_NEWADDR, 2, "eth0", ip, NULL, 0);
	}
	assert_int_equal(ipif_apply(&s, "eth0", 2, b.data, b.len), 0);
	assert_int_equal(s.n, IPIF_MAX);
}

static void test_malformed(void **state)
{
	struct buf b = { .len = 0 };
	struct ipif_set s = { .n = 0 };
	struct nlmsghdr *h;

	add_plain(&b, NLMSG_ERROR);
	assert_int_equal(ipif_apply(&s, "eth0", 2, b.data, b.len), -1);
	/* a cut message */
	b.len = 0;
	add_msg(&b, RTM_NEWADDR, 2, "eth0", "198.51.100.1", NULL, 0);
	assert_int_equal(ipif_apply(&s, "eth0", 2, b.data, b.len - 4), -1);
	/* a header that claims less than an ifaddrmsg: that message is skipped
	 * (nlmsg.c), nothing is taken from it */
	h = (struct nlmsghdr *)b.data;
	h->nlmsg_len = NLMSG_LENGTH(2);
	s.n = 0;
	assert_int_equal(ipif_apply(&s, "eth0", 2, b.data, NLMSG_ALIGN(h->nlmsg_len)), 0);
	assert_int_equal(s.n, 0);
	/* an unterminated or oversized label is no label */
	b.len = 0;
	s.n = 0;
	add_msg(&b, RTM_NEWADDR, 2, NULL, "198.51.100.1", NULL, 0);
	add_attr((struct nlmsghdr *)b.data, IFA_LABEL, "eth0eth0eth0eth0eth0", 20);
	b.len = NLMSG_ALIGN(((struct nlmsghdr *)b.data)->nlmsg_len);
	assert_int_equal(ipif_apply(&s, "eth0", 2, b.data, b.len), 0);
	assert_int_equal(s.n, 1);      /* matched by its index instead */
	assert_int_equal(ipif_apply(&s, "eth0", 0, NULL, 0), 0);
}

/* ---- the real kernel, in a network namespace of our own ---- */

static char seen[8][INET_ADDRSTRLEN + 8];
static int n_seen;

static void on_change(void *arg, const char *ip, const char *why)
{
	if (n_seen < 8)
		snprintf(seen[n_seen++], sizeof(seen[0]), "%s", ip ? ip : "none");
	ev_break();
}

static int run(const char *cmd)
{
	return system(cmd) == 0 ? 0 : -1;
}

static void stop_loop(void *arg)
{
	ev_break();
}

/* Wait (in the loop) until the last report is want; the failsafe timer
 * only ends a hang, it asserts nothing about time. */
static bool reported(const char *want)
{
	struct ev_timer *t = ev_timer_new(stop_loop, NULL);

	while (n_seen == 0 || strcmp(seen[n_seen - 1], want) != 0) {
		int before = n_seen;
		ev_timer_arm(t, 10000);
		ev_run();
		if (n_seen == before || n_seen == 8)
			break;
	}
	ev_timer_free(t);
	return n_seen > 0 && strcmp(seen[n_seen - 1], want) == 0;
}

static int live_child(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return errno == EPERM ? 77 : 1;
	if (ev_init() < 0 || ipif_start("lo", on_change, NULL) < 0)
		return 2;
	if (!reported("none"))                /* a new namespace's lo is bare */
		return 3;
	/* lo up brings 127.0.0.1; the public address is chosen over it */
	if (run("ip link set lo up && ip addr add 203.0.113.5/24 dev lo") < 0)
		return 4;
	if (!reported("203.0.113.5"))
		return 5;
	if (run("ip addr add 198.51.100.5/24 dev lo && ip addr del 203.0.113.5/24 dev lo") < 0)
		return 6;
	if (!reported("198.51.100.5"))
		return 7;
	if (run("ip addr del 198.51.100.5/24 dev lo") < 0 || !reported("127.0.0.1"))
		return 8;
	ipif_stop();
	ev_fini();
	return 0;
}

static void test_kernel_events(void **state)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(live_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_keeps_only_the_interface),
		cmocka_unit_test(test_events_add_and_remove),
		cmocka_unit_test(test_aliases_and_labels),
		cmocka_unit_test(test_set_is_bounded),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_kernel_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
