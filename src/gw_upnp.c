/* gw_upnp.c - daemon side of the UPnP backend. Requests queue here
 * (gw_queue.c) and go over a SOCK_SEQPACKET socketpair to
 * homeport-upnp-helper (src/upnp-helper/, started by upnp_proc.c), a
 * program of its own that runs the blocking miniupnpc calls confined, one
 * at a time. The queue's window lets a few requests overlap: each goes to
 * a helper of its own (up to GWQ_WINDOW_MAX of them, each with its own
 * connection to the router; separate processes keep the helper as simple
 * and confined as it is). The first helper stays; the others end as soon
 * as nothing waits for them, so an idle daemon keeps one. Past a
 * request's deadline, or when its helper dies, that helper is killed and
 * reaped and the request ends GW_GONE. The next request starts a new
 * helper, which reloads the IGD from the last root URL that every
 * request carries. Replies are checked as strictly as requests: the
 * helper parses hostile XML and is trusted no more than the router; every
 * string from it is cleaned (str_sanitize) before it can reach a log or
 * the status. Discovery over SSDP trusts only an IGD at the gateway
 * (gw_setup.gateway): the helper drops the others and names them, and the
 * control URL it found is checked here again.
 *
 * The gateway's SSDP NOTIFYs (and its answer to a unicast M-SEARCH) are
 * this backend's announcements: a new BOOTID.UPNP.ORG means the router
 * restarted. They are only hints (gw_hint). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "ev.h"
#include "gw_queue.h"
#include "gw_upnp.h"
#include "log.h"
#include "ssdp.h"
#include "upnp_proc.h"
#include "upnp_wire.h"
#include "util.h"

#define DEFAULT_DEADLINE_MS 6000     /* SSDP alone takes 2 s */
#define SSDP_PORT 1900
#define READ_BURST 64                /* datagrams read per wake-up */
#define SSDP_GATHER_MS 1000          /* read a burst of NOTIFYs in one go, see on_ssdp */
#define SSDP_FLOOD 100               /* datagrams a second: no router's burst, a flood */
#define HELPERS GWQ_WINDOW_MAX       /* one per request on the wire */

struct ureq {
	struct gwq_req q;            /* first: the queue's part */
	struct upnp_wire_req w;
};

struct helper {
	int fd;
	pid_t pid;
	struct ureq *req;            /* on the wire through it, NULL when idle */
};

static struct {
	bool inited;
	struct helper helpers[HELPERS];  /* [0] stays, the others only while needed */
	struct gwq queue;
	char root_url[256];          /* last IGD found; a new helper reloads it */
	bool have_igd;
	struct upnp_igd igd;
	/* SSDP */
	int ssdp_fd;
	struct ev_timer *ssdp_gather;
	int64_t ssdp_sec_ms;         /* the flood meter: this second's start, */
	unsigned ssdp_this_sec, ssdp_last_sec;   /* datagrams in it and the one before */
	struct in_addr ssdp_from;
	bool have_bootid;
	unsigned long bootid;
	gw_hint_cb hint_cb;
	void *hint_arg;
} st = { .ssdp_fd = -1 };

/* h->req stays for the caller to finish or forget. */
static void stop_helper(struct helper *h)
{
	if (h->fd >= 0) {
		ev_fd_del(h->fd);
		close(h->fd);
	}
	upnp_proc_stop(h->pid);
	h->fd = -1;
	h->pid = -1;
}

static void stop_helpers(void)
{
	for (size_t i = 0; i < HELPERS; i++) {
		stop_helper(&st.helpers[i]);
		st.helpers[i].req = NULL;
	}
}

/* ---- sorting the helper's answers into outcomes ---------------------- */

/* miniupnpd 2.3.1: another host's address, a port below 1024 or a request
 * from another address: 606; an unknown UniqueID: 402 (not the 704 of the
 * specification). */
static enum gw_outcome pinhole_outcome(const struct upnp_result *r, const struct upnp_wire_req *w)
{
	switch (r->upnp_code) {
	case 0:   return GW_FAULT;
	case 606: return GW_REFUSED;
	case 402:
	case 704: return w->op == UPNP_OP_PIN_ADD ? GW_TEMPORARY : GW_NOT_FOUND;
	default:  return GW_TEMPORARY;
	}
}

