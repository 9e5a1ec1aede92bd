/* control.c - the control socket server: a Unix stream socket, one short
 * request line per connection, one JSON reply. Every client is bounded in
 * size and time, so a stuck or hostile client cannot hold the daemon. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "ddns.h"
#include "ev.h"
#include "event_follow.h"
#include "gateway.h"
#include "homeport.h"
#include "ipsource.h"
#include "log.h"
#include "metrics.h"
#include "pinhole.h"
#include "util.h"

#define CLIENT_TIMEOUT_MS 2000

struct client {
	int fd;
	bool may_read, may_change;           /* from the peer's credentials */
	unsigned long uid;
	long pid;
	char in[CONTROL_MAX_REQUEST + 1];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	struct ev_timer *timeout;
	int64_t accepted_ms;
};

static int listen_fd = -1;
static char *sock_path;
static const struct control_ops *ops;
static struct client *clients[CONTROL_MAX_CLIENTS];
static const struct priv_ids *who;          /* the daemon's user and control group */
static int64_t started_ms;

json_t *control_status_json(void)
{
	json_t *services = mapping_status_json(ipsource_ip());

	pinhole_status_merge(services);
	return json_pack("{s:s, s:i, s:I, s:o, s:o, s:o}",
			 "version", HP_VERSION,
			 "pid", (int)getpid(),
			 "uptime", (json_int_t)((ev_now_ms() - started_ms) / 1000),
			 "gateway", gateway_status_json(),
			 "services", services,
			 "ddns", ddns_status_json());
}

static void client_close(struct client *c)
{
	for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (clients[i] == c)
			clients[i] = NULL;
	ev_fd_del(c->fd);
	/* Unread input at close() makes the kernel reset the peer, which would
	 * then lose our reply (e.g. "request too long"): drain what is there. */
	for (int i = 0; i < 64; i++) {
		char sink[1024];
		if (recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
			break;
	}
	close(c->fd);
	ev_timer_free(c->timeout);
	free(c->out);
	free(c);
}

static json_t *reply_ok(const char *message)
{
	return json_pack("{s:b, s:s}", "ok", 1, "message", message);
}

static json_t *reply_error(const char *error)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", error);
}

static json_t *do_reload(void)
{
	char *errors = NULL;
	json_t *reply;

	if (!ops || !ops->reload)
		return reply_error("reload is not available");
	if (ops->reload(&errors) == 0)
		return reply_ok("configuration reloaded");
	reply = json_pack("{s:b, s:s}", "ok", 0, "error",
			  errors ? errors : "configuration rejected");
	free(errors);
	return reply;
}

static json_t *do_update(const char *name)
{
	char msg[400];

	switch (ddns_force_update(name && *name ? name : NULL, msg, sizeof(msg))) {
	case -1:
		snprintf(msg, sizeof(msg), "no DDNS entry named \"%.64s\"", name);
		return reply_error(msg);
	case -2:
		return reply_error("the external IP is not public (double NAT or CGNAT): "
				   "nothing is published");
	case -3:
		return reply_error(msg);
	default:
		break;
	}
	return reply_ok(name && *name ? "update queued" : "update queued for every entry");
}

static json_t *do_log_level(const char *arg)
{
	int level = arg ? log_level_parse(arg) : -1;

	if (level < 0)
		return reply_error("log-level takes error, warning, notice, info or debug");
	log_set_level(level);
	log_notice("log level set to %s", log_level_name(level));
	return reply_ok("log level changed");
}

static json_t *do_metrics(void)
{
	char *text = metrics_text();
	json_t *reply = json_pack("{s:b, s:s}", "ok", 1, "metrics", text);

	free(text);
	return reply;
}

