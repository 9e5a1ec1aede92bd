/* gateway.c - finds the gateway and the protocol to map with, tracks its
 * external IP (public or behind another NAT) and notices when it lost its
 * state, so that mapping.c can re-create every mapping. It never names a
 * protocol: it asks every protocol of the backend table ([gateway]
 * protocol allowing) at once, and reasons in outcomes and capabilities.
 *
 * The state machine (one transition function, which logs old -> new):
 *
 *   searching --found--> up --lost--> searching
 *       |                 |
 *       | nothing         | lost right after it was found (flapping)
 *       v                 v
 *   unreachable <-----------+ --backoff timer--> retrying --found--> up
 *                  ^                               |
 *                  +-------- nothing answered -----+
 *
 * and stopping (shutdown, deleting our mappings) from any of them; off
 * when [gateway] protocol = none: the router is asked nothing (every
 * service is manual, the external IP comes from ipsource.c).
 *
 * Trust (SPEC "Which gateway is trusted"): the gateway is this host's
 * default IPv4 router (route.c, rtnetlink), unless upnp_url names one;
 * whatever answers from elsewhere is ignored and named once an hour.
 * Mappings go over the first protocol in table order that answers there
 * (mapping.c may pick another for a service on another host). Every
 * protocol that answers is asked for the external IP at each check: when
 * they disagree, nothing new is published and gateway.error says so.
 *
 * A router that lost its table is noticed by an answer that says so (an
 * epoch that went back, RFC 6886 3.6 and RFC 6887 8.5, judged by the
 * backend on answers to our own requests only), by a mapping gone at
 * verification (mapping.c),
 * or after an announcement. Announcements (gw_hint) are only hints: they
 * make us ask the gateway, at most once a second however many arrive
 * (miniupnpd's first NAT-PMP announcement after a change carries the old
 * address: asking is the only way to know anyway). */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr6.h"
#include "config.h"
#include "ev.h"
#include "event.h"
#include "gateway.h"
#include "gw_backend.h"
#include "hintgap.h"
#include "homeport.h"
#include "ipsource.h"
#include "log.h"
#include "mapping.h"
#include "pinhole.h"
#include "route.h"
#include "util.h"

#define SHUTDOWN_MS 3500           /* gateway.h promises done within 4 s */
#define RESTART_SETTLE_MS 300      /* let a restarted router open its HTTP port */
#define ASK_GAP_MS 1000            /* announcements make us ask once a second at most */
#define RESET_QUICK_GAP_MS 10000   /* ... but once in this long, at once after a reset */
#define IP_RETRY_MS 2000           /* an external-IP read the gateway could not answer yet */
#define IP_RETRIES 5               /* ... tried again this often, then at the next check */
#define MAX_SLOTS MAPPING_MAX_BACKENDS

enum gw_state { GS_IDLE, GS_SEARCHING, GS_UP, GS_UNREACHABLE, GS_RETRYING, GS_STOPPING,
		GS_OFF };

static const char *const state_names[] = {
	[GS_IDLE] = "idle", [GS_SEARCHING] = "searching", [GS_UP] = "up",
	[GS_UNREACHABLE] = "unreachable", [GS_RETRYING] = "retrying",
	[GS_STOPPING] = "stopping", [GS_OFF] = "off",
};

/* SPEC "Status": gateway.state */
static const char *const status_names[] = {
	[GS_IDLE] = "searching", [GS_SEARCHING] = "searching", [GS_UP] = "ok",
	[GS_UNREACHABLE] = "unreachable", [GS_RETRYING] = "unreachable",
	[GS_STOPPING] = "ok", [GS_OFF] = "ok",   /* off: nothing to reach, nothing wrong */
};

/* One protocol of the table, during and after discovery. */
enum slot_state {
	SLOT_OFF,        /* not asked (or stopped) */
	SLOT_ASKING,     /* discovery in flight */
	SLOT_ANSWERED,   /* a gateway answered: in use */
};

struct slot {
	const struct gw_backend *be;
	enum slot_state state;
	uint64_t req;
	char error[GW_ERROR_LEN];    /* why it did not answer */
	struct gw_found found;
	/* the external IP, as this protocol said in the check in flight */
	uint64_t ip_req;
	enum gw_outcome ip_outcome;
	char ip[GW_ADDR_LEN];
};

struct gw_conf {                   /* own copy: the config is freed after apply */
	enum gw_protocol_pref protocol;
	char *upnp_url;
	char *interface;
	uint32_t check_interval;
	bool keep_mappings;
};

enum todo { TODO_LOST = 1, TODO_REMAP = 2 };

/* What announcements (hints) make us do, rate-limited (G.ask_gap). */
enum ask { ASK_IP = 1, ASK_VERIFY = 2 };