static enum gw_outcome upnp_outcome(const struct upnp_result *r, const struct upnp_wire_req *w)
{
	if (r->status == UPNP_ST_OK)
		return GW_OK;
	if (r->status != UPNP_ST_ERROR)
		return GW_GONE;                /* no IGD, no answer */
	if (w->op == UPNP_OP_PIN_ADD || w->op == UPNP_OP_PIN_DEL || w->op == UPNP_OP_PIN_CHECK)
		return pinhole_outcome(r, w);
	switch (r->upnp_code) {
	case 0:   return GW_FAULT;         /* garbage, no HTTP answer */
	case 718: return GW_CONFLICT;
	case 606: return GW_REFUSED;
	case 714: return GW_NOT_FOUND;
	case 725: return GW_PERMANENT_ONLY;
	case 402: /* InvalidArgs: what some IGDv1 say to a lease they cannot keep */
		return w->op == UPNP_OP_ADD && w->lease ? GW_PERMANENT_ONLY : GW_TEMPORARY;
	default:  return GW_TEMPORARY;
	}
}

static void fill_ok(const struct upnp_result *r, const struct upnp_wire_req *w,
		    struct gw_result *g)
{
	switch (w->op) {
	case UPNP_OP_DISCOVER:
		st.igd = r->u.igd;
		st.have_igd = true;
		snprintf(st.root_url, sizeof(st.root_url), "%s", r->u.igd.root_url);
		snprintf(g->u.found.address, sizeof(g->u.found.address), "%s", r->u.igd.gateway_addr);
		snprintf(g->u.found.lan_addr, sizeof(g->u.found.lan_addr), "%s", r->u.igd.lan_addr);
		snprintf(g->u.found.locator, sizeof(g->u.found.locator), "%s", r->u.igd.root_url);
		g->u.found.pinholes = r->u.igd.has_6fc;
		break;
	case UPNP_OP_EXT_IP:
		snprintf(g->u.ext_ip, sizeof(g->u.ext_ip), "%s", r->u.ext_ip);
		break;
	case UPNP_OP_ADD:
		g->u.map.ext_port = w->ext_port;
		g->u.map.int_port = w->int_port;
		g->u.map.lease = w->lease;
		g->u.map.confirmed = r->confirmed;
		snprintf(g->u.map.int_host, sizeof(g->u.map.int_host), "%s", w->int_host);
		snprintf(g->u.map.desc, sizeof(g->u.map.desc), "%s", w->desc);
		break;
	case UPNP_OP_PIN_ADD:
		g->u.map.ext_port = g->u.map.int_port = w->int_port;
		g->u.map.lease = w->lease;
		g->u.map.confirmed = true;
		snprintf(g->u.map.int_host, sizeof(g->u.map.int_host), "%s", w->addr6);
		snprintf(g->u.map.handle, sizeof(g->u.map.handle), "%s", r->u.uid);
		break;
	case UPNP_OP_PIN_CHECK:
		g->u.map.ext_port = g->u.map.int_port = w->int_port;
		snprintf(g->u.map.int_host, sizeof(g->u.map.int_host), "%s", w->addr6);
		snprintf(g->u.map.handle, sizeof(g->u.map.handle), "%s", w->uid);
		break;
	case UPNP_OP_GET:
		g->u.map.ext_port = w->ext_port;
		g->u.map.int_port = r->u.entry.int_port;
		g->u.map.lease = r->u.entry.lease;
		snprintf(g->u.map.int_host, sizeof(g->u.map.int_host), "%s", r->u.entry.int_client);
		snprintf(g->u.map.desc, sizeof(g->u.map.desc), "%s", r->u.entry.desc);
		break;
	default:
		break;
	}
}

/* Discovery over SSDP: the control URL must be at the gateway too (a
 * description there that points elsewhere is no gateway of ours). */
static bool untrusted(const struct upnp_result *r, const struct upnp_wire_req *w,
		      struct gw_result *g)
{
	if (w->op != UPNP_OP_DISCOVER || w->root_url[0] || r->status != UPNP_ST_OK ||
	    strcmp(r->u.igd.gateway_addr, w->gateway) == 0)
		return false;
	g->outcome = GW_GONE;
	snprintf(g->error, sizeof(g->error), "the IGD at %s has its control URL "
		 "elsewhere (%.60s)", w->gateway, r->u.igd.control_url);
	return true;
}

/* h's request ends with g. When nothing waits any more (the callback
 * may have queued the next request), the idle extra helpers end. */
