/* Unit tests for dns_msg.c: names (text to wire, compressed reads with
 * hostile pointers), zone membership, the exact bytes of an UPDATE, and the
 * reply walk over cut, padded and malicious replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dns_msg.h"

/* ---- names ---- */

static void test_name_to_wire(void **state)
{
	uint8_t w[DNS_NAME_MAX + 8];
	char name[400];

	assert_int_equal(dns_name_to_wire("www.Home.example", false, w, sizeof(w)), 18);
	assert_memory_equal(w, "\003www\004Home\007example", 18);
	assert_int_equal(dns_name_to_wire("www.Home.example.", true, w, sizeof(w)), 18);
	assert_memory_equal(w, "\003www\004home\007example", 18);
	assert_int_equal(dns_name_to_wire(".", false, w, sizeof(w)), 1);
	assert_int_equal(w[0], 0);
	assert_int_equal(dns_name_to_wire("*.x", false, w, sizeof(w)), 5);
	assert_int_equal(dns_name_to_wire("_dmarc.x", false, w, sizeof(w)), 10);

	static const char *const bad[] = { "", "..", ".x", "x..y", "a b.x", "a\\.b", "x\ty",
					    "caf\xc3\xa9.x", "x.." };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dns_name_to_wire(bad[i], false, w, sizeof(w)) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(dns_name_to_wire(NULL, false, w, sizeof(w)), -1);

	/* a 63-byte label is fine, 64 is not */
	memset(name, 'a', 63);
	strcpy(name + 63, ".x");
	assert_int_equal(dns_name_to_wire(name, false, w, sizeof(w)), 67);
	memset(name, 'a', 64);
	strcpy(name + 64, ".x");
	assert_int_equal(dns_name_to_wire(name, false, w, sizeof(w)), -1);
	/* 255 bytes in wire form is the most: 4 x 63-byte labels is 257 */
	for (int i = 0; i < 4; i++) {
		memset(name + i * 64, 'b', 63);
		name[i * 64 + 63] = '.';
	}
	name[4 * 64 - 1] = '\0';
	assert_int_equal(dns_name_to_wire(name, false, w, sizeof(w)), -1);
	name[3 * 64 + 61] = '\0';   /* last label 61 bytes: 255 exactly */
	assert_int_equal(dns_name_to_wire(name, false, w, sizeof(w)), 255);
	/* out of room in the caller's buffer */
	assert_int_equal(dns_name_to_wire("www.example", false, w, 5), -1);
}

static void test_in_zone(void **state)
{
	assert_true(dns_name_in_zone("www.home.example", "home.example"));
	assert_true(dns_name_in_zone("WWW.Home.Example.", "home.example"));
	assert_true(dns_name_in_zone("home.example", "home.example."));
	assert_true(dns_name_in_zone("a.b.home.example", "home.example"));
	assert_true(dns_name_in_zone("x.org", "."));
	assert_false(dns_name_in_zone("www.myhome.example", "home.example"));
	assert_false(dns_name_in_zone("home.example.org", "home.example"));
	assert_false(dns_name_in_zone("example", "home.example"));
	assert_false(dns_name_in_zone(NULL, "home.example"));
	assert_false(dns_name_in_zone("x", NULL));
}

static void test_name_read(void **state)
{
	/* header, then "home.example", then "www" + pointer to it, then a pointer
	 * to the pointer's name: compression as servers write it */
	uint8_t m[64] = { 0 };
	uint8_t out[DNS_NAME_MAX];
	size_t off, n = 12;

	memcpy(m + n, "\004HOME\007example", 14);
	n += 14;
	memcpy(m + n, "\003www\xc0\x0c", 6);
	n += 6;
	memcpy(m + n, "\xc0\x1a", 2);
	n += 2;
	off = 26;
	assert_int_equal(dns_name_read(m, n, &off, out, sizeof(out)), 18);
	assert_memory_equal(out, "\003www\004home\007example", 18);
	assert_int_equal(off, 32);
	off = 32;
	assert_int_equal(dns_name_read(m, n, &off, out, sizeof(out)), 18);
	assert_int_equal(off, 34);
	off = 32;
	assert_int_equal(dns_name_read(m, n, &off, NULL, 0), 18);
	/* cut short */
	off = 26;
	assert_int_equal(dns_name_read(m, 30, &off, out, sizeof(out)), -1);
	off = 32;
	assert_int_equal(dns_name_read(m, 33, &off, out, sizeof(out)), -1);
	/* too small an out buffer */
	off = 26;
	assert_int_equal(dns_name_read(m, n, &off, out, 10), -1);
}

