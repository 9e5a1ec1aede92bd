/* cfgkey.c - the value of one configuration key by its declared type:
 * parse, compare, print, free (see cfgkey.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfgkey.h"
#include "homeport.h"
#include "log.h"
#include "util.h"

static const char *const type_names[] = {
	[CK_STRING] = "string", [CK_SECRET_FILE] = "secret-file", [CK_PATH] = "path",
	[CK_UINT] = "uint", [CK_DURATION] = "duration", [CK_SECONDS] = "seconds",
	[CK_BOOL] = "bool", [CK_URL] = "url", [CK_ADDRESS] = "address", [CK_ZONE] = "zone",
	[CK_DNSNAME] = "dnsname", [CK_CHOICE] = "choice", [CK_REGEX] = "regex",
	[CK_HEADER] = "header", [CK_HEADER_FILE] = "header-file",
};

const char *cfgkey_type_name(enum cfgkey_type t)
{
	return (size_t)t < HP_ARRAY_LEN(type_names) ? type_names[t] : "?";
}

bool cfgkey_is_secret_file(const struct cfgkey *k)
{
	return k->type == CK_SECRET_FILE || k->type == CK_HEADER_FILE;
}

ssize_t cfgkey_find(const struct cfgkey *keys, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static int say(char *why, size_t len, const char *fmt, ...) HP_PRINTF(3, 4);

static int say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- checks of one type each ---------------------------------------- */

/* "a.b.c.d", "a.b.c.d:port", "[v6]:port", "v6": an address, not a name,
 * since resolving would block the event loop. */
static bool valid_host_port(const char *s)
{
	char host[256];
	const char *port;
	struct in6_addr a6;
	struct in_addr a4;
	uint16_t p;

	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || (size_t)(end - s - 1) >= sizeof(host))
			return false;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return false;
		if (end[1] == '\0')
			return true;
		return end[1] == ':' && parse_port(end + 2, &p) == 0;
	}
	if (strchr(s, ':') != strrchr(s, ':'))        /* bare IPv6 */
		return inet_pton(AF_INET6, s, &a6) == 1;
	port = strchr(s, ':');
	if (port != NULL) {
		if ((size_t)(port - s) >= sizeof(host) || parse_port(port + 1, &p) < 0)
			return false;
		memcpy(host, s, (size_t)(port - s));
		host[port - s] = '\0';
	} else {
		if (strlen(s) >= sizeof(host))
			return false;
		strcpy(host, s);
	}
	return inet_pton(AF_INET, host, &a4) == 1;
}

static int check_header(const char *value, char *why, size_t len)
{
	const char *colon = strchr(value, ':');

	if (colon == NULL || colon == value)
		return say(why, len, "expected \"Name: value\"");
	for (const char *c = value; c < colon; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
			return say(why, len, "invalid header name");
	if (strpbrk(value, "\r\n"))
		return say(why, len, "contains a line break");
	return 0;
}

void cfgkey_header_lines_free(char **lines)
{
	for (size_t i = 0; lines && lines[i]; i++)
		free_secret(lines[i]);
	free(lines);
}

char **cfgkey_header_lines(const char *text, size_t *n, char *why, size_t len)
{
	char **lines = xcalloc(1, sizeof(*lines)), reason[80];
	const char *p = text;
	int lineno = 0;

	*n = 0;
	while (*p) {
		size_t l = strcspn(p, "\n"), skip = l + (p[l] == '\n');
		char *line = xcalloc(l + 1, 1), *s = line, *e;

		memcpy(line, p, l);
		p += skip;
		lineno++;
		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*s == '#')
			*s = '\0';              /* a comment line */
		if (*s && check_header(s, reason, sizeof(reason)) < 0) {
			snprintf(why, len, "line %d: %s", lineno, reason);
			free_secret(line);
			cfgkey_header_lines_free(lines);
			return NULL;
		}
		if (*s) {
			lines = xrealloc(lines, *n + 2, sizeof(*lines));
			lines[(*n)++] = xstrdup(s);
			lines[*n] = NULL;
		}
		explicit_bzero(line, l + 1);
		free(line);
	}
	return lines;
}

