/* Unit tests for the DDNS side: the pure policy (backoff, when to send,
 * fingerprint) and the state machine in ddns.c driven through the real event
 * loop against a scripted provider (ddns_test_hooks), with state files in a
 * temp dir: publishing at once, pacing, no resend of an unchanged IP, backoff,
 * retry on a new IP, sticky permanent
 * failures, CGNAT blocking, one request at a time, persistence across a
 * restart, corrupt state, reloads and --once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "ddns.h"
#include "ddns_policy.h"
#include "ev.h"
#include "log.h"
#include "provider.h"
#include "util.h"

/* ------------------------------------------------------------------ */
/* policy */

static void test_backoff_doubles_with_cap_and_jitter(void **state)
{
	uint32_t prev = 0;

	for (unsigned a = 1; a <= 7; a++) {
		uint32_t base = DDNS_BACKOFF_MIN << (a - 1), lo = UINT32_MAX, hi = 0;
		for (uint32_t r = 0; r < 2000; r++) {
			uint32_t d = ddns_policy_backoff(a, 0, r * 2654435761u);
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		assert_true(lo >= base - base / 10 && lo < base);
		assert_true(hi > base && hi <= base + base / 10);
		assert_true(lo > prev);
		prev = hi;
	}
	for (unsigned a = 8; a < 100; a += 13) {
		uint32_t d = ddns_policy_backoff(a, 0, (uint32_t)a * 7919);
		assert_true(d >= DDNS_BACKOFF_MAX - DDNS_BACKOFF_MAX / 10);
		assert_true(d <= DDNS_BACKOFF_MAX + DDNS_BACKOFF_MAX / 10);
	}
	/* the jitter really varies */
	assert_int_not_equal(ddns_policy_backoff(3, 0, 1), ddns_policy_backoff(3, 0, 20));
}

static void test_backoff_honours_retry_after(void **state)
{
	assert_int_equal(ddns_policy_backoff(1, 1800, 0), 1800);        /* 911: 30 min */
	assert_true(ddns_policy_backoff(8, 10, 0) >= 3240);             /* backoff longer */
	assert_int_equal(ddns_policy_backoff(1, 10u * 86400, 0), DDNS_RETRY_AFTER_MAX);
}

static struct ddns_facts facts(void)
{
	return (struct ddns_facts){
		.ip = "203.0.113.2", .is_public = true, .published_ip = "203.0.113.2",
		.now = 1000000, .last_update = 1000000 - 100, .last_attempt = 1000000 - 100,
		.force_interval = 30 * 86400,
	};
}

static void test_decide_sends_only_on_change(void **state)
{
	struct ddns_facts f = facts();
	int64_t w;

	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_IDLE);
	assert_int_equal(w, 30 * 86400 - 100);           /* look again for the keep-alive */
	f.ip = "203.0.113.3";
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_SEND);
	f = facts();
	f.published_ip = NULL;
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_SEND);
	f = facts();
	f.last_update = f.now - 30 * 86400;              /* keep-alive due */
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_SEND);
	f.force_interval = 0;                            /* never re-send */
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_IDLE);
	assert_int_equal(w, -1);
	f = facts();
	f.forced = true;
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_SEND);
	f = facts();
	f.ip = NULL;                                     /* unknown: nothing new */
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_IDLE);
}

static void test_decide_blocked_and_failed(void **state)
{
	struct ddns_facts f = facts();
	int64_t w;

	f.ip = "100.64.1.2";
	f.is_public = false;
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_BLOCK);
	f.forced = true;                                 /* not even on request */
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_BLOCK);
	f = facts();
	f.ip = "203.0.113.9";
	f.failed = true;
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_IDLE);
	f.is_public = false;                             /* failed stays failed */
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_IDLE);
	f.is_public = true;
	f.forced = true;                                 /* the user asks: one try */
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_SEND);
}

static void test_decide_waits_for_backoff_and_min_interval(void **state)
{
	struct ddns_facts f = facts();
	int64_t w;

	f.ip = "203.0.113.3";
	f.retry_at = f.now + 50;
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_WAIT);
	assert_int_equal(w, 50);
	f.forced = true;                                 /* skips the backoff ... */
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_SEND);
	f.min_interval = 60;
	f.last_attempt = f.now - 10;                     /* ... not min_interval */
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_WAIT);
	assert_int_equal(w, 50);
	f.forced = false;
	f.retry_at = f.now + 500;
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_WAIT);
	assert_int_equal(w, 500);
	f.retry_at = 0;
	f.last_attempt = f.now - 60;
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_SEND);
}

static void test_decide_retries_at_once_on_a_new_ip(void **state)
{
	struct ddns_facts f = facts();
	int64_t w;

	f.published_ip = "203.0.113.1";
	f.retry_at = f.now + 600;                        /* backing off after a 5xx ... */
	f.failed_ip = "203.0.113.2";
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_WAIT);
	assert_int_equal(w, 600);
	f.ip = "203.0.113.3";                            /* ... a new IP: at once */
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_SEND);
	f.told_to_wait = true;                           /* unless it asked us to wait */
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_WAIT);
	assert_int_equal(w, 600);
	f.told_to_wait = false;
	f.failed_ip = NULL;                              /* state without it: as before */
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_WAIT);
	f.failed_ip = "203.0.113.2";
	f.min_interval = 60;                             /* the preset's spacing still holds */
	f.last_attempt = f.now - 20;
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_WAIT);
	assert_int_equal(w, 40);
}

