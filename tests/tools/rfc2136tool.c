/* rfc2136tool - run the rfc2136 provider once, in the event loop, exactly
 * as the daemon does, without the daemon. For the integration tests.
 *
 *   rfc2136tool [-v] [-t TIMEOUT] [-T TTL] SERVER ZONE KEYNAME ALG SECRET IP HOST...
 *
 * SECRET is the base64 secret, or @FILE: a secret file or a BIND key file
 * read through tsig_key_parse (then KEYNAME and ALG may be "-" to take the
 * file's). Prints "ok", "tempfail: ..." or "permfail: ..." and exits 0, 1
 * or 2 (64 on usage errors). Also checks the provider's promise: done runs
 * once, never from inside start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ev.h"
#include "log.h"
#include "provider.h"
#include "tsig.h"
#include "util.h"

static bool in_start;
static int n_done;
static struct ddns_result result;

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fprintf(stderr, "usage: rfc2136tool [-v] [-t TIMEOUT] [-T TTL] SERVER ZONE KEYNAME ALG "
		"SECRET|@FILE IP HOST...\n");
	exit(64);
}

static void on_done(void *ctx, const struct ddns_result *res)
{
	if (in_start) {
		fprintf(stderr, "rfc2136tool: BUG: done called from inside start\n");
		abort();
	}
	if (++n_done > 1) {
		fprintf(stderr, "rfc2136tool: BUG: done called twice\n");
		abort();
	}
	result = *res;
	ev_break();
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = xcalloc(1, 65536);
	size_t n;

	if (!f) {
		perror(path);
		exit(64);
	}
	n = fread(text, 1, 65535, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/* SECRET or @FILE into the key fields of cfg. */
static void load_key(struct cfg_ddns *cfg, const char *name, const char *alg, const char *secret)
{
	char *text, *kname, *kalg, *ksecret, err[256];

	cfg->key_name = strcmp(name, "-") ? xstrdup(name) : NULL;
	cfg->key_algorithm = strcmp(alg, "-") ? xstrdup(alg) : NULL;
	if (secret[0] != '@') {
		cfg->key_secret = xstrdup(secret);
		return;
	}
	text = read_file(secret + 1);
	if (tsig_key_parse(text, &kname, &kalg, &ksecret, err, sizeof(err)) < 0) {
		printf("permfail: %s: %s\n", secret + 1, err);
		exit(2);
	}
	free_secret(text);
	if (!cfg->key_name)
		cfg->key_name = kname;
	else
		free(kname);
	if (!cfg->key_algorithm)
		cfg->key_algorithm = kalg;
	else
		free(kalg);
	cfg->key_secret = ksecret;
}

int main(int argc, char **argv)
{
	struct cfg_ddns cfg = { 0 };
	void *h;
	int c, verbose = 0;
	uint32_t timeout = 0, ttl = 0;

	while ((c = getopt(argc, argv, "vt:T:")) != -1) {
		if (c == 'v')
			verbose++;
		else if (c == 't' && parse_duration(optarg, &timeout) == 0)
			continue;
		else if (c == 'T' && parse_duration(optarg, &ttl) == 0)
			continue;
		else
			usage();
	}
	argc -= optind;
	argv += optind;
	if (argc < 7)
		usage();
	log_init(verbose ? LOG_DEBUG : LOG_WARNING, false);
	if (ev_init() < 0)
		return 1;
	cfg.name = xstrdup("tool");
	cfg.provider = xstrdup("rfc2136");
	cfg.family = DDNS_RFC2136;
	cfg.server = xstrdup(argv[0]);
	cfg.zone = xstrdup(argv[1]);
	load_key(&cfg, argv[2], argv[3], argv[4]);
	cfg.hostnames = argv + 6;
	cfg.n_hostnames = (size_t)argc - 6;
	cfg.ttl = ttl;
	cfg.timeout = timeout;

	in_start = true;
	h = provider_rfc2136_ops.start(&cfg, argv[5], on_done, NULL, &result);
	in_start = false;
	if (h && ev_run() < 0)
		return 1;
	if (h && n_done != 1) {
		fprintf(stderr, "rfc2136tool: BUG: loop ended without a result\n");
		return 1;
	}
	free_secret(cfg.key_secret);
	free(cfg.key_name);
	free(cfg.key_algorithm);
	free(cfg.name);
	free(cfg.provider);
	free(cfg.server);
	free(cfg.zone);
	ev_fini();
	if (result.outcome == DDNS_OK) {
		printf("ok\n");
		return 0;
	}
	printf("%s: %s\n", result.outcome == DDNS_PERMFAIL ? "permfail" : "tempfail", result.error);
	return result.outcome == DDNS_PERMFAIL ? 2 : 1;
}
