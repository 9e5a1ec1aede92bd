/* addr6_pick.c - which IPv6 address to use (see addr6_pick.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "addr6_pick.h"
#include "homeport.h"
#include "util.h"

/* Preferred lifetimes closer than this (or than a quarter of the longer
 * one) count as equal. */
#define LIFETIME_SLACK_MS (120 * 1000)

const char *addr6_verdict_text(enum addr6_verdict v)
{
	static const char *const text[] = {
		[A6_CHOSEN] = "chosen",
		[A6_RUNNER_UP] = "usable, but another address is preferred",
		[A6_NOT_GLOBAL] = "not global scope",
		[A6_NOT_PUBLIC] = "not a public address",
		[A6_OTHER_IF] = "not on the interface in use",
		[A6_DADFAILED] = "duplicate address detection failed",
		[A6_TENTATIVE] = "tentative (duplicate address detection running)",
		[A6_TEMPORARY] = "temporary (privacy) address",
		[A6_DEPRECATED] = "deprecated (preferred lifetime over)",
	};

	return (unsigned)v < HP_ARRAY_LEN(text) && text[v] ? text[v] : "?";
}

static enum addr6_verdict judge(const struct addr6_cand *c, int ifindex, bool need_public,
				int64_t now)
{
	if (c->scope != RT_SCOPE_UNIVERSE)
		return A6_NOT_GLOBAL;
	if (need_public && !ipv6_is_public(&c->addr))
		return A6_NOT_PUBLIC;
	if (c->ifindex != ifindex)
		return A6_OTHER_IF;
	if (c->flags & IFA_F_DADFAILED)
		return A6_DADFAILED;
	if (c->flags & (IFA_F_TENTATIVE | IFA_F_OPTIMISTIC))
		return A6_TENTATIVE;
	if (c->flags & IFA_F_TEMPORARY)
		return A6_TEMPORARY;
	if ((c->flags & IFA_F_DEPRECATED) || c->preferred_until <= now)
		return A6_DEPRECATED;
	return A6_RUNNER_UP;
}

/* Preferred lifetimes: 1 if a's is clearly longer, -1 if b's, 0 if close. */
static int cmp_lifetime(const struct addr6_cand *a, const struct addr6_cand *b, int64_t now)
{
	int64_t la, lb, hi, slack;

	if (a->preferred_until == b->preferred_until)
		return 0;
	if (a->preferred_until == ADDR6_FOREVER || b->preferred_until == ADDR6_FOREVER)
		return a->preferred_until == ADDR6_FOREVER ? 1 : -1;
	la = a->preferred_until - now;
	lb = b->preferred_until - now;
	hi = la > lb ? la : lb;
	slack = hi / 4 > LIFETIME_SLACK_MS ? hi / 4 : LIFETIME_SLACK_MS;
	if (la - lb > slack)
		return 1;
	if (lb - la > slack)
		return -1;
	return 0;
}

/* Is a preferred over b? Both usable. */
static bool better(const struct addr6_cand *a, const struct addr6_cand *b, int64_t now)
{
	bool pa = a->flags & IFA_F_PERMANENT, pb = b->flags & IFA_F_PERMANENT;
	int c;

	if (pa != pb)
		return pa;
	c = cmp_lifetime(a, b, now);
	if (c != 0)
		return c > 0;
	if (a->cstamp != b->cstamp)
		return a->cstamp > b->cstamp;     /* newer: the new prefix wins */
	return memcmp(&a->addr, &b->addr, sizeof(a->addr)) < 0;
}

ssize_t addr6_pick(struct addr6_cand *c, size_t n, int ifindex, bool need_public, int64_t now)
{
	ssize_t best = -1;

	for (size_t i = 0; i < n; i++) {
		c[i].verdict = judge(&c[i], ifindex, need_public, now);
		if (c[i].verdict == A6_RUNNER_UP && (best < 0 || better(&c[i], &c[best], now)))
			best = (ssize_t)i;
	}
	if (best >= 0)
		c[best].verdict = A6_CHOSEN;
	return best;
}

/* ---- other hosts ----------------------------------------------------- */

void addr6_eui64(const struct in6_addr *prefix64, const uint8_t mac[6], struct in6_addr *out)
{
	memcpy(out->s6_addr, prefix64->s6_addr, 8);
	out->s6_addr[8] = mac[0] ^ 0x02;          /* the universal/local bit, inverted */
	out->s6_addr[9] = mac[1];
	out->s6_addr[10] = mac[2];
	out->s6_addr[11] = 0xff;
	out->s6_addr[12] = 0xfe;
	out->s6_addr[13] = mac[3];
	out->s6_addr[14] = mac[4];
	out->s6_addr[15] = mac[5];
}

void addr6_with_suffix(const struct in6_addr *prefix64, const struct in6_addr *suffix,
		       struct in6_addr *out)
{
	memcpy(out->s6_addr, prefix64->s6_addr, 8);
	memcpy(out->s6_addr + 8, suffix->s6_addr + 8, 8);
}

void addr6_prefix_text(const struct in6_addr *a, unsigned prefixlen, char *out, size_t len)
{
	struct in6_addr net = { 0 };
	char text[INET6_ADDRSTRLEN];
	unsigned bits = prefixlen > 64 || prefixlen == 0 ? 64 : prefixlen;

	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;
		net.s6_addr[i] = a->s6_addr[i] & (uint8_t)(0xff00 >> keep);
	}
	inet_ntop(AF_INET6, &net, text, sizeof(text));
	snprintf(out, len, "%s/%u", text, bits);
}

