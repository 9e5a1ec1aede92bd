/* homeportctl - ask the running homeportd what it is doing, or tell it to
 * refresh, update DDNS entries or reload. Commands may be abbreviated to
 * any unique prefix ("st" for status). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include <stdbool.h>

#include "control.h"
#include "homeport.h"

#define REPLY_TIMEOUT_MS 10000

static void usage(FILE *out)
{
	fprintf(out, "usage: homeportctl [-s SOCKET] COMMAND\n");
	for (size_t i = 0; i < HP_ARRAY_LEN(control_commands); i++) {
		const struct control_command *c = &control_commands[i];
		char word[32];

		snprintf(word, sizeof(word), "%s%s%s", c->name, c->arg ? " " : "",
			 c->arg ? c->arg : "");
		fprintf(out, "  %-19s %s\n", word, c->help);
	}
}

static const struct control_command *command_match(const char *word)
{
	const struct control_command *found = NULL;

	for (size_t i = 0; i < HP_ARRAY_LEN(control_commands); i++) {
		const struct control_command *c = &control_commands[i];

		if (strcmp(c->name, word) == 0)
			return c;
		if (strncmp(c->name, word, strlen(word)) == 0) {
			if (found)
				return NULL;   /* ambiguous */
			found = c;
		}
	}
	return found;
}

/* -1: cannot reach the daemon (69); -2: the socket's permissions refuse us (1). */
static int connect_daemon(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "homeportctl: socket path too long\n");
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		if (err == EACCES || err == EPERM) {
			fprintf(stderr, "homeportctl: permission denied on %s: only root, homeportd's "
				"user and members of its control_group may talk to it\n", path);
			return -2;
		}
		fprintf(stderr, "homeportctl: cannot reach homeportd at %s: %s\n", path, strerror(err));
		return -1;
	}
	return fd;
}

/* Send one request line, read the whole reply (bounded in size and time). */
static char *transact(int fd, const char *request)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (!buf || send(fd, request, strlen(request), MSG_NOSIGNAL) < 0)
		goto fail;
	for (;;) {
		if (poll(&pfd, 1, REPLY_TIMEOUT_MS) <= 0) {
			fprintf(stderr, "homeportctl: no reply from homeportd\n");
			goto fail;
		}
		if (len + 1 >= cap) {
			if (cap >= CONTROL_MAX_REPLY)
				goto fail;
			cap *= 2;
			char *bigger = realloc(buf, cap);
			if (!bigger)
				goto fail;
			buf = bigger;
		}
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
fail:
	free(buf);
	return NULL;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int signo)
{
	interrupted = 1;
}

/* "events": print every line after the first (the daemon's "ok") until the
 * daemon closes (69) or we are interrupted (0). */
static int follow(int fd)
{
	struct sigaction sa = { .sa_handler = on_interrupt };   /* no SA_RESTART */
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[65536];
	size_t len = 0;
	bool first = true;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (send(fd, "events\n", 7, MSG_NOSIGNAL) < 0)
		return HP_EXIT_UNAVAILABLE;
	while (!interrupted) {
		char *nl;
		ssize_t n;

		if (poll(&pfd, 1, -1) < 0)
			continue;                       /* EINTR: interrupted is set */
		n = recv(fd, buf + len, sizeof(buf) - len - 1, 0);
		if (n <= 0)
			return interrupted ? HP_EXIT_OK : HP_EXIT_UNAVAILABLE;
		len += (size_t)n;
		buf[len] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			if (first && strncmp(buf, "{\"ok\":true", 10) != 0) {
				fprintf(stderr, "homeportctl: %s\n", buf);
				return HP_EXIT_FAIL;
			}
			if (!first)
				printf("%s\n", buf);
			first = false;
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len + 1);
		}
		fflush(stdout);
		if (len == sizeof(buf) - 1)
			len = 0;                        /* a line that long is not ours */
	}
	return HP_EXIT_OK;
}

static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : dflt;
}

static void format_ago(char *out, size_t size, json_t *v, const char *suffix)
{
	json_int_t s;

	if (!json_is_integer(v)) {
		snprintf(out, size, "-");
		return;
	}
	s = json_integer_value(v);
	if (s >= 86400)
		snprintf(out, size, "%lldd%s", (long long)(s / 86400), suffix);
	else if (s >= 3600)
		snprintf(out, size, "%lldh%s", (long long)(s / 3600), suffix);
	else if (s >= 60)
		snprintf(out, size, "%lldm%s", (long long)(s / 60), suffix);
	else
		snprintf(out, size, "%llds%s", (long long)s, suffix);
}

static void print_gateway(json_t *gw)
{
	json_t *pub = json_object_get(gw, "external_ip_public");
	char ago[32];

	format_ago(ago, sizeof(ago), json_object_get(gw, "last_check_ago"), " ago");
	printf("gateway    %s", str_or(gw, "state", "?"));
	if (json_is_string(json_object_get(gw, "protocol")))
		printf(" via %s", str_or(gw, "protocol", ""));
	if (json_is_string(json_object_get(gw, "address")))
		printf(" at %s", str_or(gw, "address", ""));
	if (json_is_string(json_object_get(gw, "lan_address")))
		printf(" (our LAN address %s)", str_or(gw, "lan_address", ""));
	printf("\nexternal   %s", str_or(gw, "external_ip", "unknown"));
	if (json_is_boolean(pub))
		printf(json_is_true(pub) ? " (public)" : " (NOT public: double NAT or CGNAT)");
	printf(", checked %s\n", ago);
	if (json_is_string(json_object_get(gw, "error")))
		printf("           error: %s\n", str_or(gw, "error", ""));
}

