/* gw_upnp.c - daemon side of the UPnP backend. Requests queue here and
 * go one at a time over a SOCK_SEQPACKET socketpair to a forked helper
 * (gw_upnp_helper.c) that runs the blocking miniupnpc calls. Each request
 * has a deadline; past it, or when the helper dies, the helper is killed
 * and reaped and the request fails with UPNP_ST_TIMEOUT. The next request
 * starts a new helper, which reloads the IGD from the last root URL that
 * every request carries. Replies are checked as strictly as requests:
 * the helper parses hostile XML and is trusted no more than the router. */
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

#include <miniupnpc/miniupnpc.h>

#include "config.h"
#include "ev.h"
#include "gw_upnp.h"
#include "log.h"
#include "upnp_wire.h"
#include "util.h"

struct ureq {
	struct ureq *next;
	struct upnp_wire_req w;
	bool cancelled;              /* in flight: its reply is read, not reported */
	upnp_cb cb;
	void *arg;
};

static struct {
	bool inited;
	int deadline_ms;
	int fd;
	pid_t pid;
	struct ureq *head, *tail;    /* head is at the helper when sent */
	bool sent;
	struct ev_timer *timer;      /* deadline of the request in flight */
	struct ev_timer *kick;       /* starts the next request from the loop */
	uint64_t next_id;
	char root_url[256];          /* last IGD found; a new helper reloads it */
} st = { .fd = -1, .pid = -1 };

static void stop_helper(void)
{
	if (st.fd >= 0) {
		ev_fd_del(st.fd);
		close(st.fd);
		st.fd = -1;
	}
	if (st.pid > 0) {
		kill(st.pid, SIGKILL);
		while (waitpid(st.pid, NULL, 0) < 0 && errno == EINTR)
			;
		st.pid = -1;
	}
}

static void finish(struct upnp_result *res)
{
	struct ureq *r = st.head;

	st.head = r->next;
	if (!st.head)
		st.tail = NULL;
	st.sent = false;
	ev_timer_disarm(st.timer);
	if (st.head)
		ev_timer_arm(st.kick, 0);
	if (res->status == UPNP_ST_OK && r->w.op == UPNP_OP_DISCOVER)
		snprintf(st.root_url, sizeof(st.root_url), "%s", res->u.igd.root_url);
	if (!r->cancelled && r->cb)
		r->cb(r->arg, res);
	free(r);
}

static void finish_error(enum upnp_status s, const char *fmt, ...) HP_PRINTF(2, 3);
static void finish_error(enum upnp_status s, const char *fmt, ...)
{
	struct upnp_result res = { .status = s };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res.error, sizeof(res.error), fmt, ap);
	va_end(ap);
	finish(&res);
}

/* Terminate every string and clamp the enum: the helper may be subverted. */
static void sanitize(struct upnp_result *r, uint32_t op)
{
	r->error[sizeof(r->error) - 1] = '\0';
	if (r->status != UPNP_ST_OK && r->status != UPNP_ST_ERROR &&
	    r->status != UPNP_ST_TIMEOUT && r->status != UPNP_ST_NO_IGD) {
		memset(r, 0, sizeof(*r));
		r->status = UPNP_ST_ERROR;
		snprintf(r->error, sizeof(r->error), "invalid reply from the UPnP helper");
		return;
	}
	r->confirmed = op == UPNP_OP_ADD && r->status == UPNP_ST_OK &&
		*(volatile unsigned char *)&r->confirmed != 0;
	if (op == UPNP_OP_DISCOVER) {
		struct upnp_igd *g = &r->u.igd;
		g->root_url[sizeof(g->root_url) - 1] = '\0';
		g->control_url[sizeof(g->control_url) - 1] = '\0';
		g->service_type[sizeof(g->service_type) - 1] = '\0';
		g->lan_addr[sizeof(g->lan_addr) - 1] = '\0';
		g->gateway_addr[sizeof(g->gateway_addr) - 1] = '\0';
		g->connected = !!*(volatile unsigned char *)&g->connected;
	} else if (op == UPNP_OP_EXT_IP) {
		r->u.ext_ip[sizeof(r->u.ext_ip) - 1] = '\0';
	} else if (op == UPNP_OP_GET) {
		r->u.entry.int_client[sizeof(r->u.entry.int_client) - 1] = '\0';
		r->u.entry.desc[sizeof(r->u.entry.desc) - 1] = '\0';
		r->u.entry.enabled = !!*(volatile unsigned char *)&r->u.entry.enabled;
	}
}

