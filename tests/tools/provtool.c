/* provtool - drive one DDNS provider without the daemon, for the
 * integration tests:
 *
 *   provtool FAMILY-OR-PRESET IP key=value...
 *   provtool --keys
 *
 * IP is published as an A record, or as AAAA when it is an IPv6 address.
 *
 * keys: hostname (repeatable), every key of the provider's table, parsed
 * as homeport.conf would (a *_file secret file is read; NAME=SECRET sets
 * the secret of NAME_file directly, e.g. password=, token=), and
 * cancel_after=MS (cancel the update after MS milliseconds: tests the
 * cancel path).
 *
 * --keys prints every provider's key table, one key a line: "FAMILY KEY
 * TYPE FLAGS..." (tests/config/docs.sh reads it).
 *
 * Runs the event loop until the provider is done and prints "ok",
 * "tempfail: MSG" or "permfail: MSG" (then "retry_after: N" when the
 * provider asked for a wait, and "elapsed_ms: N"). Exit 0 ok, 1 tempfail,
 * 2 permfail, 3 cancelled or stuck, 64 usage. Logs go to stderr at debug
 * level, so a test can check that no secret ever shows there. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ev.h"
#include "helper_proc.h"
#include "homeport.h"
#include "http.h"
#include "log.h"
#include "provider.h"
#include "util.h"

static bool in_start, finished, cancelled;
static struct ddns_result result;
static int64_t t0;

static void usage(void)
{
	fprintf(stderr, "usage: provtool FAMILY-OR-PRESET IP key=value...\n");
	exit(HP_EXIT_USAGE);
}

/* A secret file holds the secret alone, white space around it ignored. */
static char *read_secret(const char *path)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n, s = 0;

	if (!f) {
		fprintf(stderr, "provtool: %s: %s\n", path, strerror(errno));
		exit(HP_EXIT_USAGE);
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && strchr(" \t\r\n", buf[n - 1]))
		buf[--n] = '\0';
	while (buf[s] && strchr(" \t\r\n", buf[s]))
		s++;
	return xstrdup(buf + s);
}

static void add_host(struct cfg_ddns *c, const char *v)
{
	c->hostnames = xrealloc(c->hostnames, c->n_hostnames + 1, sizeof(char *));
	c->hostnames[c->n_hostnames++] = xstrdup(v);
}

/* A secret-file key: its path as written, and the secret read from it. */
static void set_secret_file(struct cfg_ddns *c, const char *k, const char *path)
{
	char *secret = read_secret(path), why[300];

	if (config_ddns_set(c, k, path, why, sizeof(why)) < 0 ||
	    config_ddns_set_secret(c, k, secret) < 0) {
		fprintf(stderr, "provtool: %s: %s\n", k, why);
		exit(HP_EXIT_USAGE);
	}
	free_secret(secret);
}

static void set_key(struct cfg_ddns *c, const char *k, const char *v, long *cancel_ms)
{
	char why[300], file_key[64];
	ssize_t i = cfgkey_find(c->ops->keys, c->ops->n_keys, k);

	snprintf(file_key, sizeof(file_key), "%s_file", k);
	if (strcmp(k, "hostname") == 0)
		add_host(c, v);
	else if (strcmp(k, "cancel_after") == 0)
		*cancel_ms = atol(v);
	else if (i >= 0 && cfgkey_is_secret_file(&c->ops->keys[i]))
		set_secret_file(c, k, v);
	else if (i < 0 && config_ddns_set_secret(c, file_key, v) == 0)
		return;
	else if (config_ddns_set(c, k, v, why, sizeof(why)) < 0) {
		fprintf(stderr, "provtool: %s: %s\n", k, why);
		exit(HP_EXIT_USAGE);
	}
}

/* Each family once (presets share their family's table). */
static void print_keys(void)
{
	const struct provider_preset *p;
	const struct provider_ops *seen[64];
	size_t n_seen = 0;

	for (size_t i = 0; (p = provider_preset_at(i)) != NULL; i++) {
		size_t j;
		for (j = 0; j < n_seen && seen[j] != p->ops; j++)
			;
		if (j < n_seen || n_seen == HP_ARRAY_LEN(seen))
			continue;
		seen[n_seen++] = p->ops;
		for (size_t k = 0; k < p->ops->n_keys; k++) {
			const struct cfgkey *key = &p->ops->keys[k];
			printf("%s %s %s%s%s%s%s\n", p->ops->name, key->name,
			       cfgkey_type_name(key->type),
			       key->flags & CK_REQUIRED ? " required" : "",
			       key->flags & CK_REPEAT ? " repeat" : "",
			       key->flags & CK_FP ? " fingerprint" : "",
			       cfgkey_is_secret_file(key) ? " secret" : "");
		}
	}
}

