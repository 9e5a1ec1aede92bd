/* secret.c - reading secret files (see secret.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "homeport.h"
#include "log.h"
#include "secret.h"
#include "util.h"

char *secret_path(const char *path, const char *base_dir)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	char *full;

	if (path[0] == '/')
		return xstrdup(path);
	if (creds != NULL && *creds != '\0')
		base_dir = creds;
	if (asprintf(&full, "%s/%s", base_dir, path) < 0)
		abort();
	return full;
}

static char *fail(char *why, size_t len, const char *fmt, ...) HP_PRINTF(3, 4);

static char *fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return NULL;
}

/* The file's type, mode and size allow it to hold a secret. fstat() on the
 * descriptor: what is checked is what is read. */
static char *check_file(int fd, const char *path, struct stat *st, char *why, size_t len)
{
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode))
		return fail(why, len, "%s is not a regular file", path);
	if (st->st_mode & S_IRWXO)
		return fail(why, len, "%s is accessible by others (mode %04o): run chmod o-rwx on it",
			    path, (unsigned)(st->st_mode & 07777));
	if (st->st_size > SECRET_MAX)
		return fail(why, len, "%s is larger than %d bytes", path, SECRET_MAX);
	return (char *)path;
}

/* Up to cap bytes of fd into buf; -1 on a read error. */
static ssize_t read_all(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got < cap) {
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* buf[0..n) without the white space around it, in a buffer of its own;
 * buf is wiped. NULL when nothing is left. */
static char *trimmed(char *buf, size_t n)
{
	char *start = buf, *end = buf + n, *out = NULL;

	while (start < end && isspace((unsigned char)*start))
		start++;
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	if (end > start && memchr(start, '\0', (size_t)(end - start)) == NULL) {
		out = xcalloc(1, (size_t)(end - start) + 1);
		memcpy(out, start, (size_t)(end - start));
	}
	explicit_bzero(buf, n);
	return out;
}

char *secret_load(const char *path, char *why, size_t len)
{
	struct stat st;
	char *buf = NULL, *secret = NULL;
	ssize_t n;
	int fd;

	/* O_NONBLOCK: a FIFO without a writer (or a device) must not hang the
	 * daemon in open(); it is refused below as not a regular file. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fail(why, len, "cannot open %s: %s", path, strerror(errno));
	if (check_file(fd, path, &st, why, len) == NULL)
		goto out;
	buf = xcalloc(1, (size_t)st.st_size + 1);
	n = read_all(fd, buf, (size_t)st.st_size);
	if (n < 0) {
		fail(why, len, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	secret = trimmed(buf, (size_t)n);
	if (secret == NULL)
		fail(why, len, "%s is empty", path);
out:
	if (buf) {
		explicit_bzero(buf, (size_t)st.st_size + 1);
		free(buf);
	}
	close(fd);
	return secret;
}