#define IGNORED_REMEMBERED 8
#define IGNORED_RELOG_MS (3600 * 1000)     /* an ignored device is named once an hour */

static struct {
	enum gw_state state;
	char error[256];
	struct gw_conf conf;
	struct gateway_hooks hooks;
	struct slot slots[MAX_SLOTS];
	size_t n_slots;
	struct slot *via;              /* the mapping protocol (up) */
	char address[INET_ADDRSTRLEN], lan_address[INET_ADDRSTRLEN];
	char trusted[INET_ADDRSTRLEN]; /* the default router: the only gateway, "" if none */
	char lan_if[IF_NAMESIZE];      /* the interface of its route */
	struct {                       /* devices ignored (not the gateway), named once */
		char what[GW_IGNORED_LEN];
		int64_t logged_ms;
	} ignored[IGNORED_REMEMBERED];
	unsigned failures;             /* discoveries failed in a row */
	unsigned flaps;                /* found, then lost before anything worked */
	bool proved;                   /* an answer was usable since it was found */
	bool trouble;                  /* a request failed since the last sign of life */

	/* external IP */
	char ext_ip[GW_ADDR_LEN];
	bool ext_known, ext_public, ip_checked, ip_again;
	bool disagree;                 /* the protocols report different IPs (G.error says) */
	bool disagree_again;           /* one quick second look taken */
	unsigned ip_tries;             /* rounds in a row that read no IP, only errors */
	int64_t last_check_ms;

	/* announcements: what to do, and when it was last done */
	unsigned ask;
	struct hintgap ask_gap;        /* the rate-limited action on announcements, a look again */
	int64_t reset_same_ms;         /* an answer showed a reset, but the old IP */
	struct hintgap reset_quick;    /* the last ask that did not wait for the gap */
	char hint_what[80];
	unsigned hints;                /* announcements since the last action */
	int64_t doubted_ms;            /* pinholes last added again on an announcement */
	struct log_limit hint_log, verify_log;

	/* deferred work: hooks run inside mapping.c's callbacks */
	unsigned todo;
	char lost_why[200], remap_why[200];
	struct ev_timer *timer;        /* up: next check; unreachable: retry; stopping: limit */
	struct ev_timer *kick;         /* the deferred work */
	void (*done)(void *arg);
	void *done_arg;
	int stopping_parts;            /* mappings and pinholes still being deleted */
} G;

static void discover(void);
static void check_ip(void);

/* ---- the services: IPv4 mappings (mapping.c), IPv6 pinholes (pinhole.c) -- */

static void services_down(const char *why)
{
	mapping_gateway_down(why);
	pinhole_gateway_down(why);
}

static void services_verify(void)
{
	mapping_verify_all();
	pinhole_verify_all();
}

static void services_remap(const char *why)
{
	mapping_remap_all(why);
	pinhole_remap_all(why);
}

/* ---- helpers ---------------------------------------------------------- */

static void conf_free(struct gw_conf *c)
{
	free(c->upnp_url);
	free(c->interface);
	memset(c, 0, sizeof(*c));
}

static void conf_copy(struct gw_conf *c, const struct cfg_gateway *g)
{
	conf_free(c);
	c->protocol = g->protocol;
	c->upnp_url = g->upnp_url && *g->upnp_url ? xstrdup(g->upnp_url) : NULL;
	c->interface = g->interface && *g->interface ? xstrdup(g->interface) : NULL;
	c->check_interval = g->check_interval ? g->check_interval : 300;
	c->keep_mappings = g->keep_mappings;
}

static bool str_same(const char *a, const char *b)
{
	return (!a || !*a) ? (!b || !*b) : (b && strcmp(a, b) == 0);
}

/* Changes that need a new discovery. */
static bool conf_rediscover(const struct gw_conf *c, const struct cfg_gateway *g)
{
	return c->protocol != g->protocol || !str_same(c->upnp_url, g->upnp_url) ||
	       !str_same(c->interface, g->interface);
}

static bool enabled(const struct gw_backend *be)
{
	return G.conf.protocol == GW_PREF_AUTO || G.conf.protocol == be->pref;
}

/* The one transition function: logs old -> new, sets the public error and
 * the state's timer (delay_ms < 0: none). */
static void transition(enum gw_state to, int64_t delay_ms, const char *fmt, ...) HP_PRINTF(3, 4);
static void transition(enum gw_state to, int64_t delay_ms, const char *fmt, ...)
{
	char err[sizeof(G.error)] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(err, sizeof(err), fmt, ap);
		va_end(ap);
	}
	if (G.state != to)
		log_msg(to == GS_UP ? LOG_NOTICE : to == GS_UNREACHABLE ? LOG_WARNING : LOG_INFO,
			"gateway: %s -> %s%s%s", state_names[G.state], state_names[to],
			*err ? ": " : "", err);
	/* hooks: found on reaching up, lost on giving up (not while searching) */
	if (to == GS_UP || to == GS_UNREACHABLE)
		event_gateway(to == GS_UP, G.address, err);
	G.state = to;
	memcpy(G.error, err, sizeof(err));
	if (delay_ms >= 0)
		ev_timer_arm(G.timer, delay_ms);
	else
		ev_timer_disarm(G.timer);
}

