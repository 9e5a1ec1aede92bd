/* Upgrade from release 0.1.0 (commit 6bd72cf): its DDNS state files carry
 * the fingerprint of that release, which hashed fields, not named keys.
 * tests/upgrade/ holds a config with an entry per provider family and the
 * state files 0.1.0's own ddns.c wrote for it (tests/upgrade/README). The
 * legacy fingerprint must reproduce each one from the config as read today,
 * must not match once the config changes, and ddns.c must take the files
 * over (published IP, failed) and rewrite them under today's fingerprint.
 * Run from the tree root (make check-unit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "config.h"
#include "ddns.h"
#include "ddns_policy.h"
#include "ev.h"
#include "log.h"
#include "provider.h"
#include "util.h"

#define FIXTURE "tests/upgrade"
#define PUBLISHED "203.0.113.7"      /* what the fixtures' state says was published */

static const char *const secrets[] = {
	"noip.pass", "dyn.pass", "he.pass", "cf.token", "duck.token", "bind.key", "bare.key",
};

static struct hp_config *cfg;

static int load_fixture(void **state)
{
	struct config_errors errs = { 0 };
	char path[256];

	/* git does not keep modes, and secret files readable by others are refused */
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		snprintf(path, sizeof(path), FIXTURE "/%s", secrets[i]);
		if (chmod(path, 0600) < 0) {
			fprintf(stderr, "%s: run from the tree root\n", path);
			return -1;
		}
	}
	if (config_load(FIXTURE "/homeport.conf", &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		config_errors_free(&errs);
		return -1;
	}
	return 0;
}

static int free_fixture(void **state)
{
	config_free(cfg);
	return 0;
}

/* The salt and fingerprint of a state file in dir. */
static void read_state(const char *dir, const char *name, char *salt, char *fp)
{
	char path[512];
	json_error_t jerr;
	json_t *o;

	snprintf(path, sizeof(path), "%s/ddns-%s.json", dir, name);
	o = json_load_file(path, 0, &jerr);
	if (o == NULL)
		fail_msg("%s: %s", path, jerr.text);
	snprintf(salt, 64, "%s", json_string_value(json_object_get(o, "salt")) ?: "");
	snprintf(fp, 64, "%s", json_string_value(json_object_get(o, "fingerprint")) ?: "");
	json_decref(o);
}

/* Does the legacy fingerprint of d under the fixture's salt give the fixture's? */
static bool legacy_matches(const struct cfg_ddns *d)
{
	char salt[64], want[64], got[DDNS_FP_LEN + 1];

	read_state(FIXTURE "/state", d->name, salt, want);
	return ddns_policy_fingerprint_legacy(d, salt, got) == 0 && strcmp(got, want) == 0;
}

static void test_every_family_has_a_fixture(void **state)
{
	static const char *const families[] = {
		"dyndns2", "cloudflare", "duckdns", "rfc2136", "webhook",
	};

	assert_int_equal(cfg->n_ddns, 10);
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		size_t n = 0;
		for (size_t i = 0; i < cfg->n_ddns; i++)
			n += strcmp(cfg->ddns[i].ops->name, families[f]) == 0;
		if (n == 0)
			fail_msg("%s: no fixture entry", families[f]);
	}
}

static void test_legacy_fingerprint_matches_release_0_1_0(void **state)
{
	for (size_t i = 0; i < cfg->n_ddns; i++) {
		const struct cfg_ddns *d = &cfg->ddns[i];
		char salt[64], want[64], now[DDNS_FP_LEN + 1];

		if (!legacy_matches(d))
			fail_msg("%s: the legacy fingerprint differs from 0.1.0's", d->name);
		/* why the legacy one is needed at all */
		read_state(FIXTURE "/state", d->name, salt, want);
		assert_int_equal(ddns_policy_fingerprint(d, salt, now), 0);
		assert_string_not_equal(now, want);
	}
}

static void test_another_hostname_does_not_match(void **state)
{
	for (size_t i = 0; i < cfg->n_ddns; i++) {
		struct cfg_ddns *d = &cfg->ddns[i];

		d->hostnames = xrealloc(d->hostnames, d->n_hostnames + 1, sizeof(char *));
		d->hostnames[d->n_hostnames++] = xstrdup("other.home.example");
		if (legacy_matches(d))
			fail_msg("%s: another hostname still matches", d->name);
		free(d->hostnames[--d->n_hostnames]);
		assert_true(legacy_matches(d));
	}
}

static struct cfg_ddns *entry(const char *name)
{
	struct cfg_ddns *d = (struct cfg_ddns *)config_find_ddns(cfg, name);

	assert_non_null(d);
	return d;
}

/* Set key of entry name to text: the legacy fingerprint must no longer match. */
static void assert_change_counts(const char *name, const char *key, const char *text)
{
	struct cfg_ddns *d = entry(name);
	char why[160];

	if (config_ddns_set(d, key, text, why, sizeof(why)) < 0)
		fail_msg("%s: %s = %s: %s", name, key, text, why);
	if (legacy_matches(d))
		fail_msg("%s: %s = %s still matches", name, key, text);
}

