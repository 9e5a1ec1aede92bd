/* http_wire.c - encoding and decoding the HTTP helper's messages
 * (http_wire.h). Numbers are in host order: both ends are one build on one
 * machine (the magic says so). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "http_wire.h"
#include "util.h"

#define NO_STRING UINT32_MAX         /* a NULL string's length */
#define F_ALLOW_HTTP 1u
#define F_IPV4_ONLY  2u

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool over;                   /* past HTTP_WIRE_MAX */
};

static void put(struct wbuf *w, const void *data, size_t n)
{
	if (w->over || n > HTTP_WIRE_MAX - w->len) {
		w->over = true;
		return;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 512;
		while (cap < w->len + n)
			cap *= 2;
		w->p = xrealloc(w->p, cap, 1);
		w->cap = cap;
	}
	memcpy(w->p + w->len, data, n);
	w->len += n;
}

#define PUT(w, v) put((w), &(v), sizeof(v))

static void put_bytes(struct wbuf *w, const char *s, size_t n)
{
	uint32_t len = s ? (uint32_t)n : NO_STRING;

	if (s && n >= NO_STRING) {
		w->over = true;
		return;
	}
	PUT(w, len);
	if (s)
		put(w, s, n);
}

static void put_str(struct wbuf *w, const char *s)
{
	put_bytes(w, s, s ? strlen(s) : 0);
}

static void put_head(struct wbuf *w, uint32_t kind, uint64_t id)
{
	uint32_t magic = HTTP_WIRE_MAGIC;

	PUT(w, magic);
	PUT(w, kind);
	PUT(w, id);
}

static uint8_t *finish(struct wbuf *w, size_t *len)
{
	if (w->over) {
		if (w->p)
			explicit_bzero(w->p, w->len);
		free(w->p);
		return NULL;
	}
	*len = w->len;
	return w->p;
}

uint8_t *http_wire_req(uint64_t id, const struct http_request *req, size_t *len)
{
	struct wbuf w = { 0 };
	uint32_t timeout = req->timeout, n = (uint32_t)req->n_headers;
	uint64_t max_body = req->max_body;
	uint8_t flags = (req->allow_http ? F_ALLOW_HTTP : 0) | (req->ipv4_only ? F_IPV4_ONLY : 0);

	if (req->n_headers > HTTP_WIRE_HEADERS)
		return NULL;
	put_head(&w, HTTP_WIRE_REQ, id);
	PUT(&w, timeout);
	PUT(&w, max_body);
	PUT(&w, flags);
	put_str(&w, req->method);
	put_str(&w, req->url);
	put_str(&w, req->body);
	put_str(&w, req->username);
	put_str(&w, req->password);
	put_str(&w, req->bearer);
	put_str(&w, req->ca_file);
	PUT(&w, n);
	for (size_t i = 0; i < req->n_headers; i++)
		put_str(&w, req->headers[i]);
	return finish(&w, len);
}

uint8_t *http_wire_resp(uint64_t id, const struct http_response *r, size_t *len)
{
	struct wbuf w = { 0 };
	int64_t status = r->status, date = r->date;
	int32_t code = r->curl_code;
	uint32_t retry_after = r->retry_after;
	uint8_t truncated = r->truncated;

	put_head(&w, HTTP_WIRE_RESP, id);
	PUT(&w, status);
	PUT(&w, code);
	PUT(&w, retry_after);
	PUT(&w, date);
	PUT(&w, truncated);
	put_str(&w, r->error);
	put_bytes(&w, r->body ? r->body : "", r->body ? r->body_len : 0);
	return finish(&w, len);
}

void http_wire_cancel(uint64_t id, uint8_t *out)
{
	uint32_t magic = HTTP_WIRE_MAGIC, kind = HTTP_WIRE_CANCEL;

	memcpy(out, &magic, 4);
	memcpy(out + 4, &kind, 4);
	memcpy(out + 8, &id, 8);
}

/* ---- decoding ---- */

