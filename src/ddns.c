/* ddns.c - one state machine per [ddns:NAME] entry.
 *
 * States (SPEC "Status"): pending (an update is due, waiting or in flight),
 * ok (the provider holds the current IP), retrying (temporary failure,
 * backing off), failed (permanent failure: sticky until the entry's config
 * changes or the user forces an update), blocked (the external IP is not
 * public). reconcile() compares what an entry published with the current
 * IP, asks ddns_policy_decide() what to do, and moves the entry through
 * transition(), the one place that logs "old -> new" and arms its timer.
 *
 * What was published and when is kept in <state_dir>/ddns-NAME.json, so a
 * restart with an unchanged IP sends nothing and a failed entry stays failed.
 * The file carries a salted fingerprint of the entry's config (secrets
 * included, see ddns_policy.h): when it no longer matches, the state is
 * dropped and the entry starts afresh.
 *
 * An entry with records = A, AAAA is two state machines here, one per
 * record type, each with its own state file (ddns-NAME.json for A,
 * ddns6-NAME.json for AAAA), backoff and status; status shows them as one
 * entry, ok only when both are. A records publish the gateway's external
 * IPv4 (blocked when it is not public); AAAA records the address of
 * ipv6_host (addr6.h), followed through its change events. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "addr6.h"
#include "ddns.h"
#include "ddns_policy.h"
#include "ev.h"
#include "event.h"
#include "homeport.h"
#include "log.h"
#include "provider.h"
#include "state.h"
#include "util.h"

#define STATE_VERSION 1
#define SALT_HEX 32
#define ATTEMPTS_MAX 1000      /* sanity bound for a loaded state file */

enum ddns_state { ST_PENDING, ST_OK, ST_RETRYING, ST_FAILED, ST_BLOCKED };

static const char *const state_names[] = {
	[ST_PENDING] = "pending", [ST_OK] = "ok", [ST_RETRYING] = "retrying",
	[ST_FAILED] = "failed", [ST_BLOCKED] = "blocked",
};

struct entry {
	struct entry *next;
	char *name;
	char *label;                         /* for logs: "home", "home/AAAA" */
	enum ddns_record rec;                /* the record type this machine keeps */
	char target[INET6_ADDRSTRLEN];       /* AAAA: the address to publish, "" = unknown */
	char target_why[ADDR6_WHY_LEN];      /* AAAA: why it is unknown */
	const struct cfg_ddns *cfg;          /* into the snapshot last applied */
	enum ddns_state state;
	struct ev_timer *timer;
	bool send_scheduled;                 /* the timer is for a request, not a keep-alive check */

	void *req;                           /* in-flight provider handle */
	const struct provider_ops *req_ops;
	char req_ip[INET6_ADDRSTRLEN];
	bool req_forced;

	/* persisted */
	char published_ip[INET6_ADDRSTRLEN]; /* "": nothing yet */
	int64_t last_update, last_attempt;   /* wall clock, 0: never */
	int64_t retry_at;                    /* wall clock end of the backoff, 0: none */
	int64_t force_tat;                   /* pacing of forced updates, see ddns_policy.h */
	int64_t pace_tat;                    /* pacing of the others */
	unsigned attempts;                   /* consecutive temporary failures */
	char failed_ip[INET6_ADDRSTRLEN];    /* what the last temporary failure tried */
	bool told_to_wait;                   /* and the provider asked us to wait */
	bool failed;
	char error[256];
	char last_result[256];
	char salt[SALT_HEX + 1];

	bool forced;                         /* homeportctl update, not yet sent */
	bool attempted;                      /* an attempt finished since start (--once) */
};

static struct {
	bool inited, down;
	char *state_dir;
	struct entry *entries;
	/* the external IP as the gateway confirmed it in an answer to our own
	 * request (gateway.c): published at once, paced by ddns_policy */
	char ip[INET6_ADDRSTRLEN];
	bool ip_known, ip_public;
	bool ip_gone;                        /* the gateway said "unknown" before any IP */
	const struct provider_ops *(*lookup)(const struct provider_ops *);
} dd;

static void reconcile(struct entry *e);

static uint32_t rnd32(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)time(NULL) ^ (uint32_t)getpid() ^ (uint32_t)ev_now_ms();
	return r;
}

static void new_salt(char *out)
{
	for (size_t i = 0; i < SALT_HEX / 8; i++)
		snprintf(out + 8 * i, 9, "%08x", rnd32());
}

static bool is_aaaa(const struct entry *e)
{
	return e->rec == DDNS_REC_AAAA;
}

/* The address this record should hold now, NULL: unknown. */
static const char *entry_ip(const struct entry *e)
{
	if (is_aaaa(e))
		return e->target[0] ? e->target : NULL;
	return dd.ip_known ? dd.ip : NULL;
}

