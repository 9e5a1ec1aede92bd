/* http.c - asynchronous HTTP(S) on the event loop through libcurl's multi
 * socket interface: curl tells us which fds to watch and when to wake it,
 * ev.c does the waiting. libcurl is loaded by the first request (http_lib.h). Nothing here blocks, and no reply is held whole:
 * bodies are cut off at HTTP_MAX_BODY. Secrets (password, bearer token) go
 * to curl and nowhere else; CURLOPT_VERBOSE stays off because it would print
 * the Authorization header. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ev.h"
#include "homeport.h"
#include "http.h"
#include "http_lib.h"
#include "log.h"
#include "util.h"

#define RETRY_AFTER_MAX (24 * 3600)   /* a hostile Retry-After must not park us for years */

struct http_call {
	CURL *easy;
	struct curl_slist *hdrs;
	http_done_cb done;
	void *ctx;
	char *body;                    /* reply, NUL-terminated */
	size_t len, cap, max;          /* max: the request's bound on the body */
	bool truncated;
	int64_t date;                  /* Date header of the last reply */
	char errbuf[CURL_ERROR_SIZE];
	char host[256];
	struct http_call *next;
};

static const struct http_lib *lib;  /* NULL until the first request loads libcurl */
static CURLM *multi;
static struct ev_timer *timer;
static struct http_call *calls;      /* in flight, for http_fini */
static bool global_done;

static void calls_unlink(struct http_call *c)
{
	for (struct http_call **pp = &calls; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			return;
		}
	}
}

static void call_free(struct http_call *c)
{
	if (!c)
		return;
	if (c->easy) {
		lib->multi_remove_handle(multi, c->easy);
		lib->easy_cleanup(c->easy);
	}
	/* Header lines may carry credentials (webhook header_file). */
	for (struct curl_slist *l = c->hdrs; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	lib->slist_free_all(c->hdrs);
	free(c->body);
	free(c);
}

/* ---- the multi handle on the event loop ---- */

static void check_done(void);

static void on_fd(int fd, short revents, void *arg)
{
	int action = 0, running;

	if (revents & (POLLIN | POLLHUP))
		action |= CURL_CSELECT_IN;
	if (revents & POLLOUT)
		action |= CURL_CSELECT_OUT;
	if (revents & (POLLERR | POLLNVAL))
		action |= CURL_CSELECT_ERR;
	lib->multi_socket_action(multi, fd, action, &running);
	check_done();
}

static void on_timer(void *arg)
{
	int running;

	lib->multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done();
}

/* CURLMOPT_SOCKETFUNCTION: mirror curl's interest in s into ev.c. */
static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	short events = 0;

	if (what == CURL_POLL_REMOVE) {
		ev_fd_del(s);
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= POLLIN;
	if (what & CURL_POLL_OUT)
		events |= POLLOUT;
	if (ev_fd_set_events(s, events) == 0)
		return 0;
	if (ev_fd_add(s, events, on_fd, NULL) < 0) {
		log_warn("http: cannot watch fd %d", (int)s);
		return -1;
	}
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 = no timeout, else wake curl in timeout_ms.
 * Never act from here (curl forbids re-entry); the ev timer does. */
static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	if (timeout_ms < 0)
		ev_timer_disarm(timer);
	else
		ev_timer_arm(timer, timeout_ms);
	return 0;
}

int http_init(void)
{
	char err[300];

	if (multi)
		return 0;
	if (!lib && !(lib = http_lib_get(err, sizeof(err)))) {
		log_warnx("http: %s", err);
		return -1;
	}
	if (!global_done) {
		if (lib->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			log_errx("http: curl_global_init failed");
			return -1;
		}
		global_done = true;
	}
	multi = lib->multi_init();
	if (!multi) {
		log_errx("http: curl_multi_init failed");
		return -1;
	}
	timer = ev_timer_new(on_timer, NULL);
	lib->multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	lib->multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	return 0;
}

void http_fini(void)
{
	while (calls) {
		struct http_call *c = calls;
		calls = c->next;
		call_free(c);
	}
	if (multi) {
		lib->multi_cleanup(multi);
		multi = NULL;
	}
	ev_timer_free(timer);
	timer = NULL;
	if (global_done) {
		lib->global_cleanup();
		global_done = false;
	}
}

/* ---- finishing a call ---- */

static uint32_t retry_after_of(CURL *e)
{
	curl_off_t ra = 0;

	if (lib->easy_getinfo(e, CURLINFO_RETRY_AFTER, &ra) != CURLE_OK || ra <= 0)
		return 0;
	return ra > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (uint32_t)ra;
}

static void finish(struct http_call *c, CURLcode rc)
{
	struct http_response resp = { 0 };
	char msg[CURL_ERROR_SIZE + 64];

	lib->easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &resp.status);
	resp.curl_code = (int)rc;
	resp.error = "";
	if (c->truncated) {
		snprintf(msg, sizeof(msg), "reply larger than %zu bytes", c->max);
		resp.error = msg;
	} else if (rc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "%s", c->errbuf[0] ? c->errbuf : lib->easy_strerror(rc));
		resp.error = msg;
	}
	resp.body = c->body ? c->body : "";
	resp.body_len = c->len;
	resp.truncated = c->truncated;
	resp.retry_after = retry_after_of(c->easy);
	resp.date = c->date;
	resp.host = c->host;
	calls_unlink(c);
	c->done(c->ctx, &resp);
	call_free(c);
}