struct rbuf {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static void get(struct rbuf *r, void *out, size_t n)
{
	if (r->bad || n > r->left) {
		r->bad = true;
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
}

#define GET(r, v) get((r), &(v), sizeof(v))

/* A string of the message, NUL-terminated and owned by m; NULL for an
 * absent one. With nul_ok false, an embedded NUL makes the message bad. */
static char *get_str(struct rbuf *r, struct http_wire_msg *m, bool nul_ok, size_t *len_out)
{
	uint32_t len = 0;
	char *s;

	GET(r, len);
	if (r->bad || len == NO_STRING)
		return NULL;
	if (len > r->left || m->n_owned >= sizeof(m->owned) / sizeof(m->owned[0])) {
		r->bad = true;
		return NULL;
	}
	if (!nul_ok && memchr(r->p, '\0', len)) {
		r->bad = true;
		return NULL;
	}
	s = xrealloc(NULL, (size_t)len + 1, 1);
	memcpy(s, r->p, len);
	s[len] = '\0';
	r->p += len;
	r->left -= len;
	m->owned_len[m->n_owned] = len;
	m->owned[m->n_owned++] = s;
	if (len_out)
		*len_out = len;
	return s;
}

static void get_req(struct rbuf *r, struct http_wire_msg *m)
{
	struct http_request *q = &m->req;
	uint64_t max_body = 0;
	uint32_t n = 0;
	uint8_t flags = 0;

	GET(r, q->timeout);
	GET(r, max_body);
	GET(r, flags);
	q->max_body = max_body > HTTP_MAX_BODY ? HTTP_MAX_BODY : (size_t)max_body;
	q->allow_http = flags & F_ALLOW_HTTP;
	q->ipv4_only = flags & F_IPV4_ONLY;
	q->method = get_str(r, m, false, NULL);
	q->url = get_str(r, m, false, NULL);
	q->body = get_str(r, m, false, NULL);
	q->username = get_str(r, m, false, NULL);
	q->password = get_str(r, m, false, NULL);
	q->bearer = get_str(r, m, false, NULL);
	q->ca_file = get_str(r, m, false, NULL);
	GET(r, n);
	if (r->bad || n > HTTP_WIRE_HEADERS || !q->url) {
		r->bad = true;
		return;
	}
	/* the header strings are the last n owned ones */
	for (uint32_t i = 0; i < n && !r->bad; i++)
		if (!get_str(r, m, false, NULL))
			r->bad = true;
	q->headers = (const char *const *)(m->owned + m->n_owned - n);
	q->n_headers = n;
}

static void get_resp(struct rbuf *r, struct http_wire_msg *m)
{
	struct http_response *p = &m->resp;
	int64_t status = 0;
	int32_t code = 0;
	uint8_t truncated = 0;
	const char *e;

	GET(r, status);
	GET(r, code);
	GET(r, p->retry_after);
	GET(r, p->date);
	GET(r, truncated);
	p->status = status < 0 || status > 999 ? 0 : (long)status;
	p->curl_code = code;
	p->truncated = truncated != 0;
	e = get_str(r, m, true, NULL);
	p->error = e ? e : "";
	p->body = get_str(r, m, true, &p->body_len);
	if (!p->body || p->body_len > HTTP_MAX_BODY)
		r->bad = true;
}

int http_wire_decode(const uint8_t *buf, size_t len, struct http_wire_msg *m)
{
	struct rbuf r = { buf, len, false };
	uint32_t magic = 0;

	memset(m, 0, sizeof(*m));
	GET(&r, magic);
	GET(&r, m->kind);
	GET(&r, m->id);
	if (r.bad || magic != HTTP_WIRE_MAGIC)
		return -1;
	if (m->kind == HTTP_WIRE_REQ)
		get_req(&r, m);
	else if (m->kind == HTTP_WIRE_RESP)
		get_resp(&r, m);
	else if (m->kind != HTTP_WIRE_CANCEL)
		r.bad = true;
	if (r.bad || r.left) {
		http_wire_free(m);
		return -1;
	}
	return 0;
}

void http_wire_free(struct http_wire_msg *m)
{
	for (size_t i = 0; i < m->n_owned; i++) {
		explicit_bzero(m->owned[i], m->owned_len[i]);
		free(m->owned[i]);
	}
	memset(m, 0, sizeof(*m));
}
