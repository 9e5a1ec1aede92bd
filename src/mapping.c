/* mapping.c - one state machine per service and protocol: map, confirm,
 * renew, verify, report conflicts and refusals, delete.
 *
 * UPnP: AddPortMapping; the helper accepts it only when the reply is a
 * well-formed AddPortMappingResponse (miniupnpc 2.2.4 alone calls a garbage
 * reply a success), and such an add is mapped at once with the lease we
 * asked for. Only a lease-0 add (the router picks the real lease: a week
 * on IGDv2) or an add the helper could not vouch for is read back with
 * GetSpecificPortMappingEntry first. 725 -> lease 0 for the rest of this
 * gateway's life, 718 -> ask who holds the port: another host is a
 * conflict, nobody while we map for another host is secure mode
 * (refused). Verified every check_interval (that read-back also corrects
 * the lease if the router granted less than we asked), renewed at half
 * the lease.
 *
 * NAT-PMP: map with lifetime = lease (0: a week, renewed), renew at half
 * of what was granted. It can only map to the asking host. A granted
 * external port other than the configured one is a conflict: the port a
 * user configured is what DNS names and firewall rules promise, so we
 * hand the other port back and try again later rather than silently
 * publish a service on a port nobody expects.
 *
 * Ownership: every mapping we create (or are about to: the record is
 * written before the request goes out) is remembered in
 * <state_dir>/mappings.json, rewritten atomically whenever that set
 * changes, at most once per event-loop pass (see persist()), so that a
 * daemon killed with SIGKILL, or whose service was
 * removed while it was down, cleans up after itself at the next start.
 * Remembered mappings that nobody wants any more live on the "dying"
 * list until they are released: over UPnP we first read the router's
 * entry and delete it only if it still points at the same internal host
 * and port with our description; NAT-PMP can only delete the asking
 * host's own mappings. A mapping held by another host is never deleted.
 * A new mapping for a port whose release is in flight waits for it (the
 * release must not delete the new mapping). */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ev.h"
#include "event.h"
#include "gateway.h"
#include "gw_natpmp.h"
#include "gw_upnp.h"
#include "homeport.h"
#include "log.h"
#include "mapping.h"
#include "state.h"
#include "util.h"

#define NATPMP_PERMANENT (7 * 24 * 3600)   /* lifetime asked for lease 0 */
#define MIN_RECHECK_MS 1000
#define STATE_NAME "mappings"              /* <state_dir>/mappings.json */

enum map_op { OP_NONE, OP_ADD, OP_CONFIRM, OP_WHO, OP_VERIFY, OP_RELEASE, OP_CHECK, OP_DELETE };

struct map_entry {
	struct map_entry *next;
	struct cfg_service svc;      /* deep copy */
	unsigned proto;              /* SVC_TCP or SVC_UDP */
	char host[INET_ADDRSTRLEN];  /* internal host we map to ("" until known) */
	enum map_state state;
	enum map_via via;
	enum map_op op;
	uint64_t req;
	char error[256];
	uint32_t asked;              /* lease asked in the add in flight */
	uint32_t granted;            /* as the gateway says, 0 = permanent */
	int64_t expires_ms;          /* monotonic, 0 = never / unknown */
	int64_t renew_ms;            /* monotonic: re-add from then on, 0 = only verify */
	unsigned failures;
	bool owned;                  /* the gateway may hold a mapping of ours */
	bool settled;                /* reached a first result (--once) */
	bool waiting;                /* start() waits for a release of the same port */
	enum map_via made_via;       /* protocol the mapping was (last) made with */
	char gw_addr[INET_ADDRSTRLEN];   /* gateway it was made on, "" if none yet */
	char root_url[256];          /* that gateway's IGD root URL, if UPnP */
	struct ev_timer *timer;
};

static struct {
	struct map_entry *head;      /* config order */
	struct map_entry *dying;     /* removed, delete in flight */
	struct mapping_hooks hooks;
	struct mapping_gw gw;
	bool up;
	bool upnp_lease0;            /* 725 seen on this gateway */
	bool shutting_down;
	bool keep;                   /* shutting down, leaving the mappings */
	bool loaded;                 /* mappings.json read (first apply_config) */
	char *state_dir;
	char *saved;                 /* what mappings.json holds (compact JSON) */
	struct ev_timer *flush;      /* 0 ms: write mappings.json, then send the adds */
	void (*done)(void *arg);
	void *done_arg;
} M;

static void persist(void);
static void save(void);

