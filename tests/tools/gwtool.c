/* gwtool - drive the UPnP and NAT-PMP backends from the command line,
 * through the event loop exactly as the daemon does. For the integration
 * tests and the "router floor" benchmark.
 *
 *   gwtool [-v] [-d MS] upnp URL|ssdp[:IFNAME] STEP [, STEP]...
 *   gwtool [-v] [-d MS] natpmp GATEWAY|auto STEP [, STEP]...
 * UPnP steps (discovery always runs first):
 *   extip | add tcp|udp EXT HOST|- INT LEASE [DESC] | get tcp|udp EXT |
 *   del tcp|udp EXT | sleep MS | bench N [BASEPORT] [INTPORT]
 * NAT-PMP steps:
 *   extip | map tcp|udp INT EXT LIFETIME | unmap tcp|udp INT |
 *   listen SECONDS [IFNAME] | sleep MS | bench N [BASEPORT]
 * The UPnP helper is ../homeport-upnp-helper from gwtool's directory.
 * One line per step result on stdout: "STEP OK k=v ..." (add: confirmed=1
 * when the reply was a well-formed AddPortMappingResponse) or
 * "STEP ERROR|TIMEOUT|NO_IGD code=N msg=...". Exit 0 if every step
 * succeeded, 1 otherwise, 64 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "ev.h"
#include "gw_natpmp.h"
#include "gw_upnp.h"
#include "helper_proc.h"
#include "log.h"
#include "route.h"

#define MAX_STEPS 64

struct step {
	char **av;
	int ac;
};

static struct step steps[MAX_STEPS];
static int n_steps, cur = -1;
static bool use_upnp, failed;
static int64_t t0;
static struct ev_timer *step_timer;
static char lan_addr[INET_ADDRSTRLEN];
static unsigned bench_n, bench_done, bench_ok;
static uint16_t bench_base, bench_int;
static int64_t bench_t0;
static bool bench_deleting;

static void next_step(void);
static void bench_cb(void *arg, const struct gw_result *r);

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fprintf(stderr, "usage: gwtool [-v] [-d MS] upnp URL|ssdp[:IFNAME] STEP [, STEP]...\n"
		"       gwtool [-v] [-d MS] natpmp GATEWAY|auto STEP [, STEP]...\n");
	exit(64);
}

static unsigned proto_arg(const char *s)
{
	if (!strcasecmp(s, "tcp"))
		return SVC_TCP;
	if (!strcasecmp(s, "udp"))
		return SVC_UDP;
	fprintf(stderr, "gwtool: bad protocol %s\n", s);
	exit(64);
}

static unsigned long num(const char *s, unsigned long max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || *end || v > max) {
		fprintf(stderr, "gwtool: bad number %s\n", s);
		exit(64);
	}
	return v;
}

static const char *step_name(void)
{
	return cur >= 0 ? steps[cur].av[0] : "discover";
}

static void need(int n)
{
	if (steps[cur].ac < n) {
		fprintf(stderr, "gwtool: %s needs %d arguments\n", steps[cur].av[0], n - 1);
		exit(64);
	}
}

/* TIMEOUT: the deadline passed; NO_IGD: discovery found nothing. */
static const char *fail_word(const struct gw_result *r)
{
	if (r->timed_out)
		return "TIMEOUT";
	return r->outcome == GW_GONE && cur < 0 ? "NO_IGD" : "ERROR";
}

static void report_fail(const char *what, const char *word, int code, const char *msg)
{
	printf("%s %s code=%d ms=%lld msg=%s\n", what, word, code,
	       (long long)(ev_now_ms() - t0), msg);
	fflush(stdout);
	failed = true;
}

static void upnp_done(void *arg, const struct gw_result *r)
{
	const char *what = step_name();

	if (r->outcome != GW_OK) {
		report_fail(what, fail_word(r), r->code, r->error);
	} else if (cur < 0) {
		const struct upnp_igd *g = upnp_igd();
		snprintf(lan_addr, sizeof(lan_addr), "%s", g->lan_addr);
		printf("discover OK ms=%lld root=%s control=%s service=%s version=%d lan=%s "
		       "gateway=%s connected=%d\n", (long long)(ev_now_ms() - t0), g->root_url,
		       g->control_url, g->service_type, g->igd_version, g->lan_addr,
		       g->gateway_addr, g->connected);
	} else if (!strcmp(what, "extip")) {
		printf("extip OK ms=%lld ip=%s\n", (long long)(ev_now_ms() - t0), r->u.ext_ip);
	} else if (!strcmp(what, "get")) {
		const struct gw_mapping *e = &r->u.map;
		printf("get OK ms=%lld client=%s port=%u lease=%u desc=%s\n",
		       (long long)(ev_now_ms() - t0), e->int_host, e->int_port, e->lease, e->desc);
	} else if (!strcmp(what, "add")) {
		printf("add OK ms=%lld confirmed=%d\n", (long long)(ev_now_ms() - t0),
		       r->u.map.confirmed);
	} else {
		printf("%s OK ms=%lld\n", what, (long long)(ev_now_ms() - t0));
	}
	fflush(stdout);
	if (cur < 0 && r->outcome != GW_OK) {
		ev_break();
		return;
	}
	next_step();
}

