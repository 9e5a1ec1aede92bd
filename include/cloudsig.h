/* cloudsig.h - request signatures of two DNS-hosting APIs, on OpenSSL's
 * SHA-256 and HMAC:
 *   ACS3-HMAC-SHA256: Alibaba Cloud OpenAPI, "V3版本请求体&签名机制"
 *     (help.aliyun.com/zh/sdk/product-overview/v3-request-structure-and-signature);
 *   TC3-HMAC-SHA256: Tencent Cloud API 3.0, "签名方法 v3" / "Signature v3"
 *     (the "调用方式" chapter of every API 3.0 product, DNSPod's included).
 * The secrets go into HMAC keys only; no output contains them. */
#ifndef HP_CLOUDSIG_H
#define HP_CLOUDSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLOUDSIG_HEX 64              /* a SHA-256 in lower-case hex */
#define CLOUDSIG_AUTH_MAX 512        /* an Authorization header value */

/* Lower-case hex SHA-256 of data into out (CLOUDSIG_HEX + 1 bytes). 0 / -1. */
int cloudsig_sha256_hex(const void *data, size_t len, char *out);

struct cloudsig_param {
	const char *name;
	const char *value;
};

/* The ACS3 canonical query string: parameters sorted by name (byte order),
 * names and values RFC 3986 encoded (unreserved kept, %XX upper case),
 * "a=1&b=2". It is also the query the request sends. malloc'd. */
char *cloudsig_acs3_query(const struct cloudsig_param *p, size_t n);

struct cloudsig_acs3 {
	const char *method;          /* "GET" */
	const char *host;            /* host[:port] exactly as the Host header carries it */
	const char *uri;             /* canonical URI; RPC-style APIs: "/" */
	const char *query;           /* cloudsig_acs3_query() */
	const char *action;          /* x-acs-action */
	const char *version;         /* x-acs-version */
	const char *nonce;           /* x-acs-signature-nonce */
	int64_t time;                /* x-acs-date, Unix seconds */
	const char *payload;         /* request body; NULL: none */
	size_t payload_len;
	const char *key_id;          /* AccessKey ID */
	const char *key_secret;      /* AccessKey secret */
};

struct cloudsig_acs3_out {
	char date[24];                            /* x-acs-date: 2023-10-26T10:22:32Z */
	char content_sha256[CLOUDSIG_HEX + 1];    /* x-acs-content-sha256 */
	char string_to_sign[CLOUDSIG_HEX + 32];   /* "ACS3-HMAC-SHA256\n" + hashed request */
	char authorization[CLOUDSIG_AUTH_MAX];    /* the Authorization header's value */
};

/* Sign r: the headers host, x-acs-action, x-acs-content-sha256, x-acs-date,
 * x-acs-signature-nonce and x-acs-version are signed; the caller sends
 * them with the values given and returned. 0 / -1. */
int cloudsig_acs3_sign(const struct cloudsig_acs3 *r, struct cloudsig_acs3_out *out);

struct cloudsig_tc3 {
	const char *host;            /* Host header (lower-cased for signing) */
	const char *service;         /* "dnspod", "cvm", ... */
	const char *action;          /* X-TC-Action */
	const char *content_type;    /* Content-Type exactly as sent */
	int64_t time;                /* X-TC-Timestamp, Unix seconds */
	const char *payload;         /* the POST body */
	size_t payload_len;
	bool sign_action;            /* also sign x-tc-action (homeport does) */
	const char *secret_id;
	const char *secret_key;
};

struct cloudsig_tc3_out {
	char timestamp[24];                       /* X-TC-Timestamp */
	char string_to_sign[200];                 /* algorithm, time, scope, hashed request */
	char authorization[CLOUDSIG_AUTH_MAX];
};

/* Sign a POST to "/" with an empty query, as API 3.0 calls are. 0 / -1. */
int cloudsig_tc3_sign(const struct cloudsig_tc3 *r, struct cloudsig_tc3_out *out);

#endif
