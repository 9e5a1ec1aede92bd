/* gw_pcp.c - the PCP backend (RFC 6887), our own client, inside the event
 * loop: one UDP socket connected to the gateway's port 5351 (the kernel
 * drops datagrams from anyone else), a few requests on the wire at once
 * (gw_queue.c's window: each MAP has its own nonce, so every answer finds
 * its request), each retransmitted as RFC 6887 8.1.1 says until our own
 * deadline. ANNOUNCE requests and the external-address MAP and its delete
 * (one nonce for both) go alone. Every datagram is checked by pcp_wire.c
 * (strict parse, then it must answer a request on the wire: opcode,
 * nonce, protocol, port) and its epoch by the 8.5 rule; what it means
 * comes from pcp_wire_verdict.
 *
 * What the table row offers:
 *   discover     an ANNOUNCE request: any PCP v2 answer is a PCP gateway
 *   external_ip  PCP has no such request: a short MAP of the discard port
 *                (UDP 9) carries the address; it is deleted right after
 *   map, unmap   MAP with the mapping's nonce (pcp_store.c keeps it in the
 *                state directory, so that a restarted daemon renews and
 *                deletes its own mappings); lifetime 0 deletes. Mappings
 *                for another LAN host carry THIRD_PARTY.
 *   listen       ANNOUNCE on 224.0.0.1:5350 from the gateway only: a hint
 *                that makes us ask (an ANNOUNCE request of our own, at most
 *                one a second); a reset epoch in its answer means the
 *                gateway lost its mappings (GW_HINT_RESTARTED).
 *
 * miniupnpd 2.3.1 quirks met here: the delete of a mapping it does not
 * have answers NO_RESOURCES (taken as "not found", pcp_wire.c); an IPv6
 * renewal answers external port 0 (taken as the internal port). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "ev.h"
#include "gw_pcp.h"
#include "gw_queue.h"
#include "log.h"
#include "mcast.h"
#include "pcp_store.h"
#include "pcp_wire.h"
#include "util.h"

#define DEFAULT_DEADLINE_MS 4000     /* the first send and one retransmission (IRT 3 s) */
#define PERMANENT_LIFETIME (7 * 24 * 3600)   /* asked for lease 0: PCP has no forever */
#define PROBE_PORT 9                 /* discard: the external-address MAP */
#define PROBE_LIFETIME 120
#define HINT_GAP_MS 1000             /* ANNOUNCE requests of ours, at most one a second */
#define CHANGED_GAP_MS 10000         /* "ask for the external IP" hints, at most every 10 s */
#define READ_BURST 64                /* datagrams read per wake-up */

enum pr_kind { PR_ANNOUNCE, PR_MAP, PR_PROBE, PR_PROBE_DELETE };

struct pcpreq {
	struct gwq_req q;            /* first: the queue's part */
	enum pr_kind kind;
	bool discover;               /* the ANNOUNCE request of discovery */
	struct pcp_map_req m;
	char int_host[INET6_ADDRSTRLEN];   /* as the caller named it ("" = this host) */
	uint8_t buf[PCP_MAX_LEN];
	size_t len;
	int64_t rt_ms;               /* the retransmission timeout running */
	int64_t due_ms;              /* the next retransmission, 0 = none */
};

static struct {
	bool inited;
	int fd;                      /* connected to gateway:5351 */
	struct in_addr gw;
	char gw_str[INET_ADDRSTRLEN];
	char lan[INET_ADDRSTRLEN];   /* our address towards it */
	struct gwq queue;
	struct ev_timer *rtx;        /* the next retransmission due on the wire */
	struct pcp_epoch epoch;
	char ext_ip[INET6_ADDRSTRLEN];   /* as the last probe saw it (--probe) */
	uint8_t probe_nonce[PCP_NONCE_LEN];
	char ifname[IF_NAMESIZE];
	int ann_fd;
	gw_hint_cb hint_cb;
	void *hint_arg;
	int64_t last_hint_ms;
	int64_t last_changed_ms;     /* the last GW_HINT_CHANGED passed on */
	bool hint_queued;            /* an ANNOUNCE request of ours is waiting or on the wire */
	struct ev_timer *hint_timer; /* the next one, when announcements come fast */
	/* per-datagram messages: a flood must not flood the log */
	struct log_limit stray_log, ann_log;
} st = { .fd = -1, .ann_fd = -1 };