static void stop_slot(struct slot *s)
{
	if (s->state == SLOT_OFF)
		return;
	s->be->stop();           /* drops its requests without a callback */
	s->state = SLOT_OFF;
	s->req = 0;
	s->ip_req = 0;
}

static void stop_all(void)
{
	for (size_t i = 0; i < G.n_slots; i++)
		stop_slot(&G.slots[i]);
	G.via = NULL;
	G.ip_again = false;
}

/* ---- external IP ------------------------------------------------------ */

static void learn_ip(const char *ip)
{
	bool known = ip && *ip, pub = known && ipv4_str_is_public(ip);

	G.last_check_ms = ev_now_ms();
	G.ip_checked = true;
	G.proved = true;
	G.flaps = 0;
	if (known != G.ext_known || pub != G.ext_public || (known && strcmp(ip, G.ext_ip) != 0)) {
		if (!known)
			log_warnx("gateway: external IP unknown (the gateway reports none)");
		else
			log_notice("gateway: external IP %s%s", ip, pub ? "" :
				   " is not public: double NAT or CGNAT, nothing is published");
	}
	snprintf(G.ext_ip, sizeof(G.ext_ip), "%s", known ? ip : "");
	G.ext_known = known;
	G.ext_public = pub;
	if (G.hooks.ip_changed)
		G.hooks.ip_changed(known ? ip : NULL, pub);
}

static void gateway_lost(const char *why);

static void state_lost(const char *why)
{
	snprintf(G.remap_why, sizeof(G.remap_why), "%s", why);
	G.todo |= TODO_REMAP;
	ev_timer_arm(G.kick, 0);
}

/* Every answer: one that shows a lost table re-creates every mapping. */
static void check_lost(const struct slot *s, const struct gw_result *r)
{
	char why[80];

	if (!r->state_lost)
		return;
	snprintf(why, sizeof(why), "%s: the gateway lost its mappings", s->be->label);
	state_lost(why);
}

static bool ip_in_flight(void)
{
	for (size_t i = 0; i < G.n_slots; i++)
		if (G.slots[i].ip_req)
			return true;
	return false;
}

static void cancel_ip(void)
{
	for (size_t i = 0; i < G.n_slots; i++) {
		struct slot *s = &G.slots[i];

		if (s->ip_req)
			s->be->cancel(s->ip_req);
		s->ip_req = 0;
	}
	G.ip_again = false;
}

/* Do ask (ASK_*) in ms, on the timer the announcements use: a timer once
 * armed is never pushed back, and what it finds to do is done once. */
static void ask_later(unsigned ask, int64_t ms)
{
	G.ask |= ask;
	hintgap_arm(&G.ask_gap, ms);
}

/* Two protocols of the one gateway name different external IPs: one of
 * them is wrong (or the IP changed between the answers). Publish nothing
 * new; look once more soon, then at the next check. */
static void disagree(const struct slot *a, const struct slot *b)
{
	char why[sizeof(G.error)];

	snprintf(why, sizeof(why), "%s says the external IP is %s, %s says %s: nothing new is "
		 "published until they agree", a->be->label, a->ip, b->be->label, b->ip);
	if (strcmp(why, G.error) != 0)
		log_warnx("gateway %s: %s", G.address, why);
	snprintf(G.error, sizeof(G.error), "%s", why);
	G.disagree = true;
	G.ip_checked = true;
	G.last_check_ms = ev_now_ms();
	if (G.hooks.ip_disputed)
		G.hooks.ip_disputed();
	if (!G.disagree_again && !hintgap_due(&G.ask_gap)) {
		G.disagree_again = true;
		ask_later(ASK_IP, ASK_GAP_MS);
	}
}

static void agree(const char *ip)
{
	if (G.disagree) {
		log_notice("gateway %s: its protocols agree on the external IP again", G.address);
		G.error[0] = '\0';
		G.disagree = false;
	}
	G.disagree_again = false;
	G.ip_tries = 0;
	learn_ip(ip);
}

/* Nothing answered with an IP: the gateway is lost when the protocol that
 * maps had no answer at all. An error answer is asked again soon: a router
 * in the middle of an address change answers "no resources" or "network
 * failure" for a moment. */
static void no_ip(void)
{
	G.ip_checked = true;
	if (G.via && gw_outcome_gone(G.via->ip_outcome))
		gateway_lost(G.via->error[0] ? G.via->error : "no answer");
	else if (G.ip_tries++ < IP_RETRIES)
		ask_later(ASK_IP, IP_RETRY_MS);
}

