/* http_wire.h - the messages between http.c (daemon side) and the HTTP
 * helper program (src/http-helper/, homeport-http-helper); owned by
 * http.c. One SOCK_SEQPACKET message per request, cancel or response:
 * a header (magic, kind, id), then numbers and length-prefixed strings in
 * a fixed order. Decoding checks every length against the message and
 * NUL-terminates every string; the daemon trusts a response no more than
 * the server it came from (the helper parses the server's reply). */
#ifndef HP_HTTP_WIRE_H
#define HP_HTTP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define HTTP_HELPER_NAME  "homeport-http-helper"
#define HTTP_WIRE_MAGIC   0x68704831u  /* "hpH1": a helper of another build fails at once */
#define HTTP_WIRE_MAX     (HTTP_MAX_BODY + 8192)   /* largest message either way */
#define HTTP_WIRE_HEADERS 64           /* most header lines in one request */

enum http_wire_kind { HTTP_WIRE_REQ = 1, HTTP_WIRE_CANCEL, HTTP_WIRE_RESP };

/* A decoded message; its strings belong to it until http_wire_free(). */
struct http_wire_msg {
	uint32_t kind;               /* enum http_wire_kind */
	uint64_t id;
	struct http_request req;     /* HTTP_WIRE_REQ */
	struct http_response resp;   /* HTTP_WIRE_RESP (host is not sent: NULL) */
	char *owned[8 + HTTP_WIRE_HEADERS];
	size_t n_owned;
	size_t owned_len[8 + HTTP_WIRE_HEADERS];
};

/* Encoders: a malloc'd message and its length, or NULL (too large for
 * HTTP_WIRE_MAX, or a request with more than HTTP_WIRE_HEADERS headers). */
uint8_t *http_wire_req(uint64_t id, const struct http_request *req, size_t *len);
uint8_t *http_wire_resp(uint64_t id, const struct http_response *r, size_t *len);
/* A cancel is fixed-size: writes HTTP_WIRE_CANCEL_LEN bytes. */
#define HTTP_WIRE_CANCEL_LEN 16
void http_wire_cancel(uint64_t id, uint8_t *out);

/* 0 with *m filled, -1 when buf is not one well-formed message. */
int  http_wire_decode(const uint8_t *buf, size_t len, struct http_wire_msg *m);
/* Wipes (requests carry credentials) and frees what decode allocated. */
void http_wire_free(struct http_wire_msg *m);

#endif