static void test_name_read_hostile(void **state)
{
	uint8_t m[300] = { 0 };
	size_t off;

	/* pointer to itself */
	m[12] = 0xc0;
	m[13] = 12;
	off = 12;
	assert_int_equal(dns_name_read(m, 14, &off, NULL, 0), -1);
	/* forward pointer */
	m[13] = 20;
	off = 12;
	assert_int_equal(dns_name_read(m, 30, &off, NULL, 0), -1);
	/* two pointers bouncing: 14 -> 12 (label) -> pointer at 16 -> 12 again */
	memcpy(m + 12, "\002ab\xc0\x0c", 5);
	off = 12;
	assert_int_equal(dns_name_read(m, 17, &off, NULL, 0), -1);
	/* pointer past the end */
	memcpy(m + 12, "\xff\xff", 2);
	off = 12;
	assert_int_equal(dns_name_read(m, 14, &off, NULL, 0), -1);
	/* extended label type 0x40 and 0x80 */
	m[12] = 0x41;
	off = 12;
	assert_int_equal(dns_name_read(m, 100, &off, NULL, 0), -1);
	m[12] = 0x81;
	assert_int_equal(dns_name_read(m, 100, &off, NULL, 0), -1);
	/* a name over 255 bytes made of many small labels, no terminator */
	for (size_t i = 0; i < 290; i += 2) {
		m[i] = 1;
		m[i + 1] = 'a';
	}
	off = 0;
	assert_int_equal(dns_name_read(m, 290, &off, NULL, 0), -1);
	/* a long chain of backwards pointers is still bounded */
	for (size_t i = 2; i < 300; i += 2) {
		m[i] = (uint8_t)(0xc0 | (i - 2) >> 8);
		m[i + 1] = (uint8_t)(i - 2);
	}
	m[0] = 0;
	off = 298;
	assert_int_equal(dns_name_read(m, 300, &off, NULL, 0), -1);  /* > 128 jumps */
	off = 100;
	assert_int_equal(dns_name_read(m, 300, &off, NULL, 0), 1);
	assert_int_equal(off, 102);
}

/* ---- building ---- */

/* The same bytes test_tsig.c signs, built by hand in python3. */
static const uint8_t expect_msg[] = {
	0x12, 0x34, 0x28, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x04, 0x68, 0x6f,
	0x6d, 0x65, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x00, 0x00, 0x06, 0x00, 0x01,
	0x03, 0x77, 0x77, 0x77, 0x04, 0x68, 0x6f, 0x6d, 0x65, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70,
	0x6c, 0x65, 0x00, 0x00, 0x01, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x77,
	0x77, 0x77, 0x04, 0x68, 0x6f, 0x6d, 0x65, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
	0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 0xcb, 0x00, 0x71, 0x07,
};

static void test_build_update(void **state)
{
	const char *names[] = { "www.home.example" };
	const uint8_t ip[4] = { 203, 0, 113, 7 };
	struct dns_update u = { 0x1234, "home.example", names, 1, false, ip, 300 };
	uint8_t buf[512];
	size_t len = 0;
	char err[128];

	assert_int_equal(dns_msg_build_update(&u, buf, sizeof(buf), &len, err, sizeof(err)), 0);
	assert_int_equal(len, sizeof(expect_msg));
	assert_memory_equal(buf, expect_msg, len);
}

