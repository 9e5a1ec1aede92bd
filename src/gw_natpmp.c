/* gw_natpmp.c - NAT-PMP (RFC 6886) client on libnatpmp, inside the event
 * loop. libnatpmp 20150609 builds and sends the requests; we decide what
 * counts as the answer: it accepts stale replies, reads datagrams without
 * a length check and times retries with gettimeofday(), so each datagram
 * is first peeked at and checked here (length, opcode, internal port),
 * the socket is drained before every send, and every request is bounded
 * by our own monotonic deadline. One request is on the wire at a time
 * because a natpmp_t holds only one pending request. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <natpmp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "ev.h"
#include "gw_natpmp.h"
#include "log.h"
#include "natpmp_wire.h"
#include "util.h"

#define ANNOUNCE_PORT 5350

struct npreq {
	struct npreq *next;
	uint64_t id;
	uint8_t op;                  /* NATPMP_WIRE_OP_* */
	uint16_t int_port, ext_port;
	uint32_t lifetime;
	bool cancelled;              /* in flight: finish quietly */
	natpmp_cb cb;
	void *arg;
};

static struct {
	bool inited;
	natpmp_t np;
	struct in_addr gw;
	char gw_str[INET_ADDRSTRLEN];
	int deadline_ms;
	struct npreq *head, *tail;   /* head is on the wire when sent */
	bool sent;
	int64_t started, deadline;
	struct ev_timer *timer;      /* retransmission and deadline */
	struct ev_timer *kick;       /* starts the next request from the loop */
	uint64_t next_id;
	int ann_fd;
	natpmp_announce_cb ann_cb;
	void *ann_arg;
} st = { .ann_fd = -1 };

static void poll_head(void);

