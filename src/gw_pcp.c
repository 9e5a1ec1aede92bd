/* gw_pcp.c - the PCP backend (RFC 6887), our own client, inside the event
 * loop: one UDP socket connected to the gateway's port 5351 (the kernel
 * drops datagrams from anyone else) and, for pinholes, one over IPv6 to
 * this host's IPv6 router; a few requests on the wire at once (gw_queue.c's
 * window: each MAP has its own nonce, so every answer finds its request),
 * each retransmitted as RFC 6887 8.1.1 says until our own deadline.
 * ANNOUNCE requests and the external-address MAP and its delete (one nonce
 * for both) go alone. Every datagram is checked by pcp_wire.c (strict
 * parse, then it must answer a request on the wire by the same family:
 * opcode, nonce, protocol, port) and its epoch by the 8.5 rule; what it
 * means comes from pcp_wire_verdict.
 *
 * What the table row offers:
 *   discover     an ANNOUNCE request: any PCP v2 answer is a PCP gateway
 *   external_ip  PCP has no such request: a short MAP of the discard port
 *                (UDP 9) carries the address; it is deleted right after
 *   map, unmap   MAP with the mapping's nonce (pcp_store.c keeps it in the
 *                state directory, so that a restarted daemon renews and
 *                deletes its own mappings); lifetime 0 deletes. Mappings
 *                for another LAN host carry THIRD_PARTY.
 *   listen       ANNOUNCE on 224.0.0.1:5350 from the gateway only, and on
 *                [ff02::1]:5350 from this host's IPv6 default router only:
 *                a hint that makes us ask (an ANNOUNCE request of our own
 *                by the same family, at most one a second); a reset epoch
 *                in its answer means the gateway lost its mappings
 *                (GW_HINT_RESTARTED).
 *
 * IPv6 pinholes (GW_CAP_PINHOLE): a MAP for this host's IPv6 address is a
 * pinhole (the "external" port is the internal one). Routers open them
 * only for the asking address, so these requests go over IPv6, from that
 * very address, to this host's IPv6 default router (SPEC: the trusted
 * IPv6 gateway), on a second socket connected to it; that server keeps
 * its own epoch. Discovery asks it once (ANNOUNCE) after the IPv4
 * answer: found.pinholes says whether it answered. The nonce is the
 * pinhole's handle (pinhole.c keeps it in mappings.json) and also kept in
 * pcp.json; a delete followed by an add again (gw_map_req.again) keeps
 * it, so a pinhole keeps its nonce across renewals and daemon restarts.
 *
 * miniupnpd 2.3.1 quirks met here: the delete of a mapping it does not
 * have answers NO_RESOURCES (taken as "not found", pcp_wire.c); an IPv6
 * renewal answers external port 0 (taken as the internal port) and
 * forgets the nonce, so that the later delete is NOT_AUTHORIZED:
 * pinhole.c never renews in place, it deletes and adds again. */
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
#include "util.h"
#include "ev.h"
#include "gw_pcp.h"
#include "gw_queue.h"
#include "hintgap.h"
#include "log.h"
#include "mcast.h"
#include "pcp_store.h"
#include "pcp_wire.h"

#define DEFAULT_DEADLINE_MS 4000     /* the first send and one retransmission (IRT 3 s) */
#define PERMANENT_LIFETIME (7 * 24 * 3600)   /* asked for lease 0: PCP has no forever */
#define PROBE_PORT 9                 /* discard: the external-address MAP */
#define PROBE_LIFETIME 120
#define HINT_GAP_MS 1000             /* ANNOUNCE requests of ours, at most one a second */
#define CHANGED_GAP_MS 10000         /* "ask for the external IP" hints, at most every 10 s */
#define READ_BURST 64                /* datagrams read per wake-up */
#define V6_PROBE_MS 1000             /* discovery waits this long for PCP over IPv6 */

enum pr_kind { PR_ANNOUNCE, PR_MAP, PR_PROBE, PR_PROBE_DELETE };

