/* mapping.c - one state machine per service and protocol: map, confirm,
 * renew, verify, report conflicts and refusals, delete. It talks to the
 * gateway through the protocol gateway.c chose (a gw_backend) and reasons
 * only in outcomes and capabilities:
 *
 * An add whose answer proves the mapping (gw_mapping.confirmed) is mapped
 * at once with the lease granted; a lease-0 add (the router picks the
 * real lease: a week on UPnP IGDv2) or an add the backend could not vouch
 * for is read back first, where the protocol can read back. "Permanent
 * leases only" -> lease 0 for the rest of this gateway's life. A conflict
 * -> read back who holds the port: another host is a conflict, nobody
 * while we map for another host is a refusal (miniupnpd's secure mode
 * answers such adds with a conflict). A granted external port other than
 * the configured one is a conflict too: the port a user configured is
 * what DNS names and firewall rules promise, so the other port is handed
 * back and we try again later rather than publish a service on a port
 * nobody expects. Mappings are verified every check_interval by a read-back
 * where the protocol has one (which also corrects a lease shorter than
 * asked), and renewed at half the lease; a permanent mapping is only
 * verified (and renewed when the protocol cannot read back).
 *
 * Ownership: every mapping we create (or are about to: the record is
 * written before the request goes out) is remembered in mappings.json
 * (mapstore.c), rewritten whenever that set changes, at most once per
 * event-loop pass (see persist()), so that a daemon killed with SIGKILL,
 * or whose service was removed while it was down, cleans up after itself
 * at the next start. Remembered mappings that nobody wants any more live
 * on the "dying" list until they are released: where the protocol can
 * read back, the router's entry is deleted only if it still points at
 * the same internal host and port with our description; a protocol that
 * cannot read back can only delete the asking host's own mappings. A
 * mapping held by another host is never deleted. A new mapping for a port
 * whose release is in flight waits for it (the release must not delete
 * the new mapping). */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ev.h"
#include "event.h"
#include "gw_backend.h"
#include "homeport.h"
#include "log.h"
#include "mapping.h"
#include "mapstore.h"
#include "util.h"

#define MIN_RECHECK_MS 1000

enum map_op {
	OP_NONE,
	OP_ADD,          /* marked (req 0) or sent */
	OP_CONFIRM,      /* reading back an add */
	OP_WHO,          /* reading back who holds a conflicting port */
	OP_VERIFY,       /* reading back a mapped entry */
	OP_HANDBACK,     /* deleting a port granted instead of ours */
	OP_CHECK,        /* reading back a dying mapping before deleting it */
	OP_DELETE,       /* deleting a dying mapping */
};

struct map_entry {
	struct map_entry *next;
	struct cfg_service svc;      /* deep copy */
	unsigned proto;              /* SVC_TCP or SVC_UDP */
	char host[INET_ADDRSTRLEN];  /* internal host we map to ("" until known) */
	enum map_state state;
	const struct gw_backend *via;    /* protocol of the request in flight / last one */
	enum map_op op;
	uint64_t req;
	char error[256];
	char native[GW_ERROR_LEN];   /* the protocol's words for a conflict, while we look */
	uint32_t asked;              /* lease asked in the add in flight */
	uint32_t granted;            /* as the gateway says, 0 = permanent */
	int64_t expires_ms;          /* monotonic, 0 = never / unknown */
	int64_t renew_ms;            /* monotonic: re-add from then on, 0 = only verify */
	unsigned failures;
	bool owned;                  /* the gateway may hold a mapping of ours */
	bool settled;                /* reached a first result (--once) */
	bool waiting;                /* start() waits for a release of the same port */
	bool tp_refused;             /* the THIRD_PARTY protocol refused this host: use another */
	const struct gw_backend *made_via;   /* protocol the mapping was (last) made with */
	char gw_addr[INET_ADDRSTRLEN];   /* gateway it was made on, "" if none yet */
	char locator[256];           /* made_via's locator for that gateway */
	char desc[GW_DESC_MAX + 1];  /* the description we give the router (cleaned, cut) */
	char handle[GW_HANDLE_LEN];  /* the backend's handle of the mapping, "" if none */
	struct ev_timer *timer;
};

static struct {
	struct map_entry *head;      /* config order */
	struct map_entry *dying;     /* removed, delete in flight */
	struct mapping_hooks hooks;
	struct mapping_gw gw;
	bool up;
	bool lease0_only;            /* this gateway allows permanent leases only */
	bool shutting_down;
	bool keep;                   /* shutting down, leaving the mappings */
	bool stored;                 /* mappings.json is ours to write */
	bool all_manual;             /* protocol = none: every service forwarded by hand */
	struct ev_timer *flush;      /* 0 ms: write mappings.json, then send the adds */
	void (*done)(void *arg);
	void *done_arg;
} M;

static void persist(void);
static void save(void);
static void start(struct map_entry *e);
static void add(struct map_entry *e);

static const char *const state_names[] = {
	[MAP_PENDING] = "pending", [MAP_MAPPED] = "mapped", [MAP_CONFLICT] = "conflict",
	[MAP_REFUSED] = "refused", [MAP_FAILED] = "failed", [MAP_MANUAL] = "manual",
};

const char *mapping_state_name(enum map_state s)
{
	return (unsigned)s < HP_ARRAY_LEN(state_names) ? state_names[s] : "?";
}

int64_t mapping_backoff_ms(unsigned failures, double jitter)
{
	static const int64_t steps_s[] = { 5, 15, 30, 60, 120, 300, 600 };
	unsigned i = failures ? failures - 1 : 0;
	int64_t base;

	if (i >= HP_ARRAY_LEN(steps_s))
		i = HP_ARRAY_LEN(steps_s) - 1;
	base = steps_s[i] * 1000;
	if (jitter < 0 || jitter >= 1)
		jitter = 0;
	return base + (int64_t)((double)base * 0.2 * jitter);
}

