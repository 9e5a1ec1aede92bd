/* tsig.h - TSIG keys (RFC 8945): parsing what users put in key_secret_file,
 * and signing/verifying DNS messages with HMAC (OpenSSL). */
#ifndef HP_TSIG_H
#define HP_TSIG_H

#include <stdbool.h>
#include <stddef.h>

/* text is either a bare base64 secret or a BIND key file as tsig-keygen
 * writes it: key "NAME" { algorithm ALG; secret "B64"; };
 * On success returns 0 and sets *name and *algorithm (malloc'd, NULL when
 * the text does not say) and *secret_b64 (malloc'd). On error returns -1
 * and writes a one-line reason (never containing the secret) to err. */
int tsig_key_parse(const char *text, char **name, char **algorithm,
		   char **secret_b64, char *err, size_t errlen);

/* "hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1", "hmac-md5". */
bool tsig_algorithm_supported(const char *algorithm);

/* ---- added by the rfc2136 provider: keys, signing, verifying ---- */
#include <stdint.h>

#define TSIG_FUDGE       300         /* seconds of clock skew allowed */
#define TSIG_MAC_MAX     64          /* hmac-sha512 */
#define TSIG_SECRET_MAX  512         /* decoded bytes */

/* TSIG error field values (RFC 8945 3). */
#define TSIG_ERR_BADSIG   16
#define TSIG_ERR_BADKEY   17
#define TSIG_ERR_BADTIME  18
#define TSIG_ERR_BADTRUNC 22

/* A key ready for signing: names in canonical wire form, decoded secret. */
struct tsig_key {
	uint8_t name[255];
	size_t name_len;
	unsigned alg;                /* index into tsig.c's algorithm table */
	size_t mac_size;             /* full HMAC length of alg */
	uint8_t secret[TSIG_SECRET_MAX];
	size_t secret_len;
};

/* Key name, algorithm (NULL: hmac-sha256) and base64 secret to a key.
 * Returns 0, or -1 with a one-line reason (never the secret) in err. */
int  tsig_key_init(struct tsig_key *k, const char *name, const char *algorithm,
		   const char *secret_b64, char *err, size_t errlen);
void tsig_key_wipe(struct tsig_key *k);
/* "hmac-sha256" for messages. */
const char *tsig_key_algorithm(const struct tsig_key *k);

/* Base64 (RFC 4648, white space ignored, padding optional) into out.
 * Returns the decoded length or -1. */
int  tsig_base64_decode(const char *in, uint8_t *out, size_t cap);

/* Append a TSIG RR to the message in msg[0..*len) (cap bytes of room),
 * raise ARCOUNT, and put the MAC (k->mac_size bytes) in mac_out. A request
 * passes prior_mac NULL; a response (tests, fake servers) passes the
 * request's MAC. error is the TSIG error field (0 normally). 0 / -1. */
int  tsig_sign(const struct tsig_key *k, uint8_t *msg, size_t *len, size_t cap,
	       uint64_t time_signed, uint16_t error, const uint8_t *prior_mac,
	       size_t prior_mac_len, uint8_t *mac_out);

/* The TSIG RR of a received message, as parsed by tsig_rr_parse. */
struct tsig_rr {
	uint8_t name[255];            /* lower-case wire form */
	size_t name_len;
	uint8_t alg[255];
	size_t alg_len;
	uint64_t time_signed;
	uint16_t fudge;
	uint16_t mac_size;
	const uint8_t *mac;           /* points into the message */
	uint16_t orig_id;
	uint16_t error;
	uint16_t other_len;
	const uint8_t *other;
};

/* Parse the TSIG RR starting at off, which must run to exactly len.
 * 0 / -1. */
int  tsig_rr_parse(const uint8_t *msg, size_t len, size_t off, struct tsig_rr *rr);

enum tsig_status {
	TSIG_VERIFIED,        /* MAC good, time within fudge */
	TSIG_NOT_SIGNED,      /* no TSIG RR at all */
	TSIG_MALFORMED,       /* a TSIG RR we cannot parse */
	TSIG_OTHER_KEY,       /* signed with another key name or algorithm */
	TSIG_UNSIGNED_ERROR,  /* MAC size 0 with a TSIG error: BADSIG/BADKEY replies */
	TSIG_BAD_MAC,         /* MAC does not verify */
	TSIG_BAD_TIME,        /* MAC good, but time signed is outside the fudge */
};

/* Check the TSIG of a response to a request whose MAC was req_mac.
 * tsig_off: where its TSIG RR starts (0: none, from dns_msg_parse_reply).
 * now: our Unix time. rr gets the parsed RR whenever there is one. */
enum tsig_status tsig_verify(const struct tsig_key *k, const uint8_t *msg, size_t len,
			     size_t tsig_off, const uint8_t *req_mac, size_t req_mac_len,
			     uint64_t now, struct tsig_rr *rr);

/* "BADSIG", "BADKEY", "BADTIME", "BADTRUNC", "NOERROR"; "error?" else. */
const char *tsig_error_name(uint16_t error);
const char *tsig_status_text(enum tsig_status st);

#endif
