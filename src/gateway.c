/* gateway.c - finds the gateway and the protocol to map with, tracks its
 * external IP (public or behind another NAT) and notices when it lost its
 * state, so that mapping.c can re-create every mapping.
 *
 * Discovery asks UPnP (upnp_url, else SSDP) and NAT-PMP in parallel, as
 * [gateway] protocol allows. Mappings go over UPnP when it answers, since
 * only UPnP can map for other LAN hosts; NAT-PMP, when it answers too, is
 * still used to read the external IP (one small datagram) and for its
 * epoch and announcements. A router that restarted is noticed by:
 *   - a NAT-PMP epoch going backwards (RFC 6886 3.6), on every answer;
 *   - a new BOOTID.UPNP.ORG in the gateway's SSDP NOTIFY (miniupnpd sends
 *     a burst when it starts; a unicast M-SEARCH learns the first one);
 *   - a UPnP mapping gone at verification (mapping.c).
 * IP changes arrive through the NAT-PMP announcements on 224.0.0.1:5350;
 * each one makes us ask the gateway at once (miniupnpd's first
 * announcement after a change may carry the old address). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "ddns.h"
#include "ev.h"
#include "event.h"
#include "gateway.h"
#include "gw_natpmp.h"
#include "gw_upnp.h"
#include "homeport.h"
#include "log.h"
#include "mapping.h"
#include "util.h"

#define UPNP_DEADLINE_MS 6000      /* SSDP alone takes 2 s */
#define NATPMP_DEADLINE_MS 2000
#define SHUTDOWN_MS 3500           /* gateway.h promises done within 4 s */
#define RESTART_SETTLE_MS 300      /* let a restarted router open its HTTP port */
#define SSDP_PORT 1900

enum gw_state { GW_SEARCHING, GW_OK, GW_UNREACHABLE };

static const char *const gw_state_names[] = {
	[GW_SEARCHING] = "searching", [GW_OK] = "ok", [GW_UNREACHABLE] = "unreachable",
};

struct gw_conf {                   /* own copy: the config is freed after apply */
	enum gw_protocol_pref protocol;
	char *upnp_url;
	char *interface;
	uint32_t check_interval;
	bool keep_mappings;
};

static struct {
	bool inited, stopping;
	struct gw_conf conf;
	enum gw_state state;
	char error[256];
	enum map_via via;
	unsigned failures;             /* discoveries failed in a row */
	unsigned flaps;                /* found, then lost before anything worked */
	bool proved;                   /* an answer was usable since it was found */

	/* discovery in flight */
	uint64_t upnp_req, np_req;
	int pending;
	bool upnp_ok, natpmp_ok;
	char upnp_err[160], natpmp_err[160];
	struct upnp_igd igd;
	char np_ip[INET_ADDRSTRLEN];

	char address[INET_ADDRSTRLEN], lan_address[INET_ADDRSTRLEN];

	/* external IP */
	char ext_ip[INET_ADDRSTRLEN];
	bool ext_known, ext_public, ip_checked, ip_again;
	uint64_t ip_req;
	bool ip_req_upnp;
	int64_t last_check_ms;

	/* NAT-PMP epoch */
	bool have_epoch;
	uint32_t epoch;
	int64_t epoch_ms;

	/* SSDP NOTIFY listener */
	int ssdp_fd;
	struct in_addr ssdp_from;
	bool have_bootid;
	unsigned long bootid;
	bool trouble;                  /* a request failed since the last alive */

	char lost_why[200], remap_why[200];
	struct ev_timer *check_timer, *retry_timer, *lost_timer, *remap_timer,
		*restart_timer, *shutdown_timer;
	void (*done)(void *arg);
	void *done_arg;
} G = { .ssdp_fd = -1 };

static void discover(void);
static void check_ip(void);

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

static const char *via_name(enum map_via v)
{
	return v == MAP_VIA_UPNP ? "upnp" : v == MAP_VIA_NATPMP ? "natpmp" : NULL;
}

static void set_state(enum gw_state s, const char *fmt, ...) HP_PRINTF(2, 3);
static void set_state(enum gw_state s, const char *fmt, ...)
{
	char err[sizeof(G.error)] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(err, sizeof(err), fmt, ap);
		va_end(ap);
	}
	if (G.state != s)
		log_msg(s == GW_OK ? LOG_NOTICE : s == GW_UNREACHABLE ? LOG_WARNING : LOG_INFO,
			"gateway: %s -> %s%s%s", gw_state_names[G.state], gw_state_names[s],
			*err ? ": " : "", err);
	if (s != GW_SEARCHING)
		event_gateway(s == GW_OK, G.address, err);
	G.state = s;
	memcpy(G.error, err, sizeof(err));
}