int64_t mapping_recheck_ms(uint32_t granted, uint32_t check_interval)
{
	int64_t check = (int64_t)(check_interval ? check_interval : 300) * 1000;
	int64_t half = (int64_t)granted * 1000 / 2;
	int64_t t = granted && half < check ? half : check;

	return t < MIN_RECHECK_MS ? MIN_RECHECK_MS : t;
}

bool mapping_desc_matches(const char *want, const char *got)
{
	size_t n;

	if (!want || !got)
		return false;
	n = strlen(got);
	return n > 0 && n <= strlen(want) && strncmp(want, got, n) == 0;
}

static const char *proto_str(unsigned proto)
{
	return proto == SVC_UDP ? "udp" : "tcp";
}

static const char *proto_upper(unsigned proto)
{
	return proto == SVC_UDP ? "UDP" : "TCP";
}

static bool can(const struct gw_backend *be, unsigned cap)
{
	return be && (be->caps & cap);
}

/* Forwarded by hand: never asked of the router. */
static bool manual(const struct map_entry *e)
{
	return e->svc.manual || M.all_manual;
}

/* ---- entries ---------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void copy_service(struct cfg_service *dst, const struct cfg_service *src)
{
	*dst = *src;
	dst->name = xstrdup(src->name);
	dst->internal_host = src->internal_host && *src->internal_host ?
		xstrdup(src->internal_host) : NULL;
	dst->description = dup_or_null(src->description);
	dst->file = dup_or_null(src->file);
	if (!dst->external_port)
		dst->external_port = dst->internal_port;
}

static void free_service(struct cfg_service *s)
{
	free(s->name);
	free(s->internal_host);
	free(s->description);
	free(s->file);
}

static void on_timer(void *arg);

/* What the router's table shows, and what tells our mapping from another
 * program's on the same host and port: the configured description or
 * "homeport:NAME", cut to what routers keep, as it will read back. */
static void set_desc(struct map_entry *e)
{
	char def[GW_DESC_MAX + 1];
	const char *d = e->svc.description && *e->svc.description ? e->svc.description : def;
	size_t n;

	snprintf(def, sizeof(def), "homeport:%.70s", e->svc.name);
	n = strnlen(d, GW_DESC_MAX);
	memcpy(e->desc, d, n);
	e->desc[n] = '\0';
	str_sanitize(e->desc);
}

static struct map_entry *entry_new(const struct cfg_service *svc, unsigned proto)
{
	struct map_entry *e = xcalloc(1, sizeof(*e));

	copy_service(&e->svc, svc);
	e->proto = proto;
	e->state = MAP_PENDING;
	e->timer = ev_timer_new(on_timer, e);
	if (e->svc.internal_host)
		snprintf(e->host, sizeof(e->host), "%s", e->svc.internal_host);
	set_desc(e);
	return e;
}

static void cancel_req(struct map_entry *e)
{
	if (e->req && e->via)
		e->via->cancel(e->req);
	e->req = 0;
	e->op = OP_NONE;
}

static void entry_free(struct map_entry *e)
{
	cancel_req(e);
	ev_timer_free(e->timer);
	free_service(&e->svc);
	free(e);
}

static void unlink_dying(struct map_entry *e)
{
	for (struct map_entry **pp = &M.dying; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			return;
		}
}

/* ---- the one transition function -------------------------------------- */

void mapping_note(const char *kind, const char *service, const char *proto,
		  const char *event_proto, unsigned port, enum map_state from, enum map_state to,
		  const char *old_error, const char *error)
{
	if (from != to)
		log_msg(to == MAP_MAPPED ? LOG_NOTICE : to == MAP_PENDING ? LOG_INFO : LOG_WARNING,
			"%s %s/%s: %s -> %s%s%s", kind, service, proto, mapping_state_name(from),
			mapping_state_name(to), *error ? ": " : "", error);
	else if (*error && strcmp(error, old_error) != 0)
		log_info("%s %s/%s: %s: %s", kind, service, proto, mapping_state_name(to), error);
	event_mapping(service, event_proto, port, mapping_state_name(to), error);
}

/* Logs old -> new, keeps the error. */
static void set_state(struct map_entry *e, enum map_state s, const char *fmt, ...) HP_PRINTF(3, 4);
static void set_state(struct map_entry *e, enum map_state s, const char *fmt, ...)
{
	va_list ap;
	char err[sizeof(e->error)] = "";

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(err, sizeof(err), fmt, ap);
		va_end(ap);
	}
	mapping_note("mapping", e->svc.name, proto_str(e->proto), proto_str(e->proto),
		     e->svc.external_port, e->state, s, e->error, err);
	e->state = s;
	memcpy(e->error, err, sizeof(err));
	if (s != MAP_PENDING)
		e->settled = true;
	if (s != MAP_MAPPED)
		e->expires_ms = 0;
	persist();
}

static bool for_this_host(const struct map_entry *e)
{
	return !e->svc.internal_host || strcmp(e->svc.internal_host, M.gw.lan_addr) == 0;
}

/* Conflicts and refusals are the router's (or another host's) decision:
 * look again at check_interval, not sooner. */