static struct pcpreq *first(void)
{
	return (struct pcpreq *)gwq_on_wire(&st.queue);
}

static struct pcpreq *next(const struct pcpreq *r)
{
	return (struct pcpreq *)r->q.next;
}

/* ---- sending ---------------------------------------------------------- */

/* The rtx timer for the earliest retransmission due on the wire. */
static void arm_rtx(void)
{
	int64_t due = 0;

	for (struct pcpreq *r = first(); r; r = next(r))
		if (r->due_ms && (!due || r->due_ms < due))
			due = r->due_ms;
	if (!due)
		ev_timer_disarm(st.rtx);
	else
		ev_timer_arm(st.rtx, due > ev_now_ms() ? due - ev_now_ms() : 0);
}

static void transmit(struct pcpreq *r)
{
	if (send(st.fd, r->buf, r->len, 0) < 0 && errno != EAGAIN)
		log_debug("pcp: send to %s: %s", st.gw_str, strerror(errno));
	r->due_ms = ev_now_ms() + r->rt_ms;
	arm_rtx();
}

/* r is done: no more retransmissions of it. */
static void settle(struct pcpreq *r)
{
	r->due_ms = 0;
	arm_rtx();
}

/* Late answers to earlier requests: told apart by nonce anyway, but an
 * empty socket is cheaper. */
static void drain(void)
{
	uint8_t b[4];

	for (int i = 0; i < READ_BURST; i++)
		if (recv(st.fd, b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC) < 0)
			return;
}

static int send_req(struct gwq *q, struct gwq_req *qr, struct gw_result *res)
{
	struct pcpreq *r = (struct pcpreq *)qr;

	if (r->kind == PR_ANNOUNCE) {
		struct in6_addr me;

		if (pcp_wire_addr(st.lan, &me) < 0)
			goto fault;
		r->len = pcp_wire_build_announce(&me, r->buf, sizeof(r->buf));
	} else {
		r->len = pcp_wire_build_map(&r->m, r->buf, sizeof(r->buf));
	}
	if (r->len == 0)
		goto fault;
	/* Every nonce made since the last request is on disk before this one
	 * leaves (a nonce that cannot be saved is still used: the mapping
	 * works, only a restart could not renew it). */
	pcp_store_sync();
	if (first() == r && !next(r))
		drain();
	r->rt_ms = pcp_wire_next_rt_ms(0, drand48());
	transmit(r);
	return 0;
fault:
	res->outcome = GW_FAULT;
	snprintf(res->error, sizeof(res->error), "PCP: cannot build a request from %s",
		 st.lan[0] ? st.lan : "an unknown address");
	return -1;
}

static void on_rtx(void *arg)
{
	int64_t now = ev_now_ms();

	for (struct pcpreq *r = first(); r; r = next(r)) {
		if (!r->due_ms || r->due_ms > now)
			continue;
		r->rt_ms = pcp_wire_next_rt_ms(r->rt_ms, drand48());
		log_debug("pcp: no answer from %s to request %llu yet, sending again (next in "
			  "%lld ms)", st.gw_str, (unsigned long long)r->q.id, (long long)r->rt_ms);
		transmit(r);
	}
	arm_rtx();
}

static void expired(struct gwq *q, struct gwq_req *r)
{
	settle((struct pcpreq *)r);
}

/* ---- answers ---------------------------------------------------------- */

/* RFC 6887 8.5 on every answer to a request of ours (never on an
 * announcement: anyone on the LAN can send those). */
static bool epoch_lost(uint32_t epoch)
{
	uint32_t prev = st.epoch.server;
	bool lost = pcp_epoch_check(&st.epoch, epoch, ev_now_ms());

	if (lost)
		log_notice("gateway: PCP epoch %u after %u does not add up: it lost its mappings",
			   epoch, prev);
	return lost;
}

/* ADDRESS_MISMATCH: the gateway sees another source address than the one
 * we put in the request. */