/* Our address on the route towards addr: connect() a UDP socket (sends nothing). */
static int route_source(const char *addr, char *out, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9) }, me;
	socklen_t mlen = sizeof(me);
	int fd, rc = -1;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&me, &mlen) < 0)
		goto out;
	if (inet_ntop(AF_INET, &me.sin_addr, out, (socklen_t)len))
		rc = 0;
out:
	close(fd);
	return rc;
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
	ddns_set_external_ip(known ? ip : NULL, pub);
}

static void note_epoch(uint32_t epoch)
{
	int64_t now = ev_now_ms();

	if (G.have_epoch && natpmp_epoch_reset(G.epoch, G.epoch_ms, epoch, now)) {
		log_notice("gateway: NAT-PMP epoch went back (%u after %u): it lost its mappings",
			   epoch, G.epoch);
		snprintf(G.remap_why, sizeof(G.remap_why), "NAT-PMP epoch reset");
		ev_timer_arm(G.remap_timer, 0);
	}
	G.have_epoch = true;
	G.epoch = epoch;
	G.epoch_ms = now;
}

static void ip_done(void)
{
	G.ip_req = 0;
	if (G.ip_again) {
		G.ip_again = false;
		check_ip();
	}
}

static void gateway_lost(const char *why);

static void on_upnp_ip(void *arg, const struct upnp_result *r)
{
	G.ip_req = 0;
	if (r->status == UPNP_ST_OK) {
		learn_ip(r->u.ext_ip);
	} else {
		G.ip_checked = true;
		log_warnx("gateway: cannot read the external IP over UPnP: %s", r->error);
		G.trouble = true;
		if (r->status != UPNP_ST_ERROR || r->upnp_code == 0)
			gateway_lost(r->error);
	}
	ip_done();
}

static bool upnp_ip(void)
{
	G.ip_req = upnp_get_external_ip(on_upnp_ip, NULL);
	G.ip_req_upnp = true;
	return G.ip_req != 0;
}

static void on_natpmp_ip(void *arg, const struct natpmp_result *r)
{
	G.ip_req = 0;
	if (r->status != NATPMP_ST_TIMEOUT)
		note_epoch(r->epoch);
	if (r->status == NATPMP_ST_OK) {
		learn_ip(r->ext_ip);
		ip_done();
		return;
	}
	log_info("gateway: NAT-PMP external address: %s", r->error);
	if (r->result_code == 0)
		G.trouble = true;
	/* Result 3 (no WAN address yet) or a silent NAT-PMP: UPnP may know. */
	if (G.upnp_ok && upnp_ip())
		return;
	G.ip_checked = true;
	if (r->status == NATPMP_ST_TIMEOUT)
		gateway_lost(r->error);
	ip_done();
}

static void check_ip(void)
{
	if (G.state != GW_OK || G.stopping)
		return;
	if (G.ip_req) {
		G.ip_again = true;
		return;
	}
	G.ip_req_upnp = false;
	if (G.natpmp_ok)
		G.ip_req = natpmp_get_external_ip(on_natpmp_ip, NULL);
	else if (G.upnp_ok)
		upnp_ip();
}

/* ---- timers ----------------------------------------------------------- */

static void arm_check(void)
{
	ev_timer_arm(G.check_timer, (int64_t)G.conf.check_interval * 1000);
}

static void on_check(void *arg)
{
	check_ip();
	mapping_verify_all();
	arm_check();
}

static void on_remap(void *arg)
{
	mapping_remap_all(G.remap_why);
	check_ip();
}

static void on_restart(void *arg)
{
	mapping_verify_all();
	check_ip();
}

static void cancel_discovery(void)
{
	if (G.upnp_req)
		upnp_cancel(G.upnp_req);
	if (G.np_req)
		natpmp_cancel(G.np_req);
	G.upnp_req = G.np_req = 0;
	G.pending = 0;
}

static void cancel_ip(void)
{
	if (G.ip_req && G.ip_req_upnp)
		upnp_cancel(G.ip_req);
	else if (G.ip_req)
		natpmp_cancel(G.ip_req);
	G.ip_req = 0;
	G.ip_again = false;
}

