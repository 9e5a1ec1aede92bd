/* priv.h - who the daemon runs as ([daemon] user) and who may talk to it
 * ([daemon] control_group).
 *
 * Start-up order (main.c): priv_resolve() once the config is read; then,
 * still as root, create the directories and the control socket for the
 * daemon's user; then priv_drop() before the first packet is sent. */
#ifndef HP_PRIV_H
#define HP_PRIV_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"

struct priv_ids {
	bool switch_user;          /* started as root with user set: priv_drop() switches */
	bool root_by_default;      /* running as root only because user is not set */
	uid_t uid;                 /* the daemon's user once started */
	gid_t gid;                 /* and its group */
	gid_t control_gid;         /* may run status (and other read-only commands) */
	char user[64];             /* names, for messages */
	char control_group[64];
};

/* Look up [daemon] user and control_group. A user other than the one we
 * run as, when we are not root, cannot be honoured: -1 with a message. */
int priv_resolve(const struct cfg_daemon *d, struct priv_ids *ids);

/* Switch supplementary groups, gid and uid (in that order) when
 * ids->switch_user, then make sure root cannot be regained; -1 on any
 * failure (the caller exits). Without a switch while running as root, warns
 * once. */
int priv_drop(const struct priv_ids *ids);

/* Give a file or directory just created by root to the daemon's user
 * (group: gid). A no-op unless a switch is coming. 0 / -1 (logged). */
int priv_give(const struct priv_ids *ids, const char *path, gid_t gid);

#endif