static void test_decide_paces_requests(void **state)
{
	struct ddns_facts f = facts();
	int64_t w, tat = 0, now = f.now;

	/* two back to back (a change and a change back), then one per interval */
	assert_int_equal(ddns_policy_pace_take(&tat, now, DDNS_PACE_BURST, DDNS_PACE_INTERVAL), 0);
	assert_int_equal(ddns_policy_pace_take(&tat, now + 1, DDNS_PACE_BURST, DDNS_PACE_INTERVAL), 0);
	assert_int_equal(ddns_policy_pace_take(&tat, now + 2, DDNS_PACE_BURST, DDNS_PACE_INTERVAL),
			 DDNS_PACE_INTERVAL - 2);
	f.ip = "203.0.113.3";
	f.now = now + 2;
	f.pace_tat = tat;
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_WAIT);
	assert_int_equal(w, DDNS_PACE_INTERVAL - 2);
	f.forced = true;                                 /* a user's request is paced apart */
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_SEND);
	f.forced = false;
	f.now = now + DDNS_PACE_INTERVAL;
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_SEND);
	f.ip = f.published_ip;                           /* flipped back meanwhile: nothing */
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_IDLE);
	/* changes further apart than the interval are never delayed */
	tat = 0;
	for (int64_t t = now; t < now + 20 * DDNS_PACE_INTERVAL; t += DDNS_PACE_INTERVAL)
		assert_int_equal(ddns_policy_pace_take(&tat, t, DDNS_PACE_BURST,
						       DDNS_PACE_INTERVAL), 0);
	/* a flapping line: one per interval over a day, plus the burst */
	tat = 0;
	for (int64_t t = now, sent = 0; t < now + 86400; t++) {
		if (ddns_policy_pace_take(&tat, t, DDNS_PACE_BURST, DDNS_PACE_INTERVAL) == 0)
			sent++;
		if (t == now + 86400 - 1)
			assert_int_equal(sent, 86400 / DDNS_PACE_INTERVAL + DDNS_PACE_BURST - 1);
	}
	/* the wall clock went back a day: at most one interval */
	assert_int_equal(ddns_policy_pace_wait(now + 86400, now, DDNS_PACE_BURST,
					       DDNS_PACE_INTERVAL), DDNS_PACE_INTERVAL);
}

static void test_forced_updates_are_paced(void **state)
{
	int64_t tat = 0, now = 1000000;

	for (int i = 0; i < DDNS_FORCE_BURST; i++)
		assert_int_equal(ddns_policy_force_take(&tat, now + i), 0);
	/* tat is now + 3 intervals: refused, 2 s past the start -> 598 s to wait */
	assert_int_equal(ddns_policy_force_take(&tat, now + 2), DDNS_FORCE_INTERVAL - 2);
	assert_int_equal(ddns_policy_force_take(&tat, now + 100), DDNS_FORCE_INTERVAL - 100);
	assert_int_equal(ddns_policy_force_take(&tat, now + DDNS_FORCE_INTERVAL), 0);
	assert_true(ddns_policy_force_take(&tat, now + DDNS_FORCE_INTERVAL) > 0);
	/* a loop can get no more than one per interval */
	for (int64_t t = now + DDNS_FORCE_INTERVAL, sent = 0; t < now + 86400; t++) {
		if (ddns_policy_force_take(&tat, t) == 0)
			sent++;
		if (t == now + 86400 - 1)
			assert_true(sent <= 86400 / DDNS_FORCE_INTERVAL);
	}
	/* the wall clock stepped back a day: at most one interval to wait */
	tat = now + 2 * 86400;
	assert_int_equal(ddns_policy_force_take(&tat, now), DDNS_FORCE_INTERVAL);
	/* a quiet hour refills the whole burst, no more */
	tat = 0;
	for (int i = 0; i < DDNS_FORCE_BURST; i++)
		assert_int_equal(ddns_policy_force_take(&tat, now + 3600), 0);
	assert_true(ddns_policy_force_take(&tat, now + 3600) > 0);
}

static void test_decide_survives_clock_steps(void **state)
{
	struct ddns_facts f = facts();
	int64_t w;

	/* the clock went back a year: waits stay bounded */
	f.ip = "203.0.113.3";
	f.min_interval = 60;
	f.last_attempt = f.now + 365 * 86400;
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_WAIT);
	assert_int_equal(w, 60);
	f.last_attempt = 0;
	f.retry_at = f.now + 365 * 86400;
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_WAIT);
	assert_int_equal(w, DDNS_RETRY_AFTER_MAX);
	f = facts();
	f.last_update = f.now + 365 * 86400;
	assert_int_equal(ddns_policy_decide(&f, &w), DDNS_IDLE);
	assert_int_equal(w, 30 * 86400);
}

/* ------------------------------------------------------------------ */
/* configs made by hand */

