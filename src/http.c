/* http.c - asynchronous HTTP(S) for the daemon, done by
 * homeport-http-helper (src/http-helper/): libcurl and its TLS stack never
 * load into homeportd. The first request starts the helper; requests go to
 * it as http_wire messages and run side by side there; it is stopped once
 * no request has been in flight for HTTP_HELPER_IDLE_MS, so between
 * updates nothing of it is resident. A helper that dies or stops answering
 * fails the requests it had with a transport error (the callers' temporary
 * error); the next request starts a new one. */
#include <curl/curl.h>               /* CURLE_* codes only: nothing is linked */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ev.h"
#include "helper_proc.h"
#include "http.h"
#include "http_wire.h"
#include "log.h"
#include "url.h"
#include "util.h"

/* A request the helper has not answered this long after its own timeout
 * means a helper that hangs: it is killed. */
#define BACKSTOP_MS 5000

struct http_call {
	uint64_t id;
	http_done_cb done;
	void *ctx;
	struct ev_timer *backstop;
	char host[256];
	struct http_call *next;
};

/* libcurl's proxy settings, as the daemon's own libcurl used to read them. */
static const char *const proxy_env[] = {
	"https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY", "no_proxy",
	"NO_PROXY", NULL,
};

static struct helper_proc proc = {
	.name = HTTP_HELPER_NAME, .log_name = "http", .as_nobody = false, .env_keep = proxy_env,
};

static struct {
	int fd;                      /* -1: no helper */
	pid_t pid;
	uint64_t next_id;
	struct http_call *calls;     /* sent, not answered */
	struct http_call *failed;    /* to be told of a helper's end, from the loop */
	struct ev_timer *idle, *fail_timer;
	uint8_t *buf;                /* one received message */
} H = { .fd = -1 };

static void call_free(struct http_call *c)
{
	ev_timer_free(c->backstop);
	free(c);
}

static void arm_idle(void)
{
	if (!H.calls && H.fd >= 0)
		ev_timer_arm(H.idle, HTTP_HELPER_IDLE_MS);
}

/* ---- the helper ---- */

static void helper_stop(void)
{
	if (H.fd < 0)
		return;
	ev_fd_del(H.fd);
	close(H.fd);
	H.fd = -1;
	helper_proc_stop(&proc, H.pid);
	H.pid = 0;
	ev_timer_disarm(H.idle);
	free(H.buf);                 /* 72 kB: only while a helper runs */
	H.buf = NULL;
}

/* The helper ended or hangs: stop it; every request it had fails, told
 * from the loop (never from inside http_start). */
static void helper_lost(const char *why)
{
	if (H.calls)
		log_warnx("http: the HTTP helper %s; %s", why, "its requests fail");
	helper_stop();
	while (H.calls) {
		struct http_call *c = H.calls;
		H.calls = c->next;
		ev_timer_disarm(c->backstop);
		c->next = H.failed;
		H.failed = c;
	}
	if (H.failed)
		ev_timer_arm(H.fail_timer, 0);
}

static void on_fail_timer(void *arg)
{
	while (H.failed) {
		struct http_call *c = H.failed;
		struct http_response r = {
			.curl_code = CURLE_RECV_ERROR, .error = "the HTTP helper ended",
			.body = "", .host = c->host,
		};
		H.failed = c->next;
		c->done(c->ctx, &r);
		call_free(c);
	}
}

static void on_idle(void *arg)
{
	if (!H.calls) {
		log_debug("http: no request for %d s, helper %d stopped", HTTP_HELPER_IDLE_MS / 1000,
			  (int)H.pid);
		helper_stop();
	}
}

static struct http_call *take_call(uint64_t id)
{
	for (struct http_call **pp = &H.calls; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct http_call *c = *pp;
			*pp = c->next;
			return c;
		}
	}
	return NULL;                 /* cancelled meanwhile */
}

/* One response: the call's callback, with what the helper says cleaned
 * like anything else from a server. */
static void deliver(struct http_wire_msg *m)
{
	struct http_call *c = take_call(m->id);
	char err[256];

	if (!c)
		return;
	http_clean_text(err, sizeof(err), m->resp.error, strlen(m->resp.error));
	m->resp.error = err;
	m->resp.host = c->host;
	if (m->resp.retry_after > HTTP_RETRY_AFTER_MAX)
		m->resp.retry_after = HTTP_RETRY_AFTER_MAX;
	c->done(c->ctx, &m->resp);
	call_free(c);
}