int control_parse(const char *buf, size_t len, struct control_request *req, const char **error)
{
	const char *end, *arg;
	size_t word;

	if (len > CONTROL_MAX_REQUEST) {
		*error = "request too long";
		return -1;
	}
	if (memchr(buf, '\0', len) != NULL) {
		*error = "request contains a NUL byte";
		return -1;
	}
	end = buf + len;
	if (end > buf && end[-1] == '\r')        /* clients like socat send CRLF */
		end--;
	while (buf < end && *buf == ' ')
		buf++;
	while (end > buf && end[-1] == ' ')
		end--;
	for (word = 0; buf + word < end && buf[word] != ' '; word++)
		;                      /* buf is not NUL-terminated */
	arg = buf + word;
	while (arg < end && *arg == ' ')
		arg++;
	for (size_t i = 0; i < HP_ARRAY_LEN(control_commands); i++) {
		const struct control_command *c = &control_commands[i];

		if (strlen(c->name) != word || memcmp(buf, c->name, word) != 0)
			continue;
		if (!c->arg && arg < end) {
			*error = "this command takes no argument";
			return -1;
		}
		req->cmd = c->cmd;
		req->name = c->name;
		req->access = c->access;
		memcpy(req->arg, arg, (size_t)(end - arg));
		req->arg[end - arg] = '\0';
		return 0;
	}
	*error = "unknown command";
	return -1;
}

static json_t *refuse(const struct client *c, const char *cmd, enum control_access need)
{
	char msg[256];

	log_info("control: refused \"%s\" from uid %lu (pid %ld)", cmd, c->uid, c->pid);
	if (need == CTL_CHANGE)
		snprintf(msg, sizeof(msg), "permission denied: \"%s\" changes what the daemon does; "
			 "only root and the daemon's user (%s) may run it", cmd, who->user);
	else
		snprintf(msg, sizeof(msg), "permission denied: \"%s\" is for root, the daemon's "
			 "user (%s) and members of group %s (control_group)", cmd, who->user,
			 who->control_group);
	return reply_error(msg);
}

/* One request line -> one reply object. */
static json_t *control_dispatch(const struct client *c, const char *buf, size_t len)
{
	struct control_request req;
	const char *error;

	if (control_parse(buf, len, &req, &error) < 0)
		return reply_error(error);
	if (!(req.access == CTL_READ ? c->may_read : c->may_change))
		return refuse(c, req.name, req.access);
	switch (req.cmd) {
	case CTL_STATUS:
		return control_status_json();
	case CTL_REFRESH:
		gateway_refresh();
		return reply_ok("refresh started");
	case CTL_UPDATE:
		return do_update(req.arg);
	case CTL_RELOAD:
		return do_reload();
	case CTL_LOG_LEVEL:
		return do_log_level(req.arg[0] ? req.arg : NULL);
	case CTL_METRICS:
		return do_metrics();
	case CTL_EVENTS:
		break;                 /* a stream, not a reply: client_follow() */
	}
	return reply_error("unknown command");
}

static void client_reply(struct client *c, json_t *reply)
{
	char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;

	json_decref(reply);
	if (!text)
		text = xstrdup("{\"ok\":false,\"error\":\"internal error\"}");
	c->out_len = strlen(text) + 1;
	c->out = xrealloc(text, c->out_len + 1, 1);
	c->out[c->out_len - 1] = '\n';
	c->out_off = 0;
	ev_fd_set_events(c->fd, POLLOUT);
}

static void client_write(struct client *c)
{
	ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->out_off += (size_t)n;
	if (c->out_off == c->out_len)
		client_close(c);
}

static bool is_events(const char *buf, size_t len)
{
	struct control_request req;
	const char *error;

	return control_parse(buf, len, &req, &error) == 0 && req.cmd == CTL_EVENTS;
}

/* "events": the connection leaves us for the event stream. */
static void client_follow(struct client *c)
{
	int fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);

	client_close(c);
	if (fd < 0 || event_follow_add(fd) < 0)
		log_info("control: cannot follow events for one more client");
}

static void client_read(struct client *c)
{
	ssize_t n = recv(c->fd, c->in + c->in_len, CONTROL_MAX_REQUEST - c->in_len, 0);
	char *nl;
	size_t len;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 && c->in_len == 0) {
		client_close(c);
		return;
	}
	if (n > 0)
		c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	nl = memchr(c->in, '\n', c->in_len);
	if (!nl && n > 0 && c->in_len < CONTROL_MAX_REQUEST)
		return;   /* wait for the rest of the line */
	if (!nl && c->in_len >= CONTROL_MAX_REQUEST) {
		client_reply(c, reply_error("request too long"));
		return;
	}
	len = nl ? (size_t)(nl - c->in) : c->in_len;
	/* "events" streams, so it is checked here; the rest in control_dispatch */
	if (is_events(c->in, len)) {
		if (c->may_read)
			client_follow(c);
		else
			client_reply(c, refuse(c, "events", CTL_READ));
		return;
	}
	client_reply(c, control_dispatch(c, c->in, len));
}

