/* tsig.c - TSIG (RFC 8945): reading the keys users hand us (a bare base64
 * secret or a tsig-keygen key file), signing requests and verifying replies
 * with Nettle's HMAC (digest.h). No error message ever contains the secret. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#include "digest.h"
#include "dns_msg.h"
#include "tsig.h"
#include "util.h"

struct tsig_alg {
	const char *name;            /* as users write it */
	const char *wire;            /* the algorithm name in the TSIG RR */
	enum digest_alg digest;
	size_t mac_size;
};

static const struct tsig_alg algs[] = {
	{ "hmac-sha256", "hmac-sha256.", DIGEST_SHA256, 32 },
	{ "hmac-sha512", "hmac-sha512.", DIGEST_SHA512, 64 },
	{ "hmac-sha384", "hmac-sha384.", DIGEST_SHA384, 48 },
	{ "hmac-sha224", "hmac-sha224.", DIGEST_SHA224, 28 },
	{ "hmac-sha1", "hmac-sha1.", DIGEST_SHA1, 20 },
	{ "hmac-md5", "hmac-md5.sig-alg.reg.int.", DIGEST_MD5, 16 },
};
#define N_ALGS (sizeof(algs) / sizeof(algs[0]))

/* Case-insensitive, one trailing dot optional, the long md5 name too. */
static int alg_find(const char *s)
{
	size_t l;

	if (s == NULL)
		return 0;
	l = strlen(s);
	if (l > 0 && s[l - 1] == '.')
		l--;
	for (size_t i = 0; i < N_ALGS; i++) {
		size_t wl = strlen(algs[i].wire) - 1;
		if ((strlen(algs[i].name) == l && strncasecmp(s, algs[i].name, l) == 0) ||
		    (wl == l && strncasecmp(s, algs[i].wire, l) == 0))
			return (int)i;
	}
	return -1;
}

bool tsig_algorithm_supported(const char *algorithm)
{
	return algorithm != NULL && alg_find(algorithm) >= 0;
}

const char *tsig_key_algorithm(const struct tsig_key *k)
{
	return algs[k->alg < N_ALGS ? k->alg : 0].name;
}

const char *tsig_error_name(uint16_t error)
{
	switch (error) {
	case 0: return "NOERROR";
	case TSIG_ERR_BADSIG: return "BADSIG";
	case TSIG_ERR_BADKEY: return "BADKEY";
	case TSIG_ERR_BADTIME: return "BADTIME";
	case TSIG_ERR_BADTRUNC: return "BADTRUNC";
	default: return "error?";
	}
}

const char *tsig_status_text(enum tsig_status st)
{
	switch (st) {
	case TSIG_VERIFIED: return "TSIG verified";
	case TSIG_NOT_SIGNED: return "reply carries no TSIG signature";
	case TSIG_MALFORMED: return "reply TSIG record is malformed";
	case TSIG_OTHER_KEY: return "reply is signed with another key or algorithm";
	case TSIG_UNSIGNED_ERROR: return "reply is an unsigned TSIG error";
	case TSIG_BAD_MAC: return "reply TSIG MAC does not verify";
	case TSIG_BAD_TIME: return "reply TSIG time is outside the allowed clock skew";
	}
	return "?";
}

/* ---- base64 ---- */

