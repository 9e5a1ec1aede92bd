/* event_follow.c - `homeportctl events`: every event, as one JSON line, to
 * each connection that asked (see event_follow.h). Each follower has its
 * own output buffer; writes never block and a stuck reader is dropped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ev.h"
#include "event.h"
#include "event_follow.h"
#include "log.h"
#include "util.h"

struct follower {
	int fd;
	char *buf;
	size_t len, off;
};

static struct follower *followers[FOLLOW_MAX];
static bool subscribed;

static void on_event(const struct event *ev, void *arg);

static void drop(struct follower *f)
{
	for (size_t i = 0; i < FOLLOW_MAX; i++)
		if (followers[i] == f)
			followers[i] = NULL;
	ev_fd_del(f->fd);
	close(f->fd);
	free(f->buf);
	free(f);
}

/* Send what waits; watch for POLLOUT only while something does. */
static void flush(struct follower *f)
{
	while (f->off < f->len) {
		ssize_t n = send(f->fd, f->buf + f->off, f->len - f->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			drop(f);
			return;
		}
		f->off += (size_t)n;
	}
	if (f->off == f->len)
		f->off = f->len = 0;
	ev_fd_set_events(f->fd, f->len ? POLLIN | POLLOUT : POLLIN);
}

static void on_fd(int fd, short revents, void *arg)
{
	struct follower *f = arg;
	char sink[256];
	ssize_t n;

	if (revents & POLLOUT) {
		flush(f);
		return;
	}
	/* Anything the client sends is ignored; its end of file ends it. */
	n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		drop(f);
}

static void put(struct follower *f, const char *text)
{
	size_t n = strlen(text);

	if (f->len + n > FOLLOW_BACKLOG_MAX) {
		log_info("events: a follower does not read: dropped");
		drop(f);
		return;
	}
	f->buf = xrealloc(f->buf, f->len + n + 1, 1);
	memcpy(f->buf + f->len, text, n + 1);
	f->len += n;
	flush(f);
}

static void on_event(const struct event *ev, void *arg)
{
	json_t *o = event_json(ev);
	char *line = o ? json_dumps(o, JSON_COMPACT) : NULL, *text;

	json_decref(o);
	if (!line || asprintf(&text, "%s\n", line) < 0) {
		free(line);
		return;
	}
	for (size_t i = 0; i < FOLLOW_MAX; i++)
		if (followers[i])
			put(followers[i], text);
	free(line);
	free(text);
}

int event_follow_add(int fd)
{
	struct follower *f;
	size_t i;

	for (i = 0; i < FOLLOW_MAX && followers[i]; i++)
		;
	if (i == FOLLOW_MAX || (!subscribed && event_subscribe(on_event, NULL) < 0)) {
		static const char full[] = "{\"ok\":false,\"error\":\"too many clients follow events\"}\n";
		if (send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("events: %s", strerror(errno));
		close(fd);
		return -1;
	}
	subscribed = true;
	f = xcalloc(1, sizeof(*f));
	f->fd = fd;
	if (ev_fd_add(fd, POLLIN, on_fd, f) < 0) {
		close(fd);
		free(f);
		return -1;
	}
	followers[i] = f;
	put(f, "{\"ok\":true,\"message\":\"following events\"}\n");
	log_debug("events: a client follows");   /* from now on it hears every event */
	return 0;
}

void event_follow_fini(void)
{
	for (size_t i = 0; i < FOLLOW_MAX; i++)
		if (followers[i])
			drop(followers[i]);
	if (subscribed)
		event_unsubscribe(on_event, NULL);
	subscribed = false;
}
