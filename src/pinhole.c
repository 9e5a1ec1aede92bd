/* pinhole.c - one state machine per service and protocol for the IPv6
 * firewall pinhole (pinhole.h): add, renew by deleting and adding again,
 * follow this host's address, report refusals, delete.
 *
 * An entry drives itself through drive(): whatever it holds that is no
 * longer right (an old address, a lease due for renewal, a router that
 * lost it) is deleted first, then the pinhole is added for the current
 * address. One request per entry at a time; the answer calls drive()
 * again. Pinholes remembered from an earlier run are deleted (the doubt
 * rule) before any entry adds one: miniupnpd answers an identical re-add
 * with the same UniqueID, so a late delete would take the new one. A
 * pinhole can only be deleted from its own address (miniupnpd checks the
 * asking address): one whose address this host no longer has is
 * forgotten and runs out with its lease. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr6.h"
#include "ev.h"
#include "homeport.h"
#include "log.h"
#include "mapping.h"
#include "mapstore.h"
#include "pinhole.h"
#include "util.h"

#define PIN_LEASE_MAX 86400          /* IGD v2: 1 s .. 1 day */
#define RENEW_MIN_MS 1000

enum pin_op { PIN_NONE, PIN_ADD, PIN_DEL, PIN_CHECK };

struct pin {
	struct pin *next;
	char *service;
	unsigned proto;                  /* SVC_TCP or SVC_UDP */
	uint16_t port;
	uint32_t lease;                  /* asked (1..86400) */
	char *other_host;                /* internal_host of another LAN host, NULL: this one */
	const struct pin *twin;          /* an earlier service's entry for the same port and
					  * protocol: one pinhole serves both (IPv6 keeps the
					  * internal port), this one only shows it */
	enum map_state state;
	char error[256];
	/* what the router holds for us (owned), or is about to */
	bool owned;
	char addr[INET6_ADDRSTRLEN];     /* the address it is for */
	char uid[GW_HANDLE_LEN];
	char gw_addr[INET_ADDRSTRLEN];
	char locator[256];
	const struct gw_backend *made_via;
	int64_t expires_ms, renew_ms;    /* monotonic; 0: none */
	bool stale;                      /* delete it before anything else (doubt) */
	/* the request in flight */
	enum pin_op op;
	uint64_t req;
	const struct gw_backend *via;
	unsigned failures;
	bool settled;
	struct ev_timer *timer;
};

static struct {
	struct pin *head;                /* config order */
	struct pin *dying;               /* remembered or removed: delete, then forget */
	bool enabled;                    /* [gateway] ipv6 */
	bool up;
	struct pinhole_gw gw;
	bool shutting_down, keep;
	struct ev_timer *flush;
	void (*done)(void *arg);
	void *done_arg;
} P;

static void drive(struct pin *e);

uint32_t pinhole_lease(uint32_t svc_lease)
{
	return svc_lease == 0 || svc_lease > PIN_LEASE_MAX ? PIN_LEASE_MAX : svc_lease;
}

static const char *proto_str(unsigned proto)
{
	return proto == SVC_UDP ? "udp" : "tcp";
}

static const char *event_proto(unsigned proto)
{
	return proto == SVC_UDP ? "udp6" : "tcp6";
}

/* ---- persistence: the IPv6 set of mappings.json ----------------------- */

static void record_of(const struct pin *e, struct map_record *r)
{
	*r = (struct map_record){
		.service = e->service, .proto = e->proto, .ext_port = e->port,
		.int_port = e->port, .int_host = e->addr, .via = e->made_via->name,
		.gateway = e->gw_addr, .locator = e->locator, .handle = e->uid,
		.lease = e->lease, .ipv6 = true,
	};
}

static bool remembered(const struct pin *e)
{
	return e->owned && e->made_via && e->uid[0];
}

static void save(void)
{
	struct map_record *recs;
	size_t n = 0, cap = 1;

	if (P.keep)
		return;
	for (const struct pin *e = P.head; e; e = e->next)
		cap++;
	for (const struct pin *e = P.dying; e; e = e->next)
		cap++;
	recs = xcalloc(cap, sizeof(*recs));
	for (const struct pin *e = P.head; e; e = e->next)
		if (remembered(e))
			record_of(e, &recs[n++]);
	for (const struct pin *e = P.dying; e; e = e->next)
		if (remembered(e))
			record_of(e, &recs[n++]);
	mapstore_save_set(true, recs, n);
	free(recs);
}