static void on_done(void *ctx, const struct ddns_result *res)
{
	if (in_start) {
		fprintf(stderr, "provtool: BUG: done called from inside start\n");
		abort();
	}
	if (finished || cancelled) {
		fprintf(stderr, "provtool: BUG: done called twice or after cancel\n");
		abort();
	}
	finished = true;
	result = *res;
	ev_break();
}

static int report(const struct ddns_result *r)
{
	static const char *names[] = { "ok", "tempfail", "permfail" };

	if (r->outcome == DDNS_OK)
		printf("ok\n");
	else
		printf("%s: %s\n", names[r->outcome], r->error);
	if (r->retry_after)
		printf("retry_after: %u\n", (unsigned)r->retry_after);
	printf("elapsed_ms: %lld\n", (long long)(ev_now_ms() - t0));
	fflush(stdout);
	return r->outcome == DDNS_OK ? 0 : r->outcome == DDNS_TEMPFAIL ? 1 : 2;
}

static void *handle;
static const struct provider_ops *ops;

static void on_quiet(void *arg)
{
	ev_break();
}

/* Cancel, then keep the loop running a while: done must not come. */
static void on_cancel(void *arg)
{
	struct ev_timer **quiet = arg;

	if (finished)
		return;
	ops->cancel(handle);
	handle = NULL;
	cancelled = true;
	printf("cancelled\n");
	fflush(stdout);
	ev_timer_arm(*quiet, 500);
}

static void on_stuck(void *arg)
{
	printf("stuck: no answer from the provider\n");
	ev_break();
}

/* build/tools/provtool uses build/homeport-http-helper. */
static void helper_next_to(const char *argv0)
{
	char path[4096];
	const char *slash = strrchr(argv0, '/');

	if (!slash)
		return;
	snprintf(path, sizeof(path), "%.*s/../homeport-http-helper", (int)(slash - argv0), argv0);
	http_helper_path(path);
}

int main(int argc, char **argv)
{
	const struct provider_preset *preset;
	struct cfg_ddns c;
	long cancel_ms = -1;
	struct ev_timer *cancel_t, *stuck_t, *quiet_t;
	ssize_t timeout;
	int rc = 3;

	if (argc == 2 && strcmp(argv[1], "--keys") == 0) {
		print_keys();
		return 0;
	}
	if (argc < 3)
		usage();
	preset = provider_preset_find(argv[1]);
	if (!preset) {
		fprintf(stderr, "provtool: unknown provider %s\n", argv[1]);
		return HP_EXIT_USAGE;
	}
	config_ddns_init(&c, "provtool", preset);
	for (int i = 3; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			usage();
		*eq = '\0';
		set_key(&c, argv[i], eq + 1, &cancel_ms);
	}
	log_init(LOG_DEBUG, false);
	helper_next_to(argv[0]);
	if (ev_init() < 0)
		return 3;
	ops = c.ops;
	t0 = ev_now_ms();
	in_start = true;
	handle = provider_start(ops, &c, strchr(argv[2], ':') ? DDNS_REC_AAAA : DDNS_REC_A, argv[2],
				on_done, NULL, &result);
	in_start = false;
	if (!handle) {
		rc = report(&result);
		goto out;
	}
	quiet_t = ev_timer_new(on_quiet, NULL);
	cancel_t = ev_timer_new(on_cancel, &quiet_t);
	stuck_t = ev_timer_new(on_stuck, NULL);
	if (cancel_ms >= 0)
		ev_timer_arm(cancel_t, cancel_ms);
	/* Far past any timeout the provider was given: a hang is a bug. */
	timeout = cfgkey_find(c.ops->keys, c.ops->n_keys, "timeout");
	ev_timer_arm(stuck_t, ((int64_t)(timeout >= 0 ? cfg_ddns_num(&c, (size_t)timeout) : 30)
			       * 4 + 5) * 1000);
	ev_run();
	if (finished)
		rc = report(&result);
out:
	http_fini();
	helper_proc_reap_all();
	ev_fini();
	config_ddns_fini(&c);
	return rc;
}
