/* probe.c - homeportd --probe (probe.h): every protocol of the backend
 * table asked at once, as discovery does, then its external IP; when the
 * router is not the source of the external IP (none answered, protocol =
 * none, ip_source says otherwise), the source the daemon would use
 * (ipsource.h). The answers printed as text or JSON. Changes nothing on
 * the router. */
#include <stdio.h>
#include <string.h>

#include "addr6.h"
#include "ev.h"
#include "gw_backend.h"
#include "helper_proc.h"
#include "homeport.h"
#include "http.h"
#include "ipsource.h"
#include "log.h"
#include "probe.h"
#include "route.h"
#include "util.h"

#define PROBE_LIMIT_MS 15000
#define MAX_PROBES 8

struct probe {
	const struct gw_backend *be;
	bool started, ok;
	struct gw_found found;
	char ext_ip[GW_ADDR_LEN];
	char error[GW_ERROR_LEN + 16];
};

static struct {
	struct probe p[MAX_PROBES];
	size_t n;
	int pending;
	char trusted[INET_ADDRSTRLEN];     /* the default router, "" if none */
	char lan_if[IF_NAMESIZE];
	char route_err[160];
	const char *url;                   /* upnp_url */
	char ignored[MAX_PROBES * GW_IGNORED_MAX][GW_IGNORED_LEN];
	size_t n_ignored;
	bool other_source;                 /* the IP comes from the web or an interface */
	char src_ip[INET_ADDRSTRLEN];
	char src_text[1200];
	bool ipv6;                         /* this host's IPv6 addresses are read (addr6) */
	char note[300];
} P;

static void ignore(const char *what)
{
	for (size_t i = 0; i < P.n_ignored; i++)
		if (strcmp(P.ignored[i], what) == 0)
			return;
	if (P.n_ignored < HP_ARRAY_LEN(P.ignored))
		snprintf(P.ignored[P.n_ignored++], sizeof(P.ignored[0]), "%s", what);
}


static void step_done(void)
{
	if (--P.pending <= 0)
		ev_break();
}

static void on_ip(void *arg, const struct gw_result *r)
{
	struct probe *p = arg;

	if (r->outcome == GW_OK)
		snprintf(p->ext_ip, sizeof(p->ext_ip), "%s", r->u.ext_ip);
	else
		snprintf(p->error, sizeof(p->error), "external IP: %s", r->error);
	step_done();
}

static void on_discover(void *arg, const struct gw_result *r)
{
	struct probe *p = arg;

	if (!gw_trust(p->be, r, P.trusted, P.url, ignore, p->error, sizeof(p->error))) {
		step_done();
		return;
	}
	if (r->outcome != GW_OK) {
		snprintf(p->error, sizeof(p->error), "%s", r->error[0] ? r->error : "no answer");
		step_done();
		return;
	}
	p->ok = true;
	p->found = r->u.found;
	snprintf(p->ext_ip, sizeof(p->ext_ip), "%s", p->found.ext_ip);
	if (p->ext_ip[0] || !p->be->external_ip(on_ip, p))
		step_done();
}

static void ask(struct probe *p, const struct hp_config *cfg)
{
	const struct cfg_gateway *g = &cfg->gateway;
	struct gw_setup setup = {
		.gateway = P.trusted[0] ? P.trusted : NULL, .url = P.url,
		.ifname = g->interface && *g->interface ? g->interface :
			P.lan_if[0] ? P.lan_if : NULL,
	};

	if (p->be->start(&setup, p->error, sizeof(p->error)) < 0)
		return;
	p->started = true;
	if (p->be->discover(on_discover, p))
		P.pending++;
	else
		snprintf(p->error, sizeof(p->error), "cannot start discovery");
}

static void on_limit(void *arg)
{
	ev_break();
}

static void run(const struct hp_config *cfg)
{
	struct ev_timer *limit;

	const char *ifname = cfg->gateway.interface && *cfg->gateway.interface ?
		cfg->gateway.interface : NULL;

	memset(&P, 0, sizeof(P));
	P.url = cfg->gateway.upnp_url && *cfg->gateway.upnp_url ? cfg->gateway.upnp_url : NULL;
	if (route_default_gw(ifname, P.trusted, P.lan_if, P.route_err, sizeof(P.route_err)) < 0)
		P.trusted[0] = '\0';
	for (const struct gw_backend *const *b = gw_backends; *b && P.n < MAX_PROBES; b++) {
		P.p[P.n].be = *b;
		ask(&P.p[P.n++], cfg);
	}
	limit = ev_timer_new(on_limit, NULL);
	ev_timer_arm(limit, PROBE_LIMIT_MS);
	if (P.pending > 0)
		ev_run();
	ev_timer_free(limit);
}

/* The gateway: the first protocol that answered, in table order, among
 * those [gateway] protocol allows (as the daemon picks). */
static const struct probe *gateway(enum gw_protocol_pref pref)
{
	for (size_t i = 0; i < P.n; i++)
		if (P.p[i].ok && (pref == GW_PREF_AUTO || pref == P.p[i].be->pref))
			return &P.p[i];
	return NULL;
}

/* The external IP: from a protocol with an epoch first, as the daemon asks. */
static const char *external_ip(void)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < P.n; i++) {
			const struct probe *p = &P.p[i];

			if (((p->be->caps & GW_CAP_EPOCH) != 0) == (pass == 0) && p->ext_ip[0])
				return p->ext_ip;
		}
	return "";
}

static const char *verdict(const char *ip)
{
	if (!*ip)
		return "unknown";
	return ipv4_str_is_public(ip) ? "public" : "double_nat";
}

static json_t *ignored_json(void)
{
	json_t *a = json_array();

	for (size_t i = 0; i < P.n_ignored; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "what", P.ignored[i],
						   "reason", "not the default gateway"));
	return a;
}

