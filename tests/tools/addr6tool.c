/* addr6tool - this host's IPv6 address as homeport sees it (addr6.c),
 * through the event loop exactly as the daemon does. For the integration
 * tests and the renumbering benchmark.
 *
 *   addr6tool [-i IFNAME] [-c SECONDS] probe [--json]
 *   addr6tool [-i IFNAME] [-c SECONDS] follow [HOST]...
 *
 * probe prints what --probe prints about IPv6 and exits. follow prints one
 * line at start and one more at every change subscribers hear of:
 *   T_MS self=ADDR|- HOST=ADDR|- ...   (T_MS: CLOCK_MONOTONIC in ms)
 * HOST is an ipv6_host value (self, ::SUFFIX, a MAC). follow runs until
 * killed. Exit 64 on usage errors, 1 when netlink cannot be used. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr6.h"
#include "config.h"
#include "ev.h"
#include "log.h"

static struct hp_config cfg;
static char **host_text;

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fprintf(stderr, "usage: addr6tool [-i IFNAME] [-c SECONDS] probe [--json]\n"
		"       addr6tool [-i IFNAME] [-c SECONDS] follow [HOST]...\n");
	exit(64);
}

static void print_state(void *arg)
{
	struct addr6_self self;
	char out[INET6_ADDRSTRLEN], why[ADDR6_WHY_LEN];

	addr6_get_self(&self);
	printf("%lld self=%s", (long long)ev_now_ms(), self.have ? self.address : "-");
	for (size_t i = 0; i < cfg.n_ddns; i++) {
		int rc = addr6_resolve(&cfg.ddns[i].ipv6_host, out, sizeof(out), why, sizeof(why));
		printf(" %s=%s", host_text[i], rc == 0 ? out : "-");
	}
	printf("\n");
	fflush(stdout);
}

static void add_hosts(int ac, char **av)
{
	char why[200];

	cfg.ddns = calloc((size_t)ac + 1, sizeof(*cfg.ddns));
	host_text = av;
	for (int i = 0; i < ac; i++) {
		if (addr6_host_parse(av[i], &cfg.ddns[i].ipv6_host, why, sizeof(why)) < 0) {
			fprintf(stderr, "addr6tool: %s\n", why);
			exit(64);
		}
	}
	cfg.n_ddns = (size_t)ac;
}

int main(int argc, char **argv)
{
	int c;

	cfg.gateway.check_interval = 300;
	while ((c = getopt(argc, argv, "+i:c:v")) != -1) {
		switch (c) {
		case 'i': cfg.gateway.interface = optarg; break;
		case 'c': cfg.gateway.check_interval = (uint32_t)atoi(optarg); break;
		case 'v': log_init(LOG_DEBUG, false); break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	if (strcmp(argv[optind], "follow") == 0)
		add_hosts(argc - optind - 1, argv + optind + 1);
	else if (strcmp(argv[optind], "probe") != 0)
		usage();
	if (ev_init() < 0 || addr6_init(&cfg) < 0)
		return 1;
	if (strcmp(argv[optind], "probe") == 0) {
		if (optind + 1 < argc && strcmp(argv[optind + 1], "--json") == 0) {
			json_t *o = addr6_probe_json();
			json_dumpf(o, stdout, JSON_INDENT(2));
			printf("\n");
			json_decref(o);
		} else {
			addr6_probe_print(stdout);
		}
		return 0;
	}
	addr6_subscribe(print_state, NULL);
	print_state(NULL);
	return ev_run() < 0 ? 1 : 0;
}