static int read_default_gw(struct in_addr *gw)
{
	char buf[16384], ifname[IF_NAMESIZE];
	FILE *f = fopen("/proc/self/net/route", "r");   /* /proc/net is hidden under ProcSubset=pid */
	size_t n;

	if (!f) {
		log_warn("natpmp: /proc/self/net/route");
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (natpmp_wire_default_gw(buf, gw, ifname) < 0) {
		log_warnx("natpmp: no default route, gateway unknown");
		return -1;
	}
	return 0;
}

/* Datagrams left from earlier requests (or answers to our retransmits)
 * would otherwise be taken for the answer to the next one. */
static void drain(void)
{
	uint8_t buf[64];
	int n = 0;

	while (n < 64 && recv(st.np.s, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	if (n)
		log_debug("natpmp: drained %d stale datagram(s)", n);
}

static void finish(struct natpmp_result *res)
{
	struct npreq *r = st.head;

	st.head = r->next;
	if (!st.head)
		st.tail = NULL;
	st.sent = false;
	ev_timer_disarm(st.timer);
	if (st.head)
		ev_timer_arm(st.kick, 0);
	if (!r->cancelled && r->cb)
		r->cb(r->arg, res);
	free(r);
}

static void finish_error(enum natpmp_status s, const char *fmt, ...) HP_PRINTF(2, 3);
static void finish_error(enum natpmp_status s, const char *fmt, ...)
{
	struct natpmp_result res = { .status = s };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res.error, sizeof(res.error), fmt, ap);
	va_end(ap);
	finish(&res);
}

static void finish_msg(const struct natpmp_wire_msg *m)
{
	struct natpmp_result res = { .status = NATPMP_ST_OK, .epoch = m->epoch };

	if (m->result != 0) {
		res.status = NATPMP_ST_ERROR;
		res.result_code = m->result;
		snprintf(res.error, sizeof(res.error), "NAT-PMP %u %s", m->result,
			 natpmp_wire_result_name(m->result));
	} else if (m->op == NATPMP_WIRE_OP_PUBLIC) {
		inet_ntop(AF_INET, &m->addr, res.ext_ip, sizeof(res.ext_ip));
	} else {
		res.int_port = m->int_port;
		res.ext_port = m->ext_port;
		res.lifetime = m->lifetime;
	}
	finish(&res);
}

static void arm_timer(void)
{
	struct timeval tv;
	int64_t now = ev_now_ms(), left = st.deadline - now, wait = left;

	if (getnatpmprequesttimeout(&st.np, &tv) == 0) {
		int64_t ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000 + 1;
		if (ms >= 0 && ms < wait)
			wait = ms;
	}
	ev_timer_arm(st.timer, wait > 0 ? wait : 0);
}

static void send_head(void)
{
	struct npreq *r = st.head;
	int rc;

	drain();
	if (r->op == NATPMP_WIRE_OP_PUBLIC)
		rc = sendpublicaddressrequest(&st.np);
	else
		rc = sendnewportmappingrequest(&st.np, r->op == NATPMP_WIRE_OP_TCP ?
					       NATPMP_PROTOCOL_TCP : NATPMP_PROTOCOL_UDP,
					       r->int_port, r->ext_port, r->lifetime);
	if (rc < 0) {
		finish_error(NATPMP_ST_ERROR, "cannot send to gateway %s (libnatpmp %d)",
			     st.gw_str, rc);
		return;
	}
	st.sent = true;
	st.started = ev_now_ms();
	st.deadline = st.started + st.deadline_ms;
	arm_timer();
}

static void on_kick(void *arg)
{
	if (st.inited && st.head && !st.sent)
		send_head();
}

/* libnatpmp consumes the datagram we accepted, so its pending state is
 * cleared; when the socket is empty the same call retransmits if due. */
static int lib_read(natpmpresp_t *resp)
{
	return readnatpmpresponseorretry(&st.np, resp);
}

/* 1: finished, 0: datagram dropped, -1: nothing to read. */
static int take_one(void)
{
	uint8_t buf[64];
	struct natpmp_wire_msg m;
	natpmpresp_t resp;
	ssize_t n = recv(st.np.s, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0) {
		if (errno == ECONNREFUSED) {
			finish_error(NATPMP_ST_ERROR, "no NAT-PMP on gateway %s", st.gw_str);
			return 1;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_debug("natpmp: recv: %s", strerror(errno));
		return -1;
	}
	if ((size_t)n > sizeof(buf) || natpmp_wire_parse(buf, (size_t)n, &m) < 0 ||
	    !natpmp_wire_matches(&m, st.head->op, st.head->int_port)) {
		log_debug("natpmp: ignoring a %zd-byte datagram that does not answer request %llu",
			  n, (unsigned long long)st.head->id);
		recv(st.np.s, buf, sizeof(buf), MSG_DONTWAIT);
		return 0;
	}
	n = lib_read(&resp);
	if (n == NATPMP_TRYAGAIN || n == NATPMP_ERR_NOPENDINGREQ)
		recv(st.np.s, buf, sizeof(buf), MSG_DONTWAIT);
	finish_msg(&m);
	return 1;
}

static void poll_head(void)
{
	natpmpresp_t resp;
	int rc;

	for (int i = 0; i < 64; i++) {
		rc = take_one();
		if (rc == 1)
			return;
		if (rc < 0)
			break;
	}
	if (ev_now_ms() >= st.deadline) {
		finish_error(NATPMP_ST_TIMEOUT, "timed out after %d ms", st.deadline_ms);
		return;
	}
	/* Socket empty: let libnatpmp retransmit if its time has come. A reply
	 * racing in here is consumed by it; keep it only if it matches. */
	rc = lib_read(&resp);
	if (rc == 0) {
		uint8_t op = (uint8_t)resp.type;
		if (op == st.head->op && (op == NATPMP_WIRE_OP_PUBLIC ||
					  resp.pnu.newportmapping.privateport == st.head->int_port)) {
			struct natpmp_wire_msg m = { .op = op, .epoch = resp.epoch,
				.addr = resp.pnu.publicaddress.addr,
				.int_port = resp.pnu.newportmapping.privateport,
				.ext_port = resp.pnu.newportmapping.mappedpublicport,
				.lifetime = resp.pnu.newportmapping.lifetime };
			if (op == NATPMP_WIRE_OP_PUBLIC)
				m.int_port = m.ext_port = 0, m.lifetime = 0;
			finish_msg(&m);
			return;
		}
	} else if (rc != NATPMP_TRYAGAIN && rc != NATPMP_ERR_NOGATEWAYSUPPORT) {
		log_debug("natpmp: libnatpmp says %d, still waiting", rc);
	}
	arm_timer();
}

static void on_readable(int fd, short revents, void *arg)
{
	uint8_t buf[64];

	if (st.sent) {
		poll_head();
		return;
	}
	/* Nothing asked: a late answer, dropped now rather than at the next send. */
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

static void on_timer(void *arg)
{
	if (st.sent)
		poll_head();
}

int natpmp_init(const char *gateway, int deadline_ms)
{
	int rc;

	if (st.inited)
		natpmp_fini();
	memset(&st.np, 0, sizeof(st.np));
	st.np.s = -1;
	st.deadline_ms = deadline_ms > 0 ? deadline_ms : 3000;
	if (gateway && *gateway) {
		if (inet_pton(AF_INET, gateway, &st.gw) != 1) {
			log_warnx("natpmp: gateway \"%s\" is not an IPv4 address", gateway);
			return -1;
		}
	} else if (read_default_gw(&st.gw) < 0) {
		return -1;
	}
	inet_ntop(AF_INET, &st.gw, st.gw_str, sizeof(st.gw_str));
	rc = initnatpmp(&st.np, 1, st.gw.s_addr);
	if (rc < 0) {
		/* initnatpmp leaks its socket on some failures. */
		closenatpmp(&st.np);
		log_warnx("natpmp: cannot open a socket to gateway %s (libnatpmp %d)",
			  st.gw_str, rc);
		goto fail;
	}
	if (ev_fd_add(st.np.s, POLLIN, on_readable, NULL) < 0) {
		log_warn("natpmp: ev_fd_add");
		closenatpmp(&st.np);
		goto fail;
	}
	st.timer = ev_timer_new(on_timer, NULL);
	st.kick = ev_timer_new(on_kick, NULL);
	st.inited = true;
	log_debug("natpmp: gateway %s, deadline %d ms", st.gw_str, st.deadline_ms);
	return 0;
fail:
	st.gw_str[0] = '\0';
	return -1;
}

static void close_announce(void)
{
	if (st.ann_fd >= 0) {
		ev_fd_del(st.ann_fd);
		close(st.ann_fd);
		st.ann_fd = -1;
	}
}

void natpmp_fini(void)
{
	if (!st.inited)
		return;
	st.inited = false;
	natpmp_cancel_all();
	while (st.head) {
		struct npreq *r = st.head;
		st.head = r->next;
		free(r);
	}
	st.tail = NULL;
	st.sent = false;
	close_announce();
	ev_fd_del(st.np.s);
	closenatpmp(&st.np);
	ev_timer_free(st.timer);
	ev_timer_free(st.kick);
	st.timer = st.kick = NULL;
	st.gw_str[0] = '\0';
}

const char *natpmp_gateway_addr(void)
{
	return st.gw_str;
}

static uint64_t enqueue(uint8_t op, uint16_t int_port, uint16_t ext_port,
			uint32_t lifetime, natpmp_cb cb, void *arg)
{
	struct npreq *r;

	if (!st.inited)
		return 0;
	r = xcalloc(1, sizeof(*r));
	*r = (struct npreq){ .id = ++st.next_id, .op = op, .int_port = int_port,
			     .ext_port = ext_port, .lifetime = lifetime, .cb = cb, .arg = arg };
	if (st.tail)
		st.tail->next = r;
	else
		st.head = r;
	st.tail = r;
	if (!st.sent)
		ev_timer_arm(st.kick, 0);
	return r->id;
}

static uint8_t proto_op(unsigned proto)
{
	if (proto == SVC_TCP)
		return NATPMP_WIRE_OP_TCP;
	if (proto == SVC_UDP)
		return NATPMP_WIRE_OP_UDP;
	return 0;
}

uint64_t natpmp_get_external_ip(natpmp_cb cb, void *arg)
{
	return enqueue(NATPMP_WIRE_OP_PUBLIC, 0, 0, 0, cb, arg);
}

uint64_t natpmp_map(unsigned proto, uint16_t int_port, uint16_t ext_port,
		    uint32_t lifetime, natpmp_cb cb, void *arg)
{
	uint8_t op = proto_op(proto);

	/* Port 0 or lifetime 0 would ask to delete (all) mappings. */
	if (!op || int_port == 0 || lifetime == 0)
		return 0;
	return enqueue(op, int_port, ext_port, lifetime, cb, arg);
}

uint64_t natpmp_unmap(unsigned proto, uint16_t int_port, natpmp_cb cb, void *arg)
{
	uint8_t op = proto_op(proto);

	if (!op || int_port == 0)
		return 0;
	return enqueue(op, int_port, 0, 0, cb, arg);
}

void natpmp_cancel(uint64_t id)
{
	struct npreq **pp = &st.head, *prev = NULL;

	for (; *pp; prev = *pp, pp = &(*pp)->next) {
		struct npreq *r = *pp;
		if (r->id != id)
			continue;
		if (r == st.head && st.sent) {
			r->cancelled = true;   /* its reply is still consumed */
			return;
		}
		*pp = r->next;
		if (st.tail == r)
			st.tail = prev;
		free(r);
		return;
	}
}

void natpmp_cancel_all(void)
{
	struct npreq *r = st.head;

	if (r && st.sent) {
		r->cancelled = true;
		r = r->next;
		st.head->next = NULL;
		st.tail = st.head;
	} else {
		st.head = st.tail = NULL;
	}
	while (r) {
		struct npreq *next = r->next;
		free(r);
		r = next;
	}
}

static void on_announce(int fd, short revents, void *arg)
{
	for (int i = 0; i < 16; i++) {
		uint8_t buf[64];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		struct natpmp_wire_msg m;
		char ip[INET_ADDRSTRLEN];
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &flen);

		if (n < 0)
			return;
		if (flen != sizeof(from) || from.sin_family != AF_INET ||
		    from.sin_addr.s_addr != st.gw.s_addr ||
		    (size_t)n > sizeof(buf) || natpmp_wire_parse_announce(buf, (size_t)n, &m) < 0) {
			inet_ntop(AF_INET, &from.sin_addr, ip, sizeof(ip));
			log_debug("natpmp: ignoring %zd bytes on port %d from %s", n,
				  ANNOUNCE_PORT, ip);
			continue;
		}
		inet_ntop(AF_INET, &m.addr, ip, sizeof(ip));
		log_debug("natpmp: announcement from %s: %s, epoch %u", st.gw_str, ip, m.epoch);
		if (st.ann_cb)
			st.ann_cb(st.ann_arg, ip, m.epoch);
	}
}

/* The interface holding the address our NAT-PMP socket uses towards the
 * gateway (it is connected, so the kernel picked it by route). */
static unsigned iface_towards_gw(void)
{
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	struct ifaddrs *ifs, *i;
	unsigned idx = 0;

	if (getsockname(st.np.s, (struct sockaddr *)&me, &len) < 0 || getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr == me.sin_addr.s_addr) {
			idx = if_nametoindex(i->ifa_name);
			break;
		}
	freeifaddrs(ifs);
	return idx;
}

static int announce_socket(unsigned ifindex)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(ANNOUNCE_PORT) };
	struct ip_mreqn mr = { .imr_ifindex = (int)ifindex };
	int fd, one = 1, zero = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("natpmp: announcement socket");
		return -1;
	}
	inet_pton(AF_INET, "224.0.0.1", &mr.imr_multiaddr);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		log_warn("natpmp: cannot listen on 224.0.0.1:%d", ANNOUNCE_PORT);
		close(fd);
		return -1;
	}
	/* Only the group joined here, not every group any socket joined. */
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof(zero));
	return fd;
}