/* ------------------------------------------------------------------ */
/* state machine */

static int state_prio(enum ddns_state s)
{
	return s == ST_FAILED || s == ST_BLOCKED || s == ST_RETRYING ? LOG_WARNING : LOG_INFO;
}

/* The one way an entry changes state: log it, then arm its timer for
 * delay_s seconds (-1: disarm). A timer marked for_send is a scheduled
 * request, which status shows as next_try_in. */
static void transition(struct entry *e, enum ddns_state to, const char *reason,
		       int64_t delay_s, bool for_send)
{
	if (e->state != to)
		log_msg(state_prio(to), "ddns %s: %s -> %s (%s)", e->label,
			state_names[e->state], state_names[to], reason);
	else
		log_debug("ddns %s: stays %s (%s)", e->label, state_names[to], reason);
	e->state = to;
	e->send_scheduled = for_send && delay_s >= 0;
	if (delay_s < 0)
		ev_timer_disarm(e->timer);
	else
		ev_timer_arm(e->timer, delay_s * 1000);
}

static void blocked_error(char *buf, size_t size)
{
	snprintf(buf, size, "external IP %s is not public (double NAT or CGNAT): not publishing",
		 dd.ip);
}

static uint32_t min_interval(const struct entry *e)
{
	return e->cfg->preset ? e->cfg->preset->min_interval : 0;
}

static void fill_facts(const struct entry *e, struct ddns_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->ip = entry_ip(e);
	f->is_public = is_aaaa(e) || dd.ip_public;   /* addr6 resolves public ones only */
	f->published_ip = e->published_ip[0] ? e->published_ip : NULL;
	f->now = time(NULL);
	f->last_update = e->last_update;
	f->last_attempt = e->last_attempt;
	f->retry_at = e->retry_at;
	f->force_interval = e->cfg->force_interval;
	f->min_interval = min_interval(e);
	f->forced = e->forced;
	f->failed = e->failed;
	f->failed_ip = e->failed_ip[0] ? e->failed_ip : NULL;
	f->told_to_wait = e->told_to_wait;
	f->pace_tat = e->pace_tat;
}

/* ------------------------------------------------------------------ */
/* persistence */

static void state_name(const struct entry *e, char *buf, size_t size)
{
	snprintf(buf, size, "%s-%s", is_aaaa(e) ? "ddns6" : "ddns", e->name);
}

static void save_state(struct entry *e)
{
	char fp[DDNS_FP_LEN + 1], name[300], host[64];
	json_t *o;

	if (!dd.state_dir || ddns_policy_fingerprint(e->cfg, e->salt, fp) < 0)
		return;
	o = json_pack("{s:i, s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:i, s:o, s:b, s:b, "
		      "s:s, s:s}",
		      "version", STATE_VERSION, "name", e->name, "salt", e->salt,
		      "fingerprint", fp, "published_ip", json_string_or_null(e->published_ip),
		      "last_update", (json_int_t)e->last_update,
		      "last_attempt", (json_int_t)e->last_attempt,
		      "next_try", (json_int_t)e->retry_at, "force_tat", (json_int_t)e->force_tat,
		      "pace_tat", (json_int_t)e->pace_tat, "attempts", (int)e->attempts,
		      "failed_ip", json_string_or_null(e->failed_ip), "told_to_wait", e->told_to_wait,
		      "failed", e->failed, "error", e->error, "last_result", e->last_result);
	if (!o)
		return;
	if (is_aaaa(e)) {
		addr6_host_format(&e->cfg->ipv6_host, host, sizeof(host));
		json_object_set_new(o, "ipv6_host", json_string(host));
	}
	state_name(e, name, sizeof(name));
	if (state_save_json(dd.state_dir, name, o) < 0)
		log_warnx("ddns %s: cannot save state in %s", e->label, dd.state_dir);
	json_decref(o);
}