static struct provider_preset preset_plain = {
	"dyndns2", NULL, NULL, 0, NULL, 0, "test", PRESET_V6_MYIPV6, NULL,
};
static struct provider_preset preset_slow = {
	"slow", NULL, "https://x.example/nic/update", 0, NULL, 60, "test", PRESET_V6_MYIPV6, NULL,
};

static void set(struct cfg_ddns *c, const char *key, const char *text)
{
	char why[160];

	if (config_ddns_set(c, key, text, why, sizeof(why)) < 0)
		fail_msg("%s: %s", key, why);
}

static void fill_ddns(struct cfg_ddns *c, const char *name, const char *host, const char *password)
{
	preset_plain.ops = preset_slow.ops = provider_preset_find("dyndns2")->ops;
	config_ddns_init(c, name, &preset_plain);
	c->hostnames = xcalloc(1, sizeof(char *));
	c->hostnames[0] = xstrdup(host);
	c->n_hostnames = 1;
	c->force_interval = 30 * 86400;
	set(c, "server", "https://ddns.example.test/nic/update");
	set(c, "username", "homeport");
	config_ddns_set_secret(c, "password_file", password);
}

static void free_ddns(struct cfg_ddns *c)
{
	config_ddns_fini(c);
}

static char dir[] = "/tmp/hp-test-ddns-XXXXXX";

struct cfg_set {
	struct hp_config cfg;
	struct cfg_ddns d[2];
};

static struct cfg_set *make_cfg(size_t n, const char *password)
{
	struct cfg_set *s = xcalloc(1, sizeof(*s));

	s->cfg.daemon.state_dir = dir;
	s->cfg.ddns = s->d;
	s->cfg.n_ddns = n;
	fill_ddns(&s->d[0], "home", "www.dyn.example", password);
	if (n > 1)
		fill_ddns(&s->d[1], "cam", "cam.dyn.example", password);
	return s;
}

static void free_cfg(struct cfg_set *s)
{
	for (size_t i = 0; i < s->cfg.n_ddns; i++)
		free_ddns(&s->d[i]);
	free(s);
}

static void test_fingerprint(void **state)
{
	struct cfg_set *a = make_cfg(1, "pw1"), *b = make_cfg(1, "pw1");
	char fa[DDNS_FP_LEN + 1], fb[DDNS_FP_LEN + 1];

	assert_int_equal(ddns_policy_fingerprint(&a->d[0], "00ff", fa), 0);
	assert_int_equal(strlen(fa), DDNS_FP_LEN);
	assert_int_equal(ddns_policy_fingerprint(&b->d[0], "00ff", fb), 0);
	assert_string_equal(fa, fb);
	assert_null(strstr(fa, "pw1"));
	config_ddns_set_secret(&b->d[0], "password_file", "pw2");  /* a fixed password resets "failed" */
	assert_int_equal(ddns_policy_fingerprint(&b->d[0], "00ff", fb), 0);
	assert_string_not_equal(fa, fb);
	assert_int_equal(ddns_policy_fingerprint(&a->d[0], "00fe", fb), 0);
	assert_string_not_equal(fa, fb);                 /* salted */
	/* field boundaries count: user "ab" + pass "c" != user "a" + pass "bc" */
	set(&a->d[0], "username", "ab");
	config_ddns_set_secret(&a->d[0], "password_file", "c");
	set(&b->d[0], "username", "a");
	config_ddns_set_secret(&b->d[0], "password_file", "bc");
	assert_int_equal(ddns_policy_fingerprint(&a->d[0], "00", fa), 0);
	assert_int_equal(ddns_policy_fingerprint(&b->d[0], "00", fb), 0);
	assert_string_not_equal(fa, fb);
	free_cfg(a);
	free_cfg(b);
}

/* ------------------------------------------------------------------ */
/* a scripted provider */

struct fake_req {
	struct ev_timer *t;
	ddns_done_cb done;
	void *ctx;
};

static struct {
	int starts, cancels, inflight, max_inflight;
	char last_ip[64];
	char last_name[64];              /* the entry's name */
	bool hold;                       /* answer only on fake_complete() */
	struct ddns_result next;
	struct fake_req *held;
} fk;

static void fake_fire(void *arg)
{
	struct fake_req *r = arg;
	ddns_done_cb done = r->done;
	void *ctx = r->ctx;
	struct ddns_result res = fk.next;

	fk.inflight--;
	if (fk.held == r)
		fk.held = NULL;
	ev_timer_free(r->t);
	free(r);
	done(ctx, &res);
}

static void *fake_start(const struct cfg_ddns *cfg, enum ddns_record rec, const char *ip,
			ddns_done_cb done, void *ctx, struct ddns_result *res)
{
	struct fake_req *r = xcalloc(1, sizeof(*r));

	fk.starts++;
	if (++fk.inflight > fk.max_inflight)
		fk.max_inflight = fk.inflight;
	snprintf(fk.last_ip, sizeof(fk.last_ip), "%s", ip);
	snprintf(fk.last_name, sizeof(fk.last_name), "%s", cfg->name);
	r->done = done;
	r->ctx = ctx;
	r->t = ev_timer_new(fake_fire, r);
	if (!fk.hold)
		ev_timer_arm(r->t, 1);
	fk.held = r;
	return r;
}