static void finish_req(struct helper *h, const struct gw_result *g)
{
	struct ureq *u = h->req;

	h->req = NULL;
	gwq_finish_req(&st.queue, &u->q, g);
	if (!st.inited || gwq_waiting(&st.queue))
		return;
	for (size_t i = 1; i < HELPERS; i++)
		if (st.helpers[i].fd >= 0 && !st.helpers[i].req) {
			log_debug("upnp: helper %d no longer needed", (int)st.helpers[i].pid);
			stop_helper(&st.helpers[i]);
		}
}

static void fail_req(struct helper *h, enum gw_outcome o, const char *msg)
{
	struct gw_result g = { .outcome = o };

	snprintf(g.error, sizeof(g.error), "%s", msg);
	finish_req(h, &g);
}

static void finish(struct helper *h, const struct upnp_result *r)
{
	const struct upnp_wire_req *w = &h->req->w;
	struct gw_result g = { .outcome = upnp_outcome(r, w), .code = r->upnp_code };

	snprintf(g.error, sizeof(g.error), "%s", r->error);
	for (size_t i = 0, n = 0; i < UPNP_IGNORED_MAX && i < GW_IGNORED_MAX; i++)
		if (r->ignored[i][0])
			snprintf(g.ignored[n++], sizeof(g.ignored[0]), "UPnP IGD at %s",
				 r->ignored[i]);
	if (g.outcome == GW_OK && !untrusted(r, w, &g))
		fill_ok(r, w, &g);
	finish_req(h, &g);
}

/* Terminate and clean a string from the helper (the router's words). */
#define CLEAN(field) ((field)[sizeof(field) - 1] = '\0', str_sanitize(field))

/* Terminate and clean every string, clamp the enum: the helper may be
 * subverted, and what it passes on comes from the router. */
static void sanitize(struct upnp_result *r, uint32_t op)
{
	CLEAN(r->error);
	for (size_t i = 0; i < UPNP_IGNORED_MAX; i++)
		CLEAN(r->ignored[i]);
	if (r->status != UPNP_ST_OK && r->status != UPNP_ST_ERROR &&
	    r->status != UPNP_ST_NO_IGD) {
		memset(r, 0, sizeof(*r));
		r->status = UPNP_ST_ERROR;
		snprintf(r->error, sizeof(r->error), "invalid reply from the UPnP helper");
		return;
	}
	if (r->status != UPNP_ST_ERROR)
		r->upnp_code = 0;
	r->confirmed = op == UPNP_OP_ADD && r->status == UPNP_ST_OK &&
		*(volatile unsigned char *)&r->confirmed != 0;
	if (op == UPNP_OP_DISCOVER) {
		struct upnp_igd *g = &r->u.igd;
		CLEAN(g->root_url);
		CLEAN(g->control_url);
		CLEAN(g->service_type);
		CLEAN(g->lan_addr);
		CLEAN(g->gateway_addr);
		g->connected = !!*(volatile unsigned char *)&g->connected;
		g->has_6fc = !!*(volatile unsigned char *)&g->has_6fc;
		g->fw_known = !!*(volatile unsigned char *)&g->fw_known;
		g->fw_enabled = !!*(volatile unsigned char *)&g->fw_enabled;
		g->fw_inbound = !!*(volatile unsigned char *)&g->fw_inbound;
	} else if (op == UPNP_OP_PIN_ADD) {
		r->u.uid[sizeof(r->u.uid) - 1] = '\0';
		if (r->status == UPNP_ST_OK && strspn(r->u.uid, "0123456789") != strlen(r->u.uid))
			r->u.uid[0] = '\0';
	} else if (op == UPNP_OP_EXT_IP) {
		CLEAN(r->u.ext_ip);
	} else if (op == UPNP_OP_GET) {
		CLEAN(r->u.entry.int_client);
		CLEAN(r->u.entry.desc);
		r->u.entry.enabled = !!*(volatile unsigned char *)&r->u.entry.enabled;
	}
}

/* A helper died or broke the protocol: it ends, and its request with it. */
static void lost(struct helper *h, enum gw_outcome o, const char *msg)
{
	log_debug("upnp: helper %d: %s", (int)h->pid, msg);
	stop_helper(h);
	if (h->req)
		fail_req(h, o, msg);
}

