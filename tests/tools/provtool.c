/* provtool - drive one DDNS provider without the daemon, for the
 * integration tests:
 *
 *   provtool FAMILY-OR-PRESET IP key=value...
 *
 * keys: server username password password_file token token_file zone
 * hostname (repeatable) ttl proxied url method header (repeatable) body
 * success_regex ca_file timeout allow_http, and cancel_after=MS (cancel
 * the update after MS milliseconds: tests the cancel path).
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

static void add_header(struct cfg_ddns *c, const char *v)
{
	c->headers = xrealloc(c->headers, c->n_headers + 1, sizeof(*c->headers));
	c->headers[c->n_headers++].value = xstrdup(v);
}

static uint32_t num(const char *k, const char *v)
{
	uint32_t n;

	if (parse_duration(v, &n) < 0) {
		fprintf(stderr, "provtool: bad %s\n", k);
		exit(HP_EXIT_USAGE);
	}
	return n;
}

static bool flag(const char *k, const char *v)
{
	bool b;

	if (parse_bool(v, &b) < 0) {
		fprintf(stderr, "provtool: bad %s\n", k);
		exit(HP_EXIT_USAGE);
	}
	return b;
}

static void set_key(struct cfg_ddns *c, const char *k, const char *v, long *cancel_ms)
{
	struct { const char *key; char **dst; } strs[] = {
		{ "server", &c->server }, { "username", &c->username },
		{ "password", &c->password }, { "token", &c->token }, { "zone", &c->zone },
		{ "url", &c->url }, { "method", &c->method }, { "body", &c->body },
		{ "success_regex", &c->success_regex }, { "ca_file", &c->ca_file },
	};

	for (size_t i = 0; i < HP_ARRAY_LEN(strs); i++) {
		if (strcmp(k, strs[i].key) == 0) {
			free(*strs[i].dst);
			*strs[i].dst = xstrdup(v);
			return;
		}
	}
	if (strcmp(k, "hostname") == 0)
		add_host(c, v);
	else if (strcmp(k, "header") == 0)
		add_header(c, v);
	else if (strcmp(k, "password_file") == 0) {
		free_secret(c->password);
		c->password = read_secret(v);
	} else if (strcmp(k, "token_file") == 0) {
		free_secret(c->token);
		c->token = read_secret(v);
	}
	else if (strcmp(k, "ttl") == 0)
		c->ttl = num(k, v);
	else if (strcmp(k, "timeout") == 0)
		c->timeout = num(k, v);
	else if (strcmp(k, "proxied") == 0)
		c->proxied = flag(k, v);
	else if (strcmp(k, "allow_http") == 0)
		c->allow_http = flag(k, v);
	else if (strcmp(k, "cancel_after") == 0)
		*cancel_ms = atol(v);
	else {
		fprintf(stderr, "provtool: unknown key %s\n", k);
		exit(HP_EXIT_USAGE);
	}
}

static void cfg_free(struct cfg_ddns *c)
{
	char *strs[] = { c->server, c->username, c->zone, c->url, c->method, c->body,
			 c->success_regex, c->ca_file };

	for (size_t i = 0; i < HP_ARRAY_LEN(strs); i++)
		free(strs[i]);
	free_secret(c->password);
	free_secret(c->token);
	for (size_t i = 0; i < c->n_hostnames; i++)
		free(c->hostnames[i]);
	free(c->hostnames);
	for (size_t i = 0; i < c->n_headers; i++)
		free_secret(c->headers[i].value);
	free(c->headers);
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

int main(int argc, char **argv)
{
	struct cfg_ddns c = { .name = (char *)"provtool" };
	long cancel_ms = -1;
	struct ev_timer *cancel_t, *stuck_t, *quiet_t;
	int rc = 3;

	if (argc < 3)
		usage();
	c.provider = argv[1];
	c.preset = provider_preset_find(argv[1]);
	if (!c.preset) {
		fprintf(stderr, "provtool: unknown provider %s\n", argv[1]);
		return HP_EXIT_USAGE;
	}
	c.family = c.preset->family;
	for (int i = 3; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			usage();
		*eq = '\0';
		set_key(&c, argv[i], eq + 1, &cancel_ms);
	}
	log_init(LOG_DEBUG, false);
	if (ev_init() < 0)
		return 3;
	ops = provider_ops_for(c.family);
	t0 = ev_now_ms();
	in_start = true;
	handle = ops->start(&c, argv[2], on_done, NULL, &result);
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
	ev_timer_arm(stuck_t, ((int64_t)(c.timeout ? c.timeout : 30) * 4 + 5) * 1000);
	ev_run();
	if (finished)
		rc = report(&result);
out:
	http_fini();
	ev_fini();
	cfg_free(&c);
	return rc;
}