static void ssdp_close(void);

/* Deferred: hooks run inside mapping.c's callbacks. */
static void on_lost(void *arg)
{
	int64_t delay;

	if (G.state != GW_OK || G.pending || G.stopping)
		return;
	if (G.proved) {
		log_warnx("gateway %s stopped answering (%s): looking for it again", G.address,
			  G.lost_why);
		mapping_gateway_down(G.lost_why);
		discover();
		return;
	}
	/* Found, then failing before a single usable answer: a broken router
	 * would have us find and lose it in a tight loop. Back off. */
	G.flaps++;
	delay = mapping_backoff_ms(G.flaps, drand48());
	log_warnx("gateway %s fails right after it was found (%s): looking again in %lld s",
		  G.address, G.lost_why, (long long)(delay / 1000));
	mapping_gateway_down(G.lost_why);
	cancel_ip();
	ev_timer_disarm(G.check_timer);
	ssdp_close();
	ddns_set_external_ip(NULL, false);
	set_state(GW_UNREACHABLE, "%s", G.lost_why);
	ev_timer_arm(G.retry_timer, delay);
}

static void gateway_lost(const char *why)
{
	if (G.state != GW_OK || ev_timer_armed(G.lost_timer))
		return;
	snprintf(G.lost_why, sizeof(G.lost_why), "%s", why && *why ? why : "no answer");
	ev_timer_arm(G.lost_timer, 0);
}

static void hook_trouble(const char *why)
{
	G.trouble = true;
}

static void hook_state_lost(const char *why)
{
	snprintf(G.remap_why, sizeof(G.remap_why), "%s", why);
	ev_timer_arm(G.remap_timer, 0);
}

static void on_retry(void *arg)
{
	discover();
}

/* ---- SSDP NOTIFY: a router that restarts announces a new BOOTID ------- */

static bool ssdp_header(const char *msg, const char *name, char *out, size_t len)
{
	const char *p = msg;
	size_t n = strlen(name);

	while ((p = strchr(p, '\n'))) {
		p++;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			p += strspn(p, " \t");
			n = strcspn(p, "\r\n");
			if (n >= len)
				n = len - 1;
			memcpy(out, p, n);
			out[n] = '\0';
			return true;
		}
	}
	return false;
}

static void ssdp_message(const char *msg)
{
	char v[32], *end;
	unsigned long id;

	if (strncmp(msg, "NOTIFY ", 7) != 0 && strncmp(msg, "HTTP/1.1 200", 12) != 0)
		return;
	if (strncmp(msg, "NOTIFY ", 7) == 0 &&
	    (!ssdp_header(msg, "NTS", v, sizeof(v)) || strcasecmp(v, "ssdp:alive") != 0))
		return;
	if (!ssdp_header(msg, "BOOTID.UPNP.ORG", v, sizeof(v)))
		return;
	errno = 0;
	id = strtoul(v, &end, 10);
	if (errno || end == v || *end)
		return;
	if (G.have_bootid && id != G.bootid) {
		log_notice("gateway %s restarted (SSDP BOOTID %lu -> %lu): verifying mappings",
			   G.address, G.bootid, id);
		ev_timer_arm(G.restart_timer, RESTART_SETTLE_MS);
	} else if (G.trouble) {
		/* Same BOOTID (a restart within a second) but it failed us
		 * lately: it came back, look at everything again. */
		log_notice("gateway %s announces itself again: verifying mappings", G.address);
		ev_timer_arm(G.restart_timer, RESTART_SETTLE_MS);
	} else if (!G.have_bootid) {
		/* The first BOOTID seen may already be a new boot's (the router
		 * restarted before answering our M-SEARCH): one verification. */
		log_debug("gateway: SSDP BOOTID %lu", id);
		ev_timer_arm(G.restart_timer, RESTART_SETTLE_MS);
	}
	G.have_bootid = true;
	G.bootid = id;
	G.trouble = false;
}

static void on_ssdp(int fd, short revents, void *arg)
{
	for (int i = 0; i < 64; i++) {
		char buf[2048];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT,
				     (struct sockaddr *)&from, &flen);

		if (n < 0)
			return;
		if (flen != sizeof(from) || from.sin_addr.s_addr != G.ssdp_from.s_addr)
			continue;
		buf[n] = '\0';
		ssdp_message(buf);
	}
}