static void print_json(const struct probe *g, enum gw_protocol_pref pref, const char *lan,
		       const char *ip)
{
	const char *gw = g ? g->found.address : "";
	json_t *o = json_object();

	if (P.other_source)
		json_object_set_new(o, "ip_source_detail", json_string(P.src_text));
	for (size_t i = 0; i < P.n; i++) {
		const struct probe *p = &P.p[i];
		json_t *b = json_object();

		json_object_set_new(b, "ok", json_boolean(p->ok));
		p->be->probe_json(b, p->ok);
		json_object_set_new(b, "external_ip", json_string_or_null(p->ext_ip));
		json_object_set_new(b, "error", json_string_or_null(p->error));
		json_object_set_new(o, p->be->name, b);
	}
	json_object_set_new(o, "gateway", json_string_or_null(gw));
	json_object_set_new(o, "protocol", g ? json_string(g->be->name) : json_null());
	json_object_set_new(o, "protocol_reason", g ? json_string(gw_backend_why(g->be, pref)) :
			    json_null());
	json_object_set_new(o, "default_gateway", json_string_or_null(P.trusted));
	json_object_set_new(o, "ignored", ignored_json());
	json_object_set_new(o, "lan_address", json_string_or_null(lan));
	json_object_set_new(o, "external_ip", json_string_or_null(ip));
	json_object_set_new(o, "external_ip_public", *ip ? json_boolean(ipv4_str_is_public(ip)) :
			    json_null());
	json_object_set_new(o, "verdict", json_string(verdict(ip)));
	json_object_set_new(o, "ipv6", P.ipv6 ? addr6_probe_json() : json_null());
	json_object_set_new(o, "note", json_string_or_null(P.note));
	json_dumpf(o, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(o);
}

static void print_text(const struct probe *g, enum gw_protocol_pref pref, const char *lan,
		       const char *ip)
{
	const char *gw = g ? g->found.address : "";
	char label[32], what[400];

	for (size_t i = 0; i < P.n; i++) {
		const struct probe *p = &P.p[i];

		snprintf(label, sizeof(label), "%s:", p->be->label);
		if (!p->ok) {
			printf("%-12s no answer (%s)\n", label, p->error);
			continue;
		}
		p->be->describe(what, sizeof(what));
		printf("%-12s %s%s%s\n", label, what, p->ext_ip[0] ? ", external IP " : "",
		       p->ext_ip);
	}
	for (size_t i = 0; i < P.n_ignored; i++)
		printf("ignored:     %s: not the default gateway\n", P.ignored[i]);
	if (!P.n)
		printf("gateway:     not asked (protocol = none)\n");
	else if (P.trusted[0])
		printf("default gateway: %s (the only one trusted%s)\n", P.trusted,
		       P.url ? ", and upnp_url" : "");
	else
		printf("default gateway: none (%s)\n", P.route_err);
	if (P.n)
		printf("gateway:     %s\n", *gw ? gw : "none found");
	if (g)
		printf("mapping:     over %s (%s)\n", g->be->label, gw_backend_why(g->be, pref));
	printf("LAN address: %s\n", *lan ? lan : "unknown");
	if (P.other_source)
		printf("IP source:   %s\n", P.src_text);
	if (!*ip)
		printf("external IP: unknown\n");
	else if (ipv4_str_is_public(ip))
		printf("external IP: %s (public)\n", ip);
	else
		printf("external IP: %s (not public: double NAT or CGNAT; DDNS entries would be "
		       "blocked)\n", ip);
	if (P.ipv6)
		addr6_probe_print(stdout);
	if (P.note[0])
		printf("%s\n", P.note);
}

/* With a non-public IPv4 and a public IPv6 address: one sentence. */
static void make_note(const char *ip)
{
	struct addr6_self self;

	P.note[0] = '\0';
	if (!P.ipv6 || !*ip || ipv4_str_is_public(ip))
		return;
	addr6_get_self(&self);
	if (self.have)
		ipv4_blocked_sentence(P.note, sizeof(P.note), ip, self.address);
}

int probe_run(const struct hp_config *cfg, bool json)
{
	char lan[INET_ADDRSTRLEN] = "";
	enum gw_protocol_pref pref = cfg->gateway.protocol;
	const struct probe *g;
	const char *ip;
	bool ipv6;

	if (ev_init() < 0)
		return HP_EXIT_FAIL;
	ipv6 = cfg->gateway.ipv6 && addr6_init(cfg) == 0;
	memset(&P, 0, sizeof(P));          /* run() sets it up again when it runs */
	if (cfg->gateway.protocol != GW_PREF_NONE)
		run(cfg);
	P.ipv6 = ipv6;
	g = gateway(pref);
	if (g) {
		if (g->found.lan_addr[0])
			snprintf(lan, sizeof(lan), "%s", g->found.lan_addr);
		else if (route_source(g->found.address, lan, sizeof(lan)) < 0)
			lan[0] = '\0';
	}
	P.other_source = ipsource_probe(cfg, *external_ip() != '\0', P.src_ip, sizeof(P.src_ip),
					P.src_text, sizeof(P.src_text));
	ip = P.other_source ? P.src_ip : external_ip();
	make_note(ip);
	if (json)
		print_json(g, pref, lan, ip);
	else
		print_text(g, pref, lan, ip);
	fflush(stdout);
	for (size_t i = 0; i < P.n; i++)
		if (P.p[i].started)
			P.p[i].be->stop();
	http_fini();
	helper_proc_reap_all();
	if (P.ipv6)
		addr6_fini();
	ev_fini();
	return g || (P.other_source && *ip) ? HP_EXIT_OK : HP_EXIT_UNAVAILABLE;
}
