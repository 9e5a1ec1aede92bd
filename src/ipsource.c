/* ipsource.c - which source the external IPv4 comes from, and handing its
 * address on to the DDNS side.
 *
 * States: none (nothing chosen yet), gateway (the router's answers, from
 * gateway.c), web (ipweb.c) and interface (ipif.c). use() is the one
 * transition: it logs old -> new, stops the old source and starts the new
 * one. With ip_source = auto the router is the source while it reports an
 * address; once it reports none (it stopped answering, none answered at
 * all, or protocol = none asks it nothing) the web sources are, until the
 * router reports an address again. A router whose protocols name different
 * addresses still answers: it stays (or becomes) the source and nothing new
 * is handed on (gateway.c's rule), the web does not outvote it. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "ipif.h"
#include "ipsource.h"
#include "ipweb.h"
#include "log.h"
#include "util.h"

#define TEXT_LEN 1100
#define PROBE_LIMIT_MS 40000       /* a round of web sources, each within its timeout */

enum src { SRC_NONE, SRC_GATEWAY, SRC_WEB, SRC_INTERFACE };

/* SPEC "Status": gateway.ip_source */
static const char *const src_names[] = {
	[SRC_NONE] = "none", [SRC_GATEWAY] = "gateway", [SRC_WEB] = "web",
	[SRC_INTERFACE] = "interface",
};

struct addr {
	bool known;
	char ip[INET_ADDRSTRLEN];
};

static struct {
	struct ipsource_hooks hooks;
	/* own copy of the settings: the config is freed after apply */
	enum ip_source mode;
	bool no_protocol;
	char *ifname;
	char **urls;
	size_t n_urls;
	char *ca_file;
	bool allow_http;
	uint32_t check_interval;

	enum src active;
	struct addr gw;                /* what the router reports */
	bool gw_heard;                 /* the router has reported (an address or none) */
	bool gw_disputed;              /* its protocols disagree: hand nothing new on */
	struct addr src;               /* what the web or the interface says */
	char src_error[TEXT_LEN];      /* why that source gives none (new) */
	struct addr out;               /* handed on */
	bool out_sent;
} S;

static void on_source(void *arg, const char *ip, const char *error);

static void set_addr(struct addr *a, const char *ip)
{
	a->known = ip && *ip;
	snprintf(a->ip, sizeof(a->ip), "%s", a->known ? ip : "");
}

/* Hand the address on when it (or its being known) changed. */
static void hand_on(const struct addr *a)
{
	if (S.out_sent && a->known == S.out.known && strcmp(a->ip, S.out.ip) == 0)
		return;
	void (*hook)(const char *, bool) = S.hooks.ip_changed;

	S.out = *a;
	S.out_sent = true;
	if (hook)
		hook(a->known ? a->ip : NULL, a->known && ipv4_str_is_public(a->ip));
}

static enum src wanted(void)
{
	switch (S.mode) {
	case IPSRC_GATEWAY:
		return SRC_GATEWAY;
	case IPSRC_WEB:
		return SRC_WEB;
	case IPSRC_INTERFACE:
		return SRC_INTERFACE;
	case IPSRC_AUTO:
		break;
	}
	if (S.no_protocol || (S.gw_heard && !S.gw.known && !S.gw_disputed))
		return SRC_WEB;
	return SRC_GATEWAY;           /* it answers, or we still wait for its first word */
}

static void start_web(void)
{
	struct ipweb_setup su = {
		.urls = (const char *const *)S.urls, .n_urls = S.n_urls, .ca_file = S.ca_file,
		.allow_http = S.allow_http, .check_interval = S.check_interval,
	};

	ipweb_start(&su, on_source, NULL);
}

static void start(enum src s)
{
	S.src.known = false;
	S.src_error[0] = '\0';
	if (s == SRC_WEB)
		start_web();
	else if (s == SRC_INTERFACE && ipif_start(S.ifname, on_source, NULL) < 0)
		snprintf(S.src_error, sizeof(S.src_error),
			 "cannot follow the addresses of %s (netlink)", S.ifname);
}