static void on_readable(int fd, short revents, void *arg)
{
	struct helper *h = arg;
	union {
		struct upnp_wire_rep p;
		char raw[sizeof(struct upnp_wire_rep) + 16];
	} in;
	ssize_t n = recv(fd, &in, sizeof(in), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		lost(h, GW_GONE, "UPnP helper died");
		return;
	}
	if (n != (ssize_t)sizeof(in.p) || in.p.magic != UPNP_WIRE_MAGIC) {
		log_warnx("upnp: malformed %zd-byte reply from the helper", n);
		lost(h, GW_FAULT, "invalid reply from the UPnP helper");
		return;
	}
	if (!h->req || in.p.id != h->req->w.id) {
		log_debug("upnp: dropping reply %llu, nothing waits for it",
			  (unsigned long long)in.p.id);
		return;
	}
	sanitize(&in.p.res, h->req->w.op);
	finish(h, &in.p.res);
}

/* ---- the helpers ----------------------------------------------------- */

static int start_helper(struct helper *h)
{
	if (upnp_proc_start(&h->fd, &h->pid) < 0)
		return -1;
	if (ev_fd_add(h->fd, POLLIN, on_readable, h) < 0) {
		log_warn("upnp: helper socket");
		stop_helper(h);
		return -1;
	}
	return 0;
}

