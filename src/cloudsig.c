/* cloudsig.c - ACS3-HMAC-SHA256 (Alibaba Cloud) and TC3-HMAC-SHA256
 * (Tencent Cloud) request signatures, written from the providers' signature
 * documents (see cloudsig.h) on Nettle's SHA-256 and HMAC (digest.h).
 * Derived keys are wiped after use; nothing here logs. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloudsig.h"
#include "digest.h"
#include "http.h"
#include "util.h"

#define SHA256_LEN 32

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hmac256(const void *key, size_t klen, const void *msg, size_t mlen,
		   unsigned char *out)
{
	digest_hmac(DIGEST_SHA256, key, klen, msg, mlen, out);
	return 0;
}

int cloudsig_sha256_hex(const void *data, size_t len, char *out)
{
	unsigned char d[SHA256_LEN];
	digest(DIGEST_SHA256, data ? data : "", len, d);
	to_hex(d, sizeof(d), out);
	return 0;
}

/* A Unix time in UTC as 2023-10-26T10:22:32Z, or only 2023-10-26. */
static int utc_text(int64_t t, bool date_only, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;
	size_t n;

	if (t < 0 || !gmtime_r(&tt, &tm))
		return -1;
	n = date_only ? strftime(out, size, "%Y-%m-%d", &tm) :
			strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return n ? 0 : -1;
}

/* ---- ACS3-HMAC-SHA256 ---- */

static int param_cmp(const void *a, const void *b)
{
	const struct cloudsig_param *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value ? x->value : "", y->value ? y->value : "");
}

char *cloudsig_acs3_query(const struct cloudsig_param *p, size_t n)
{
	struct cloudsig_param *s = xcalloc(n ? n : 1, sizeof(*s));
	char *out = xstrdup("");

	if (n) {
		memcpy(s, p, n * sizeof(*s));
		qsort(s, n, sizeof(*s), param_cmp);
	}
	for (size_t i = 0; i < n; i++) {
		char *k = http_escape(s[i].name), *v = http_escape(s[i].value ? s[i].value : "");
		char *next;
		if (asprintf(&next, "%s%s%s=%s", out, i ? "&" : "", k, v) < 0)
			abort();             /* out of memory, like xcalloc */
		free(out);
		free(k);
		free(v);
		out = next;
	}
	free(s);
	return out;
}

/* The signed header names, sorted, as the document's example lists them. */
#define ACS3_SIGNED "host;x-acs-action;x-acs-content-sha256;x-acs-date;" \
		    "x-acs-signature-nonce;x-acs-version"

static char *acs3_canonical(const struct cloudsig_acs3 *r, const struct cloudsig_acs3_out *o)
{
	char *s = NULL;

	if (asprintf(&s, "%s\n%s\n%s\n"
		     "host:%s\nx-acs-action:%s\nx-acs-content-sha256:%s\nx-acs-date:%s\n"
		     "x-acs-signature-nonce:%s\nx-acs-version:%s\n\n%s\n%s",
		     r->method, r->uri, r->query, r->host, r->action, o->content_sha256,
		     o->date, r->nonce, r->version, ACS3_SIGNED, o->content_sha256) < 0)
		return NULL;
	return s;
}

int cloudsig_acs3_sign(const struct cloudsig_acs3 *r, struct cloudsig_acs3_out *out)
{
	char hashed[CLOUDSIG_HEX + 1], sig[CLOUDSIG_HEX + 1], *canon;
	unsigned char mac[SHA256_LEN];
	int n;

	memset(out, 0, sizeof(*out));
	if (utc_text(r->time, false, out->date, sizeof(out->date)) < 0 ||
	    cloudsig_sha256_hex(r->payload, r->payload ? r->payload_len : 0,
				out->content_sha256) < 0)
		return -1;
	canon = acs3_canonical(r, out);
	if (!canon)
		return -1;
	n = cloudsig_sha256_hex(canon, strlen(canon), hashed);
	free(canon);
	if (n < 0)
		return -1;
	snprintf(out->string_to_sign, sizeof(out->string_to_sign), "ACS3-HMAC-SHA256\n%s", hashed);
	if (hmac256(r->key_secret, strlen(r->key_secret), out->string_to_sign,
		    strlen(out->string_to_sign), mac) < 0)
		return -1;
	to_hex(mac, sizeof(mac), sig);
	n = snprintf(out->authorization, sizeof(out->authorization),
		     "ACS3-HMAC-SHA256 Credential=%s,SignedHeaders=%s,Signature=%s",
		     r->key_id, ACS3_SIGNED, sig);
	return n > 0 && (size_t)n < sizeof(out->authorization) ? 0 : -1;
}