static void on_readable(int fd, short revents, void *arg)
{
	union {
		struct upnp_wire_rep p;
		char raw[sizeof(struct upnp_wire_rep) + 16];
	} in;
	ssize_t n = recv(fd, &in, sizeof(in), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		log_debug("upnp: helper %d exited", (int)st.pid);
		stop_helper();
		if (st.sent)
			finish_error(UPNP_ST_TIMEOUT, "UPnP helper died");
		return;
	}
	if (n != (ssize_t)sizeof(in.p) || in.p.magic != UPNP_WIRE_MAGIC) {
		log_warnx("upnp: malformed %zd-byte reply from the helper", n);
		stop_helper();
		if (st.sent)
			finish_error(UPNP_ST_ERROR, "invalid reply from the UPnP helper");
		return;
	}
	if (!st.sent || in.p.id != st.head->w.id) {
		log_debug("upnp: dropping reply %llu, nothing waits for it",
			  (unsigned long long)in.p.id);
		return;
	}
	sanitize(&in.p.res, st.head->w.op);
	finish(&in.p.res);
}

static int start_helper(void)
{
	int sv[2];
	pid_t parent = getpid();

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("upnp: socketpair");
		return -1;
	}
	st.pid = fork();
	if (st.pid < 0) {
		log_warn("upnp: fork");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (st.pid == 0) {
		close(sv[0]);
		upnp_helper_run(sv[1], parent);
	}
	close(sv[1]);
	st.fd = sv[0];
	if (fcntl(st.fd, F_SETFL, O_NONBLOCK) < 0 ||
	    ev_fd_add(st.fd, POLLIN, on_readable, NULL) < 0) {
		log_warn("upnp: helper socket");
		close(st.fd);
		st.fd = -1;
		stop_helper();
		return -1;
	}
	log_debug("upnp: helper %d started", (int)st.pid);
	return 0;
}

