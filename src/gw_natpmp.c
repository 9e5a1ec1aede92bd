/* gw_natpmp.c - NAT-PMP (RFC 6886) client on libnatpmp, inside the event
 * loop. libnatpmp 20150609 builds and sends the requests; we decide what
 * counts as the answer: it accepts stale replies, reads datagrams without
 * a length check and times retries with gettimeofday(), so each datagram
 * is first peeked at and checked here (length, opcode, internal port),
 * the socket is drained before every send, and every request is bounded
 * by our own monotonic deadline. One request is on the wire at a time
 * (gw_queue.c's window stays at 1): a natpmp_t holds only one pending
 * request, and answers carry no nonce to tell them apart. */
#include <arpa/inet.h>
#include <errno.h>
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
#include "gw_queue.h"
#include "log.h"
#include "mcast.h"
#include "natpmp_wire.h"
#include "route.h"
#include "util.h"

#define ANNOUNCE_PORT 5350
#define DEFAULT_DEADLINE_MS 2000
#define PERMANENT_LIFETIME (7 * 24 * 3600)   /* asked for lease 0 */
#define READ_BURST 64                        /* datagrams read per wake-up */

struct npreq {
	struct gwq_req q;            /* first: the queue's part */
	uint8_t op;                  /* NATPMP_WIRE_OP_* */
	uint16_t int_port, ext_port;
	uint32_t lifetime;
	bool discover;               /* the external address asked as discovery */
};

static struct {
	bool inited;
	natpmp_t np;
	struct in_addr gw;
	char gw_str[INET_ADDRSTRLEN];
	struct gwq queue;
	struct ev_timer *retry;      /* libnatpmp's retransmissions */
	bool have_epoch;             /* the last epoch of an answer to us */
	uint32_t epoch;
	int64_t epoch_ms;
	char ext_ip[INET_ADDRSTRLEN];    /* as the last discover saw it (--probe) */
	int ann_fd;
	natpmp_announce_cb ann_cb;
	void *ann_arg;
	gw_hint_cb hint_cb;
	void *hint_arg;
	char ifname[IF_NAMESIZE];
	/* per-datagram messages: a flood must not flood the log */
	struct log_limit drain_log, stray_log, ann_log;
} st = { .ann_fd = -1 };

static void poll_head(void);

static int read_default_gw(struct in_addr *gw)
{
	char ip[INET_ADDRSTRLEN], err[120];

	if (route_default_gw(NULL, ip, NULL, err, sizeof(err)) < 0) {
		log_warnx("natpmp: %s", err);
		return -1;
	}
	return inet_pton(AF_INET, ip, gw) == 1 ? 0 : -1;
}

/* Datagrams left from earlier requests (or answers to our retransmits)
 * would otherwise be taken for the answer to the next one. */
