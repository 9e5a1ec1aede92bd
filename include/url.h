/* url.h - the parts of an absolute URL, by uriparser (RFC 3986): what the
 * daemon needs of a URL for messages and for the cloud DNS signatures,
 * without loading libcurl (that lives in the HTTP helper). */
#ifndef HP_URL_H
#define HP_URL_H

#include <stdbool.h>

struct url_parts {
	char scheme[16];
	char host[256];              /* an IPv6 literal keeps its brackets */
	char port[8];                /* "" when the URL names none */
	char path[512];              /* "" when the URL has none */
	bool has_query, has_user;
};

/* 0, or -1 when url is not an absolute URL with a host whose parts fit. */
int url_split(const char *url, struct url_parts *u);

#endif