struct pcpreq {
	struct gwq_req q;            /* first: the queue's part */
	enum pr_kind kind;
	bool discover;               /* the ANNOUNCE request of discovery */
	bool v6;                     /* over IPv6, from src6 to via6 (on scope6) */
	char src6[INET6_ADDRSTRLEN], via6[INET6_ADDRSTRLEN];
	unsigned scope6;
	bool keep_nonce;             /* a delete that an add of the same follows */
	bool held;                   /* discovery: the IPv4 answer waits for the IPv6 one */
	struct gw_result held_res;
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
	struct hintgap hint_gap;     /* ANNOUNCE requests of ours; the next one, when
				      * announcements come fast */
	struct hintgap changed_gap;  /* the GW_HINT_CHANGED passed on */
	bool hint_queued;            /* an ANNOUNCE request of ours is waiting or on the wire */
	bool hint_v6;                /* ... to be asked over IPv6 */
	/* IPv6: a socket from src6 to via6:5351 (reopened when they change) */
	int fd6;
	char src6[INET6_ADDRSTRLEN], via6[INET6_ADDRSTRLEN];
	unsigned scope6;
	struct pcp_epoch epoch6;
	bool v6_answers;             /* discovery: PCP answered over IPv6 */
	bool v6_asked;               /* ... and was asked */
	int ann6_fd;
	/* from gw_setup: this host's IPv6 address and default router then */
	char self6[INET6_ADDRSTRLEN], router6[INET6_ADDRSTRLEN];
	unsigned rscope6;
	/* per-datagram messages: a flood must not flood the log */
	struct log_limit stray_log, ann_log;
} st = { .fd = -1, .ann_fd = -1, .fd6 = -1, .ann6_fd = -1 };

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
	if (send(r->v6 ? st.fd6 : st.fd, r->buf, r->len, 0) < 0 && errno != EAGAIN)
		log_debug("pcp: send to %s: %s", r->v6 ? r->via6 : st.gw_str, strerror(errno));
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
static void drain(int fd)
{
	uint8_t b[4];

	for (int i = 0; fd >= 0 && i < READ_BURST; i++)
		if (recv(fd, b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC) < 0)
			return;
}

static void on_readable(int fd, short revents, void *arg);

static void close6(void)
{
	if (st.fd6 >= 0) {
		ev_fd_del(st.fd6);
		close(st.fd6);
	}
	st.fd6 = -1;
	st.src6[0] = st.via6[0] = '\0';
}

/* The IPv6 socket from r's address to r's router, port 5351: the kernel
 * then drops datagrams from anyone else. 0 / -1. */