static void test_a_changed_key_does_not_match(void **state)
{
	assert_change_counts("noip", "server", "https://other.example.test/nic/update");
	assert_change_counts("dyn2", "allow_http", "no");
	assert_change_counts("cf", "proxied", "no");
	assert_change_counts("cf-min", "ttl", "120");
	assert_change_counts("bind", "key_algorithm", "hmac-sha256");
	assert_change_counts("bind-bare", "zone", "example.org");
	assert_change_counts("hook", "header", "X-Extra: 1");
	assert_change_counts("hook-min", "method", "POST");
	/* secrets count by content */
	assert_int_equal(config_ddns_set_secret(entry("duck"), "token_file", "other-token"), 0);
	assert_false(legacy_matches(entry("duck")));
	assert_int_equal(config_ddns_set_secret(entry("he-failed"), "password_file", "fixed"), 0);
	assert_false(legacy_matches(entry("he-failed")));
}

/* 0.1.0 had no header_file and no other providers: such an entry cannot
 * have a state file of that release. */
static void test_what_0_1_0_lacked_never_matches(void **state)
{
	static const struct provider_ops later_ops = { .name = "later" };
	static const struct provider_preset later = { .name = "later", .ops = &later_ops };
	struct cfg_ddns d;
	char fp[DDNS_FP_LEN + 1], why[160];

	assert_true(legacy_matches(entry("hook-min")));
	assert_int_equal(config_ddns_set(entry("hook-min"), "header_file", "hook.headers", why,
					 sizeof(why)), 0);
	assert_false(legacy_matches(entry("hook-min")));

	config_ddns_init(&d, "later", &later);
	assert_int_equal(ddns_policy_fingerprint(&d, "00", fp), 0);
	assert_int_equal(ddns_policy_fingerprint_legacy(&d, "00", fp), -1);
	config_ddns_fini(&d);
}

/* ---- ddns.c takes the files over ---- */

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

static void assert_taken_over(json_t *st, const struct cfg_ddns *d, const char *dir)
{
	json_t *o = status_of(st, d->name);
	const char *ip = json_string_value(json_object_get(o, "published_ip"));
	const char *state = json_string_value(json_object_get(o, "state"));
	char salt[64], old_salt[64], fp[64], old_fp[64], now[DDNS_FP_LEN + 1];

	if (strcmp(d->name, "he-failed") == 0) {
		if (strcmp(state, "failed") != 0)
			fail_msg("he-failed: state %s, want failed (it would retry)", state);
	} else if (ip == NULL || strcmp(ip, PUBLISHED) != 0) {
		fail_msg("%s: published_ip %s, want " PUBLISHED " (it would resend)", d->name,
			 ip ? ip : "null");
	}
	/* rewritten at once, same salt, today's fingerprint */
	read_state(dir, d->name, salt, fp);
	read_state(FIXTURE "/state", d->name, old_salt, old_fp);
	assert_string_equal(salt, old_salt);
	assert_int_equal(ddns_policy_fingerprint(d, salt, now), 0);
	if (strcmp(fp, now) != 0)
		fail_msg("%s: state file not rewritten with today's fingerprint", d->name);
}

static char updir[] = "/tmp/hp-test-upgrade-XXXXXX";

/* The fixture with its state files copied to a directory of their own. */
static int takeover_setup(void **state)
{
	char cmd[512];

	memcpy(updir + sizeof(updir) - 7, "XXXXXX", 6);   /* a new one each time */
	if (load_fixture(state) < 0 || mkdtemp(updir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "cp -p " FIXTURE "/state/*.json %s/", updir);
	if (system(cmd) != 0)
		return -1;
	free(cfg->daemon.state_dir);
	cfg->daemon.state_dir = xstrdup(updir);
	return ev_init();
}

static int takeover_teardown(void **state)
{
	char cmd[512];

	ddns_fini();
	ev_fini();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", updir);
	if (system(cmd) != 0)
		return -1;
	return free_fixture(state);
}

static void test_ddns_takes_the_state_over(void **state)
{
	json_t *st;

	assert_int_equal(ddns_init(cfg), 0);
	st = ddns_status_json();
	for (size_t i = 0; i < cfg->n_ddns; i++)
		assert_taken_over(st, &cfg->ddns[i], updir);
	json_decref(st);
}

/* Upgrading and asking for AAAA records at once: the A record keeps the
 * state of 0.1.0 (the AAAA record has a state file of its own). */
static void test_aaaa_added_on_upgrade_keeps_the_a_state(void **state)
{
	json_t *st;

	for (size_t i = 0; i < cfg->n_ddns; i++)
		if (provider_records(cfg->ddns[i].preset) & DDNS_REC_AAAA)
			cfg->ddns[i].records = DDNS_REC_A | DDNS_REC_AAAA;
	assert_int_equal(ddns_init(cfg), 0);
	st = ddns_status_json();
	for (size_t i = 0; i < cfg->n_ddns; i++)
		assert_taken_over(st, &cfg->ddns[i], updir);
	json_decref(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_family_has_a_fixture,
						load_fixture, free_fixture),
		cmocka_unit_test_setup_teardown(test_legacy_fingerprint_matches_release_0_1_0,
						load_fixture, free_fixture),
		cmocka_unit_test_setup_teardown(test_another_hostname_does_not_match,
						load_fixture, free_fixture),
		cmocka_unit_test_setup_teardown(test_a_changed_key_does_not_match,
						load_fixture, free_fixture),
		cmocka_unit_test_setup_teardown(test_what_0_1_0_lacked_never_matches,
						load_fixture, free_fixture),
		cmocka_unit_test_setup_teardown(test_ddns_takes_the_state_over,
						takeover_setup, takeover_teardown),
		cmocka_unit_test_setup_teardown(test_aaaa_added_on_upgrade_keeps_the_a_state,
						takeover_setup, takeover_teardown),
	};

	log_init(getenv("HP_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
