/* transfer.c - the HTTP helper's requests, through libcurl's multi socket
 * interface: curl tells us which fds to watch and when to wake it, ev.c
 * does the waiting. Nothing here blocks, and no reply is held whole:
 * bodies are cut off at the request's max_body. Secrets (password, bearer
 * token) go to curl and nowhere else; CURLOPT_VERBOSE stays off because it
 * would print the Authorization header. */
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
#include "log.h"
#include "http_transfer.h"
#include "util.h"

struct transfer {
	uint64_t id;
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;                    /* reply, NUL-terminated */
	size_t len, cap, max;          /* max: the request's bound on the body */
	bool truncated;
	int64_t date;                  /* Date header of the last reply */
	char errbuf[CURL_ERROR_SIZE];
	struct transfer *next;
};

static CURLM *multi;
static struct ev_timer *timer;
static struct transfer *calls;      /* in flight */
static transfer_done_cb done_cb;

static void calls_unlink(struct transfer *c)
{
	for (struct transfer **pp = &calls; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			return;
		}
	}
}

static void call_free(struct transfer *c)
{
	if (!c)
		return;
	if (c->easy) {
		curl_multi_remove_handle(multi, c->easy);
		curl_easy_cleanup(c->easy);
	}
	/* Header lines may carry credentials (webhook header_file). */
	for (struct curl_slist *l = c->hdrs; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(c->hdrs);
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
	curl_multi_socket_action(multi, fd, action, &running);
	check_done();
}

static void on_timer(void *arg)
{
	int running;

	curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
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

int transfer_init(transfer_done_cb done)
{
	done_cb = done;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_errx("http: curl_global_init failed");
		return -1;
	}
	multi = curl_multi_init();
	timer = ev_timer_new(on_timer, NULL);
	if (!multi) {
		log_errx("http: curl_multi_init failed");
		return -1;
	}
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	return 0;
}

void transfer_fini(void)
{
	while (calls) {
		struct transfer *c = calls;
		calls = c->next;
		call_free(c);
	}
	if (multi) {
		curl_multi_cleanup(multi);
		multi = NULL;
	}
	ev_timer_free(timer);
	timer = NULL;
	curl_global_cleanup();
}

/* ---- finishing a call ---- */

static uint32_t retry_after_of(CURL *e)
{
	curl_off_t ra = 0;

	if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &ra) != CURLE_OK || ra <= 0)
		return 0;
	return ra > HTTP_RETRY_AFTER_MAX ? HTTP_RETRY_AFTER_MAX : (uint32_t)ra;
}

static void finish(struct transfer *c, CURLcode rc)
{
	struct http_response resp = { 0 };
	char msg[CURL_ERROR_SIZE + 64];

	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &resp.status);
	resp.curl_code = (int)rc;
	resp.error = "";
	if (c->truncated) {
		snprintf(msg, sizeof(msg), "reply larger than %zu bytes", c->max);
		resp.error = msg;
	} else if (rc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "%s", c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
		resp.error = msg;
	}
	resp.body = c->body ? c->body : "";
	resp.body_len = c->len;
	resp.truncated = c->truncated;
	resp.retry_after = retry_after_of(c->easy);
	resp.date = c->date;
	calls_unlink(c);
	done_cb(c->id, &resp);
	call_free(c);
}

static void check_done(void)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(multi, &left))) {
		struct transfer *c = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		if (c)
			finish(c, m->data.result);
	}
}

/* ---- starting a call ---- */

/* CURLOPT_WRITEFUNCTION: keep at most c->max bytes; more aborts the
 * transfer (CURLE_WRITE_ERROR) so a hostile server cannot feed us forever. */
static size_t write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *c = arg;
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
	struct transfer *c = arg;
	size_t len = size * n;
	char line[128];
	time_t t;

	if (len > 5 && len < sizeof(line) && strncasecmp(data, "Date:", 5) == 0) {
		memcpy(line, data + 5, len - 5);
		line[len - 5] = '\0';
		t = curl_getdate(line, NULL);
		c->date = t > 0 ? (int64_t)t : 0;
	}
	return len;
}

static int set_method(CURL *e, const struct http_request *req)
{
	const char *m = req->method ? req->method : "GET";

	if (strcmp(m, "GET") == 0 && !req->body)
		return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK ? 0 : -1;
	if (strcmp(m, "GET") && strcmp(m, "POST") && strcmp(m, "PUT") &&
	    strcmp(m, "PATCH") && strcmp(m, "DELETE")) {
		return -1;               /* http.c checked it already */
	}
	/* COPYPOSTFIELDS makes curl send a body; CUSTOMREQUEST renames the verb. */
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)(req->body ? strlen(req->body) : 0));
	curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
	if (strcmp(m, "POST"))
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
	return 0;
}

static int set_headers(struct transfer *c, const struct http_request *req)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		struct curl_slist *l = curl_slist_append(c->hdrs, req->headers[i]);
		if (!l)
			return -1;
		c->hdrs = l;
	}
	/* No "Expect: 100-continue" round trip for small bodies. */
	if (req->body) {
		struct curl_slist *l = curl_slist_append(c->hdrs, "Expect:");
		if (!l)
			return -1;
		c->hdrs = l;
	}
	if (c->hdrs)
		curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->hdrs);
	return 0;
}

static void set_auth(CURL *e, const struct http_request *req)
{
	if (req->username) {
		curl_easy_setopt(e, CURLOPT_USERNAME, req->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD, req->password ? req->password : "");
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	} else if (req->bearer) {
		curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, req->bearer);
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
	}
}

/* Transport policy shared by every request. CAINFO replaces only the CA
 * bundle file: Debian's libcurl also trusts CAPATH (/etc/ssl/certs), so the
 * system CAs stay trusted next to ca_file. */
static int set_transport(CURL *e, struct transfer *c, const struct http_request *req)
{
	const char *protos = req->allow_http ? "http,https" : "https";
	long ms = (long)(req->timeout ? req->timeout : HTTP_TIMEOUT_DEF) * 1000L;

	if (curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protos) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, protos) != CURLE_OK)
		return -1;
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms);
	curl_easy_setopt(e, CURLOPT_USERAGENT, HP_USER_AGENT);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(e, CURLOPT_PRIVATE, c);
	if (req->ipv4_only)
		curl_easy_setopt(e, CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_V4);
	if (req->ca_file &&
	    curl_easy_setopt(e, CURLOPT_CAINFO, req->ca_file) != CURLE_OK)
		return -1;
	return 0;
}

int transfer_start(uint64_t id, const struct http_request *req)
{
	struct transfer *c = xcalloc(1, sizeof(*c));

	c->id = id;
	c->max = req->max_body && req->max_body < HTTP_MAX_BODY ? req->max_body : HTTP_MAX_BODY;
	c->easy = curl_easy_init();
	if (c->easy)
		set_auth(c->easy, req);
	if (!c->easy || set_transport(c->easy, c, req) < 0 ||
	    set_method(c->easy, req) < 0 || set_headers(c, req) < 0 ||
	    curl_multi_add_handle(multi, c->easy) != CURLM_OK) {
		if (c->easy)
			curl_easy_cleanup(c->easy);
		c->easy = NULL;
		call_free(c);
		return -1;
	}
	c->next = calls;
	calls = c;
	return 0;
}

void transfer_cancel(uint64_t id)
{
	for (struct transfer *c = calls; c; c = c->next) {
		if (c->id == id) {
			calls_unlink(c);
			call_free(c);
			return;
		}
	}
}

bool transfer_idle(void)
{
	return calls == NULL;
}