static void fake_cancel(void *handle)
{
	struct fake_req *r = handle;

	fk.cancels++;
	fk.inflight--;
	if (fk.held == r)
		fk.held = NULL;
	ev_timer_free(r->t);
	free(r);
}

static const struct provider_ops fake_ops = {
	.name = "fake", .records = DDNS_REC_A, .start = fake_start, .cancel = fake_cancel,
};

static const struct provider_ops *fake_lookup(const struct provider_ops *real)
{
	return &fake_ops;
}

static void fake_complete(void)
{
	assert_non_null(fk.held);
	ev_timer_arm(fk.held->t, 0);
}

static void fake_answer(enum ddns_outcome o, uint32_t retry_after, const char *error)
{
	fk.next.outcome = o;
	fk.next.retry_after = retry_after;
	snprintf(fk.next.error, sizeof(fk.next.error), "%s", error);
}

static struct ev_timer *stop_timer;

static void on_stop(void *arg)
{
	ev_break();
}

static void run_ms(int ms)
{
	ev_timer_arm(stop_timer, ms);
	ev_run();
}

static int sm_setup(void **state)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -f %s/*.json", dir);
	if (system(cmd) != 0)
		return -1;
	memset(&fk, 0, sizeof(fk));
	fake_answer(DDNS_OK, 0, "");
	if (ev_init() < 0)
		return -1;
	stop_timer = ev_timer_new(on_stop, NULL);
	ddns_test_hooks(fake_lookup);
	return 0;
}

static int sm_teardown(void **state)
{
	ddns_fini();
	ev_timer_free(stop_timer);
	ev_fini();
	return 0;
}

/* The "ddns" status entry called name. */
static json_t *status_of(json_t *arr, const char *name)
{
	size_t i;
	json_t *o;

	json_array_foreach(arr, i, o)
		if (strcmp(json_string_value(json_object_get(o, "name")), name) == 0)
			return o;
	fail_msg("no status for %s", name);
	return NULL;
}

static void assert_state(const char *name, const char *want)
{
	json_t *st = ddns_status_json();
	const char *got = json_string_value(json_object_get(status_of(st, name), "state"));

	if (strcmp(got, want) != 0)
		fail_msg("%s: state %s, want %s", name, got, want);
	json_decref(st);
}

/* Run the loop until the scripted provider has answered everything it is
 * allowed to answer: fixed sleeps alone are flaky on a loaded machine. */
static void settle(void)
{
	run_ms(10);
	for (int i = 0; i < 400 && fk.inflight > 0 && !fk.hold; i++)
		run_ms(5);
}

static void set_ip_and_settle(const char *ip, bool pub)
{
	ddns_set_external_ip(ip, pub);
	run_ms(20);
	settle();
}

/* ------------------------------------------------------------------ */
/* state machine */

static void test_publish_once_per_change(void **state)
{
	struct cfg_set *c = make_cfg(1, "pw");
	json_t *st, *e;

	assert_int_equal(ddns_init(&c->cfg), 0);
	assert_state("home", "pending");
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.starts, 1);
	assert_string_equal(fk.last_ip, "203.0.113.2");
	st = ddns_status_json();
	e = status_of(st, "home");
	assert_string_equal(json_string_value(json_object_get(e, "state")), "ok");
	assert_string_equal(json_string_value(json_object_get(e, "published_ip")), "203.0.113.2");
	assert_string_equal(json_string_value(json_object_get(e, "provider")), "dyndns2");
	assert_string_equal(json_string_value(json_array_get(json_object_get(e, "hostnames"), 0)),
			    "www.dyn.example");
	assert_true(json_is_integer(json_object_get(e, "last_update_ago")));
	assert_true(json_is_null(json_object_get(e, "next_try_in")));
	assert_true(json_is_null(json_object_get(e, "error")));
	json_decref(st);

	/* the gateway repeats itself: no request (repeated nochg gets hosts banned) */
	for (int i = 0; i < 5; i++)
		set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.starts, 1);

	/* a change goes out at once, without waiting for the loop; changes while
	 * it is in flight fold into one follow-up with the newest IP, if any */
	fk.hold = true;
	ddns_set_external_ip("203.0.113.3", true);
	assert_int_equal(fk.starts, 2);
	assert_string_equal(fk.last_ip, "203.0.113.3");
	ddns_set_external_ip("203.0.113.2", true);
	ddns_set_external_ip("203.0.113.3", true);
	fk.hold = false;
	fake_complete();
	settle();
	assert_int_equal(fk.starts, 2);
	assert_state("home", "ok");
	/* flapping: .2 and .3 went out back to back; a third change within
	 * DDNS_PACE_INTERVAL waits its turn ... */
	ddns_set_external_ip("203.0.113.4", true);
	settle();
	assert_int_equal(fk.starts, 2);
	st = ddns_status_json();
	e = status_of(st, "home");
	assert_string_equal(json_string_value(json_object_get(e, "state")), "pending");
	assert_true(json_integer_value(json_object_get(e, "next_try_in")) >= DDNS_PACE_INTERVAL - 5);
	assert_true(json_integer_value(json_object_get(e, "next_try_in")) <= DDNS_PACE_INTERVAL);
	json_decref(st);
	/* ... and a change back before then costs nothing more */
	ddns_set_external_ip("203.0.113.3", true);
	settle();
	assert_int_equal(fk.starts, 2);
	assert_state("home", "ok");
	st = ddns_status_json();
	assert_true(json_is_null(json_object_get(status_of(st, "home"), "next_try_in")));
	json_decref(st);
	/* unknown IP: nothing new */
	ddns_set_external_ip(NULL, false);
	run_ms(20);
	settle();
	assert_int_equal(fk.starts, 2);
	assert_state("home", "ok");
	assert_int_equal(fk.max_inflight, 1);
	ddns_fini();
	free_cfg(c);
}

