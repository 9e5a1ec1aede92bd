/* gen-0.1.0.c - writes tests/upgrade/state/: runs release 0.1.0's (commit
 * 6bd72cf) own ddns.c over a config, with a scripted provider that accepts
 * every entry (or refuses, with badauth, those whose name ends in
 * "-failed"), so that the state files are exactly what that release writes.
 * Builds only in a 6bd72cf tree (see README here); not part of this build.
 *   legacygen CONFIG STATE_DIR IP */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ddns.h"
#include "ev.h"
#include "log.h"
#include "provider.h"

struct req { struct ev_timer *t; ddns_done_cb done; void *ctx; bool fail; };

static void fire(void *arg)
{
	struct req *r = arg;
	struct ddns_result res = { .outcome = r->fail ? DDNS_PERMFAIL : DDNS_OK };

	if (r->fail)
		snprintf(res.error, sizeof(res.error), "dyndns2 badauth: bad user name or password");
	ev_timer_free(r->t);
	r->done(r->ctx, &res);
	free(r);
}

static void *start(const struct cfg_ddns *cfg, const char *ip, ddns_done_cb done, void *ctx,
		   struct ddns_result *res)
{
	struct req *r = calloc(1, sizeof(*r));
	size_t n = strlen(cfg->name);

	r->done = done;
	r->ctx = ctx;
	r->fail = n > 7 && strcmp(cfg->name + n - 7, "-failed") == 0;
	r->t = ev_timer_new(fire, r);
	ev_timer_arm(r->t, 1);
	return r;
}

static void cancel(void *h) { (void)h; }

static const struct provider_ops fake = { DDNS_DYNDNS2, start, cancel };

static const struct provider_ops *lookup(enum ddns_family f) { return &fake; }

static struct ev_timer *stop;
static void on_stop(void *arg) { ev_break(); }

int main(int argc, char **argv)
{
	struct hp_config *cfg;
	struct config_errors errs = { 0 };
	bool ok;

	if (argc != 4)
		return 64;
	log_init(LOG_DEBUG, false);
	if (config_load(argv[1], &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		return 78;
	}
	free(cfg->daemon.state_dir);
	cfg->daemon.state_dir = strdup(argv[2]);
	ev_init();
	stop = ev_timer_new(on_stop, NULL);
	ddns_test_hooks(lookup, 1);
	ddns_init(cfg);
	ddns_set_external_ip(argv[3], true);
	for (int i = 0; i < 500; i++) {
		ev_timer_arm(stop, 10);
		ev_run();
		if (ddns_once_done(&ok))
			break;
	}
	ddns_shutdown();
	ddns_fini();
	config_free(cfg);
	return 0;
}