static int open6(const struct pcpreq *r)
{
	struct sockaddr_in6 me = { .sin6_family = AF_INET6 };
	struct sockaddr_in6 gw = { .sin6_family = AF_INET6, .sin6_port = htons(PCP_SERVER_PORT),
				   .sin6_scope_id = r->scope6 };

	if (st.fd6 >= 0 && strcmp(st.src6, r->src6) == 0 && strcmp(st.via6, r->via6) == 0 &&
	    st.scope6 == r->scope6)
		return 0;
	close6();
	if (inet_pton(AF_INET6, r->src6, &me.sin6_addr) != 1 ||
	    inet_pton(AF_INET6, r->via6, &gw.sin6_addr) != 1)
		return -1;
	if (!IN6_IS_ADDR_LINKLOCAL(&gw.sin6_addr))
		gw.sin6_scope_id = 0;
	st.fd6 = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (st.fd6 < 0 || bind(st.fd6, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    connect(st.fd6, (struct sockaddr *)&gw, sizeof(gw)) < 0 ||
	    ev_fd_add(st.fd6, POLLIN, on_readable, &st.fd6) < 0) {
		log_info("pcp: cannot talk IPv6 from %s to %s: %s", r->src6, r->via6,
			 strerror(errno));
		if (st.fd6 >= 0)
			close(st.fd6);
		st.fd6 = -1;
		return -1;
	}
	snprintf(st.src6, sizeof(st.src6), "%s", r->src6);
	snprintf(st.via6, sizeof(st.via6), "%s", r->via6);
	st.scope6 = r->scope6;
	return 0;
}

static int send_req(struct gwq *q, struct gwq_req *qr, struct gw_result *res)
{
	struct pcpreq *r = (struct pcpreq *)qr;

	if (r->v6 && open6(r) < 0)
		goto fault;
	if (r->kind == PR_ANNOUNCE) {
		struct in6_addr me;

		if (pcp_wire_addr(r->v6 ? r->src6 : st.lan, &me) < 0)
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
		drain(r->v6 ? st.fd6 : st.fd);
	r->rt_ms = pcp_wire_next_rt_ms(0, drand48());
	transmit(r);
	return 0;
fault:
	res->outcome = GW_FAULT;
	snprintf(res->error, sizeof(res->error), "PCP: cannot build a request from %s",
		 r->v6 ? r->src6 : st.lan[0] ? st.lan : "an unknown address");
	return -1;
}

static void finish_held(struct pcpreq *r, bool answered);

static void on_rtx(void *arg)
{
	int64_t now = ev_now_ms();

	for (struct pcpreq *r = first(); r; r = next(r)) {
		if (!r->due_ms || r->due_ms > now)
			continue;
		if (r->held) {             /* discovery goes alone: nothing else is due */
			finish_held(r, false);
			return;
		}
		r->rt_ms = pcp_wire_next_rt_ms(r->rt_ms, drand48());
		log_debug("pcp: no answer from %s to request %llu yet, sending again (next in "
			  "%lld ms)", r->v6 ? r->via6 : st.gw_str, (unsigned long long)r->q.id,
			  (long long)r->rt_ms);
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
 * announcement: anyone on the LAN can send those). The server over IPv6
 * keeps its own epoch. */
static bool epoch_lost(bool v6, uint32_t epoch)
{
	struct pcp_epoch *e = v6 ? &st.epoch6 : &st.epoch;
	uint32_t prev = e->server;
	bool lost = pcp_epoch_check(e, epoch, ev_now_ms());

	if (lost)
		log_notice("gateway: PCP%s epoch %u after %u does not add up: it lost its mappings",
			   v6 ? " over IPv6" : "", epoch, prev);
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
	/* Not asked (no IPv6 address or router yet): the first pinhole
	 * request will tell. */
	f->pinholes = true;
}

/* Discovery found PCP over IPv4: the same request goes on as an ANNOUNCE
 * over IPv6 to this host's IPv6 router (a short wait: a router that is
 * silent there must not slow discovery down). false: nothing to ask. */
static bool ask_v6_too(struct pcpreq *r, struct gw_result *res)
{
	struct in6_addr me;

	st.v6_asked = st.v6_answers = false;
	if (!st.self6[0] || !st.router6[0])
		return false;
	r->v6 = true;
	snprintf(r->src6, sizeof(r->src6), "%s", st.self6);
	snprintf(r->via6, sizeof(r->via6), "%s", st.router6);
	r->scope6 = st.rscope6;
	r->held_res = *res;
	r->held = true;
	st.v6_asked = true;
	if (open6(r) < 0 || pcp_wire_addr(r->src6, &me) < 0) {
		res->u.found.pinholes = false;
		r->held = false;
		return false;
	}
	r->len = pcp_wire_build_announce(&me, r->buf, sizeof(r->buf));
	drain(st.fd6);
	r->rt_ms = V6_PROBE_MS;
	transmit(r);
	return true;
}

/* The discovery's IPv6 ANNOUNCE answered, or not in time. */
static void finish_held(struct pcpreq *r, bool answered)
{
	struct gw_result res = r->held_res;

	settle(r);
	st.v6_answers = answered;
	res.u.found.pinholes = answered;
	log_info("pcp: %s over IPv6 (from %s to %s)", answered ? "answers" : "no answer",
		 r->src6, r->via6);
	gwq_finish_req(&st.queue, &r->q, &res);
}

static void map_answer(const struct pcpreq *r, const struct pcp_verdict *v,
		       struct gw_result *res)
{
	struct gw_mapping *m = &res->u.map;

	/* IPv4: no handle, the nonce store is where the nonce lives (a handle
	 * that appeared only with the answer would rewrite mappings.json once
	 * per mapping). A pinhole's handle is its nonce: pinhole.c remembers
	 * pinholes by handle. */
	memset(m, 0, sizeof(*m));
	snprintf(m->int_host, sizeof(m->int_host), "%s", r->int_host[0] ? r->int_host : st.lan);
	m->int_port = r->m.int_port;
	m->ext_port = v->ext_port;
	m->lease = v->lifetime;
	m->confirmed = res->outcome == GW_OK;
	if (r->v6 && res->outcome == GW_OK)
		pcp_store_hex(r->m.nonce, m->handle);
}

static void probe_delete(void);

static void finish_reply(struct pcpreq *r, const struct pcp_reply *rep)
{
	struct gw_result res = { .has_epoch = true, .epoch = rep->epoch };
	struct pcp_verdict v;
	bool lost = rep->version == PCP_VERSION && epoch_lost(r->v6, rep->epoch);

	if (r->held) {
		finish_held(r, rep->version == PCP_VERSION && rep->result == PCP_SUCCESS);
		return;
	}
	settle(r);
	res.state_lost = lost;
	pcp_wire_verdict(r->kind == PR_ANNOUNCE ? NULL : &r->m, rep, &v);
	res.outcome = v.outcome;
	res.code = rep->result;
	res.retry_s = v.retry_s;
	snprintf(res.error, sizeof(res.error), "%s", v.error);
	if (v.action == PCP_ACT_REDETECT && !r->v6)
		redetect(&res);
	if (r->kind == PR_ANNOUNCE && res.outcome == GW_OK && r->discover) {
		discovered(&res);
		if (ask_v6_too(r, &res))
			return;
	}
	else if (r->kind == PR_PROBE && res.outcome == GW_OK) {
		snprintf(res.u.ext_ip, sizeof(res.u.ext_ip), "%s", v.ext_ip);
		snprintf(st.ext_ip, sizeof(st.ext_ip), "%s", v.ext_ip);
		probe_delete();
	} else if (r->kind == PR_MAP)
		map_answer(r, &v, &res);
	/* A delete that went through, or a mapping that is not (or no longer)
	 * ours: its nonce has done its job. */
	if (r->kind == PR_MAP && r->m.lifetime == 0 && !r->keep_nonce &&
	    (res.outcome == GW_OK || res.outcome == GW_NOT_FOUND || res.outcome == GW_REFUSED))
		pcp_store_forget(r->m.proto, r->int_host[0] ? r->int_host : st.lan, r->m.int_port);
	gwq_finish_req(&st.queue, &r->q, &res);
}

/* The first request on the wire that went by IPv6 (v6) or IPv4, or NULL. */
static struct pcpreq *first_by(bool v6)
{
	struct pcpreq *r = first();

	while (r && r->v6 != v6)
		r = next(r);
	return r;
}

/* The request on the wire that rep, which came by IPv6 (v6) or IPv4,
 * answers, or NULL. */
static struct pcpreq *answered(const struct pcp_reply *rep, bool v6)
{
	for (struct pcpreq *r = first_by(v6); r; r = next(r))
		if (r->v6 == v6 && (r->kind == PR_ANNOUNCE ? pcp_wire_matches_announce(rep) :
				    pcp_wire_matches_map(rep, &r->m)))
			return r;
	return NULL;
}

/* No PCP server where requests went (ICMP port unreachable): every one of
 * that family fails. Each callback may stop the backend, which empties
 * the wire. */
static void refused(bool v6)
{
	struct pcpreq *r;

	while (st.inited && (r = first_by(v6))) {
		struct gw_result res = { .outcome = GW_FAULT };

		if (r->held) {
			finish_held(r, false);
			continue;
		}
		settle(r);
		snprintf(res.error, sizeof(res.error), "no PCP on %s%s (port %d unreachable)",
			 v6 ? "IPv6 router " : "gateway ", v6 ? st.via6 : st.gw_str,
			 PCP_SERVER_PORT);
		gwq_finish_req(&st.queue, &r->q, &res);
	}
}

/* 1: finished a request, 0: datagram dropped, -1: nothing to read. */
static int take_one(int fd)
{
	uint8_t buf[PCP_MAX_LEN + 1];
	struct pcp_reply rep;
	struct pcpreq *r = NULL;
	bool v6 = fd == st.fd6;
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0) {
		if (errno == ECONNREFUSED && first_by(v6)) {
			refused(v6);
			return 1;
		}
		return -1;
	}
	if ((size_t)n > PCP_MAX_LEN || pcp_wire_parse(buf, (size_t)n, &rep) < 0 ||
	    !(r = answered(&rep, v6))) {
		if (log_limit_ok(&st.stray_log, LOG_DEBUG, "pcp: stray datagrams"))
			log_debug("pcp: ignoring a %zd-byte datagram from %s that answers nothing "
				  "of ours", n, v6 ? st.via6 : st.gw_str);
		return 0;
	}
	finish_reply(r, &rep);
	return 1;
}

static void on_readable(int fd, short revents, void *arg)
{
	/* the IPv6 socket may be closed and opened again by what an answer
	 * makes the caller do: read from the one that woke us, while open */
	for (int i = 0; i < READ_BURST && (fd == st.fd || fd == st.fd6); i++)
		if (take_one(fd) < 0)
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

/* The IPv6 router and our address there: the last ones a request used,
 * else those of the start. false: none. */
static bool where6(char src[INET6_ADDRSTRLEN], char via[INET6_ADDRSTRLEN], unsigned *scope)
{
	bool last = st.src6[0] && st.via6[0];

	snprintf(src, INET6_ADDRSTRLEN, "%s", last ? st.src6 : st.self6);
	snprintf(via, INET6_ADDRSTRLEN, "%s", last ? st.via6 : st.router6);
	*scope = last ? st.scope6 : st.rscope6;
	return src[0] && via[0];
}

/* An ANNOUNCE request over IPv6 (asked for by an IPv6 announcement). */
static uint64_t push_announce6(gw_cb cb, void *arg)
{
	struct pcpreq *r = xcalloc(1, sizeof(*r));

	r->kind = PR_ANNOUNCE;
	r->v6 = true;
	r->q.alone = true;
	if (!where6(r->src6, r->via6, &r->scope6)) {
		free(r);
		return 0;
	}
	return push(r, cb, arg);
}

static uint8_t ip_proto(unsigned proto)
{
	return proto == SVC_UDP ? IPPROTO_UDP : proto == SVC_TCP ? IPPROTO_TCP : 0;
}

/* An IPv4 mapping, for this host (st.lan) or another one (THIRD_PARTY). */
static struct pcpreq *map_req4(const struct gw_map_req *q, uint32_t lifetime)
{
	const char *host = q->int_host[0] ? q->int_host : st.lan;
	uint8_t nonce[PCP_NONCE_LEN];
	struct pcpreq *r;

	if (pcp_store_nonce(ip_proto(q->proto), host, q->int_port, nonce) < 0)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	if (pcp_wire_map_init(&r->m, st.lan, q->int_host, ip_proto(q->proto), q->int_port,
			      q->ext_port, lifetime, nonce) < 0) {
		log_warnx("pcp: cannot ask for %s:%u from %s", host, q->int_port, st.lan);
		free(r);
		return NULL;
	}
	return r;
}

/* An IPv6 pinhole: from the address it opens, to the IPv6 router. Its
 * nonce is the handle when there is one, else the kept one; a delete
 * without either has nothing to say. */
static struct pcpreq *map_req6(const struct gw_map_req *q, uint32_t lifetime)
{
	uint8_t nonce[PCP_NONCE_LEN];
	struct pcpreq *r;
	bool known = pcp_store_unhex(q->handle, nonce) == 0 ||
		     pcp_store_lookup(ip_proto(q->proto), q->int_host, q->int_port, nonce);

	if (!q->int_host[0] || !q->via6[0] || (!known && lifetime == 0) ||
	    (!known && pcp_store_nonce(ip_proto(q->proto), q->int_host, q->int_port, nonce) < 0))
		return NULL;
	r = xcalloc(1, sizeof(*r));
	if (pcp_wire_map_init(&r->m, q->int_host, q->int_host, ip_proto(q->proto), q->int_port,
			      q->int_port, lifetime, nonce) < 0) {
		log_warnx("pcp: cannot ask for [%s]:%u", q->int_host, q->int_port);
		free(r);
		return NULL;
	}
	r->v6 = true;
	snprintf(r->src6, sizeof(r->src6), "%s", q->int_host);
	snprintf(r->via6, sizeof(r->via6), "%s", q->via6);
	r->scope6 = q->scope_id;
	r->keep_nonce = lifetime == 0 && q->again;
	return r;
}

static uint64_t push_map(const struct gw_map_req *q, uint32_t lifetime, gw_cb cb, void *arg)
{
	struct pcpreq *r;

	if (!st.inited || !ip_proto(q->proto))
		return 0;
	r = q->family == GW_FAMILY_IPV6 ? map_req6(q, lifetime) : map_req4(q, lifetime);
	if (!r)
		return 0;
	r->kind = PR_MAP;
	snprintf(r->int_host, sizeof(r->int_host), "%s", q->int_host);
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
	if (!hintgap_take(&st.changed_gap))
		return;
	st.hint_cb(st.hint_arg, GW_HINT_CHANGED, "PCP announcement");
}

static void ask_epoch(void *arg)
{
	bool v6 = st.hint_v6;

	if (st.hint_queued || !st.inited)
		return;
	hintgap_ran(&st.hint_gap);
	st.hint_v6 = false;
	st.hint_queued = (v6 ? push_announce6(on_hint_answer, NULL) :
			  push_announce(false, on_hint_answer, NULL)) != 0;
}

/* Rate-limited: a flood of announcements costs one request a second,
 * by the family of the first announcement in that second (the epoch
 * over the other one is checked with every answer anyway). */
static void hinted(bool v6)
{
	int64_t wait = hintgap_wait(&st.hint_gap);

	if (st.hint_queued || hintgap_due(&st.hint_gap))
		return;
	st.hint_v6 = v6;
	if (wait > 0)
		hintgap_arm(&st.hint_gap, wait);
	else
		ask_epoch(NULL);
}

/* Is from this host's IPv6 default router (the one we ask)? */
static bool from_router6(const struct sockaddr_in6 *from)
{
	char src[INET6_ADDRSTRLEN], via[INET6_ADDRSTRLEN];
	struct in6_addr a;
	unsigned scope;

	return where6(src, via, &scope) && inet_pton(AF_INET6, via, &a) == 1 &&
	       memcmp(&a, &from->sin6_addr, sizeof(a)) == 0 &&
	       (!IN6_IS_ADDR_LINKLOCAL(&a) || from->sin6_scope_id == scope);
}

/* Is from (flen bytes) the gateway of its family: the IPv4 gateway, or
 * this host's IPv6 default router? Its address as text into ip. */
static bool from_gateway(const struct sockaddr_storage *from, socklen_t flen, bool v6,
			 char ip[INET6_ADDRSTRLEN])
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)from;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)from;

	ip[0] = '\0';
	if (v6 ? flen != sizeof(*a6) || from->ss_family != AF_INET6 :
	    flen != sizeof(*a4) || from->ss_family != AF_INET)
		return false;
	inet_ntop(from->ss_family, v6 ? (const void *)&a6->sin6_addr : (const void *)&a4->sin_addr,
		  ip, INET6_ADDRSTRLEN);
	return v6 ? from_router6(a6) : a4->sin_addr.s_addr == st.gw.s_addr;
}