static void test_build_update_v6_many(void **state)
{
	const char *names[] = { "a.home.example", "b.home.example.", "home.example" };
	const uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 5 };
	struct dns_update u = { 7, "home.example", names, 3, true, ip6, 60 };
	uint8_t buf[512];
	size_t len = 0, off = 12;
	char err[128];
	struct dns_reply r;
	const char *why;

	assert_int_equal(dns_msg_build_update(&u, buf, sizeof(buf), &len, err, sizeof(err)), 0);
	assert_int_equal(dns_get16(buf + 8), 6);       /* UPCOUNT */
	/* it walks like any message */
	assert_int_equal(dns_msg_parse_reply(buf, len, &r, &why), 0);
	assert_int_equal(r.opcode, DNS_OPCODE_UPDATE);
	assert_false(r.qr);
	/* first update RR: a.home.example AAAA ANY ttl 0; second: AAAA IN 60 */
	assert_true(dns_name_read(buf, len, &off, NULL, 0) > 0);
	off += 4;
	assert_true(dns_name_read(buf, len, &off, NULL, 0) > 0);
	assert_int_equal(dns_get16(buf + off), DNS_TYPE_AAAA);
	assert_int_equal(dns_get16(buf + off + 2), DNS_CLASS_ANY);
	assert_int_equal(dns_get16(buf + off + 6), 0);
	off += 10;
	assert_true(dns_name_read(buf, len, &off, NULL, 0) > 0);
	assert_int_equal(dns_get16(buf + off + 2), DNS_CLASS_IN);
	assert_int_equal(dns_get16(buf + off + 6), 60);
	assert_int_equal(dns_get16(buf + off + 8), 16);
	assert_memory_equal(buf + off + 10, ip6, 16);
}

