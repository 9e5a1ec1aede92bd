/* Unit tests for mapping.c's state machine without a router: a scripted
 * fake gateway protocol (one more row of the backend table, see
 * gw_backends_test_row) records every request mapping.c makes; each test
 * answers them with the outcome it wants and checks the state, the error
 * sentence, the next request and the calls back into gateway.c. Covered:
 * a confirmed add, lease-0 read-back, conflict, refusal (secure mode, not
 * authorized, a protocol that maps only for the asking host), the
 * permanent-lease fallback, a port handed back, a reboot (mapping gone at
 * verification, an answer showing a lost table, re-map all), gateway loss,
 * shutdown (delete only what still is ours; keep_mappings) and a restart
 * adopting what an earlier run made. */
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
#include "ev.h"
#include "gw_backend.h"
#include "log.h"
#include "mapping.h"

#define LAN "192.168.77.10"
#define GW "192.168.77.1"
#define CAM "192.168.77.20"

enum fake_op { F_MAP, F_READ, F_UNMAP };

struct fake_req {
	enum fake_op op;
	struct gw_map_req q;
	gw_cb cb;
	void *arg;
	uint64_t id;
	bool live;
};

static struct {
	struct fake_req reqs[64];
	size_t n;
	uint64_t next_id;
} F;

static struct {
	int lost, trouble, state_lost, done;
	char why[200];
} H;

static uint64_t submit(enum fake_op op, const struct gw_map_req *q, gw_cb cb, void *arg)
{
	struct fake_req *r;

	assert_true(F.n < 64);
	r = &F.reqs[F.n++];
	*r = (struct fake_req){ .op = op, .q = *q, .cb = cb, .arg = arg, .id = ++F.next_id,
				.live = true };
	return r->id;
}

static uint64_t fake_map(const struct gw_map_req *q, gw_cb cb, void *arg)
{
	return submit(F_MAP, q, cb, arg);
}

static uint64_t fake_read(const struct gw_map_req *q, gw_cb cb, void *arg)
{
	return submit(F_READ, q, cb, arg);
}

static uint64_t fake_unmap(const struct gw_map_req *q, gw_cb cb, void *arg)
{
	return submit(F_UNMAP, q, cb, arg);
}

static void fake_cancel(uint64_t id)
{
	for (size_t i = 0; i < F.n; i++)
		if (F.reqs[i].id == id)
			F.reqs[i].live = false;
}

static void fake_nothing(void)
{
}

/* A UPnP-like protocol (maps for others, reads back) and a NAT-PMP-like one. */
static const struct gw_backend fake_igd = {
	.name = "fake", .label = "FAKE", .caps = GW_CAP_OTHER_HOST | GW_CAP_READ_BACK,
	.stop = fake_nothing, .map = fake_map, .read_back = fake_read, .unmap = fake_unmap,
	.cancel = fake_cancel, .cancel_all = fake_nothing,
};

static const struct gw_backend fake_pmp = {
	.name = "fakepmp", .label = "FAKEPMP", .caps = GW_CAP_EPOCH,
	.stop = fake_nothing, .map = fake_map, .unmap = fake_unmap,
	.cancel = fake_cancel, .cancel_all = fake_nothing,
};

static size_t live(enum fake_op op)
{
	size_t n = 0;

	for (size_t i = 0; i < F.n; i++)
		n += F.reqs[i].live && F.reqs[i].op == op;
	return n;
}

/* The oldest live request of op (the test fails without one). */
static struct fake_req *pending(enum fake_op op)
{
	for (size_t i = 0; i < F.n; i++)
		if (F.reqs[i].live && F.reqs[i].op == op)
			return &F.reqs[i];
	fail_msg("no %s request pending", op == F_MAP ? "map" : op == F_READ ? "read" : "unmap");
	return NULL;
}

static void answer(enum fake_op op, const struct gw_result *r)
{
	struct fake_req *q = pending(op);

	q->live = false;
	q->cb(q->arg, r);
}

static void answer_ok_map(uint32_t lease, bool confirmed)
{
	struct fake_req *q = pending(F_MAP);
	struct gw_result r = { .outcome = GW_OK };

	r.u.map.ext_port = q->q.ext_port;
	r.u.map.int_port = q->q.int_port;
	r.u.map.lease = lease;
	r.u.map.confirmed = confirmed;
	answer(F_MAP, &r);
}

static void answer_read(const char *host, uint16_t port, const char *desc, uint32_t lease)
{
	struct gw_result r = { .outcome = GW_OK };

	snprintf(r.u.map.int_host, sizeof(r.u.map.int_host), "%s", host);
	r.u.map.int_port = port;
	snprintf(r.u.map.desc, sizeof(r.u.map.desc), "%s", desc);
	r.u.map.lease = lease;
	answer(F_READ, &r);
}