static void redetect(struct gw_result *res)
{
	char now[INET_ADDRSTRLEN] = "";
	struct sockaddr_in me;
	socklen_t len = sizeof(me);

	if (getsockname(st.fd, (struct sockaddr *)&me, &len) == 0)
		inet_ntop(AF_INET, &me.sin_addr, now, sizeof(now));
	if (now[0] && strcmp(now, st.lan) != 0) {
		log_notice("pcp: our address towards %s is now %s, not %s", st.gw_str, now, st.lan);
		snprintf(st.lan, sizeof(st.lan), "%s", now);
	}
	/* Find the gateway (and our address) again; a NAT between us and
	 * it makes this repeat, with the gateway module's back-off. */
	res->outcome = GW_GONE;
}

static void discovered(struct gw_result *res)
{
	struct gw_found *f = &res->u.found;

	memset(f, 0, sizeof(*f));
	snprintf(f->address, sizeof(f->address), "%s", st.gw_str);
	snprintf(f->lan_addr, sizeof(f->lan_addr), "%s", st.lan);
}

static void map_answer(const struct pcpreq *r, const struct pcp_verdict *v,
		       struct gw_result *res)
{
	struct gw_mapping *m = &res->u.map;

	/* No handle: the nonce store is where the nonce lives (a handle that
	 * appeared only with the answer would rewrite mappings.json once per
	 * mapping). */
	memset(m, 0, sizeof(*m));
	snprintf(m->int_host, sizeof(m->int_host), "%s", r->int_host[0] ? r->int_host : st.lan);
	m->int_port = r->m.int_port;
	m->ext_port = v->ext_port;
	m->lease = v->lifetime;
	m->confirmed = res->outcome == GW_OK;
}

static void probe_delete(void);

static void finish_reply(struct pcpreq *r, const struct pcp_reply *rep)
{
	struct gw_result res = { .has_epoch = true, .epoch = rep->epoch };
	struct pcp_verdict v;

	settle(r);
	res.state_lost = rep->version == PCP_VERSION && epoch_lost(rep->epoch);
	pcp_wire_verdict(r->kind == PR_ANNOUNCE ? NULL : &r->m, rep, &v);
	res.outcome = v.outcome;
	res.code = rep->result;
	res.retry_s = v.retry_s;
	snprintf(res.error, sizeof(res.error), "%s", v.error);
	if (v.action == PCP_ACT_REDETECT)
		redetect(&res);
	if (r->kind == PR_ANNOUNCE && res.outcome == GW_OK && r->discover)
		discovered(&res);
	else if (r->kind == PR_PROBE && res.outcome == GW_OK) {
		snprintf(res.u.ext_ip, sizeof(res.u.ext_ip), "%s", v.ext_ip);
		snprintf(st.ext_ip, sizeof(st.ext_ip), "%s", v.ext_ip);
		probe_delete();
	} else if (r->kind == PR_MAP)
		map_answer(r, &v, &res);
	/* A delete that went through, or a mapping that is not (or no longer)
	 * ours: its nonce has done its job. */
	if (r->kind == PR_MAP && r->m.lifetime == 0 &&
	    (res.outcome == GW_OK || res.outcome == GW_NOT_FOUND || res.outcome == GW_REFUSED))
		pcp_store_forget(r->m.proto, r->int_host[0] ? r->int_host : st.lan, r->m.int_port);
	gwq_finish_req(&st.queue, &r->q, &res);
}

/* The request on the wire that rep answers, or NULL. */
static struct pcpreq *answered(const struct pcp_reply *rep)
{
	for (struct pcpreq *r = first(); r; r = next(r))
		if (r->kind == PR_ANNOUNCE ? pcp_wire_matches_announce(rep) :
		    pcp_wire_matches_map(rep, &r->m))
			return r;
	return NULL;
}

/* Port unreachable: no PCP there, whichever request drew it. Each
 * callback may stop the backend, which empties the wire. */
static void refused(void)
{
	struct pcpreq *r;

	while (st.inited && (r = first())) {
		settle(r);
		gwq_fail(&st.queue, GW_FAULT, "no PCP on gateway %s (port %d unreachable)",
			 st.gw_str, PCP_SERVER_PORT);
	}
}