static void stop(enum src s)
{
	if (s == SRC_WEB)
		ipweb_stop();
	else if (s == SRC_INTERFACE)
		ipif_stop();
}

/* The one transition. */
static void use(enum src to, const char *why)
{
	if (S.active == to)
		return;
	log_notice("external IP source: %s -> %s (%s)", src_names[S.active], src_names[to], why);
	stop(S.active);
	S.active = to;
	start(to);
	/* Each source is handed on once it said something: the DDNS side keeps
	 * what it had until then (and --once waits for it). */
	if (to == SRC_GATEWAY && S.gw_heard && !S.gw_disputed)
		hand_on(&S.gw);
}

static const char *why_wanted(void)
{
	if (S.mode != IPSRC_AUTO)
		return "ip_source";
	if (S.no_protocol)
		return "protocol = none";
	if (!S.gw_heard)
		return "waiting for the router";
	if (S.gw_disputed)
		return "the router's protocols disagree";
	return S.gw.known ? "the gateway answers" : "no mapping protocol answered";
}

/* The web or the interface: an address (or none, and why). */
static void on_source(void *arg, const char *ip, const char *error)
{
	set_addr(&S.src, ip);
	snprintf(S.src_error, sizeof(S.src_error), "%s", error ? error : "");
	if (S.active == SRC_WEB || S.active == SRC_INTERFACE)
		hand_on(&S.src);
}

void ipsource_gateway_ip(const char *ip, bool is_public)
{
	set_addr(&S.gw, ip);
	S.gw_heard = true;
	S.gw_disputed = false;
	use(wanted(), why_wanted());
	if (S.active == SRC_GATEWAY)
		hand_on(&S.gw);
}

void ipsource_gateway_disputed(void)
{
	S.gw_heard = true;
	S.gw_disputed = true;
	use(wanted(), why_wanted());
}

/* ---- set-up ---- */

static void free_settings(void)
{
	for (size_t i = 0; i < S.n_urls; i++)
		free(S.urls[i]);
	free(S.urls);
	free(S.ifname);
	free(S.ca_file);
	S.urls = NULL;
	S.n_urls = 0;
	S.ifname = S.ca_file = NULL;
}

static void copy_settings(const struct cfg_gateway *g)
{
	free_settings();
	S.mode = g->ip_source;
	S.no_protocol = g->protocol == GW_PREF_NONE;
	S.ifname = g->ip_source_if ? xstrdup(g->ip_source_if) : NULL;
	S.urls = xcalloc(g->n_check_urls, sizeof(*S.urls));
	for (size_t i = 0; i < g->n_check_urls; i++)
		S.urls[i] = xstrdup(g->check_urls[i]);
	S.n_urls = g->n_check_urls;
	S.ca_file = g->ca_path ? xstrdup(g->ca_path) : NULL;
	S.allow_http = g->allow_http;
	S.check_interval = g->check_interval;
}

int ipsource_init(const struct hp_config *cfg, const struct ipsource_hooks *hooks)
{
	S.hooks = *hooks;
	copy_settings(&cfg->gateway);
	use(wanted(), why_wanted());
	return 0;
}

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Whether the web sources must be set up again for g. */
static bool web_changed(const struct cfg_gateway *g)
{
	if (g->n_check_urls != S.n_urls || !str_same(g->ca_path, S.ca_file) ||
	    g->allow_http != S.allow_http || g->check_interval != S.check_interval)
		return true;
	for (size_t i = 0; i < S.n_urls; i++)
		if (strcmp(g->check_urls[i], S.urls[i]) != 0)
			return true;
	return false;
}