static const char *const state_names[] = {
	[MAP_PENDING] = "pending", [MAP_MAPPED] = "mapped", [MAP_CONFLICT] = "conflict",
	[MAP_REFUSED] = "refused", [MAP_FAILED] = "failed",
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

uint32_t mapping_natpmp_lifetime(uint32_t lease)
{
	return lease ? lease : NATPMP_PERMANENT;
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

static const char *via_str(enum map_via v)
{
	return v == MAP_VIA_UPNP ? "upnp" : v == MAP_VIA_NATPMP ? "natpmp" : NULL;
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

static struct map_entry *entry_new(const struct cfg_service *svc, unsigned proto)
{
	struct map_entry *e = xcalloc(1, sizeof(*e));

	copy_service(&e->svc, svc);
	e->proto = proto;
	e->state = MAP_PENDING;
	e->timer = ev_timer_new(on_timer, e);
	if (e->svc.internal_host)
		snprintf(e->host, sizeof(e->host), "%s", e->svc.internal_host);
	return e;
}

static void cancel_req(struct map_entry *e)
{
	if (e->req && e->via == MAP_VIA_UPNP)
		upnp_cancel(e->req);
	else if (e->req && e->via == MAP_VIA_NATPMP)
		natpmp_cancel(e->req);
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

/* The one transition function: logs old -> new, keeps the error. */
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
	if (e->state != s)
		log_msg(s == MAP_MAPPED ? LOG_NOTICE : s == MAP_PENDING ? LOG_INFO : LOG_WARNING,
			"mapping %s/%s: %s -> %s%s%s", e->svc.name, proto_str(e->proto),
			mapping_state_name(e->state), mapping_state_name(s), *err ? ": " : "", err);
	else if (*err && strcmp(err, e->error) != 0)
		log_info("mapping %s/%s: %s: %s", e->svc.name, proto_str(e->proto),
			 mapping_state_name(s), err);
	event_mapping(e->svc.name, proto_str(e->proto), e->svc.external_port,
		      mapping_state_name(s), err);
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
static int64_t slow_retry_ms(void)
{
	return mapping_recheck_ms(0, M.gw.check_interval);
}

static void settle(struct map_entry *e, enum map_state s, const char *fmt, ...) HP_PRINTF(3, 4);
static void settle(struct map_entry *e, enum map_state s, const char *fmt, ...)
{
	char err[sizeof(e->error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, sizeof(err), fmt, ap);
	va_end(ap);
	set_state(e, s, "%s", err);
	ev_timer_arm(e->timer, slow_retry_ms());
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

static void mapped(struct map_entry *e, uint32_t granted, uint32_t asked)
{
	int64_t now = ev_now_ms();

	e->failures = 0;
	e->owned = true;
	e->granted = granted;
	e->expires_ms = granted ? now + (int64_t)granted * 1000 : 0;
	/* Renew leases we asked for at half of what we got; a "permanent"
	 * mapping is only verified (and re-added if it vanished). */
	e->renew_ms = granted && (asked || e->via == MAP_VIA_NATPMP) ?
		now + (int64_t)granted * 500 : 0;
	set_state(e, MAP_MAPPED, NULL);
	arm_recheck(e);
}

/* The mapping about to be made is made on this gateway, with its protocol. */
static void made_here(struct map_entry *e)
{
	e->made_via = e->via;
	snprintf(e->gw_addr, sizeof(e->gw_addr), "%s", M.gw.address);
	snprintf(e->root_url, sizeof(e->root_url), "%s",
		 e->via == MAP_VIA_UPNP ? M.gw.root_url : "");
}

/* ---- UPnP ------------------------------------------------------------- */

static void upnp_add(struct map_entry *e);
static void start(struct map_entry *e);

static bool upnp_gateway_gone(const struct upnp_result *r)
{
	return r->status == UPNP_ST_TIMEOUT || r->status == UPNP_ST_NO_IGD ||
	       (r->status == UPNP_ST_ERROR && r->upnp_code == 0);
}

static void upnp_transport_failure(struct map_entry *e, const struct upnp_result *r)
{
	char why[200];

	snprintf(why, sizeof(why), "UPnP: %s", r->error[0] ? r->error : "no answer");
	fail_backoff(e, "%s", why);
	if (M.hooks.gateway_trouble)
		M.hooks.gateway_trouble(why);
	if (r->status != UPNP_ST_ERROR && M.hooks.gateway_lost)
		M.hooks.gateway_lost(why);
}

static bool entry_matches(const struct map_entry *e, const struct upnp_entry *u)
{
	return strcmp(u->int_client, e->host) == 0 && u->int_port == e->svc.internal_port;
}

static void on_upnp_who(void *arg, const struct upnp_result *r)
{
	struct map_entry *e = arg;
	const struct upnp_entry *u = &r->u.entry;

	e->req = 0;
	e->op = OP_NONE;
	if (r->status == UPNP_ST_OK && entry_matches(e, u)) {
		/* Ours after all (a race with our own earlier add): confirmed. */
		mapped(e, u->lease, e->asked);
		return;
	}
	e->owned = false;       /* whatever the port holds, it is not ours */
	if (r->status == UPNP_ST_OK && strcmp(u->int_client, e->host) != 0) {
		settle(e, MAP_CONFLICT, "UPnP 718 ConflictInMappingEntry: port %u/%s is mapped to %s",
		       e->svc.external_port, proto_upper(e->proto), u->int_client);
	} else if (r->status == UPNP_ST_OK) {
		settle(e, MAP_CONFLICT, "UPnP 718 ConflictInMappingEntry: port %u/%s is mapped to "
		       "%s port %u", e->svc.external_port, proto_upper(e->proto), u->int_client,
		       u->int_port);
	} else if (!for_this_host(e)) {
		/* Nobody holds the port: miniupnpd's secure mode says 718 when
		 * asked to map for another host. */
		settle(e, MAP_REFUSED, "UPnP 718 ConflictInMappingEntry: the gateway refuses "
		       "mappings for another host (%s); is it in secure mode?", e->host);
	} else {
		settle(e, MAP_CONFLICT, "UPnP 718 ConflictInMappingEntry: port %u/%s is in use on "
		       "the gateway", e->svc.external_port, proto_upper(e->proto));
	}
}

static void on_upnp_confirm(void *arg, const struct upnp_result *r)
{
	struct map_entry *e = arg;
	bool verify = e->op == OP_VERIFY;

	e->req = 0;
	e->op = OP_NONE;
	if (r->status == UPNP_ST_OK && entry_matches(e, &r->u.entry)) {
		if (verify && e->state == MAP_MAPPED) {
			/* Still there: keep the renewal plan, refresh the expiry. An
			 * add is no longer read back, so this is where a router that
			 * granted less than we asked shows: renew at half of what is
			 * left if that comes before the plan. */
			int64_t now = ev_now_ms();

			e->granted = r->u.entry.lease;
			e->expires_ms = e->granted ? now + (int64_t)e->granted * 1000 : 0;
			if (e->renew_ms && e->granted &&
			    now + (int64_t)e->granted * 500 < e->renew_ms)
				e->renew_ms = now + (int64_t)e->granted * 500;
			arm_recheck(e);
			return;
		}
		mapped(e, r->u.entry.lease, e->asked);
		return;
	}
	if (r->status == UPNP_ST_OK) {
		e->owned = false;
		settle(e, MAP_CONFLICT, "port %u/%s is mapped to %s port %u, not to us",
		       e->svc.external_port, proto_upper(e->proto), r->u.entry.int_client,
		       r->u.entry.int_port);
		return;
	}
	if (r->upnp_code == 714 && verify) {
		log_notice("mapping %s/%s: port %u/%s vanished from the gateway", e->svc.name,
			   proto_str(e->proto), e->svc.external_port, proto_upper(e->proto));
		event_mapping(e->svc.name, proto_str(e->proto), e->svc.external_port, "lost",
			      "it vanished from the gateway (UPnP 714 NoSuchEntryInArray)");
		if (M.hooks.state_lost)
			M.hooks.state_lost("a mapping vanished from the gateway");
		upnp_add(e);
		return;
	}
	if (r->upnp_code == 714) {
		fail_backoff(e, "the gateway said AddPortMapping succeeded but has no mapping for "
			     "port %u/%s (UPnP 714 NoSuchEntryInArray)", e->svc.external_port,
			     proto_upper(e->proto));
		return;
	}
	if (upnp_gateway_gone(r)) {
		upnp_transport_failure(e, r);
		return;
	}
	fail_backoff(e, "%s (checking port %u/%s)", r->error, e->svc.external_port,
		     proto_upper(e->proto));
}

static void upnp_get(struct map_entry *e, enum map_op op, upnp_cb cb)
{
	e->op = op;
	e->req = upnp_get_mapping(e->proto, e->svc.external_port, cb, e);
	if (!e->req) {
		e->op = OP_NONE;
		fail_backoff(e, "cannot queue a UPnP request");
	}
}

static void on_upnp_add(void *arg, const struct upnp_result *r)
{
	struct map_entry *e = arg;

	e->req = 0;
	e->op = OP_NONE;
	if (r->status == UPNP_ST_OK) {
		e->owned = true;
		/* The reply itself said "added" (a well-formed response, checked
		 * by the helper): no read-back, the lease is the one we asked for
		 * (a router that grants less shows at the next verification).
		 * Lease 0 is read back: the router decides what it becomes. */
		if (r->confirmed && e->asked) {
			mapped(e, e->asked, e->asked);
			return;
		}
		persist();
		upnp_get(e, OP_CONFIRM, on_upnp_confirm);
		return;
	}
	if ((r->upnp_code == 725 || r->upnp_code == 402) && e->asked != 0) {
		log_notice("gateway %s: only permanent leases (%s), mapping with lease 0 from now on",
			   M.gw.address, r->error);
		M.upnp_lease0 = true;
		upnp_add(e);
		return;
	}
	if (r->upnp_code == 718) {
		upnp_get(e, OP_WHO, on_upnp_who);
		return;
	}
	if (r->upnp_code == 606) {
		settle(e, MAP_REFUSED, "UPnP 606 ActionNotAuthorized: the gateway does not allow "
		       "mapping port %u/%s to %s:%u", e->svc.external_port, proto_upper(e->proto),
		       e->host, e->svc.internal_port);
		return;
	}
	if (upnp_gateway_gone(r)) {
		upnp_transport_failure(e, r);
		return;
	}
	fail_backoff(e, "%s (mapping port %u/%s)", r->error, e->svc.external_port,
		     proto_upper(e->proto));
}

/* An add is only marked here (op OP_ADD, no request yet): it goes out
 * from the flush, right after mappings.json recorded it (send_adds). */
static void upnp_add(struct map_entry *e)
{
	e->asked = M.upnp_lease0 ? 0 : e->svc.lease;
	made_here(e);
	e->op = OP_ADD;
	e->req = 0;
	persist();      /* remembered before the router has it */
}

static void upnp_send_add(struct map_entry *e)
{
	const char *desc = e->svc.description;
	char def[96];

	if (!desc || !*desc) {
		snprintf(def, sizeof(def), "homeport:%s", e->svc.name);
		desc = def;
	}
	e->req = upnp_add_mapping(e->proto, e->svc.external_port, e->host, e->svc.internal_port,
				  desc, e->asked, on_upnp_add, e);
	if (!e->req) {
		e->op = OP_NONE;
		fail_backoff(e, "cannot queue a UPnP request");
	}
}

/* ---- NAT-PMP ---------------------------------------------------------- */

static void natpmp_add(struct map_entry *e);

static void on_natpmp_release(void *arg, const struct natpmp_result *r)
{
	struct map_entry *e = arg;

	e->req = 0;
	e->op = OP_NONE;
	if (r->status != NATPMP_ST_TIMEOUT && M.hooks.natpmp_epoch)
		M.hooks.natpmp_epoch(r->epoch);
}

static void natpmp_conflict(struct map_entry *e, uint16_t got)
{
	e->owned = false;
	settle(e, MAP_CONFLICT, "NAT-PMP: port %u/%s is taken; the gateway offered port %u "
	       "instead (handed back)", e->svc.external_port, proto_upper(e->proto), got);
	e->op = OP_RELEASE;
	e->req = natpmp_unmap(e->proto, e->svc.internal_port, on_natpmp_release, e);
	if (!e->req)
		e->op = OP_NONE;
}

static void on_natpmp_map(void *arg, const struct natpmp_result *r)
{
	struct map_entry *e = arg;

	e->req = 0;
	e->op = OP_NONE;
	if (r->status != NATPMP_ST_TIMEOUT && M.hooks.natpmp_epoch)
		M.hooks.natpmp_epoch(r->epoch);
	if (r->status == NATPMP_ST_OK) {
		if (r->ext_port != e->svc.external_port) {
			natpmp_conflict(e, r->ext_port);
			return;
		}
		mapped(e, r->lifetime, e->asked);
		return;
	}
	if (r->status == NATPMP_ST_ERROR && r->result_code == 2) {
		settle(e, MAP_REFUSED, "%s: the gateway does not allow NAT-PMP mappings",
		       r->error);
		return;
	}
	if (r->status == NATPMP_ST_TIMEOUT) {
		char why[200];

		snprintf(why, sizeof(why), "NAT-PMP: %s", r->error);
		fail_backoff(e, "%s", why);
		if (M.hooks.gateway_trouble)
			M.hooks.gateway_trouble(why);
		if (M.hooks.gateway_lost)
			M.hooks.gateway_lost(why);
		return;
	}
	if (r->result_code == 0 && M.hooks.gateway_trouble)
		M.hooks.gateway_trouble(r->error);
	fail_backoff(e, "%s (mapping port %u/%s)", r->error, e->svc.external_port,
		     proto_upper(e->proto));
}

/* Marked like upnp_add; natpmp_send_add sends it after the record. */
static void natpmp_add(struct map_entry *e)
{
	e->asked = mapping_natpmp_lifetime(e->svc.lease);
	made_here(e);
	e->op = OP_ADD;
	e->req = 0;
	persist();
}

static void natpmp_send_add(struct map_entry *e)
{
	e->req = natpmp_map(e->proto, e->svc.internal_port, e->svc.external_port, e->asked,
			    on_natpmp_map, e);
	if (!e->req) {
		e->op = OP_NONE;
		fail_backoff(e, "cannot queue a NAT-PMP request");
	}
}

/* ---- remembered mappings: <state_dir>/mappings.json ------------------- */

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* Head entries: ours, or an add that is about to make it ours (not the
 * retries of a conflict or a refusal). Dying entries: all owned ones. */
static bool remembered(const struct map_entry *e, bool dying)
{
	if (!e->host[0] || !e->gw_addr[0])
		return false;
	if (e->owned || dying)
		return e->owned;
	return e->op == OP_ADD && e->state != MAP_CONFLICT && e->state != MAP_REFUSED;
}

static json_t *record_json(const struct map_entry *e)
{
	json_t *o = json_object(), *desc;

	json_object_set_new(o, "service", json_string(e->svc.name));
	json_object_set_new(o, "protocol", json_string(proto_str(e->proto)));
	json_object_set_new(o, "external_port", json_integer(e->svc.external_port));
	json_object_set_new(o, "internal_host", json_string(e->host));
	json_object_set_new(o, "internal_port", json_integer(e->svc.internal_port));
	/* Not UTF-8 (jansson refuses it): null, matched by host and port only. */
	desc = e->svc.description ? json_string(e->svc.description) : NULL;
	json_object_set_new(o, "description", desc ? desc : json_null());
	json_object_set_new(o, "via", json_string(via_str(e->made_via) ? via_str(e->made_via) :
						  "upnp"));
	json_object_set_new(o, "gateway", json_string(e->gw_addr));
	json_object_set_new(o, "root_url", str_or_null(e->root_url));
	json_object_set_new(o, "lease", json_integer(e->svc.lease));
	return o;
}

/* Write mappings.json if the set of remembered mappings changed. Cheap
 * when it did not. Called from the flush, and directly where the record
 * must be on disk before the function returns (shutdown, fini). */
static void save(void)
{
	json_t *root, *arr;
	char *text;

	if (!M.state_dir || M.keep || !M.loaded)
		return;
	arr = json_array();
	for (const struct map_entry *e = M.head; e; e = e->next)
		if (remembered(e, false))
			json_array_append_new(arr, record_json(e));
	for (const struct map_entry *e = M.dying; e; e = e->next)
		if (remembered(e, true))
			json_array_append_new(arr, record_json(e));
	root = json_object();
	json_object_set_new(root, "version", json_integer(1));
	json_object_set_new(root, "mappings", arr);
	text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	if (text && (!M.saved || strcmp(text, M.saved) != 0) &&
	    state_save_json(M.state_dir, STATE_NAME, root) == 0) {
		log_debug("mappings: %s/%s.json: %zu remembered", M.state_dir, STATE_NAME,
			  json_array_size(arr));
		free(M.saved);
		M.saved = text;
		text = NULL;
	}
	free(text);
	json_decref(root);
}

/* An add marked by upnp_add/natpmp_add that has not gone out yet. */
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
		if (e->via == MAP_VIA_UPNP)
			upnp_send_add(e);
		else if (e->via == MAP_VIA_NATPMP)
			natpmp_send_add(e);
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
 * the adds marked in the meantime are handed to the UPnP/NAT-PMP queues
 * only after that write (send_adds). So the record is still on disk
 * before any request for a new mapping leaves, as when each add wrote the
 * file itself. What this gives up is small: a change that only forgets a
 * mapping (deleted, released) reaches the disk one pass later; a SIGKILL
 * in that window leaves a record of a mapping that is gone, which the
 * next start looks up (714) and forgets. Without a state_dir the adds
 * still wait for the pass, nothing is written. */
static void persist(void)
{
	if (M.flush && !ev_timer_armed(M.flush))
		ev_timer_arm(M.flush, 0);
}

static bool port_ok(json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 1 &&
	       json_integer_value(v) <= 65535;
}

static bool ipv4_ok(const char *s)
{
	struct in_addr a;

	return s && inet_pton(AF_INET, s, &a) == 1;
}

/* One remembered mapping, as a dying entry waiting for its gateway. */
static struct map_entry *record_entry(json_t *o)
{
	const char *name = json_string_value(json_object_get(o, "service"));
	const char *proto = json_string_value(json_object_get(o, "protocol"));
	const char *host = json_string_value(json_object_get(o, "internal_host"));
	const char *via = json_string_value(json_object_get(o, "via"));
	const char *gw = json_string_value(json_object_get(o, "gateway"));
	const char *url = json_string_value(json_object_get(o, "root_url"));
	json_t *desc = json_object_get(o, "description"), *lease = json_object_get(o, "lease");
	struct cfg_service svc = { 0 };
	struct map_entry *e;
	unsigned p;

	if (!name || !proto || !via || !ipv4_ok(host) || !ipv4_ok(gw) ||
	    !port_ok(json_object_get(o, "external_port")) ||
	    !port_ok(json_object_get(o, "internal_port")) ||
	    (desc && !json_is_string(desc) && !json_is_null(desc)))
		return NULL;
	if (strcmp(proto, "tcp") == 0)
		p = SVC_TCP;
	else if (strcmp(proto, "udp") == 0)
		p = SVC_UDP;
	else
		return NULL;
	if (strcmp(via, "upnp") != 0 && strcmp(via, "natpmp") != 0)
		return NULL;
	svc.name = (char *)name;
	svc.protocols = p;
	svc.external_port = (uint16_t)json_integer_value(json_object_get(o, "external_port"));
	svc.internal_port = (uint16_t)json_integer_value(json_object_get(o, "internal_port"));
	svc.internal_host = (char *)host;
	svc.description = (char *)json_string_value(desc);
	svc.lease = json_is_integer(lease) && json_integer_value(lease) >= 0 &&
		json_integer_value(lease) <= UINT32_MAX ? (uint32_t)json_integer_value(lease) : 0;
	e = entry_new(&svc, p);
	e->made_via = strcmp(via, "upnp") == 0 ? MAP_VIA_UPNP : MAP_VIA_NATPMP;
	snprintf(e->gw_addr, sizeof(e->gw_addr), "%s", gw);
	snprintf(e->root_url, sizeof(e->root_url), "%s", url ? url : "");
	e->owned = true;
	return e;
}

static void load_remembered(void)
{
	json_t *root = state_load_json(M.state_dir, STATE_NAME), *arr, *o;
	struct map_entry **tail = &M.dying;
	size_t i, n = 0;

	if (!root)
		return;
	while (*tail)
		tail = &(*tail)->next;
	arr = json_object_get(root, "mappings");
	json_array_foreach(arr, i, o) {
		struct map_entry *e = record_entry(o);

		if (!e) {
			log_warnx("mappings: %s/%s.json: entry %zu is not valid, ignored",
				  M.state_dir, STATE_NAME, i);
			continue;
		}
		*tail = e;
		tail = &e->next;
		n++;
	}
	if (n)
		log_info("mappings: %zu remembered from an earlier run", n);
	json_decref(root);
}

/* ---- driving ---------------------------------------------------------- */

/* Is a release in flight that could delete what e is about to map? */
static bool release_in_flight(const struct map_entry *e)
{
	for (const struct map_entry *d = M.dying; d; d = d->next) {
		if (d->op == OP_NONE || d->proto != e->proto)
			continue;
		if (d->svc.external_port == e->svc.external_port)
			return true;
		/* NAT-PMP deletes by internal port */
		if (d->via == MAP_VIA_NATPMP && d->svc.internal_port == e->svc.internal_port &&
		    strcmp(d->host, e->host) == 0)
			return true;
	}
	return false;
}

/* (Re)map now with the gateway's protocol. */
static void start(struct map_entry *e)
{
	cancel_req(e);
	ev_timer_disarm(e->timer);
	e->waiting = false;
	if (!M.up || M.shutting_down)
		return;
	snprintf(e->host, sizeof(e->host), "%s",
		 e->svc.internal_host ? e->svc.internal_host : M.gw.lan_addr);
	e->via = M.gw.via;
	if (e->via == MAP_VIA_NATPMP && !for_this_host(e)) {
		set_state(e, MAP_REFUSED, "NAT-PMP can only map ports to the host that asks (%s); "
			  "internal_host %s needs a UPnP gateway", M.gw.lan_addr, e->host);
		return;
	}
	if (release_in_flight(e)) {
		log_debug("mapping %s/%s: waiting for an old mapping of port %u/%s to go",
			  e->svc.name, proto_str(e->proto), e->svc.external_port,
			  proto_upper(e->proto));
		e->waiting = true;
		return;
	}
	if (e->via == MAP_VIA_UPNP)
		upnp_add(e);
	else if (e->via == MAP_VIA_NATPMP)
		natpmp_add(e);
}

/* Renewal time: add again; otherwise a cheap existence check (UPnP) or a
 * renewal anyway (NAT-PMP has no "get"; its answer carries the epoch). */
static void recheck(struct map_entry *e)
{
	if (e->op != OP_NONE || !M.up)
		return;
	if (e->state != MAP_MAPPED || e->via != M.gw.via) {
		start(e);
		return;
	}
	if (e->via == MAP_VIA_UPNP && !(e->renew_ms && ev_now_ms() >= e->renew_ms))
		upnp_get(e, OP_VERIFY, on_upnp_confirm);
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
			if (M.up)
				ev_timer_arm(e->timer, 0);   /* after the deletes below */
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
		for (struct map_entry **pp = &M.dying; *pp; pp = &(*pp)->next)
			if (*pp == e) {
				*pp = e->next;
				break;
			}
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

static void on_deleted_upnp(void *arg, const struct upnp_result *r)
{
	struct map_entry *e = arg;
	char why[256];

	e->req = 0;
	if (r->status == UPNP_ST_OK || r->upnp_code == 714) {
		log_release(e, LOG_INFO, "deleted");
		released(e, true);
		return;
	}
	snprintf(why, sizeof(why), "cannot delete it: %s%s", r->error,
		 upnp_gateway_gone(r) ? "; will try again" : "");
	log_release(e, LOG_WARNING, why);
	if (upnp_gateway_gone(r) && M.hooks.gateway_trouble)
		M.hooks.gateway_trouble(why);
	released(e, !upnp_gateway_gone(r));
}

static void on_deleted_natpmp(void *arg, const struct natpmp_result *r)
{
	struct map_entry *e = arg;
	char why[256];

	e->req = 0;
	if (r->status != NATPMP_ST_TIMEOUT && M.hooks.natpmp_epoch)
		M.hooks.natpmp_epoch(r->epoch);
	if (r->status == NATPMP_ST_OK) {
		log_release(e, LOG_INFO, "deleted");
		released(e, true);
		return;
	}
	snprintf(why, sizeof(why), "cannot delete it: %s%s", r->error,
		 r->status == NATPMP_ST_TIMEOUT ? "; will try again" : "");
	log_release(e, LOG_WARNING, why);
	released(e, r->status != NATPMP_ST_TIMEOUT);
}

/* UPnP: delete only what still points where we pointed it. */
static void on_release_check(void *arg, const struct upnp_result *r)
{
	struct map_entry *e = arg;
	const struct upnp_entry *u = &r->u.entry;
	char why[300];

	e->req = 0;
	e->op = OP_NONE;
	if (r->status == UPNP_ST_OK && entry_matches(e, u) &&
	    (e->made_via != MAP_VIA_UPNP || !e->svc.description ||
	     mapping_desc_matches(e->svc.description, u->desc))) {
		e->op = OP_DELETE;
		e->req = upnp_delete_mapping(e->proto, e->svc.external_port, on_deleted_upnp, e);
		if (!e->req)
			released(e, false);
		return;
	}
	if (r->status == UPNP_ST_OK) {
		snprintf(why, sizeof(why), "the router maps it to %s port %u (\"%s\"): not ours, "
			 "left alone", u->int_client, u->int_port, u->desc);
		log_release(e, LOG_NOTICE, why);
		released(e, true);
	} else if (r->upnp_code == 714) {
		log_release(e, LOG_INFO, "already gone from the router");
		released(e, true);
	} else if (upnp_gateway_gone(r)) {
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

/* Start deleting a dying entry's mapping from its gateway. Stays with
 * op OP_NONE (remembered) when that gateway is not the one up now. */
static void release(struct map_entry *e)
{
	e->req = 0;
	e->op = OP_NONE;
	if (!M.up || strcmp(e->gw_addr, M.gw.address) != 0)
		return;
	e->via = M.gw.via;
	if (e->via == MAP_VIA_UPNP) {
		e->op = OP_CHECK;
		e->req = upnp_get_mapping(e->proto, e->svc.external_port, on_release_check, e);
	} else if (e->via == MAP_VIA_NATPMP && strcmp(e->host, M.gw.lan_addr) == 0) {
		/* The router lets a host delete only its own mappings. */
		e->op = OP_DELETE;
		e->req = natpmp_unmap(e->proto, e->svc.internal_port, on_deleted_natpmp, e);
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

	return e->proto == d->proto && e->svc.external_port == d->svc.external_port &&
	       e->svc.internal_port == d->svc.internal_port && strcmp(host, d->host) == 0 &&
	       (!d->svc.description || (e->svc.description &&
					strcmp(e->svc.description, d->svc.description) == 0));
}

/* e holds a mapping on a gateway that is not the one found now: remember
 * it for when that gateway answers again. */
static void stash(struct map_entry *e)
{
	struct map_entry *d = entry_new(&e->svc, e->proto);

	snprintf(d->host, sizeof(d->host), "%s", e->host);
	d->made_via = e->made_via;
	memcpy(d->gw_addr, e->gw_addr, sizeof(d->gw_addr));
	memcpy(d->root_url, e->root_url, sizeof(d->root_url));
	d->owned = true;
	d->next = M.dying;
	M.dying = d;
	e->owned = false;
	e->gw_addr[0] = '\0';
}

void mapping_apply_config(const struct hp_config *cfg)
{
	struct map_entry *old = M.head, **tail = &M.head;
	const char *dir = cfg->daemon.state_dir;

	free(M.state_dir);
	M.state_dir = dir && *dir ? xstrdup(dir) : NULL;
	if (!M.loaded && M.state_dir)
		load_remembered();
	M.loaded = true;
	M.head = NULL;
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

void mapping_init(const struct mapping_hooks *hooks)
{
	memset(&M, 0, sizeof(M));
	if (hooks)
		M.hooks = *hooks;
	M.flush = ev_timer_new(on_flush, NULL);
	srand48((long)ev_now_ms());
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
	free(M.state_dir);
	free(M.saved);
	memset(&M, 0, sizeof(M));
}

void mapping_gateway_up(const struct mapping_gw *gw)
{
	struct map_entry *d, *next;

	if (strcmp(gw->address, M.gw.address) != 0)
		M.upnp_lease0 = false;
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
			log_info("mapping %s/%s: port %u/%s was made by an earlier run: adopted",
				 e->svc.name, proto_str(e->proto), e->svc.external_port,
				 proto_upper(e->proto));
			snprintf(e->host, sizeof(e->host), "%s", d->host);
			e->owned = true;
			e->made_via = d->made_via;
			memcpy(e->gw_addr, d->gw_addr, sizeof(e->gw_addr));
			memcpy(e->root_url, d->root_url, sizeof(e->root_url));
			for (struct map_entry **pp = &M.dying; *pp; pp = &(*pp)->next)
				if (*pp == d) {
					*pp = d->next;
					break;
				}
			entry_free(d);
			continue;
		}
		log_release(d, LOG_NOTICE, "made by an earlier run, no longer configured: deleting");
		release(d);
	}
	persist();
	for (struct map_entry *e = M.head; e; e = e->next) {
		e->failures = 0;
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
		if (e->state != MAP_MAPPED)
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

static json_t *entry_json(const struct map_entry *e)
{
	int64_t now = ev_now_ms();
	json_t *o = json_object();
	uint32_t lease = e->state == MAP_MAPPED ? e->granted : e->svc.lease;

	json_object_set_new(o, "name", json_string(e->svc.name));
	json_object_set_new(o, "protocol", json_string(proto_str(e->proto)));
	json_object_set_new(o, "internal_host", str_or_null(e->host));
	json_object_set_new(o, "internal_port", json_integer(e->svc.internal_port));
	json_object_set_new(o, "external_port", json_integer(e->svc.external_port));
	json_object_set_new(o, "state", json_string(mapping_state_name(e->state)));
	json_object_set_new(o, "via", e->state == MAP_MAPPED || e->op != OP_NONE ||
			    e->state != MAP_PENDING ? str_or_null(via_str(e->via)) : json_null());
	json_object_set_new(o, "lease", json_integer(lease));
	json_object_set_new(o, "expires_in", e->expires_ms ?
			    json_integer(e->expires_ms > now ? (e->expires_ms - now) / 1000 : 0) :
			    json_null());
	json_object_set_new(o, "error", str_or_null(e->error));
	return o;
}

json_t *mapping_status_json(void)
{
	json_t *a = json_array();

	for (const struct map_entry *e = M.head; e; e = e->next)
		json_array_append_new(a, entry_json(e));
	return a;
}