static void ssdp_search(int fd)
{
	static const char msearch[] =
		"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
		"MAN: \"ssdp:discover\"\r\nMX: 1\r\n"
		"ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n";
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(SSDP_PORT),
				  .sin_addr = G.ssdp_from };

	if (sendto(fd, msearch, sizeof(msearch) - 1, MSG_DONTWAIT, (struct sockaddr *)&to,
		   sizeof(to)) < 0)
		log_debug("gateway: SSDP M-SEARCH to %s: %s", G.address, strerror(errno));
}

static void ssdp_open(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(SSDP_PORT) };
	struct ip_mreqn mr = { .imr_ifindex = 0 };
	int fd, one = 1, zero = 0;

	ssdp_close();
	if (inet_pton(AF_INET, G.address, &G.ssdp_from) != 1 ||
	    inet_pton(AF_INET, G.lan_address, &mr.imr_address) != 1)
		return;
	inet_pton(AF_INET, "239.255.255.250", &mr.imr_multiaddr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 ||
	    ev_fd_add(fd, POLLIN, on_ssdp, NULL) < 0) {
		/* Only a hint: the periodic checks still find a restarted router. */
		log_info("gateway: not listening for SSDP NOTIFY: %s", strerror(errno));
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof(zero));
	G.ssdp_fd = fd;
	G.have_bootid = false;
	ssdp_search(fd);
}

static void ssdp_close(void)
{
	if (G.ssdp_fd < 0)
		return;
	ev_fd_del(G.ssdp_fd);
	close(G.ssdp_fd);
	G.ssdp_fd = -1;
}

/* ---- discovery -------------------------------------------------------- */

static void on_announce(void *arg, const char *ip, uint32_t epoch)
{
	log_info("gateway: NAT-PMP announcement: external IP %s, epoch %u", ip, epoch);
	note_epoch(epoch);
	check_ip();
}

static void gateway_found(void)
{
	struct mapping_gw mg = { .check_interval = G.conf.check_interval };

	G.via = G.upnp_ok ? MAP_VIA_UPNP : MAP_VIA_NATPMP;
	snprintf(G.address, sizeof(G.address), "%s",
		 G.upnp_ok && G.igd.gateway_addr[0] ? G.igd.gateway_addr : natpmp_gateway_addr());
	if (G.upnp_ok && G.igd.lan_addr[0])
		snprintf(G.lan_address, sizeof(G.lan_address), "%s", G.igd.lan_addr);
	else if (route_source(G.address, G.lan_address, sizeof(G.lan_address)) < 0)
		G.lan_address[0] = '\0';
	if (G.upnp_ok && G.natpmp_ok && strcmp(natpmp_gateway_addr(), G.address) != 0) {
		log_info("gateway: NAT-PMP answers at %s, not at the IGD %s: not used",
			 natpmp_gateway_addr(), G.address);
		G.natpmp_ok = false;
		natpmp_fini();
	}
	G.failures = 0;
	G.proved = false;
	set_state(GW_OK, NULL);
	log_notice("gateway %s: mapping over %s%s%s, LAN address %s", G.address, via_name(G.via),
		   G.upnp_ok ? " (IGD " : "", G.upnp_ok ? G.igd.root_url : "",
		   G.lan_address[0] ? G.lan_address : "unknown");
	if (G.upnp_ok)
		log_msg(LOG_NOTICE, "gateway: UPnP IGD v%d%s", G.igd.igd_version, "");
	if (G.natpmp_ok && natpmp_listen_announcements(G.conf.interface, on_announce, NULL) < 0)
		log_info("gateway: not listening for NAT-PMP announcements");
	ssdp_open();
	if (G.natpmp_ok && G.np_ip[0])
		learn_ip(G.np_ip);
	else
		check_ip();
	snprintf(mg.address, sizeof(mg.address), "%s", G.address);
	snprintf(mg.lan_addr, sizeof(mg.lan_addr), "%s", G.lan_address);
	snprintf(mg.root_url, sizeof(mg.root_url), "%s", G.upnp_ok ? G.igd.root_url : "");
	mg.via = G.via;
	mapping_gateway_up(&mg);
	arm_check();
}