/* An optional non-negative integer member; -1 when present but wrong. */
static int get_time(json_t *o, const char *key, int64_t *out)
{
	json_t *v = json_object_get(o, key);

	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

static int get_text(json_t *o, const char *key, char *out, size_t size)
{
	json_t *v = json_object_get(o, key);

	out[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	str_copy(out, size, json_string_value(v));
	return 0;
}

static bool valid_ipv4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

static bool valid_for(const struct entry *e, const char *s)
{
	struct in6_addr a;

	return is_aaaa(e) ? inet_pton(AF_INET6, s, &a) == 1 : valid_ipv4(s);
}

/* Fill tmp from o; -1 when the file is not state this version wrote. */
static int parse_state(const struct entry *e, struct entry *tmp, json_t *o)
{
	json_t *attempts = json_object_get(o, "attempts"), *failed = json_object_get(o, "failed");
	json_t *told = json_object_get(o, "told_to_wait");
	int64_t retry_at;

	if (!json_is_integer(json_object_get(o, "version")) ||
	    json_integer_value(json_object_get(o, "version")) != STATE_VERSION)
		return -1;
	if (get_text(o, "salt", tmp->salt, sizeof(tmp->salt)) < 0 ||
	    strlen(tmp->salt) != SALT_HEX ||
	    get_text(o, "published_ip", tmp->published_ip, sizeof(tmp->published_ip)) < 0 ||
	    (tmp->published_ip[0] && !valid_for(e, tmp->published_ip)) ||
	    get_time(o, "last_update", &tmp->last_update) < 0 ||
	    get_time(o, "last_attempt", &tmp->last_attempt) < 0 ||
	    get_time(o, "next_try", &retry_at) < 0 ||
	    get_time(o, "force_tat", &tmp->force_tat) < 0 ||
	    get_time(o, "pace_tat", &tmp->pace_tat) < 0 ||
	    get_text(o, "failed_ip", tmp->failed_ip, sizeof(tmp->failed_ip)) < 0 ||
	    (tmp->failed_ip[0] && !valid_for(e, tmp->failed_ip)) ||
	    get_text(o, "error", tmp->error, sizeof(tmp->error)) < 0 ||
	    get_text(o, "last_result", tmp->last_result, sizeof(tmp->last_result)) < 0)
		return -1;
	if (attempts && (!json_is_integer(attempts) || json_integer_value(attempts) < 0 ||
			 json_integer_value(attempts) > ATTEMPTS_MAX))
		return -1;
	if ((failed && !json_is_boolean(failed)) || (told && !json_is_boolean(told)))
		return -1;
	tmp->told_to_wait = told && json_is_true(told);
	tmp->retry_at = retry_at;
	tmp->attempts = attempts ? (unsigned)json_integer_value(attempts) : 0;
	tmp->failed = failed && json_is_true(failed);
	return 0;
}

static void adopt_state(struct entry *e, const struct entry *tmp)
{
	memcpy(e->salt, tmp->salt, sizeof(e->salt));
	memcpy(e->published_ip, tmp->published_ip, sizeof(e->published_ip));
	e->last_update = tmp->last_update;
	e->last_attempt = tmp->last_attempt;
	e->retry_at = tmp->retry_at;
	e->force_tat = tmp->force_tat;
	e->pace_tat = tmp->pace_tat;
	e->attempts = tmp->attempts;
	memcpy(e->failed_ip, tmp->failed_ip, sizeof(e->failed_ip));
	e->told_to_wait = tmp->told_to_wait;
	e->failed = tmp->failed;
	memcpy(e->error, tmp->error, sizeof(e->error));
	memcpy(e->last_result, tmp->last_result, sizeof(e->last_result));
	if (e->failed)
		e->state = ST_FAILED;
}

/* Was the state written for e's config? Upgrade only: a file of release
 * 0.1.0 carries that release's fingerprint (*legacy; see ddns_policy.h). */
static bool state_matches(const struct entry *e, const char *salt, const char *want,
			  bool *legacy)
{
	char fp[DDNS_FP_LEN + 1];

	*legacy = false;
	if (ddns_policy_fingerprint(e->cfg, salt, fp) == 0 && strcmp(fp, want) == 0)
		return true;
	*legacy = ddns_policy_fingerprint_legacy(e->cfg, salt, fp) == 0 && strcmp(fp, want) == 0;
	return *legacy;
}

/* AAAA state belongs to one ipv6_host. */
static bool same_host(const struct entry *e, json_t *o)
{
	char host[64];
	const char *saved = json_string_value(json_object_get(o, "ipv6_host"));

	if (!is_aaaa(e))
		return true;
	addr6_host_format(&e->cfg->ipv6_host, host, sizeof(host));
	return saved && strcmp(saved, host) == 0;
}

/* State is a cache: anything odd is logged and the entry starts afresh. */
static void load_state(struct entry *e)
{
	char name[300];
	struct entry *tmp = xcalloc(1, sizeof(*tmp));
	bool legacy;
	json_t *o;

	state_name(e, name, sizeof(name));
	o = state_load_json(dd.state_dir, name);
	if (!o)
		goto out;
	if (parse_state(e, tmp, o) < 0) {
		log_warnx("ddns %s: %s/%s.json is not usable state, ignored", e->label,
			  dd.state_dir, name);
		goto out;
	}
	if (!state_matches(e, tmp->salt,
			   json_string_value(json_object_get(o, "fingerprint")) ?: "", &legacy) ||
	    !same_host(e, o)) {
		log_info("ddns %s: configuration changed since the last run: starting afresh",
			 e->label);
		goto out;
	}
	adopt_state(e, tmp);
	if (legacy) {
		log_info("ddns %s: state of release 0.1.0 taken over", e->label);
		save_state(e);                  /* from now on under today's fingerprint */
	}
	log_info("ddns %s: last published %s%s", e->label,
		 e->published_ip[0] ? e->published_ip : "nothing",
		 e->failed ? " (failed: waiting for a config change)" : "");
out:
	json_decref(o);
	free(tmp);
}

static void remove_state(const struct entry *e)
{
	char path[4096], name[300];

	if (!dd.state_dir)
		return;

	state_name(e, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s.json", dd.state_dir, name);
	unlink(path);
}

/* ------------------------------------------------------------------ */
/* requests */

static void hostnames_text(const struct cfg_ddns *c, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < c->n_hostnames && off < size; i++) {
		int n = snprintf(buf + off, size - off, "%s%s", i ? ", " : "", c->hostnames[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

static void record_success(struct entry *e, int64_t now)
{
	char hosts[256];

	str_copy(e->published_ip, sizeof(e->published_ip), e->req_ip);
	e->last_update = now;
	e->retry_at = 0;
	e->attempts = 0;
	e->failed_ip[0] = '\0';
	e->told_to_wait = false;
	e->error[0] = '\0';
	snprintf(e->last_result, sizeof(e->last_result), "published %s", e->req_ip);
	hostnames_text(e->cfg, hosts, sizeof(hosts));
	log_notice("ddns %s: published %s for %s", e->label, e->req_ip, hosts);
}

static void record_tempfail(struct entry *e, const struct ddns_result *res, int64_t now)
{
	uint32_t delay;

	e->attempts++;
	delay = ddns_policy_backoff(e->attempts, res->retry_after, rnd32());
	e->retry_at = now + delay;
	str_copy(e->failed_ip, sizeof(e->failed_ip), e->req_ip);
	e->told_to_wait = res->retry_after > 0;
	str_copy(e->error, sizeof(e->error), res->error[0] ? res->error : "temporary failure");
	str_copy(e->last_result, sizeof(e->last_result), e->error);
	log_warnx("ddns %s: %s; next try in %u s", e->label, e->error, delay);
}

static void record_permfail(struct entry *e, const struct ddns_result *res)
{
	e->failed = true;
	e->retry_at = 0;
	e->attempts = 0;
	e->failed_ip[0] = '\0';
	e->told_to_wait = false;
	str_copy(e->error, sizeof(e->error), res->error[0] ? res->error : "permanent failure");
	str_copy(e->last_result, sizeof(e->last_result), e->error);
	log_warnx("ddns %s: %s; no more tries until its configuration changes", e->label, e->error);
}

static void finish(struct entry *e, const struct ddns_result *res)
{
	int64_t now = time(NULL);

	e->attempted = true;
	(is_aaaa(e) ? event_ddns6 : event_ddns)(e->cfg, res->outcome, e->req_ip, e->published_ip,
						res->error);
	switch (res->outcome) {
	case DDNS_OK:       record_success(e, now); break;
	case DDNS_TEMPFAIL: record_tempfail(e, res, now); break;
	case DDNS_PERMFAIL: record_permfail(e, res); break;
	}
	save_state(e);
	reconcile(e);
}

static void on_done(void *ctx, const struct ddns_result *res)
{
	struct entry *e = ctx;

	e->req = NULL;
	e->req_ops = NULL;
	finish(e, res);
}

static const struct provider_ops *ops_for(const struct provider_ops *ops)
{
	return dd.lookup ? dd.lookup(ops) : ops;
}

static void start_update(struct entry *e)
{
	struct ddns_result res = { .outcome = DDNS_PERMFAIL };
	const struct provider_ops *ops = ops_for(e->cfg->ops);
	char reason[96];

	str_copy(e->req_ip, sizeof(e->req_ip), entry_ip(e));
	e->req_forced = e->forced;
	e->forced = false;
	e->failed = false;     /* a forced try on a failed entry: the outcome decides anew */
	e->last_attempt = time(NULL);
	if (!e->req_forced)    /* ddns_policy_decide() found it free */
		ddns_policy_pace_take(&e->pace_tat, e->last_attempt, DDNS_PACE_BURST,
				      DDNS_PACE_INTERVAL);
	snprintf(reason, sizeof(reason), "%s %s", e->req_forced ? "forced update to" : "publishing",
		 e->req_ip);
	if (e->state == ST_PENDING || e->state == ST_RETRYING)
		log_info("ddns %s: %s", e->label, reason);   /* no state change to log it */
	transition(e, e->state == ST_RETRYING ? ST_RETRYING : ST_PENDING, reason, -1, false);
	save_state(e);
	if (!ops) {
		snprintf(res.error, sizeof(res.error), "no implementation for provider %s",
			 e->cfg->provider);
		finish(e, &res);
		return;
	}
	e->req = provider_start(ops, e->cfg, e->rec, e->req_ip, on_done, e, &res);
	if (!e->req) {
		finish(e, &res);
		return;
	}
	e->req_ops = ops;
}

static void cancel_request(struct entry *e)
{
	if (!e->req)
		return;
	e->req_ops->cancel(e->req);
	e->req = NULL;
	e->req_ops = NULL;
	if (e->req_forced)
		e->forced = true;      /* still owed to the user */
}

/* ------------------------------------------------------------------ */
/* reconcile: compare, decide, act */

static void reconcile_idle(struct entry *e, int64_t wait_s)
{
	if (e->failed) {
		transition(e, ST_FAILED, e->error[0] ? e->error : "permanent failure", -1, false);
		return;
	}
	if (entry_ip(e) && strcmp(e->published_ip, entry_ip(e)) == 0) {
		transition(e, ST_OK, "published IP is current", wait_s, false);
		return;
	}
	ev_timer_disarm(e->timer);     /* IP unknown: wait for the gateway (or addr6) */
	e->send_scheduled = false;
}

static void reconcile(struct entry *e)
{
	struct ddns_facts f;
	int64_t wait_s;
	char reason[320];

	if (dd.down || e->req)
		return;
	fill_facts(e, &f);
	switch (ddns_policy_decide(&f, &wait_s)) {
	case DDNS_IDLE:
		reconcile_idle(e, wait_s);
		break;
	case DDNS_BLOCK:
		blocked_error(reason, sizeof(reason));
		transition(e, ST_BLOCKED, reason, -1, false);
		break;
	case DDNS_WAIT:
		snprintf(reason, sizeof(reason), "%s; next try in %lld s",
			 e->error[0] ? e->error : "spacing requests", (long long)wait_s);
		transition(e, e->attempts > 0 ? ST_RETRYING : ST_PENDING, reason, wait_s, true);
		break;
	case DDNS_SEND:
		start_update(e);
		break;
	}
}

static void on_timer(void *arg)
{
	struct entry *e = arg;

	e->send_scheduled = false;
	reconcile(e);
}

static void reconcile_all(void)
{
	for (struct entry *e = dd.entries; e; e = e->next)
		reconcile(e);
}

/* ------------------------------------------------------------------ */
/* external IP */

void ddns_set_external_ip(const char *ip, bool is_public)
{
	if (!dd.inited || dd.down)
		return;
	if (!ip) {
		/* Unknown now: keep publishing nothing new, keep what we had. */
		if (!dd.ip_known)
			dd.ip_gone = true;
		return;
	}
	if (!valid_ipv4(ip)) {
		log_warnx("ddns: ignoring external IP \"%.64s\": not an IPv4 address", ip);
		return;
	}
	/* Never trust a caller's verdict more than the SPEC's ranges. */
	is_public = is_public && ipv4_str_is_public(ip);
	if (dd.ip_known && strcmp(dd.ip, ip) == 0 && dd.ip_public == is_public)
		return;
	log_info("ddns: external IP %s -> %s%s", dd.ip_known ? dd.ip : "unknown", ip,
		 is_public ? "" : " (not public)");
	str_copy(dd.ip, sizeof(dd.ip), ip);
	dd.ip_public = is_public;
	dd.ip_known = true;
	event_ip(dd.ip, dd.ip_public);
	reconcile_all();
}

/* ------------------------------------------------------------------ */
/* entries and their life cycle */

static void update_target(struct entry *e);

static struct entry *entry_new(const struct cfg_ddns *c, enum ddns_record rec)
{
	struct entry *e = xcalloc(1, sizeof(*e));

	e->name = xstrdup(c->name);
	e->rec = rec;
	if (asprintf(&e->label, "%s%s", c->name, rec == DDNS_REC_AAAA ? "/AAAA" : "") < 0)
		abort();
	e->cfg = c;
	e->state = ST_PENDING;
	e->timer = ev_timer_new(on_timer, e);
	new_salt(e->salt);
	return e;
}

static void entry_free(struct entry *e)
{
	cancel_request(e);
	ev_timer_free(e->timer);
	free(e->name);
	free(e->label);
	free(e);
}

static struct entry *take_entry(struct entry **list, const char *name, enum ddns_record rec)
{
	for (struct entry **p = list; *p; p = &(*p)->next) {
		struct entry *e = *p;
		if (strcmp(e->name, name) == 0 && e->rec == rec) {
			*p = e->next;
			e->next = NULL;
			return e;
		}
	}
	return NULL;
}

static const enum ddns_record record_types[] = { DDNS_REC_A, DDNS_REC_AAAA };

/* AAAA: what ipv6_host resolves to now (addr6.h). */
static bool resolve_target(struct entry *e)
{
	char addr[INET6_ADDRSTRLEN] = "", why[ADDR6_WHY_LEN] = "";

	if (!is_aaaa(e))
		return false;
	if (addr6_resolve(&e->cfg->ipv6_host, addr, sizeof(addr), why, sizeof(why)) < 0)
		addr[0] = '\0';
	str_copy(e->target_why, sizeof(e->target_why), addr[0] ? "" : why);
	if (strcmp(addr, e->target) == 0)
		return false;
	log_info("ddns %s: address to publish %s -> %s%s%s", e->label,
		 e->target[0] ? e->target : "unknown", addr[0] ? addr : "unknown",
		 addr[0] ? "" : ": ", addr[0] ? "" : why);
	str_copy(e->target, sizeof(e->target), addr);
	return true;
}

static void update_target(struct entry *e)
{
	resolve_target(e);
}

/* addr6: this host's address, or a watched device's, changed. */
static void on_address(void *arg)
{
	if (!dd.inited || dd.down)
		return;
	for (struct entry *e = dd.entries; e; e = e->next)
		if (resolve_target(e))
			reconcile(e);
}

int ddns_init(const struct hp_config *cfg)
{
	struct entry **tail = &dd.entries;

	if (dd.inited) {
		log_warnx("ddns: initialised twice");
		return -1;
	}
	dd.state_dir = xstrdup(cfg->daemon.state_dir);
	for (size_t i = 0; i < cfg->n_ddns; i++)
		for (size_t r = 0; r < HP_ARRAY_LEN(record_types); r++) {
			struct entry *e;
			if (!(cfg->ddns[i].records & record_types[r]))
				continue;
			e = entry_new(&cfg->ddns[i], record_types[r]);
			load_state(e);
			update_target(e);
			*tail = e;
			tail = &e->next;
		}
	dd.inited = true;
	addr6_subscribe(on_address, NULL);
	return 0;
}

/* An unchanged entry keeps its state, but an in-flight request may point
 * into the old snapshot, which is freed after this: restart it. */
static void keep_entry(struct entry *e, const struct cfg_ddns *c)
{
	if (e->req) {
		log_info("ddns %s: restarting the update in flight under the new configuration",
			 e->label);
		cancel_request(e);
	}
	e->cfg = c;
}

static struct entry *renew_entry(struct entry *old, const struct cfg_ddns *c,
				 enum ddns_record rec)
{
	struct entry *e = entry_new(c, rec);

	if (old) {
		log_info("ddns %s: configuration changed: starting afresh", c->name);
		e->last_attempt = old->last_attempt;   /* min_interval survives reloads */
		e->force_tat = old->force_tat;         /* and so does the pacing */
		e->pace_tat = old->pace_tat;
		entry_free(old);
	} else {
		log_info("ddns %s: new entry", c->name);
	}
	save_state(e);
	return e;
}

/* The same for this record type: AAAA also needs the same ipv6_host. */
static bool same_config(const struct entry *e, const struct cfg_ddns *c)
{
	return config_ddns_equal(e->cfg, c) &&
	       (!is_aaaa(e) || addr6_host_equal(&e->cfg->ipv6_host, &c->ipv6_host));
}

void ddns_apply_config(const struct hp_config *cfg)
{
	struct entry *head = NULL, **tail = &head, *old;

	if (!dd.inited || dd.down)
		return;
	for (size_t i = 0; i < cfg->n_ddns; i++) {
		const struct cfg_ddns *c = &cfg->ddns[i];

		for (size_t r = 0; r < HP_ARRAY_LEN(record_types); r++) {
			struct entry *e;

			if (!(c->records & record_types[r]))
				continue;
			old = take_entry(&dd.entries, c->name, record_types[r]);
			if (old && same_config(old, c)) {
				e = old;
				keep_entry(e, c);
			} else {
				e = renew_entry(old, c, record_types[r]);
			}
			update_target(e);
			*tail = e;
			tail = &e->next;
		}
	}
	while ((old = dd.entries)) {
		dd.entries = old->next;
		log_info("ddns %s: removed from the configuration", old->label);
		remove_state(old);
		entry_free(old);
	}
	dd.entries = head;
	reconcile_all();
}

/* 0 when queued (or already in flight), else the seconds until a forced
 * update of e is allowed again. */
static int64_t force_one(struct entry *e)
{
	int64_t wait_s;

	if (e->req && entry_ip(e) && strcmp(e->req_ip, entry_ip(e)) == 0) {
		log_info("ddns %s: update requested: one is already in flight", e->label);
		return 0;
	}
	if (!is_aaaa(e) && dd.ip_known && !dd.ip_public) {
		log_warnx("ddns %s: update requested, but external IP %s is not public: not publishing",
			  e->label, dd.ip);
		return 0;
	}
	wait_s = ddns_policy_force_take(&e->force_tat, time(NULL));
	if (wait_s > 0) {
		log_notice("ddns %s: forced update refused: too many in a row (next allowed in "
			   "%lld s)", e->label, (long long)wait_s);
		return wait_s;
	}
	log_info("ddns %s: update requested%s", e->label,
		 entry_ip(e) ? "" : "; sent once the address is known");
	e->forced = true;
	save_state(e);
	reconcile(e);
	return 0;
}

static void add_refusal(char *why, size_t size, const struct entry *e, int64_t wait_s)
{
	size_t off = strlen(why);

	snprintf(why + off, size - off, "%s%s (next allowed in %lld s)", off ? ", " : "",
		 e->name, (long long)wait_s);
}

int ddns_force_update(const char *name, char *why, size_t size)
{
	char refused[256] = "";
	int found = 0, queued = 0, queued6 = 0;

	for (struct entry *e = dd.entries; e; e = e->next) {
		if (name && strcmp(e->name, name) != 0)
			continue;
		found++;
		if (!dd.down) {
			int64_t wait_s = force_one(e);
			if (wait_s > 0)
				add_refusal(refused, sizeof(refused), e, wait_s);
			else if (is_aaaa(e))
				queued6++;
			else
				queued++;
		}
	}
	if (name && !found)
		return -1;
	if (dd.ip_known && !dd.ip_public && !queued6)
		return -2;
	if (!refused[0])
		return 0;
	if (why)
		snprintf(why, size, "forced update refused for %s: at most %d forced updates in a "
			 "row per entry, then one every %d min, so that providers do not block the "
			 "account%s", refused, DDNS_FORCE_BURST, DDNS_FORCE_INTERVAL / 60,
			 queued + queued6 ? "; queued for the others" : "");
	return -3;
}

void ddns_shutdown(void)
{
	if (!dd.inited || dd.down)
		return;
	dd.down = true;
	for (struct entry *e = dd.entries; e; e = e->next) {
		if (e->req) {
			log_info("ddns %s: update to %s cancelled by shutdown", e->label, e->req_ip);
			cancel_request(e);
		}
		ev_timer_disarm(e->timer);
		save_state(e);
	}
}

void ddns_fini(void)
{
	struct entry *e;

	ddns_shutdown();
	while ((e = dd.entries)) {
		dd.entries = e->next;
		entry_free(e);
	}
	free(dd.state_dir);
	addr6_unsubscribe(on_address, NULL);
	memset(&dd, 0, sizeof(dd));
}

void ddns_test_hooks(const struct provider_ops *(*lookup)(const struct provider_ops *))
{
	dd.lookup = lookup;
}

/* ------------------------------------------------------------------ */
/* status */

static json_t *json_ago(int64_t t, int64_t now)
{
	return t > 0 ? json_integer(now > t ? now - t : 0) : json_null();
}

static json_t *entry_error(const struct entry *e)
{
	char buf[320];

	if (e->state == ST_BLOCKED) {
		blocked_error(buf, sizeof(buf));
		return json_string(buf);
	}
	if (e->state == ST_OK)
		return json_null();
	if (e->state == ST_PENDING && is_aaaa(e) && !e->target[0] && e->target_why[0])
		return json_string(e->target_why);
	return json_string_or_null(e->error);
}

static json_t *entry_next_try(const struct entry *e)
{
	int64_t ms = ev_timer_remaining_ms(e->timer);

	if (!e->send_scheduled || ms < 0)
		return json_null();
	return json_integer((ms + 999) / 1000);
}

/* One record type's own view. */
static json_t *record_json(const struct entry *e, int64_t now)
{
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
			 "state", state_names[e->state],
			 "published", json_string_or_null(e->published_ip),
			 "last_update_ago", json_ago(e->last_update, now),
			 "next_try_in", entry_next_try(e), "error", entry_error(e),
			 "last_attempt_ago", json_ago(e->last_attempt, now),
			 "last_result", json_string_or_null(e->last_result),
			 "updating", e->req != NULL);
}

/* The entry's state: ok only when every record is; else the one that
 * needs attention first. */
static enum ddns_state combined_state(const struct entry *a, const struct entry *b)
{
	static const enum ddns_state order[] = {
		ST_FAILED, ST_RETRYING, ST_PENDING, ST_BLOCKED, ST_OK,
	};

	for (size_t i = 0; i < HP_ARRAY_LEN(order); i++)
		if ((a && a->state == order[i]) || (b && b->state == order[i]))
			return order[i];
	return ST_PENDING;
}

static json_t *combined_error(const struct entry *a, const struct entry *b)
{
	char buf[700];
	json_t *ea, *eb;

	if (!a || !b)
		return entry_error(a ? a : b);
	if (a->state == ST_BLOCKED && b->state == ST_OK) {
		ipv4_blocked_sentence(buf, sizeof(buf), dd.ip, b->published_ip);
		return json_string(buf);
	}
	ea = entry_error(a);
	eb = entry_error(b);
	if (json_is_null(ea) || json_is_null(eb)) {
		json_decref(json_is_null(ea) ? ea : eb);
		return json_is_null(ea) ? eb : ea;
	}
	snprintf(buf, sizeof(buf), "A: %s; AAAA: %s", json_string_value(ea), json_string_value(eb));
	json_decref(ea);
	json_decref(eb);
	return json_string(buf);
}

static int64_t latest(int64_t x, int64_t y)
{
	return x > y ? x : y;
}

/* next_try_in: the sooner of the two. */
static json_t *combined_next_try(const struct entry *a, const struct entry *b)
{
	json_t *na = a ? entry_next_try(a) : json_null(), *nb = b ? entry_next_try(b) : json_null();

	if (json_is_null(na) || (!json_is_null(nb) &&
				 json_integer_value(nb) < json_integer_value(na))) {
		json_decref(na);
		return nb;
	}
	json_decref(nb);
	return na;
}

/* a: the A record's machine, b: the AAAA one's (either may be NULL). */
static json_t *entry_json(const struct entry *a, const struct entry *b, int64_t now)
{
	const struct entry *e = a ? a : b;
	json_t *hosts = json_array(), *records = json_array(), *per = json_object();

	for (size_t i = 0; i < e->cfg->n_hostnames; i++)
		json_array_append_new(hosts, json_string(e->cfg->hostnames[i]));
	if (a) {
		json_array_append_new(records, json_string("A"));
		json_object_set_new(per, "A", record_json(a, now));
	}
	if (b) {
		json_array_append_new(records, json_string("AAAA"));
		json_object_set_new(per, "AAAA", record_json(b, now));
	}
	return json_pack("{s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o}",
			 "name", e->name, "provider", e->cfg->provider ? e->cfg->provider : "",
			 "hostnames", hosts, "records", records,
			 "state", state_names[combined_state(a, b)],
			 "published_ip", a ? json_string_or_null(a->published_ip) : json_null(),
			 "published_ipv6", b ? json_string_or_null(b->published_ip) : json_null(),
			 "last_update_ago", json_ago(latest(a ? a->last_update : 0,
							    b ? b->last_update : 0), now),
			 "next_try_in", combined_next_try(a, b), "error", combined_error(a, b),
			 "last_attempt_ago", json_ago(latest(a ? a->last_attempt : 0,
							     b ? b->last_attempt : 0), now),
			 "last_result", json_string_or_null(e->last_result),
			 "updating", (a && a->req) || (b && b->req), "record_states", per);
}

/* The other record's machine of the same entry, if it follows e. */
static const struct entry *partner(const struct entry *e)
{
	return e->next && strcmp(e->next->name, e->name) == 0 ? e->next : NULL;
}

json_t *ddns_status_json(void)
{
	json_t *arr = json_array();
	int64_t now = time(NULL);

	for (const struct entry *e = dd.entries; e; e = e->next) {
		const struct entry *p = partner(e);
		json_t *o = is_aaaa(e) ? entry_json(NULL, e, now) : entry_json(e, p, now);

		if (o)
			json_array_append_new(arr, o);
		if (p)
			e = p;
	}
	return arr;
}

/* --once: ok, failed and blocked are final; retrying is final too (it only
 * exists after an attempt, and --once must not hammer a provider that asked
 * to wait); pending is final only when the gateway found no IP at all. */
bool ddns_once_done(bool *all_ok)
{
	bool done = true, ok = true;

	for (const struct entry *e = dd.entries; e; e = e->next) {
		if (e->state != ST_OK || e->req)
			ok = false;
		if (e->req || (e->state == ST_PENDING && !is_aaaa(e) && (dd.ip_known || !dd.ip_gone)) ||
		    (e->state == ST_PENDING && is_aaaa(e) && e->target[0]))
			done = false;
	}
	if (all_ok)
		*all_ok = ok;
	return done;
}
