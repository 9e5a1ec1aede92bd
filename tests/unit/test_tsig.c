/* Unit tests for tsig.c: key text parsing (bare secrets, tsig-keygen key
 * files, broken files whose errors must never show the secret), base64,
 * and the HMAC over a request and a reply against vectors computed apart
 * from this code (python3 building the bytes, `openssl dgst -mac HMAC`
 * computing the MACs; see the comment at each vector). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dns_msg.h"
#include "tsig.h"

#define SECRET "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="   /* bytes 0..31 */

/* ---- key text ---- */

static void parse_ok(const char *text, const char *name, const char *alg, const char *secret)
{
	char *n, *a, *s, err[256] = "";

	assert_int_equal(tsig_key_parse(text, &n, &a, &s, err, sizeof(err)), 0);
	if (name)
		assert_string_equal(n, name);
	else
		assert_null(n);
	if (alg)
		assert_string_equal(a, alg);
	else
		assert_null(a);
	assert_string_equal(s, secret);
	free(n);
	free(a);
	free(s);
}

static void test_parse_bare(void **state)
{
	parse_ok(SECRET, NULL, NULL, SECRET);
	parse_ok("  \n" SECRET "\n\n", NULL, NULL, SECRET);
	parse_ok("# written by hand\n" SECRET "\n", NULL, NULL, SECRET);
	parse_ok("Zm9vYmFy", NULL, NULL, "Zm9vYmFy");
}

static void test_parse_keyfile(void **state)
{
	/* exactly as tsig-keygen -a hmac-sha256 writes it */
	parse_ok("key \"homeport-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"" SECRET "\";\n};\n",
		 "homeport-key", "hmac-sha256", SECRET);
	/* comments of every kind, odd spacing, unquoted name, no final ';' */
	parse_ok("# generated\n// by hand\n/* multi\n line */ key   ddns.example.\n{ secret \""
		 SECRET "\" ; # the secret\n algorithm HMAC-SHA512 ; }",
		 "ddns.example.", "HMAC-SHA512", SECRET);
	/* algorithm omitted: left to the caller's default */
	parse_ok("key k { secret \"" SECRET "\"; };", "k", NULL, SECRET);
	/* the long md5 name */
	parse_ok("key k { algorithm hmac-md5.sig-alg.reg.int; secret " SECRET "; };",
		 "k", "hmac-md5.sig-alg.reg.int", SECRET);
}

/* Each must fail with a sentence that does not contain the secret. */
static void parse_bad(const char *text, const char *expect)
{
	char *n = (char *)1, *a = (char *)1, *s = (char *)1, err[256] = "";

	assert_int_equal(tsig_key_parse(text, &n, &a, &s, err, sizeof(err)), -1);
	assert_null(n);
	assert_null(a);
	assert_null(s);
	assert_true(strlen(err) > 10);
	assert_null(strstr(err, "AAECAw"));
	assert_null(strstr(err, "c2VjcmV0"));
	if (strstr(err, expect) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, expect);
}

static void test_parse_bad(void **state)
{
	parse_bad("", "empty");
	parse_bad("   \n# only a comment\n", "empty");
	parse_bad("c2VjcmV0!!", "base64");
	parse_bad("c2VjcmV0 c2VjcmV0 this is not it", "base64");
	parse_bad("key \"k\" { algorithm hmac-sha256; };", "no secret");
	parse_bad("key \"k\" { algorithm hmac-sha3; secret \"" SECRET "\"; };", "not supported");
	parse_bad("key \"k\" { algorithm hmac-sha256 secret \"" SECRET "\"; };", "expected ';'");
	parse_bad("key \"k\" { secret \"" SECRET "\";", "missing '}'");
	parse_bad("key \"k\" { secret \"" SECRET "\"; }; key \"j\" { secret \"" SECRET "\"; };",
		  "one key per file");
	parse_bad("key \"k\" { secret \"c2VjcmV0!!\"; };", "line 1: secret is not valid base64");
	parse_bad("key \"k\" {\n secret \"" SECRET "; };", "unterminated quoted string");
	parse_bad("key \"k\" { /* secret \"" SECRET "\"; };", "unterminated /* comment");
	parse_bad("key \"k\" { secret \"" SECRET "\"; secret \"" SECRET "\"; };", "given twice");
	parse_bad("key \"k\" { owner \"c2VjcmV0\"; };", "expected \"algorithm\" or \"secret\"");
	parse_bad("key \"bad name\" { secret \"" SECRET "\"; };", "not a valid DNS name");
	parse_bad("key { secret \"" SECRET "\"; };", "key name");
	parse_bad("key \"k\"\n\n secret", "line 3: expected '{'");
}