static void on_helper(int fd, short revents, void *arg)
{
	for (;;) {
		struct http_wire_msg m;
		ssize_t n = recv(fd, H.buf, HTTP_WIRE_MAX, MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			helper_lost("ended");
			return;
		}
		if ((size_t)n > HTTP_WIRE_MAX || http_wire_decode(H.buf, (size_t)n, &m) < 0) {
			helper_lost("sent a malformed message");
			return;
		}
		if (m.kind != HTTP_WIRE_RESP) {
			http_wire_free(&m);
			helper_lost("sent a malformed message");
			return;
		}
		deliver(&m);
		http_wire_free(&m);
		if (fd != H.fd)      /* a callback's request found the helper gone */
			return;
	}
	arm_idle();
}

static int helper_start(void)
{
	if (H.fd >= 0)
		return 0;
	if (helper_proc_start(&proc, &H.fd, &H.pid) < 0) {
		H.fd = -1;
		return -1;
	}
	if (ev_fd_add(H.fd, POLLIN, on_helper, NULL) < 0) {
		log_warnx("http: cannot watch the helper's socket");
		close(H.fd);
		helper_proc_stop(&proc, H.pid);
		H.fd = -1;
		return -1;
	}
	H.buf = xcalloc(1, HTTP_WIRE_MAX);
	return 0;
}

/* ---- the API ---- */

int http_init(void)
{
	if (H.idle)
		return 0;
	H.idle = ev_timer_new(on_idle, NULL);
	H.fail_timer = ev_timer_new(on_fail_timer, NULL);
	helper_proc_prepare(&proc);
	return 0;
}

void http_fini(void)
{
	helper_stop();
	while (H.calls) {
		struct http_call *c = H.calls;
		H.calls = c->next;
		call_free(c);
	}
	while (H.failed) {
		struct http_call *c = H.failed;
		H.failed = c->next;
		call_free(c);
	}
	ev_timer_free(H.idle);
	ev_timer_free(H.fail_timer);
	H.idle = H.fail_timer = NULL;
}

void http_helper_path(const char *path)
{
	helper_proc_set_path(&proc, path);
}

pid_t http_helper_pid(void)
{
	return H.fd >= 0 ? H.pid : 0;
}

static void on_backstop(void *arg)
{
	struct http_call *c = arg;

	log_warnx("http: no answer from the HTTP helper about %s in time; stopping it", c->host);
	helper_lost("did not answer in time");
}

static bool method_ok(const char *m)
{
	static const char *const ok[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(m, ok[i]) == 0)
			return true;
	log_warnx("http: method %s not supported", m);
	return false;
}

/* Send one message; a helper that is gone is restarted once. */
static int send_req(const uint8_t *msg, size_t len)
{
	for (int tries = 0; tries < 2; tries++) {
		if (helper_start() < 0)
			return -1;
		if (send(H.fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len)
			return 0;
		if (errno == EAGAIN || errno == ENOBUFS) {
			log_warnx("http: too many requests waiting for the HTTP helper");
			return -1;
		}
		helper_lost("ended");
	}
	return -1;
}

struct http_call *http_start(const struct http_request *req, http_done_cb done, void *ctx)
{
	struct http_call *c;
	uint8_t *msg;
	size_t len = 0;
	uint64_t id = ++H.next_id;
	uint32_t timeout = req->timeout ? req->timeout : HTTP_TIMEOUT_DEF;

	if (!req->url || http_init() < 0 || (req->method && !method_ok(req->method)))
		return NULL;
	msg = http_wire_req(id, req, &len);
	if (!msg) {
		log_warnx("http: request too large");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->id = id;
	c->done = done;
	c->ctx = ctx;
	http_url_host(req->url, c->host, sizeof(c->host));
	if (send_req(msg, len) < 0) {
		log_warnx("http: cannot start a request to %s", c->host);
		explicit_bzero(msg, len);
		free(msg);
		free(c);
		return NULL;
	}
	explicit_bzero(msg, len);            /* credentials */
	free(msg);
	c->backstop = ev_timer_new(on_backstop, c);
	ev_timer_arm(c->backstop, (int64_t)timeout * 1000 + BACKSTOP_MS);
	ev_timer_disarm(H.idle);
	c->next = H.calls;
	H.calls = c;
	return c;
}

void http_cancel(struct http_call *c)
{
	uint8_t msg[HTTP_WIRE_CANCEL_LEN];

	if (!c)
		return;
	if (take_call(c->id) == c && H.fd >= 0) {
		http_wire_cancel(c->id, msg);
		/* best effort: an answer to it is dropped anyway */
		(void)send(H.fd, msg, sizeof(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
	} else {
		for (struct http_call **pp = &H.failed; *pp; pp = &(*pp)->next) {
			if (*pp == c) {
				*pp = c->next;
				break;
			}
		}
	}
	call_free(c);
	arm_idle();
}

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
	struct url_parts u;

	snprintf(buf, len, "%s", url_split(url, &u) == 0 ? u.host : "?");
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