static void print_services(json_t *services)
{
	json_t *s;
	size_t i;

	if (!json_array_size(services))
		return;
	printf("\n%-16s %-5s %-8s %-22s %-9s %-7s %s\n", "SERVICE", "PROTO", "EXTERNAL",
	       "INTERNAL", "STATE", "VIA", "EXPIRES");
	json_array_foreach(services, i, s) {
		char internal[64], expires[32];
		snprintf(internal, sizeof(internal), "%s:%lld", str_or(s, "internal_host", "?"),
			 (long long)json_integer_value(json_object_get(s, "internal_port")));
		format_ago(expires, sizeof(expires), json_object_get(s, "expires_in"), "");
		printf("%-16s %-5s %-8lld %-22s %-9s %-7s %s\n", str_or(s, "name", "?"),
		       str_or(s, "protocol", "?"),
		       (long long)json_integer_value(json_object_get(s, "external_port")), internal,
		       str_or(s, "state", "?"), str_or(s, "via", "-"), expires);
		if (json_is_string(json_object_get(s, "error")))
			printf("  error: %s\n", str_or(s, "error", ""));
	}
}

static void print_ddns(json_t *entries)
{
	json_t *d, *h;
	size_t i, j;

	if (!json_array_size(entries))
		return;
	printf("\n%-16s %-11s %-9s %-16s %-9s %-7s %s\n", "DDNS", "PROVIDER", "STATE", "PUBLISHED",
	       "UPDATED", "NEXT", "HOSTNAMES");
	json_array_foreach(entries, i, d) {
		char updated[32], next[32];
		format_ago(updated, sizeof(updated), json_object_get(d, "last_update_ago"), " ago");
		format_ago(next, sizeof(next), json_object_get(d, "next_try_in"), "");
		printf("%-16s %-11s %-9s %-16s %-9s %-7s ", str_or(d, "name", "?"),
		       str_or(d, "provider", "?"), str_or(d, "state", "?"),
		       str_or(d, "published_ip", "-"), updated, next);
		json_array_foreach(json_object_get(d, "hostnames"), j, h)
			printf("%s%s", j ? ", " : "", json_string_value(h) ? json_string_value(h) : "?");
		printf("\n");
		if (json_is_string(json_object_get(d, "error")))
			printf("  error: %s\n", str_or(d, "error", ""));
	}
}

static void print_status(json_t *st)
{
	char up[32];

	format_ago(up, sizeof(up), json_object_get(st, "uptime"), "");
	printf("homeportd %s, pid %lld, up %s\n", str_or(st, "version", "?"),
	       (long long)json_integer_value(json_object_get(st, "pid")), up);
	print_gateway(json_object_get(st, "gateway"));
	print_services(json_object_get(st, "services"));
	print_ddns(json_object_get(st, "ddns"));
}

int main(int argc, char **argv)
{
	const char *sock = HP_DEFAULT_SOCKET, *arg = NULL;
	const struct control_command *cmd;
	bool json = false;
	char request[CONTROL_MAX_REQUEST + 2];   /* the line and its '\n' */
	json_error_t jerr;
	json_t *reply;
	char *text;
	int c, fd, rc;

	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	while ((c = getopt_long(argc, argv, "+s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'h': usage(stdout); return HP_EXIT_OK;
		case 'V': printf("homeportctl %s\n", HP_VERSION); return HP_EXIT_OK;
		default: usage(stderr); return HP_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return HP_EXIT_USAGE;
	}
	cmd = command_match(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "homeportctl: unknown or ambiguous command \"%s\"\n", argv[optind]);
		usage(stderr);
		return HP_EXIT_USAGE;
	}
	for (int i = optind + 1; i < argc; i++) {
		if (cmd->cmd == CTL_STATUS && strcmp(argv[i], "--json") == 0)
			json = true;
		else if (!arg && cmd->arg)
			arg = argv[i];
		else {
			fprintf(stderr, "homeportctl: unexpected argument \"%s\"\n", argv[i]);
			return HP_EXIT_USAGE;
		}
	}
	if (cmd->arg && cmd->arg[0] != '[' && !arg) {
		fprintf(stderr, "homeportctl: %s needs %s\n", cmd->name, cmd->arg);
		return HP_EXIT_USAGE;
	}
	if (snprintf(request, sizeof(request), "%s%s%s\n", cmd->name, arg ? " " : "",
		     arg ? arg : "") >= (int)sizeof(request)) {
		fprintf(stderr, "homeportctl: argument too long\n");
		return HP_EXIT_USAGE;
	}
	fd = connect_daemon(sock);
	if (fd < 0)
		return fd == -2 ? HP_EXIT_FAIL : HP_EXIT_UNAVAILABLE;
	if (cmd->cmd == CTL_EVENTS) {
		rc = follow(fd);
		close(fd);
		return rc;
	}
	text = transact(fd, request);
	close(fd);
	if (!text)
		return HP_EXIT_UNAVAILABLE;
	reply = json_loads(text, 0, &jerr);
	if (!reply || !json_is_object(reply)) {
		fprintf(stderr, "homeportctl: unreadable reply from homeportd\n");
		free(text);
		json_decref(reply);
		return HP_EXIT_FAIL;
	}
	rc = HP_EXIT_OK;
	if (json_is_false(json_object_get(reply, "ok"))) {
		fprintf(stderr, "homeportctl: %s\n", str_or(reply, "error", "failed"));
		rc = HP_EXIT_FAIL;
	} else if (cmd->cmd == CTL_METRICS) {
		fputs(str_or(reply, "metrics", ""), stdout);
	} else if (cmd->cmd != CTL_STATUS) {
		printf("%s\n", str_or(reply, "message", "ok"));
	} else if (json) {
		fputs(text, stdout);
	} else {
		print_status(reply);
	}
	free(text);
	json_decref(reply);
	return rc;
}
