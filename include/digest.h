/* digest.h - MD5, SHA-1, SHA-224/256/384/512 and HMAC over them: what TSIG
 * (tsig.c), the cloud API signatures (cloudsig.c) and the config fingerprint
 * (ddns_policy.c) need. Written from RFC 1321, FIPS 180-4 and RFC 2104, so
 * the daemon does not load OpenSSL's libcrypto (3.5 MB resident once its
 * providers are set up) for a few hashes; tests/unit/test_digest.c checks
 * every function against OpenSSL's results. */
#ifndef HP_DIGEST_H
#define HP_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum digest_alg { DIGEST_MD5, DIGEST_SHA1, DIGEST_SHA224, DIGEST_SHA256, DIGEST_SHA384,
		  DIGEST_SHA512 };

#define DIGEST_MAX   64      /* bytes of the largest digest (SHA-512) */
#define DIGEST_BLOCK_MAX 128 /* bytes of the largest block (SHA-384/512) */

struct digest_ctx {
	enum digest_alg alg;
	union {
		uint32_t w32[8];
		uint64_t w64[8];
	} h;
	uint8_t buf[DIGEST_BLOCK_MAX];
	size_t used;                 /* bytes waiting in buf */
	uint64_t total;              /* bytes hashed so far */
};

struct hmac_ctx {
	struct digest_ctx inner, outer;
};

size_t digest_size(enum digest_alg alg);
void digest_init(struct digest_ctx *c, enum digest_alg alg);
void digest_update(struct digest_ctx *c, const void *data, size_t len);
/* Writes digest_size(alg) bytes and wipes the context. */
void digest_final(struct digest_ctx *c, uint8_t *out);
void digest(enum digest_alg alg, const void *data, size_t len, uint8_t *out);

void hmac_init(struct hmac_ctx *c, enum digest_alg alg, const void *key, size_t key_len);
void hmac_update(struct hmac_ctx *c, const void *data, size_t len);
void hmac_final(struct hmac_ctx *c, uint8_t *out);       /* wipes the context */
void hmac(enum digest_alg alg, const void *key, size_t key_len, const void *data, size_t len,
	  uint8_t *out);

/* Compare two MACs in time that does not depend on where they differ. */
bool digest_equal(const uint8_t *a, const uint8_t *b, size_t len);

#endif