/* glibc's regcomp copies a subexpression once per count of an interval
 * "{n,m}" and once more for "+" (x+ is xx*), so nesting multiplies:
 * "((a{99}){99}){99}" or "a++++++++++++++++++++++" take gigabytes. Bound the
 * product of every interval's largest count and of 2 per "+", as if all
 * were nested. */
#define MAX_REGEX_REPEAT 4096

static unsigned long regex_repeat_product(const char *re)
{
	unsigned long product = 1;

	for (const char *c = re; *c; c++) {
		unsigned long n = 0, m;
		if (*c == '\\' && c[1]) {
			c++;                      /* an escaped character is literal */
			continue;
		}
		if (*c == '+' && product <= MAX_REGEX_REPEAT)
			product *= 2;
		if (*c != '{' || !isdigit((unsigned char)c[1]))
			continue;
		for (c++; isdigit((unsigned char)*c) && n <= MAX_REGEX_REPEAT; c++)
			n = n * 10 + (unsigned long)(*c - '0');
		m = n;
		if (*c == ',' && isdigit((unsigned char)c[1]))
			for (m = 0, c++; isdigit((unsigned char)*c) && m <= MAX_REGEX_REPEAT; c++)
				m = m * 10 + (unsigned long)(*c - '0');
		if (m > 1)
			product = product > MAX_REGEX_REPEAT ? product : product * (m < n ? n : m);
		if (*c == '\0')
			break;
	}
	return product;
}

/* The end of the bracket expression opened at re ('['): its ']', or the
 * string's end. Inside, "]" first and [:class:] [.coll.] [=equiv=] are literal. */
static const char *bracket_end(const char *re)
{
	const char *c = re + 1;

	if (*c == '^')
		c++;
	if (*c == ']')
		c++;
	for (; *c && *c != ']'; c++)
		if (c[0] == '[' && (c[1] == ':' || c[1] == '.' || c[1] == '=')) {
			const char *close = strchr(c + 2, c[1]);
			while (close && close[1] != ']')
				close = strchr(close + 1, c[1]);
			if (!close)
				return c + strlen(c);
			c = close + 1;
		}
	return c;
}

/* "a**", "a+?", "a{2}*": a repetition of a repetition, undefined in POSIX
 * extended regexes. glibc compiles a run of them with one level of
 * recursion per operator and time that grows with each: a line of 30 stars
 * takes minutes (found by fuzz_config). */
static bool regex_stacks_repeats(const char *re)
{
	bool after_repeat = false;

	for (const char *c = re; *c; c++) {
		bool interval = *c == '{' && isdigit((unsigned char)c[1]);
		bool repeat = interval || *c == '*' || *c == '+' || *c == '?';

		if (*c == '\\' && c[1]) {
			c++;
		} else if (*c == '[') {
			c = bracket_end(c);
			if (!*c)
				break;
		} else if (repeat && after_repeat) {
			return true;
		} else if (interval) {
			c = strchr(c, '}');
			if (!c)
				break;
		}
		after_repeat = repeat;
	}
	return false;
}

static int check_regex(const char *value, char *why, size_t len)
{
	regex_t re;
	int rc;

	if (regex_repeat_product(value) > MAX_REGEX_REPEAT)
		return say(why, len, "repetition counts too large (their product must be at most %d)",
			   MAX_REGEX_REPEAT);
	if (regex_stacks_repeats(value))
		return say(why, len, "a repetition of a repetition (such as \"**\" or \"+?\"): "
			   "write one");
	rc = regcomp(&re, value, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		regerror(rc, &re, why, len);
		return -1;
	}
	regfree(&re);
	return 0;
}

/* "is not GET, POST, PUT or PATCH" */
static int not_a_choice(const struct cfgkey *k, const char *text, char *why, size_t len)
{
	size_t off = (size_t)snprintf(why, len, "\"%s\" is not ", text);

	for (size_t i = 0; k->choices[i] && off < len; i++)
		off += (size_t)snprintf(why + off, len - off, "%s%s",
					i == 0 ? "" : k->choices[i + 1] ? ", " : " or ",
					k->choices[i]);
	return -1;
}

static void duration_text(uint32_t v, char *buf, size_t len)
{
	if (v != 0 && v % 86400 == 0)
		snprintf(buf, len, "%ud", v / 86400);
	else if (v != 0 && v % 3600 == 0)
		snprintf(buf, len, "%uh", v / 3600);
	else if (v != 0 && v % 60 == 0)
		snprintf(buf, len, "%um", v / 60);
	else
		snprintf(buf, len, "%u", v);
}

