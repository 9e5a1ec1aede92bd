/* priv.c - [daemon] user and control_group: who the daemon runs as, and
 * the switch away from root (groups, then gid, then uid), checked
 * afterwards: a process that could still become root has not dropped it. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"

static void copy_name(char *dst, size_t size, const char *name, unsigned long id)
{
	if (name)
		snprintf(dst, size, "%s", name);
	else
		snprintf(dst, size, "%lu", id);
}

static int resolve_user(const char *name, struct priv_ids *ids)
{
	struct passwd *pw;
	uid_t euid = geteuid();

	if (!name) {
		pw = getpwuid(euid);
		ids->uid = euid;
		ids->gid = getegid();
		copy_name(ids->user, sizeof(ids->user), pw ? pw->pw_name : NULL, euid);
		ids->root_by_default = euid == 0;
		return 0;
	}
	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		log_errx("[daemon] user: no such user \"%s\"", name);
		return -1;
	}
	ids->uid = pw->pw_uid;
	ids->gid = pw->pw_gid;
	copy_name(ids->user, sizeof(ids->user), pw->pw_name, pw->pw_uid);
	if (euid == 0 && pw->pw_uid != 0) {
		ids->switch_user = true;
		return 0;
	}
	if (euid != pw->pw_uid) {
		log_errx("[daemon] user is %s, but homeportd was started as uid %lu: start it as "
			 "root (it switches) or as %s", ids->user, (unsigned long)euid, ids->user);
		return -1;
	}
	return 0;
}

int priv_resolve(const struct cfg_daemon *d, struct priv_ids *ids)
{
	struct group *gr;

	memset(ids, 0, sizeof(*ids));
	if (resolve_user(d->user, ids) < 0)
		return -1;
	ids->control_gid = ids->gid;
	if (d->control_group) {
		gr = getgrnam(d->control_group);
		if (!gr) {
			log_errx("[daemon] control_group: no such group \"%s\"", d->control_group);
			return -1;
		}
		ids->control_gid = gr->gr_gid;
	}
	gr = getgrgid(ids->control_gid);
	copy_name(ids->control_group, sizeof(ids->control_group), gr ? gr->gr_name : NULL,
		  ids->control_gid);
	return 0;
}

/* Neither the real, effective nor saved ids may be root any more. */
static int check_dropped(const struct priv_ids *ids)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0 ||
	    ruid != ids->uid || euid != ids->uid || suid != ids->uid ||
	    rgid != ids->gid || egid != ids->gid || sgid != ids->gid) {
		log_errx("switched to %s, but the process ids are not all %lu/%lu",
			 ids->user, (unsigned long)ids->uid, (unsigned long)ids->gid);
		return -1;
	}
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1) {
		log_errx("switched to %s, but root can be regained: refusing to run", ids->user);
		return -1;
	}
	return 0;
}

int priv_drop(const struct priv_ids *ids)
{
	if (!ids->switch_user) {
		if (ids->root_by_default)
			log_warnx("running as root: set [daemon] user (e.g. user = homeport) to drop "
				  "privileges at start");
		return 0;
	}
	if (initgroups(ids->user, ids->gid) < 0) {
		log_err("cannot set the supplementary groups of %s", ids->user);
		return -1;
	}
	if (setresgid(ids->gid, ids->gid, ids->gid) < 0) {
		log_err("cannot switch to group %lu", (unsigned long)ids->gid);
		return -1;
	}
	if (setresuid(ids->uid, ids->uid, ids->uid) < 0) {
		log_err("cannot switch to user %s", ids->user);
		return -1;
	}
	/* As NoNewPrivileges= does in the systemd unit: no set-uid program
	 * run from here (a hook) can hand root back either. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_err("cannot set no_new_privs");
		return -1;
	}
	if (check_dropped(ids) < 0)
		return -1;
	log_info("running as user %s (uid %lu, gid %lu)", ids->user, (unsigned long)ids->uid,
		 (unsigned long)ids->gid);
	return 0;
}

int priv_give(const struct priv_ids *ids, const char *path, gid_t gid)
{
	uid_t uid = ids->switch_user ? ids->uid : (uid_t)-1;

	if (!ids->switch_user && gid == getegid())
		return 0;
	if (chown(path, uid, gid) < 0) {
		log_err("cannot give %s to %s:%lu%s", path, ids->user, (unsigned long)gid,
			errno == EPERM ? " (the daemon's user must be a member of that group)" : "");
		return -1;
	}
	return 0;
}