static json_int_t next_try_of(const char *name)
{
	json_t *st = ddns_status_json();
	json_int_t n = json_integer_value(json_object_get(status_of(st, name), "next_try_in"));

	json_decref(st);
	return n;
}

static void test_tempfail_backs_off(void **state)
{
	struct cfg_set *c = make_cfg(1, "pw");
	json_t *st, *e;

	assert_int_equal(ddns_init(&c->cfg), 0);
	fake_answer(DDNS_TEMPFAIL, 0, "HTTP 500");
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.starts, 1);
	st = ddns_status_json();
	e = status_of(st, "home");
	assert_string_equal(json_string_value(json_object_get(e, "state")), "retrying");
	assert_true(json_integer_value(json_object_get(e, "next_try_in")) >= 27);
	assert_true(json_integer_value(json_object_get(e, "next_try_in")) <= 33);
	assert_string_equal(json_string_value(json_object_get(e, "error")), "HTTP 500");
	assert_true(json_is_null(json_object_get(e, "published_ip")));
	json_decref(st);
	/* the same IP again does not cut the backoff short */
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.starts, 1);
	assert_state("home", "retrying");
	/* when the provider asked us to wait (911: 30 min), a new IP does not either */
	fake_answer(DDNS_TEMPFAIL, 1800, "dyndns2 911: provider outage");
	assert_int_equal(ddns_force_update("home", NULL, 0), 0);
	settle();
	assert_int_equal(fk.starts, 2);
	assert_true(next_try_of("home") >= 1790);
	set_ip_and_settle("203.0.113.3", true);
	assert_int_equal(fk.starts, 2);
	assert_state("home", "retrying");
	assert_true(next_try_of("home") >= 1790);
	/* a user's request does */
	fake_answer(DDNS_OK, 0, "");
	assert_int_equal(ddns_force_update("home", NULL, 0), 0);
	settle();
	assert_int_equal(fk.starts, 3);
	assert_string_equal(fk.last_ip, "203.0.113.3");
	assert_state("home", "ok");
	assert_int_equal(ddns_force_update("nosuch", NULL, 0), -1);
	ddns_fini();
	free_cfg(c);
}

/* A new IP is a new reason to send: an entry backing off after a timeout or
 * a 5xx tries again at once, also after a restart (the failed IP is kept). */
static void test_new_ip_cuts_a_backoff_short(void **state)
{
	struct cfg_set *c = make_cfg(1, "pw");
	json_int_t next;

	assert_int_equal(ddns_init(&c->cfg), 0);
	fake_answer(DDNS_TEMPFAIL, 0, "HTTP 503");
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.starts, 1);
	assert_state("home", "retrying");
	/* kept across a restart: the failed IP, and that nobody asked us to wait */
	ddns_shutdown();
	ddns_fini();
	ddns_test_hooks(fake_lookup);
	assert_int_equal(ddns_init(&c->cfg), 0);
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.starts, 1);
	assert_state("home", "retrying");
	ddns_set_external_ip("203.0.113.3", true);
	assert_int_equal(fk.starts, 2);                  /* at once */
	assert_string_equal(fk.last_ip, "203.0.113.3");
	settle();
	assert_state("home", "retrying");                /* failed again: backs off longer */
	assert_true(next_try_of("home") >= 54);
	/* one more new IP: the backoff does not hold it, only the pacing does */
	set_ip_and_settle("203.0.113.4", true);
	assert_int_equal(fk.starts, 2);
	next = next_try_of("home");
	assert_true(next >= DDNS_PACE_INTERVAL - 5 && next <= DDNS_PACE_INTERVAL);
	ddns_fini();
	free_cfg(c);
}

/* ... unless the provider asked us to wait, which a restart remembers too. */
static void test_told_to_wait_holds_across_restart(void **state)
{
	struct cfg_set *c = make_cfg(1, "pw");

	assert_int_equal(ddns_init(&c->cfg), 0);
	fake_answer(DDNS_TEMPFAIL, 120, "HTTP 429 (Retry-After 120)");
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.starts, 1);
	ddns_shutdown();
	ddns_fini();
	ddns_test_hooks(fake_lookup);
	assert_int_equal(ddns_init(&c->cfg), 0);
	set_ip_and_settle("203.0.113.5", true);
	assert_int_equal(fk.starts, 1);
	assert_state("home", "retrying");
	assert_true(next_try_of("home") >= 110 && next_try_of("home") <= 120);
	ddns_fini();
	free_cfg(c);
}

/* A restart does not refill the pacing: a flapping line with a crashing
 * daemon is still paced. */