static int b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int tsig_base64_decode(const char *in, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	unsigned bits = 0, pad = 0;
	size_t n = 0, chars = 0;

	for (const char *p = in; *p; p++) {
		int v;

		if (isspace((unsigned char)*p))
			continue;
		if (*p == '=') {
			pad++;
			continue;
		}
		v = b64_value((unsigned char)*p);
		if (v < 0 || pad)
			return -1;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		chars++;
		if (bits >= 8) {
			bits -= 8;
			if (n >= cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	if (chars % 4 == 1 || pad > 2 || (pad && (chars + pad) % 4 != 0))
		return -1;
	return (int)n;
}

/* ---- key text: bare secret or BIND key file ---- */

enum tok { T_EOF, T_WORD, T_STRING, T_LBRACE, T_RBRACE, T_SEMI, T_ERR };

struct lex {
	const char *p;
	int line;
	const char *start;           /* of the last token's text */
	size_t len;
	const char *why;             /* on T_ERR */
};

/* White space and the three comment styles named.conf allows. */
static int lex_skip(struct lex *lx)
{
	for (;;) {
		if (*lx->p == '\n')
			lx->line++;
		if (isspace((unsigned char)*lx->p)) {
			lx->p++;
		} else if (*lx->p == '#' || (lx->p[0] == '/' && lx->p[1] == '/')) {
			while (*lx->p && *lx->p != '\n')
				lx->p++;
		} else if (lx->p[0] == '/' && lx->p[1] == '*') {
			const char *e = strstr(lx->p + 2, "*/");
			if (!e)
				return -1;
			for (; lx->p < e; lx->p++)
				if (*lx->p == '\n')
					lx->line++;
			lx->p = e + 2;
		} else {
			return 0;
		}
	}
}

static enum tok lex_next(struct lex *lx)
{
	if (lex_skip(lx) < 0) {
		lx->why = "unterminated /* comment";
		return T_ERR;
	}
	lx->start = lx->p;
	lx->len = 0;
	switch (*lx->p) {
	case '\0': return T_EOF;
	case '{': lx->p++; return T_LBRACE;
	case '}': lx->p++; return T_RBRACE;
	case ';': lx->p++; return T_SEMI;
	case '"': {
		const char *e = strchr(lx->p + 1, '"');
		if (!e) {
			lx->why = "unterminated quoted string";
			return T_ERR;
		}
		lx->start = lx->p + 1;
		lx->len = (size_t)(e - lx->start);
		for (const char *q = lx->start; q < e; q++)
			if (*q == '\n')
				lx->line++;
		lx->p = e + 1;
		return T_STRING;
	}
	default:
		while (*lx->p && !isspace((unsigned char)*lx->p) && !strchr("{};\"#", *lx->p))
			lx->p++;
		lx->len = (size_t)(lx->p - lx->start);
		return T_WORD;
	}
}

static bool tok_is(const struct lex *lx, enum tok t, const char *word)
{
	return t == T_WORD && lx->len == strlen(word) && strncasecmp(lx->start, word, lx->len) == 0;
}

struct keyfile {
	char *name, *algorithm, *secret;
	int secret_line;
};

/* One "algorithm X;" or "secret "X";" clause inside the braces. */
static int parse_clause(struct lex *lx, enum tok t, struct keyfile *kf, char *err, size_t errlen)
{
	bool is_alg = tok_is(lx, t, "algorithm"), is_secret = tok_is(lx, t, "secret");
	int line = lx->line;
	char **dst = is_alg ? &kf->algorithm : &kf->secret;

	if (!is_alg && !is_secret) {
		snprintf(err, errlen, "line %d: expected \"algorithm\" or \"secret\" inside the key block",
			 line);
		return -1;
	}
	if (*dst) {
		snprintf(err, errlen, "line %d: %s given twice", line, is_alg ? "algorithm" : "secret");
		return -1;
	}
	t = lex_next(lx);
	if (t != T_WORD && t != T_STRING) {
		snprintf(err, errlen, "line %d: %s", lx->line, t == T_ERR ? lx->why :
			 is_alg ? "algorithm needs a value" : "secret needs a value");
		return -1;
	}
	*dst = strndup(lx->start, lx->len);
	if (*dst == NULL)
		abort();
	if (is_secret)
		kf->secret_line = line;
	if ((t = lex_next(lx)) != T_SEMI) {
		snprintf(err, errlen, "line %d: %s%s", lx->line,
			 t == T_ERR ? lx->why : "expected ';' after the ",
			 t == T_ERR ? "" : is_alg ? "algorithm" : "secret");
		return -1;
	}
	return 0;
}

/* key "NAME" { algorithm ALG; secret "B64"; }; */
static int parse_keyfile(struct lex *lx, struct keyfile *kf, char *err, size_t errlen)
{
	enum tok t = lex_next(lx);

	if (t != T_WORD && t != T_STRING) {
		snprintf(err, errlen, "line %d: %s", lx->line,
			 t == T_ERR ? lx->why : "expected the key name after \"key\"");
		return -1;
	}
	kf->name = strndup(lx->start, lx->len);
	if (kf->name == NULL)
		abort();
	if ((t = lex_next(lx)) != T_LBRACE) {
		snprintf(err, errlen, "line %d: %s", lx->line,
			 t == T_ERR ? lx->why : "expected '{' after the key name");
		return -1;
	}
	while ((t = lex_next(lx)) != T_RBRACE) {
		if (t == T_EOF || t == T_ERR) {
			snprintf(err, errlen, "line %d: %s", lx->line,
				 t == T_ERR ? lx->why : "missing '}' at the end of the key block");
			return -1;
		}
		if (parse_clause(lx, t, kf, err, errlen) < 0)
			return -1;
	}
	t = lex_next(lx);
	if (t == T_SEMI)
		t = lex_next(lx);
	if (t != T_EOF) {
		snprintf(err, errlen, "line %d: %s", lx->line, t == T_ERR ? lx->why :
			 "unexpected text after the key block (one key per file)");
		return -1;
	}
	return 0;
}

static bool secret_decodes(const char *b64)
{
	uint8_t buf[TSIG_SECRET_MAX];
	int n = tsig_base64_decode(b64, buf, sizeof(buf));

	explicit_bzero(buf, sizeof(buf));
	return n > 0;
}

static int check_keyfile(const struct keyfile *kf, char *err, size_t errlen)
{
	uint8_t wire[DNS_NAME_MAX];

	if (dns_name_to_wire(kf->name, true, wire, sizeof(wire)) < 0) {
		snprintf(err, errlen, "key name \"%.80s\" is not a valid DNS name", kf->name);
		return -1;
	}
	if (kf->algorithm && !tsig_algorithm_supported(kf->algorithm)) {
		snprintf(err, errlen, "algorithm \"%.40s\" is not supported (use hmac-sha256, "
			 "hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1 or hmac-md5)",
			 kf->algorithm);
		return -1;
	}
	if (kf->secret == NULL) {
		snprintf(err, errlen, "the key block has no secret");
		return -1;
	}
	if (!secret_decodes(kf->secret)) {
		snprintf(err, errlen, "line %d: secret is not valid base64 (or longer than %d bytes)",
			 kf->secret_line, TSIG_SECRET_MAX);
		return -1;
	}
	return 0;
}

/* The whole text is the secret: one word, white space and # comment lines
 * around it. */
static int parse_bare(const char *text, char **secret, char *err, size_t errlen)
{
	char *s = xcalloc(strlen(text) + 1, 1);
	size_t n = 0;
	int words = 0;

	for (const char *p = text; *p; p++) {
		if (*p == '#') {
			while (p[1] && p[1] != '\n')
				p++;
		} else if (!isspace((unsigned char)*p)) {
			if (p == text || isspace((unsigned char)p[-1]))
				words++;
			s[n++] = *p;
		}
	}
	if (words != 1 || !secret_decodes(s)) {
		snprintf(err, errlen, words == 0 ? "no secret found (the file is empty)" :
			 "not a base64 secret, nor a key file (key \"NAME\" { algorithm ...; secret \"...\"; };)");
		free_secret(s);
		return -1;
	}
	*secret = s;
	return 0;
}

int tsig_key_parse(const char *text, char **name, char **algorithm,
		   char **secret_b64, char *err, size_t errlen)
{
	struct lex lx = { text, 1, NULL, 0, NULL };
	struct keyfile kf = { NULL, NULL, NULL, 0 };
	enum tok t;
	int rc = -1;

	*name = *algorithm = *secret_b64 = NULL;
	if (text == NULL) {
		snprintf(err, errlen, "no key text");
		return -1;
	}
	t = lex_next(&lx);
	if (!tok_is(&lx, t, "key")) {
		rc = parse_bare(text, secret_b64, err, errlen);
		goto out;
	}
	if (parse_keyfile(&lx, &kf, err, errlen) < 0 || check_keyfile(&kf, err, errlen) < 0)
		goto out;
	*name = kf.name;
	*algorithm = kf.algorithm;
	*secret_b64 = kf.secret;
	kf.name = kf.algorithm = kf.secret = NULL;
	rc = 0;
out:
	free(kf.name);
	free(kf.algorithm);
	free_secret(kf.secret);
	return rc;
}

/* ---- keys ---- */

int tsig_key_init(struct tsig_key *k, const char *name, const char *algorithm,
		  const char *secret_b64, char *err, size_t errlen)
{
	int a = alg_find(algorithm), n;

	memset(k, 0, sizeof(*k));
	n = name ? dns_name_to_wire(name, true, k->name, sizeof(k->name)) : -1;
	if (n < 0) {
		snprintf(err, errlen, "key name \"%.80s\" is not a valid DNS name", name ? name : "");
		return -1;
	}
	k->name_len = (size_t)n;
	if (a < 0) {
		snprintf(err, errlen, "TSIG algorithm \"%.40s\" is not supported", algorithm);
		return -1;
	}
	k->alg = (unsigned)a;
	k->mac_size = algs[a].mac_size;
	n = secret_b64 ? tsig_base64_decode(secret_b64, k->secret, sizeof(k->secret)) : -1;
	if (n <= 0) {
		tsig_key_wipe(k);
		snprintf(err, errlen, "TSIG secret is not valid base64 (or empty, or over %d bytes)",
			 TSIG_SECRET_MAX);
		return -1;
	}
	k->secret_len = (size_t)n;
	return 0;
}

void tsig_key_wipe(struct tsig_key *k)
{
	explicit_bzero(k->secret, sizeof(k->secret));
	k->secret_len = 0;
}

/* ---- MAC ---- */

static void mac_begin(struct digest_hmac *ctx, const struct tsig_key *k)
{
	digest_hmac_init(ctx, algs[k->alg].digest, k->secret, k->secret_len);
}

static void put48(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 6; i++)
		p[i] = (uint8_t)(v >> (40 - 8 * i));
}

static uint64_t get48(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 6; i++)
		v = v << 8 | p[i];
	return v;
}

/* RFC 8945 4.3.3: the TSIG variables, canonical names, then other data. */
static int mac_variables(struct digest_hmac *ctx, const struct tsig_key *k, uint64_t t,
			 uint16_t fudge, uint16_t error, const uint8_t *other, uint16_t other_len)
{
	uint8_t v[DNS_NAME_MAX * 2 + 32];
	uint8_t alg[DNS_NAME_MAX];
	int alen = dns_name_to_wire(algs[k->alg].wire, true, alg, sizeof(alg));
	size_t n = 0;

	if (alen < 0)
		return -1;
	memcpy(v, k->name, k->name_len);
	n = k->name_len;
	dns_put16(v + n, DNS_CLASS_ANY);
	memset(v + n + 2, 0, 4);                 /* TTL */
	n += 6;
	memcpy(v + n, alg, (size_t)alen);
	n += (size_t)alen;
	put48(v + n, t);
	dns_put16(v + n + 6, fudge);
	dns_put16(v + n + 8, error);
	dns_put16(v + n + 10, other_len);
	n += 12;
	digest_hmac_update(ctx, v, n);
	digest_hmac_update(ctx, other, other_len);
	return 0;
}

static void mac_prior(struct digest_hmac *ctx, const uint8_t *prior, size_t prior_len)
{
	uint8_t l[2];

	if (prior == NULL)
		return;
	dns_put16(l, (uint16_t)prior_len);
	digest_hmac_update(ctx, l, 2);
	digest_hmac_update(ctx, prior, prior_len);
}

/* ---- signing ---- */

static size_t tsig_rr_size(const struct tsig_key *k)
{
	return k->name_len + 10 + strlen(algs[k->alg].wire) + 1 + 16 + k->mac_size;
}

static void append_rr(const struct tsig_key *k, uint8_t *msg, size_t *len,
		      uint64_t t, uint16_t error, const uint8_t *mac)
{
	uint8_t *p = msg + *len;
	int alen = dns_name_to_wire(algs[k->alg].wire, true, p + k->name_len + 10, DNS_NAME_MAX);
	size_t rdlen = (size_t)alen + 16 + k->mac_size;

	memcpy(p, k->name, k->name_len);
	p += k->name_len;
	dns_put16(p, DNS_TYPE_TSIG);
	dns_put16(p + 2, DNS_CLASS_ANY);
	memset(p + 4, 0, 4);
	dns_put16(p + 8, (uint16_t)rdlen);
	p += 10 + alen;
	put48(p, t);
	dns_put16(p + 6, TSIG_FUDGE);
	dns_put16(p + 8, (uint16_t)k->mac_size);
	memcpy(p + 10, mac, k->mac_size);
	p += 10 + k->mac_size;
	memcpy(p, msg, 2);                       /* original ID */
	dns_put16(p + 2, error);
	dns_put16(p + 4, 0);                     /* other len */
	*len += k->name_len + 10 + rdlen;
}

int tsig_sign(const struct tsig_key *k, uint8_t *msg, size_t *len, size_t cap,
	      uint64_t time_signed, uint16_t error, const uint8_t *prior_mac,
	      size_t prior_mac_len, uint8_t *mac_out)
{
	struct digest_hmac ctx;
	uint16_t arcount;

	if (*len < DNS_HDR_LEN || *len > cap || cap - *len < tsig_rr_size(k) ||
	    prior_mac_len > TSIG_MAC_MAX)
		return -1;
	arcount = dns_get16(msg + 10);
	if (arcount == 0xffff)
		return -1;
	mac_begin(&ctx, k);
	mac_prior(&ctx, prior_mac, prior_mac_len);
	digest_hmac_update(&ctx, msg, *len);
	if (mac_variables(&ctx, k, time_signed, TSIG_FUDGE, error, NULL, 0) < 0) {
		digest_hmac_wipe(&ctx);     /* keyed state */
		return -1;
	}
	digest_hmac_final(&ctx, mac_out);
	append_rr(k, msg, len, time_signed, error, mac_out);
	dns_put16(msg + 10, (uint16_t)(arcount + 1));
	return 0;
}

/* ---- verifying ---- */

/* Fixed part of the RDATA after the algorithm name, then MAC and the rest. */
static int parse_rdata_tail(const uint8_t *p, size_t left, struct tsig_rr *rr)
{
	if (left < 10)
		return -1;
	rr->time_signed = get48(p);
	rr->fudge = dns_get16(p + 6);
	rr->mac_size = dns_get16(p + 8);
	p += 10;
	left -= 10;
	if (left < (size_t)rr->mac_size + 6)
		return -1;
	rr->mac = p;
	p += rr->mac_size;
	left -= rr->mac_size;
	rr->orig_id = dns_get16(p);
	rr->error = dns_get16(p + 2);
	rr->other_len = dns_get16(p + 4);
	rr->other = p + 6;
	return left - 6 == rr->other_len ? 0 : -1;
}

int tsig_rr_parse(const uint8_t *msg, size_t len, size_t off, struct tsig_rr *rr)
{
	size_t pos = off, rdend;
	int n;

	memset(rr, 0, sizeof(*rr));
	n = dns_name_read(msg, len, &pos, rr->name, sizeof(rr->name));
	if (n < 0 || len - pos < 10)
		return -1;
	rr->name_len = (size_t)n;
	/* type TSIG, class ANY, TTL 0 (RFC 8945 4.2); the TTL is not under the MAC */
	if (dns_get16(msg + pos) != DNS_TYPE_TSIG || dns_get16(msg + pos + 2) != DNS_CLASS_ANY ||
	    dns_get16(msg + pos + 4) != 0 || dns_get16(msg + pos + 6) != 0)
		return -1;
	rdend = pos + 10 + dns_get16(msg + pos + 8);
	pos += 10;
	if (rdend != len)
		return -1;
	/* the algorithm name must sit inside the RDATA */
	n = dns_name_read(msg, rdend, &pos, rr->alg, sizeof(rr->alg));
	if (n < 0)
		return -1;
	rr->alg_len = (size_t)n;
	return parse_rdata_tail(msg + pos, rdend - pos, rr);
}

static bool same_key(const struct tsig_key *k, const struct tsig_rr *rr)
{
	uint8_t alg[DNS_NAME_MAX];
	int alen = dns_name_to_wire(algs[k->alg].wire, true, alg, sizeof(alg));

	return rr->name_len == k->name_len && memcmp(rr->name, k->name, k->name_len) == 0 &&
	       alen > 0 && rr->alg_len == (size_t)alen && memcmp(rr->alg, alg, rr->alg_len) == 0;
}

/* The MAC over request MAC, reply without its TSIG RR, TSIG variables. */
static int reply_mac(const struct tsig_key *k, const uint8_t *msg, size_t tsig_off,
		     const uint8_t *req_mac, size_t req_mac_len, const struct tsig_rr *rr,
		     uint8_t *out)
{
	struct digest_hmac ctx;
	uint8_t hdr[DNS_HDR_LEN];

	memcpy(hdr, msg, DNS_HDR_LEN);
	dns_put16(hdr, rr->orig_id);
	dns_put16(hdr + 10, (uint16_t)(dns_get16(msg + 10) - 1));
	mac_begin(&ctx, k);
	mac_prior(&ctx, req_mac, req_mac_len);
	digest_hmac_update(&ctx, hdr, DNS_HDR_LEN);
	digest_hmac_update(&ctx, msg + DNS_HDR_LEN, tsig_off - DNS_HDR_LEN);
	if (mac_variables(&ctx, k, rr->time_signed, rr->fudge, rr->error, rr->other,
			  rr->other_len) < 0) {
		digest_hmac_wipe(&ctx);     /* keyed state */
		return -1;
	}
	digest_hmac_final(&ctx, out);
	return 0;
}

enum tsig_status tsig_verify(const struct tsig_key *k, const uint8_t *msg, size_t len,
			     size_t tsig_off, const uint8_t *req_mac, size_t req_mac_len,
			     uint64_t now, struct tsig_rr *rr)
{
	uint8_t mac[TSIG_MAC_MAX];
	uint64_t skew;

	memset(rr, 0, sizeof(*rr));
	if (tsig_off == 0)
		return TSIG_NOT_SIGNED;
	if (tsig_off < DNS_HDR_LEN || tsig_off >= len || dns_get16(msg + 10) == 0 ||
	    req_mac_len > TSIG_MAC_MAX || tsig_rr_parse(msg, len, tsig_off, rr) < 0)
		return TSIG_MALFORMED;
	if (!same_key(k, rr))
		return TSIG_OTHER_KEY;
	if (rr->mac_size == 0)
		return rr->error ? TSIG_UNSIGNED_ERROR : TSIG_BAD_MAC;
	/* truncated MACs (RFC 8945 5.2.2.1) are not accepted */
	if (rr->mac_size != k->mac_size ||
	    reply_mac(k, msg, tsig_off, req_mac, req_mac_len, rr, mac) < 0 ||
	    !digest_equal(mac, rr->mac, k->mac_size))
		return TSIG_BAD_MAC;
	skew = now > rr->time_signed ? now - rr->time_signed : rr->time_signed - now;
	return skew > rr->fudge ? TSIG_BAD_TIME : TSIG_VERIFIED;
}