void ipsource_apply_config(const struct hp_config *cfg)
{
	bool redo_web = web_changed(&cfg->gateway);
	bool redo_if = !str_same(S.ifname, cfg->gateway.ip_source_if);

	copy_settings(&cfg->gateway);
	if (S.no_protocol) {          /* what the router said before counts no more */
		S.gw_heard = S.gw_disputed = false;
		set_addr(&S.gw, NULL);
	}
	if (S.active == SRC_WEB && wanted() == SRC_WEB && redo_web)
		start_web();              /* the sources keep their pacing */
	else if (S.active == SRC_INTERFACE && wanted() == SRC_INTERFACE && redo_if)
		start(SRC_INTERFACE);
	use(wanted(), why_wanted());
}

void ipsource_fini(void)
{
	stop(S.active);
	ipweb_fini();
	free_settings();
	memset(&S, 0, sizeof(S));
}

void ipsource_refresh(void)
{
	if (S.active == SRC_WEB)
		ipweb_refresh();
}

const char *ipsource_ip(void)
{
	return S.out.known ? S.out.ip : NULL;
}

/* ---- status ---- */

void ipsource_describe(char *buf, size_t len)
{
	char text[TEXT_LEN];
	const char *prefix = "";

	switch (S.active) {
	case SRC_WEB:
		ipweb_describe(text, sizeof(text));
		if (S.mode == IPSRC_AUTO)
			prefix = S.no_protocol ? "protocol = none, the router is not asked; " :
				 "no mapping protocol answered; ";
		break;
	case SRC_INTERFACE:
		if (S.src_error[0])
			snprintf(text, sizeof(text), "%s", S.src_error);
		else
			ipif_describe(text, sizeof(text));
		break;
	case SRC_GATEWAY:
		snprintf(text, sizeof(text), "%s", S.gw_disputed ?
			 "the gateway's protocols disagree on the external IP" :
			 S.gw.known ? "external IP from the gateway" : "waiting for the gateway");
		break;
	case SRC_NONE:
		snprintf(text, sizeof(text), "no source chosen yet");
		break;
	}
	snprintf(buf, len, "%s%s", prefix, text);
}

void ipsource_status(json_t *gw)
{
	char text[TEXT_LEN];

	json_object_set_new(gw, "ip_source", S.active == SRC_NONE ? json_null() :
			    json_string(src_names[S.active]));
	ipsource_describe(text, sizeof(text));
	json_object_set_new(gw, "ip_source_detail", json_string(text));
	if (S.active == SRC_GATEWAY || S.active == SRC_NONE)
		return;
	json_object_set_new(gw, "external_ip", json_string_or_null(S.src.known ? S.src.ip : NULL));
	json_object_set_new(gw, "external_ip_public", S.src.known ?
			    json_boolean(ipv4_str_is_public(S.src.ip)) : json_null());
	if (S.src_error[0])
		json_object_set_new(gw, "error", json_string(S.src_error));
	else if (S.no_protocol || S.mode != IPSRC_AUTO)
		json_object_set_new(gw, "error", json_null());
	if (S.active == SRC_WEB)
		json_object_set_new(gw, "web_sources", ipweb_status_json());
}

/* ---- --probe ---- */

static void probe_heard(const char *ip, bool is_public)
{
	ev_break();
}

static void probe_limit(void *arg)
{
	ev_break();
}

bool ipsource_probe(const struct hp_config *cfg, bool router_ip, char *ip, size_t iplen,
		    char *text, size_t textlen)
{
	struct ev_timer *limit;

	memset(&S, 0, sizeof(S));
	S.hooks.ip_changed = probe_heard;
	copy_settings(&cfg->gateway);
	S.gw_heard = true;
	S.gw.known = router_ip;
	if (wanted() == SRC_GATEWAY) {
		free_settings();
		return false;
	}
	use(wanted(), why_wanted());
	limit = ev_timer_new(probe_limit, NULL);
	ev_timer_arm(limit, PROBE_LIMIT_MS);
	ev_run();
	ev_timer_free(limit);
	snprintf(ip, iplen, "%s", S.src.known ? S.src.ip : "");
	ipsource_describe(text, textlen);
	ipsource_fini();
	return true;
}