static int send_wire(struct helper *h, struct upnp_wire_req *w)
{
	if (h->fd < 0 && start_helper(h) < 0)
		return -1;
	if (send(h->fd, w, sizeof(*w), MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(*w))
		return 0;
	/* A helper that died between requests: one fresh try. */
	log_debug("upnp: send to helper: %s", strerror(errno));
	stop_helper(h);
	if (start_helper(h) < 0)
		return -1;
	return send(h->fd, w, sizeof(*w), MSG_NOSIGNAL | MSG_DONTWAIT) ==
		(ssize_t)sizeof(*w) ? 0 : -1;
}

/* An idle helper, running ones first (the first helper above all), else
 * a free place for a new one. The window never exceeds HELPERS. */
static struct helper *idle_helper(void)
{
	for (size_t i = 0; i < HELPERS; i++)
		if (st.helpers[i].fd >= 0 && !st.helpers[i].req)
			return &st.helpers[i];
	for (size_t i = 0; i < HELPERS; i++)
		if (st.helpers[i].fd < 0)
			return &st.helpers[i];
	return NULL;
}

/* A helper of the window (the window grew: the IGD answered well just
 * now) takes the IGD the first one found rather than fetching its
 * description again. The first helper, restarted after a failure,
 * always reads the description anew. */
static void hand_igd(struct upnp_wire_req *w)
{
	if (!st.have_igd || w->op == UPNP_OP_DISCOVER || strcmp(st.igd.root_url, w->root_url) != 0)
		return;
	snprintf(w->control_url, sizeof(w->control_url), "%s", st.igd.control_url);
	snprintf(w->service_type, sizeof(w->service_type), "%s", st.igd.service_type);
	snprintf(w->lan_addr, sizeof(w->lan_addr), "%s", st.igd.lan_addr);
}

static int send_req(struct gwq *q, struct gwq_req *qr, struct gw_result *res)
{
	struct ureq *u = (struct ureq *)qr;
	struct upnp_wire_req *w = &u->w;
	struct helper *h = idle_helper();

	w->id = qr->id;
	if (w->op != UPNP_OP_DISCOVER)
		snprintf(w->root_url, sizeof(w->root_url), "%s", st.root_url);
	if (h && h != &st.helpers[0])
		hand_igd(w);
	if (h && send_wire(h, w) == 0) {
		h->req = u;
		return 0;
	}
	if (h)
		stop_helper(h);
	res->outcome = GW_FAULT;
	snprintf(res->error, sizeof(res->error), "cannot start the UPnP helper");
	return -1;
}

static void expired(struct gwq *q, struct gwq_req *r)
{
	for (size_t i = 0; i < HELPERS; i++) {
		struct helper *h = &st.helpers[i];

		if (h->req != (struct ureq *)r)
			continue;
		log_debug("upnp: request %llu timed out, killing helper %d",
			  (unsigned long long)r->id, (int)h->pid);
		stop_helper(h);
		h->req = NULL;           /* the queue finishes it */
	}
}

static const struct gwq_ops queue_ops = { .send = send_req, .expired = expired };

/* ---- requests ---------------------------------------------------------- */

int upnp_init(int deadline_ms)
{
	if (st.inited)
		upnp_fini();
	for (size_t i = 0; i < HELPERS; i++)
		st.helpers[i] = (struct helper){ .fd = -1, .pid = -1 };
	if (gwq_init(&st.queue, &queue_ops, deadline_ms > 0 ? deadline_ms : DEFAULT_DEADLINE_MS,
		     HELPERS) < 0)
		return -1;
	st.root_url[0] = '\0';
	st.have_igd = false;
	upnp_proc_prepare();
	st.inited = true;
	log_debug("upnp: deadline %d ms", st.queue.deadline_ms);
	return 0;
}

static void ssdp_close(void);

void upnp_fini(void)
{
	if (!st.inited)
		return;
	st.inited = false;
	stop_helpers();
	ssdp_close();
	gwq_fini(&st.queue);
}

void upnp_helper_path(const char *path)
{
	upnp_proc_set_path(path);
}

const struct upnp_igd *upnp_igd(void)
{
	return st.have_igd ? &st.igd : NULL;
}

static struct ureq *new_req(uint32_t op)
{
	struct ureq *r;

	if (!st.inited)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->w.magic = UPNP_WIRE_MAGIC;
	r->w.op = op;
	return r;
}

static uint64_t enqueue(struct ureq *r, gw_cb cb, void *arg)
{
	return gwq_push(&st.queue, &r->q, cb, arg);
}

/* Copies that refuse to truncate: a cut URL or address would be wrong. */
static int put(char *dst, size_t size, const char *src)
{
	if (!src)
		src = "";
	if (strlen(src) >= size)
		return -1;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static const char *proto_name(unsigned proto)
{
	return proto == SVC_TCP ? "TCP" : proto == SVC_UDP ? "UDP" : NULL;
}

uint64_t upnp_discover(const char *root_url, const char *ifname, const char *gateway,
		       gw_cb cb, void *arg)
{
	struct ureq *r = new_req(UPNP_OP_DISCOVER);

	if (!r)
		return 0;
	r->q.alone = true;          /* a new IGD: nothing else on the wire meanwhile */
	if (put(r->w.root_url, sizeof(r->w.root_url), root_url) < 0 ||
	    put(r->w.ifname, sizeof(r->w.ifname), ifname) < 0 ||
	    put(r->w.gateway, sizeof(r->w.gateway), gateway) < 0) {
		log_warnx("upnp: root URL, interface name or gateway too long");
		free(r);
		return 0;
	}
	st.have_igd = false;
	return enqueue(r, cb, arg);
}

uint64_t upnp_get_external_ip(gw_cb cb, void *arg)
{
	struct ureq *r = new_req(UPNP_OP_EXT_IP);

	return r ? enqueue(r, cb, arg) : 0;
}

static struct ureq *port_req(uint32_t op, unsigned proto, uint16_t ext_port)
{
	const char *p = proto_name(proto);
	struct ureq *r;

	/* External port 0 means "all ports" to some IGDs: never send it. */
	if (!p || ext_port == 0)
		return NULL;
	r = new_req(op);
	if (r) {
		memcpy(r->w.proto, p, 4);
		r->w.ext_port = ext_port;
	}
	return r;
}

uint64_t upnp_add_mapping(unsigned proto, uint16_t ext_port, const char *int_host,
			  uint16_t int_port, const char *desc, uint32_t lease,
			  gw_cb cb, void *arg)
{
	struct ureq *r;

	if (int_port == 0)
		return 0;
	r = port_req(UPNP_OP_ADD, proto, ext_port);
	if (!r)
		return 0;
	r->w.int_port = int_port;
	r->w.lease = lease;
	if (put(r->w.int_host, sizeof(r->w.int_host), int_host) < 0) {
		free(r);
		return 0;
	}
	/* Descriptions are informative: cutting them (to 80 bytes) is fine. */
	snprintf(r->w.desc, sizeof(r->w.desc), "%s", desc ? desc : "homeport");
	return enqueue(r, cb, arg);
}

uint64_t upnp_get_mapping(unsigned proto, uint16_t ext_port, gw_cb cb, void *arg)
{
	struct ureq *r = port_req(UPNP_OP_GET, proto, ext_port);

	return r ? enqueue(r, cb, arg) : 0;
}

uint64_t upnp_delete_mapping(unsigned proto, uint16_t ext_port, gw_cb cb, void *arg)
{
	struct ureq *r = port_req(UPNP_OP_DELETE, proto, ext_port);

	return r ? enqueue(r, cb, arg) : 0;
}

static struct ureq *pinhole_req(uint32_t op, const struct gw_map_req *q)
{
	struct ureq *r;
	struct in6_addr a;

	if (q->family != GW_FAMILY_IPV6 || inet_pton(AF_INET6, q->int_host, &a) != 1 ||
	    inet_pton(AF_INET6, q->via6, &a) != 1)
		return NULL;
	r = port_req(op, q->proto, q->int_port);
	if (!r)
		return NULL;
	r->w.int_port = q->int_port;
	r->w.lease = q->lease;
	r->w.scope_id = q->scope_id;
	if (put(r->w.addr6, sizeof(r->w.addr6), q->int_host) < 0 ||
	    put(r->w.via6, sizeof(r->w.via6), q->via6) < 0 ||
	    put(r->w.uid, sizeof(r->w.uid), q->handle) < 0) {
		free(r);
		return NULL;
	}
	return r;
}

uint64_t upnp_add_pinhole(const struct gw_map_req *q, gw_cb cb, void *arg)
{
	struct ureq *r;

	/* IGD v2 takes leases of 1 s to 1 day; 0 and more are errors (402). */
	if (q->lease < 1 || q->lease > 86400)
		return 0;
	r = pinhole_req(UPNP_OP_PIN_ADD, q);
	return r ? enqueue(r, cb, arg) : 0;
}

uint64_t upnp_delete_pinhole(const struct gw_map_req *q, gw_cb cb, void *arg)
{
	struct ureq *r = q->handle[0] ? pinhole_req(UPNP_OP_PIN_DEL, q) : NULL;

	return r ? enqueue(r, cb, arg) : 0;
}

uint64_t upnp_check_pinhole(const struct gw_map_req *q, gw_cb cb, void *arg)
{
	struct ureq *r = q->handle[0] ? pinhole_req(UPNP_OP_PIN_CHECK, q) : NULL;

	return r ? enqueue(r, cb, arg) : 0;
}

/* A stopped queue is all zeroes: nothing to cancel. */
void upnp_cancel(uint64_t id)
{
	gwq_cancel(&st.queue, id);
}

void upnp_cancel_all(void)
{
	gwq_cancel_all(&st.queue);
}

bool upnp_busy(void)
{
	return st.inited && gwq_busy(&st.queue);
}

/* ---- SSDP: a router that restarts announces a new BOOTID -------------- */

static void ssdp_message(const char *buf, size_t len)
{
	struct ssdp_msg m;
	enum gw_hint hint = GW_HINT_ALIVE;
	char what[80];

	if (ssdp_parse(buf, len, &m) < 0 || !m.has_bootid)
		return;
	/* Logged by gateway.c, rate-limited: anyone on the LAN can send these. */
	if (st.have_bootid && m.bootid != st.bootid) {
		snprintf(what, sizeof(what), "restarted? SSDP BOOTID %lu -> %lu", st.bootid, m.bootid);
		hint = GW_HINT_RESTARTED;
	} else if (!st.have_bootid) {
		/* The first BOOTID seen may already be a new boot's (the router
		 * restarted before answering our M-SEARCH): look once. */
		snprintf(what, sizeof(what), "SSDP BOOTID %lu, first seen", m.bootid);
		hint = GW_HINT_RESTARTED;
	} else {
		snprintf(what, sizeof(what), "SSDP NOTIFY");
	}
	st.have_bootid = true;
	st.bootid = m.bootid;
	if (st.hint_cb)
		st.hint_cb(st.hint_arg, hint, what);
}

/* Counts n datagrams read; true while more than SSDP_FLOOD arrived in
 * this second or the one before. */
static bool ssdp_flood(unsigned n)
{
	int64_t now = ev_now_ms();

	if (now - st.ssdp_sec_ms >= 1000) {
		st.ssdp_last_sec = now - st.ssdp_sec_ms < 2000 ? st.ssdp_this_sec : 0;
		st.ssdp_this_sec = 0;
		st.ssdp_sec_ms = now;
	}
	st.ssdp_this_sec += n;
	return st.ssdp_this_sec > SSDP_FLOOD || st.ssdp_last_sec > SSDP_FLOOD;
}

/* Reads what waits, READ_BURST datagrams at most. True when that emptied
 * the socket and no flood is under way. */
static bool ssdp_read(int fd)
{
	int i;

	for (i = 0; i < READ_BURST; i++) {
		char buf[2048];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &flen);

		if (n < 0)
			break;
		if (flen != sizeof(from) || from.sin_addr.s_addr != st.ssdp_from.s_addr)
			continue;
		ssdp_message(buf, (size_t)n);
	}
	return !ssdp_flood((unsigned)i) && i < READ_BURST;
}

/* A router sends its NOTIFYs in bursts (one per device and service, each
 * sent twice), a datagram at a time: woken per datagram, an idle daemon
 * would wake a dozen times per burst. So the first one wakes us, and the
 * rest of the burst is read in one go SSDP_GATHER_MS later; a restart is
 * still noticed within a second. Every datagram is still read and its
 * hint passed on (the last of a burst too). A flood is read as it comes
 * instead: paused, the socket would fill up and the kernel would drop the
 * gateway's own NOTIFYs among the spoofed ones. */
static void on_ssdp(int fd, short revents, void *arg)
{
	if (!ssdp_read(fd))
		return;
	ev_fd_set_events(fd, 0);
	ev_timer_arm(st.ssdp_gather, SSDP_GATHER_MS);
}

static void on_ssdp_gather(void *arg)
{
	if (st.ssdp_fd < 0)
		return;
	ssdp_read(st.ssdp_fd);
	ev_fd_set_events(st.ssdp_fd, POLLIN);
}

static void ssdp_search(int fd)
{
	static const char msearch[] =
		"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
		"MAN: \"ssdp:discover\"\r\nMX: 1\r\n"
		"ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n";
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(SSDP_PORT),
				  .sin_addr = st.ssdp_from };

	if (sendto(fd, msearch, sizeof(msearch) - 1, MSG_DONTWAIT, (struct sockaddr *)&to,
		   sizeof(to)) < 0)
		log_debug("upnp: SSDP M-SEARCH to %s: %s", st.igd.gateway_addr, strerror(errno));
}

