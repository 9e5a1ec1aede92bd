/* test_ipsource.c - the choice of the external IP source: auto follows the
 * router while it reports an address and the web sources while it does
 * not, and back; a router whose protocols disagree hands nothing new on; gateway never leaves the router; interface hands on the
 * interface's address; status names the source and says why. The web
 * sources here are a closed port on loopback (they fail at once). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "ev.h"
#include "helper_proc.h"
#include "http.h"
#include "ipsource.h"

static char handed[64];
static int n_handed;
static bool handed_public;

static void on_ip(const char *ip, bool is_public)
{
	snprintf(handed, sizeof(handed), "%s", ip ? ip : "none");
	handed_public = is_public;
	n_handed++;
}

static const struct ipsource_hooks hooks = { .ip_changed = on_ip };
static char closed[] = "http://127.0.0.1:1/";
static char *closed_url[] = { closed };

static struct hp_config *config(enum ip_source mode, enum gw_protocol_pref proto,
				const char *ifname)
{
	static struct hp_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.gateway.protocol = proto;
	cfg.gateway.ip_source = mode;
	cfg.gateway.ip_source_if = (char *)ifname;
	cfg.gateway.check_urls = closed_url;
	cfg.gateway.n_check_urls = 1;
	cfg.gateway.allow_http = true;
	cfg.gateway.check_interval = 300;
	return &cfg;
}

static const char *status_str(const char *key)
{
	static char buf[1200];
	json_t *o = json_object();

	ipsource_status(o);
	snprintf(buf, sizeof(buf), "%s", json_is_string(json_object_get(o, key)) ?
		 json_string_value(json_object_get(o, key)) : "null");
	json_decref(o);
	return buf;
}

static void stop_loop(void *arg)
{
	ev_break();
}

/* Run the loop until n_handed grows (or a failsafe second passes). */
static void run_until_handed(void)
{
	struct ev_timer *t = ev_timer_new(stop_loop, NULL);
	int before = n_handed;

	for (int i = 0; i < 50 && n_handed == before; i++) {
		ev_timer_arm(t, 20);
		ev_run();
	}
	ev_timer_free(t);
}

static int setup(void **state)
{
	n_handed = 0;
	handed[0] = '\0';
	return ev_init();
}

static int teardown(void **state)
{
	ipsource_fini();
	http_fini();
	helper_proc_reap_all();
	ev_fini();
	return 0;
}

static void test_auto_follows_the_router_then_the_web(void **state)
{
	ipsource_init(config(IPSRC_AUTO, GW_PREF_AUTO, NULL), &hooks);
	/* nothing from the router yet: wait for it, hand nothing on (--once
	 * would take "unknown" for the router's answer) */
	assert_int_equal(n_handed, 0);
	assert_string_equal(status_str("ip_source"), "gateway");
	assert_string_equal(status_str("ip_source_detail"), "waiting for the gateway");
	ipsource_gateway_ip("203.0.113.2", true);
	assert_string_equal(handed, "203.0.113.2");
	assert_true(handed_public);
	assert_string_equal(status_str("ip_source_detail"), "external IP from the gateway");
	/* the router is gone: the web sources take over; their first word
	 * (here: none answered) is handed on */
	ipsource_gateway_ip(NULL, false);
	assert_string_equal(handed, "203.0.113.2");
	assert_string_equal(status_str("ip_source"), "web");
	run_until_handed();
	assert_string_equal(handed, "none");
	assert_true(strstr(status_str("ip_source_detail"),
			   "no mapping protocol answered; no web source answered") != NULL);
	assert_true(strstr(status_str("error"), "no web source answered") != NULL);
	assert_null(ipsource_ip());
	/* and back when it answers again */
	ipsource_gateway_ip("203.0.113.3", true);
	assert_string_equal(handed, "203.0.113.3");
	assert_string_equal(status_str("ip_source"), "gateway");
	assert_string_equal(ipsource_ip(), "203.0.113.3");
}

/* gateway.c's rule (SPEC "Which gateway is trusted"): protocols that name
 * different addresses publish nothing new. The router still answers, so the
 * web sources do not take over (nor stay on) and nothing is handed on. */