/* ---- TC3-HMAC-SHA256 ---- */

/* Canonical header values are lower case and trimmed in TC3. */
static char *lower_trim(const char *s)
{
	size_t n;
	char *d;

	while (*s == ' ' || *s == '\t')
		s++;
	d = xstrdup(s);
	n = strlen(d);
	while (n && (d[n - 1] == ' ' || d[n - 1] == '\t'))
		d[--n] = '\0';
	for (char *p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

static char *tc3_canonical(const struct cloudsig_tc3 *r, const char *payload_hash,
			   const char **signed_headers)
{
	char *ct = lower_trim(r->content_type), *host = lower_trim(r->host);
	char *act = lower_trim(r->action), *s = NULL;
	int n;

	*signed_headers = r->sign_action ? "content-type;host;x-tc-action" : "content-type;host";
	if (r->sign_action)
		n = asprintf(&s, "POST\n/\n\ncontent-type:%s\nhost:%s\nx-tc-action:%s\n\n%s\n%s",
			     ct, host, act, *signed_headers, payload_hash);
	else
		n = asprintf(&s, "POST\n/\n\ncontent-type:%s\nhost:%s\n\n%s\n%s",
			     ct, host, *signed_headers, payload_hash);
	free(ct);
	free(host);
	free(act);
	return n < 0 ? NULL : s;
}

/* SecretSigning = HMAC(HMAC(HMAC("TC3" + key, date), service), "tc3_request"). */
static int tc3_key(const char *secret, const char *date, const char *service,
		   unsigned char *out)
{
	size_t klen = strlen(secret) + 3;
	char *k = xcalloc(klen + 1, 1);
	unsigned char a[SHA256_LEN], b[SHA256_LEN];
	int rc;

	memcpy(k, "TC3", 3);
	memcpy(k + 3, secret, klen - 3);
	rc = hmac256(k, klen, date, strlen(date), a) < 0 ||
	     hmac256(a, sizeof(a), service, strlen(service), b) < 0 ||
	     hmac256(b, sizeof(b), "tc3_request", 11, out) < 0 ? -1 : 0;
	explicit_bzero(k, klen);
	explicit_bzero(a, sizeof(a));
	explicit_bzero(b, sizeof(b));
	free(k);
	return rc;
}

int cloudsig_tc3_sign(const struct cloudsig_tc3 *r, struct cloudsig_tc3_out *out)
{
	char phash[CLOUDSIG_HEX + 1], chash[CLOUDSIG_HEX + 1], sig[CLOUDSIG_HEX + 1];
	char date[16], scope[96], *canon;
	const char *signed_headers;
	unsigned char key[SHA256_LEN], mac[SHA256_LEN];
	int n;

	memset(out, 0, sizeof(*out));
	if (utc_text(r->time, true, date, sizeof(date)) < 0 ||
	    cloudsig_sha256_hex(r->payload, r->payload ? r->payload_len : 0, phash) < 0)
		return -1;
	snprintf(out->timestamp, sizeof(out->timestamp), "%lld", (long long)r->time);
	n = snprintf(scope, sizeof(scope), "%s/%s/tc3_request", date, r->service);
	if (n < 0 || (size_t)n >= sizeof(scope))
		return -1;
	canon = tc3_canonical(r, phash, &signed_headers);
	if (!canon)
		return -1;
	n = cloudsig_sha256_hex(canon, strlen(canon), chash);
	free(canon);
	if (n < 0)
		return -1;
	n = snprintf(out->string_to_sign, sizeof(out->string_to_sign),
		     "TC3-HMAC-SHA256\n%s\n%s\n%s", out->timestamp, scope, chash);
	if (n < 0 || (size_t)n >= sizeof(out->string_to_sign) ||
	    tc3_key(r->secret_key, date, r->service, key) < 0)
		return -1;
	n = hmac256(key, sizeof(key), out->string_to_sign, strlen(out->string_to_sign), mac);
	explicit_bzero(key, sizeof(key));
	if (n < 0)
		return -1;
	to_hex(mac, sizeof(mac), sig);
	n = snprintf(out->authorization, sizeof(out->authorization),
		     "TC3-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		     r->secret_id, scope, signed_headers, sig);
	return n > 0 && (size_t)n < sizeof(out->authorization) ? 0 : -1;
}