static int parse_number(const struct cfgkey *k, const char *text, uint32_t *out,
			char *why, size_t len)
{
	char lo[16], hi[16];
	char *end;
	unsigned long v;

	if (k->type == CK_UINT) {
		errno = 0;
		v = isdigit((unsigned char)*text) ? strtoul(text, &end, 10) : 0;
		if (!isdigit((unsigned char)*text) || errno || *end || v > UINT32_MAX)
			return say(why, len, "invalid number \"%s\"", text);
		*out = (uint32_t)v;
	} else if (parse_duration(text, out) < 0) {
		return say(why, len, "invalid duration \"%s\" (a number with optional s, m, h or d)", text);
	}
	if ((k->min == 0 && k->max == 0) || (*out >= k->min && *out <= k->max))
		return 0;
	if (k->min == 0)
		return say(why, len, "too large");
	if (k->type == CK_UINT)
		return say(why, len, "must be between %u and %u", k->min, k->max);
	duration_text(k->min, lo, sizeof(lo));
	duration_text(k->max, hi, sizeof(hi));
	/* "1s", not "1": a bare number would read as a count */
	return say(why, len, "must be between %s%s and %s%s", lo,
		   isdigit((unsigned char)lo[strlen(lo) - 1]) ? "s" : "",
		   hi, isdigit((unsigned char)hi[strlen(hi) - 1]) ? "s" : "");
}

/* Text types: check, then the string to keep (NULL: not set). */
static int parse_text(const struct cfgkey *k, const char *text, char **out, char *why, size_t len)
{
	bool is_http;
	size_t n;

	*out = NULL;
	switch (k->type) {
	case CK_ZONE:
		*out = xstrdup(text);
		n = strlen(*out);
		if (n > 1 && (*out)[n - 1] == '.')
			(*out)[n - 1] = '\0';
		if (dns_name_valid(*out))
			return 0;
		free(*out);
		*out = NULL;
		return say(why, len, "\"%s\" is not a valid DNS zone name", text);
	case CK_DNSNAME:
		if (!dns_name_valid(text))
			return say(why, len, "\"%s\" is not a valid %s", text, k->what ? k->what : "DNS name");
		break;
	case CK_CHOICE:
		for (size_t i = 0; k->choices[i]; i++) {
			if (strcasecmp(text, k->choices[i]) == 0) {
				*out = xstrdup(k->choices[i]);
				return 0;
			}
		}
		return not_a_choice(k, text, why, len);
	case CK_HEADER:
		if (check_header(text, why, len) < 0)
			return -1;
		break;
	case CK_URL:
		if (*text && !url_valid(text, &is_http))
			return say(why, len, "\"%s\" is not an https:// URL", text);
		break;
	case CK_ADDRESS:
		if (*text && !valid_host_port(text))
			return say(why, len, "\"%s\" is not ADDRESS[:PORT] with an IP address "
				   "(names are not resolved)", text);
		break;
	case CK_REGEX:
		if (check_regex(text, why, len) < 0)
			return -1;
		break;
	default:
		break;
	}
	*out = *text ? xstrdup(text) : NULL;
	return 0;
}

static bool is_text(enum cfgkey_type t)
{
	return t != CK_UINT && t != CK_DURATION && t != CK_SECONDS && t != CK_BOOL;
}

int cfgkey_parse(const struct cfgkey *k, const char *text, struct cfg_value *v,
		 char *why, size_t len)
{
	char *s;
	bool b;

	if (k->type == CK_BOOL) {
		if (parse_bool(text, &b) < 0)
			return say(why, len, "invalid boolean \"%s\" (yes/no, true/false, on/off, 1/0)", text);
		v->num = b;
		return 0;
	}
	if (!is_text(k->type))
		return parse_number(k, text, &v->num, why, len);
	if (parse_text(k, text, &s, why, len) < 0)
		return -1;
	if (k->flags & CK_REPEAT) {
		if (s != NULL) {
			v->list = xrealloc(v->list, v->n_list + 1, sizeof(*v->list));
			v->list[v->n_list++] = s;
		}
		return 0;
	}
	free(v->str);
	v->str = s;
	return 0;
}