/* 1: finished a request, 0: datagram dropped, -1: nothing to read. */
static int take_one(void)
{
	uint8_t buf[PCP_MAX_LEN + 1];
	struct pcp_reply rep;
	struct pcpreq *r = NULL;
	ssize_t n = recv(st.fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0) {
		if (errno == ECONNREFUSED && first()) {
			refused();
			return 1;
		}
		return -1;
	}
	if ((size_t)n > PCP_MAX_LEN || pcp_wire_parse(buf, (size_t)n, &rep) < 0 ||
	    !(r = answered(&rep))) {
		if (log_limit_ok(&st.stray_log, LOG_DEBUG, "pcp: stray datagrams"))
			log_debug("pcp: ignoring a %zd-byte datagram from %s that answers nothing "
				  "of ours", n, st.gw_str);
		return 0;
	}
	finish_reply(r, &rep);
	return 1;
}

static void on_readable(int fd, short revents, void *arg)
{
	for (int i = 0; i < READ_BURST; i++)
		if (take_one() < 0)
			return;
}

/* ---- requests --------------------------------------------------------- */

static const struct gwq_ops queue_ops = { .send = send_req, .expired = expired };

static uint64_t push(struct pcpreq *r, gw_cb cb, void *arg)
{
	if (!st.inited) {
		free(r);
		return 0;
	}
	return gwq_push(&st.queue, &r->q, cb, arg);
}

static uint64_t push_announce(bool discover, gw_cb cb, void *arg)
{
	struct pcpreq *r = xcalloc(1, sizeof(*r));

	r->kind = PR_ANNOUNCE;
	r->discover = discover;
	r->q.alone = true;          /* any ANNOUNCE answer matches any ANNOUNCE request */
	return push(r, cb, arg);
}

static uint8_t ip_proto(unsigned proto)
{
	return proto == SVC_UDP ? IPPROTO_UDP : proto == SVC_TCP ? IPPROTO_TCP : 0;
}

static uint64_t push_map(const struct gw_map_req *q, uint32_t lifetime, gw_cb cb, void *arg)
{
	const char *host = q->int_host[0] ? q->int_host : st.lan;
	uint8_t nonce[PCP_NONCE_LEN];
	struct pcpreq *r;

	if (!st.inited || q->family != GW_FAMILY_IPV4 || !ip_proto(q->proto) ||
	    pcp_store_nonce(ip_proto(q->proto), host, q->int_port, nonce) < 0)
		return 0;
	r = xcalloc(1, sizeof(*r));
	r->kind = PR_MAP;
	snprintf(r->int_host, sizeof(r->int_host), "%s", q->int_host);
	if (pcp_wire_map_init(&r->m, st.lan, q->int_host, ip_proto(q->proto), q->int_port,
			      q->ext_port, lifetime, nonce) < 0) {
		log_warnx("pcp: cannot ask for %s:%u from %s", host, q->int_port, st.lan);
		free(r);
		return 0;
	}
	return push(r, cb, arg);
}

static uint64_t op_map(const struct gw_map_req *q, gw_cb cb, void *arg)
{
	return push_map(q, q->lease ? q->lease : PERMANENT_LIFETIME, cb, arg);
}

static uint64_t op_unmap(const struct gw_map_req *q, gw_cb cb, void *arg)
{
	return push_map(q, 0, cb, arg);
}

static struct pcpreq *probe_req(enum pr_kind kind, uint32_t lifetime)
{
	struct pcpreq *r = xcalloc(1, sizeof(*r));

	r->kind = kind;
	r->q.alone = true;          /* the probe and its delete share a nonce */
	/* A high external port: miniupnpd tries the ports upwards from the one
	 * suggested until its permissions allow one (from 9: 1015 tries). */
	if (pcp_wire_map_init(&r->m, st.lan, NULL, IPPROTO_UDP, PROBE_PORT,
			      (uint16_t)(49152 + (st.probe_nonce[0] << 8 | st.probe_nonce[1]) % 16384),
			      lifetime, st.probe_nonce) < 0) {
		free(r);
		return NULL;
	}
	return r;
}

static uint64_t op_external_ip(gw_cb cb, void *arg)
{
	struct pcpreq *r = st.inited ? probe_req(PR_PROBE, PROBE_LIFETIME) : NULL;

	return r ? push(r, cb, arg) : 0;
}

/* The external-address MAP did its job: take it back (nobody waits). */
static void probe_delete(void)
{
	struct pcpreq *r = probe_req(PR_PROBE_DELETE, 0);

	if (r)
		push(r, NULL, NULL);
}

