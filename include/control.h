/* control.h - the control socket homeportctl talks to.
 *
 * Protocol: the client sends one line (at most CONTROL_MAX_REQUEST bytes):
 * "status", "refresh", "update [NAME]", "reload" or "log-level LEVEL"; the
 * daemon answers with one JSON object and closes. Commands other than status
 * answer {"ok": true, "message": ...} or {"ok": false, "error": ...}. */
#ifndef HP_CONTROL_H
#define HP_CONTROL_H

#include <jansson.h>

#include "priv.h"

#define CONTROL_MAX_REQUEST 512
#define CONTROL_MAX_CLIENTS 32

struct control_ops {
	/* Re-read the config. 0 on success; -1 with *errors (malloc'd, one
	 * "FILE:LINE: message" per line) when the new config was rejected. */
	int (*reload)(char **errors);
};

enum control_cmd { CTL_STATUS, CTL_REFRESH, CTL_UPDATE, CTL_RELOAD, CTL_LOG_LEVEL };

/* Who may run a command (SPEC "Who may do what"), judged from the peer's
 * credentials (SO_PEERCRED): commands that only read are for root, the
 * daemon's user and members of control_group; commands that change
 * something are for root and the daemon's user. */
enum control_access { CTL_READ, CTL_CHANGE };

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
