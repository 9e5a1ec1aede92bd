/* url.c - url_split (url.h) on uriparser. */
#include <stdio.h>
#include <string.h>
#include <uriparser/Uri.h>

#include "url.h"

/* Copy a range; false when it does not fit. */
static bool range_copy(char *dst, size_t size, const UriTextRangeA *r, const char *pre,
		       const char *post)
{
	int len = r->first ? (int)(r->afterLast - r->first) : 0;
	int n = snprintf(dst, size, "%s%.*s%s", pre, len, r->first ? r->first : "", post);

	return n >= 0 && (size_t)n < size;
}

static bool path_copy(char *dst, size_t size, const UriPathSegmentA *seg)
{
	size_t used = 0;

	dst[0] = '\0';
	for (; seg; seg = seg->next) {
		if (!range_copy(dst + used, size - used, &seg->text, "/", ""))
			return false;
		used += strlen(dst + used);
	}
	return true;
}

int url_split(const char *url, struct url_parts *u)
{
	UriUriA uri;
	const char *err = NULL;
	bool ip6, ok;

	memset(u, 0, sizeof(*u));
	if (uriParseSingleUriA(&uri, url, &err) != URI_SUCCESS)
		return -1;
	ip6 = uri.hostData.ip6 || uri.hostData.ipFuture.first;
	ok = uri.scheme.first && uri.scheme.afterLast > uri.scheme.first &&
	     uri.hostText.first && uri.hostText.afterLast > uri.hostText.first &&
	     range_copy(u->scheme, sizeof(u->scheme), &uri.scheme, "", "") &&
	     range_copy(u->host, sizeof(u->host), &uri.hostText, ip6 ? "[" : "", ip6 ? "]" : "") &&
	     range_copy(u->port, sizeof(u->port), &uri.portText, "", "") &&
	     path_copy(u->path, sizeof(u->path), uri.pathHead);
	u->has_query = uri.query.first != NULL;
	u->has_user = uri.userInfo.first != NULL;
	uriFreeUriMembersA(&uri);
	return ok ? 0 : -1;
}