static uint64_t op_discover(gw_cb cb, void *arg)
{
	return push_announce(true, cb, arg);
}

static void op_cancel(uint64_t id)
{
	gwq_cancel(&st.queue, id);
}

static void op_cancel_all(void)
{
	gwq_cancel_all(&st.queue);
}

/* ---- announcements ---------------------------------------------------- */

/* Our own ANNOUNCE request, asked for by an announcement: its answer's
 * epoch says whether the gateway lost its state. */
static void on_hint_answer(void *arg, const struct gw_result *r)
{
	st.hint_queued = false;
	if (!st.hint_cb || r->outcome != GW_OK)
		return;
	if (r->state_lost) {
		st.hint_cb(st.hint_arg, GW_HINT_RESTARTED, "PCP: the gateway lost its mappings");
		return;
	}
	/* Same epoch: perhaps a new external address; worth a look, but a
	 * stream of announcements must not turn into a stream of MAPs. */
	if (st.last_changed_ms && ev_now_ms() - st.last_changed_ms < CHANGED_GAP_MS)
		return;
	st.last_changed_ms = ev_now_ms();
	st.hint_cb(st.hint_arg, GW_HINT_CHANGED, "PCP announcement");
}

static void ask_epoch(void *arg)
{
	if (st.hint_queued || !st.inited)
		return;
	st.last_hint_ms = ev_now_ms();
	st.hint_queued = push_announce(false, on_hint_answer, NULL) != 0;
}

/* Rate-limited: a flood of announcements costs one request a second. */
static void hinted(void)
{
	int64_t since = ev_now_ms() - st.last_hint_ms;

	if (st.hint_queued || ev_timer_armed(st.hint_timer))
		return;
	if (st.last_hint_ms && since < HINT_GAP_MS)
		ev_timer_arm(st.hint_timer, HINT_GAP_MS - since);
	else
		ask_epoch(NULL);
}

static void on_announce(int fd, short revents, void *arg)
{
	for (int i = 0; i < READ_BURST; i++) {
		uint8_t buf[PCP_MAX_LEN + 1];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		char ip[INET_ADDRSTRLEN];
		uint32_t epoch;
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &flen);

		if (n <= 0)
			return;
		if (flen != sizeof(from) || from.sin_family != AF_INET ||
		    from.sin_addr.s_addr != st.gw.s_addr || (size_t)n > PCP_MAX_LEN ||
		    pcp_wire_parse_announce(buf, (size_t)n, &epoch) < 0) {
			if ((buf[0] == PCP_VERSION || from.sin_addr.s_addr != st.gw.s_addr) &&
			    log_limit_ok(&st.ann_log, LOG_DEBUG, "pcp: announcements")) {
				inet_ntop(AF_INET, &from.sin_addr, ip, sizeof(ip));
				log_debug("pcp: ignoring %zd bytes on port %d from %s", n,
					  PCP_ANNOUNCE_PORT, ip);
			}
			continue;
		}
		/* Anyone on the LAN can send this with the gateway's address:
		 * its epoch is not believed, only our own request's answer. */
		if (log_limit_ok(&st.ann_log, LOG_DEBUG, "pcp: announcements"))
			log_debug("pcp: ANNOUNCE from %s (says epoch %u, not trusted): asking",
				  st.gw_str, epoch);
		hinted();
	}
}

static int op_listen(gw_hint_cb cb, void *arg)
{
	if (!st.inited || mcast_listen(&st.ann_fd, PCP_ANNOUNCE_PORT,
				       st.ifname[0] ? st.ifname : NULL, st.fd, "pcp",
				       on_announce, NULL) < 0)
		return -1;
	st.hint_cb = cb;
	st.hint_arg = arg;
	return 0;
}

/* ---- start and stop --------------------------------------------------- */

static int open_socket(char *err, size_t errlen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PCP_SERVER_PORT),
				  .sin_addr = st.gw };
	struct sockaddr_in me;
	socklen_t len = sizeof(me);

	st.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (st.fd < 0 || connect(st.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(st.fd, (struct sockaddr *)&me, &len) < 0) {
		snprintf(err, errlen, "cannot open a socket to gateway %s: %s", st.gw_str,
			 strerror(errno));
		return -1;
	}
	inet_ntop(AF_INET, &me.sin_addr, st.lan, sizeof(st.lan));
	if (ev_fd_add(st.fd, POLLIN, on_readable, NULL) < 0) {
		snprintf(err, errlen, "cannot watch the PCP socket");
		return -1;
	}
	return 0;
}