static void natpmp_done(void *arg, const struct gw_result *r)
{
	const char *what = step_name();

	if (r->outcome != GW_OK)
		report_fail(what, fail_word(r), r->code, r->error);
	else if (!strcmp(what, "extip"))
		printf("extip OK ms=%lld ip=%s epoch=%u\n", (long long)(ev_now_ms() - t0),
		       r->u.ext_ip, r->epoch);
	else
		printf("%s OK ms=%lld int=%u ext=%u lifetime=%u epoch=%u\n", what,
		       (long long)(ev_now_ms() - t0), r->u.map.int_port, r->u.map.ext_port,
		       r->u.map.lease, r->epoch);
	fflush(stdout);
	next_step();
}

static void bench_step_done(bool ok)
{
	bench_ok += ok;
	if (++bench_done < bench_n)
		return;
	printf("bench %s n=%u ok=%u ms=%lld per_op_ms=%.3f\n", bench_deleting ? "delete" : "add",
	       bench_n, bench_ok, (long long)(ev_now_ms() - bench_t0),
	       (double)(ev_now_ms() - bench_t0) / bench_n);
	fflush(stdout);
	if (bench_ok != bench_n)
		failed = true;
	if (bench_deleting) {
		next_step();
		return;
	}
	bench_deleting = true;
	bench_done = bench_ok = 0;
	bench_t0 = ev_now_ms();
	for (unsigned i = 0; i < bench_n; i++) {
		uint64_t id = use_upnp ?
			upnp_delete_mapping(SVC_TCP, (uint16_t)(bench_base + i), bench_cb, NULL) :
			natpmp_unmap(SVC_TCP, (uint16_t)(bench_base + i), bench_cb, NULL);
		if (!id)
			bench_step_done(false);
	}
}

static void bench_cb(void *arg, const struct gw_result *r)
{
	if (r->outcome != GW_OK)
		fprintf(stderr, "bench: %s\n", r->error);
	bench_step_done(r->outcome == GW_OK);
}

static void bench_start(void)
{
	struct step *s = &steps[cur];

	need(2);
	bench_n = (unsigned)num(s->av[1], 10000);
	bench_base = s->ac > 2 ? (uint16_t)num(s->av[2], 65535) : 20000;
	bench_int = s->ac > 3 ? (uint16_t)num(s->av[3], 65535) : 8080;
	bench_done = bench_ok = 0;
	bench_deleting = false;
	bench_t0 = ev_now_ms();
	if (!bench_n || bench_base + bench_n > 65536)
		usage();
	for (unsigned i = 0; i < bench_n; i++) {
		uint16_t port = (uint16_t)(bench_base + i);
		uint64_t id = use_upnp ?
			upnp_add_mapping(SVC_TCP, port, lan_addr, bench_int, "gwtool bench", 3600,
					 bench_cb, NULL) :
			natpmp_map(SVC_TCP, port, port, 3600, bench_cb, NULL);
		if (!id)
			bench_step_done(false);
	}
}

static void on_announce(void *arg, const char *ip, uint32_t epoch)
{
	printf("announce ip=%s epoch=%u ms=%lld\n", ip, epoch, (long long)(ev_now_ms() - t0));
	fflush(stdout);
}

static void on_step_timer(void *arg)
{
	printf("%s OK ms=%lld\n", step_name(), (long long)(ev_now_ms() - t0));
	fflush(stdout);
	next_step();
}

static uint64_t run_upnp_step(struct step *s)
{
	const char *c = s->av[0];

	if (!strcmp(c, "extip"))
		return upnp_get_external_ip(upnp_done, NULL);
	if (!strcmp(c, "add")) {
		need(6);
		return upnp_add_mapping(proto_arg(s->av[1]), (uint16_t)num(s->av[2], 65535),
					strcmp(s->av[3], "-") ? s->av[3] : lan_addr,
					(uint16_t)num(s->av[4], 65535), s->ac > 6 ? s->av[6] : "gwtool",
					(uint32_t)num(s->av[5], UINT32_MAX), upnp_done, NULL);
	}
	need(3);
	if (!strcmp(c, "get"))
		return upnp_get_mapping(proto_arg(s->av[1]), (uint16_t)num(s->av[2], 65535),
					upnp_done, NULL);
	if (!strcmp(c, "del"))
		return upnp_delete_mapping(proto_arg(s->av[1]), (uint16_t)num(s->av[2], 65535),
					   upnp_done, NULL);
	usage();
}