static void discovery_done(void)
{
	int64_t delay;

	if (G.pending > 0)
		return;
	if (G.upnp_ok || G.natpmp_ok) {
		gateway_found();
		return;
	}
	natpmp_fini();
	G.failures++;
	delay = mapping_backoff_ms(G.failures, drand48());
	/* No gateway, no external IP coming: the DDNS side stops waiting for
	 * one (--once ends now). Only once per outage: it keeps what it had. */
	if (G.state != GW_UNREACHABLE)
		ddns_set_external_ip(NULL, false);
	if (G.conf.protocol == GW_PREF_UPNP)
		set_state(GW_UNREACHABLE, "no UPnP gateway answered: %s", G.upnp_err);
	else if (G.conf.protocol == GW_PREF_NATPMP)
		set_state(GW_UNREACHABLE, "no NAT-PMP gateway answered: %s", G.natpmp_err);
	else
		set_state(GW_UNREACHABLE, "no gateway answered (UPnP: %s; NAT-PMP: %s)",
			  G.upnp_err, G.natpmp_err);
	log_info("gateway: looking again in %lld s", (long long)(delay / 1000));
	ev_timer_arm(G.retry_timer, delay);
}

static void on_upnp_discover(void *arg, const struct upnp_result *r)
{
	G.upnp_req = 0;
	G.pending--;
	if (r->status == UPNP_ST_OK) {
		G.igd = r->u.igd;
		G.upnp_ok = true;
		log_info("gateway: UPnP IGD v%d at %s (%s), WAN %s", G.igd.igd_version,
			 G.igd.root_url, G.igd.gateway_addr,
			 G.igd.connected ? "connected" : "not connected");
	} else {
		snprintf(G.upnp_err, sizeof(G.upnp_err), "%s", r->error[0] ? r->error : "no answer");
		log_info("gateway: UPnP: %s", G.upnp_err);
	}
	discovery_done();
}

static void on_natpmp_discover(void *arg, const struct natpmp_result *r)
{
	G.np_req = 0;
	G.pending--;
	if (r->status == NATPMP_ST_OK || (r->status == NATPMP_ST_ERROR && r->result_code == 3)) {
		/* Result 3 (no WAN address yet) still is a NAT-PMP gateway. */
		G.natpmp_ok = true;
		G.have_epoch = false;
		note_epoch(r->epoch);
		snprintf(G.np_ip, sizeof(G.np_ip), "%s", r->status == NATPMP_ST_OK ? r->ext_ip : "");
		log_info("gateway: NAT-PMP at %s answers (epoch %u)", natpmp_gateway_addr(),
			 r->epoch);
	} else {
		snprintf(G.natpmp_err, sizeof(G.natpmp_err), "%s",
			 r->error[0] ? r->error : "no answer");
		log_info("gateway: NAT-PMP: %s", G.natpmp_err);
	}
	discovery_done();
}

static void start_natpmp(void)
{
	if (natpmp_init(NULL, NATPMP_DEADLINE_MS) < 0) {
		snprintf(G.natpmp_err, sizeof(G.natpmp_err), "no default route, no gateway to ask");
		return;
	}
	G.np_req = natpmp_get_external_ip(on_natpmp_discover, NULL);
	if (G.np_req)
		G.pending++;
	else
		snprintf(G.natpmp_err, sizeof(G.natpmp_err), "cannot queue a request");
}

static void discover(void)
{
	if (G.stopping)
		return;
	cancel_discovery();
	cancel_ip();
	ev_timer_disarm(G.retry_timer);
	ev_timer_disarm(G.check_timer);
	ssdp_close();
	natpmp_fini();
	G.upnp_ok = G.natpmp_ok = false;
	G.upnp_err[0] = G.natpmp_err[0] = G.np_ip[0] = '\0';
	G.via = MAP_VIA_NONE;
	if (G.state == GW_OK)
		set_state(GW_SEARCHING, NULL);
	if (G.conf.protocol != GW_PREF_NATPMP) {
		G.upnp_req = upnp_discover(G.conf.upnp_url, G.conf.interface, on_upnp_discover, NULL);
		if (G.upnp_req)
			G.pending++;
		else
			snprintf(G.upnp_err, sizeof(G.upnp_err), "cannot start discovery");
	}
	if (G.conf.protocol != GW_PREF_UPNP)
		start_natpmp();
	log_info("gateway: looking for the gateway (%s%s)", G.conf.upnp_url ? "UPnP at " :
		 G.conf.protocol == GW_PREF_NATPMP ? "NAT-PMP" : "SSDP and NAT-PMP",
		 G.conf.upnp_url ? G.conf.upnp_url : "");
	discovery_done();
}

/* ---- public ----------------------------------------------------------- */

