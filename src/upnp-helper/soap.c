/* soap.c - is a reply a complete SOAP envelope holding the response to
 * our action (upnp_soap.h)? Every byte is the router's: the buffer is
 * bounded by size, never by a NUL. */
#include <stdio.h>
#include <string.h>

#include "upnp_soap.h"

/* The local name of the next start tag at or after *pos ("" at the end),
 * skipping end tags, comments, declarations and processing instructions.
 * Bounded by size: the buffer is the router's, not a C string. */
static size_t next_start_tag(const char *buf, size_t size, size_t *pos, const char **name)
{
	size_t i = *pos;

	*name = "";
	while (i < size) {
		size_t start, colon, n;

		if (buf[i] != '<') {
			i++;
			continue;
		}
		i++;
		if (i >= size)
			break;
		if (buf[i] == '/' || buf[i] == '?' || buf[i] == '!') {
			/* End tag, <?...?>, <!-- --> or <!DOCTYPE>: not a start tag.
			 * A '>' inside a comment only makes us stop early. */
			while (i < size && buf[i] != '>')
				i++;
			continue;
		}
		start = colon = i;
		while (i < size && buf[i] != '>' && buf[i] != '/' && buf[i] != ' ' &&
		       buf[i] != '\t' && buf[i] != '\r' && buf[i] != '\n') {
			if (buf[i] == ':')
				colon = i + 1;
			i++;
		}
		if (i >= size)
			break;
		n = i - colon;
		if (i == start || n == 0)
			continue;
		*name = buf + colon;
		*pos = i;
		return n;
	}
	*pos = size;
	return 0;
}

static bool tag_is(const char *name, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(name, want, n) == 0;
}

/* Is the reply a SOAP envelope whose body holds <ACTION>Response? The
 * first three start tags must be Envelope, Body and that element (any
 * namespace prefix), and the envelope must be closed (no cut-off reply). */
bool soap_response_ok(const char *buf, size_t size, const char *action)
{
	char want[64];
	const char *name;
	size_t pos = 0, n;

	snprintf(want, sizeof(want), "%sResponse", action);
	n = next_start_tag(buf, size, &pos, &name);
	if (!tag_is(name, n, "Envelope"))
		return false;
	n = next_start_tag(buf, size, &pos, &name);
	if (!tag_is(name, n, "Body"))
		return false;
	n = next_start_tag(buf, size, &pos, &name);
	if (!tag_is(name, n, want))
		return false;
	/* An end tag </Envelope> or </prefix:Envelope> after it. */
	for (size_t i = pos; i + 1 < size; i++) {
		size_t j, local;

		if (buf[i] != '<' || buf[i + 1] != '/')
			continue;
		for (j = local = i + 2; j < size && buf[j] != '>'; j++)
			if (buf[j] == ':')
				local = j + 1;
		if (j < size && tag_is(buf + local, j - local, "Envelope"))
			return true;
	}
	return false;
}