static void check_done(void)
{
	CURLMsg *m;
	int left;

	while ((m = lib->multi_info_read(multi, &left))) {
		struct http_call *c = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		lib->easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		if (c)
			finish(c, m->data.result);
	}
}

/* ---- starting a call ---- */

/* CURLOPT_WRITEFUNCTION: keep at most c->max bytes; more aborts the
 * transfer (CURLE_WRITE_ERROR) so a hostile server cannot feed us forever. */
static size_t write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct http_call *c = arg;
	size_t got = size * n;

	if (got > c->max - c->len) {
		c->truncated = true;
		return 0;
	}
	if (c->len + got + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 1024;
		while (cap < c->len + got + 1)
			cap *= 2;
		if (cap > c->max + 1)
			cap = c->max + 1;
		c->body = xrealloc(c->body, cap, 1);
		c->cap = cap;
	}
	memcpy(c->body + c->len, data, got);
	c->len += got;
	c->body[c->len] = '\0';
	return got;
}

/* CURLOPT_HEADERFUNCTION: keep the Date header, so that a provider that
 * refuses our clock can say what the server's clock says. */
static size_t header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct http_call *c = arg;
	size_t len = size * n;
	char line[128];
	time_t t;

	if (len > 5 && len < sizeof(line) && strncasecmp(data, "Date:", 5) == 0) {
		memcpy(line, data + 5, len - 5);
		line[len - 5] = '\0';
		t = lib->getdate(line, NULL);
		c->date = t > 0 ? (int64_t)t : 0;
	}
	return len;
}

static int set_method(CURL *e, const struct http_request *req)
{
	const char *m = req->method ? req->method : "GET";

	if (strcmp(m, "GET") == 0 && !req->body)
		return lib->easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK ? 0 : -1;
	if (strcmp(m, "GET") && strcmp(m, "POST") && strcmp(m, "PUT") &&
	    strcmp(m, "PATCH") && strcmp(m, "DELETE")) {
		log_warnx("http: method %s not supported", m);
		return -1;
	}
	/* COPYPOSTFIELDS makes curl send a body; CUSTOMREQUEST renames the verb. */
	lib->easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)(req->body ? strlen(req->body) : 0));
	lib->easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
	if (strcmp(m, "POST"))
		lib->easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
	return 0;
}

static int set_headers(struct http_call *c, const struct http_request *req)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		struct curl_slist *l = lib->slist_append(c->hdrs, req->headers[i]);
		if (!l)
			return -1;
		c->hdrs = l;
	}
	/* No "Expect: 100-continue" round trip for small bodies. */
	if (req->body) {
		struct curl_slist *l = lib->slist_append(c->hdrs, "Expect:");
		if (!l)
			return -1;
		c->hdrs = l;
	}
	if (c->hdrs)
		lib->easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->hdrs);
	return 0;
}

static void set_auth(CURL *e, const struct http_request *req)
{
	if (req->username) {
		lib->easy_setopt(e, CURLOPT_USERNAME, req->username);
		lib->easy_setopt(e, CURLOPT_PASSWORD, req->password ? req->password : "");
		lib->easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	} else if (req->bearer) {
		lib->easy_setopt(e, CURLOPT_XOAUTH2_BEARER, req->bearer);
		lib->easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
	}
}