int natpmp_listen_announcements(const char *ifname, natpmp_announce_cb cb, void *arg)
{
	unsigned idx;
	int fd;

	if (!st.inited) {
		log_warnx("natpmp: announcements need a gateway first");
		return -1;
	}
	idx = ifname ? if_nametoindex(ifname) : iface_towards_gw();
	if (ifname && !idx) {
		log_warn("natpmp: interface %s", ifname);
		return -1;
	}
	fd = announce_socket(idx);
	if (fd < 0)
		return -1;
	if (ev_fd_add(fd, POLLIN, on_announce, NULL) < 0) {
		log_warn("natpmp: ev_fd_add");
		close(fd);
		return -1;
	}
	close_announce();
	st.ann_fd = fd;
	st.ann_cb = cb;
	st.ann_arg = arg;
	log_debug("natpmp: listening for announcements on ifindex %u", idx);
	return 0;
}

/* RFC 6886 3.6: the gateway lost its state if its seconds-since-start
 * fell behind 7/8 of our elapsed time, less 2 s of slack. Computed in
 * signed 64-bit milliseconds so no uint32 arithmetic can wrap. */
bool natpmp_epoch_reset(uint32_t prev_epoch, int64_t prev_ms, uint32_t epoch, int64_t now_ms)
{
	/* More than any uint32 epoch can express (in ms): keeps * 7 in range. */
	const uint64_t cap = (uint64_t)UINT32_MAX * 2000;
	uint64_t span = now_ms > prev_ms ? (uint64_t)now_ms - (uint64_t)prev_ms : 0;
	int64_t elapsed = (int64_t)(span < cap ? span : cap);
	int64_t expected;

	expected = (int64_t)prev_epoch * 1000 + elapsed * 7 / 8 - 2000;
	return (int64_t)epoch * 1000 < expected;
}
