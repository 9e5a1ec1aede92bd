/* util.h - small parsers and helpers shared by several modules. */
#ifndef HP_UTIL_H
#define HP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <jansson.h>

/* "90", "90s", "5m", "2h", "30d" -> seconds. -1 on error (also overflow past UINT32_MAX). */
int parse_duration(const char *s, uint32_t *out);
/* yes/no/true/false/on/off/1/0, case-insensitive. -1 on error. */
int parse_bool(const char *s, bool *out);
/* 1..65535. -1 on error. */
int parse_port(const char *s, uint16_t *out);
/* A DNS name as users write it (host names, zones): LDH labels, optional
 * leading "*." and trailing dot. */
bool dns_name_valid(const char *s);
/* An http:// or https:// URL with a host and no white space or control
 * characters; *is_http tells which. */
bool url_valid(const char *s, bool *is_http);

/* SPEC "Status": false for 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12,
 * 192.168/16, 224/4 and 240/4. */
bool ipv4_is_public(struct in_addr a);
bool ipv4_str_is_public(const char *s);  /* false if not a valid dotted quad */
/* SPEC "Status": false for ::/128, ::1, ::ffff:0:0/96, 64:ff9b::/96, 100::/64,
 * fc00::/7, fe80::/10, fec0::/10, ff00::/8 (2001:db8::/32 counts as public). */
bool ipv6_is_public(const struct in6_addr *a);
bool ipv6_str_is_public(const char *s);  /* false if not a valid IPv6 address */
/* SPEC "IPv6": the one sentence for a non-public IPv4 beside a public IPv6
 * ("IPv4 100.64.3.7 is carrier-grade NAT: no A record; reachable over IPv6
 * at 2001:db8::10"). */
void ipv4_blocked_sentence(char *buf, size_t size, const char *ip4, const char *ip6);

/* strdup that aborts on allocation failure (our own bug class, like xmalloc). */
char *xstrdup(const char *s);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n, size_t size);

/* Make a string from the network fit for logs and status, in place:
 * control characters (C0, DEL, C1) and bytes that are not valid UTF-8
 * become '?'. Returns s. */
char *str_sanitize(char *s);

/* Copy src (NULL: "") into dst of size bytes, cut to fit, always terminated. */
void str_copy(char *dst, size_t size, const char *src);

/* A JSON string, or null for NULL and "". */
json_t *json_string_or_null(const char *s);

/* Overwrite then free a secret. */
void free_secret(char *s);

#endif