/* An ANNOUNCE on 224.0.0.1:5350 (arg NULL) or [ff02::1]:5350 (arg not NULL). */
static void on_announce(int fd, short revents, void *arg)
{
	bool v6 = arg != NULL;

	for (int i = 0; i < READ_BURST; i++) {
		uint8_t buf[PCP_MAX_LEN + 1];
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		char ip[INET6_ADDRSTRLEN];
		uint32_t epoch;
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &flen);
		bool gateway;

		if (n <= 0)
			return;
		gateway = from_gateway(&from, flen, v6, ip);
		if (!gateway || (size_t)n > PCP_MAX_LEN ||
		    pcp_wire_parse_announce(buf, (size_t)n, &epoch) < 0) {
			if ((buf[0] == PCP_VERSION || !gateway) &&
			    log_limit_ok(&st.ann_log, LOG_DEBUG, "pcp: announcements"))
				log_debug("pcp: ignoring %zd bytes on %s:%d from %s", n,
					  v6 ? "[ff02::1]" : "224.0.0.1", PCP_ANNOUNCE_PORT, ip);
			continue;
		}
		/* Anyone on the LAN can send this with the gateway's address:
		 * its epoch is not believed, only our own request's answer. */
		if (log_limit_ok(&st.ann_log, LOG_DEBUG, "pcp: announcements"))
			log_debug("pcp: ANNOUNCE from %s (says epoch %u, not trusted): asking",
				  ip, epoch);
		hinted(v6);
	}
}