static void test_disputed_router_publishes_nothing(void **state)
{
	ipsource_init(config(IPSRC_AUTO, GW_PREF_AUTO, NULL), &hooks);
	ipsource_gateway_disputed();             /* before any address */
	assert_int_equal(n_handed, 0);
	assert_string_equal(status_str("ip_source"), "gateway");
	assert_string_equal(status_str("ip_source_detail"),
			    "the gateway's protocols disagree on the external IP");
	ipsource_gateway_ip("203.0.113.2", true);
	assert_int_equal(n_handed, 1);
	ipsource_gateway_disputed();             /* while the router is the source */
	assert_int_equal(n_handed, 1);
	/* the router is gone: the web; back with protocols that disagree: the
	 * web rests and its last word stays what was handed on */
	ipsource_gateway_ip(NULL, false);
	assert_string_equal(status_str("ip_source"), "web");
	run_until_handed();
	assert_string_equal(handed, "none");
	ipsource_gateway_disputed();
	assert_string_equal(status_str("ip_source"), "gateway");
	assert_string_equal(handed, "none");
	assert_int_equal(n_handed, 2);
	/* they agree again: that address is handed on, debounced */
	ipsource_gateway_ip("203.0.113.4", true);
	assert_string_equal(handed, "203.0.113.4");
	assert_string_equal(status_str("ip_source_detail"), "external IP from the gateway");
}

/* A reload to protocol = none and back: what the router said before the
 * router was left alone is not handed on again. */
static void test_no_protocol_forgets_the_router(void **state)
{
	ipsource_init(config(IPSRC_AUTO, GW_PREF_AUTO, NULL), &hooks);
	ipsource_gateway_ip("203.0.113.2", true);
	ipsource_apply_config(config(IPSRC_AUTO, GW_PREF_NONE, NULL));
	assert_string_equal(status_str("ip_source"), "web");
	run_until_handed();
	assert_string_equal(handed, "none");
	ipsource_apply_config(config(IPSRC_AUTO, GW_PREF_AUTO, NULL));
	assert_string_equal(status_str("ip_source"), "gateway");
	assert_string_equal(status_str("ip_source_detail"), "waiting for the gateway");
	assert_string_equal(handed, "none");
	assert_int_equal(n_handed, 2);
}

static void test_no_protocol_uses_the_web_at_once(void **state)
{
	ipsource_init(config(IPSRC_AUTO, GW_PREF_NONE, NULL), &hooks);
	assert_string_equal(status_str("ip_source"), "web");
	run_until_handed();
	assert_true(strstr(status_str("ip_source_detail"),
			   "protocol = none, the router is not asked; ") != NULL);
}

static void test_gateway_only(void **state)
{
	ipsource_init(config(IPSRC_GATEWAY, GW_PREF_AUTO, NULL), &hooks);
	ipsource_gateway_ip(NULL, false);
	assert_string_equal(status_str("ip_source"), "gateway");
	ipsource_gateway_ip("100.64.0.2", false);
	assert_string_equal(handed, "100.64.0.2");
	assert_false(handed_public);
}

static void test_interface(void **state)
{
	ipsource_init(config(IPSRC_INTERFACE, GW_PREF_NONE, "lo"), &hooks);
	/* the router's word does not count */
	ipsource_gateway_ip("203.0.113.2", true);
	assert_int_equal(n_handed, 0);
	run_until_handed();
	assert_string_equal(handed, "127.0.0.1");
	assert_false(handed_public);
	assert_string_equal(status_str("ip_source"), "interface");
	assert_string_equal(status_str("ip_source_detail"), "external IP from interface lo");
	assert_string_equal(status_str("external_ip"), "127.0.0.1");
	/* a reload to the web stops following the interface */
	ipsource_apply_config(config(IPSRC_WEB, GW_PREF_NONE, NULL));
	assert_string_equal(status_str("ip_source"), "web");
	run_until_handed();
	assert_string_equal(handed, "none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_auto_follows_the_router_then_the_web, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_disputed_router_publishes_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_protocol_forgets_the_router, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_protocol_uses_the_web_at_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_gateway_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interface, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