/* Every protocol of the gateway answered (or failed): judge the round. */
static void ip_round_done(void)
{
	const struct slot *first = NULL, *ok = NULL;

	for (size_t i = 0; i < G.n_slots; i++) {
		const struct slot *s = &G.slots[i];

		if (s->state != SLOT_ANSWERED || s->ip_outcome != GW_OK)
			continue;
		ok = ok ? ok : s;
		if (!s->ip[0])
			continue;          /* "none": miniupnpd with a reserved WAN address */
		if (first && strcmp(first->ip, s->ip) != 0) {
			disagree(first, s);
			return;
		}
		first = first ? first : s;
	}
	if (ok)
		agree(first ? first->ip : "");
	else
		no_ip();
}

static void on_ip(void *arg, const struct gw_result *r)
{
	struct slot *s = arg;

	s->ip_req = 0;
	check_lost(s, r);
	if (r->state_lost && r->outcome == GW_OK && G.ext_known &&
	    strcmp(r->u.ext_ip, G.ext_ip) == 0)
		G.reset_same_ms = ev_now_ms();
	s->ip_outcome = r->outcome;
	snprintf(s->ip, sizeof(s->ip), "%s", r->outcome == GW_OK ? r->u.ext_ip : "");
	if (r->outcome != GW_OK) {
		log_info("gateway: cannot read the external IP over %s: %s", s->be->label, r->error);
		snprintf(s->error, sizeof(s->error), "%s", r->error);
		if (gw_outcome_gone(r->outcome))
			G.trouble = true;
	}
	if (ip_in_flight())
		return;
	ip_round_done();
	if (G.ip_again && G.state == GS_UP) {
		G.ip_again = false;
		check_ip();
	}
}

/* Ask every protocol of the gateway at once: they must agree. */
static void check_ip(void)
{
	bool asked = false;

	if (G.state != GS_UP)
		return;
	if (ip_in_flight()) {
		G.ip_again = true;
		return;
	}
	for (size_t i = 0; i < G.n_slots; i++) {
		struct slot *s = &G.slots[i];

		if (s->state != SLOT_ANSWERED)
			continue;
		s->ip_outcome = GW_GONE;
		s->ip[0] = '\0';
		s->ip_req = s->be->external_ip(on_ip, s);
		asked |= s->ip_req != 0;
	}
	if (!asked)
		G.ip_checked = true;
}

/* ---- timers and deferred work ---------------------------------------- */

static void check_all(void)
{
	check_ip();
	services_verify();
	ev_timer_arm(G.timer, (int64_t)G.conf.check_interval * 1000);
}

/* Lost right after it was found, before a single usable answer: a broken
 * router would have us find and lose it in a tight loop. Back off. */
static void flapped(void)
{
	int64_t delay;

	G.flaps++;
	delay = mapping_backoff_ms(G.flaps, drand48());
	log_warnx("gateway %s fails right after it was found (%s): looking again in %lld s",
		  G.address, G.lost_why, (long long)(delay / 1000));
	services_down(G.lost_why);
	cancel_ip();
	stop_all();
	if (G.hooks.ip_changed)
		G.hooks.ip_changed(NULL, false);
	transition(GS_UNREACHABLE, delay, "%s", G.lost_why);
}

static void do_lost(void)
{
	if (G.state != GS_UP)
		return;
	if (!G.proved) {
		flapped();
		return;
	}
	log_warnx("gateway %s stopped answering (%s): looking for it again", G.address,
		  G.lost_why);
	services_down(G.lost_why);
	transition(GS_SEARCHING, -1, NULL);
	discover();
}

static void on_kick(void *arg)
{
	unsigned todo = G.todo;

	G.todo = 0;
	if (todo & TODO_LOST) {
		do_lost();
		return;          /* a new discovery re-maps everything anyway */
	}
	if ((todo & TODO_REMAP) && G.state == GS_UP) {
		services_remap(G.remap_why);
		check_ip();
	}
}

static void gateway_lost(const char *why)
{
	if (G.state != GS_UP || (G.todo & TODO_LOST))
		return;
	snprintf(G.lost_why, sizeof(G.lost_why), "%s", why && *why ? why : "no answer");
	G.todo |= TODO_LOST;
	ev_timer_arm(G.kick, 0);
}

static void hook_trouble(const char *why)
{
	G.trouble = true;
}

/* ---- announcements: hints that make us ask, rate-limited ------------- */

/* Pinholes cannot be read back: after an announced restart they are
 * deleted and added again, at most once per check_interval, so that
 * spoofed announcements cannot keep them churning. */
