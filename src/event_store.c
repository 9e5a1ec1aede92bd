/* event_store.c - "once per real change".
 *
 * gateway.c, mapping.c and ddns.c report every transition they make; many
 * are no news (a mapping renewed, a gateway found again after a restart).
 * For each subject ("gateway", "ip", "mapping/web/tcp", "ddns/home") the
 * store keeps what was last announced, and only a report that differs
 * becomes an event. The announced values live in <state_dir>/events.json,
 * written atomically, so that a daemon restarted with nothing changed
 * announces nothing, and one that finds the world changed while it was
 * down says so once (ip-change with the old address). Changes are
 * written together, SAVE_DELAY_MS after the first of them (50 services
 * mapped at start: one write, not 50, each two fsyncs that stall the
 * loop, up to 10 ms each on a busy disk), before a hook is started
 * (event_store_flush: what a hook hears is on disk first, so a crash
 * never makes it hear a change twice), and at exit. A crash before the
 * write costs an announcement made again after the restart (to a hook
 * that never heard it), never one lost.
 *
 * What is announced per subject:
 *   gateway   "found" + its address, or "lost" (reported on the way to
 *             unreachable, not while it is merely searched again);
 *   ip        the external IPv4 address;
 *   mapping   mapped, conflict, refused, failed or lost (pending is a way
 *             station: a gateway outage alone announces nothing per mapping);
 *   ddns      "ok" + the published address, or "failed": at once for a
 *             permanent failure, for temporary ones only once they have
 *             lasted EVENT_DDNS_TEMP_THRESHOLD (the start of the streak is
 *             kept here too, across restarts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ev.h"
#include "event.h"
#include "homeport.h"
#include "log.h"
#include "provider.h"
#include "state.h"
#include "util.h"

#define STORE_NAME "events"          /* <state_dir>/events.json */
#define STORE_VERSION 1
#define MAX_SUBJECTS 4096             /* a hostile state file stays bounded */
#define SAVE_DELAY_MS 1000

struct subject {
	char key[96];
	char value[24];                /* "" : nothing announced yet */
	char detail[72];
	int64_t changed;               /* wall clock of the announcement */
	int64_t trouble_since;         /* ddns: first temporary failure in a row */
	unsigned long sent, failed;    /* ddns attempts this run */
};

static struct {
	bool inited;
	char *dir;
	struct subject *subs;
	size_t n;
	bool dirty;                    /* changed since the last write */
	struct ev_timer *save_timer;
} ST;

bool event_ddns_temp_due(int64_t trouble_since, int64_t now)
{
	return trouble_since > 0 && now - trouble_since >= EVENT_DDNS_TEMP_THRESHOLD;
}

/* ---- persistence ------------------------------------------------------ */

static void save(void)
{
	json_t *root, *subs = json_object();

	ST.dirty = false;
	ev_timer_disarm(ST.save_timer);
	if (!ST.dir)
		return;
	for (size_t i = 0; i < ST.n; i++) {
		const struct subject *s = &ST.subs[i];
		json_object_set_new(subs, s->key, json_pack("{s:s, s:s, s:I, s:I}",
			"value", s->value, "detail", s->detail, "changed", (json_int_t)s->changed,
			"trouble_since", (json_int_t)s->trouble_since));
	}
	root = json_pack("{s:i, s:o}", "version", STORE_VERSION, "subjects", subs);
	if (!root || state_save_json(ST.dir, STORE_NAME, root) < 0)
		log_warnx("events: cannot save %s/%s.json: a restart may announce again",
			  ST.dir, STORE_NAME);
	json_decref(root);
}

static void on_save_timer(void *arg)
{
	event_store_flush();
}

/* The timer is never pushed back: a steady stream of changes is still
 * written once a second. */
static void save_soon(void)
{
	ST.dirty = true;
	if (!ev_timer_armed(ST.save_timer))
		ev_timer_arm(ST.save_timer, SAVE_DELAY_MS);
}

void event_store_flush(void)
{
	if (ST.dirty)
		save();
}

static struct subject *find(const char *key, bool create)
{
	for (size_t i = 0; i < ST.n; i++)
		if (strcmp(ST.subs[i].key, key) == 0)
			return &ST.subs[i];
	if (!create || ST.n >= MAX_SUBJECTS)
		return NULL;
	ST.subs = xrealloc(ST.subs, ST.n + 1, sizeof(*ST.subs));
	memset(&ST.subs[ST.n], 0, sizeof(*ST.subs));
	snprintf(ST.subs[ST.n].key, sizeof(ST.subs[ST.n].key), "%s", key);
	return &ST.subs[ST.n++];
}