static void drain(void)
{
	uint8_t buf[64];
	int n = 0;

	while (n < READ_BURST && recv(st.np.s, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	if (n && log_limit_ok(&st.drain_log, LOG_DEBUG, "natpmp: stale datagrams"))
		log_debug("natpmp: drained %d stale datagram(s)", n);
}

static struct npreq *head(void)
{
	return (struct npreq *)gwq_on_wire(&st.queue);
}

/* RFC 6886 3.6, on every answer to one of our own requests (never on an
 * announcement: anyone on the LAN can send those). */
static bool epoch_lost(uint32_t epoch)
{
	int64_t now = ev_now_ms();
	bool lost = st.have_epoch && natpmp_epoch_reset(st.epoch, st.epoch_ms, epoch, now);

	if (lost)
		log_notice("gateway: NAT-PMP epoch went back (%u after %u): it lost its mappings",
			   epoch, st.epoch);
	st.have_epoch = true;
	st.epoch = epoch;
	st.epoch_ms = now;
	return lost;
}

static enum gw_outcome result_outcome(unsigned code)
{
	return code == 2 ? GW_REFUSED : GW_TEMPORARY;
}

/* Discovery: any answer with result 0 or 3 (no WAN address yet) is a
 * NAT-PMP gateway. */
static void found(const struct natpmp_wire_msg *m, struct gw_result *res)
{
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	struct gw_found *f = &res->u.found;
	char ip[INET_ADDRSTRLEN] = "";

	if (m->result == 0)
		inet_ntop(AF_INET, &m->addr, ip, sizeof(ip));
	memset(&res->u, 0, sizeof(res->u));
	snprintf(f->ext_ip, sizeof(f->ext_ip), "%s", ip);
	snprintf(st.ext_ip, sizeof(st.ext_ip), "%s", ip);
	snprintf(f->address, sizeof(f->address), "%s", st.gw_str);
	if (getsockname(st.np.s, (struct sockaddr *)&me, &len) == 0)
		inet_ntop(AF_INET, &me.sin_addr, f->lan_addr, sizeof(f->lan_addr));
}

static void finish_msg(const struct natpmp_wire_msg *m)
{
	struct gw_result res = { .outcome = GW_OK, .has_epoch = true, .epoch = m->epoch };

	ev_timer_disarm(st.retry);
	res.state_lost = epoch_lost(m->epoch);
	if (head()->discover && (m->result == 0 || m->result == 3)) {
		found(m, &res);
	} else if (m->result != 0) {
		res.outcome = result_outcome(m->result);
		res.code = m->result;
		snprintf(res.error, sizeof(res.error), "NAT-PMP %u %s", m->result,
			 natpmp_wire_result_name(m->result));
	} else if (m->op == NATPMP_WIRE_OP_PUBLIC) {
		inet_ntop(AF_INET, &m->addr, res.u.ext_ip, sizeof(res.u.ext_ip));
	} else {
		res.u.map.int_port = m->int_port;
		res.u.map.ext_port = m->ext_port;
		res.u.map.lease = m->lifetime;
		res.u.map.confirmed = true;
	}
	gwq_finish(&st.queue, &res);
}

static void arm_retry(void)
{
	struct timeval tv;

	if (getnatpmprequesttimeout(&st.np, &tv) == 0) {
		int64_t ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000 + 1;
		ev_timer_arm(st.retry, ms > 0 ? ms : 0);
	}
}

static int send_req(struct gwq *q, struct gwq_req *qr, struct gw_result *res)
{
	struct npreq *r = (struct npreq *)qr;
	int rc;

	drain();
	if (r->op == NATPMP_WIRE_OP_PUBLIC)
		rc = sendpublicaddressrequest(&st.np);
	else
		rc = sendnewportmappingrequest(&st.np, r->op == NATPMP_WIRE_OP_TCP ?
					       NATPMP_PROTOCOL_TCP : NATPMP_PROTOCOL_UDP,
					       r->int_port, r->ext_port, r->lifetime);
	if (rc < 0) {
		res->outcome = GW_FAULT;
		snprintf(res->error, sizeof(res->error), "cannot send to gateway %s (libnatpmp %d)",
			 st.gw_str, rc);
		return -1;
	}
	arm_retry();
	return 0;
}

static void expired(struct gwq *q, struct gwq_req *r)
{
	ev_timer_disarm(st.retry);
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
			ev_timer_disarm(st.retry);
			gwq_fail(&st.queue, GW_FAULT, "no NAT-PMP on gateway %s", st.gw_str);
			return 1;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_debug("natpmp: recv: %s", strerror(errno));
		return -1;
	}
	if ((size_t)n > sizeof(buf) || natpmp_wire_parse(buf, (size_t)n, &m) < 0 ||
	    !natpmp_wire_matches(&m, head()->op, head()->int_port)) {
		if (log_limit_ok(&st.stray_log, LOG_DEBUG, "natpmp: stray datagrams"))
			log_debug("natpmp: ignoring a %zd-byte datagram that does not answer "
				  "request %llu", n, (unsigned long long)head()->q.id);
		recv(st.np.s, buf, sizeof(buf), MSG_DONTWAIT);
		return 0;
	}
	n = lib_read(&resp);
	if (n == NATPMP_TRYAGAIN || n == NATPMP_ERR_NOPENDINGREQ)
		recv(st.np.s, buf, sizeof(buf), MSG_DONTWAIT);
	finish_msg(&m);
	return 1;
}

/* A reply libnatpmp consumed itself while retransmitting: ours only if it
 * answers the request on the wire. */
static bool lib_reply(const natpmpresp_t *resp, struct natpmp_wire_msg *m)
{
	uint8_t op = (uint8_t)resp->type;

	if (op != head()->op || (op != NATPMP_WIRE_OP_PUBLIC &&
				 resp->pnu.newportmapping.privateport != head()->int_port))
		return false;
	*m = (struct natpmp_wire_msg){ .op = op, .epoch = resp->epoch };
	if (op == NATPMP_WIRE_OP_PUBLIC) {
		m->addr = resp->pnu.publicaddress.addr;
	} else {
		m->int_port = resp->pnu.newportmapping.privateport;
		m->ext_port = resp->pnu.newportmapping.mappedpublicport;
		m->lifetime = resp->pnu.newportmapping.lifetime;
	}
	return true;
}

static void poll_head(void)
{
	struct natpmp_wire_msg m;
	natpmpresp_t resp;
	int rc;

	for (int i = 0; i < READ_BURST; i++) {
		rc = take_one();
		if (rc == 1)
			return;
		if (rc < 0)
			break;
	}
	/* Socket empty: let libnatpmp retransmit if its time has come. A reply
	 * racing in here is consumed by it; keep it only if it matches. */
	rc = lib_read(&resp);
	if (rc == 0 && lib_reply(&resp, &m)) {
		finish_msg(&m);
		return;
	}
	if (rc != 0 && rc != NATPMP_TRYAGAIN && rc != NATPMP_ERR_NOGATEWAYSUPPORT)
		log_debug("natpmp: libnatpmp says %d, still waiting", rc);
	arm_retry();
}

static void on_readable(int fd, short revents, void *arg)
{
	if (head()) {
		poll_head();
		return;
	}
	/* Nothing asked: a late answer, dropped now rather than at the next send. */
	drain();
}

static void on_retry(void *arg)
{
	if (head())
		poll_head();
}

static const struct gwq_ops queue_ops = { .send = send_req, .expired = expired };

int natpmp_init(const char *gateway, int deadline_ms)
{
	int rc;

	if (st.inited)
		natpmp_fini();
	memset(&st.np, 0, sizeof(st.np));
	st.np.s = -1;
	st.have_epoch = false;
	st.ext_ip[0] = '\0';
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
	/* A window of 1: see the top of the file. */
	if (gwq_init(&st.queue, &queue_ops, deadline_ms > 0 ? deadline_ms : DEFAULT_DEADLINE_MS,
		     1) < 0) {
		ev_fd_del(st.np.s);
		closenatpmp(&st.np);
		goto fail;
	}
	st.retry = ev_timer_new(on_retry, NULL);
	st.inited = true;
	log_debug("natpmp: gateway %s, deadline %d ms", st.gw_str, st.queue.deadline_ms);
	return 0;
fail:
	st.gw_str[0] = '\0';
	return -1;
}

void natpmp_fini(void)
{
	if (!st.inited)
		return;
	st.inited = false;
	gwq_fini(&st.queue);
	mcast_close(&st.ann_fd);
	ev_fd_del(st.np.s);
	closenatpmp(&st.np);
	ev_timer_free(st.retry);
	st.retry = NULL;
	st.gw_str[0] = '\0';
}

const char *natpmp_gateway_addr(void)
{
	return st.gw_str;
}

static uint64_t push(uint8_t op, uint16_t int_port, uint16_t ext_port, uint32_t lifetime,
		     bool discover, gw_cb cb, void *arg)
{
	struct npreq *r;

	if (!st.inited)
		return 0;
	r = xcalloc(1, sizeof(*r));
	r->discover = discover;
	r->op = op;
	r->int_port = int_port;
	r->ext_port = ext_port;
	r->lifetime = lifetime;
	return gwq_push(&st.queue, &r->q, cb, arg);
}

static uint64_t enqueue(uint8_t op, uint16_t int_port, uint16_t ext_port,
			uint32_t lifetime, gw_cb cb, void *arg)
{
	return push(op, int_port, ext_port, lifetime, false, cb, arg);
}

static uint8_t proto_op(unsigned proto)
{
	if (proto == SVC_TCP)
		return NATPMP_WIRE_OP_TCP;
	if (proto == SVC_UDP)
		return NATPMP_WIRE_OP_UDP;
	return 0;
}

uint64_t natpmp_get_external_ip(gw_cb cb, void *arg)
{
	return enqueue(NATPMP_WIRE_OP_PUBLIC, 0, 0, 0, cb, arg);
}

uint64_t natpmp_map(unsigned proto, uint16_t int_port, uint16_t ext_port,
		    uint32_t lifetime, gw_cb cb, void *arg)
{
	uint8_t op = proto_op(proto);

	/* Port 0 or lifetime 0 would ask to delete (all) mappings. */
	if (!op || int_port == 0 || lifetime == 0)
		return 0;
	return enqueue(op, int_port, ext_port, lifetime, cb, arg);
}

uint64_t natpmp_unmap(unsigned proto, uint16_t int_port, gw_cb cb, void *arg)
{
	uint8_t op = proto_op(proto);

	if (!op || int_port == 0)
		return 0;
	return enqueue(op, int_port, 0, 0, cb, arg);
}

/* A stopped queue is all zeroes: nothing to cancel. */
void natpmp_cancel(uint64_t id)
{
	gwq_cancel(&st.queue, id);
}

void natpmp_cancel_all(void)
{
	gwq_cancel_all(&st.queue);
}

uint32_t natpmp_lifetime(uint32_t lease)
{
	return lease ? lease : PERMANENT_LIFETIME;
}

static void on_announce(int fd, short revents, void *arg)
{
	for (int i = 0; i < READ_BURST; i++) {
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
			if (log_limit_ok(&st.ann_log, LOG_DEBUG, "natpmp: announcements"))
				log_debug("natpmp: ignoring %zd bytes on port %d from %s", n,
					  ANNOUNCE_PORT, ip);
			continue;
		}
		inet_ntop(AF_INET, &m.addr, ip, sizeof(ip));
		if (st.ann_cb)
			st.ann_cb(st.ann_arg, ip, m.epoch);
	}
}

