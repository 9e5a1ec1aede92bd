/* Unit tests for events: names and variables, the bounded queue, and the
 * store's promise: each real change announced once, nothing again after a
 * restart, a temporary DDNS failure only once it has lasted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "ev.h"
#include "event.h"
#include "log.h"
#include "provider.h"

static char dir[] = "/tmp/hp-test-event-XXXXXX";

/* Every event published, in order. */
static struct event seen[64];
static size_t n_seen;

static void collect(const struct event *ev, void *arg)
{
	if (n_seen < sizeof(seen) / sizeof(seen[0]))
		seen[n_seen++] = *ev;
}

static int setup(void **state)
{
	log_init(LOG_ERR, false);
	return mkdtemp(dir) && event_subscribe(collect, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[256];

	event_unsubscribe(collect, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int fresh_store(void **state)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/events.json", dir);
	unlink(path);
	n_seen = 0;
	return event_store_init(dir);
}

static int close_store(void **state)
{
	event_store_fini();
	return 0;
}

static void restart(void)
{
	event_store_fini();
	assert_int_equal(event_store_init(dir), 0);
	n_seen = 0;
}

static void test_names(void **state)
{
	for (int t = 0; t < EV__COUNT; t++)
		assert_int_equal(event_type_parse(event_type_name(t)), t);
	assert_int_equal(event_type_parse("ip-changed"), -1);
	assert_non_null(strstr(event_type_list(), "gateway-lost"));
	assert_non_null(strstr(event_var_list(), "%old_ip%"));
}

static void test_variables(void **state)
{
	struct event ev = { .type = EV_MAPPING_OK, .port = 18080, .time = 0, .seq = 7 };
	char buf[64], **env;
	bool found = false;

	strcpy(ev.name, "web");
	strcpy(ev.protocol, "tcp");
	assert_string_equal(event_var(&ev, "event", 5, buf, sizeof(buf)), "mapping-ok");
	assert_string_equal(event_var(&ev, "name", 4, buf, sizeof(buf)), "web");
	assert_string_equal(event_var(&ev, "port", 4, buf, sizeof(buf)), "18080");
	assert_string_equal(event_var(&ev, "time", 4, buf, sizeof(buf)), "1970-01-01T00:00:00Z");
	assert_string_equal(event_var(&ev, "old_ip", 6, buf, sizeof(buf)), "");
	assert_null(event_var(&ev, "hostname", 8, buf, sizeof(buf)));
	assert_true(event_var_known("ipv6", 4));
	assert_false(event_var_known("ip", 1));
	env = event_env(&ev);
	for (size_t i = 0; env[i]; i++) {
		assert_memory_equal(env[i], "HOMEPORT_", 9);
		if (strcmp(env[i], "HOMEPORT_PROTOCOL=tcp") == 0)
			found = true;
	}
	assert_true(found);
	event_env_free(env);
}

static void test_publish_cleans_strings(void **state)
{
	struct event ev = { .type = EV_DDNS_FAILED };

	n_seen = 0;
	strcpy(ev.error, "bad\r\nX-Injected: 1\x7f\xff");
	strcpy(ev.hostnames, "a.example b.example");
	event_publish(&ev);
	assert_int_equal(n_seen, 1);
	assert_string_equal(seen[0].error, "bad??X-Injected: 1??");
	assert_true(seen[0].seq > 0 && seen[0].time > 0);
	json_t *j = event_json(&seen[0]);
	assert_int_equal(json_array_size(json_object_get(j, "hostnames")), 2);
	assert_true(json_is_null(json_object_get(j, "ip")));
	json_decref(j);
}

static void test_queue_drops_oldest(void **state)
{
	struct event_queue q = { .cap = 4 };
	struct event ev = { 0 }, out;
	int dropped = 0;

	for (uint64_t i = 1; i <= 10; i++) {
		ev.seq = i;
		dropped += event_queue_push(&q, &ev);
	}
	assert_int_equal(dropped, 6);
	for (uint64_t want = 7; want <= 10; want++) {
		assert_true(event_queue_pop(&q, &out));
		assert_int_equal(out.seq, want);          /* in order, the newest kept */
	}
	assert_false(event_queue_pop(&q, &out));
	event_queue_clear(&q);
}

static void test_once_per_change(void **state)
{
	event_gateway(true, "192.168.1.1", NULL);
	event_gateway(true, "192.168.1.1", NULL);        /* found again: no news */
	event_ip("203.0.113.2", true);
	event_ip("203.0.113.2", true);
	event_mapping("web", "tcp", 18080, "pending", NULL);
	event_mapping("web", "tcp", 18080, "mapped", NULL);
	event_mapping("web", "tcp", 18080, "pending", "gateway unreachable");
	event_mapping("web", "tcp", 18080, "mapped", NULL);   /* back as it was */
	assert_int_equal(n_seen, 3);
	assert_int_equal(seen[0].type, EV_GATEWAY_FOUND);
	assert_string_equal(seen[0].name, "192.168.1.1");
	assert_int_equal(seen[1].type, EV_IP_CHANGE);
	assert_string_equal(seen[1].old_ip, "");
	assert_int_equal(seen[2].type, EV_MAPPING_OK);
	assert_int_equal(seen[2].port, 18080);
	assert_string_equal(seen[2].ip, "203.0.113.2");

	event_ip("203.0.113.3", true);
	event_mapping("web", "tcp", 18080, "lost", "vanished");
	event_mapping("web", "tcp", 18080, "mapped", NULL);
	event_mapping("web", "tcp", 18080, "conflict", "UPnP 718");
	event_gateway(false, NULL, "no answer");
	assert_int_equal(n_seen, 8);
	assert_int_equal(seen[3].type, EV_IP_CHANGE);
	assert_string_equal(seen[3].old_ip, "203.0.113.2");
	assert_string_equal(seen[3].ip, "203.0.113.3");
	assert_int_equal(seen[4].type, EV_MAPPING_LOST);
	assert_string_equal(seen[4].state, "pending");
	assert_int_equal(seen[5].type, EV_MAPPING_OK);
	assert_int_equal(seen[6].type, EV_MAPPING_FAILED);
	assert_string_equal(seen[6].state, "conflict");
	assert_string_equal(seen[6].error, "UPnP 718");
	assert_int_equal(seen[7].type, EV_GATEWAY_LOST);
	assert_string_equal(seen[7].name, "192.168.1.1");
	assert_string_equal(seen[7].error, "no answer");
}

static void test_restart_announces_nothing(void **state)
{
	event_gateway(true, "192.168.1.1", NULL);
	event_ip("203.0.113.2", true);
	event_mapping("web", "tcp", 18080, "mapped", NULL);
	assert_int_equal(n_seen, 3);
	restart();
	event_gateway(true, "192.168.1.1", NULL);
	event_mapping("web", "tcp", 18080, "mapped", NULL);
	event_ip("203.0.113.2", true);
	assert_int_equal(n_seen, 0);
	/* what changed while it was down is told once, with the old value */
	restart();
	event_ip("203.0.113.9", true);
	assert_int_equal(n_seen, 1);
	assert_string_equal(seen[0].old_ip, "203.0.113.2");
}

/* Whether events.json holds subject key. */
static bool stored(const char *key)
{
	char path[300];
	json_t *root, *subs;
	bool found;

	snprintf(path, sizeof(path), "%s/events.json", dir);
	root = json_load_file(path, 0, NULL);
	subs = json_object_get(root, "subjects");
	found = json_object_get(subs, key) != NULL;
	json_decref(root);
	return found;
}

static struct ev_timer *poll_timer;
static int64_t poll_deadline;

static void on_poll(void *arg)
{
	if (stored("mapping/e/tcp") || ev_now_ms() > poll_deadline)
		ev_break();
	else
		ev_timer_arm(poll_timer, 20);
}

static void announce_some(const char (*names)[8], size_t n)
{
	event_gateway(true, "192.168.1.1", NULL);
	event_ip("203.0.113.2", true);
	for (size_t i = 0; i < n; i++)
		event_mapping(names[i], "tcp", 18080 + (unsigned)i, "mapped", NULL);
}

/* Changes are written together a moment later by the loop (a start
 * mapping many services: one write, not two fsyncs per change), or at
 * once by event_store_flush (before a hook hears of them). */
static void test_burst_written_once(void **state)
{
	static const char names[][8] = { "a", "b", "c", "d", "e" };
	size_t n = sizeof(names) / sizeof(names[0]);

	announce_some(names, n);
	assert_int_equal(n_seen, n + 2);
	assert_false(stored("gateway"));
	assert_int_equal(ev_init(), 0);
	poll_deadline = ev_now_ms() + 5000;
	poll_timer = ev_timer_new(on_poll, NULL);
	ev_timer_arm(poll_timer, 0);
	assert_int_equal(ev_run(), 0);
	ev_timer_free(poll_timer);       /* no ev_fini: it would free the store's timer */
	assert_true(stored("gateway"));
	assert_true(stored("ip"));
	assert_true(stored("mapping/e/tcp"));
	restart();
	announce_some(names, n);
	assert_int_equal(n_seen, 0);
}

static void test_flush_writes_at_once(void **state)
{
	event_ip("203.0.113.2", true);
	assert_false(stored("ip"));
	event_store_flush();
	assert_true(stored("ip"));
	event_ip("203.0.113.3", true);
	event_store_flush();
	restart();
	event_ip("203.0.113.3", true);
	assert_int_equal(n_seen, 0);
}

static struct cfg_ddns *ddns_cfg(void)
{
	static char h1[] = "www.example.org", h2[] = "cam.example.org", name[] = "home";
	static char *hosts[] = { h1, h2 };
	static struct cfg_ddns c = { .name = name, .hostnames = hosts, .n_hostnames = 2 };

	return &c;
}

static void test_ddns(void **state)
{
	const struct cfg_ddns *c = ddns_cfg();

	event_ddns(c, DDNS_OK, "203.0.113.2", "", "");
	event_ddns(c, DDNS_OK, "203.0.113.2", "203.0.113.2", "");  /* forced, unchanged */
	assert_int_equal(n_seen, 1);
	assert_int_equal(seen[0].type, EV_DDNS_OK);
	assert_string_equal(seen[0].hostnames, "www.example.org cam.example.org");
	/* one temporary failure wakes nobody */
	event_ddns(c, DDNS_TEMPFAIL, "203.0.113.3", "203.0.113.2", "HTTP 500 from x");
	event_ddns(c, DDNS_OK, "203.0.113.3", "203.0.113.2", "");
	assert_int_equal(n_seen, 2);
	assert_int_equal(seen[1].type, EV_DDNS_OK);
	assert_string_equal(seen[1].old_ip, "203.0.113.2");
	/* a permanent one at once, and only once */
	event_ddns(c, DDNS_PERMFAIL, "203.0.113.4", "203.0.113.3", "badauth");
	event_ddns(c, DDNS_PERMFAIL, "203.0.113.4", "203.0.113.3", "badauth");
	assert_int_equal(n_seen, 3);
	assert_int_equal(seen[2].type, EV_DDNS_FAILED);
	assert_string_equal(seen[2].state, "failed");
	assert_string_equal(seen[2].error, "badauth");
	json_t *j = event_store_json();
	json_t *home = json_object_get(json_object_get(j, "ddns"), "home");
	assert_int_equal(json_integer_value(json_object_get(home, "sent")), 6);
	assert_int_equal(json_integer_value(json_object_get(home, "failed")), 3);
	json_decref(j);
}

static void test_ddns_temp_threshold(void **state)
{
	int64_t t0 = 1700000000;

	assert_false(event_ddns_temp_due(0, t0));
	assert_false(event_ddns_temp_due(t0, t0));
	assert_false(event_ddns_temp_due(t0, t0 + EVENT_DDNS_TEMP_THRESHOLD - 1));
	assert_true(event_ddns_temp_due(t0, t0 + EVENT_DDNS_TEMP_THRESHOLD));
	assert_true(event_ddns_temp_due(t0, t0 + 86400));
}

/* A streak of temporary failures that started long ago (kept across a
 * restart): the next failed attempt is the one that tells. */
static void test_ddns_long_temporary_failure(void **state)
{
	const struct cfg_ddns *c = ddns_cfg();
	char path[300];
	FILE *f;

	event_store_fini();
	snprintf(path, sizeof(path), "%s/events.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "{\"version\": 1, \"subjects\": {\"ddns/home\": {\"value\": \"ok\", "
		"\"detail\": \"203.0.113.2\", \"changed\": 1, \"trouble_since\": %lld}}}",
		(long long)time(NULL) - EVENT_DDNS_TEMP_THRESHOLD - 5);
	fclose(f);
	assert_int_equal(event_store_init(dir), 0);
	n_seen = 0;
	event_ddns(c, DDNS_TEMPFAIL, "203.0.113.3", "203.0.113.2", "HTTP 503 from x");
	event_ddns(c, DDNS_TEMPFAIL, "203.0.113.3", "203.0.113.2", "HTTP 503 from x");
	assert_int_equal(n_seen, 1);
	assert_int_equal(seen[0].type, EV_DDNS_FAILED);
	assert_string_equal(seen[0].state, "retrying");
	assert_string_equal(seen[0].error, "HTTP 503 from x");
	/* and the recovery is news */
	event_ddns(c, DDNS_OK, "203.0.113.3", "203.0.113.2", "");
	assert_int_equal(n_seen, 2);
	assert_int_equal(seen[1].type, EV_DDNS_OK);
}

static void test_bad_store_ignored(void **state)
{
	char path[300];
	FILE *f;

	event_store_fini();
	snprintf(path, sizeof(path), "%s/events.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"version\": 1, \"subjects\": {\"ip\": {\"value\": 5}, \"gateway\": "
	      "{\"value\": \"found\", \"detail\": \"192.168.1.1\", \"changed\": 1, "
	      "\"trouble_since\": 0}}}", f);
	fclose(f);
	assert_int_equal(event_store_init(dir), 0);
	n_seen = 0;
	event_gateway(true, "192.168.1.1", NULL);       /* the good entry survived */
	event_ip("203.0.113.2", true);                  /* the bad one was dropped */
	assert_int_equal(n_seen, 1);
	assert_int_equal(seen[0].type, EV_IP_CHANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_variables),
		cmocka_unit_test(test_publish_cleans_strings),
		cmocka_unit_test(test_queue_drops_oldest),
		cmocka_unit_test_setup_teardown(test_once_per_change, fresh_store, close_store),
		cmocka_unit_test_setup_teardown(test_restart_announces_nothing, fresh_store, close_store),
		cmocka_unit_test_setup_teardown(test_burst_written_once, fresh_store, close_store),
		cmocka_unit_test_setup_teardown(test_flush_writes_at_once, fresh_store, close_store),
		cmocka_unit_test_setup_teardown(test_ddns, fresh_store, close_store),
		cmocka_unit_test(test_ddns_temp_threshold),
		cmocka_unit_test_setup_teardown(test_ddns_long_temporary_failure, fresh_store, close_store),
		cmocka_unit_test_setup_teardown(test_bad_store_ignored, fresh_store, close_store),
	};
	return cmocka_run_group_tests_name("event", tests, setup, teardown);
}