static void doubt_pinholes(void)
{
	int64_t now = ev_now_ms();

	if (G.doubted_ms && now - G.doubted_ms < (int64_t)G.conf.check_interval * 1000)
		return;
	G.doubted_ms = now ? now : 1;
	pinhole_doubt_all();
}

static void on_hint_timer(void *arg)
{
	unsigned ask = G.ask;

	G.ask = 0;
	if (G.state != GS_UP)
		return;
	if (ask & ASK_VERIFY) {
		if (log_limit_ok(&G.verify_log, LOG_INFO, "gateway: announced restarts"))
			log_info("gateway %s: %s: verifying mappings%s", G.address, G.hint_what,
				 G.hints > 1 ? " (announced more than once)" : "");
		mapping_verify_all();
		doubt_pinholes();
	}
	G.hints = 0;
	hintgap_ran(&G.ask_gap);
	check_ip();
}

/* Do what the announcements asked, coalesced: once a second at most, and
 * a timer once armed is never pushed back (a flood must not starve it).
 * A restart is looked at after RESTART_SETTLE_MS, when that is the first
 * hint in a while. */
static void schedule(unsigned ask)
{
	int64_t now = ev_now_ms();
	int64_t delay = hintgap_wait(&G.ask_gap);

	/* A router whose address changes resets and announces twice, the old
	 * address first, the new one right after; asked between the two, it
	 * can answer with the reset but the old address. The second
	 * announcement is then worth an ask at once (once in a while: our own
	 * answer showed the reset, but a hostile router could show one in
	 * every answer). */
	if ((ask & ASK_IP) && G.reset_same_ms && now - G.reset_same_ms < ASK_GAP_MS &&
	    hintgap_take(&G.reset_quick)) {
		G.reset_same_ms = 0;
		delay = 0;
		log_debug("gateway: announced again right after an answer with the "
			  "router's reset but its old address: asking at once");
		hintgap_hurry(&G.ask_gap);
	}

	if ((ask & ASK_VERIFY) && delay < RESTART_SETTLE_MS)
		delay = RESTART_SETTLE_MS;
	ask_later(ask, delay);
}

/* What an announcement carries is never trusted: it only makes us ask the
 * gateway itself (its epoch, its table, its external IP). */
static void on_hint(void *arg, enum gw_hint hint, const char *what)
{
	const struct slot *s = arg;

	if (G.state != GS_UP)
		return;
	G.hints++;
	if (log_limit_ok(&G.hint_log, LOG_DEBUG, "gateway: announcements"))
		log_debug("gateway: %s announcement: %s", s->be->label, what);
	switch (hint) {
	case GW_HINT_CHANGED:
		schedule(ASK_IP);
		break;
	case GW_HINT_RESTARTED:
		snprintf(G.hint_what, sizeof(G.hint_what), "%s", what);
		schedule(ASK_VERIFY);
		G.trouble = false;
		break;
	case GW_HINT_ALIVE:
		/* Same boot (a restart within a second?) but it failed us lately:
		 * it came back, look at everything again. */
		if (G.trouble) {
			snprintf(G.hint_what, sizeof(G.hint_what), "announces itself again");
			schedule(ASK_VERIFY);
		}
		G.trouble = false;
		break;
	}
}

/* ---- discovery -------------------------------------------------------- */

static void listen_all(void)
{
	for (size_t i = 0; i < G.n_slots; i++) {
		struct slot *s = &G.slots[i];

		if (s->state == SLOT_ANSWERED && s->be->listen && s->be->listen(on_hint, s) < 0)
			log_info("gateway: not listening for %s announcements", s->be->label);
	}
}

/* The others must answer at the same address, or they are another device. */
static void drop_strangers(void)
{
	for (size_t i = 0; i < G.n_slots; i++) {
		struct slot *s = &G.slots[i];

		if (s == G.via || s->state != SLOT_ANSWERED ||
		    strcmp(s->found.address, G.address) == 0)
			continue;
		log_info("gateway: %s answers at %s, not at the %s gateway %s: not used",
			 s->be->label, s->found.address, G.via->be->label, G.address);
		snprintf(s->error, sizeof(s->error), "answers at %s, not at %s", s->found.address,
			 G.address);
		stop_slot(s);
	}
}

static void mapping_up(void)
{
	struct mapping_gw mg = { .via = G.via->be, .check_interval = G.conf.check_interval };
	size_t n = 0;

	for (size_t i = 0; i < G.n_slots; i++)
		if (G.slots[i].state == SLOT_ANSWERED)
			mg.answering[n++] = G.slots[i].be;
	snprintf(mg.address, sizeof(mg.address), "%s", G.address);
	snprintf(mg.lan_addr, sizeof(mg.lan_addr), "%s", G.lan_address);
	snprintf(mg.locator, sizeof(mg.locator), "%s", G.via->found.locator);
	mapping_gateway_up(&mg);
}