static uint64_t run_natpmp_step(struct step *s)
{
	const char *c = s->av[0];

	if (!strcmp(c, "extip"))
		return natpmp_get_external_ip(natpmp_done, NULL);
	if (!strcmp(c, "map")) {
		need(5);
		return natpmp_map(proto_arg(s->av[1]), (uint16_t)num(s->av[2], 65535),
				  (uint16_t)num(s->av[3], 65535), (uint32_t)num(s->av[4], UINT32_MAX),
				  natpmp_done, NULL);
	}
	if (!strcmp(c, "unmap")) {
		need(3);
		return natpmp_unmap(proto_arg(s->av[1]), (uint16_t)num(s->av[2], 65535),
				    natpmp_done, NULL);
	}
	usage();
}

static void next_step(void)
{
	struct step *s;

	if (++cur >= n_steps) {
		ev_break();
		return;
	}
	s = &steps[cur];
	t0 = ev_now_ms();
	if (!strcmp(s->av[0], "sleep")) {
		need(2);
		ev_timer_arm(step_timer, (int64_t)num(s->av[1], 3600000));
	} else if (!strcmp(s->av[0], "bench")) {
		bench_start();
	} else if (!strcmp(s->av[0], "listen")) {
		need(2);
		if (use_upnp || natpmp_listen_announcements(s->ac > 2 ? s->av[2] : NULL,
							    on_announce, NULL) < 0) {
			report_fail("listen", "ERROR", 0, "cannot listen for announcements");
			next_step();
			return;
		}
		printf("listening\n");
		fflush(stdout);
		ev_timer_arm(step_timer, (int64_t)num(s->av[1], 3600) * 1000);
	} else if (!(use_upnp ? run_upnp_step(s) : run_natpmp_step(s))) {
		report_fail(s->av[0], "ERROR", 0, "request not queued");
		next_step();
	}
}

/* build/tools/gwtool uses build/homeport-upnp-helper. */
static void helper_next_to(const char *argv0)
{
	char path[4096];
	const char *slash = strrchr(argv0, '/');

	if (!slash)
		return;
	snprintf(path, sizeof(path), "%.*s/../homeport-upnp-helper", (int)(slash - argv0), argv0);
	upnp_helper_path(path);
}

static void parse_steps(int ac, char **av)
{
	int start = 0;

	for (int i = 0; i <= ac; i++) {
		if (i < ac && strcmp(av[i], ","))
			continue;
		if (i > start) {
			if (n_steps == MAX_STEPS)
				usage();
			steps[n_steps++] = (struct step){ av + start, i - start };
		}
		start = i + 1;
	}
}

int main(int argc, char **argv)
{
	int deadline = 3000, level = LOG_WARNING, i = 1;
	const char *target;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v"))
			level = LOG_DEBUG;
		else if (!strcmp(argv[i], "-d") && i + 1 < argc)
			deadline = (int)num(argv[++i], 3600000);
		else
			usage();
	}
	if (argc - i < 2)
		usage();
	use_upnp = !strcmp(argv[i], "upnp");
	if (!use_upnp && strcmp(argv[i], "natpmp"))
		usage();
	target = argv[i + 1];
	parse_steps(argc - i - 2, argv + i + 2);
	log_init(level, false);
	if (ev_init() < 0)
		return 1;
	step_timer = ev_timer_new(on_step_timer, NULL);
	t0 = ev_now_ms();
	if (use_upnp) {
		const char *ifname = !strncmp(target, "ssdp:", 5) ? target + 5 : NULL;
		bool ssdp = ifname || !strcmp(target, "ssdp");
		char gw[INET_ADDRSTRLEN] = "", err[120];

		helper_next_to(argv[0]);
		/* SSDP trusts the default router only, as the daemon does. */
		if (ssdp && route_default_gw(ifname, gw, NULL, err, sizeof(err)) < 0)
			fprintf(stderr, "gwtool: %s\n", err);
		if (upnp_init(deadline) < 0 ||
		    !upnp_discover(ssdp ? NULL : target, ifname, gw, upnp_done, NULL))
			return 1;
	} else {
		if (natpmp_init(strcmp(target, "auto") ? target : NULL, deadline) < 0)
			return 1;
		printf("gateway %s\n", natpmp_gateway_addr());
		fflush(stdout);
		next_step();
	}
	ev_run();
	if (use_upnp)
		upnp_fini();
	else
		natpmp_fini();
	ev_timer_free(step_timer);
	helper_proc_reap_all();
	ev_fini();
	return failed ? 1 : 0;
}
