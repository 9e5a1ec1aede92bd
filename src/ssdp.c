/* ssdp.c - reading the few SSDP header lines we use (ssdp.h). Every byte
 * comes from the LAN: the buffer is bounded by len, never by a NUL, and
 * only the start line and two headers are looked at. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ssdp.h"

#define VALUE_MAX 32

static bool starts(const char *buf, size_t len, const char *word)
{
	size_t n = strlen(word);

	return len >= n && memcmp(buf, word, n) == 0;
}

/* The value of header name ("NAME: value"), trimmed, into out. Only
 * values shorter than VALUE_MAX count. */
static bool header(const char *buf, size_t len, const char *name, char out[VALUE_MAX])
{
	size_t n = strlen(name), i = 0;

	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t start, end;

		if (!nl)
			return false;
		start = (size_t)(nl - buf) + 1;
		for (end = start; end < len && buf[end] != '\r' && buf[end] != '\n'; end++)
			;
		i = start;
		if (end - start <= n || strncasecmp(buf + start, name, n) != 0 || buf[start + n] != ':')
			continue;
		start += n + 1;
		while (start < end && (buf[start] == ' ' || buf[start] == '\t'))
			start++;
		while (end > start && (buf[end - 1] == ' ' || buf[end - 1] == '\t'))
			end--;
		if (end - start >= VALUE_MAX)
			return false;
		memcpy(out, buf + start, end - start);
		out[end - start] = '\0';
		return true;
	}
	return false;
}

static bool number(const char *s, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0';
}

int ssdp_parse(const char *buf, size_t len, struct ssdp_msg *m)
{
	char v[VALUE_MAX];

	memset(m, 0, sizeof(*m));
	if (!buf)
		return -1;
	if (starts(buf, len, "NOTIFY ")) {
		if (!header(buf, len, "NTS", v) || strcasecmp(v, "ssdp:alive") != 0)
			return -1;
		m->kind = SSDP_ALIVE;
	} else if (starts(buf, len, "HTTP/1.1 200")) {
		m->kind = SSDP_RESPONSE;
	} else {
		return -1;
	}
	if (header(buf, len, "BOOTID.UPNP.ORG", v) && number(v, &m->bootid))
		m->has_bootid = true;
	return 0;
}