/* Pinholes go through the protocol that maps when it can open them
 * there, else through another answering one that can (gw_pinhole_pick). */
static void pinhole_up(void)
{
	struct pinhole_gw pg = { .check_interval = G.conf.check_interval };
	struct gw_pin_cand c[MAX_SLOTS];
	size_t via = 0;
	int pick;

	for (size_t i = 0; i < G.n_slots; i++) {
		const struct slot *s = &G.slots[i];

		c[i].be = s->state == SLOT_ANSWERED ? s->be : NULL;
		c[i].firewall = s->found.pinholes;
		if (s == G.via)
			via = i;
	}
	pick = gw_pinhole_pick(c, G.n_slots, via);
	if (pick >= 0) {
		const struct slot *s = &G.slots[pick];

		pg.be = s->be;
		pg.has_firewall = s->found.pinholes;
		snprintf(pg.locator, sizeof(pg.locator), "%s", s->found.locator);
		if (s->be != G.via->be && pg.has_firewall)
			log_info("gateway: IPv6 pinholes over %s (%s cannot open them here)",
				 s->be->label, G.via->be->label);
	}
	snprintf(pg.address, sizeof(pg.address), "%s", G.address);
	pinhole_gateway_up(&pg);
}

static void gateway_found(struct slot *via)
{
	G.via = via;
	snprintf(G.address, sizeof(G.address), "%s", via->found.address);
	if (via->found.lan_addr[0])
		snprintf(G.lan_address, sizeof(G.lan_address), "%s", via->found.lan_addr);
	else if (route_source(G.address, G.lan_address, sizeof(G.lan_address)) < 0)
		G.lan_address[0] = '\0';
	drop_strangers();
	G.failures = 0;
	G.proved = false;
	transition(GS_UP, (int64_t)G.conf.check_interval * 1000, NULL);
	log_notice("gateway %s: mapping over %s%s%s%s, LAN address %s", G.address, via->be->label,
		   via->found.locator[0] ? " (" : "", via->found.locator,
		   via->found.locator[0] ? ")" : "", G.lan_address[0] ? G.lan_address : "unknown");
	log_info("gateway: %s: %s", via->be->label, gw_backend_why(via->be, G.conf.protocol));
	listen_all();
	check_ip();              /* every protocol, even one that said it: they must agree */
	mapping_up();
	pinhole_up();
}

static void nothing_found(void)
{
	char why[sizeof(G.error)] = "", *p = why;
	int64_t delay;

	G.failures++;
	delay = mapping_backoff_ms(G.failures, drand48());
	/* No gateway, no external IP coming: the DDNS side stops waiting for
	 * one (--once ends now). Only once per outage: it keeps what it had. */
	if (G.state != GS_RETRYING && G.hooks.ip_changed)
		G.hooks.ip_changed(NULL, false);
	for (size_t i = 0; i < G.n_slots; i++) {
		const struct slot *s = &G.slots[i];

		if (enabled(s->be))
			p += snprintf(p, (size_t)(why + sizeof(why) - p), "%s%s: %s",
				      p == why ? "" : "; ", s->be->label,
				      s->error[0] ? s->error : "no answer");
		if (p >= why + sizeof(why) - 1)
			break;
	}
	log_info("gateway: looking again in %lld s", (long long)(delay / 1000));
	transition(GS_UNREACHABLE, delay, "no gateway answered (%s)", why);
}

static void discovery_done(void)
{
	for (size_t i = 0; i < G.n_slots; i++)
		if (G.slots[i].state == SLOT_ASKING)
			return;
	for (size_t i = 0; i < G.n_slots; i++)
		if (G.slots[i].state == SLOT_ANSWERED) {
			gateway_found(&G.slots[i]);
			return;
		}
	nothing_found();
}

/* A device that answered but is not the gateway: named once an hour. */
static void note_ignored(const char *what)
{
	size_t i, oldest = 0;
	int64_t now = ev_now_ms();

	for (i = 0; i < IGNORED_REMEMBERED; i++) {
		if (strcmp(G.ignored[i].what, what) == 0)
			break;
		if (G.ignored[i].logged_ms < G.ignored[oldest].logged_ms)
			oldest = i;
	}
	if (i == IGNORED_REMEMBERED) {
		i = oldest;
		snprintf(G.ignored[i].what, sizeof(G.ignored[i].what), "%s", what);
		G.ignored[i].logged_ms = 0;
	}
	if (G.ignored[i].logged_ms && now - G.ignored[i].logged_ms < IGNORED_RELOG_MS)
		return;
	G.ignored[i].logged_ms = now ? now : 1;
	log_warnx("gateway: ignoring %s: not the default gateway %s", what,
		  G.trusted[0] ? G.trusted : "(none)");
}

