/* digest.h - MD5, SHA-1, SHA-224/256/384/512 and HMAC over them: what TSIG
 * (tsig.c), the cloud API signatures (cloudsig.c) and the config fingerprint
 * (ddns_policy.c) need, on GNU Nettle. Nettle rather than OpenSSL's libcrypto:
 * a daemon that signs one HMAC with libcrypto keeps ~3.8 MB of it resident,
 * with Nettle ~0.5 MB (bench/README.md, section 8). The callers see only
 * these names, so the library stays one file's business. */
#ifndef HP_DIGEST_H
#define HP_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <nettle/md5.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>

enum digest_alg { DIGEST_MD5, DIGEST_SHA1, DIGEST_SHA224, DIGEST_SHA256, DIGEST_SHA384,
		  DIGEST_SHA512 };

#define DIGEST_MAX 64        /* bytes of the largest digest (SHA-512) */

/* Nettle's context of any of the algorithms above (SHA-224 and SHA-384
 * share SHA-256's and SHA-512's). */
union digest_state {
	struct md5_ctx md5;
	struct sha1_ctx sha1;
	struct sha256_ctx sha256;
	struct sha512_ctx sha512;
};

struct nettle_hash;

struct digest_ctx {
	const struct nettle_hash *hash;
	union digest_state s;
};

struct digest_hmac {
	const struct nettle_hash *hash;
	union digest_state outer, inner, state;
};

size_t digest_size(enum digest_alg alg);
void digest_init(struct digest_ctx *c, enum digest_alg alg);
void digest_update(struct digest_ctx *c, const void *data, size_t len);
/* Writes digest_size(alg) bytes and wipes the context. */
void digest_final(struct digest_ctx *c, uint8_t *out);
void digest(enum digest_alg alg, const void *data, size_t len, uint8_t *out);

void digest_hmac_init(struct digest_hmac *c, enum digest_alg alg, const void *key,
		      size_t key_len);
void digest_hmac_update(struct digest_hmac *c, const void *data, size_t len);
void digest_hmac_final(struct digest_hmac *c, uint8_t *out);   /* wipes the context */
void digest_hmac_wipe(struct digest_hmac *c);                  /* when not finished */
void digest_hmac(enum digest_alg alg, const void *key, size_t key_len, const void *data,
		 size_t len, uint8_t *out);

/* Compare two MACs in time that does not depend on where they differ. */
bool digest_equal(const uint8_t *a, const uint8_t *b, size_t len);

#endif
