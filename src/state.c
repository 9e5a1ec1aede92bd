/* state.c - persisted state, written so that a crash at any instant leaves
 * either the old file or the new one: temp file in the same directory,
 * fsync, rename over the old name, fsync the directory. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "state.h"
#include "util.h"

#define STATE_MAX_BYTES (1024 * 1024)

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char *copy = xstrdup(path);
	int fd, rc = -1;

	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

int state_write_atomic(const char *path, const void *buf, size_t len)
{
	char tmp[PATH_MAX];
	int fd = -1, rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp)) {
		log_warnx("state file path too long: %s", path);
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		log_warn("cannot create %s", tmp);
		return -1;
	}
	if (fchmod(fd, 0640) < 0 || write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
		log_warn("cannot write %s", tmp);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		log_warn("cannot close %s", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		log_warn("cannot rename %s to %s", tmp, path);
		goto out;
	}
	if (fsync_dir_of(path) < 0)
		log_warn("cannot fsync the directory of %s", path);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* O_NOFOLLOW: a link planted in the state directory must not make the daemon
 * read (and later report) some other file. */
char *state_read_file(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	FILE *f;
	size_t n = 0;

	if (fd < 0) {
		if (errno == ELOOP)
			log_warnx("%s: a symbolic link, ignored", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(f = fdopen(fd, "r"))) {
		log_warnx("%s: not a regular file, ignored", path);
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	buf = xcalloc(1, max + 1);
	n = fread(buf, 1, max + 1, f);
	if (ferror(f) || n > max) {
		if (n > max)
			log_warnx("%s: larger than %zu bytes, ignored", path, max);
		free(buf);
		buf = NULL;
	} else {
		buf[n] = '\0';
		if (len)
			*len = n;
	}
	fclose(f);
	return buf;
}

int state_dir_check(const char *dir, uid_t uid)
{
	struct stat st;

	if (stat(dir, &st) < 0) {
		log_err("state_dir %s", dir);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_errx("state_dir %s is not a directory", dir);
		return -1;
	}
	if (st.st_uid != uid) {
		log_errx("state_dir %s is owned by uid %lu, not by the daemon's user (uid %lu): "
			 "refusing to start (chown it to that user)", dir,
			 (unsigned long)st.st_uid, (unsigned long)uid);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		log_errx("state_dir %s is writable by others than its owner (mode %04o): refusing to start "
			 "(chmod go-w %s)", dir, (unsigned)(st.st_mode & 07777), dir);
		return -1;
	}
	return 0;
}

static int state_path(char *out, size_t size, const char *dir, const char *name)
{
	if (strchr(name, '/') || name[0] == '.') {
		log_warnx("refusing state name \"%s\"", name);
		return -1;
	}
	if (snprintf(out, size, "%s/%s.json", dir, name) >= (int)size) {
		log_warnx("state path too long: %s/%s.json", dir, name);
		return -1;
	}
	return 0;
}

int state_save_json(const char *dir, const char *name, json_t *obj)
{
	char path[PATH_MAX];
	char *text;
	int rc;

	if (state_path(path, sizeof(path), dir, name) < 0)
		return -1;
	text = json_dumps(obj, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!text)
		return -1;
	rc = state_write_atomic(path, text, strlen(text));
	free(text);
	return rc;
}

json_t *state_load_json(const char *dir, const char *name)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *obj;
	char *text;

	if (state_path(path, sizeof(path), dir, name) < 0)
		return NULL;
	text = state_read_file(path, STATE_MAX_BYTES, NULL);
	if (!text) {
		if (errno != ENOENT)
			log_debug("no state in %s", path);
		return NULL;
	}
	obj = json_loads(text, 0, &jerr);
	free(text);
	if (!obj || !json_is_object(obj)) {
		log_warnx("%s: not valid state (%s), ignored", path, obj ? "not an object" : jerr.text);
		json_decref(obj);
		return NULL;
	}
	return obj;
}
