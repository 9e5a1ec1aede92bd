/* libFuzzer target: messages between the daemon and the HTTP helper
 * (http_wire.c). The helper parses hostile servers' replies, so the daemon
 * decodes what it sends like network input: every decoded message must
 * re-encode, and decode again to the same thing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_resp(const struct http_response *a, const struct http_response *b)
{
	if (a->status != b->status || a->curl_code != b->curl_code ||
	    a->body_len != b->body_len || memcmp(a->body, b->body, a->body_len) ||
	    strcmp(a->error, b->error) || a->retry_after != b->retry_after || a->date != b->date)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_wire_msg m, again;
	uint8_t *enc = NULL;
	size_t len = 0;

	if (http_wire_decode(data, size, &m) < 0)
		return 0;
	if (m.kind == HTTP_WIRE_REQ)
		enc = http_wire_req(m.id, &m.req, &len);
	else if (m.kind == HTTP_WIRE_RESP)
		enc = http_wire_resp(m.id, &m.resp, &len);
	if (enc) {
		if (http_wire_decode(enc, len, &again) < 0 || again.id != m.id)
			abort();
		if (m.kind == HTTP_WIRE_RESP)
			same_resp(&m.resp, &again.resp);
		else if (strcmp(m.req.url, again.req.url) || m.req.n_headers != again.req.n_headers)
			abort();
		http_wire_free(&again);
		free(enc);
	} else if (m.kind != HTTP_WIRE_CANCEL) {
		abort();
	}
	http_wire_free(&m);
	return 0;
}