static void answer_outcome(enum fake_op op, enum gw_outcome o, const char *error)
{
	struct gw_result r = { .outcome = o };

	snprintf(r.error, sizeof(r.error), "%s", error);
	answer(op, &r);
}

static void on_break(void *arg)
{
	ev_break();
}

/* One pass of the event loop: mappings.json is written and the marked
 * adds go out (mapping.c sends them from a 0 ms timer). */
static void pump(void)
{
	struct ev_timer *t = ev_timer_new(on_break, NULL);

	ev_timer_arm(t, 5);
	ev_run();
	ev_timer_free(t);
}

static void hook_lost(const char *why)
{
	H.lost++;
	snprintf(H.why, sizeof(H.why), "%s", why);
}

static void hook_trouble(const char *why)
{
	H.trouble++;
}

static void hook_state_lost(const char *why)
{
	H.state_lost++;
	snprintf(H.why, sizeof(H.why), "%s", why);
}

static const struct mapping_hooks hooks = {
	.gateway_lost = hook_lost, .gateway_trouble = hook_trouble, .state_lost = hook_state_lost,
};

/* ---- config and status ---- */

static char dir[] = "/tmp/hp-test-mapping-XXXXXX";
static struct cfg_service svcs[4];
static struct hp_config cfg;

static void service(size_t i, const char *name, uint16_t in, uint16_t ext, const char *host,
		    uint32_t lease)
{
	svcs[i] = (struct cfg_service){ .name = (char *)name, .protocols = SVC_TCP,
					.internal_port = in, .external_port = ext,
					.internal_host = (char *)host, .lease = lease };
	if (cfg.n_services < i + 1)
		cfg.n_services = i + 1;
}

static void up(const struct gw_backend *be)
{
	struct mapping_gw gw = { .via = be, .answering = { be }, .check_interval = 300 };

	snprintf(gw.address, sizeof(gw.address), GW);
	snprintf(gw.lan_addr, sizeof(gw.lan_addr), LAN);
	mapping_gateway_up(&gw);
	pump();
}

static void start(bool stored)
{
	cfg.daemon.state_dir = stored ? dir : NULL;
	cfg.services = svcs;
	assert_int_equal(mapping_init(&cfg), 0);
	mapping_set_hooks(&hooks);
}

/* The status entry of service i as "state|error". */
static const char *status(size_t i, json_t **keep)
{
	static char buf[512];
	json_t *a = mapping_status_json(), *e = json_array_get(a, i);
	const char *err = json_string_value(json_object_get(e, "error"));

	snprintf(buf, sizeof(buf), "%s|%s", json_string_value(json_object_get(e, "state")),
		 err ? err : "");
	if (keep)
		*keep = a;
	else
		json_decref(a);
	return buf;
}

static int setup(void **state)
{
	log_init(LOG_EMERG, false);
	memset(&F, 0, sizeof(F));
	memset(&H, 0, sizeof(H));
	memset(&cfg, 0, sizeof(cfg));
	memset(svcs, 0, sizeof(svcs));
	strcpy(dir, "/tmp/hp-test-mapping-XXXXXX");
	if (!mkdtemp(dir) || ev_init() < 0)
		return -1;
	srand48(1);
	service(0, "web", 8080, 18080, NULL, 3600);
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	mapping_fini();
	ev_fini();
	gw_backends_test_row(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- tests ---- */

static void test_confirmed_add_is_mapped(void **state)
{
	json_t *a, *e;

	start(false);
	assert_string_equal(status(0, NULL), "pending|");
	up(&fake_igd);
	assert_int_equal(live(F_MAP), 1);
	assert_int_equal(pending(F_MAP)->q.ext_port, 18080);
	assert_int_equal(pending(F_MAP)->q.int_port, 8080);
	assert_string_equal(pending(F_MAP)->q.int_host, LAN);
	assert_string_equal(pending(F_MAP)->q.desc, "homeport:web");
	assert_int_equal(pending(F_MAP)->q.lease, 3600);
	answer_ok_map(3600, true);
	assert_string_equal(status(0, &a), "mapped|");
	e = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(e, "via")), "fake");
	assert_int_equal(json_integer_value(json_object_get(e, "lease")), 3600);
	json_decref(a);
	assert_int_equal(live(F_READ), 0);         /* the answer was proof enough */
	assert_int_equal(H.lost + H.trouble + H.state_lost, 0);
}

static void test_unconfirmed_add_is_read_back(void **state)
{
	start(false);
	up(&fake_igd);
	answer_ok_map(3600, false);
	assert_string_equal(status(0, NULL), "pending|");
	assert_int_equal(live(F_READ), 1);
	answer_read(LAN, 8080, "homeport:web", 3500);
	assert_string_equal(status(0, NULL), "mapped|");
}