static void on_flush(void *arg)
{
	save();
}

/* Once per loop pass, like mapping.c. */
static void persist(void)
{
	if (P.flush && !ev_timer_armed(P.flush))
		ev_timer_arm(P.flush, 0);
}

/* ---- entries ---------------------------------------------------------- */

static void on_timer(void *arg)
{
	drive(arg);
}

static struct pin *pin_new(const char *service, unsigned proto, uint16_t port, uint32_t lease,
			   const char *other_host)
{
	struct pin *e = xcalloc(1, sizeof(*e));

	e->service = xstrdup(service);
	e->proto = proto;
	e->port = port;
	e->lease = pinhole_lease(lease);
	e->other_host = other_host && *other_host ? xstrdup(other_host) : NULL;
	e->state = MAP_PENDING;
	e->timer = ev_timer_new(on_timer, e);
	return e;
}

static void cancel_req(struct pin *e)
{
	if (e->req && e->via)
		e->via->cancel(e->req);
	e->req = 0;
	e->op = PIN_NONE;
}

static void pin_free(struct pin *e)
{
	cancel_req(e);
	ev_timer_free(e->timer);
	free(e->service);
	free(e->other_host);
	free(e);
}

static void unlink_from(struct pin **list, struct pin *e)
{
	for (struct pin **pp = list; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			return;
		}
}

/* ---- the one transition function -------------------------------------- */

static void set_state(struct pin *e, enum map_state s, const char *fmt, ...) HP_PRINTF(3, 4);
static void set_state(struct pin *e, enum map_state s, const char *fmt, ...)
{
	char err[sizeof(e->error)] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(err, sizeof(err), fmt, ap);
		va_end(ap);
	}
	mapping_note("pinhole", e->service, proto_str(e->proto), event_proto(e->proto), e->port,
		     e->state, s, e->error, err);
	e->state = s;
	memcpy(e->error, err, sizeof(err));
	if (s != MAP_PENDING)
		e->settled = true;
	if (s != MAP_MAPPED)
		e->expires_ms = 0;
}

