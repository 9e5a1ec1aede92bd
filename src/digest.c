/* digest.c - the hashes and HMACs of digest.h, on GNU Nettle's generic hash
 * interface (nettle-meta.h) and its HMAC (hmac.h). */
#include <string.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/nettle-meta.h>

#include "digest.h"

static const struct nettle_hash *hash_of(enum digest_alg alg)
{
	switch (alg) {
	case DIGEST_MD5: return &nettle_md5;
	case DIGEST_SHA1: return &nettle_sha1;
	case DIGEST_SHA224: return &nettle_sha224;
	case DIGEST_SHA256: return &nettle_sha256;
	case DIGEST_SHA384: return &nettle_sha384;
	case DIGEST_SHA512: return &nettle_sha512;
	}
	return &nettle_sha256;       /* not reached: every caller passes an enum value */
}

size_t digest_size(enum digest_alg alg)
{
	return hash_of(alg)->digest_size;
}

void digest_init(struct digest_ctx *c, enum digest_alg alg)
{
	c->hash = hash_of(alg);
	c->hash->init(&c->s);
}

void digest_update(struct digest_ctx *c, const void *data, size_t len)
{
	if (len)
		c->hash->update(&c->s, len, data);
}

void digest_final(struct digest_ctx *c, uint8_t *out)
{
	c->hash->digest(&c->s, c->hash->digest_size, out);
	explicit_bzero(c, sizeof(*c));
}

void digest(enum digest_alg alg, const void *data, size_t len, uint8_t *out)
{
	struct digest_ctx c;

	digest_init(&c, alg);
	digest_update(&c, data, len);
	digest_final(&c, out);
}

void digest_hmac_init(struct digest_hmac *c, enum digest_alg alg, const void *key,
		      size_t key_len)
{
	static const uint8_t none;

	c->hash = hash_of(alg);
	nettle_hmac_set_key(&c->outer, &c->inner, &c->state, c->hash, key_len,
			    key_len ? key : &none);
}

void digest_hmac_update(struct digest_hmac *c, const void *data, size_t len)
{
	if (len)
		nettle_hmac_update(&c->state, c->hash, len, data);
}

void digest_hmac_final(struct digest_hmac *c, uint8_t *out)
{
	nettle_hmac_digest(&c->outer, &c->inner, &c->state, c->hash, c->hash->digest_size, out);
	digest_hmac_wipe(c);
}

void digest_hmac_wipe(struct digest_hmac *c)
{
	explicit_bzero(c, sizeof(*c));
}

void digest_hmac(enum digest_alg alg, const void *key, size_t key_len, const void *data,
		 size_t len, uint8_t *out)
{
	struct digest_hmac c;

	digest_hmac_init(&c, alg, key, key_len);
	digest_hmac_update(&c, data, len);
	digest_hmac_final(&c, out);
}

bool digest_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	return len == 0 || nettle_memeql_sec(a, b, len);
}