static int op_listen(gw_hint_cb cb, void *arg)
{
	if (!st.inited || mcast_listen(&st.ann_fd, PCP_ANNOUNCE_PORT,
				       st.ifname[0] ? st.ifname : NULL, st.fd, "pcp",
				       on_announce, NULL) < 0)
		return -1;
	/* IPv6: on the interface of the IPv6 router we know (none: no IPv6) */
	if (st.rscope6 && mcast_listen6(&st.ann6_fd, PCP_ANNOUNCE_PORT, st.rscope6, "pcp",
					on_announce, &st.ann6_fd) < 0)
		log_info("pcp: not listening for IPv6 announcements");
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
	mcast_close(&st.ann6_fd);
	close6();
	if (st.fd >= 0) {
		ev_fd_del(st.fd);
		close(st.fd);
	}
	st.fd = -1;
	ev_timer_free(st.rtx);
	hintgap_fini(&st.hint_gap);
	st.rtx = NULL;
	st.hint_queued = false;
	st.hint_cb = NULL;
}

static int op_start(const struct gw_setup *s, char *err, size_t errlen)
{
	op_stop();
	memset(&st.epoch, 0, sizeof(st.epoch));
	memset(&st.epoch6, 0, sizeof(st.epoch6));
	st.ext_ip[0] = st.lan[0] = '\0';
	st.v6_asked = st.v6_answers = st.hint_v6 = false;
	snprintf(st.ifname, sizeof(st.ifname), "%s", s->ifname ? s->ifname : "");
	snprintf(st.self6, sizeof(st.self6), "%s", s->addr6 && s->router6 ? s->addr6 : "");
	snprintf(st.router6, sizeof(st.router6), "%s", s->addr6 && s->router6 ? s->router6 : "");
	st.rscope6 = st.router6[0] ? s->scope6 : 0;
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
	hintgap_init(&st.hint_gap, HINT_GAP_MS, ask_epoch, NULL);
	hintgap_init(&st.changed_gap, CHANGED_GAP_MS, NULL, NULL);
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
	snprintf(buf, len, "answers at %s (PCP version 2, epoch %u)%s%s%s", st.gw_str,
		 st.epoch.server, !st.v6_asked ? "" : st.v6_answers ?
		 "; over IPv6 at " : "; no answer over IPv6 at ",
		 st.v6_asked ? st.router6 : "", st.v6_asked && st.v6_answers ?
		 " (pinholes)" : "");
}

static void op_probe_json(json_t *o, bool answered)
{
	json_object_set_new(o, "gateway", st.gw_str[0] ? json_string(st.gw_str) : json_null());
	json_object_set_new(o, "epoch", answered && st.epoch.known ?
			    json_integer(st.epoch.server) : json_null());
	json_object_set_new(o, "ipv6_router", st.v6_asked ? json_string(st.router6) : json_null());
	json_object_set_new(o, "ipv6_answers", st.v6_asked ? json_boolean(st.v6_answers) :
			    json_null());
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
	.caps = GW_CAP_EPOCH | GW_CAP_ANNOUNCES | GW_CAP_OTHER_HOST | GW_CAP_THIRD_PARTY |
		GW_CAP_PINHOLE | GW_CAP_OWN_HANDLE,
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