static void test_conflict_with_another_host(void **state)
{
	start(false);
	up(&fake_igd);
	answer_outcome(F_MAP, GW_CONFLICT, "FAKE 718 ConflictInMappingEntry");
	assert_int_equal(live(F_READ), 1);     /* who holds it? */
	answer_read("192.168.77.99", 80, "someone", 0);
	assert_string_equal(status(0, NULL), "conflict|FAKE 718 ConflictInMappingEntry: port "
			    "18080/TCP is mapped to 192.168.77.99");
	/* Someone else's: never deleted, not even at shutdown. */
	mapping_shutdown(false, NULL, NULL);
	assert_int_equal(live(F_UNMAP) + live(F_READ), 0);
}

static void test_secure_mode_refuses_another_host(void **state)
{
	service(0, "cam", 554, 10554, CAM, 3600);
	start(false);
	up(&fake_igd);
	assert_string_equal(pending(F_MAP)->q.int_host, CAM);
	answer_outcome(F_MAP, GW_CONFLICT, "FAKE 718 ConflictInMappingEntry");
	answer_outcome(F_READ, GW_NOT_FOUND, "FAKE 714 NoSuchEntryInArray");
	assert_string_equal(status(0, NULL), "refused|FAKE 718 ConflictInMappingEntry: the gateway "
			    "refuses mappings for another host (" CAM "); is it in secure mode?");
}

static void test_not_authorized_is_refused(void **state)
{
	start(false);
	up(&fake_igd);
	answer_outcome(F_MAP, GW_REFUSED, "FAKE 606 ActionNotAuthorized");
	assert_string_equal(status(0, NULL), "refused|FAKE 606 ActionNotAuthorized: the gateway "
			    "does not allow mapping port 18080/TCP to " LAN ":8080");
	assert_int_equal(live(F_MAP) + live(F_READ), 0);
}

static void test_asking_host_only_protocol_refuses_camera(void **state)
{
	service(1, "cam", 554, 10554, CAM, 3600);
	start(false);
	up(&fake_pmp);
	/* web goes out; cam is refused without asking the gateway */
	assert_int_equal(live(F_MAP), 1);
	assert_string_equal(pending(F_MAP)->q.int_host, LAN);
	assert_non_null(strstr(status(1, NULL), "refused|FAKEPMP can only map ports to the "
					      "host that asks (" LAN "); internal_host " CAM));
}

static void test_permanent_only_falls_back_to_lease_0(void **state)
{
	json_t *a;

	service(1, "dns", 53, 10053, NULL, 600);
	start(false);
	up(&fake_igd);
	assert_int_equal(live(F_MAP), 2);
	answer_outcome(F_MAP, GW_PERMANENT_ONLY, "FAKE 725 OnlyPermanentLeasesSupported");
	pump();
	/* dns still waits; web asks again with lease 0 */
	assert_int_equal(live(F_MAP), 2);
	answer_ok_map(600, true);            /* dns, asked before the fallback */
	assert_int_equal(pending(F_MAP)->q.lease, 0);
	answer_ok_map(0, true);
	/* lease 0: the router decides what it becomes: read back */
	answer_read(LAN, 8080, "homeport:web", 604800);
	assert_string_equal(status(0, &a), "mapped|");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "lease")),
			 604800);
	json_decref(a);
	/* the gateway allows permanent leases only: every new add asks for 0 */
	mapping_remap_all("test");
	pump();
	assert_int_equal(pending(F_MAP)->q.lease, 0);
}

static void test_other_port_is_handed_back(void **state)
{
	struct gw_result r = { .outcome = GW_OK };

	start(false);
	up(&fake_pmp);
	r.u.map.ext_port = 18081;
	r.u.map.int_port = 8080;
	r.u.map.lease = 3600;
	r.u.map.confirmed = true;
	answer(F_MAP, &r);
	assert_string_equal(status(0, NULL), "conflict|FAKEPMP: port 18080/TCP is taken; the "
			    "gateway offered port 18081 instead (handed back)");
	assert_int_equal(live(F_UNMAP), 1);
	assert_int_equal(pending(F_UNMAP)->q.ext_port, 18081);
	assert_int_equal(pending(F_UNMAP)->q.int_port, 8080);
}

