/* Unit tests for the SSDP reader (ssdp.c): which messages count, the
 * BOOTID.UPNP.ORG value, and buffers that end anywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ssdp.h"

static int parse(const char *text, struct ssdp_msg *m)
{
	return ssdp_parse(text, strlen(text), m);
}

static void test_notify_alive(void **state)
{
	struct ssdp_msg m;

	assert_int_equal(parse("NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
			       "nts:  ssdp:alive \r\nBootId.UPnP.Org: 42\r\n\r\n", &m), 0);
	assert_int_equal(m.kind, SSDP_ALIVE);
	assert_true(m.has_bootid);
	assert_int_equal(m.bootid, 42);
}

static void test_response(void **state)
{
	struct ssdp_msg m;

	assert_int_equal(parse("HTTP/1.1 200 OK\r\nBOOTID.UPNP.ORG: 7\r\n\r\n", &m), 0);
	assert_int_equal(m.kind, SSDP_RESPONSE);
	assert_int_equal(m.bootid, 7);
	/* no BOOTID: counts, without one */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nST: x\r\n\r\n", &m), 0);
	assert_false(m.has_bootid);
}

static void test_ignored(void **state)
{
	struct ssdp_msg m;

	assert_int_equal(parse("NOTIFY * HTTP/1.1\r\nNTS: ssdp:byebye\r\nBOOTID.UPNP.ORG: 1\r\n",
			       &m), -1);
	assert_int_equal(parse("M-SEARCH * HTTP/1.1\r\nBOOTID.UPNP.ORG: 1\r\n", &m), -1);
	assert_int_equal(parse("NOTIFY * HTTP/1.1\r\nBOOTID.UPNP.ORG: 1\r\n", &m), -1);
	assert_int_equal(ssdp_parse(NULL, 10, &m), -1);
	assert_int_equal(ssdp_parse("NOT", 3, &m), -1);
}

static void test_bad_bootids(void **state)
{
	struct ssdp_msg m;

	parse("HTTP/1.1 200 OK\r\nBOOTID.UPNP.ORG: -1\r\n", &m);
	assert_false(m.has_bootid);
	parse("HTTP/1.1 200 OK\r\nBOOTID.UPNP.ORG: 12abc\r\n", &m);
	assert_false(m.has_bootid);
	parse("HTTP/1.1 200 OK\r\nBOOTID.UPNP.ORG: 99999999999999999999999999\r\n", &m);
	assert_false(m.has_bootid);
	parse("HTTP/1.1 200 OK\r\nBOOTID.UPNP.ORG:\r\n", &m);
	assert_false(m.has_bootid);
	parse("HTTP/1.1 200 OK\r\nBOOTID.UPNP.ORGX: 5\r\n", &m);
	assert_false(m.has_bootid);
}

/* The buffer is not NUL-terminated: cut anywhere, nothing past it is read
 * (ASan builds check), and a cut value is not taken. */
static void test_cut_anywhere(void **state)
{
	const char *text = "NOTIFY * HTTP/1.1\r\nNTS: ssdp:alive\r\nBOOTID.UPNP.ORG: 12345\r\n";
	size_t len = strlen(text);
	struct ssdp_msg m;

	for (size_t n = 0; n <= len; n++) {
		char *buf = malloc(n ? n : 1);

		memcpy(buf, text, n);
		if (ssdp_parse(buf, n, &m) == 0 && m.has_bootid)
			assert_true(m.bootid == 12345 || n < len);
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_alive),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_ignored),
		cmocka_unit_test(test_bad_bootids),
		cmocka_unit_test(test_cut_anywhere),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
