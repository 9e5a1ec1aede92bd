/* http.h - asynchronous HTTP(S) requests on the daemon's event loop.
 *
 * Done by homeport-http-helper, a program that runs libcurl's multi
 * interface and that http.c starts with the first request and stops after
 * HTTP_HELPER_IDLE_MS without one (so libcurl and TLS are not resident in
 * between). Used by the HTTP DDNS providers, the cloud DNS APIs, url hooks
 * and web IP sources. The module starts itself on first use; http_fini()
 * at exit. */
#ifndef HP_HTTP_H
#define HP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_BODY     (64 * 1024)  /* reply bodies are cut off above this */
#define HTTP_TIMEOUT_DEF  30           /* seconds, when the request says 0 */
/* The helper that does the requests is stopped after this long without one. */
#define HTTP_HELPER_IDLE_MS 20000
#define HTTP_RETRY_AFTER_MAX (24 * 3600)  /* a hostile Retry-After must not park us for years */

struct http_request {
	const char *method;            /* NULL: GET; else GET, POST, PUT, PATCH, DELETE */
	const char *url;
	const char *const *headers;    /* "Name: value" lines, n_headers of them */
	size_t n_headers;
	const char *body;              /* NULL: none; sent as is */
	const char *username;          /* non-NULL: Basic auth username:password */
	const char *password;
	const char *bearer;            /* non-NULL: Authorization: Bearer <bearer> */
	const char *ca_file;           /* extra CA bundle; system CAs stay trusted */
	uint32_t timeout;              /* whole request, seconds; 0: HTTP_TIMEOUT_DEF */
	bool allow_http;               /* false: https:// only */
	bool ipv4_only;                /* connect over IPv4 only (web IP sources) */
	size_t max_body;               /* 0: HTTP_MAX_BODY; a smaller bound for tiny replies */
};

struct http_response {
	long status;                   /* HTTP status; 0 when none arrived */
	int curl_code;                 /* CURLcode; 0 = the exchange completed */
	const char *error;             /* curl's sentence when curl_code != 0, else "" */
	const char *body;              /* NUL-terminated, at most max_body bytes */
	size_t body_len;
	bool truncated;                /* the reply was longer and was cut off */
	uint32_t retry_after;          /* Retry-After in seconds; 0: none */
	int64_t date;                  /* the server's Date header, Unix seconds; 0: none */
	const char *host;              /* host part of the URL, for messages */
};

struct http_call;

/* Called once from the event loop, never from inside http_start(). The
 * response and its strings live only during the call. */
typedef void (*http_done_cb)(void *ctx, const struct http_response *resp);

int  http_init(void);                /* 0 / -1; http_start() calls it when needed */
void http_fini(void);                /* cancels every call; call before ev_fini() */

/* Tools that are not homeportd name the helper program themselves. */
void http_helper_path(const char *path);
/* The running helper's pid; 0 when none runs (tests, status). */
pid_t http_helper_pid(void);

/* Every request sends User-Agent HP_USER_AGENT, follows no redirects and
 * never signals. NULL when it cannot even be set up (logged). */
struct http_call *http_start(const struct http_request *req, http_done_cb done, void *ctx);
/* Stop a call; its callback will not run. NULL is fine. The call is freed
 * once its callback returns: never cancel it after that. */
void http_cancel(struct http_call *call);

/* Percent-encode s for a URL query value (RFC 3986 unreserved kept).
 * Returns a malloc'd string. */
char *http_escape(const char *s);

/* True when url is https:// (or http:// and allow_http): the check the
 * providers make before starting, so a refused URL is a config error. */
bool http_url_allowed(const char *url, bool allow_http);

/* "HOST: curl's sentence" for a transport failure, else "HTTP 503 from HOST". */
void http_failure_text(const struct http_response *r, char *buf, size_t len);

/* Copy at most srclen bytes of server-supplied text into dst for a message:
 * printable ASCII kept, anything else '?', cut to fit. */
void http_clean_text(char *dst, size_t dstlen, const char *src, size_t srclen);

/* The host of an http(s) URL into buf (for messages; no user info, no
 * path, no query). "?" when it cannot be parsed. */
void http_url_host(const char *url, char *buf, size_t len);

#endif