/* Look again at check_interval: the router's (or the config's) decision. */
static void settle(struct pin *e, enum map_state s, const char *fmt, ...) HP_PRINTF(3, 4);
static void settle(struct pin *e, enum map_state s, const char *fmt, ...)
{
	char err[sizeof(e->error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, sizeof(err), fmt, ap);
	va_end(ap);
	set_state(e, s, "%s", err);
	ev_timer_arm(e->timer, mapping_recheck_ms(0, P.gw.check_interval));
}

static void backoff(struct pin *e, const char *what, const struct gw_result *r)
{
	e->failures++;
	set_state(e, MAP_FAILED, "%s: %s", what, r->error[0] ? r->error : "no answer");
	ev_timer_arm(e->timer, mapping_backoff_ms(e->failures, drand48()));
}

/* ---- talking to the gateway ------------------------------------------- */

static bool fill_req(const struct pin *e, struct gw_map_req *q, const char *addr)
{
	struct addr6_self self;

	addr6_get_self(&self);
	if (!self.router[0])
		return false;
	memset(q, 0, sizeof(*q));
	q->family = GW_FAMILY_IPV6;
	q->proto = e->proto;
	q->ext_port = q->int_port = e->port;
	q->lease = e->lease;
	snprintf(q->int_host, sizeof(q->int_host), "%s", addr);
	snprintf(q->handle, sizeof(q->handle), "%s", e->uid);
	snprintf(q->via6, sizeof(q->via6), "%s", self.router);
	q->scope_id = (unsigned)self.ifindex;
	snprintf(q->desc, sizeof(q->desc), "homeport:%s", e->service);
	return true;
}

static void forget(struct pin *e)
{
	e->owned = false;
	e->stale = false;
	e->uid[0] = '\0';
	e->expires_ms = e->renew_ms = 0;
	persist();
}

static void check_shutdown_done(void);

/* A remembered or removed pinhole's delete ended: it is forgotten either
 * way (one we cannot delete runs out with its lease). */
static void dying_done(struct pin *d)
{
	unlink_from(&P.dying, d);
	pin_free(d);
	persist();
	for (struct pin *e = P.head; e; e = e->next)
		if (e->op == PIN_NONE)
			drive(e);
	check_shutdown_done();
}

static bool in(const struct pin *e, const struct pin *list)
{
	for (; list; list = list->next)
		if (list == e)
			return true;
	return false;
}

/* Does a delete by e's handle remove only e's pinhole, whatever the
 * router remembers (a PCP nonce; not a UPnP UniqueID)? */
static bool own_handle(const struct pin *e)
{
	const struct gw_backend *be = e->op == PIN_ADD ? e->via : e->made_via;

	return be && (be->caps & GW_CAP_OWN_HANDLE);
}

/* The router lost its state: make e's pinhole again (drive() does it).
 * One named by its own nonce (PCP) may be newer than the loss (the
 * router's IPv6 side told first, and it was made again): added over
 * itself, miniupnpd 2.3.1 would renew it in place and forget the nonce,
 * so it is deleted and added, as in doubt. Others are forgotten: the
 * router may hand out their UniqueIDs again, a delete could hit someone
 * else's pinhole. */
static void make_again(struct pin *e, const char *why)
{
	bool delete_first = own_handle(e);

	log_info("pinhole %s/%s: %sadding again (%s)", e->service, proto_str(e->proto),
		 delete_first ? "deleting and " : "", why ? why : "the gateway lost its state");
	if (delete_first)
		e->stale = true;
	else
		forget(e);
}

/* An answer shows that the router lost its state (PCP's epoch went
 * back): the pinholes held are gone; make them again. Not the one this
 * answer made. */
static void lost_others(const struct pin *e, const struct gw_result *r)
{
	if (!r->state_lost)
		return;
	for (struct pin *f = P.head; f; f = f->next)
		if (f != e && f->owned && f->op == PIN_NONE) {
			make_again(f, NULL);
			ev_timer_arm(f->timer, 0);
		}
}

static void on_deleted(void *arg, const struct gw_result *r)
{
	struct pin *e = arg;
	bool dying = in(e, P.dying);

	e->req = 0;
	e->op = PIN_NONE;
	lost_others(e, r);
	if (r->outcome == GW_OK || r->outcome == GW_NOT_FOUND)
		log_info("pinhole %s/%s: [%s]:%u deleted%s", e->service, proto_str(e->proto),
			 e->addr, e->port, r->outcome == GW_OK ? "" : " (already gone)");
	else
		log_warnx("pinhole %s/%s: cannot delete [%s]:%u (UniqueID %s): %s; it runs out "
			  "with its lease", e->service, proto_str(e->proto), e->addr, e->port,
			  e->uid, r->error);
	forget(e);
	if (dying)
		dying_done(e);
	else
		drive(e);
}

/* Will the same pinhole be added right after this delete (a renewal, a
 * doubt, one remembered from an earlier run)? Then what names it (a PCP
 * nonce) is kept for that add. */
static bool added_again(const struct pin *e)
{
	struct addr6_self self;

	addr6_get_self(&self);
	if (P.shutting_down || !self.have || strcmp(self.address, e->addr) != 0)
		return false;
	for (const struct pin *f = P.head; f; f = f->next)
		if (!f->twin && !f->other_host && f->proto == e->proto && f->port == e->port)
			return true;
	return false;
}

/* Delete what e holds, from the address it is for, by the protocol that
 * made it. */
static void delete_held(struct pin *e)
{
	struct gw_map_req q;

	e->via = e->made_via ? e->made_via : P.gw.be;
	if (!e->via || !fill_req(e, &q, e->addr)) {
		forget(e);
		return;
	}
	q.again = added_again(e);
	e->op = PIN_DEL;
	e->req = e->via->unmap(&q, on_deleted, e);
	if (!e->req) {
		e->op = PIN_NONE;
		forget(e);
	}
}

static void on_added(void *arg, const struct gw_result *r)
{
	struct pin *e = arg;
	int64_t now = ev_now_ms();

	e->req = 0;
	e->op = PIN_NONE;
	lost_others(e, r);
	switch (r->outcome) {
	case GW_OK:
		e->owned = true;
		e->failures = 0;
		snprintf(e->uid, sizeof(e->uid), "%s", r->u.map.handle);
		e->made_via = e->via;
		snprintf(e->gw_addr, sizeof(e->gw_addr), "%s", P.gw.address);
		snprintf(e->locator, sizeof(e->locator), "%s", P.gw.locator);
		e->expires_ms = now + (int64_t)e->lease * 1000;
		e->renew_ms = now + (int64_t)e->lease * 500;
		persist();
		set_state(e, MAP_MAPPED, NULL);
		drive(e);
		return;
	case GW_REFUSED:
		settle(e, MAP_REFUSED, "%s: the gateway does not allow a pinhole for [%s]:%u/%s "
		       "(miniupnpd allows the asking host's own address%s)",
		       r->error, e->addr, e->port, proto_str(e->proto),
		       e->via->pref == GW_PREF_UPNP ? " and ports 1024-65535 over UPnP; PCP "
		       "allows lower ports" : "");
		return;
	default:
		backoff(e, "adding the pinhole", r);
		return;
	}
}

static void add(struct pin *e, const char *addr)
{
	struct gw_map_req q;

	snprintf(e->addr, sizeof(e->addr), "%s", addr);
	e->via = P.gw.be;
	if (!fill_req(e, &q, addr)) {
		settle(e, MAP_PENDING, "this host has no IPv6 default router to ask");
		return;
	}
	e->op = PIN_ADD;
	e->req = e->via->map(&q, on_added, e);
	if (!e->req) {
		e->op = PIN_NONE;
		settle(e, MAP_FAILED, "cannot queue a %s request", e->via->label);
	}
}

/* The router answered whether it still holds e's pinhole. One lost
 * behind our back (a firewall reload on the router, no announcement) is
 * added again now rather than at the renewal. */
static void on_checked(void *arg, const struct gw_result *r)
{
	struct pin *e = arg;

	e->req = 0;
	e->op = PIN_NONE;
	if (r->outcome == GW_NOT_FOUND && e->owned) {
		log_notice("pinhole %s/%s: the gateway no longer holds [%s]:%u (UniqueID %s): "
			   "adding it again", e->service, proto_str(e->proto), e->addr, e->port,
			   e->uid);
		forget(e);
	}
	drive(e);
}

/* Ask whether the router still holds what e made, where the protocol can
 * tell (UPnP CheckPinholeWorking; PCP cannot without renewing it). */
static void check_held(struct pin *e)
{
	struct gw_map_req q;

	e->via = e->made_via;
	if (!e->via || !e->via->read_back || !(e->via->caps & GW_CAP_READ_BACK) ||
	    e->via != P.gw.be || !fill_req(e, &q, e->addr))
		return;
	e->op = PIN_CHECK;
	e->req = e->via->read_back(&q, on_checked, e);
	if (!e->req)
		e->op = PIN_NONE;
}

/* ---- driving ---------------------------------------------------------- */

static bool dying_in_flight(void)
{
	for (const struct pin *d = P.dying; d; d = d->next)
		if (d->op != PIN_NONE)
			return true;
	return false;
}

/* Why e cannot have a pinhole now (NULL: it can); *s the state to show. */
static const char *blocker(const struct pin *e, const struct addr6_self *self,
			   enum map_state *s, char *buf, size_t len)
{
	*s = MAP_REFUSED;
	if (!P.enabled) {
		*s = MAP_PENDING;
		return "IPv6 is off ([gateway] ipv6 = no)";
	}
	if (!self->any_global) {
		/* No IPv6 here: nothing to open, nothing to announce. */
		*s = MAP_PENDING;
		snprintf(buf, len, "%s", self->why[0] ? self->why : "no global IPv6 address");
		return buf;
	}
	if (!P.up) {
		*s = MAP_PENDING;
		return "waiting for the gateway";
	}
	if (!P.gw.be)
		return "no protocol of the gateway opens IPv6 pinholes (UPnP IGD v2 "
		       "WANIPv6FirewallControl, PCP): open the port in the router by hand";
	if (!P.gw.has_firewall) {
		snprintf(buf, len, "the gateway (%s%s%.80s) offers no IPv6 firewall control "
			 "(UPnP WANIPv6FirewallControl, PCP over IPv6): open port %u/%s in its "
			 "IPv6 firewall by hand", P.gw.be->label, P.gw.locator[0] ? " " : "",
			 P.gw.locator,
			 e->port, proto_str(e->proto));
		return buf;
	}
	if (e->other_host) {
		snprintf(buf, len, "pinholes are opened only for the asking host's address "
			 "(UPnP IGD v2, PCP without THIRD_PARTY), not for another host (%s): "
			 "open the port by hand", e->other_host);
		return buf;
	}
	if (!self->have) {
		*s = MAP_PENDING;
		snprintf(buf, len, "%s", self->why);
		return buf;
	}
	return NULL;
}

/* Make the router hold what e should, one step at a time. */
static void drive(struct pin *e)
{
	struct addr6_self self;
	enum map_state s;
	char buf[sizeof(e->error)];
	const char *why;
	int64_t now = ev_now_ms();

	if (e->op != PIN_NONE || P.shutting_down || e->twin)
		return;
	ev_timer_disarm(e->timer);
	addr6_get_self(&self);
	if (e->owned && (e->stale || !self.have || strcmp(e->addr, self.address) != 0 ||
			 (e->renew_ms && now >= e->renew_ms))) {
		if (P.up && P.gw.be)
			delete_held(e);
		return;
	}
	why = blocker(e, &self, &s, buf, sizeof(buf));
	if (why) {
		if (s == MAP_PENDING)
			set_state(e, s, "%s", why);
		else
			settle(e, s, "%s", why);
		e->settled = true;      /* nothing to wait for (--once) */
		return;
	}
	if (dying_in_flight())
		return;                 /* dying_done() drives us again */
	if (!e->owned) {
		add(e, self.address);
		return;
	}
	ev_timer_arm(e->timer, e->renew_ms - now > RENEW_MIN_MS ? e->renew_ms - now : RENEW_MIN_MS);
}

static void drive_all(void)
{
	for (struct pin *e = P.head; e; e = e->next)
		drive(e);
}

static void on_address(void *arg)
{
	drive_all();
}

/* ---- remembered pinholes ---------------------------------------------- */

static void load_record(void *arg, const struct map_record *r)
{
	const struct gw_backend *be = gw_backend_by_name(r->via);
	struct pin *d;

	if (!r->ipv6 || !be || !r->handle || !r->handle[0])
		return;
	d = pin_new(r->service, r->proto, r->int_port, r->lease, NULL);
	d->owned = true;
	d->made_via = be;
	snprintf(d->addr, sizeof(d->addr), "%s", r->int_host);
	snprintf(d->uid, sizeof(d->uid), "%s", r->handle);
	snprintf(d->gw_addr, sizeof(d->gw_addr), "%s", r->gateway);
	snprintf(d->locator, sizeof(d->locator), "%s", r->locator);
	d->next = P.dying;
	P.dying = d;
}

/* Delete the dying pinholes of this gateway (what an earlier run left, and
 * services removed while it was away). */
static void release_dying(void)
{
	struct pin *d, *next;

	for (d = P.dying; d; d = next) {
		next = d->next;
		if (d->op != PIN_NONE || strcmp(d->gw_addr, P.gw.address) != 0)
			continue;
		log_info("pinhole %s/%s: [%s]:%u (UniqueID %s) from an earlier run: deleting",
			 d->service, proto_str(d->proto), d->addr, d->port, d->uid);
		delete_held(d);
		if (d->op == PIN_NONE)
			dying_done(d);
	}
}

/* ---- public ----------------------------------------------------------- */

static bool same_service(const struct pin *e, const struct cfg_service *s)
{
	return strcmp(e->service, s->name) == 0 && e->port == s->internal_port &&
	       e->lease == pinhole_lease(s->lease) &&
	       !e->other_host == !(s->internal_host && *s->internal_host) &&
	       (!e->other_host || strcmp(e->other_host, s->internal_host) == 0);
}

static struct pin *take(struct pin **list, const struct cfg_service *s, unsigned proto)
{
	for (struct pin **pp = list; *pp; pp = &(*pp)->next)
		if ((*pp)->proto == proto && same_service(*pp, s)) {
			struct pin *e = *pp;
			*pp = e->next;
			e->next = NULL;
			return e;
		}
	return NULL;
}

/* Removed: delete its pinhole, if any, then forget it. */
static void retire(struct pin *e)
{
	cancel_req(e);
	ev_timer_disarm(e->timer);
	e->next = P.dying;
	P.dying = e;
	if (e->owned && P.up && P.gw.be)
		delete_held(e);
	if (e->op == PIN_NONE) {
		if (e->owned && !P.shutting_down)
			return;         /* remembered until its gateway answers */
		dying_done(e);
	}
}

/* Services on this host that share a port and protocol share a pinhole:
 * the first one in config order makes it. */
static void find_twins(void)
{
	for (struct pin *e = P.head; e; e = e->next) {
		e->twin = NULL;
		for (const struct pin *f = P.head; f != e && !e->twin; f = f->next)
			if (!f->twin && !f->other_host && !e->other_host && f->proto == e->proto &&
			    f->port == e->port)
				e->twin = f;
		if (e->twin && e->owned)
			forget(e);             /* the same tuple: the twin keeps it up */
	}
}

void pinhole_apply_config(const struct hp_config *cfg)
{
	static const unsigned protos[] = { SVC_TCP, SVC_UDP };
	struct pin *old = P.head, **tail = &P.head;

	P.enabled = cfg->gateway.ipv6;
	P.head = NULL;
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct cfg_service *s = &cfg->services[i];
		for (size_t k = 0; k < HP_ARRAY_LEN(protos); k++) {
			struct pin *e;
			/* forwarded by hand: its IPv6 firewall is opened by hand too */
			if (!s->ipv6 || s->manual || cfg->gateway.protocol == GW_PREF_NONE ||
			    !(s->protocols & protos[k]))
				continue;
			e = take(&old, s, protos[k]);
			if (!e)
				e = pin_new(s->name, protos[k], s->internal_port, s->lease,
					    s->internal_host);
			*tail = e;
			tail = &e->next;
		}
	}
	while (old) {
		struct pin *e = old;
		old = e->next;
		retire(e);
	}
	find_twins();
	persist();
	drive_all();
}