static void op_stop(void)
{
	if (!st.inited)
		return;
	st.inited = false;
	gwq_fini(&st.queue);
	mcast_close(&st.ann_fd);
	if (st.fd >= 0) {
		ev_fd_del(st.fd);
		close(st.fd);
	}
	st.fd = -1;
	ev_timer_free(st.rtx);
	ev_timer_free(st.hint_timer);
	st.rtx = st.hint_timer = NULL;
	st.hint_queued = false;
	st.hint_cb = NULL;
}

static int op_start(const struct gw_setup *s, char *err, size_t errlen)
{
	op_stop();
	memset(&st.epoch, 0, sizeof(st.epoch));
	st.ext_ip[0] = st.lan[0] = '\0';
	st.last_hint_ms = st.last_changed_ms = 0;
	snprintf(st.ifname, sizeof(st.ifname), "%s", s->ifname ? s->ifname : "");
	/* Only the trusted gateway (the default router) is asked: the socket
	 * is connected to it, so nothing else can answer. */
	if (!s->gateway) {
		snprintf(err, errlen, "no default route: no gateway to trust");
		return -1;
	}
	if (inet_pton(AF_INET, s->gateway, &st.gw) != 1) {
		snprintf(err, errlen, "gateway %s is not an IPv4 address", s->gateway);
		return -1;
	}
	inet_ntop(AF_INET, &st.gw, st.gw_str, sizeof(st.gw_str));
	if (pcp_store_random(st.probe_nonce) < 0) {
		snprintf(err, errlen, "no randomness for PCP nonces");
		return -1;
	}
	if (open_socket(err, errlen) < 0 ||
	    gwq_init(&st.queue, &queue_ops, s->deadline_ms > 0 ? s->deadline_ms :
		     DEFAULT_DEADLINE_MS, GWQ_WINDOW_MAX) < 0) {
		if (st.fd >= 0)
			close(st.fd);
		st.fd = -1;
		return -1;
	}
	st.rtx = ev_timer_new(on_rtx, NULL);
	st.hint_timer = ev_timer_new(ask_epoch, NULL);
	st.inited = true;
	log_debug("pcp: gateway %s, from %s, deadline %d ms", st.gw_str, st.lan,
		  st.queue.deadline_ms);
	return 0;
}

static int op_init(const char *state_dir)
{
	pcp_store_open(state_dir);
	return 0;
}

static void op_fini(void)
{
	op_stop();
	pcp_store_close();
}

static void op_describe(char *buf, size_t len)
{
	snprintf(buf, len, "answers at %s (PCP version 2, epoch %u)", st.gw_str, st.epoch.server);
}

static void op_probe_json(json_t *o, bool answered)
{
	json_object_set_new(o, "gateway", st.gw_str[0] ? json_string(st.gw_str) : json_null());
	json_object_set_new(o, "epoch", answered && st.epoch.known ?
			    json_integer(st.epoch.server) : json_null());
}

/* RFC 6887 11.2.1: the first renewal somewhere in [1/2, 5/8] of the lease. */
static int64_t op_renew_ms(uint32_t granted, double j)
{
	return pcp_wire_renew_ms(granted, 0, j, 0);
}

const struct gw_backend gw_backend_pcp = {
	.name = "pcp",
	.label = "PCP",
	.why = "UPnP did not answer; PCP comes before NAT-PMP (mappings owned by a nonce, "
	       "THIRD_PARTY for other hosts)",
	.pref = GW_PREF_PCP,
	.caps = GW_CAP_EPOCH | GW_CAP_ANNOUNCES | GW_CAP_OTHER_HOST | GW_CAP_THIRD_PARTY,
	.init = op_init,
	.fini = op_fini,
	.start = op_start,
	.stop = op_stop,
	.discover = op_discover,
	.external_ip = op_external_ip,
	.map = op_map,
	.unmap = op_unmap,
	.cancel = op_cancel,
	.cancel_all = op_cancel_all,
	.listen = op_listen,
	.describe = op_describe,
	.probe_json = op_probe_json,
	.renew_ms = op_renew_ms,
};