static int send_head(void)
{
	struct upnp_wire_req *w = &st.head->w;

	if (w->op != UPNP_OP_DISCOVER)
		snprintf(w->root_url, sizeof(w->root_url), "%s", st.root_url);
	if (st.fd < 0 && start_helper() < 0)
		return -1;
	if (send(st.fd, w, sizeof(*w), MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(*w))
		return 0;
	/* A helper that died between requests: one fresh try. */
	log_debug("upnp: send to helper: %s", strerror(errno));
	stop_helper();
	if (start_helper() < 0)
		return -1;
	return send(st.fd, w, sizeof(*w), MSG_NOSIGNAL | MSG_DONTWAIT) ==
		(ssize_t)sizeof(*w) ? 0 : -1;
}

static void on_kick(void *arg)
{
	if (!st.inited || !st.head || st.sent)
		return;
	if (send_head() < 0) {
		stop_helper();
		finish_error(UPNP_ST_ERROR, "cannot start the UPnP helper");
		return;
	}
	st.sent = true;
	ev_timer_arm(st.timer, st.deadline_ms);
}

static void on_deadline(void *arg)
{
	if (!st.sent)
		return;
	log_debug("upnp: request %llu timed out, killing helper %d",
		  (unsigned long long)st.head->w.id, (int)st.pid);
	stop_helper();
	finish_error(UPNP_ST_TIMEOUT, "timed out after %d ms", st.deadline_ms);
}

int upnp_init(int deadline_ms)
{
	if (st.inited)
		upnp_fini();
	st.deadline_ms = deadline_ms > 0 ? deadline_ms : 5000;
	st.timer = ev_timer_new(on_deadline, NULL);
	st.kick = ev_timer_new(on_kick, NULL);
	if (!st.timer || !st.kick) {
		ev_timer_free(st.timer);
		ev_timer_free(st.kick);
		st.timer = st.kick = NULL;
		return -1;
	}
	st.root_url[0] = '\0';
	upnp_helper_prepare();
	st.inited = true;
	log_debug("upnp: miniupnpc %s (API %d), deadline %d ms", MINIUPNPC_VERSION,
		  MINIUPNPC_API_VERSION, st.deadline_ms);
	return 0;
}

void upnp_fini(void)
{
	if (!st.inited)
		return;
	st.inited = false;
	stop_helper();
	while (st.head) {
		struct ureq *r = st.head;
		st.head = r->next;
		free(r);
	}
	st.tail = NULL;
	st.sent = false;
	ev_timer_free(st.timer);
	ev_timer_free(st.kick);
	st.timer = st.kick = NULL;
}

static struct ureq *new_req(uint32_t op, upnp_cb cb, void *arg)
{
	struct ureq *r;

	if (!st.inited)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->w.magic = UPNP_WIRE_MAGIC;
	r->w.op = op;
	r->w.id = ++st.next_id;
	r->cb = cb;
	r->arg = arg;
	return r;
}

static uint64_t enqueue(struct ureq *r)
{
	if (st.tail)
		st.tail->next = r;
	else
		st.head = r;
	st.tail = r;
	if (!st.sent)
		ev_timer_arm(st.kick, 0);
	return r->w.id;
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

uint64_t upnp_discover(const char *root_url, const char *ifname, upnp_cb cb, void *arg)
{
	struct ureq *r = new_req(UPNP_OP_DISCOVER, cb, arg);

	if (!r)
		return 0;
	if (put(r->w.root_url, sizeof(r->w.root_url), root_url) < 0 ||
	    put(r->w.ifname, sizeof(r->w.ifname), ifname) < 0) {
		log_warnx("upnp: root URL or interface name too long");
		free(r);
		return 0;
	}
	return enqueue(r);
}

uint64_t upnp_get_external_ip(upnp_cb cb, void *arg)
{
	struct ureq *r = new_req(UPNP_OP_EXT_IP, cb, arg);

	return r ? enqueue(r) : 0;
}

static struct ureq *port_req(uint32_t op, unsigned proto, uint16_t ext_port,
			     upnp_cb cb, void *arg)
{
	const char *p = proto_name(proto);
	struct ureq *r;

	/* External port 0 means "all ports" to some IGDs: never send it. */
	if (!p || ext_port == 0)
		return NULL;
	r = new_req(op, cb, arg);
	if (r) {
		memcpy(r->w.proto, p, 4);
		r->w.ext_port = ext_port;
	}
	return r;
}

uint64_t upnp_add_mapping(unsigned proto, uint16_t ext_port, const char *int_host,
			  uint16_t int_port, const char *desc, uint32_t lease,
			  upnp_cb cb, void *arg)
{
	struct ureq *r;

	if (int_port == 0)
		return 0;
	r = port_req(UPNP_OP_ADD, proto, ext_port, cb, arg);
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
	return enqueue(r);
}

uint64_t upnp_get_mapping(unsigned proto, uint16_t ext_port, upnp_cb cb, void *arg)
{
	struct ureq *r = port_req(UPNP_OP_GET, proto, ext_port, cb, arg);

	return r ? enqueue(r) : 0;
}

uint64_t upnp_delete_mapping(unsigned proto, uint16_t ext_port, upnp_cb cb, void *arg)
{
	struct ureq *r = port_req(UPNP_OP_DELETE, proto, ext_port, cb, arg);

	return r ? enqueue(r) : 0;
}

void upnp_cancel(uint64_t id)
{
	struct ureq **pp = &st.head, *prev = NULL;

	for (; *pp; prev = *pp, pp = &(*pp)->next) {
		struct ureq *r = *pp;
		if (r->w.id != id)
			continue;
		if (r == st.head && st.sent) {
			r->cancelled = true;
			return;
		}
		*pp = r->next;
		if (st.tail == r)
			st.tail = prev;
		free(r);
		return;
	}
}

void upnp_cancel_all(void)
{
	struct ureq *r = st.head;

	if (r && st.sent) {
		r->cancelled = true;
		r = r->next;
		st.head->next = NULL;
		st.tail = st.head;
	} else {
		st.head = st.tail = NULL;
	}
	while (r) {
		struct ureq *next = r->next;
		free(r);
		r = next;
	}
}

bool upnp_busy(void)
{
	return st.head != NULL;
}
