/* template.c - "%name%" templates, each value encoded for where it stands.
 *
 * A variable is '%', one to 32 of a-z, A-Z, 0-9 and '_', '%' (the names
 * are lower case: "%IP%" is left, and reported at config check). Anything else,
 * and a variable the lookup does not know, stays as written: a URL's own
 * percent-encodings ("%20") pass through untouched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "template.h"
#include "util.h"

#define NAME_MAX_LEN 32

struct buf {
	char *s;
	size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 128;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->s = xrealloc(b->s, cap, 1);
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void put_json(struct buf *b, const char *v)
{
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(b, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(b, esc, 6);
		} else {
			put(b, v, 1);
		}
	}
}

static void put_value(struct buf *b, const char *v, enum tmpl_enc enc)
{
	char *e;

	switch (enc) {
	case TMPL_URL:
		e = http_escape(v);
		put(b, e, strlen(e));
		free(e);
		break;
	case TMPL_JSON:
		put_json(b, v);
		break;
	case TMPL_HEADER:
		for (; *v; v++)
			put(b, (unsigned char)*v < 0x20 || *v == 0x7f ? " " : v, 1);
		break;
	case TMPL_RAW:
		put(b, v, strlen(v));
		break;
	}
}

/* Length of the variable name after the '%' at p (its closing '%' follows),
 * 0 when p does not start one. */
static size_t var_len(const char *p)
{
	size_t n = 0;

	while (n <= NAME_MAX_LEN && ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
				     (p[n] >= '0' && p[n] <= '9') || p[n] == '_'))
		n++;
	return n >= 1 && n <= NAME_MAX_LEN && p[n] == '%' ? n : 0;
}

char *tmpl_expand(const char *tmpl, enum tmpl_enc enc, tmpl_lookup_fn lookup, void *arg)
{
	struct buf b = { 0 };

	put(&b, "", 0);
	for (const char *p = tmpl; *p;) {
		size_t n = *p == '%' ? var_len(p + 1) : 0;
		char vbuf[64];
		const char *v = n ? lookup(arg, p + 1, n, vbuf, sizeof(vbuf)) : NULL;

		if (v) {
			put_value(&b, v, enc);
			p += n + 2;
		} else {
			put(&b, p, 1);
			p++;
		}
	}
	return b.s;
}

static bool reads_like_name(const char *name, size_t len)
{
	bool non_hex = false;

	if (len < 2)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i];
		if (!(c >= 'a' && c <= 'z') && c != '_')
			return false;
		if (c > 'f' || c == '_')
			non_hex = true;
	}
	return non_hex;
}

bool tmpl_find_unknown(const char *tmpl, bool (*known)(const char *name, size_t len),
		       char *bad, size_t badlen)
{
	for (const char *p = tmpl; *p; p++) {
		size_t n = *p == '%' ? var_len(p + 1) : 0;

		if (!n)
			continue;
		if (known(p + 1, n)) {
			p += n + 1;     /* past its closing '%', as tmpl_expand goes on */
			continue;
		}
		if (reads_like_name(p + 1, n)) {
			snprintf(bad, badlen, "%%%.*s%%", (int)n, p + 1);
			return true;
		}
	}
	return false;
}
