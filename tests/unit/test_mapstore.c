/* Unit tests for mappings.json (mapstore.c): the records round-trip, each
 * set (IPv4 mappings, IPv6 pinholes) keeps the other, and saving what was
 * last saved is only a comparison, not a write (mapping.c calls it once
 * per event-loop pass while 50 services are mapped at start). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "mapstore.h"

static char dir[] = "/tmp/hp-test-mapstore-XXXXXX";
static char path[300];

static int setup(void **state)
{
	log_init(LOG_ERR, false);
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/mappings.json", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int fresh(void **state)
{
	unlink(path);
	mapstore_open(dir);
	return 0;
}

static int close_store(void **state)
{
	mapstore_close();
	return 0;
}

static struct map_record rec(const char *service, uint16_t port, const char *desc)
{
	return (struct map_record){
		.service = service, .proto = SVC_TCP, .ext_port = port, .int_port = port,
		.int_host = "192.168.1.10", .desc = desc, .via = "upnp",
		.gateway = "192.168.1.1", .locator = "http://192.168.1.1:5000/rootDesc.xml",
		.handle = "", .lease = 3600,
	};
}

static size_t n_loaded;
static char loaded[8][32];

static void collect(void *arg, const struct map_record *r)
{
	if (n_loaded < 8)
		snprintf(loaded[n_loaded++], sizeof(loaded[0]), "%s/%u", r->service, r->ext_port);
}

static size_t load(void)
{
	n_loaded = 0;
	return mapstore_load(collect, NULL);
}

/* Replace the file with junk: a later save that writes shows by fixing it. */
static void clobber(void)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("junk", f);
	fclose(f);
}

static bool clobbered(void)
{
	FILE *f = fopen(path, "r");
	char buf[8] = "";

	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	return strcmp(buf, "junk") == 0;
}

static void test_round_trip(void **state)
{
	struct map_record r[] = { rec("web", 18080, "web server"), rec("ssh", 2222, NULL) };

	mapstore_save(r, 2);
	assert_int_equal(load(), 2);
	assert_string_equal(loaded[0], "web/18080");
	assert_string_equal(loaded[1], "ssh/2222");
}

static void test_same_records_not_written_again(void **state)
{
	struct map_record r[] = { rec("web", 18080, "web server"), rec("ssh", 2222, NULL) };
	char svc[] = "web", desc[] = "web server";
	struct map_record again[2];

	mapstore_save(r, 2);
	clobber();
	/* equal content in other buffers: still the same records */
	again[0] = rec(svc, 18080, desc);
	again[1] = rec("ssh", 2222, NULL);
	mapstore_save(again, 2);
	assert_int_equal(load(), 0);               /* the junk is still there */
	/* any field that differs is a change, and is written */
	again[1].lease = 60;
	mapstore_save(again, 2);
	assert_int_equal(load(), 2);
	clobber();
	again[1].desc = "now described";
	mapstore_save(again, 2);
	assert_int_equal(load(), 2);
	clobber();
	mapstore_save(again, 1);
	assert_int_equal(load(), 1);
	clobber();
	mapstore_save(NULL, 0);
	assert_int_equal(load(), 0);
	assert_int_equal(access(path, F_OK), 0);
	assert_false(clobbered());
}

/* The copy kept for the comparison is the store's own: the caller's
 * buffers may change or go away after the call. */
static void test_caller_buffers_not_kept(void **state)
{
	char svc[16] = "web";
	struct map_record r = rec(svc, 18080, "x");

	mapstore_save(&r, 1);
	snprintf(svc, sizeof(svc), "mail");
	mapstore_save(&r, 1);
	assert_int_equal(load(), 1);
	assert_string_equal(loaded[0], "mail/18080");
}

static void test_sets_keep_each_other(void **state)
{
	struct map_record v4 = rec("web", 18080, "web");
	struct map_record v6 = rec("web", 18080, "web");

	v6.ipv6 = true;
	v6.int_host = "2001:db8::10";
	mapstore_save(&v4, 1);
	mapstore_save_set(true, &v6, 1);
	assert_int_equal(load(), 2);
	mapstore_save_set(true, NULL, 0);
	assert_int_equal(load(), 1);
	/* reopened: the first save of a set is written whatever it holds */
	mapstore_close();
	clobber();
	mapstore_open(dir);
	mapstore_save(&v4, 1);
	assert_int_equal(load(), 1);
}

/* A start with nothing to remember and no file writes none (no fsync
 * before the first request); a file that cannot be read is written over. */
static void test_empty_start_writes_nothing(void **state)
{
	struct map_record r = rec("web", 18080, "web");

	mapstore_save(NULL, 0);
	assert_int_not_equal(access(path, F_OK), 0);
	mapstore_save(&r, 1);
	assert_int_equal(load(), 1);
	mapstore_save(NULL, 0);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(load(), 0);
	mapstore_close();
	clobber();
	mapstore_open(dir);
	mapstore_save(NULL, 0);
	assert_false(clobbered());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, fresh, close_store),
		cmocka_unit_test_setup_teardown(test_same_records_not_written_again, fresh, close_store),
		cmocka_unit_test_setup_teardown(test_caller_buffers_not_kept, fresh, close_store),
		cmocka_unit_test_setup_teardown(test_sets_keep_each_other, fresh, close_store),
		cmocka_unit_test_setup_teardown(test_empty_start_writes_nothing, fresh, close_store),
	};
	return cmocka_run_group_tests_name("mapstore", tests, setup, teardown);
}
