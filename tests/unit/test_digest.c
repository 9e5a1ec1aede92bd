/* test_digest.c - digest.c (GNU Nettle) against OpenSSL: the expected values below were
 * computed with OpenSSL (through Python's hashlib/hmac) for the same inputs:
 * "abc"; the digest of the concatenated digests of 300 messages of 0..299
 * bytes (every padding boundary of 64- and 128-byte blocks); the same for
 * HMAC with keys of 0..198 bytes (shorter, equal to and longer than a block)
 * over messages around the block sizes. Also RFC 4231's test case 2 and the
 * MAC comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "digest.h"

static const struct {
	enum digest_alg alg;
	const char *name, *abc, *chain, *hmac_chain;
} vec[] = {
	{ DIGEST_MD5, "md5",
	  "900150983cd24fb0d6963f7d28e17f72",
	  "07078cab541bc45f0a66e2c0213a32f4",
	  "0ab606e81f9bbe3df49032c3fd2bbe89" },
	{ DIGEST_SHA1, "sha1",
	  "a9993e364706816aba3e25717850c26c9cd0d89d",
	  "dfc942b5ddc5fe6421ccada9be50fa42e873926c",
	  "3097364af444726a35942d4103dc172e2b8c8d02" },
	{ DIGEST_SHA224, "sha224",
	  "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
	  "d88e0c78201368a96088c911f15d0f9e9d274ff23ac82fc481f92e00",
	  "9bffbb1451c30d00c239d921f3c122be75344c79387375f2ebc3e4ae" },
	{ DIGEST_SHA256, "sha256",
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	  "d5238871a46ac4a1a75ac3fb19d645b0b3b9e5f35f5f720e2b240d605c6b694e",
	  "e2411a98617bac7f5e396dbac7c91073bfd0b543c1f3ca0883e8994204033a47" },
	{ DIGEST_SHA384, "sha384",
	  "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
	  "e3a73ee7e40ce4f9bb660f1ec279e2e3145ce11a3d066daaf5ba43639ef37a5e105d92e2090d8f782a96ca4c97457b29",
	  "ec97fb9f16efe85c517afd7fcc6eaa96f5f7303e1cd5b658c83239aa064cae2c7b0f479fe617e6a639f289bbe762669d" },
	{ DIGEST_SHA512, "sha512",
	  "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
	  "30d6c78a55e1f152f00703601a37b39b96c6c8fa2b3e66fb9c8182466b108d39d5dd84827c69cadb4376853da7ec31ea83a0a7a0e5a713bac426e0f0ceea8424",
	  "6dc7403ff1898439f7dfc36f63f9ef7aa86c98c4e880c719a2105f59e5550ec02436c97cc627c6dd47f6e68492e11de95dd7751f92fb3866bc27244b3cf96eae" },
};

static void msg(uint8_t *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		m[i] = (uint8_t)(i * 7 + n);
}

static void hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_abc(void **state)
{
	uint8_t d[DIGEST_MAX];
	char h[2 * DIGEST_MAX + 1];

	for (size_t v = 0; v < sizeof(vec) / sizeof(vec[0]); v++) {
		digest(vec[v].alg, "abc", 3, d);
		hex(d, digest_size(vec[v].alg), h);
		assert_string_equal(h, vec[v].abc);
	}
}

static void test_every_length(void **state)
{
	static uint8_t m[300], all[300 * DIGEST_MAX];
	uint8_t d[DIGEST_MAX];
	char h[2 * DIGEST_MAX + 1];

	for (size_t v = 0; v < sizeof(vec) / sizeof(vec[0]); v++) {
		size_t ds = digest_size(vec[v].alg);
		for (size_t n = 0; n < 300; n++) {
			struct digest_ctx c;
			msg(m, n);
			digest_init(&c, vec[v].alg);
			/* in two pieces, so that buffered and direct blocks both run */
			digest_update(&c, m, n / 3);
			digest_update(&c, m + n / 3, n - n / 3);
			digest_final(&c, all + n * ds);
		}
		digest(vec[v].alg, all, 300 * ds, d);
		hex(d, ds, h);
		assert_string_equal(h, vec[v].chain);
	}
}

static void test_hmac(void **state)
{
	static const size_t lens[] = { 0, 1, 63, 64, 65, 127, 128, 129, 300 };
	static uint8_t k[200], m[300], all[67 * 9 * DIGEST_MAX];
	uint8_t d[DIGEST_MAX];
	char h[2 * DIGEST_MAX + 1];

	for (size_t v = 0; v < sizeof(vec) / sizeof(vec[0]); v++) {
		size_t ds = digest_size(vec[v].alg), n = 0;
		for (size_t kl = 0; kl < 200; kl += 3) {
			msg(k, kl);
			for (size_t j = 0; j < 9; j++, n++) {
				msg(m, lens[j]);
				digest_hmac(vec[v].alg, k, kl, m, lens[j], all + n * ds);
			}
		}
		digest(vec[v].alg, all, n * ds, d);
		hex(d, ds, h);
		assert_string_equal(h, vec[v].hmac_chain);
	}
}

/* RFC 4231 4.3: key "Jefe", "what do ya want for nothing?" */
static void test_rfc4231(void **state)
{
	uint8_t d[DIGEST_MAX];
	char h[2 * DIGEST_MAX + 1];
	struct digest_hmac c;

	digest_hmac_init(&c, DIGEST_SHA256, "Jefe", 4);
	digest_hmac_update(&c, "what do ya want ", 16);
	digest_hmac_update(&c, "for nothing?", 12);
	digest_hmac_final(&c, d);
	hex(d, 32, h);
	assert_string_equal(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_equal(void **state)
{
	uint8_t a[4] = { 1, 2, 3, 4 }, b[4] = { 1, 2, 3, 4 };

	assert_true(digest_equal(a, b, 4));
	b[3] = 5;
	assert_false(digest_equal(a, b, 4));
	b[3] = 4;
	b[0] = 0;
	assert_false(digest_equal(a, b, 4));
	assert_true(digest_equal(a, b, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abc),
		cmocka_unit_test(test_every_length),
		cmocka_unit_test(test_hmac),
		cmocka_unit_test(test_rfc4231),
		cmocka_unit_test(test_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