static void test_algorithms(void **state)
{
	const char *good[] = { "hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224",
			       "hmac-sha1", "hmac-md5", "HMAC-SHA256", "hmac-sha256.",
			       "hmac-md5.sig-alg.reg.int", "HMAC-MD5.SIG-ALG.REG.INT." };
	const char *bad[] = { "", "hmac", "hmac-sha3", "sha256", "hmac-sha256..", "gss-tsig",
			      "hmac-sha256 " };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(tsig_algorithm_supported(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(tsig_algorithm_supported(bad[i]));
	assert_false(tsig_algorithm_supported(NULL));
}

/* RFC 4648 section 10 vectors, plus what must be refused. */
static void test_base64(void **state)
{
	static const struct { const char *in, *out; } ok[] = {
		{ "", "" }, { "Zg==", "f" }, { "Zm8=", "fo" }, { "Zm9v", "foo" },
		{ "Zm9vYg==", "foob" }, { "Zm9vYmE=", "fooba" }, { "Zm9vYmFy", "foobar" },
		{ "Zg", "f" }, { "Zm9 v\nYmFy", "foobar" },
	};
	static const char *const bad[] = { "Z", "Zg=", "Zm9v=", "Zg===", "Zg==Zg==", "Zm9v!",
					    "Zm9vY", "=Zg=" };
	uint8_t out[16], small[2];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int n = tsig_base64_decode(ok[i].in, out, sizeof(out));
		assert_int_equal(n, (int)strlen(ok[i].out));
		assert_memory_equal(out, ok[i].out, (size_t)n);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tsig_base64_decode(bad[i], out, sizeof(out)), -1);
	assert_int_equal(tsig_base64_decode("Zm9vYmFy", small, sizeof(small)), -1);
}

static void test_key_init(void **state)
{
	struct tsig_key k;
	char err[256];
	static const uint8_t wire[] = "\x0chomeport-key";

	assert_int_equal(tsig_key_init(&k, "HomePort-Key.", NULL, SECRET, err, sizeof(err)), 0);
	assert_int_equal(k.name_len, 14);
	assert_memory_equal(k.name, wire, 14);       /* lower-cased, canonical */
	assert_int_equal(k.secret_len, 32);
	assert_int_equal(k.mac_size, 32);
	assert_string_equal(tsig_key_algorithm(&k), "hmac-sha256");
	tsig_key_wipe(&k);
	assert_int_equal(k.secret_len, 0);
	assert_int_equal(k.secret[5], 0);

	assert_int_equal(tsig_key_init(&k, "k", "hmac-sha1", SECRET, err, sizeof(err)), 0);
	assert_int_equal(k.mac_size, 20);
	assert_int_equal(tsig_key_init(&k, "k", "hmac-foo", SECRET, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "hmac-foo"));
	assert_int_equal(tsig_key_init(&k, "k", NULL, "!!!!", err, sizeof(err)), -1);
	assert_null(strstr(err, "!!!!"));
	assert_int_equal(tsig_key_init(&k, "k", NULL, "", err, sizeof(err)), -1);
	assert_int_equal(tsig_key_init(&k, "a..b", NULL, SECRET, err, sizeof(err)), -1);
	assert_int_equal(tsig_key_init(&k, NULL, NULL, SECRET, err, sizeof(err)), -1);
}

/* ---- MAC vectors ----
 * The request: id 0x1234, zone home.example, delete + add www.home.example
 * A 203.0.113.7 ttl 300, built byte by byte in python3; the key
 * homeport-key with secret bytes 0..31; time signed 1700000000, fudge 300.
 * MAC = openssl dgst -sha256 -mac HMAC -macopt hexkey:0001..1f over the
 * message followed by the TSIG variables (RFC 8945 4.3.3). */
static const uint8_t req_msg[] = {
	0x12, 0x34, 0x28, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x04, 0x68, 0x6f,
	0x6d, 0x65, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x00, 0x00, 0x06, 0x00, 0x01,
	0x03, 0x77, 0x77, 0x77, 0x04, 0x68, 0x6f, 0x6d, 0x65, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70,
	0x6c, 0x65, 0x00, 0x00, 0x01, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x77,
	0x77, 0x77, 0x04, 0x68, 0x6f, 0x6d, 0x65, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
	0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 0xcb, 0x00, 0x71, 0x07,
};
static const uint8_t mac_sha256[] = {
	0x27, 0x88, 0x6d, 0x95, 0x3f, 0xa2, 0x77, 0x57, 0x0d, 0x1b, 0x45, 0x22, 0xb6, 0x4a, 0x11,
	0x20, 0x24, 0x94, 0x08, 0x1d, 0x04, 0xe0, 0xb5, 0x32, 0x50, 0x58, 0x52, 0x20, 0x40, 0x08,
	0x96, 0x35,
};
/* same, with hmac-md5 (algorithm name hmac-md5.sig-alg.reg.int.) */
static const uint8_t mac_md5[] = {
	0x40, 0x67, 0xd3, 0x90, 0x5c, 0xb7, 0x3c, 0xca, 0x68, 0x8f, 0x09, 0x59, 0xc8, 0x7c, 0x54,
	0x5a,
};
static const uint8_t mac_sha512[] = {
	0x11, 0xb2, 0x18, 0x74, 0x17, 0xce, 0x0f, 0x31, 0xf7, 0x19, 0x04, 0x3d, 0x6a, 0x0d, 0x1f,
	0x4d, 0x65, 0xff, 0x10, 0x11, 0xaf, 0xe9, 0x14, 0xa3, 0x6d, 0xbc, 0x5b, 0x2b, 0xe9, 0xd4,
	0x2c, 0x27, 0xc1, 0x0c, 0xdd, 0xbf, 0xa2, 0xd4, 0x3a, 0x9b, 0x97, 0xe4, 0x5d, 0x24, 0x43,
	0x32, 0x20, 0x79, 0xc4, 0x73, 0x40, 0x61, 0x14, 0xc5, 0x3d, 0xf5, 0xfc, 0x0d, 0x10, 0x3d,
	0x7e, 0xaa, 0x4f, 0xe2,
};
/* The reply to the sha256 request (QR, opcode UPDATE, zone echoed), signed
 * at 1700000001 over: MAC size, request MAC, reply without TSIG, variables.
 * The TSIG RR starts at offset 30. */
static const uint8_t reply_msg[] = {
	0x12, 0x34, 0xa8, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x04, 0x68, 0x6f,
	0x6d, 0x65, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x00, 0x00, 0x06, 0x00, 0x01,
	0x0c, 0x68, 0x6f, 0x6d, 0x65, 0x70, 0x6f, 0x72, 0x74, 0x2d, 0x6b, 0x65, 0x79, 0x00, 0x00,
	0xfa, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3d, 0x0b, 0x68, 0x6d, 0x61, 0x63, 0x2d,
	0x73, 0x68, 0x61, 0x32, 0x35, 0x36, 0x00, 0x00, 0x00, 0x65, 0x53, 0xf1, 0x01, 0x01, 0x2c,
	0x00, 0x20, 0x31, 0x4b, 0xd9, 0x7b, 0x53, 0x34, 0x96, 0x55, 0x64, 0x05, 0x85, 0x91, 0x15,
	0xa5, 0xa6, 0x2c, 0xb9, 0x7d, 0x9f, 0x49, 0x61, 0xa5, 0x60, 0xd4, 0xd3, 0x37, 0xe2, 0x6c,
	0x2c, 0x0e, 0x75, 0x3c, 0x12, 0x34, 0x00, 0x00, 0x00, 0x00,
};
#define T0 1700000000ULL

static void sign_vector(const char *alg, const uint8_t *expect, size_t expect_len)
{
	struct tsig_key k;
	uint8_t buf[512], mac[TSIG_MAC_MAX];
	size_t len = sizeof(req_msg);
	char err[128];
	struct tsig_rr rr;

	assert_int_equal(tsig_key_init(&k, "homeport-key", alg, SECRET, err, sizeof(err)), 0);
	memcpy(buf, req_msg, len);
	assert_int_equal(tsig_sign(&k, buf, &len, sizeof(buf), T0, 0, NULL, 0, mac), 0);
	assert_memory_equal(mac, expect, expect_len);
	/* the appended RR carries the same MAC, ARCOUNT is 1, the rest untouched */
	assert_int_equal(dns_get16(buf + 10), 1);
	assert_memory_equal(buf, req_msg, 10);
	assert_int_equal(tsig_rr_parse(buf, len, sizeof(req_msg), &rr), 0);
	assert_int_equal(rr.mac_size, expect_len);
	assert_memory_equal(rr.mac, expect, expect_len);
	assert_int_equal(rr.time_signed, T0);
	assert_int_equal(rr.fudge, 300);
	assert_int_equal(rr.orig_id, 0x1234);
	assert_int_equal(rr.error, 0);
	assert_int_equal(rr.other_len, 0);
}

static void test_sign_vectors(void **state)
{
	sign_vector("hmac-sha256", mac_sha256, sizeof(mac_sha256));
	sign_vector("hmac-md5", mac_md5, sizeof(mac_md5));
	sign_vector("hmac-sha512", mac_sha512, sizeof(mac_sha512));
}

static void test_sign_no_room(void **state)
{
	struct tsig_key k;
	uint8_t buf[sizeof(req_msg) + 40], mac[TSIG_MAC_MAX];
	size_t len = sizeof(req_msg);
	char err[128];

	assert_int_equal(tsig_key_init(&k, "homeport-key", NULL, SECRET, err, sizeof(err)), 0);
	memcpy(buf, req_msg, len);
	assert_int_equal(tsig_sign(&k, buf, &len, sizeof(buf), T0, 0, NULL, 0, mac), -1);
	assert_int_equal(len, sizeof(req_msg));
	assert_int_equal(dns_get16(buf + 10), 0);
	len = 5;
	assert_int_equal(tsig_sign(&k, buf, &len, sizeof(buf), T0, 0, NULL, 0, mac), -1);
}

static enum tsig_status verify(const uint8_t *msg, size_t len, const char *keyname,
			       const char *alg, const char *secret, uint64_t now)
{
	struct tsig_key k;
	struct tsig_rr rr;
	char err[128];

	assert_int_equal(tsig_key_init(&k, keyname, alg, secret, err, sizeof(err)), 0);
	return tsig_verify(&k, msg, len, 30, mac_sha256, sizeof(mac_sha256), now, &rr);
}

static void test_verify_vector(void **state)
{
	uint8_t m[sizeof(reply_msg)];
	struct tsig_key k;
	struct tsig_rr rr;
	char err[128];

	assert_int_equal(verify(reply_msg, sizeof(reply_msg), "homeport-key", NULL, SECRET, T0),
			 TSIG_VERIFIED);
	/* the key name compares case-insensitively */
	assert_int_equal(verify(reply_msg, sizeof(reply_msg), "HOMEPORT-KEY.", NULL, SECRET,
				T0 + 300), TSIG_VERIFIED);
	/* time: fudge 300 around the time signed (T0 + 1) */
	assert_int_equal(verify(reply_msg, sizeof(reply_msg), "homeport-key", NULL, SECRET,
				T0 + 302), TSIG_BAD_TIME);
	assert_int_equal(verify(reply_msg, sizeof(reply_msg), "homeport-key", NULL, SECRET,
				T0 - 300), TSIG_BAD_TIME);
	/* another secret, key name or algorithm */
	assert_int_equal(verify(reply_msg, sizeof(reply_msg), "homeport-key", NULL,
				"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh4=", T0), TSIG_BAD_MAC);
	assert_int_equal(verify(reply_msg, sizeof(reply_msg), "other-key", NULL, SECRET, T0),
			 TSIG_OTHER_KEY);
	assert_int_equal(verify(reply_msg, sizeof(reply_msg), "homeport-key", "hmac-sha512",
				SECRET, T0), TSIG_OTHER_KEY);
	/* any single bit flipped breaks it */
	for (size_t i = 2; i < sizeof(reply_msg); i++) {   /* the ID is checked apart */
		memcpy(m, reply_msg, sizeof(m));
		m[i] ^= 0x01;
		if (verify(m, sizeof(m), "homeport-key", NULL, SECRET, T0) == TSIG_VERIFIED)
			fail_msg("flipping a bit of byte %zu still verifies", i);
	}
	/* with the wrong request MAC */
	assert_int_equal(tsig_key_init(&k, "homeport-key", NULL, SECRET, err, sizeof(err)), 0);
	assert_int_equal(tsig_verify(&k, reply_msg, sizeof(reply_msg), 30, mac_md5,
				     sizeof(mac_md5), T0, &rr), TSIG_BAD_MAC);
	assert_int_equal(tsig_verify(&k, reply_msg, sizeof(reply_msg), 0, mac_sha256,
				     sizeof(mac_sha256), T0, &rr), TSIG_NOT_SIGNED);
	assert_int_equal(tsig_verify(&k, reply_msg, sizeof(reply_msg) - 1, 30, mac_sha256,
				     sizeof(mac_sha256), T0, &rr), TSIG_MALFORMED);
	assert_int_equal(tsig_verify(&k, reply_msg, sizeof(reply_msg), 31, mac_sha256,
				     sizeof(mac_sha256), T0, &rr), TSIG_MALFORMED);
}

/* Sign a request, answer it as a server would, verify: every algorithm. */
static void test_round_trip(void **state)
{
	static const char *const alg[] = { "hmac-sha256", "hmac-sha512", "hmac-sha384",
					    "hmac-sha224", "hmac-sha1", "hmac-md5" };
	for (size_t i = 0; i < sizeof(alg) / sizeof(alg[0]); i++) {
		struct tsig_key k;
		struct tsig_rr rr;
		uint8_t req[512], resp[512], rmac[TSIG_MAC_MAX], smac[TSIG_MAC_MAX];
		size_t rlen = sizeof(req_msg), slen = 30;
		char err[128];

		assert_int_equal(tsig_key_init(&k, "k.example", alg[i], SECRET, err, sizeof(err)), 0);
		memcpy(req, req_msg, rlen);
		assert_int_equal(tsig_sign(&k, req, &rlen, sizeof(req), T0, 0, NULL, 0, rmac), 0);
		memcpy(resp, reply_msg, slen);
		dns_put16(resp + 10, 0);
		assert_int_equal(tsig_sign(&k, resp, &slen, sizeof(resp), T0 + 5, 0, rmac,
					   k.mac_size, smac), 0);
		assert_int_equal(tsig_verify(&k, resp, slen, 30, rmac, k.mac_size, T0, &rr),
				 TSIG_VERIFIED);
		/* a BADTIME answer is signed too and says so */
		slen = 30;
		dns_put16(resp + 10, 0);
		assert_int_equal(tsig_sign(&k, resp, &slen, sizeof(resp), T0, TSIG_ERR_BADTIME, rmac,
					   k.mac_size, smac), 0);
		assert_int_equal(tsig_verify(&k, resp, slen, 30, rmac, k.mac_size, T0, &rr),
				 TSIG_VERIFIED);
		assert_int_equal(rr.error, TSIG_ERR_BADTIME);
		assert_string_equal(tsig_error_name(rr.error), "BADTIME");
		tsig_key_wipe(&k);
	}
}

/* An unsigned BADSIG answer, as BIND sends for a wrong secret. */
static void test_unsigned_error(void **state)
{
	uint8_t m[256];
	size_t n = 30;
	static const uint8_t tail[] = {
		0x0c, 'h', 'o', 'm', 'e', 'p', 'o', 'r', 't', '-', 'k', 'e', 'y', 0,
		0x00, 0xfa, 0x00, 0xff, 0, 0, 0, 0, 0x00, 0x1d,
		0x0b, 'h', 'm', 'a', 'c', '-', 's', 'h', 'a', '2', '5', '6', 0,
		0, 0, 0x65, 0x53, 0xf1, 0x00, 0x01, 0x2c, 0x00, 0x00,  /* MAC size 0 */
		0x12, 0x34, 0x00, 0x10, 0x00, 0x00,                     /* error 16 */
	};
	struct tsig_key k;
	struct tsig_rr rr;
	char err[128];

	memcpy(m, reply_msg, n);
	m[3] |= 9;                     /* NOTAUTH */
	memcpy(m + n, tail, sizeof(tail));
	n += sizeof(tail);
	assert_int_equal(tsig_key_init(&k, "homeport-key", NULL, SECRET, err, sizeof(err)), 0);
	assert_int_equal(tsig_verify(&k, m, n, 30, mac_sha256, 32, T0, &rr), TSIG_UNSIGNED_ERROR);
	assert_int_equal(rr.error, TSIG_ERR_BADSIG);
	/* MAC size 0 without an error is simply a bad MAC */
	m[n - 3] = 0;
	assert_int_equal(tsig_verify(&k, m, n, 30, mac_sha256, 32, T0, &rr), TSIG_BAD_MAC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_bare),
		cmocka_unit_test(test_parse_keyfile),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_algorithms),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_key_init),
		cmocka_unit_test(test_sign_vectors),
		cmocka_unit_test(test_sign_no_room),
		cmocka_unit_test(test_verify_vector),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_unsigned_error),
	};
	return cmocka_run_group_tests_name("tsig", tests, NULL, NULL);
}
