/* homeport-http-helper - the process that speaks HTTP(S) for homeportd.
 * libcurl and what it brings (GnuTLS, OpenSSL, Kerberos, LDAP, ...) cost
 * some 10 MB resident once TLS has run; in a helper that the daemon starts
 * when a request is due and stops when none has been for a while
 * (http.c), none of it stays resident between updates. Exec'd by the
 * daemon (helper_proc.h): fd 3 is its socket, one http_wire message per
 * request, cancel or response. Requests run side by side on libcurl's
 * multi interface; it ends when the daemon closes the socket, and dies
 * with the daemon. Before anything else it confines itself
 * (http_sandbox.h), and refuses to run otherwise (exit 3). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ev.h"
#include "helper_proc.h"
#include "http_sandbox.h"
#include "http_transfer.h"
#include "http_wire.h"
#include "sandbox.h"
#include "util.h"

#define FD HELPER_PROC_FD

static uint8_t *inbuf;

/* Blocking: the daemon reads its socket from its loop; a reply waits for
 * room rather than being lost. A daemon that is gone ends us. */
static void send_msg(const uint8_t *m, size_t len)
{
	while (send(FD, m, len, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR)
			exit(0);
	}
}

static void reply(uint64_t id, const struct http_response *resp)
{
	size_t len = 0;
	uint8_t *m = http_wire_resp(id, resp, &len);

	if (!m) {                    /* cannot happen: bodies are bounded */
		struct http_response r = { .curl_code = 27, .error = "reply too large" };
		m = http_wire_resp(id, &r, &len);
	}
	send_msg(m, len);
	free(m);
}

static void refuse(uint64_t id)
{
	/* CURLE_FAILED_INIT: the daemon checked the request; curl refused it */
	struct http_response r = { .curl_code = 2, .error = "cannot set up the request" };

	reply(id, &r);
}

static void on_msg(int fd, short revents, void *arg)
{
	struct http_wire_msg m;
	ssize_t n = recv(FD, inbuf, HTTP_WIRE_MAX, MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {                /* the daemon closed its end: done */
		ev_break();
		return;
	}
	if ((size_t)n > HTTP_WIRE_MAX || http_wire_decode(inbuf, (size_t)n, &m) < 0)
		exit(2);             /* not our daemon's build: say so by ending */
	if (m.kind == HTTP_WIRE_REQ && transfer_start(m.id, &m.req) < 0)
		refuse(m.id);
	else if (m.kind == HTTP_WIRE_CANCEL)
		transfer_cancel(m.id);
	explicit_bzero(inbuf, (size_t)n);
	http_wire_free(&m);
}

static void setup(void)
{
	/* Before libcurl and OpenSSL are set up: they run confined too. */
	if (http_sandbox_enter(FD) < 0)
		_exit(3);
	inbuf = xcalloc(1, HTTP_WIRE_MAX);
	if (ev_init() < 0 || transfer_init(reply) < 0 || ev_fd_add(FD, POLLIN, on_msg, NULL) < 0)
		_exit(1);
}

int main(int argc, char **argv)
{
	sandbox_start(argc, argv, HTTP_HELPER_NAME, http_sandbox_check);
	setup();
	ev_run();
	transfer_fini();
	ev_fini();
	_exit(0);                    /* as in sandbox_start() */
}