static void test_reboot_vanished_mapping_is_added_again(void **state)
{
	struct gw_result r = { .outcome = GW_OK, .state_lost = true };

	start(false);
	up(&fake_igd);
	answer_ok_map(3600, true);
	mapping_verify_all();
	assert_int_equal(live(F_READ), 1);
	answer_outcome(F_READ, GW_NOT_FOUND, "FAKE 714 NoSuchEntryInArray");
	assert_int_equal(H.state_lost, 1);
	pump();
	assert_int_equal(live(F_MAP), 1);
	/* An answer that shows a lost table (an epoch that went back) tells
	 * gateway.c, which re-maps everything. */
	r.u.map.ext_port = 18080;
	r.u.map.int_port = 8080;
	r.u.map.lease = 3600;
	r.u.map.confirmed = true;
	answer(F_MAP, &r);
	assert_int_equal(H.state_lost, 2);
	assert_string_equal(H.why, "FAKE: the gateway lost its mappings");
	assert_string_equal(status(0, NULL), "mapped|");
	mapping_remap_all("epoch reset");
	pump();
	assert_int_equal(live(F_MAP), 1);
}

static void test_gateway_gone_then_down(void **state)
{
	start(false);
	up(&fake_igd);
	answer_outcome(F_MAP, GW_GONE, "timed out after 6000 ms");
	assert_int_equal(H.lost, 1);
	assert_int_equal(H.trouble, 1);
	assert_string_equal(H.why, "FAKE: timed out after 6000 ms");
	assert_string_equal(status(0, NULL), "failed|FAKE: timed out after 6000 ms");
	mapping_gateway_down("no answer");
	assert_string_equal(status(0, NULL), "pending|gateway unreachable: no answer");
	/* Garbage is trouble, not loss. */
	up(&fake_igd);
	answer_outcome(F_MAP, GW_FAULT, "AddPortMapping: garbage reply");
	assert_int_equal(H.lost, 1);
	assert_int_equal(H.trouble, 2);
	assert_string_equal(status(0, NULL), "failed|FAKE: AddPortMapping: garbage reply");
}

static void on_done(void *arg)
{
	H.done++;
}

static void test_shutdown_deletes_only_what_is_ours(void **state)
{
	service(1, "dns", 53, 10053, NULL, 600);
	svcs[1].description = (char *)"dns service";
	start(true);
	up(&fake_igd);
	answer_ok_map(3600, true);
	answer_ok_map(600, true);
	pump();
	mapping_shutdown(false, on_done, NULL);
	assert_int_equal(H.done, 0);
	assert_int_equal(live(F_READ), 2);
	answer_read(LAN, 8080, "homeport:web", 3000);      /* ours: delete */
	answer_read(LAN, 53, "somebody else", 3000);       /* same host and port, not ours */
	assert_int_equal(live(F_UNMAP), 1);
	assert_int_equal(pending(F_UNMAP)->q.ext_port, 18080);
	answer_outcome(F_UNMAP, GW_OK, "");
	assert_int_equal(H.done, 1);
}

static void test_keep_mappings_adopted_by_next_run(void **state)
{
	start(true);
	up(&fake_igd);
	answer_ok_map(3600, true);
	mapping_shutdown(true, on_done, NULL);
	assert_int_equal(H.done, 1);
	assert_int_equal(live(F_UNMAP) + live(F_READ), 0);
	mapping_fini();
	/* The next run finds the record (made with "fake": a table row). */
	gw_backends_test_row(&fake_igd);
	start(true);
	up(&fake_igd);
	assert_int_equal(live(F_READ) + live(F_UNMAP), 0);   /* adopted, not deleted */
	answer_ok_map(3600, true);
	assert_string_equal(status(0, NULL), "mapped|");
}

static void test_removed_service_is_released(void **state)
{
	service(1, "dns", 53, 10053, NULL, 600);
	start(true);
	up(&fake_igd);
	answer_ok_map(3600, true);
	answer_ok_map(600, true);
	pump();
	mapping_fini();
	/* dns removed while the daemon was down */
	cfg.n_services = 1;
	gw_backends_test_row(&fake_igd);
	start(true);
	up(&fake_igd);
	assert_int_equal(live(F_READ), 1);
	assert_int_equal(pending(F_READ)->q.ext_port, 10053);
	answer_read(LAN, 53, "homeport:dns", 500);
	assert_int_equal(live(F_UNMAP), 1);
	assert_int_equal(pending(F_UNMAP)->q.ext_port, 10053);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_confirmed_add_is_mapped),
		T(test_unconfirmed_add_is_read_back),
		T(test_conflict_with_another_host),
		T(test_secure_mode_refuses_another_host),
		T(test_not_authorized_is_refused),
		T(test_asking_host_only_protocol_refuses_camera),
		T(test_permanent_only_falls_back_to_lease_0),
		T(test_other_port_is_handed_back),
		T(test_reboot_vanished_mapping_is_added_again),
		T(test_gateway_gone_then_down),
		T(test_shutdown_deletes_only_what_is_ours),
		T(test_keep_mappings_adopted_by_next_run),
		T(test_removed_service_is_released),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