static void ssdp_close(void)
{
	ev_timer_free(st.ssdp_gather);
	st.ssdp_gather = NULL;
	if (st.ssdp_fd < 0)
		return;
	ev_fd_del(st.ssdp_fd);
	close(st.ssdp_fd);
	st.ssdp_fd = -1;
}

/* Listen to the gateway's NOTIFYs and ask it once (unicast M-SEARCH) for
 * its BOOTID. Only a hint: the periodic checks still find a restarted
 * router without it. */
static int ssdp_open(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(SSDP_PORT) };
	struct ip_mreqn mr = { .imr_ifindex = 0 };
	int fd, one = 1, zero = 0;

	ssdp_close();
	if (!st.have_igd || inet_pton(AF_INET, st.igd.gateway_addr, &st.ssdp_from) != 1 ||
	    inet_pton(AF_INET, st.igd.lan_addr, &mr.imr_address) != 1)
		return -1;
	inet_pton(AF_INET, "239.255.255.250", &mr.imr_multiaddr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 ||
	    ev_fd_add(fd, POLLIN, on_ssdp, NULL) < 0) {
		log_info("gateway: not listening for SSDP NOTIFY: %s", strerror(errno));
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof(zero));
	st.ssdp_fd = fd;
	st.ssdp_gather = ev_timer_new(on_ssdp_gather, NULL);
	st.have_bootid = false;
	ssdp_search(fd);
	return 0;
}