static void hook_epoch(uint32_t epoch)
{
	note_epoch(epoch);
}

int gateway_init(const struct hp_config *cfg)
{
	static const struct mapping_hooks hooks = {
		.natpmp_epoch = hook_epoch,
		.gateway_lost = gateway_lost,
		.gateway_trouble = hook_trouble,
		.state_lost = hook_state_lost,
	};

	memset(&G, 0, sizeof(G));
	G.ssdp_fd = -1;
	conf_copy(&G.conf, &cfg->gateway);
	srand48((long)getpid() ^ (long)ev_now_ms());
	if (upnp_init(UPNP_DEADLINE_MS) < 0) {
		log_errx("gateway: cannot set up UPnP");
		conf_free(&G.conf);
		return -1;
	}
	G.check_timer = ev_timer_new(on_check, NULL);
	G.retry_timer = ev_timer_new(on_retry, NULL);
	G.lost_timer = ev_timer_new(on_lost, NULL);
	G.remap_timer = ev_timer_new(on_remap, NULL);
	G.restart_timer = ev_timer_new(on_restart, NULL);
	G.inited = true;
	G.state = GW_SEARCHING;
	mapping_init(&hooks);
	mapping_apply_config(cfg);
	discover();
	return 0;
}

void gateway_apply_config(const struct hp_config *cfg)
{
	bool rediscover = conf_rediscover(&G.conf, &cfg->gateway);
	uint32_t old_check = G.conf.check_interval;

	if (!G.inited || G.stopping)
		return;
	mapping_apply_config(cfg);
	conf_copy(&G.conf, &cfg->gateway);
	if (rediscover) {
		log_notice("gateway: [gateway] changed, looking for the gateway again");
		mapping_gateway_down("configuration changed");
		set_state(GW_SEARCHING, NULL);
		discover();
	} else if (old_check != G.conf.check_interval && G.state == GW_OK) {
		arm_check();
	}
}

void gateway_refresh(void)
{
	if (!G.inited || G.stopping)
		return;
	if (G.state != GW_OK) {
		if (!G.pending)
			discover();
		return;
	}
	check_ip();
	mapping_verify_all();
	arm_check();
}

static void shutdown_finish(void *arg)
{
	void (*done)(void *) = G.done;

	ev_timer_disarm(G.shutdown_timer);
	G.done = NULL;
	if (done)
		done(G.done_arg);
}

static void on_shutdown_limit(void *arg)
{
	log_warnx("gateway: no answer while deleting mappings: leaving the rest in place");
	shutdown_finish(NULL);
}

void gateway_shutdown(void (*done)(void *arg), void *arg)
{
	bool keep = G.conf.keep_mappings || G.state != GW_OK;

	if (!G.inited || G.stopping) {
		if (done && !G.stopping)
			done(arg);
		return;
	}
	G.stopping = true;
	G.done = done;
	G.done_arg = arg;
	cancel_discovery();
	cancel_ip();
	ev_timer_disarm(G.check_timer);
	ev_timer_disarm(G.retry_timer);
	ev_timer_disarm(G.remap_timer);
	ev_timer_disarm(G.restart_timer);
	ev_timer_disarm(G.lost_timer);
	ssdp_close();
	G.shutdown_timer = ev_timer_new(on_shutdown_limit, NULL);
	ev_timer_arm(G.shutdown_timer, SHUTDOWN_MS);
	if (G.conf.keep_mappings)
		log_info("gateway: keep_mappings: leaving the mappings on the router");
	mapping_shutdown(keep, shutdown_finish, NULL);
}