int pinhole_init(const struct hp_config *cfg)
{
	memset(&P, 0, sizeof(P));
	P.flush = ev_timer_new(on_flush, NULL);
	mapstore_load(load_record, NULL);
	addr6_subscribe(on_address, NULL);
	pinhole_apply_config(cfg);
	return 0;
}

void pinhole_fini(void)
{
	addr6_unsubscribe(on_address, NULL);
	if (P.flush)
		save();
	ev_timer_free(P.flush);
	while (P.head) {
		struct pin *e = P.head;
		P.head = e->next;
		pin_free(e);
	}
	while (P.dying) {
		struct pin *e = P.dying;
		P.dying = e->next;
		pin_free(e);
	}
	memset(&P, 0, sizeof(P));
}

void pinhole_gateway_up(const struct pinhole_gw *gw)
{
	P.gw = *gw;
	P.up = true;
	for (struct pin *e = P.head; e; e = e->next) {
		e->failures = 0;
		/* Made on another gateway: nothing to delete here. On this one,
		 * after it was lost: in doubt, delete and add again. */
		if (e->owned && strcmp(e->gw_addr, gw->address) != 0)
			forget(e);
		else if (e->owned)
			e->stale = true;
	}
	if (gw->be)
		release_dying();
	drive_all();
}