/* ---- the backend table row ------------------------------------------- */

/* The setup of the last start, for discover. */
static struct {
	char url[256];
	char ifname[IF_NAMESIZE];
	char gateway[INET_ADDRSTRLEN];
} setup;

/* The helper resolves no names: upnp_url must name the IGD by its IPv4
 * address ("http://192.168.1.1:5000/rootDesc.xml"). */
static bool url_host_is_ipv4(const char *url)
{
	char host[INET_ADDRSTRLEN];
	struct in_addr a;
	size_t n;

	if (strncmp(url, "http://", 7) != 0)
		return false;
	url += 7;
	n = strcspn(url, ":/");
	if (n >= sizeof(host))
		return false;
	memcpy(host, url, n);
	host[n] = '\0';
	return inet_pton(AF_INET, host, &a) == 1;
}

static int op_init(const char *state_dir)
{
	upnp_proc_prepare();
	return 0;
}

static int op_start(const struct gw_setup *s, char *err, size_t errlen)
{
	if (put(setup.url, sizeof(setup.url), s->url) < 0 ||
	    put(setup.ifname, sizeof(setup.ifname), s->ifname) < 0 ||
	    put(setup.gateway, sizeof(setup.gateway), s->gateway) < 0) {
		snprintf(err, errlen, "root URL or interface name too long");
		return -1;
	}
	if (s->url && !url_host_is_ipv4(s->url)) {
		snprintf(err, errlen, "upnp_url %s does not name the IGD by its IPv4 address", s->url);
		return -1;
	}
	if (!s->url && !s->gateway) {
		snprintf(err, errlen, "no default route: no gateway to trust");
		return -1;
	}
	if (upnp_init(s->deadline_ms) == 0)
		return 0;
	snprintf(err, errlen, "cannot set up UPnP");
	return -1;
}