static void test_pacing_survives_restart(void **state)
{
	struct cfg_set *c = make_cfg(1, "pw");

	assert_int_equal(ddns_init(&c->cfg), 0);
	set_ip_and_settle("203.0.113.2", true);
	set_ip_and_settle("203.0.113.3", true);
	assert_int_equal(fk.starts, 2);
	ddns_shutdown();
	ddns_fini();
	ddns_test_hooks(fake_lookup);
	assert_int_equal(ddns_init(&c->cfg), 0);
	set_ip_and_settle("203.0.113.4", true);
	assert_int_equal(fk.starts, 2);
	assert_state("home", "pending");
	assert_true(next_try_of("home") >= DDNS_PACE_INTERVAL - 5);
	ddns_fini();
	free_cfg(c);
}

static void test_permfail_is_sticky_until_forced(void **state)
{
	struct cfg_set *c = make_cfg(1, "pw");
	json_t *st;

	assert_int_equal(ddns_init(&c->cfg), 0);
	fake_answer(DDNS_PERMFAIL, 0, "dyndns2 badauth: wrong username or password");
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.starts, 1);
	assert_state("home", "failed");
	set_ip_and_settle("203.0.113.3", true);
	set_ip_and_settle("203.0.113.4", true);
	assert_int_equal(fk.starts, 1);
	assert_state("home", "failed");
	st = ddns_status_json();
	assert_non_null(strstr(json_string_value(json_object_get(status_of(st, "home"), "error")),
			       "badauth"));
	assert_true(json_is_null(json_object_get(status_of(st, "home"), "next_try_in")));
	json_decref(st);
	/* failed survives a restart with the same config ... */
	ddns_shutdown();
	ddns_fini();
	ddns_test_hooks(fake_lookup);
	assert_int_equal(ddns_init(&c->cfg), 0);
	assert_state("home", "failed");
	set_ip_and_settle("203.0.113.5", true);
	assert_int_equal(fk.starts, 1);
	/* ... and a forced update gets one try */
	fake_answer(DDNS_OK, 0, "");
	assert_int_equal(ddns_force_update(NULL, NULL, 0), 0);
	settle();
	assert_int_equal(fk.starts, 2);
	assert_state("home", "ok");
	ddns_fini();
	free_cfg(c);
}

static void test_changed_secret_resets_failed_across_restart(void **state)
{
	struct cfg_set *c = make_cfg(1, "wrong"), *fixed = make_cfg(1, "right");

	assert_int_equal(ddns_init(&c->cfg), 0);
	fake_answer(DDNS_PERMFAIL, 0, "dyndns2 badauth");
	set_ip_and_settle("203.0.113.2", true);
	assert_state("home", "failed");
	ddns_shutdown();
	ddns_fini();
	ddns_test_hooks(fake_lookup);
	fake_answer(DDNS_OK, 0, "");
	assert_int_equal(ddns_init(&fixed->cfg), 0);
	assert_state("home", "pending");
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.starts, 2);
	assert_state("home", "ok");
	ddns_fini();
	free_cfg(c);
	free_cfg(fixed);
}

static void test_restart_same_ip_sends_nothing(void **state)
{
	struct cfg_set *c = make_cfg(1, "pw");
	json_t *st;

	assert_int_equal(ddns_init(&c->cfg), 0);
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.starts, 1);
	ddns_shutdown();
	ddns_shutdown();                                 /* idempotent */
	ddns_fini();
	ddns_test_hooks(fake_lookup);
	assert_int_equal(ddns_init(&c->cfg), 0);
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.starts, 1);
	st = ddns_status_json();
	assert_string_equal(json_string_value(json_object_get(status_of(st, "home"), "state")), "ok");
	assert_string_equal(json_string_value(json_object_get(status_of(st, "home"),
							       "published_ip")), "203.0.113.2");
	json_decref(st);
	set_ip_and_settle("203.0.113.9", true);          /* but a change is published */
	assert_int_equal(fk.starts, 2);
	ddns_fini();
	free_cfg(c);
}

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_corrupt_state_is_ignored(void **state)
{
	static const char *const bad[] = {
		"{\"version\": 1, \"published_ip\": ",
		"[1, 2]",
		"{\"version\": 1, \"salt\": \"00\", \"fingerprint\": 5}",
		"{\"version\": 1, \"salt\": \"0123456789abcdef0123456789abcdef\", "
		"\"published_ip\": \"not an ip\", \"fingerprint\": \"x\"}",
		"{\"version\": 1, \"salt\": \"0123456789abcdef0123456789abcdef\", "
		"\"last_update\": -5, \"fingerprint\": \"x\"}",
		"{\"version\": 1, \"salt\": \"0123456789abcdef0123456789abcdef\", "
		"\"attempts\": 99999999, \"fingerprint\": \"x\"}",
		"{\"version\": 2}",
		"",
	};
	struct cfg_set *c = make_cfg(1, "pw");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file("ddns-home.json", bad[i]);
		assert_int_equal(ddns_init(&c->cfg), 0);
		assert_state("home", "pending");
		set_ip_and_settle("203.0.113.2", true);
		assert_int_equal(fk.starts, (int)i + 1);     /* fresh entry: publishes */
		ddns_fini();
		ddns_test_hooks(fake_lookup);
	}
	ddns_fini();
	free_cfg(c);
}