void pinhole_gateway_down(const char *why)
{
	P.up = false;
	for (struct pin *d = P.dying; d; d = d->next)
		cancel_req(d);
	for (struct pin *e = P.head; e; e = e->next) {
		if (e->op == PIN_ADD)
			e->stale = e->owned = false;   /* unknown: it may exist, runs out */
		cancel_req(e);
		ev_timer_disarm(e->timer);
		set_state(e, MAP_PENDING, "gateway unreachable: %s", why ? why : "unknown");
		e->settled = true;
	}
}

void pinhole_remap_all(const char *why)
{
	if (!P.up)
		return;
	/* A delete already sent is let finish (its answer adds the pinhole
	 * again): cancelled, it would still reach the router, and could
	 * remove the new pinhole if that got the same UniqueID. A PCP add in
	 * flight is answered by the router as it is now. */
	for (struct pin *e = P.head; e; e = e->next) {
		if (e->op == PIN_DEL || (e->op == PIN_ADD && own_handle(e)))
			continue;
		cancel_req(e);
		if (e->owned)
			make_again(e, why);
		else
			forget(e);
	}
	drive_all();
}

void pinhole_doubt_all(void)
{
	for (struct pin *e = P.head; e; e = e->next)
		if (e->owned)
			e->stale = true;
	drive_all();
}

