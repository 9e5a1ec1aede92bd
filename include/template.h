/* template.h - "%name%" templates (hook URLs, bodies and headers), each
 * value encoded for where it stands. */
#ifndef HP_TEMPLATE_H
#define HP_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

enum tmpl_enc {
	TMPL_RAW,      /* as it is */
	TMPL_URL,      /* percent-encoded, RFC 3986 unreserved kept (URLs, form bodies) */
	TMPL_JSON,     /* escaped for the inside of a JSON string */
	TMPL_HEADER,   /* as it is, line breaks and control characters made spaces */
};

/* The value of variable name (len bytes), or NULL when there is none
 * (then "%name%" stays as written). buf may hold the value. */
typedef const char *(*tmpl_lookup_fn)(void *arg, const char *name, size_t len,
				      char *buf, size_t buflen);

/* tmpl with every known %name% replaced; malloc'd. */
char *tmpl_expand(const char *tmpl, enum tmpl_enc enc, tmpl_lookup_fn lookup, void *arg);

/* Config check: the first "%word%" in tmpl that reads like a variable
 * (two or more letters and '_', not just hex digits: "%ab%" may be a
 * percent-encoding) but that known() does not know, into bad ("%word%").
 * False when there is none. */
bool tmpl_find_unknown(const char *tmpl, bool (*known)(const char *name, size_t len),
		       char *bad, size_t badlen);

#endif