static void test_cgnat_blocks_then_resumes(void **state)
{
	struct cfg_set *c = make_cfg(1, "pw");
	json_t *st;
	const char *err;

	assert_int_equal(ddns_init(&c->cfg), 0);
	set_ip_and_settle("100.64.1.2", true);           /* the caller's verdict is checked */
	assert_int_equal(fk.starts, 0);
	assert_state("home", "blocked");
	st = ddns_status_json();
	err = json_string_value(json_object_get(status_of(st, "home"), "error"));
	assert_non_null(err);
	assert_non_null(strstr(err, "100.64.1.2 is not public"));
	json_decref(st);
	assert_int_equal(ddns_force_update("home", NULL, 0), -2); /* never a private IP, and it says so */
	settle();
	assert_int_equal(fk.starts, 0);
	set_ip_and_settle("203.0.113.7", false);         /* gateway: double NAT */
	assert_int_equal(fk.starts, 0);
	assert_state("home", "blocked");
	set_ip_and_settle("203.0.113.7", true);
	assert_int_equal(fk.starts, 1);
	assert_string_equal(fk.last_ip, "203.0.113.7");
	assert_state("home", "ok");
	ddns_fini();
	free_cfg(c);
}

static void test_one_request_at_a_time(void **state)
{
	struct cfg_set *c = make_cfg(1, "pw");

	assert_int_equal(ddns_init(&c->cfg), 0);
	fk.hold = true;
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.starts, 1);
	assert_state("home", "pending");
	set_ip_and_settle("203.0.113.3", true);          /* changes while in flight */
	set_ip_and_settle("203.0.113.4", true);
	assert_int_equal(fk.starts, 1);
	fk.hold = false;
	fake_complete();
	settle();
	assert_int_equal(fk.starts, 2);                  /* then the newest IP, once */
	assert_string_equal(fk.last_ip, "203.0.113.4");
	assert_int_equal(fk.max_inflight, 1);
	assert_state("home", "ok");
	ddns_fini();
	free_cfg(c);
}

static void test_min_interval_spaces_requests(void **state)
{
	struct cfg_set *c = make_cfg(1, "pw");
	json_t *st;
	json_int_t next;

	c->d[0].preset = &preset_slow;
	assert_int_equal(ddns_init(&c->cfg), 0);
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.starts, 1);
	set_ip_and_settle("203.0.113.3", true);
	assert_int_equal(fk.starts, 1);
	st = ddns_status_json();
	assert_string_equal(json_string_value(json_object_get(status_of(st, "home"), "state")),
			    "pending");
	next = json_integer_value(json_object_get(status_of(st, "home"), "next_try_in"));
	assert_true(next >= 58 && next <= 61);
	json_decref(st);
	ddns_fini();
	free_cfg(c);
}

static void test_reload_keeps_resets_and_drops(void **state)
{
	struct cfg_set *c = make_cfg(2, "pw"), *same = make_cfg(2, "pw"), *changed;

	assert_int_equal(ddns_init(&c->cfg), 0);
	fake_answer(DDNS_PERMFAIL, 0, "dyndns2 nohost");
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.starts, 2);
	assert_state("home", "failed");
	assert_state("cam", "failed");
	/* an identical config keeps the state: no request */
	ddns_apply_config(&same->cfg);
	free_cfg(c);
	settle();
	assert_int_equal(fk.starts, 2);
	assert_state("home", "failed");
	/* "home" changed, "cam" removed while in flight */
	fake_answer(DDNS_OK, 0, "");
	fk.hold = true;
	assert_int_equal(ddns_force_update("cam", NULL, 0), 0);
	run_ms(10);
	assert_int_equal(fk.starts, 3);
	changed = make_cfg(1, "pw");
	free(changed->d[0].hostnames[0]);
	changed->d[0].hostnames[0] = xstrdup("new.dyn.example");
	fk.hold = false;
	ddns_apply_config(&changed->cfg);
	free_cfg(same);
	assert_int_equal(fk.cancels, 1);
	settle();
	assert_int_equal(fk.starts, 4);
	assert_state("home", "ok");
	{
		json_t *st = ddns_status_json();
		assert_int_equal(json_array_size(st), 1);
		json_decref(st);
	}
	assert_int_equal(access("/tmp", F_OK), 0);
	{
		char path[256];
		snprintf(path, sizeof(path), "%s/ddns-cam.json", dir);
		assert_int_not_equal(access(path, F_OK), 0);     /* dropped with the entry */
	}
	ddns_fini();
	free_cfg(changed);
}