/* Transport policy shared by every request. CAINFO replaces only the CA
 * bundle file: Debian's libcurl also trusts CAPATH (/etc/ssl/certs), so the
 * system CAs stay trusted next to ca_file. */
static int set_transport(CURL *e, struct http_call *c, const struct http_request *req)
{
	const char *protos = req->allow_http ? "http,https" : "https";
	long ms = (long)(req->timeout ? req->timeout : HTTP_TIMEOUT_DEF) * 1000L;

	if (lib->easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK ||
	    lib->easy_setopt(e, CURLOPT_PROTOCOLS_STR, protos) != CURLE_OK ||
	    lib->easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, protos) != CURLE_OK)
		return -1;
	lib->easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	lib->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	lib->easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
	lib->easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms);
	lib->easy_setopt(e, CURLOPT_USERAGENT, HP_USER_AGENT);
	lib->easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
	lib->easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	lib->easy_setopt(e, CURLOPT_WRITEDATA, c);
	lib->easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	lib->easy_setopt(e, CURLOPT_HEADERDATA, c);
	lib->easy_setopt(e, CURLOPT_PRIVATE, c);
	if (req->ipv4_only)
		lib->easy_setopt(e, CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_V4);
	if (req->ca_file &&
	    lib->easy_setopt(e, CURLOPT_CAINFO, req->ca_file) != CURLE_OK)
		return -1;
	return 0;
}

struct http_call *http_start(const struct http_request *req, http_done_cb done, void *ctx)
{
	struct http_call *c = NULL;

	if (!req->url || http_init() < 0)
		goto fail;
	c = xcalloc(1, sizeof(*c));
	c->done = done;
	c->ctx = ctx;
	c->max = req->max_body && req->max_body < HTTP_MAX_BODY ? req->max_body : HTTP_MAX_BODY;
	http_url_host(req->url, c->host, sizeof(c->host));
	c->easy = lib->easy_init();
	if (!c->easy || set_transport(c->easy, c, req) < 0 ||
	    set_method(c->easy, req) < 0 || set_headers(c, req) < 0) {
		log_warnx("http: cannot set up a request to %s", c->host);
		goto fail;
	}
	set_auth(c->easy, req);
	if (lib->multi_add_handle(multi, c->easy) != CURLM_OK) {
		log_warnx("http: cannot start a request to %s", c->host);
		goto fail;
	}
	c->next = calls;
	calls = c;
	return c;
fail:
	if (c && c->easy) {
		lib->easy_cleanup(c->easy);
		c->easy = NULL;
	}
	call_free(c);
	return NULL;
}

void http_cancel(struct http_call *c)
{
	if (!c)
		return;
	calls_unlink(c);
	call_free(c);
}

/* ---- helpers ---- */

char *http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = xcalloc(n * 3 + 1, 1), *p = out;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch)) {
			*p++ = (char)ch;
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	return out;
}

void http_url_host(const char *url, char *buf, size_t len)
{
	char err[300];
	CURLU *u;
	char *host = NULL;

	snprintf(buf, len, "?");
	if (!lib && !(lib = http_lib_get(err, sizeof(err))))
		return;
	u = lib->url();
	if (!u)
		return;
	/* NON_SUPPORT_SCHEME: the host of a refused http:// URL still names it. */
	if (lib->url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	    lib->url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		snprintf(buf, len, "%s", host);
	lib->free(host);
	lib->url_cleanup(u);
}

void http_failure_text(const struct http_response *r, char *buf, size_t len)
{
	if (r->curl_code != 0 || r->status == 0)
		snprintf(buf, len, "%s: %s", r->host, r->error[0] ? r->error : "no reply");
	else
		snprintf(buf, len, "HTTP %ld from %s", r->status, r->host);
}

void http_clean_text(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t j = 0;

	if (!dstlen)
		return;
	for (size_t i = 0; i < srclen && src[i] && j + 1 < dstlen; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[j++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	dst[j] = '\0';
}

bool http_url_allowed(const char *url, bool allow_http)
{
	return strncasecmp(url, "https://", 8) == 0 ||
	       (allow_http && strncasecmp(url, "http://", 7) == 0);
}