int natpmp_listen_announcements(const char *ifname, natpmp_announce_cb cb, void *arg)
{
	if (!st.inited) {
		log_warnx("natpmp: announcements need a gateway first");
		return -1;
	}
	if (mcast_listen(&st.ann_fd, ANNOUNCE_PORT, ifname, st.np.s, "natpmp", on_announce,
			 NULL) < 0)
		return -1;
	st.ann_cb = cb;
	st.ann_arg = arg;
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

/* ---- the backend table row ------------------------------------------- */

/* Only a hint: the epoch and IP it carries are anyone's on the LAN. */
static void on_announce_hint(void *arg, const char *ip, uint32_t epoch)
{
	char what[80];

	snprintf(what, sizeof(what), "external IP %s, epoch %u (not trusted: asking)", ip, epoch);
	if (st.hint_cb)
		st.hint_cb(st.hint_arg, GW_HINT_CHANGED, what);
}

static int op_start(const struct gw_setup *s, char *err, size_t errlen)
{
	snprintf(st.ifname, sizeof(st.ifname), "%s", s->ifname ? s->ifname : "");
	if (natpmp_init(s->gateway, s->deadline_ms) == 0)
		return 0;
	if (s->gateway)
		snprintf(err, errlen, "cannot talk to gateway %s", s->gateway);
	else
		snprintf(err, errlen, "no default route, no gateway to ask");
	return -1;
}

static uint64_t op_discover(gw_cb cb, void *arg)
{
	return push(NATPMP_WIRE_OP_PUBLIC, 0, 0, 0, true, cb, arg);
}

static uint64_t op_map(const struct gw_map_req *q, gw_cb cb, void *arg)
{
	if (q->family != GW_FAMILY_IPV4)
		return 0;
	return natpmp_map(q->proto, q->int_port, q->ext_port, natpmp_lifetime(q->lease), cb, arg);
}

static uint64_t op_unmap(const struct gw_map_req *q, gw_cb cb, void *arg)
{
	return q->family == GW_FAMILY_IPV4 ? natpmp_unmap(q->proto, q->int_port, cb, arg) : 0;
}

static int op_listen(gw_hint_cb cb, void *arg)
{
	st.hint_cb = cb;
	st.hint_arg = arg;
	return natpmp_listen_announcements(st.ifname[0] ? st.ifname : NULL, on_announce_hint, NULL);
}

static void op_describe(char *buf, size_t len)
{
	snprintf(buf, len, "answers at %s (epoch %u)", st.gw_str, st.epoch);
}

static void op_probe_json(json_t *o, bool answered)
{
	json_object_set_new(o, "gateway", st.gw_str[0] ? json_string(st.gw_str) : json_null());
	json_object_set_new(o, "epoch", answered && st.have_epoch ? json_integer(st.epoch) :
			    json_null());
}

const struct gw_backend gw_backend_natpmp = {
	.name = "natpmp",
	.label = "NAT-PMP",
	.why = "neither UPnP nor PCP answered",
	.pref = GW_PREF_NATPMP,
	.caps = GW_CAP_EPOCH | GW_CAP_ANNOUNCES,
	.start = op_start,
	.stop = natpmp_fini,
	.fini = natpmp_fini,
	.discover = op_discover,
	.external_ip = natpmp_get_external_ip,
	.map = op_map,
	.unmap = op_unmap,
	.cancel = natpmp_cancel,
	.cancel_all = natpmp_cancel_all,
	.listen = op_listen,
	.describe = op_describe,
	.probe_json = op_probe_json,
};