static void test_forced_updates_refused_after_a_burst(void **state)
{
	struct cfg_set *c = make_cfg(2, "pw");
	char why[400] = "";

	assert_int_equal(ddns_init(&c->cfg), 0);
	fake_answer(DDNS_OK, 0, "");
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.starts, 2);
	for (int i = 0; i < DDNS_FORCE_BURST; i++) {
		assert_int_equal(ddns_force_update("home", why, sizeof(why)), 0);
		settle();
	}
	assert_int_equal(fk.starts, 2 + DDNS_FORCE_BURST);
	/* one too many: refused, said so, nothing sent; "cam" still may */
	assert_int_equal(ddns_force_update("home", why, sizeof(why)), -3);
	{
		const char *at = strstr(why, "home (next allowed in ");
		assert_non_null(at);
		long wait_s = strtol(at + strlen("home (next allowed in "), NULL, 10);
		assert_true(wait_s > DDNS_FORCE_INTERVAL - 5 && wait_s <= DDNS_FORCE_INTERVAL);
	}
	assert_non_null(strstr(why, "one every 10 min"));
	assert_int_equal(ddns_force_update(NULL, why, sizeof(why)), -3);
	assert_non_null(strstr(why, "queued for the others"));
	settle();
	assert_int_equal(fk.starts, 3 + DDNS_FORCE_BURST);
	assert_string_equal(fk.last_name, "cam");
	/* a restart does not refill it */
	ddns_shutdown();
	ddns_fini();
	ddns_test_hooks(fake_lookup);
	assert_int_equal(ddns_init(&c->cfg), 0);
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(ddns_force_update("home", NULL, 0), -3);
	settle();
	assert_int_equal(fk.starts, 3 + DDNS_FORCE_BURST);
	ddns_fini();
	free_cfg(c);
}

static void test_shutdown_cancels_in_flight(void **state)
{
	struct cfg_set *c = make_cfg(1, "pw");

	assert_int_equal(ddns_init(&c->cfg), 0);
	fk.hold = true;
	set_ip_and_settle("203.0.113.2", true);
	assert_int_equal(fk.inflight, 1);
	ddns_shutdown();
	assert_int_equal(fk.inflight, 0);
	assert_int_equal(fk.cancels, 1);
	ddns_shutdown();
	assert_int_equal(fk.cancels, 1);
	ddns_set_external_ip("203.0.113.3", true);       /* ignored after shutdown */
	assert_int_equal(ddns_force_update(NULL, NULL, 0), 0);
	run_ms(20);
	assert_int_equal(fk.starts, 1);
	ddns_fini();
	free_cfg(c);
}

static void test_once_done(void **state)
{
	struct cfg_set *c = make_cfg(2, "pw");
	bool ok = true;

	assert_int_equal(ddns_init(&c->cfg), 0);
	assert_false(ddns_once_done(&ok));               /* no IP yet */
	ddns_set_external_ip(NULL, false);               /* the gateway gave up */
	assert_true(ddns_once_done(&ok));
	assert_false(ok);
	fake_answer(DDNS_TEMPFAIL, 0, "HTTP 500");
	set_ip_and_settle("203.0.113.2", true);
	assert_true(ddns_once_done(&ok));                /* retrying after one attempt */
	assert_false(ok);
	fake_answer(DDNS_OK, 0, "");
	ddns_force_update(NULL, NULL, 0);
	settle();
	assert_true(ddns_once_done(&ok));
	assert_true(ok);
	ddns_fini();
	free_cfg(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_doubles_with_cap_and_jitter),
		cmocka_unit_test(test_backoff_honours_retry_after),
		cmocka_unit_test(test_decide_sends_only_on_change),
		cmocka_unit_test(test_decide_blocked_and_failed),
		cmocka_unit_test(test_decide_waits_for_backoff_and_min_interval),
		cmocka_unit_test(test_decide_survives_clock_steps),
		cmocka_unit_test(test_decide_retries_at_once_on_a_new_ip),
		cmocka_unit_test(test_decide_paces_requests),
		cmocka_unit_test(test_forced_updates_are_paced),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test_setup_teardown(test_publish_once_per_change, sm_setup, sm_teardown),
		cmocka_unit_test_setup_teardown(test_tempfail_backs_off, sm_setup, sm_teardown),
		cmocka_unit_test_setup_teardown(test_new_ip_cuts_a_backoff_short, sm_setup, sm_teardown),
		cmocka_unit_test_setup_teardown(test_told_to_wait_holds_across_restart, sm_setup,
						sm_teardown),
		cmocka_unit_test_setup_teardown(test_pacing_survives_restart, sm_setup, sm_teardown),
		cmocka_unit_test_setup_teardown(test_permfail_is_sticky_until_forced, sm_setup, sm_teardown),
		cmocka_unit_test_setup_teardown(test_changed_secret_resets_failed_across_restart,
						sm_setup, sm_teardown),
		cmocka_unit_test_setup_teardown(test_restart_same_ip_sends_nothing, sm_setup, sm_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_state_is_ignored, sm_setup, sm_teardown),
		cmocka_unit_test_setup_teardown(test_cgnat_blocks_then_resumes, sm_setup, sm_teardown),
		cmocka_unit_test_setup_teardown(test_one_request_at_a_time, sm_setup, sm_teardown),
		cmocka_unit_test_setup_teardown(test_min_interval_spaces_requests, sm_setup, sm_teardown),
		cmocka_unit_test_setup_teardown(test_reload_keeps_resets_and_drops, sm_setup, sm_teardown),
		cmocka_unit_test_setup_teardown(test_forced_updates_refused_after_a_burst, sm_setup,
						sm_teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_cancels_in_flight, sm_setup, sm_teardown),
		cmocka_unit_test_setup_teardown(test_once_done, sm_setup, sm_teardown),
	};
	int rc;

	log_init(getenv("HP_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERR, false);
	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	{
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			rc = 1;
	}
	return rc;
}