void pinhole_verify_all(void)
{
	for (struct pin *e = P.head; e; e = e->next) {
		if (e->op != PIN_NONE || P.shutting_down)
			continue;
		if (e->state != MAP_MAPPED) {
			e->failures = 0;
			drive(e);
		} else if (e->owned && !e->stale && !e->twin && P.up) {
			check_held(e);
		}
	}
}

static void check_shutdown_done(void)
{
	void (*done)(void *);

	if (!P.shutting_down || !P.done || P.head)
		return;
	for (const struct pin *d = P.dying; d; d = d->next)
		if (d->op != PIN_NONE)
			return;
	done = P.done;
	P.done = NULL;
	done(P.done_arg);
}

void pinhole_shutdown(bool keep, void (*done)(void *arg), void *arg)
{
	P.done = done;
	P.done_arg = arg;
	if (keep) {
		save();
		P.keep = true;
	}
	P.shutting_down = true;
	for (struct pin *d = P.dying; d; d = d->next)
		cancel_req(d);
	while (P.head) {
		struct pin *e = P.head;
		P.head = e->next;
		if (keep || !e->owned) {
			pin_free(e);
			continue;
		}
		retire(e);
	}
	check_shutdown_done();
}

bool pinhole_once_done(bool *all_ok)
{
	bool done = true, ok = true;

	for (const struct pin *e = P.head; e; e = e->next) {
		if (e->twin)
			continue;
		if (!e->settled)
			done = false;
		if (e->state != MAP_MAPPED)
			ok = false;
	}
	if (all_ok)
		*all_ok = ok;
	return done;
}