static void on_discover(void *arg, const struct gw_result *r)
{
	struct slot *s = arg;
	char what[300];

	s->req = 0;
	if (!gw_trust(s->be, r, G.trusted, G.conf.upnp_url, note_ignored, s->error,
		      sizeof(s->error))) {
		stop_slot(s);
	} else if (r->outcome == GW_OK) {
		s->state = SLOT_ANSWERED;
		s->found = r->u.found;
		s->be->describe(what, sizeof(what));
		log_info("gateway: %s %s", s->be->label, what);
	} else {
		snprintf(s->error, sizeof(s->error), "%s", r->error[0] ? r->error : "no answer");
		log_info("gateway: %s: %s", s->be->label, s->error);
		stop_slot(s);
	}
	discovery_done();
}

static void ask(struct slot *s)
{
	struct addr6_self self;
	struct gw_setup setup = {
		.gateway = G.trusted[0] ? G.trusted : NULL, .url = G.conf.upnp_url,
		.ifname = G.conf.interface ? G.conf.interface : G.lan_if[0] ? G.lan_if : NULL,
	};

	/* the IPv6 gateway is this host's IPv6 default router (SPEC) */
	addr6_get_self(&self);
	if (self.have && self.router[0]) {
		setup.addr6 = self.address;
		setup.router6 = self.router;
		setup.scope6 = (unsigned)self.ifindex;
	}

	s->error[0] = '\0';
	memset(&s->found, 0, sizeof(s->found));
	if (!enabled(s->be))
		return;
	if (s->be->start(&setup, s->error, sizeof(s->error)) < 0)
		return;
	s->state = SLOT_ASKING;
	s->req = s->be->discover(on_discover, s);
	if (!s->req) {
		snprintf(s->error, sizeof(s->error), "cannot start discovery");
		stop_slot(s);
	}
}

/* The default router of the LAN interface in use (rtnetlink), the one
 * gateway we trust. */
static void find_trusted(void)
{
	char err[160];

	if (route_default_gw(G.conf.interface, G.trusted, G.lan_if, err, sizeof(err)) == 0)
		return;
	G.trusted[0] = G.lan_if[0] = '\0';
	log_info("gateway: %s", err);
}

static void discover(void)
{
	if (G.state == GS_STOPPING || G.state == GS_IDLE)
		return;
	cancel_ip();
	stop_all();
	hintgap_disarm(&G.ask_gap);
	G.ask = G.ip_tries = 0;
	G.disagree = G.disagree_again = false;
	find_trusted();
	for (size_t i = 0; i < G.n_slots; i++)
		ask(&G.slots[i]);
	log_info("gateway: looking for the gateway %s%s%s", G.trusted[0] ? G.trusted : "(none)",
		 G.conf.upnp_url ? ", UPnP at " : "", G.conf.upnp_url ? G.conf.upnp_url : "");
	discovery_done();
}

static void shutdown_finish(void *arg)
{
	void (*done)(void *) = G.done;

	if (arg && --G.stopping_parts > 0)
		return;            /* the mappings or the pinholes are still going */
	ev_timer_disarm(G.timer);
	G.done = NULL;
	if (done)
		done(G.done_arg);
}

static void on_timer(void *arg)
{
	switch (G.state) {
	case GS_UP:
		check_all();
		break;
	case GS_UNREACHABLE:
		transition(GS_RETRYING, -1, "%s", G.error);
		discover();
		break;
	case GS_STOPPING:
		log_warnx("gateway: no answer while deleting mappings: leaving the rest in place");
		shutdown_finish(NULL);
		break;
	default:
		break;
	}
}

/* ---- public ----------------------------------------------------------- */

int gateway_init(const struct hp_config *cfg, const struct gateway_hooks *hooks)
{
	static const struct mapping_hooks mhooks = {
		.gateway_lost = gateway_lost,
		.gateway_trouble = hook_trouble,
		.state_lost = state_lost,
	};

	memset(&G, 0, sizeof(G));
	if (hooks)
		G.hooks = *hooks;
	conf_copy(&G.conf, &cfg->gateway);
	for (const struct gw_backend *const *b = gw_backends; *b && G.n_slots < MAX_SLOTS; b++)
		G.slots[G.n_slots++].be = *b;
	G.timer = ev_timer_new(on_timer, NULL);
	G.kick = ev_timer_new(on_kick, NULL);
	hintgap_init(&G.ask_gap, ASK_GAP_MS, on_hint_timer, NULL);
	hintgap_init(&G.reset_quick, RESET_QUICK_GAP_MS, NULL, NULL);
	mapping_set_hooks(&mhooks);
	G.state = GS_IDLE;
	if (G.conf.protocol == GW_PREF_NONE) {
		transition(GS_OFF, -1, NULL);
		return 0;
	}
	transition(GS_SEARCHING, -1, NULL);
	discover();
	return 0;
}