static int load_subject(const char *key, json_t *o)
{
	json_t *changed = json_object_get(o, "changed"), *since = json_object_get(o, "trouble_since");
	const char *value = json_string_value(json_object_get(o, "value"));
	const char *detail = json_string_value(json_object_get(o, "detail"));
	struct subject *s;

	if (!value || !detail || !json_is_integer(changed) || !json_is_integer(since) ||
	    strlen(key) >= sizeof(s->key) || !(s = find(key, true)))
		return -1;
	snprintf(s->value, sizeof(s->value), "%s", value);
	snprintf(s->detail, sizeof(s->detail), "%s", detail);
	s->changed = json_integer_value(changed);
	s->trouble_since = json_integer_value(since);
	return 0;
}

static void load(void)
{
	json_t *root = state_load_json(ST.dir, STORE_NAME), *subs, *o;
	const char *key;

	if (!root)
		return;
	subs = json_object_get(root, "subjects");
	if (json_integer_value(json_object_get(root, "version")) != STORE_VERSION ||
	    !json_is_object(subs)) {
		log_warnx("events: %s/%s.json is not usable, ignored", ST.dir, STORE_NAME);
		json_decref(root);
		return;
	}
	json_object_foreach(subs, key, o)
		if (load_subject(key, o) < 0)
			log_warnx("events: %s/%s.json: entry \"%.64s\" ignored", ST.dir, STORE_NAME, key);
	json_decref(root);
}

int event_store_init(const char *state_dir)
{
	memset(&ST, 0, sizeof(ST));
	ST.dir = state_dir && *state_dir ? xstrdup(state_dir) : NULL;
	ST.save_timer = ev_timer_new(on_save_timer, NULL);
	if (ST.dir)
		load();
	ST.inited = true;
	return 0;
}

void event_store_fini(void)
{
	event_store_flush();
	ev_timer_free(ST.save_timer);
	free(ST.dir);
	free(ST.subs);
	memset(&ST, 0, sizeof(ST));
}

/* ---- announcing ------------------------------------------------------- */

/* Record value/detail for key; true (and saved) when it differs from what
 * was announced before. */
static bool announce(const char *key, const char *value, const char *detail)
{
	struct subject *s = find(key, true);

	if (!s || (strcmp(s->value, value) == 0 && strcmp(s->detail, detail) == 0))
		return false;
	snprintf(s->value, sizeof(s->value), "%s", value);
	snprintf(s->detail, sizeof(s->detail), "%s", detail);
	s->changed = time(NULL);
	save_soon();
	return true;
}

static const char *current_ip(void)
{
	const struct subject *s = find("ip", false);

	return s ? s->value : "";
}

void event_gateway(bool found, const char *address, const char *why)
{
	struct event ev = { .type = found ? EV_GATEWAY_FOUND : EV_GATEWAY_LOST };
	const struct subject *before;

	if (!ST.inited)
		return;
	before = find("gateway", false);
	str_copy(ev.name, sizeof(ev.name), found ? address : before ? before->detail : "");
	if (!announce("gateway", found ? "found" : "lost", found && address ? address : ""))
		return;
	str_copy(ev.ip, sizeof(ev.ip), current_ip());
	str_copy(ev.state, sizeof(ev.state), found ? "ok" : "unreachable");
	str_copy(ev.error, sizeof(ev.error), found ? "" : why);
	event_publish(&ev);
}

void event_ip(const char *ip, bool is_public)
{
	struct event ev = { .type = EV_IP_CHANGE };

	if (!ST.inited || !ip || !*ip)
		return;
	str_copy(ev.old_ip, sizeof(ev.old_ip), current_ip());
	if (!announce("ip", ip, ""))
		return;
	str_copy(ev.ip, sizeof(ev.ip), ip);
	str_copy(ev.state, sizeof(ev.state), is_public ? "public" : "double_nat");
	event_publish(&ev);
}

void event_mapping(const char *service, const char *protocol, unsigned port,
		   const char *state, const char *error)
{
	struct event ev = { .port = port };
	char key[96];

	/* pending: nothing happened yet; manual: nothing ever happens */
	if (!ST.inited || !state || strcmp(state, "pending") == 0 || strcmp(state, "manual") == 0)
		return;
	snprintf(key, sizeof(key), "mapping/%s/%s", service, protocol);
	if (!announce(key, state, ""))
		return;
	ev.type = strcmp(state, "mapped") == 0 ? EV_MAPPING_OK :
		  strcmp(state, "lost") == 0 ? EV_MAPPING_LOST : EV_MAPPING_FAILED;
	str_copy(ev.name, sizeof(ev.name), service);
	str_copy(ev.protocol, sizeof(ev.protocol), protocol);
	str_copy(ev.ip, sizeof(ev.ip), current_ip());
	str_copy(ev.state, sizeof(ev.state), ev.type == EV_MAPPING_LOST ? "pending" : state);
	str_copy(ev.error, sizeof(ev.error), ev.type == EV_MAPPING_OK ? "" : error);
	event_publish(&ev);
}