static uint64_t op_discover(gw_cb cb, void *arg)
{
	return upnp_discover(setup.url[0] ? setup.url : NULL,
			     setup.ifname[0] ? setup.ifname : NULL, setup.gateway, cb, arg);
}

static uint64_t op_map(const struct gw_map_req *q, gw_cb cb, void *arg)
{
	if (q->family == GW_FAMILY_IPV6)
		return upnp_add_pinhole(q, cb, arg);
	return upnp_add_mapping(q->proto, q->ext_port, q->int_host, q->int_port, q->desc,
				q->lease, cb, arg);
}

static uint64_t op_read_back(const struct gw_map_req *q, gw_cb cb, void *arg)
{
	if (q->family == GW_FAMILY_IPV6)
		return upnp_check_pinhole(q, cb, arg);
	return upnp_get_mapping(q->proto, q->ext_port, cb, arg);
}

static uint64_t op_unmap(const struct gw_map_req *q, gw_cb cb, void *arg)
{
	if (q->family == GW_FAMILY_IPV6)
		return upnp_delete_pinhole(q, cb, arg);
	return upnp_delete_mapping(q->proto, q->ext_port, cb, arg);
}

static int op_listen(gw_hint_cb cb, void *arg)
{
	st.hint_cb = cb;
	st.hint_arg = arg;
	return ssdp_open();
}

static void op_describe(char *buf, size_t len)
{
	const struct upnp_igd *g = &st.igd;

	snprintf(buf, len, "IGD v%d at %s (%s, WAN %s%s)", g->igd_version, g->root_url,
		 g->service_type, g->connected ? "connected" : "not connected",
		 !g->has_6fc ? "" : !g->fw_known ? ", IPv6 firewall control" :
		 g->fw_enabled && g->fw_inbound ? ", IPv6 firewall: pinholes allowed" :
		 g->fw_enabled ? ", IPv6 firewall: no inbound pinholes" : ", IPv6 firewall off");
}

static void op_probe_json(json_t *o, bool answered)
{
	const struct upnp_igd *g = answered ? upnp_igd() : NULL;

	json_object_set_new(o, "igd_version", g ? json_integer(g->igd_version) : json_null());
	json_object_set_new(o, "url", g ? json_string_or_null(g->root_url) : json_null());
	json_object_set_new(o, "control_url", g ? json_string_or_null(g->control_url) : json_null());
	json_object_set_new(o, "service_type", g ? json_string_or_null(g->service_type) : json_null());
	json_object_set_new(o, "connected", g ? json_boolean(g->connected) : json_null());
	json_object_set_new(o, "ipv6_firewall_control", g ? json_boolean(g->has_6fc) : json_null());
	json_object_set_new(o, "ipv6_firewall_enabled",
			    g && g->fw_known ? json_boolean(g->fw_enabled) : json_null());
	json_object_set_new(o, "ipv6_inbound_pinholes_allowed",
			    g && g->fw_known ? json_boolean(g->fw_inbound) : json_null());
}

const struct gw_backend gw_backend_upnp = {
	.name = "upnp",
	.label = "UPnP",
	.why = "first choice: the router's table shows each description, mappings can be read "
	       "back, other hosts can be mapped",
	.pref = GW_PREF_UPNP,
	.caps = GW_CAP_OTHER_HOST | GW_CAP_READ_BACK | GW_CAP_ANNOUNCES | GW_CAP_PINHOLE,
	.init = op_init,
	.start = op_start,
	.stop = upnp_fini,
	.fini = upnp_fini,
	.discover = op_discover,
	.external_ip = upnp_get_external_ip,
	.map = op_map,
	.read_back = op_read_back,
	.unmap = op_unmap,
	.cancel = upnp_cancel,
	.cancel_all = upnp_cancel_all,
	.listen = op_listen,
	.describe = op_describe,
	.probe_json = op_probe_json,
};
