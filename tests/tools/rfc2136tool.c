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

static struct cfg_value *value(struct cfg_ddns *cfg, const char *key)
{
	return &cfg->values[cfgkey_find(cfg->ops->keys, cfg->ops->n_keys, key)];
}

/* Set key to text, unchecked: the provider's own checks are under test. */
static void put(struct cfg_ddns *cfg, const char *key, const char *text)
{
	struct cfg_value *v = value(cfg, key);

	free(v->str);
	v->str = text ? xstrdup(text) : NULL;
}

/* SECRET or @FILE into the key fields of cfg. */
static void load_key(struct cfg_ddns *cfg, const char *name, const char *alg, const char *secret)
{
	char *text, *kname, *kalg, *ksecret, err[256];

	put(cfg, "key_name", strcmp(name, "-") ? name : NULL);
	put(cfg, "key_algorithm", strcmp(alg, "-") ? alg : NULL);
	if (secret[0] != '@') {
		config_ddns_set_secret(cfg, "key_secret_file", secret);
		return;
	}
	text = read_file(secret + 1);
	if (tsig_key_parse(text, &kname, &kalg, &ksecret, err, sizeof(err)) < 0) {
		printf("permfail: %s: %s\n", secret + 1, err);
		exit(2);
	}
	free_secret(text);
	if (!value(cfg, "key_name")->str)
		put(cfg, "key_name", kname);
	if (!value(cfg, "key_algorithm")->str)
		put(cfg, "key_algorithm", kalg);
	free(kname);
	free(kalg);
	config_ddns_set_secret(cfg, "key_secret_file", ksecret);
	free_secret(ksecret);
}

int main(int argc, char **argv)
{
	struct cfg_ddns cfg;
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
	config_ddns_init(&cfg, "tool", provider_preset_find("rfc2136"));
	put(&cfg, "server", argv[0]);
	put(&cfg, "zone", argv[1]);
	load_key(&cfg, argv[2], argv[3], argv[4]);
	cfg.hostnames = xcalloc((size_t)argc - 6, sizeof(char *));
	for (int i = 6; i < argc; i++)
		cfg.hostnames[cfg.n_hostnames++] = xstrdup(argv[i]);
	value(&cfg, "ttl")->num = ttl;
	value(&cfg, "timeout")->num = timeout;

	in_start = true;
	h = provider_start(cfg.ops, &cfg, strchr(argv[5], ':') ? DDNS_REC_AAAA : DDNS_REC_A,
			   argv[5], on_done, NULL, &result);
	in_start = false;
	if (h && ev_run() < 0)
		return 1;
	if (h && n_done != 1) {
		fprintf(stderr, "rfc2136tool: BUG: loop ended without a result\n");
		return 1;
	}
	config_ddns_fini(&cfg);
	ev_fini();
	if (result.outcome == DDNS_OK) {
		printf("ok\n");
		return 0;
	}
	printf("%s: %s\n", result.outcome == DDNS_PERMFAIL ? "permfail" : "tempfail", result.error);
	return result.outcome == DDNS_PERMFAIL ? 2 : 1;
}