static bool same64(const struct in6_addr *a, const struct in6_addr *b)
{
	return memcmp(a->s6_addr, b->s6_addr, 8) == 0;
}

static bool neigh_usable(const struct addr6_neigh *e, const uint8_t mac[6], int ifindex,
			 const struct in6_addr *prefixes, size_t np)
{
	bool in_prefix = np == 0;

	if (memcmp(e->mac, mac, 6) != 0 || (ifindex != 0 && e->ifindex != ifindex) ||
	    (e->state & (NUD_FAILED | NUD_INCOMPLETE)) || e->state == NUD_NONE ||
	    !ipv6_is_public(&e->addr))
		return false;
	for (size_t i = 0; i < np && !in_prefix; i++)
		in_prefix = same64(&e->addr, &prefixes[i]);
	return in_prefix;
}

static int neigh_score(const struct addr6_neigh *e, const uint8_t mac[6],
		       const struct in6_addr *prefixes, size_t np)
{
	struct in6_addr eui;
	int score = 0;

	if (np > 0 && same64(&e->addr, &prefixes[0]))
		score += 4;
	addr6_eui64(&e->addr, mac, &eui);
	if (memcmp(&eui, &e->addr, sizeof(eui)) == 0)
		score += 2;
	if (e->state & (NUD_REACHABLE | NUD_PERMANENT | NUD_NOARP))
		score += 1;
	return score;
}

/* Same score: the longest known, then the lowest address. */
static bool neigh_before(const struct addr6_neigh *a, const struct addr6_neigh *b)
{
	if (a->first_seen != b->first_seen)
		return a->first_seen < b->first_seen;
	return memcmp(&a->addr, &b->addr, sizeof(a->addr)) < 0;
}

ssize_t addr6_pick_neigh(const struct addr6_neigh *n, size_t cnt, const uint8_t mac[6],
			 int ifindex, const struct in6_addr *prefixes, size_t np)
{
	ssize_t best = -1;
	int best_score = -1;

	for (size_t i = 0; i < cnt; i++) {
		int s;

		if (!neigh_usable(&n[i], mac, ifindex, prefixes, np))
			continue;
		s = neigh_score(&n[i], mac, prefixes, np);
		if (s > best_score || (s == best_score && neigh_before(&n[i], &n[best]))) {
			best = (ssize_t)i;
			best_score = s;
		}
	}
	return best;
}

/* ---- ipv6_host ------------------------------------------------------- */

static int parse_mac(const char *s, uint8_t mac[6])
{
	char sep = 0;

	if (strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		unsigned v;

		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]))
			return -1;
		if (i < 5) {
			if (p[2] != ':' && p[2] != '-')
				return -1;
			if (sep && p[2] != sep)
				return -1;
			sep = p[2];
		}
		sscanf(p, "%2x", &v);
		mac[i] = (uint8_t)v;
	}
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int addr6_host_parse(const char *s, struct addr6_host *h, char *why, size_t len)
{
	memset(h, 0, sizeof(*h));
	if (strcasecmp(s, "self") == 0) {
		h->kind = A6H_SELF;
		return 0;
	}
	if (parse_mac(s, h->mac) == 0) {
		h->kind = A6H_MAC;
		if (h->mac[0] & 0x01) {
			snprintf(why, len, "%s is a multicast MAC address, not a device's", s);
			return -1;
		}
		if (all_zero(h->mac, 6)) {
			snprintf(why, len, "%s is not a device's MAC address", s);
			return -1;
		}
		return 0;
	}
	h->kind = A6H_SUFFIX;
	if (strncmp(s, "::", 2) != 0 || inet_pton(AF_INET6, s, &h->suffix) != 1) {
		snprintf(why, len, "'%s' is none of self, ::SUFFIX (e.g. ::20) or a MAC address "
			 "(02:11:22:33:44:55)", s);
		return -1;
	}
	if (!all_zero(h->suffix.s6_addr, 8) || all_zero(h->suffix.s6_addr + 8, 8)) {
		snprintf(why, len, "'%s' is not an interface ID: it must be ::1 to "
			 "::ffff:ffff:ffff:ffff (the last 64 bits)", s);
		return -1;
	}
	return 0;
}

void addr6_host_format(const struct addr6_host *h, char *out, size_t len)
{
	switch (h->kind) {
	case A6H_SELF:
		snprintf(out, len, "self");
		break;
	case A6H_SUFFIX:
		if (!inet_ntop(AF_INET6, &h->suffix, out, (socklen_t)len))
			snprintf(out, len, "?");
		break;
	case A6H_MAC:
		snprintf(out, len, "%02x:%02x:%02x:%02x:%02x:%02x", h->mac[0], h->mac[1],
			 h->mac[2], h->mac[3], h->mac[4], h->mac[5]);
		break;
	}
}

bool addr6_host_equal(const struct addr6_host *a, const struct addr6_host *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == A6H_SUFFIX)
		return memcmp(&a->suffix, &b->suffix, sizeof(a->suffix)) == 0;
	if (a->kind == A6H_MAC)
		return memcmp(a->mac, b->mac, sizeof(a->mac)) == 0;
	return true;
}