/* protocol = none: stop asking the router anything. Mappings made before
 * stay on it until their leases run out. */
static void go_off(void)
{
	log_notice("gateway: protocol = none: the router is asked nothing");
	cancel_ip();
	stop_all();
	ev_timer_disarm(G.kick);
	hintgap_disarm(&G.ask_gap);
	G.todo = 0;
	G.ext_known = G.ext_public = false;
	G.ext_ip[0] = '\0';
	G.address[0] = G.lan_address[0] = '\0';
	mapping_gateway_down("protocol = none");
	transition(GS_OFF, -1, NULL);
}

void gateway_apply_config(const struct hp_config *cfg)
{
	bool rediscover = conf_rediscover(&G.conf, &cfg->gateway);
	uint32_t old_check = G.conf.check_interval;

	if (G.state == GS_IDLE || G.state == GS_STOPPING)
		return;
	mapping_apply_config(cfg);
	pinhole_apply_config(cfg);
	conf_copy(&G.conf, &cfg->gateway);
	if (rediscover && G.conf.protocol == GW_PREF_NONE) {
		go_off();
	} else if (rediscover) {
		log_notice("gateway: [gateway] changed, looking for the gateway again");
		services_down("configuration changed");
		transition(GS_SEARCHING, -1, NULL);
		discover();
	} else if (old_check != G.conf.check_interval && G.state == GS_UP) {
		ev_timer_arm(G.timer, (int64_t)G.conf.check_interval * 1000);
	}
}

void gateway_refresh(void)
{
	ipsource_refresh();
	if (G.state == GS_UNREACHABLE) {
		transition(GS_RETRYING, -1, "%s", G.error);
		discover();
	} else if (G.state == GS_UP) {
		check_all();
	}
}

void gateway_shutdown(void (*done)(void *arg), void *arg)
{
	bool keep = G.conf.keep_mappings || G.state != GS_UP;

	if (G.state == GS_IDLE || G.state == GS_STOPPING) {
		if (done && G.state == GS_IDLE)
			done(arg);
		return;
	}
	G.done = done;
	G.done_arg = arg;
	cancel_ip();
	ev_timer_disarm(G.kick);
	hintgap_disarm(&G.ask_gap);
	G.todo = 0;
	for (size_t i = 0; i < G.n_slots; i++)
		if (G.slots[i].state == SLOT_ASKING)
			stop_slot(&G.slots[i]);
	transition(GS_STOPPING, SHUTDOWN_MS, "%s", G.error);
	if (G.conf.keep_mappings)
		log_info("gateway: keep_mappings: leaving the mappings on the router");
	G.stopping_parts = 2;
	mapping_shutdown(keep, shutdown_finish, &G);
	pinhole_shutdown(keep, shutdown_finish, &G);
}

void gateway_fini(void)
{
	cancel_ip();
	stop_all();
	ev_timer_free(G.timer);
	ev_timer_free(G.kick);
	hintgap_fini(&G.ask_gap);
	conf_free(&G.conf);
	memset(&G, 0, sizeof(G));
}

json_t *gateway_status_json(void)
{
	json_t *o = json_object();
	bool ok = G.state == GS_UP;

	json_object_set_new(o, "state", json_string(status_names[G.state]));
	json_object_set_new(o, "protocol", ok && G.via ? json_string(G.via->be->name) : json_null());
	json_object_set_new(o, "address", ok ? json_string_or_null(G.address) : json_null());
	json_object_set_new(o, "lan_address", ok ? json_string_or_null(G.lan_address) : json_null());
	json_object_set_new(o, "external_ip", G.ext_known ? json_string(G.ext_ip) : json_null());
	json_object_set_new(o, "external_ip_public",
			    G.ext_known ? json_boolean(G.ext_public) : json_null());
	json_object_set_new(o, "last_check_ago", G.last_check_ms ?
			    json_integer((ev_now_ms() - G.last_check_ms) / 1000) : json_null());
	json_object_set_new(o, "error", json_string_or_null(G.error));
	ipsource_status(o);
	json_object_set_new(o, "ipv6", pinhole_gateway_json());
	return o;
}

bool gateway_once_done(bool *all_ok)
{
	bool maps_ok = false, done;

	if (all_ok)
		*all_ok = false;
	if (G.state == GS_UNREACHABLE || G.state == GS_RETRYING)
		return true;
	if (G.state != GS_UP && G.state != GS_OFF)
		return false;
	if (G.state == GS_UP && !G.ip_checked)
		return false;
	done = mapping_once_done(&maps_ok);
	if (done)
		done = pinhole_once_done(NULL);
	if (all_ok)
		*all_ok = done && maps_ok;
	return done;
}