/* ---- status ----------------------------------------------------------- */

static json_t *pin_json(const struct pin *shown_as, const struct addr6_self *self)
{
	const struct pin *e = shown_as->twin ? shown_as->twin : shown_as;
	int64_t now = ev_now_ms();
	const char *host = e->owned || e->op != PIN_NONE ? e->addr :
			   self->have && !e->other_host ? self->address : "";
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(shown_as->service));
	json_object_set_new(o, "protocol", json_string(proto_str(e->proto)));
	json_object_set_new(o, "family", json_string("ipv6"));
	json_object_set_new(o, "internal_host", json_string_or_null(host));
	json_object_set_new(o, "internal_port", json_integer(e->port));
	json_object_set_new(o, "external_port", json_integer(e->port));
	json_object_set_new(o, "state", json_string(mapping_state_name(e->state)));
	json_object_set_new(o, "via", e->state == MAP_MAPPED && e->made_via ?
			    json_string(e->made_via->name) : json_null());
	json_object_set_new(o, "lease", json_integer(e->lease));
	json_object_set_new(o, "expires_in", e->expires_ms ?
			    json_integer(e->expires_ms > now ? (e->expires_ms - now) / 1000 : 0) :
			    json_null());
	json_object_set_new(o, "error", json_string_or_null(e->error));
	return o;
}

/* After the last entry of the same service, else at the end. */
static size_t insert_at(json_t *services, const char *name)
{
	size_t at = json_array_size(services), i;
	json_t *o;

	json_array_foreach(services, i, o) {
		const char *n = json_string_value(json_object_get(o, "name"));
		if (n && strcmp(n, name) == 0)
			at = i + 1;
	}
	return at;
}

/* IPv6 entries and gateway.ipv6 show when IPv6 is on and this host has a
 * global IPv6 address (public or not): a service is open over IPv6 only
 * then. */
static bool shown(const struct addr6_self *self)
{
	return P.enabled && self->any_global;
}

void pinhole_status_merge(json_t *services)
{
	struct addr6_self self;

	addr6_get_self(&self);
	if (!shown(&self))
		return;
	for (const struct pin *e = P.head; e; e = e->next)
		json_array_insert_new(services, insert_at(services, e->service), pin_json(e, &self));
}

json_t *pinhole_gateway_json(void)
{
	struct addr6_self self;
	const char *fw = P.up && P.gw.be && P.gw.has_firewall ? P.gw.be->name : NULL;

	addr6_get_self(&self);
	if (!shown(&self))
		return json_null();
	return json_pack("{s:s?, s:s?, s:b, s:s?, s:s?, s:s?, s:s?}",
			 "address", self.address[0] ? self.address : NULL,
			 "prefix", self.prefix[0] ? self.prefix : NULL, "public", self.have,
			 "firewall", fw, "error", self.have ? NULL : self.why,
			 "interface", self.ifname[0] ? self.ifname : NULL,
			 "router", self.router[0] ? self.router : NULL);
}
