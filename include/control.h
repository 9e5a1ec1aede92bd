/* control.h - the control socket homeportctl talks to.
 *
 * Protocol: the client sends one line (at most CONTROL_MAX_REQUEST bytes):
 * "status", "refresh", "update [NAME]", "reload", "log-level LEVEL" or
 * "metrics"; the daemon answers with one JSON object and closes. Commands
 * other than status answer {"ok": true, "message": ...} (metrics: "metrics":
 * the exposition text) or {"ok": false, "error": ...}. "events" keeps the
 * connection: {"ok": true, ...}, then one JSON line per event
 * (event_follow.h). */
#ifndef HP_CONTROL_H
#define HP_CONTROL_H

#include <jansson.h>

#include "priv.h"

#define CONTROL_MAX_REQUEST 512            /* bytes before the '\n' */
#define CONTROL_MAX_REPLY (1024 * 1024)     /* homeportctl reads no more */
#define CONTROL_MAX_CLIENTS 32

struct control_ops {
	/* Re-read the config. 0 on success; -1 with *errors (malloc'd, one
	 * "FILE:LINE: message" per line) when the new config was rejected. */
	int (*reload)(char **errors);
};

enum control_cmd { CTL_STATUS, CTL_REFRESH, CTL_UPDATE, CTL_RELOAD, CTL_LOG_LEVEL, CTL_METRICS,
		   CTL_EVENTS };

/* Who may run a command (SPEC "Who may do what"), judged from the peer's
 * credentials (SO_PEERCRED): commands that only read are for root, the
 * daemon's user and members of control_group; commands that change
 * something are for root and the daemon's user. */
enum control_access { CTL_READ, CTL_CHANGE };

struct control_command {
	const char *name;
	enum control_cmd cmd;
	const char *arg;             /* NULL: takes none; "[NAME]": optional; "LEVEL": required */
	const char *help;
	enum control_access access;  /* who may run it */
};

/* The commands, one table for the daemon's parser and homeportctl. */
static const struct control_command control_commands[] = {
	{ "status", CTL_STATUS, NULL, "what the daemon sees and does now; --json: as JSON",
	  CTL_READ },
	{ "refresh", CTL_REFRESH, NULL, "re-check the external IP and every mapping now",
	  CTL_CHANGE },
	{ "update", CTL_UPDATE, "[NAME]", "push to DDNS now, even if the IP did not change",
	  CTL_CHANGE },
	{ "reload", CTL_RELOAD, NULL, "re-read the configuration (like SIGHUP)", CTL_CHANGE },
	{ "log-level", CTL_LOG_LEVEL, "LEVEL", "error, warning, notice, info or debug",
	  CTL_CHANGE },
	{ "metrics", CTL_METRICS, NULL, "Prometheus text format (node_exporter's textfile "
	  "collector)", CTL_READ },
	{ "events", CTL_EVENTS, NULL, "follow the daemon's events, one JSON line each, until ^C",
	  CTL_READ },
};

struct control_request {
	enum control_cmd cmd;
	const char *name;                  /* as in the protocol: "status", ... */
	enum control_access access;        /* what the command needs */
	char arg[CONTROL_MAX_REQUEST + 1];   /* "" when none */
};

/* Parse one request as received (len bytes, up to and without the '\n').
 * 0 on success; -1 with *error set to a reply sentence otherwise. Pure, so
 * that it can be fuzzed on its own. */
int control_parse(const char *buf, size_t len, struct control_request *req, const char **error);

/* Refuses (-1) when another daemon answers on path; removes a stale socket.
 * The socket (mode 0660) is given to ids->uid and group ids->control_gid,
 * and ids decides who may run what. */
int  control_init(const char *path, const struct control_ops *ops, const struct priv_ids *ids);
void control_fini(void);

/* The whole SPEC "Status" object. */
json_t *control_status_json(void);

#endif