static void join_hostnames(const struct cfg_ddns *c, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < c->n_hostnames && off + 1 < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? " " : "", c->hostnames[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* ok: announce "ok" + ip; permanent: "failed"; temporary: "failed" only
 * once the streak has lasted. Returns the state word to announce, or NULL. */
static const char *ddns_verdict(struct subject *s, int outcome, int64_t now)
{
	int64_t before = s->trouble_since;

	s->trouble_since = outcome == DDNS_TEMPFAIL ? (before ? before : now) : 0;
	if (s->trouble_since != before)
		save_soon();
	if (outcome == DDNS_OK)
		return "ok";
	if (outcome == DDNS_PERMFAIL)
		return "failed";
	return event_ddns_temp_due(s->trouble_since, now) ? "retrying" : NULL;
}

/* An entry's A records are subject ddns/NAME; its AAAA records (v6: the
 * address goes in ipv6, ip stays empty) ddns6/NAME. */
static void ddns_event(const struct cfg_ddns *c, bool v6, int outcome, const char *ip,
		       const char *old_ip, const char *error)
{
	struct event ev = { .type = outcome == DDNS_OK ? EV_DDNS_OK : EV_DDNS_FAILED };
	struct subject *s;
	const char *state;
	char key[96];

	if (!ST.inited)
		return;
	snprintf(key, sizeof(key), "%s/%s", v6 ? "ddns6" : "ddns", c->name);
	if (!(s = find(key, true)))
		return;
	s->sent++;
	if (outcome != DDNS_OK)
		s->failed++;
	state = ddns_verdict(s, outcome, time(NULL));
	if (!state || !announce(key, outcome == DDNS_OK ? "ok" : "failed",
				outcome == DDNS_OK && ip ? ip : ""))
		return;
	str_copy(ev.name, sizeof(ev.name), c->name);
	str_copy(v6 ? ev.ipv6 : ev.ip, v6 ? sizeof(ev.ipv6) : sizeof(ev.ip), ip);
	str_copy(ev.old_ip, sizeof(ev.old_ip), v6 ? "" : old_ip);
	str_copy(ev.state, sizeof(ev.state), state);
	str_copy(ev.error, sizeof(ev.error), outcome == DDNS_OK ? "" : error && *error ? error :
	     "the update failed");
	join_hostnames(c, ev.hostnames, sizeof(ev.hostnames));
	event_publish(&ev);
}

void event_ddns(const struct cfg_ddns *c, int outcome, const char *ip,
		const char *old_ip, const char *error)
{
	ddns_event(c, false, outcome, ip, old_ip, error);
}

void event_ddns6(const struct cfg_ddns *c, int outcome, const char *ip6,
		 const char *old_ip6, const char *error)
{
	ddns_event(c, true, outcome, ip6, old_ip6, error);
}

/* ---- metrics ---------------------------------------------------------- */

static void add_counts(json_t *ddns, const char *name, const struct subject *s)
{
	json_t *o = json_object_get(ddns, name);
	json_int_t sent = o ? json_integer_value(json_object_get(o, "sent")) : 0;
	json_int_t failed = o ? json_integer_value(json_object_get(o, "failed")) : 0;

	json_object_set_new(ddns, name, json_pack("{s:I, s:I}", "sent", sent + (json_int_t)s->sent,
						  "failed", failed + (json_int_t)s->failed));
}

json_t *event_store_json(void)
{
	json_t *changes = json_array(), *ddns = json_object();

	for (size_t i = 0; i < ST.n; i++) {
		const struct subject *s = &ST.subs[i];
		const char *slash = strchr(s->key, '/');
		char kind[32];

		snprintf(kind, sizeof(kind), "%.*s", slash ? (int)(slash - s->key) : (int)strlen(s->key),
			 s->key);
		if (s->changed > 0)
			json_array_append_new(changes, json_pack("{s:s, s:s, s:I}", "kind", kind,
				"name", slash ? slash + 1 : "", "time", (json_int_t)s->changed));
		if ((strcmp(kind, "ddns") == 0 || strcmp(kind, "ddns6") == 0) && slash)
			add_counts(ddns, slash + 1, s);    /* an entry's A and AAAA together */
	}
	return json_pack("{s:o, s:o}", "changes", changes, "ddns", ddns);
}
