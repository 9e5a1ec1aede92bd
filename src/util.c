/* util.c - small parsers and helpers shared by several modules. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

int parse_duration(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v, mult = 1;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		switch (*end) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		default: return -1;
		}
		if (end[1] != '\0')
			return -1;
	}
	if (v > UINT32_MAX / mult)
		return -1;
	*out = (uint32_t)(v * mult);
	return 0;
}

int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	if (s == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int parse_port(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* LDH labels of at most 63, 253 in all, an optional leading "*." (wildcard
 * records) and an optional trailing dot. */
bool dns_name_valid(const char *s)
{
	size_t len = strlen(s), label = 0;
	char prev = '.';

	if (len == 0 || len > 253)
		return false;
	if (s[0] == '*' && s[1] == '.')
		s += 2;
	if (*s == '\0' || *s == '.')
		return false;
	for (const char *c = s; *c; prev = *c++) {
		if (*c == '.') {
			if (prev == '.' || prev == '-')
				return false;      /* empty label, or one ending in '-' */
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
			return false;
		if (*c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return prev != '-';
}

bool url_valid(const char *s, bool *is_http)
{
	const char *rest;

	if (strncasecmp(s, "https://", 8) == 0) {
		*is_http = false;
		rest = s + 8;
	} else if (strncasecmp(s, "http://", 7) == 0) {
		*is_http = true;
		rest = s + 7;
	} else {
		return false;
	}
	if (*rest == '\0' || *rest == '/')
		return false;
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
			return false;
	return true;
}

bool ipv4_is_public(struct in_addr a)
{
	static const struct { uint32_t net; int bits; } private_nets[] = {
		{ 0x00000000, 8 },   /* 0.0.0.0/8 */
		{ 0x0a000000, 8 },   /* 10.0.0.0/8 */
		{ 0x64400000, 10 },  /* 100.64.0.0/10, CGNAT */
		{ 0x7f000000, 8 },   /* 127.0.0.0/8 */
		{ 0xa9fe0000, 16 },  /* 169.254.0.0/16 */
		{ 0xac100000, 12 },  /* 172.16.0.0/12 */
		{ 0xc0a80000, 16 },  /* 192.168.0.0/16 */
		{ 0xe0000000, 4 },   /* 224.0.0.0/4, multicast */
		{ 0xf0000000, 4 },   /* 240.0.0.0/4, reserved and broadcast */
	};
	uint32_t h = ntohl(a.s_addr);

	for (size_t i = 0; i < sizeof(private_nets) / sizeof(private_nets[0]); i++) {
		uint32_t mask = 0xffffffffu << (32 - private_nets[i].bits);
		if ((h & mask) == private_nets[i].net)
			return false;
	}
	return true;
}

bool ipv4_str_is_public(const char *s)
{
	struct in_addr a;

	if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
		return false;
	return ipv4_is_public(a);
}

/* The first bits bits of a and net agree. */
static bool in6_prefix_eq(const struct in6_addr *a, const uint8_t net[16], int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(a->s6_addr, net, (size_t)full) != 0)
		return false;
	return rest == 0 ||
	       ((a->s6_addr[full] ^ net[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool ipv6_is_public(const struct in6_addr *a)
{
	static const struct { uint8_t net[16]; int bits; } private_nets[] = {
		{ { 0 }, 128 },                                     /* ::/128 */
		{ { [15] = 1 }, 128 },                              /* ::1/128 */
		{ { [10] = 0xff, [11] = 0xff }, 96 },               /* ::ffff:0:0/96, IPv4-mapped */
		{ { 0x00, 0x64, 0xff, 0x9b }, 96 },                 /* 64:ff9b::/96, NAT64 */
		{ { 0x01, 0x00 }, 64 },                             /* 100::/64, discard */
		{ { 0xfc }, 7 },                                    /* fc00::/7, unique local */
		{ { 0xfe, 0x80 }, 10 },                             /* fe80::/10, link-local */
		{ { 0xfe, 0xc0 }, 10 },                             /* fec0::/10, site-local */
		{ { 0xff }, 8 },                                    /* ff00::/8, multicast */
	};

	for (size_t i = 0; i < sizeof(private_nets) / sizeof(private_nets[0]); i++)
		if (in6_prefix_eq(a, private_nets[i].net, private_nets[i].bits))
			return false;
	return true;
}

bool ipv6_str_is_public(const char *s)
{
	struct in6_addr a;

	if (s == NULL || inet_pton(AF_INET6, s, &a) != 1)
		return false;
	return ipv6_is_public(&a);
}

void ipv4_blocked_sentence(char *buf, size_t size, const char *ip4, const char *ip6)
{
	struct in_addr a;
	bool cgnat = ip4 && inet_pton(AF_INET, ip4, &a) == 1 &&
		     (ntohl(a.s_addr) & 0xffc00000u) == 0x64400000u;   /* 100.64.0.0/10 */

	snprintf(buf, size, "IPv4 %s is %s: no A record; reachable over IPv6 at %s", ip4,
		 cgnat ? "carrier-grade NAT" : "not public (double NAT)", ip6);
}

static void oom(void)
{
	/* Out of memory in a small daemon is not recoverable in any useful way. */
	fputs("homeportd: out of memory\n", stderr);
	abort();
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n ? n : 1, size ? size : 1);
	if (q == NULL)
		oom();
	return q;
}

void free_secret(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void str_copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

json_t *json_string_or_null(const char *s)
{
	json_t *j;
	char *copy;

	if (!s || !*s)
		return json_null();
	j = json_string(s);
	if (!j) {                /* not UTF-8 (jansson refuses it): as sanitized */
		copy = xstrdup(s);
		j = json_string(str_sanitize(copy));
		free(copy);
	}
	return j ? j : json_null();
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned c = p[0], n, min;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	for (unsigned i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

char *str_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (p && *p) {
		size_t n = utf8_len(p);

		if (n == 0 || *p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] < 0xa0)) {
			*p++ = '?';      /* one byte at a time: never eats the NUL */
			continue;
		}
		p += n;
	}
	return s;
}
