/* ipweb_policy.c - reading web IP sources' replies, pacing and agreement.
 * Pure functions; see ipweb_policy.h. */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "http.h"
#include "ipweb_policy.h"
#include "util.h"

#define CHECKIP_TAG "Current IP Address:"

/* ---- replies ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exactly s[0..len) as a dotted quad: 1-3 digits per part, no leading
 * zero, each at most 255. */
static bool parse_quad(const char *s, size_t len, struct in_addr *out)
{
	uint32_t v = 0;
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned n = 0;
		size_t start = i;
		if (part > 0) {
			if (i >= len || s[i] != '.')
				return false;
			start = ++i;
		}
		while (i < len && is_digit(s[i]) && i - start < 3)
			n = n * 10 + (unsigned)(s[i++] - '0');
		if (i == start || n > 255 || (i - start > 1 && s[start] == '0'))
			return false;
		v = v << 8 | n;
	}
	if (i != len)
		return false;
	out->s_addr = htonl(v);
	return true;
}

/* The length of the address-looking run at s: digits and dots. */
static size_t quad_span(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && (is_digit(s[n]) || s[n] == '.'))
		n++;
	return n;
}

static const char *find(const char *hay, size_t len, const char *needle)
{
	return memmem(hay, len, needle, strlen(needle));
}

/* The checkip page: "Current IP Address: ADDR" exactly once. */
static bool parse_checkip(const char *body, size_t len, struct in_addr *out)
{
	const char *tag = find(body, len, CHECKIP_TAG), *p, *end = body + len;
	size_t n;

	if (!tag)
		return false;
	p = tag + strlen(CHECKIP_TAG);
	if (find(p, (size_t)(end - p), CHECKIP_TAG))
		return false;
	while (p < end && *p == ' ')
		p++;
	n = quad_span(p, (size_t)(end - p));
	if (p + n < end && p[n] != '<' && !is_space(p[n]))
		return false;          /* "1.2.3.4x": not an address we know */
	return parse_quad(p, n, out);
}

static bool parse_plain(const char *body, size_t len, struct in_addr *out)
{
	while (len > 0 && is_space(body[0])) {
		body++;
		len--;
	}
	while (len > 0 && is_space(body[len - 1]))
		len--;
	return parse_quad(body, len, out);
}

enum ipweb_reply ipweb_policy_parse(const char *body, size_t len, struct in_addr *out,
				    char *why, size_t whylen)
{
	char shown[48], addr[INET_ADDRSTRLEN];

	if (whylen)
		why[0] = '\0';
	if (len == 0) {
		snprintf(why, whylen, "empty reply");
		return IPWEB_REPLY_GARBAGE;
	}
	if (len > IPWEB_BODY_MAX || memchr(body, '\0', len) ||
	    !(parse_plain(body, len, out) || parse_checkip(body, len, out))) {
		http_clean_text(shown, sizeof(shown), body, len);
		snprintf(why, whylen, "not an IPv4 address: \"%s%s\"", shown,
			 len >= sizeof(shown) ? "..." : "");
		return IPWEB_REPLY_GARBAGE;
	}
	if (!ipv4_is_public(*out)) {
		inet_ntop(AF_INET, out, addr, sizeof(addr));
		snprintf(why, whylen, "answered %s, which is not a public address", addr);
		return IPWEB_REPLY_NOT_PUBLIC;
	}
	return IPWEB_REPLY_OK;
}

/* ---- pacing ---- */

uint32_t ipweb_policy_interval(uint32_t check_interval)
{
	return check_interval < IPWEB_MIN_INTERVAL ? IPWEB_MIN_INTERVAL : check_interval;
}

int64_t ipweb_policy_wait(const struct ipweb_pace *p, int64_t now, int64_t interval_ms,
			  bool refresh)
{
	int64_t gap = refresh ? (int64_t)IPWEB_REFRESH_GAP * 1000 : interval_ms;
	int64_t due = p->last_asked < 0 ? now : p->last_asked + gap;

	if (p->hold_until > due)
		due = p->hold_until;
	return due > now ? due - now : 0;
}

ssize_t ipweb_policy_pick(const struct ipweb_pace *p, const bool *asked, size_t n,
			  size_t cursor, int64_t now, int64_t interval_ms, bool refresh,
			  int64_t *wait_ms)
{
	ssize_t best = -1;
	int64_t best_wait = 0;

	for (size_t k = 0; k < n; k++) {
		size_t i = (cursor + k) % n;
		int64_t w;
		if (asked[i])
			continue;
		w = ipweb_policy_wait(&p[i], now, interval_ms, refresh);
		if (best < 0 || w < best_wait) {
			best = (ssize_t)i;
			best_wait = w;
		}
	}
	*wait_ms = best_wait;
	return best;
}

uint32_t ipweb_policy_backoff(unsigned failures, uint32_t interval, uint32_t retry_after)
{
	uint64_t s = interval;

	for (unsigned i = 1; i < failures && s < IPWEB_BACKOFF_MAX; i++)
		s *= 2;
	if (s > IPWEB_BACKOFF_MAX)
		s = IPWEB_BACKOFF_MAX;
	if (retry_after > IPWEB_RETRY_AFTER_MAX)
		retry_after = IPWEB_RETRY_AFTER_MAX;
	return retry_after > s ? retry_after : (uint32_t)s;
}

/* ---- agreement ---- */

static size_t count_votes(const struct ipweb_vote *v, size_t nv, struct in_addr a)
{
	size_t n = 0;

	for (size_t i = 0; i < nv; i++)
		n += v[i].addr.s_addr == a.s_addr;
	return n;
}

enum ipweb_tally ipweb_policy_tally(const struct ipweb_vote *v, size_t nv, size_t n_sources,
				    const struct in_addr *believed, struct in_addr *out)
{
	if (nv == 0)
		return IPWEB_UNDECIDED;
	if (n_sources == 1) {
		*out = v[nv - 1].addr;
		return IPWEB_SOLE;
	}
	for (size_t i = 0; i < nv; i++) {
		if (count_votes(v, nv, v[i].addr) >= 2) {
			*out = v[i].addr;
			return IPWEB_AGREE;
		}
	}
	if (believed && count_votes(v, nv, *believed) > 0) {
		*out = *believed;
		return IPWEB_CONFIRM;
	}
	return IPWEB_UNDECIDED;
}