static void test_build_errors(void **state)
{
	const char *outside[] = { "www.home.example", "www.other.example" };
	const char *invalid[] = { "bad name.home.example" };
	const char *many[40];
	const uint8_t ip[4] = { 1, 2, 3, 4 };
	struct dns_update u = { 1, "home.example", outside, 2, false, ip, 300 };
	uint8_t buf[512];
	size_t len = 0;
	char err[128];

	assert_int_equal(dns_msg_build_update(&u, buf, sizeof(buf), &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "\"www.other.example\" is not inside zone \"home.example\""));
	u.names = invalid;
	u.n_names = 1;
	assert_int_equal(dns_msg_build_update(&u, buf, sizeof(buf), &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a valid DNS name"));
	u.n_names = 0;
	assert_int_equal(dns_msg_build_update(&u, buf, sizeof(buf), &len, err, sizeof(err)), -1);
	u.zone = "bad..zone";
	u.names = outside;
	u.n_names = 1;
	assert_int_equal(dns_msg_build_update(&u, buf, sizeof(buf), &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "zone"));
	/* 40 names do not fit in 512 bytes: refused, never overflowed */
	for (int i = 0; i < 40; i++)
		many[i] = "some-long-host-name.home.example";
	u.zone = "home.example";
	u.names = many;
	u.n_names = 40;
	assert_int_equal(dns_msg_build_update(&u, buf, sizeof(buf), &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not fit"));
}

/* ---- replies ---- */

/* A signed NOERROR reply (QR, opcode 5, zone echoed, TSIG last). */
static const uint8_t reply[] = {
	0x12, 0x34, 0xa8, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x04, 0x68, 0x6f,
	0x6d, 0x65, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x00, 0x00, 0x06, 0x00, 0x01,
	0x0c, 0x68, 0x6f, 0x6d, 0x65, 0x70, 0x6f, 0x72, 0x74, 0x2d, 0x6b, 0x65, 0x79, 0x00, 0x00,
	0xfa, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3d, 0x0b, 0x68, 0x6d, 0x61, 0x63, 0x2d,
	0x73, 0x68, 0x61, 0x32, 0x35, 0x36, 0x00, 0x00, 0x00, 0x65, 0x53, 0xf1, 0x01, 0x01, 0x2c,
	0x00, 0x20, 0x31, 0x4b, 0xd9, 0x7b, 0x53, 0x34, 0x96, 0x55, 0x64, 0x05, 0x85, 0x91, 0x15,
	0xa5, 0xa6, 0x2c, 0xb9, 0x7d, 0x9f, 0x49, 0x61, 0xa5, 0x60, 0xd4, 0xd3, 0x37, 0xe2, 0x6c,
	0x2c, 0x0e, 0x75, 0x3c, 0x12, 0x34, 0x00, 0x00, 0x00, 0x00,
};

static void test_parse_reply(void **state)
{
	struct dns_reply r;
	const char *why;

	assert_int_equal(dns_msg_parse_reply(reply, sizeof(reply), &r, &why), 0);
	assert_int_equal(r.id, 0x1234);
	assert_true(r.qr);
	assert_false(r.tc);
	assert_int_equal(r.opcode, DNS_OPCODE_UPDATE);
	assert_int_equal(r.rcode, 0);
	assert_int_equal(r.counts[0], 1);
	assert_int_equal(r.counts[3], 1);
	assert_int_equal(r.tsig_off, 30);
	assert_string_equal(dns_rcode_name(r.rcode), "NOERROR");
	assert_string_equal(dns_rcode_name(DNS_RCODE_NOTZONE), "NOTZONE");
	assert_string_equal(dns_rcode_name(15), "rcode?");
	/* unsigned: zone section only */
	assert_int_equal(dns_msg_parse_reply(reply, 30, &r, &why), -1);  /* ARCOUNT says 1 */
}

/* Every prefix of a valid reply is refused, and one byte more too. */
static void test_parse_cut_and_padded(void **state)
{
	uint8_t m[sizeof(reply) + 1];
	struct dns_reply r;
	const char *why;

	for (size_t n = 0; n < sizeof(reply); n++) {
		uint8_t *copy = malloc(n ? n : 1);     /* exact size: ASan sees any overread */
		memcpy(copy, reply, n);
		if (dns_msg_parse_reply(copy, n, &r, &why) != -1)
			fail_msg("a reply cut to %zu bytes was accepted", n);
		assert_true(strlen(why) > 0);
		free(copy);
	}
	memcpy(m, reply, sizeof(reply));
	m[sizeof(reply)] = 0;
	assert_int_equal(dns_msg_parse_reply(m, sizeof(m), &r, &why), -1);
	assert_string_equal(why, "TSIG record is not the last record");
	/* an unsigned reply with a byte of padding */
	dns_put16(m + 10, 0);
	assert_int_equal(dns_msg_parse_reply(m, 30, &r, &why), 0);
	assert_int_equal(dns_msg_parse_reply(m, 31, &r, &why), -1);
	assert_string_equal(why, "bytes left over after the last record");
}

static void test_parse_hostile(void **state)
{
	uint8_t m[sizeof(reply) + 64];
	struct dns_reply r;
	const char *why;

	/* TSIG not last: one more additional record counted after it */
	memcpy(m, reply, sizeof(reply));
	dns_put16(m + 10, 2);
	memcpy(m + sizeof(reply), "\0\0\001\0\001\0\0\0\0\0\0", 11);
	assert_int_equal(dns_msg_parse_reply(m, sizeof(reply) + 11, &r, &why), -1);
	assert_string_equal(why, "TSIG record is not the last record");
	/* TSIG in the answer section */
	memcpy(m, reply, sizeof(reply));
	dns_put16(m + 6, 1);
	dns_put16(m + 10, 0);
	assert_int_equal(dns_msg_parse_reply(m, sizeof(reply), &r, &why), -1);
	/* rdlength running past the end */
	memcpy(m, reply, sizeof(reply));
	dns_put16(m + 52, 0xffff);
	assert_int_equal(dns_msg_parse_reply(m, sizeof(reply), &r, &why), -1);
	/* absurd counts */
	memcpy(m, reply, sizeof(reply));
	memset(m + 4, 0xff, 8);
	assert_int_equal(dns_msg_parse_reply(m, sizeof(reply), &r, &why), -1);
	/* a zone name looping on itself */
	memcpy(m, reply, sizeof(reply));
	m[12] = 0xc0;
	m[13] = 12;
	assert_int_equal(dns_msg_parse_reply(m, sizeof(reply), &r, &why), -1);
	assert_string_equal(why, "bad owner name");
	assert_int_equal(dns_msg_parse_reply(NULL, 0, &r, &why), -1);
}

static void test_parse_truncated_flag(void **state)
{
	uint8_t m[12];
	struct dns_reply r;
	const char *why;

	/* TC set: the header alone is enough, whatever the counts claim */
	memcpy(m, reply, 12);
	m[2] |= 0x02;
	dns_put16(m + 4, 9);
	assert_int_equal(dns_msg_parse_reply(m, sizeof(m), &r, &why), 0);
	assert_true(r.tc);
	assert_int_equal(r.tsig_off, 0);
	assert_int_equal(dns_msg_parse_reply(m, 11, &r, &why), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_to_wire),
		cmocka_unit_test(test_in_zone),
		cmocka_unit_test(test_name_read),
		cmocka_unit_test(test_name_read_hostile),
		cmocka_unit_test(test_build_update),
		cmocka_unit_test(test_build_update_v6_many),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_parse_reply),
		cmocka_unit_test(test_parse_cut_and_padded),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_parse_truncated_flag),
	};
	return cmocka_run_group_tests_name("dns_msg", tests, NULL, NULL);
}