void cfgkey_defaults(const struct cfgkey *keys, size_t n, struct cfg_value *vals)
{
	char why[160];

	for (size_t i = 0; i < n; i++) {
		memset(&vals[i], 0, sizeof(vals[i]));
		if (keys[i].def && cfgkey_parse(&keys[i], keys[i].def, &vals[i], why, sizeof(why)) < 0)
			abort();        /* a table whose default it refuses: our bug */
	}
}

bool cfgkey_present(const struct cfgkey *k, const struct cfg_value *v)
{
	if (k->flags & CK_REPEAT)
		return v->n_list > 0;
	return is_text(k->type) ? v->str != NULL : v->set;
}

void cfgkey_free(const struct cfgkey *k, struct cfg_value *v)
{
	free(v->str);
	free_secret(v->secret);
	for (size_t i = 0; i < v->n_list; i++)
		free(v->list[i]);
	free(v->list);
	memset(v, 0, sizeof(*v));
}

static bool str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

bool cfgkey_equal(const struct cfgkey *k, const struct cfg_value *a, const struct cfg_value *b)
{
	if (k->flags & CK_REPEAT) {
		if (a->n_list != b->n_list)
			return false;
		for (size_t i = 0; i < a->n_list; i++)
			if (strcmp(a->list[i], b->list[i]) != 0)
				return false;
		return true;
	}
	if (cfgkey_is_secret_file(k))
		return str_eq(a->secret, b->secret);
	return is_text(k->type) ? str_eq(a->str, b->str) : a->num == b->num;
}

/* ---- -nv ------------------------------------------------------------- */

void cfgkey_print(FILE *out, const char *key, const char *value)
{
	if (value != NULL)
		fprintf(out, "%-15s = %s\n", key, value);
}

void cfgkey_print_duration(FILE *out, const char *key, uint32_t seconds)
{
	char text[16];

	duration_text(seconds, text, sizeof(text));
	cfgkey_print(out, key, text);
}

/* A header's value and a URL's user info and query may carry credentials
 * ("X-Api-Key: ...", "?token=..."), so -nv shows neither. */
static void print_redacted(FILE *out, const struct cfgkey *k, const char *value)
{
	const char *colon = strchr(value, ':'), *rest = strstr(value, "://"), *at, *query;

	if (k->type == CK_HEADER && colon) {
		fprintf(out, "%-15s = %.*s: <redacted>\n", k->name, (int)(colon - value), value);
		return;
	}
	if (k->type != CK_URL || rest == NULL) {
		cfgkey_print(out, k->name, value);
		return;
	}
	rest += 3;                                      /* scheme://[user@]host/path?query */
	at = memrchr(rest, '@', strcspn(rest, "/?#"));
	query = strchr(rest, '?');
	fprintf(out, "%-15s = %.*s", k->name, (int)(rest - value), value);
	if (at) {
		fputs("<redacted>@", out);
		rest = at + 1;
	}
	fprintf(out, "%.*s%s\n", (int)(query ? (size_t)(query - rest) : strlen(rest)), rest,
		query ? "?<redacted>" : "");
}

void cfgkey_dump(const struct cfgkey *k, const struct cfg_value *v, const char *preset_url,
		 FILE *out)
{
	char num[16];

	switch (k->type) {
	case CK_BOOL:
		cfgkey_print(out, k->name, v->num ? "yes" : "no");
		return;
	case CK_DURATION:
		cfgkey_print_duration(out, k->name, v->num);
		return;
	case CK_UINT:
	case CK_SECONDS:
		snprintf(num, sizeof(num), "%u", v->num);
		cfgkey_print(out, k->name, num);
		return;
	case CK_SECRET_FILE:
	case CK_HEADER_FILE:
		if (v->str)
			fprintf(out, "%-15s = %s ; %s\n", k->name, v->str,
				v->secret ? "<redacted>" : "not loaded");
		return;
	default:
		break;
	}
	for (size_t i = 0; i < v->n_list; i++)
		print_redacted(out, k, v->list[i]);
	if (v->str)
		print_redacted(out, k, v->str);
	else if ((k->flags & CK_PRESET) && preset_url)
		fprintf(out, "%-15s = %s ; preset\n", k->name, preset_url);
}