void gateway_fini(void)
{
	if (!G.inited)
		return;
	cancel_discovery();
	cancel_ip();
	ssdp_close();
	mapping_fini();
	upnp_fini();
	natpmp_fini();
	ev_timer_free(G.check_timer);
	ev_timer_free(G.retry_timer);
	ev_timer_free(G.lost_timer);
	ev_timer_free(G.remap_timer);
	ev_timer_free(G.restart_timer);
	ev_timer_free(G.shutdown_timer);
	conf_free(&G.conf);
	memset(&G, 0, sizeof(G));
	G.ssdp_fd = -1;
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

json_t *gateway_status_json(void)
{
	json_t *o = json_object();
	bool ok = G.state == GW_OK;

	json_object_set_new(o, "state", json_string(gw_state_names[G.state]));
	json_object_set_new(o, "protocol", ok ? str_or_null(via_name(G.via)) : json_null());
	json_object_set_new(o, "address", ok ? str_or_null(G.address) : json_null());
	json_object_set_new(o, "lan_address", ok ? str_or_null(G.lan_address) : json_null());
	json_object_set_new(o, "external_ip", G.ext_known ? json_string(G.ext_ip) : json_null());
	json_object_set_new(o, "external_ip_public",
			    G.ext_known ? json_boolean(G.ext_public) : json_null());
	json_object_set_new(o, "last_check_ago", G.last_check_ms ?
			    json_integer((ev_now_ms() - G.last_check_ms) / 1000) : json_null());
	json_object_set_new(o, "error", str_or_null(G.error));
	return o;
}

bool gateway_once_done(bool *all_ok)
{
	bool maps_ok = false, done;

	if (all_ok)
		*all_ok = false;
	if (G.state == GW_UNREACHABLE)
		return true;
	if (G.state != GW_OK || !G.ip_checked)
		return false;
	done = mapping_once_done(&maps_ok);
	if (all_ok)
		*all_ok = done && maps_ok && G.state == GW_OK;
	return done;
}

/* ---- --probe: ask both protocols once, change nothing ------------------ */

#define PROBE_LIMIT_MS 15000

static struct {
	int pending;
	bool upnp_ok, np_ok;
	struct upnp_igd igd;
	char upnp_ip[INET_ADDRSTRLEN], upnp_err[200];
	char np_gw[INET_ADDRSTRLEN], np_ip[INET_ADDRSTRLEN], np_err[160];
	uint32_t epoch;
} P;

static void probe_step_done(void)
{
	if (--P.pending <= 0)
		ev_break();
}

static void on_probe_upnp_ip(void *arg, const struct upnp_result *r)
{
	if (r->status == UPNP_ST_OK)
		snprintf(P.upnp_ip, sizeof(P.upnp_ip), "%s", r->u.ext_ip);
	else
		snprintf(P.upnp_err, sizeof(P.upnp_err), "external IP: %s", r->error);
	probe_step_done();
}

static void on_probe_upnp(void *arg, const struct upnp_result *r)
{
	if (r->status == UPNP_ST_OK) {
		P.upnp_ok = true;
		P.igd = r->u.igd;
		if (upnp_get_external_ip(on_probe_upnp_ip, NULL))
			return;
	} else {
		snprintf(P.upnp_err, sizeof(P.upnp_err), "%s", r->error[0] ? r->error : "no answer");
	}
	probe_step_done();
}

static void on_probe_natpmp(void *arg, const struct natpmp_result *r)
{
	if (r->status == NATPMP_ST_OK || r->result_code == 3) {
		P.np_ok = true;
		P.epoch = r->epoch;
		snprintf(P.np_ip, sizeof(P.np_ip), "%s", r->ext_ip);
	}
	if (r->status != NATPMP_ST_OK)
		snprintf(P.np_err, sizeof(P.np_err), "%s", r->error[0] ? r->error : "no answer");
	probe_step_done();
}

static void on_probe_limit(void *arg)
{
	ev_break();
}

static void probe_run(const struct hp_config *cfg)
{
	const struct cfg_gateway *g = &cfg->gateway;
	struct ev_timer *limit;
	const char *url = g->upnp_url && *g->upnp_url ? g->upnp_url : NULL;
	const char *ifname = g->interface && *g->interface ? g->interface : NULL;

	memset(&P, 0, sizeof(P));
	if (upnp_init(UPNP_DEADLINE_MS) == 0 && upnp_discover(url, ifname, on_probe_upnp, NULL))
		P.pending++;
	else
		snprintf(P.upnp_err, sizeof(P.upnp_err), "cannot start UPnP discovery");
	if (natpmp_init(NULL, NATPMP_DEADLINE_MS) < 0)
		snprintf(P.np_err, sizeof(P.np_err), "no default route, no gateway to ask");
	else if (natpmp_get_external_ip(on_probe_natpmp, NULL))
		P.pending++;
	snprintf(P.np_gw, sizeof(P.np_gw), "%s", natpmp_gateway_addr());
	limit = ev_timer_new(on_probe_limit, NULL);
	ev_timer_arm(limit, PROBE_LIMIT_MS);
	if (P.pending > 0)
		ev_run();
	ev_timer_free(limit);
	upnp_fini();
	natpmp_fini();
}

static const char *probe_verdict(const char *ip)
{
	if (!ip || !*ip)
		return "unknown";
	return ipv4_str_is_public(ip) ? "public" : "double_nat";
}

static void probe_print_json(const char *gw, const char *lan, const char *ip)
{
	json_t *o = json_object(), *u = json_object(), *n = json_object();

	json_object_set_new(u, "ok", json_boolean(P.upnp_ok));
	json_object_set_new(u, "igd_version", P.upnp_ok ? json_integer(P.igd.igd_version) : json_null());
	json_object_set_new(u, "url", P.upnp_ok ? str_or_null(P.igd.root_url) : json_null());
	json_object_set_new(u, "control_url", P.upnp_ok ? str_or_null(P.igd.control_url) : json_null());
	json_object_set_new(u, "service_type", P.upnp_ok ? str_or_null(P.igd.service_type) : json_null());
	json_object_set_new(u, "connected", P.upnp_ok ? json_boolean(P.igd.connected) : json_null());
	json_object_set_new(u, "external_ip", str_or_null(P.upnp_ip));
	json_object_set_new(u, "error", str_or_null(P.upnp_err));
	json_object_set_new(n, "ok", json_boolean(P.np_ok));
	json_object_set_new(n, "gateway", str_or_null(P.np_gw));
	json_object_set_new(n, "external_ip", str_or_null(P.np_ip));
	json_object_set_new(n, "epoch", P.np_ok ? json_integer(P.epoch) : json_null());
	json_object_set_new(n, "error", str_or_null(P.np_err));
	json_object_set_new(o, "gateway", str_or_null(gw));
	json_object_set_new(o, "lan_address", str_or_null(lan));
	json_object_set_new(o, "upnp", u);
	json_object_set_new(o, "natpmp", n);
	json_object_set_new(o, "external_ip", str_or_null(ip));
	json_object_set_new(o, "external_ip_public", ip && *ip ? json_boolean(ipv4_str_is_public(ip)) :
			    json_null());
	json_object_set_new(o, "verdict", json_string(probe_verdict(ip)));
	json_dumpf(o, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(o);
}

static void probe_print_text(const char *gw, const char *lan, const char *ip)
{
	if (P.upnp_ok)
		printf("UPnP:        IGD v%d at %s (%s, WAN %s)%s%s\n", P.igd.igd_version,
		       P.igd.root_url, P.igd.service_type,
		       P.igd.connected ? "connected" : "not connected",
		       P.upnp_ip[0] ? ", external IP " : "", P.upnp_ip);
	else
		printf("UPnP:        no answer (%s)\n", P.upnp_err);
	if (P.np_ok)
		printf("NAT-PMP:     answers at %s (epoch %u)%s%s\n", P.np_gw, P.epoch,
		       P.np_ip[0] ? ", external IP " : "", P.np_ip);
	else
		printf("NAT-PMP:     no answer%s%s%s (%s)\n", P.np_gw[0] ? " from " : "", P.np_gw,
		       "", P.np_err);
	printf("gateway:     %s\n", gw && *gw ? gw : "none found");
	printf("LAN address: %s\n", lan && *lan ? lan : "unknown");
	if (!ip || !*ip)
		printf("external IP: unknown\n");
	else if (ipv4_str_is_public(ip))
		printf("external IP: %s (public)\n", ip);
	else
		printf("external IP: %s (not public: double NAT or CGNAT; DDNS entries would be "
		       "blocked)\n", ip);
}

int gateway_probe(const struct hp_config *cfg, bool json)
{
	char lan[INET_ADDRSTRLEN] = "";
	const char *gw = NULL, *ip;

	if (ev_init() < 0)
		return HP_EXIT_FAIL;
	probe_run(cfg);
	if (P.upnp_ok)
		gw = P.igd.gateway_addr;
	else if (P.np_ok)
		gw = P.np_gw;
	if (P.upnp_ok && P.igd.lan_addr[0])
		snprintf(lan, sizeof(lan), "%s", P.igd.lan_addr);
	else if (gw && route_source(gw, lan, sizeof(lan)) < 0)
		lan[0] = '\0';
	ip = P.np_ip[0] ? P.np_ip : P.upnp_ip;
	if (json)
		probe_print_json(gw, lan, ip);
	else
		probe_print_text(gw, lan, ip);
	fflush(stdout);
	ev_fini();
	return P.upnp_ok || P.np_ok ? HP_EXIT_OK : HP_EXIT_UNAVAILABLE;
}
