/* bench_upnpfloor - the router's floor for the mapping benchmark: one
 * minimal client (plain miniupnpc, blocking, no event loop, no helper
 * process) that sends N AddPortMapping requests back to back to a known
 * IGD root description URL.
 *
 *   bench_upnpfloor URL LANIP add|del N BASEPORT INTPORT [LEASE]
 *
 * "add" maps TCP BASEPORT..BASEPORT+N-1 to LANIP:INTPORT+i, "del" deletes
 * them. Prints one line:
 *   floor op=add n=50 ok=50 desc_ms=1.234 ops_ms=56.789 total_ms=58.023
 * desc_ms is fetching and parsing the root description once, ops_ms the N
 * requests. Exit 0 if all N succeeded, 1 otherwise, 64 on usage errors.
 * Needs nothing from homeport; it links against the project's objects only
 * because the Makefile links every test tool that way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long arg_num(const char *s, long min, long max)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < min || v > max) {
		fprintf(stderr, "bench_upnpfloor: bad number %s\n", s);
		exit(64);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct UPNPUrls urls;
	struct IGDdatas data;
	char lanaddr[64] = "";
	double t0, t1, t2;
	long n, base, intport, lease = 3600, ok = 0;
	int add;

	if (argc < 7 || argc > 8) {
		fprintf(stderr, "usage: bench_upnpfloor URL LANIP add|del N BASEPORT INTPORT [LEASE]\n");
		return 64;
	}
	if (strcmp(argv[3], "add") && strcmp(argv[3], "del")) {
		fprintf(stderr, "bench_upnpfloor: op must be add or del\n");
		return 64;
	}
	add = !strcmp(argv[3], "add");
	n = arg_num(argv[4], 1, 10000);
	base = arg_num(argv[5], 1, 65535);
	intport = arg_num(argv[6], 1, 65535);
	if (argc == 8)
		lease = arg_num(argv[7], 0, 604800);
	if (base + n - 1 > 65535 || intport + n - 1 > 65535) {
		fprintf(stderr, "bench_upnpfloor: port range too large\n");
		return 64;
	}

	memset(&urls, 0, sizeof(urls));
	memset(&data, 0, sizeof(data));
	t0 = now_ms();
	if (UPNP_GetIGDFromUrl(argv[1], &urls, &data, lanaddr, sizeof(lanaddr)) != 1) {
		fprintf(stderr, "bench_upnpfloor: no IGD at %s\n", argv[1]);
		return 1;
	}
	t1 = now_ms();
	for (long i = 0; i < n; i++) {
		char ext[8], in[8], dur[12];
		int r;

		snprintf(ext, sizeof(ext), "%ld", base + i);
		snprintf(in, sizeof(in), "%ld", intport + i);
		snprintf(dur, sizeof(dur), "%ld", lease);
		if (add)
			r = UPNP_AddPortMapping(urls.controlURL, data.first.servicetype, ext, in,
						argv[2], "bench floor", "TCP", NULL, dur);
		else
			r = UPNP_DeletePortMapping(urls.controlURL, data.first.servicetype, ext,
						   "TCP", NULL);
		if (r == UPNPCOMMAND_SUCCESS)
			ok++;
		else
			fprintf(stderr, "bench_upnpfloor: %s %s: %d %s\n", argv[3], ext, r, strupnperror(r));
	}
	t2 = now_ms();
	printf("floor op=%s n=%ld ok=%ld desc_ms=%.3f ops_ms=%.3f total_ms=%.3f\n", argv[3], n, ok,
	       t1 - t0, t2 - t1, t2 - t0);
	FreeUPNPUrls(&urls);
	return ok == n ? 0 : 1;
}