static void settle(struct map_entry *e, enum map_state s, const char *fmt, ...) HP_PRINTF(3, 4);
static void settle(struct map_entry *e, enum map_state s, const char *fmt, ...)
{
	char err[sizeof(e->error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, sizeof(err), fmt, ap);
	va_end(ap);
	set_state(e, s, "%s", err);
	ev_timer_arm(e->timer, mapping_recheck_ms(0, M.gw.check_interval));
}

static void fail_backoff(struct map_entry *e, const char *fmt, ...) HP_PRINTF(2, 3);
static void fail_backoff(struct map_entry *e, const char *fmt, ...)
{
	char err[sizeof(e->error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, sizeof(err), fmt, ap);
	va_end(ap);
	e->failures++;
	set_state(e, MAP_FAILED, "%s", err);
	ev_timer_arm(e->timer, mapping_backoff_ms(e->failures, drand48()));
}

/* Next look: at renewal time, and at least every check_interval. */
static void arm_recheck(struct map_entry *e)
{
	int64_t delay = mapping_recheck_ms(0, M.gw.check_interval);

	if (e->renew_ms && e->renew_ms - ev_now_ms() < delay)
		delay = e->renew_ms - ev_now_ms();
	ev_timer_arm(e->timer, delay > 0 ? delay : 0);
}

/* At half the lease, or when the protocol says (PCP: in [1/2, 5/8]). */
static int64_t renew_after_ms(const struct gw_backend *be, uint32_t granted)
{
	return be->renew_ms ? be->renew_ms(granted, drand48()) : (int64_t)granted * 500;
}

static void mapped(struct map_entry *e, uint32_t granted, uint32_t asked)
{
	int64_t now = ev_now_ms();

	e->failures = 0;
	e->owned = true;
	e->granted = granted;
	e->expires_ms = granted ? now + (int64_t)granted * 1000 : 0;
	/* Renew leases we asked for at half of what we got; a permanent
	 * mapping is only verified (and re-added if it vanished), unless the
	 * protocol cannot look: then its finite lease is renewed too. */
	e->renew_ms = granted && (asked || !can(e->via, GW_CAP_READ_BACK)) ?
		now + renew_after_ms(e->via, granted) : 0;
	set_state(e, MAP_MAPPED, NULL);
	arm_recheck(e);
}

/* The mapping about to be made is made on this gateway, with its protocol. */
static void made_here(struct map_entry *e)
{
	e->made_via = e->via;
	snprintf(e->gw_addr, sizeof(e->gw_addr), "%s", M.gw.address);
	snprintf(e->locator, sizeof(e->locator), "%s", M.gw.locator);
}

/* ---- talking to the gateway ------------------------------------------- */

static void fill_req(const struct map_entry *e, struct gw_map_req *q)
{
	memset(q, 0, sizeof(*q));
	q->family = GW_FAMILY_IPV4;
	q->proto = e->proto;
	q->ext_port = e->svc.external_port;
	q->int_port = e->svc.internal_port;
	snprintf(q->int_host, sizeof(q->int_host), "%s", e->host);
	memcpy(q->desc, e->desc, sizeof(q->desc));
	q->lease = e->asked;
	snprintf(q->handle, sizeof(q->handle), "%s", e->handle);
}

/* Every answer: a gateway that lost its table re-creates everything. */
static void check_lost(const struct map_entry *e, const struct gw_result *r)
{
	char why[80];

	if (!r->state_lost || !M.hooks.state_lost)
		return;
	snprintf(why, sizeof(why), "%s: the gateway lost its mappings", e->via->label);
	M.hooks.state_lost(why);
}

/* An answer ended the request in flight. */
static void answered(struct map_entry *e, const struct gw_result *r)
{
	e->req = 0;
	e->op = OP_NONE;
	check_lost(e, r);
}

/* No usable answer: back off, tell gateway.c; no answer at all: it is gone. */
static void transport_failure(struct map_entry *e, const struct gw_result *r)
{
	char why[200];

	snprintf(why, sizeof(why), "%s: %s", e->via->label, r->error[0] ? r->error : "no answer");
	fail_backoff(e, "%s", why);
	if (M.hooks.gateway_trouble)
		M.hooks.gateway_trouble(why);
	if (r->outcome == GW_GONE && M.hooks.gateway_lost)
		M.hooks.gateway_lost(why);
}

static bool entry_matches(const struct map_entry *e, const struct gw_mapping *m)
{
	return strcmp(m->int_host, e->host) == 0 && m->int_port == e->svc.internal_port;
}

static void read_back(struct map_entry *e, enum map_op op, gw_cb cb)
{
	struct gw_map_req q;

	fill_req(e, &q);
	e->op = op;
	e->req = e->via->read_back ? e->via->read_back(&q, cb, e) : 0;
	if (!e->req) {
		e->op = OP_NONE;
		fail_backoff(e, "cannot queue a %s request", e->via->label);
	}
}

/* ---- who holds a port we could not have ------------------------------- */

static void on_who(void *arg, const struct gw_result *r)
{
	struct map_entry *e = arg;
	const struct gw_mapping *m = &r->u.map;

	answered(e, r);
	if (r->outcome == GW_OK && entry_matches(e, m)) {
		/* Ours after all (a race with our own earlier add): confirmed. */
		mapped(e, m->lease, e->asked);
		return;
	}
	e->owned = false;       /* whatever the port holds, it is not ours */
	if (r->outcome == GW_OK && strcmp(m->int_host, e->host) != 0) {
		settle(e, MAP_CONFLICT, "%s: port %u/%s is mapped to %s", e->native,
		       e->svc.external_port, proto_upper(e->proto), m->int_host);
	} else if (r->outcome == GW_OK) {
		settle(e, MAP_CONFLICT, "%s: port %u/%s is mapped to %s port %u", e->native,
		       e->svc.external_port, proto_upper(e->proto), m->int_host, m->int_port);
	} else if (!for_this_host(e)) {
		/* Nobody holds the port: miniupnpd's secure mode says "conflict"
		 * when asked to map for another host. */
		settle(e, MAP_REFUSED, "%s: the gateway refuses mappings for another host (%s); "
		       "is it in secure mode?", e->native, e->host);
	} else {
		settle(e, MAP_CONFLICT, "%s: port %u/%s is in use on the gateway", e->native,
		       e->svc.external_port, proto_upper(e->proto));
	}
}

static void conflict(struct map_entry *e, const struct gw_result *r)
{
	snprintf(e->native, sizeof(e->native), "%s", r->error);
	if (can(e->via, GW_CAP_READ_BACK)) {
		read_back(e, OP_WHO, on_who);
		return;
	}
	e->owned = false;
	settle(e, MAP_CONFLICT, "%s: port %u/%s is in use on the gateway", r->error,
	       e->svc.external_port, proto_upper(e->proto));
}

/* ---- reading a mapping back ------------------------------------------- */

/* Still there: keep the renewal plan, refresh the expiry. An add confirmed
 * by its answer is not read back, so this is where a router that granted
 * less than we asked shows: renew at half of what is left if that comes
 * before the plan. */
static void still_there(struct map_entry *e, uint32_t lease)
{
	int64_t now = ev_now_ms();

	e->granted = lease;
	e->expires_ms = lease ? now + (int64_t)lease * 1000 : 0;
	if (e->renew_ms && lease && now + (int64_t)lease * 500 < e->renew_ms)
		e->renew_ms = now + (int64_t)lease * 500;
	arm_recheck(e);
}

static void on_confirm(void *arg, const struct gw_result *r)
{
	struct map_entry *e = arg;
	bool verify = e->op == OP_VERIFY;
	char why[300];

	answered(e, r);
	if (r->outcome == GW_OK && entry_matches(e, &r->u.map)) {
		if (verify && e->state == MAP_MAPPED)
			still_there(e, r->u.map.lease);
		else
			mapped(e, r->u.map.lease, e->asked);
		return;
	}
	if (r->outcome == GW_OK) {
		e->owned = false;
		settle(e, MAP_CONFLICT, "port %u/%s is mapped to %s port %u, not to us",
		       e->svc.external_port, proto_upper(e->proto), r->u.map.int_host,
		       r->u.map.int_port);
	} else if (r->outcome == GW_NOT_FOUND && verify) {
		log_notice("mapping %s/%s: port %u/%s vanished from the gateway", e->svc.name,
			   proto_str(e->proto), e->svc.external_port, proto_upper(e->proto));
		snprintf(why, sizeof(why), "it vanished from the gateway (%s)", r->error);
		event_mapping(e->svc.name, proto_str(e->proto), e->svc.external_port, "lost", why);
		if (M.hooks.state_lost)
			M.hooks.state_lost("a mapping vanished from the gateway");
		add(e);
	} else if (r->outcome == GW_NOT_FOUND) {
		fail_backoff(e, "the gateway said it made the mapping but has none for port %u/%s "
			     "(%s)", e->svc.external_port, proto_upper(e->proto), r->error);
	} else if (gw_outcome_gone(r->outcome)) {
		transport_failure(e, r);
	} else {
		fail_backoff(e, "%s (checking port %u/%s)", r->error, e->svc.external_port,
			     proto_upper(e->proto));
	}
}

/* ---- adding ----------------------------------------------------------- */

static void on_handback(void *arg, const struct gw_result *r)
{
	answered(arg, r);
}

/* The gateway mapped another external port than ours: hand it back. */
static void handback(struct map_entry *e, uint16_t got)
{
	struct gw_map_req q;

	e->owned = false;
	settle(e, MAP_CONFLICT, "%s: port %u/%s is taken; the gateway offered port %u instead "
	       "(handed back)", e->via->label, e->svc.external_port, proto_upper(e->proto), got);
	fill_req(e, &q);
	q.ext_port = got;
	e->op = OP_HANDBACK;
	e->req = e->via->unmap(&q, on_handback, e);
	if (!e->req)
		e->op = OP_NONE;
}

static void add_ok(struct map_entry *e, const struct gw_mapping *m)
{
	e->owned = true;
	snprintf(e->handle, sizeof(e->handle), "%s", m->handle);
	if (m->ext_port && m->ext_port != e->svc.external_port) {
		handback(e, m->ext_port);
		return;
	}
	/* The answer itself said "added": no read-back. Lease 0 is read back
	 * where possible: the router decides what it becomes. */
	if (!can(e->via, GW_CAP_READ_BACK) || (m->confirmed && e->asked)) {
		mapped(e, m->lease, e->asked);
		return;
	}
	persist();
	read_back(e, OP_CONFIRM, on_confirm);
}

static const struct gw_backend *pick(const struct map_entry *e);

/* A protocol that maps for other hosts only where the router allows it
 * (PCP THIRD_PARTY) said no for this one: try the next that can. */
static bool third_party_refused(struct map_entry *e, const struct gw_result *r)
{
	const struct gw_backend *was = e->via;

	if (for_this_host(e) || !can(was, GW_CAP_THIRD_PARTY) || e->tp_refused)
		return false;
	e->tp_refused = true;
	if (pick(e) == was) {
		e->tp_refused = false;
		return false;
	}
	log_info("mapping %s/%s: %s; trying %s", e->svc.name, proto_str(e->proto), r->error,
		 pick(e)->label);
	start(e);
	return true;
}

static void on_add(void *arg, const struct gw_result *r)
{
	struct map_entry *e = arg;

	answered(e, r);
	switch (r->outcome) {
	case GW_OK:
		add_ok(e, &r->u.map);
		return;
	case GW_PERMANENT_ONLY:
		if (e->asked == 0)
			break;
		log_notice("gateway %s: only permanent leases (%s), mapping with lease 0 from now on",
			   M.gw.address, r->error);
		M.lease0_only = true;
		add(e);
		return;
	case GW_CONFLICT:
		conflict(e, r);
		return;
	case GW_REFUSED:
		if (third_party_refused(e, r))
			return;
		settle(e, MAP_REFUSED, "%s: the gateway does not allow mapping port %u/%s to %s:%u",
		       r->error, e->svc.external_port, proto_upper(e->proto), e->host,
		       e->svc.internal_port);
		return;
	case GW_FAULT:
	case GW_GONE:
		transport_failure(e, r);
		return;
	default:
		break;
	}
	fail_backoff(e, "%s (mapping port %u/%s)", r->error, e->svc.external_port,
		     proto_upper(e->proto));
	/* The gateway said how long its answer stands: no try before then. */
	if (r->retry_s && ev_timer_remaining_ms(e->timer) < (int64_t)r->retry_s * 1000)
		ev_timer_arm(e->timer, (int64_t)r->retry_s * 1000);
}

/* An add is only marked here (op OP_ADD, no request yet): it goes out
 * from the flush, right after mappings.json recorded it (send_adds). */
static void add(struct map_entry *e)
{
	e->asked = M.lease0_only ? 0 : e->svc.lease;
	made_here(e);
	e->op = OP_ADD;
	e->req = 0;
	persist();      /* remembered before the router has it */
}

static void send_add(struct map_entry *e)
{
	struct gw_map_req q;

	fill_req(e, &q);
	e->req = e->via->map(&q, on_add, e);
	if (!e->req) {
		e->op = OP_NONE;
		fail_backoff(e, "cannot queue a %s request", e->via->label);
	}
}

/* ---- remembered mappings: mappings.json ------------------------------- */

/* Head entries: ours, or an add that is about to make it ours (not the
 * retries of a conflict or a refusal). Dying entries: all owned ones. */
static bool remembered(const struct map_entry *e, bool dying)
{
	if (!e->host[0] || !e->gw_addr[0] || !e->made_via)
		return false;
	if (e->owned || dying)
		return e->owned;
	return e->op == OP_ADD && e->state != MAP_CONFLICT && e->state != MAP_REFUSED;
}

static void record_of(const struct map_entry *e, struct map_record *r)
{
	*r = (struct map_record){
		.service = e->svc.name, .proto = e->proto,
		.ext_port = e->svc.external_port, .int_port = e->svc.internal_port,
		.int_host = e->host, .desc = e->desc, .via = e->made_via->name,
		.gateway = e->gw_addr, .locator = e->locator, .handle = e->handle,
		.lease = e->svc.lease,
	};
}

/* Write mappings.json if the set of remembered mappings changed. Called
 * from the flush, and directly where the record must be on disk before
 * the function returns (shutdown, fini). */
static void save(void)
{
	struct map_record *recs;
	size_t n = 0, cap = 0;

	if (!M.stored || M.keep)
		return;
	for (const struct map_entry *e = M.head; e; e = e->next)
		cap++;
	for (const struct map_entry *e = M.dying; e; e = e->next)
		cap++;
	recs = xcalloc(cap ? cap : 1, sizeof(*recs));
	for (const struct map_entry *e = M.head; e; e = e->next)
		if (remembered(e, false))
			record_of(e, &recs[n++]);
	for (const struct map_entry *e = M.dying; e; e = e->next)
		if (remembered(e, true))
			record_of(e, &recs[n++]);
	mapstore_save(recs, n);
	free(recs);
}

/* An add marked by add() that has not gone out yet. */
static bool add_unsent(const struct map_entry *e)
{
	return e->op == OP_ADD && !e->req;
}

/* Send every marked add, in config order. */
static void send_adds(void)
{
	for (struct map_entry *e = M.head; e; e = e->next) {
		if (!add_unsent(e))
			continue;
		if (e->via)
			send_add(e);
		else
			e->op = OP_NONE;
	}
}

static void on_flush(void *arg)
{
	save();
	send_adds();
}

/* Called after every change that might matter to mappings.json. It only
 * arms a 0 ms timer: the file is written once per event-loop pass (with
 * fsync: 50 adds started together used to cost 50 writes in a row), and
 * the adds marked in the meantime are handed to the backend's queue only
 * after that write (send_adds). So the record is still on disk before any
 * request for a new mapping leaves. What this gives up is small: a change
 * that only forgets a mapping (deleted, released) reaches the disk one
 * pass later; a SIGKILL in that window leaves a record of a mapping that
 * is gone, which the next start looks up (not found) and forgets. Without
 * a state_dir the adds still wait for the pass, nothing is written. */
static void persist(void)
{
	if (M.flush && !ev_timer_armed(M.flush))
		ev_timer_arm(M.flush, 0);
}

/* One remembered mapping, as a dying entry waiting for its gateway. */
static void load_record(void *arg, const struct map_record *r)
{
	const struct gw_backend *be = gw_backend_by_name(r->via);
	struct cfg_service svc = {
		.name = (char *)r->service, .protocols = r->proto, .external_port = r->ext_port,
		.internal_port = r->int_port, .internal_host = (char *)r->int_host,
		.description = (char *)r->desc, .lease = r->lease,
	};
	struct map_entry *e, ***tail = arg;

	if (r->ipv6)
		return;                 /* a pinhole: pinhole.c's */
	if (!be) {
		log_warnx("mappings: %s/%s: made with \"%s\", which this homeportd does not speak: "
			  "forgotten", r->service, proto_str(r->proto), r->via);
		return;
	}
	e = entry_new(&svc, r->proto);
	e->made_via = be;
	snprintf(e->gw_addr, sizeof(e->gw_addr), "%s", r->gateway);
	snprintf(e->locator, sizeof(e->locator), "%s", r->locator);
	snprintf(e->handle, sizeof(e->handle), "%s", r->handle);
	e->owned = true;
	**tail = e;
	*tail = &e->next;
}

static void load_remembered(void)
{
	struct map_entry **tail = &M.dying;
	size_t n;

	while (*tail)
		tail = &(*tail)->next;
	n = mapstore_load(load_record, &tail);
	if (n)
		log_info("mappings: %zu remembered from an earlier run", n);
}

/* ---- driving ---------------------------------------------------------- */

/* Is a release in flight that could delete what e is about to map? Some
 * protocols delete by internal port: the same host and port counts too. */
static bool release_in_flight(const struct map_entry *e)
{
	for (const struct map_entry *d = M.dying; d; d = d->next) {
		if (d->op == OP_NONE || d->proto != e->proto)
			continue;
		if (d->svc.external_port == e->svc.external_port ||
		    (d->svc.internal_port == e->svc.internal_port && strcmp(d->host, e->host) == 0))
			return true;
	}
	return false;
}

static bool answering(const struct gw_backend *be)
{
	for (size_t i = 0; i < MAPPING_MAX_BACKENDS && M.gw.answering[i]; i++)
		if (M.gw.answering[i] == be)
			return true;
	return false;
}

/* The protocol for e: the gateway's; for another host the first that maps
 * for it where the router allows it (PCP THIRD_PARTY), unless that one
 * refused it here, then the first that maps for other hosts at all. */
static const struct gw_backend *pick(const struct map_entry *e)
{
	const struct gw_backend *other = NULL;

	if (for_this_host(e))
		return M.gw.via;
	for (size_t i = 0; i < MAPPING_MAX_BACKENDS && M.gw.answering[i]; i++) {
		const struct gw_backend *be = M.gw.answering[i];

		if (can(be, GW_CAP_THIRD_PARTY) && !e->tp_refused)
			return be;
		if (!other && can(be, GW_CAP_OTHER_HOST) && !can(be, GW_CAP_THIRD_PARTY))
			other = be;
	}
	return other ? other : M.gw.via;
}

/* (Re)map now with the entry's protocol. */
static void start(struct map_entry *e)
{
	cancel_req(e);
	ev_timer_disarm(e->timer);
	e->waiting = false;
	if (manual(e)) {
		if (!e->svc.internal_host && M.gw.lan_addr[0])
			snprintf(e->host, sizeof(e->host), "%s", M.gw.lan_addr);
		if (e->state != MAP_MANUAL)
			set_state(e, MAP_MANUAL, NULL);
		return;
	}
	if (!M.up || M.shutting_down)
		return;
	snprintf(e->host, sizeof(e->host), "%s",
		 e->svc.internal_host ? e->svc.internal_host : M.gw.lan_addr);
	e->via = pick(e);
	if (!can(e->via, GW_CAP_OTHER_HOST) && !for_this_host(e)) {
		set_state(e, MAP_REFUSED, "%s can only map ports to the host that asks (%s); "
			  "internal_host %s needs a gateway protocol that maps for other hosts",
			  e->via->label, M.gw.lan_addr, e->host);
		return;
	}
	if (release_in_flight(e)) {
		log_debug("mapping %s/%s: waiting for an old mapping of port %u/%s to go",
			  e->svc.name, proto_str(e->proto), e->svc.external_port,
			  proto_upper(e->proto));
		e->waiting = true;
		return;
	}
	add(e);
}

/* Renewal time: add again; otherwise a cheap existence check, where the
 * protocol can read back (else a renewal anyway). */
static void recheck(struct map_entry *e)
{
	if (e->op != OP_NONE || !M.up || manual(e))
		return;
	if (e->state != MAP_MAPPED || e->via != pick(e)) {
		start(e);
		return;
	}
	if (can(e->via, GW_CAP_READ_BACK) && !(e->renew_ms && ev_now_ms() >= e->renew_ms))
		read_back(e, OP_VERIFY, on_confirm);
	else
		start(e);
}

static void on_timer(void *arg)
{
	recheck(arg);
}

static void add_entries(struct map_entry ***tail, const struct cfg_service *svc,
			struct map_entry **old)
{
	static const unsigned protos[] = { SVC_TCP, SVC_UDP };

	for (size_t i = 0; i < HP_ARRAY_LEN(protos); i++) {
		struct map_entry **pp, *e = NULL;

		if (!(svc->protocols & protos[i]))
			continue;
		for (pp = old; *pp; pp = &(*pp)->next)
			if ((*pp)->proto == protos[i] && config_service_equal(&(*pp)->svc, svc)) {
				e = *pp;
				*pp = e->next;
				break;
			}
		if (!e) {
			e = entry_new(svc, protos[i]);
			if (manual(e))
				start(e);
			else if (M.up)
				ev_timer_arm(e->timer, 0);   /* after the deletes below */
		} else if (manual(e) != (e->state == MAP_MANUAL)) {
			if (!manual(e))                  /* protocol = none went */
				set_state(e, MAP_PENDING, NULL);
			start(e);
		}
		e->next = NULL;
		**tail = e;
		*tail = &e->next;
	}
}

/* ---- releasing mappings nobody wants any more ------------------------- */

static void check_shutdown_done(void)
{
	void (*done)(void *);

	if (!M.shutting_down || !M.done || M.head)
		return;
	for (const struct map_entry *d = M.dying; d; d = d->next)
		if (d->op != OP_NONE)
			return;
	done = M.done;
	M.done = NULL;
	done(M.done_arg);
}

/* A release ended: forget the mapping (deleted, gone, or not ours), or
 * keep remembering it for the next time its gateway answers. */
static void released(struct map_entry *e, bool forget)
{
	e->req = 0;
	e->op = OP_NONE;
	if (forget) {
		unlink_dying(e);
		entry_free(e);
	}
	persist();
	for (struct map_entry *w = M.head; w; w = w->next)
		if (w->waiting && w->op == OP_NONE)
			start(w);
	check_shutdown_done();
}

static void log_release(const struct map_entry *e, int prio, const char *what)
{
	log_msg(prio, "mapping %s/%s: port %u/%s (to %s port %u): %s", e->svc.name,
		proto_str(e->proto), e->svc.external_port, proto_upper(e->proto), e->host,
		e->svc.internal_port, what);
}

static void on_deleted(void *arg, const struct gw_result *r)
{
	struct map_entry *e = arg;
	bool gone = gw_outcome_gone(r->outcome);
	char why[256];

	answered(e, r);
	if (r->outcome == GW_OK || r->outcome == GW_NOT_FOUND) {
		log_release(e, LOG_INFO, "deleted");
		released(e, true);
		return;
	}
	snprintf(why, sizeof(why), "cannot delete it: %s%s", r->error,
		 gone ? "; will try again" : "");
	log_release(e, LOG_WARNING, why);
	if (gone && M.hooks.gateway_trouble)
		M.hooks.gateway_trouble(why);
	released(e, !gone);
}

static void delete_now(struct map_entry *e)
{
	struct gw_map_req q;

	fill_req(e, &q);
	e->op = OP_DELETE;
	e->req = e->via->unmap(&q, on_deleted, e);
	if (!e->req)
		released(e, false);
}

/* Is the router's entry still the one we made? Host and port are not
 * enough: another program on this host may hold the port now. */
static bool still_ours(const struct map_entry *e, const struct gw_mapping *m)
{
	return entry_matches(e, m) && mapping_desc_matches(e->desc, m->desc);
}

/* Delete only what still points where we pointed it. */
static void on_release_check(void *arg, const struct gw_result *r)
{
	struct map_entry *e = arg;
	const struct gw_mapping *m = &r->u.map;
	char why[300];

	answered(e, r);
	if (r->outcome == GW_OK && still_ours(e, m)) {
		delete_now(e);
		return;
	}
	if (r->outcome == GW_OK) {
		snprintf(why, sizeof(why), "the router maps it to %s port %u (\"%s\"): not ours, "
			 "left alone", m->int_host, m->int_port, m->desc);
		log_release(e, LOG_NOTICE, why);
		released(e, true);
	} else if (r->outcome == GW_NOT_FOUND) {
		log_release(e, LOG_INFO, "already gone from the router");
		released(e, true);
	} else if (gw_outcome_gone(r->outcome)) {
		snprintf(why, sizeof(why), "cannot look it up: %s; will try again", r->error);
		log_release(e, LOG_WARNING, why);
		if (M.hooks.gateway_trouble)
			M.hooks.gateway_trouble(why);
		released(e, false);
	} else {
		snprintf(why, sizeof(why), "cannot look it up: %s; forgotten", r->error);
		log_release(e, LOG_WARNING, why);
		released(e, true);
	}
}

/* Start deleting a dying entry's mapping from its gateway, with the
 * protocol that made it where it still answers. Stays with op OP_NONE
 * (remembered) when that gateway is not the one up now. */
static void release(struct map_entry *e)
{
	struct gw_map_req q;

	e->req = 0;
	e->op = OP_NONE;
	if (!M.up || strcmp(e->gw_addr, M.gw.address) != 0)
		return;
	/* A PCP mapping answers to its nonce only. */
	e->via = answering(e->made_via) ? e->made_via : M.gw.via;
	if (can(e->via, GW_CAP_READ_BACK)) {
		fill_req(e, &q);
		e->op = OP_CHECK;
		e->req = e->via->read_back(&q, on_release_check, e);
	} else if (strcmp(e->host, M.gw.lan_addr) == 0 || can(e->via, GW_CAP_THIRD_PARTY)) {
		/* Without a read-back the router lets a host delete only its own
		 * mappings (or, over PCP, those its nonce made). */
		fill_req(e, &q);
		e->op = OP_DELETE;
		e->req = e->via->unmap(&q, on_deleted, e);
	}
	if (!e->req)
		e->op = OP_NONE;
}

/* Move e to the dying list and delete its mapping if it may be ours. A
 * conflict is someone else's mapping: never touch it. */
static void retire(struct map_entry *e)
{
	bool ours = e->owned || (e->op == OP_ADD && !add_unsent(e)) || e->op == OP_CONFIRM;

	cancel_req(e);
	ev_timer_disarm(e->timer);
	e->waiting = false;
	e->next = M.dying;
	M.dying = e;
	if (!ours || !e->host[0] || !e->gw_addr[0]) {
		released(e, true);
		return;
	}
	e->owned = true;
	release(e);
	if (e->op == OP_NONE)
		released(e, false);
	else
		persist();
}

/* A remembered mapping (gateway gw) that e wants exactly: adopt it. */
static bool wants(const struct map_entry *e, const struct map_entry *d, const struct mapping_gw *gw)
{
	const char *host = e->svc.internal_host ? e->svc.internal_host : gw->lan_addr;

	return !manual(e) && e->proto == d->proto && e->svc.external_port == d->svc.external_port &&
	       e->svc.internal_port == d->svc.internal_port && strcmp(host, d->host) == 0 &&
	       strcmp(e->desc, d->desc) == 0;
}

/* e holds a mapping on a gateway that is not the one found now: remember
 * it for when that gateway answers again. */
static void stash(struct map_entry *e)
{
	struct map_entry *d = entry_new(&e->svc, e->proto);

	snprintf(d->host, sizeof(d->host), "%s", e->host);
	d->made_via = e->made_via;
	memcpy(d->gw_addr, e->gw_addr, sizeof(d->gw_addr));
	memcpy(d->locator, e->locator, sizeof(d->locator));
	memcpy(d->handle, e->handle, sizeof(d->handle));
	d->owned = true;
	d->next = M.dying;
	M.dying = d;
	e->owned = false;
	e->gw_addr[0] = '\0';
}

static void adopt(struct map_entry *e, struct map_entry *d)
{
	log_info("mapping %s/%s: port %u/%s was made by an earlier run: adopted",
		 e->svc.name, proto_str(e->proto), e->svc.external_port, proto_upper(e->proto));
	snprintf(e->host, sizeof(e->host), "%s", d->host);
	e->owned = true;
	e->made_via = d->made_via;
	memcpy(e->gw_addr, d->gw_addr, sizeof(e->gw_addr));
	memcpy(e->locator, d->locator, sizeof(e->locator));
	memcpy(e->handle, d->handle, sizeof(e->handle));
	unlink_dying(d);
	entry_free(d);
}

/* ---- public ----------------------------------------------------------- */

void mapping_apply_config(const struct hp_config *cfg)
{
	struct map_entry *old = M.head, **tail = &M.head;

	M.head = NULL;
	M.all_manual = cfg->gateway.protocol == GW_PREF_NONE;
	for (size_t i = 0; i < cfg->n_services; i++)
		add_entries(&tail, &cfg->services[i], &old);
	while (old) {
		struct map_entry *e = old;

		old = e->next;
		log_info("mapping %s/%s: removed from the configuration", e->svc.name,
			 proto_str(e->proto));
		retire(e);
	}
	persist();
}

int mapping_init(const struct hp_config *cfg)
{
	const char *dir = cfg->daemon.state_dir;

	memset(&M, 0, sizeof(M));
	M.flush = ev_timer_new(on_flush, NULL);
	if (!M.flush)
		return -1;
	if (dir && *dir) {
		mapstore_open(dir);
		M.stored = true;
		load_remembered();
	}
	mapping_apply_config(cfg);
	return 0;
}

void mapping_set_hooks(const struct mapping_hooks *hooks)
{
	memset(&M.hooks, 0, sizeof(M.hooks));
	if (hooks)
		M.hooks = *hooks;
}

void mapping_fini(void)
{
	/* Adds that never went out are no mappings of ours: not recorded. */
	for (struct map_entry *e = M.head; e; e = e->next)
		if (add_unsent(e))
			cancel_req(e);
	save();
	ev_timer_free(M.flush);
	M.flush = NULL;
	while (M.head) {
		struct map_entry *e = M.head;
		M.head = e->next;
		entry_free(e);
	}
	while (M.dying) {
		struct map_entry *e = M.dying;
		M.dying = e->next;
		entry_free(e);
	}
	mapstore_close();
	memset(&M, 0, sizeof(M));
}

void mapping_gateway_up(const struct mapping_gw *gw)
{
	struct map_entry *d, *next;

	if (strcmp(gw->address, M.gw.address) != 0)
		M.lease0_only = false;
	M.gw = *gw;
	M.up = true;
	for (struct map_entry *e = M.head; e; e = e->next)
		if (e->owned && e->gw_addr[0] && strcmp(e->gw_addr, gw->address) != 0) {
			cancel_req(e);
			stash(e);
		}
	/* Remembered mappings on this gateway, from an earlier run or a
	 * service removed while it was away: adopt or delete them first. */
	for (d = M.dying; d; d = next) {
		struct map_entry *e;

		next = d->next;
		if (d->op != OP_NONE || strcmp(d->gw_addr, gw->address) != 0)
			continue;
		for (e = M.head; e && !wants(e, d, gw); e = e->next)
			;
		if (e) {
			adopt(e, d);
			continue;
		}
		log_release(d, LOG_NOTICE, "made by an earlier run, no longer configured: deleting");
		release(d);
	}
	persist();
	for (struct map_entry *e = M.head; e; e = e->next) {
		e->failures = 0;
		e->tp_refused = false;
		start(e);
	}
}

void mapping_gateway_down(const char *why)
{
	M.up = false;
	for (struct map_entry *d = M.dying; d; d = d->next)
		cancel_req(d);        /* still remembered: tried again when it is back */
	for (struct map_entry *e = M.head; e; e = e->next) {
		if (remembered(e, false) && !add_unsent(e))
			e->owned = true;   /* an add cut short may have reached it */
		cancel_req(e);
		ev_timer_disarm(e->timer);
		e->waiting = false;
		if (manual(e))
			continue;
		set_state(e, MAP_PENDING, "gateway unreachable: %s", why ? why : "unknown");
		e->settled = true;
	}
}

void mapping_remap_all(const char *why)
{
	if (!M.up)
		return;
	log_notice("re-creating every mapping: %s", why ? why : "gateway lost its state");
	for (struct map_entry *e = M.head; e; e = e->next)
		start(e);
}

void mapping_verify_all(void)
{
	for (struct map_entry *e = M.head; e; e = e->next)
		if (e->op == OP_NONE && !e->waiting) {
			if (e->state != MAP_MAPPED)
				e->failures = 0;
			recheck(e);
		}
}

void mapping_shutdown(bool keep, void (*done)(void *arg), void *arg)
{
	M.shutting_down = true;
	M.done = done;
	M.done_arg = arg;
	if (keep) {
		/* mappings.json stays as it is: the next start adopts them. */
		for (struct map_entry *e = M.head; e; e = e->next)
			if (add_unsent(e))
				cancel_req(e);
		save();
		M.keep = true;
		for (struct map_entry *d = M.dying; d; d = d->next)
			cancel_req(d);
	}
	while (M.head) {
		struct map_entry *e = M.head;

		M.head = e->next;
		if (keep) {
			entry_free(e);
			continue;
		}
		retire(e);
	}
	check_shutdown_done();
}

bool mapping_once_done(bool *all_ok)
{
	bool done = true, ok = true;

	for (struct map_entry *e = M.head; e; e = e->next) {
		if (!e->settled)
			done = false;
		if (e->state != MAP_MAPPED && e->state != MAP_MANUAL)
			ok = false;
	}
	for (struct map_entry *d = M.dying; d; d = d->next)
		if (d->op != OP_NONE)
			done = false;
	if (all_ok)
		*all_ok = ok;
	return done;
}

/* ---- status ----------------------------------------------------------- */

static json_t *entry_json(const struct map_entry *e, const char *ext_ip)
{
	char where[INET_ADDRSTRLEN + 8];
	int64_t now = ev_now_ms();
	json_t *o = json_object();
	uint32_t lease = e->state == MAP_MAPPED ? e->granted : e->svc.lease;
	bool via = e->via && (e->state != MAP_PENDING || e->op != OP_NONE);

	json_object_set_new(o, "name", json_string(e->svc.name));
	json_object_set_new(o, "protocol", json_string(proto_str(e->proto)));
	json_object_set_new(o, "family", json_string("ipv4"));
	json_object_set_new(o, "internal_host", json_string_or_null(e->host));
	json_object_set_new(o, "internal_port", json_integer(e->svc.internal_port));
	json_object_set_new(o, "external_port", json_integer(e->svc.external_port));
	json_object_set_new(o, "state", json_string(mapping_state_name(e->state)));
	json_object_set_new(o, "via", via ? json_string(e->via->name) : json_null());
	json_object_set_new(o, "lease", json_integer(lease));
	json_object_set_new(o, "expires_in", e->expires_ms ?
			    json_integer(e->expires_ms > now ? (e->expires_ms - now) / 1000 : 0) :
			    json_null());
	json_object_set_new(o, "next_try_in", ev_timer_armed(e->timer) ?
			    json_integer(ev_timer_remaining_ms(e->timer) / 1000) : json_null());
	json_object_set_new(o, "error", json_string_or_null(e->error));
	snprintf(where, sizeof(where), "%s:%u", ext_ip ? ext_ip : "", e->svc.external_port);
	json_object_set_new(o, "external_address", ext_ip ? json_string(where) : json_null());
	return o;
}

json_t *mapping_status_json(const char *ext_ip)
{
	json_t *a = json_array();

	for (const struct map_entry *e = M.head; e; e = e->next)
		json_array_append_new(a, entry_json(e, ext_ip));
	return a;
}