static void client_event(int fd, short revents, void *arg)
{
	struct client *c = arg;

	if (c->out)
		client_write(c);
	else if (revents & (POLLIN | POLLHUP | POLLERR))
		client_read(c);
}

static void client_timeout(void *arg)
{
	client_close(arg);
}

/* Is the peer in group gid through its supplementary groups? */
static bool peer_in_group(int fd, gid_t gid)
{
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	bool found = false;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE || len == 0)
			return false;
		groups = xcalloc(1, len);     /* len now says how much is needed */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
			len = 0;
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		found = found || groups[i] == gid;
	if (groups != small)
		free(groups);
	return found;
}

/* The kernel's word on who connected: what they may run is decided now. */
static int peer_access(struct client *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("control: cannot read the peer's credentials");
		return -1;
	}
	c->uid = cred.uid;
	c->pid = cred.pid;
	c->may_change = cred.uid == 0 || cred.uid == who->uid;
	c->may_read = c->may_change || cred.gid == who->control_gid ||
		      peer_in_group(c->fd, who->control_gid);
	return 0;
}

static void control_accept(int fd, short revents, void *arg)
{
	size_t slot = CONTROL_MAX_CLIENTS;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return;
	for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (!clients[i]) {
			slot = i;
			break;
		}
	if (slot == CONTROL_MAX_CLIENTS) {
		/* Full of clients that say nothing: drop the oldest silent one, so
		 * that idle or hostile connections can never lock out homeportctl. */
		struct client *oldest = NULL;
		for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
			if (clients[i] && !clients[i]->out &&
			    (!oldest || clients[i]->accepted_ms < oldest->accepted_ms)) {
				oldest = clients[i];
				slot = i;
			}
		if (!oldest) {
			log_debug("control: too many clients, refusing one");
			close(cfd);
			return;
		}
		log_debug("control: too many clients, dropping the oldest idle one");
		client_close(oldest);
	}
	struct client *c = xcalloc(1, sizeof(*c));
	c->fd = cfd;
	c->accepted_ms = ev_now_ms();
	if (peer_access(c) < 0) {
		close(cfd);
		free(c);
		return;
	}
	c->timeout = ev_timer_new(client_timeout, c);
	ev_timer_arm(c->timeout, CLIENT_TIMEOUT_MS);
	if (ev_fd_add(cfd, POLLIN, client_event, c) < 0) {
		ev_timer_free(c->timeout);
		close(cfd);
		free(c);
		return;
	}
	clients[slot] = c;
}

/* Is another daemon answering on path? A refused connect means a stale
 * socket left by a crash, which we may remove. */
static int socket_in_use(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return 0;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	return rc == 0;
}

int control_init(const char *path, const struct control_ops *control_ops,
		 const struct priv_ids *ids)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old_umask;
	int fd;

	started_ms = ev_now_ms();
	ops = control_ops;
	who = ids;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_errx("control socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (socket_in_use(&sun)) {
		log_errx("another homeportd answers on %s", path);
		return -1;
	}
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("control socket");
		return -1;
	}
	old_umask = umask(0117);   /* never world-accessible, not even briefly */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		umask(old_umask);
		log_err("cannot bind control socket %s", path);
		close(fd);
		return -1;
	}
	umask(old_umask);
	if (priv_give(ids, path, ids->control_gid) < 0) {
		close(fd);
		unlink(path);
		return -1;
	}
	if (chmod(path, 0660) < 0 || listen(fd, 16) < 0 ||
	    ev_fd_add(fd, POLLIN, control_accept, NULL) < 0) {
		log_err("cannot listen on %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	listen_fd = fd;
	sock_path = xstrdup(path);
	return 0;
}

void control_fini(void)
{
	event_follow_fini();
	for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (clients[i])
			client_close(clients[i]);
	if (listen_fd >= 0) {
		ev_fd_del(listen_fd);
		close(listen_fd);
		listen_fd = -1;
	}
	if (sock_path) {
		unlink(sock_path);
		free(sock_path);
		sock_path = NULL;
	}
}
