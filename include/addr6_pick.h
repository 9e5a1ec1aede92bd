/* addr6_pick.h - which IPv6 address homeport publishes and opens: pure
 * decisions over address and neighbour lists (addr6.c feeds them from
 * rtnetlink), and the ipv6_host setting. No I/O: unit-tested with
 * synthetic lists (tests/unit/test_addr6.c). */
#ifndef HP_ADDR6_PICK_H
#define HP_ADDR6_PICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#define ADDR6_FOREVER INT64_MAX      /* a preferred lifetime that never runs out */

/* Why an address was or was not chosen (--probe shows each). */
enum addr6_verdict {
	A6_CHOSEN,
	A6_RUNNER_UP,        /* usable, but another one is preferred */
	A6_NOT_GLOBAL,       /* link-local or host scope */
	A6_NOT_PUBLIC,       /* in a range SPEC's public rule excludes (ULA, ...) */
	A6_OTHER_IF,         /* not on the interface in use */
	A6_DADFAILED,
	A6_TENTATIVE,        /* duplicate address detection still running */
	A6_TEMPORARY,        /* a privacy address: changes every day */
	A6_DEPRECATED,       /* preferred lifetime over: the prefix is going away */
};

/* One of this host's addresses. */
struct addr6_cand {
	struct in6_addr addr;
	int ifindex;
	unsigned prefixlen;
	unsigned scope;              /* RT_SCOPE_UNIVERSE (0) = global */
	uint32_t flags;              /* IFA_F_* */
	int64_t preferred_until;     /* ms on the caller's clock, ADDR6_FOREVER */
	uint32_t cstamp;             /* created (1/100 s since boot): newer wins a tie */
	enum addr6_verdict verdict;  /* set by addr6_pick */
};

/* Set every candidate's verdict and return the chosen one's index, or -1.
 * Usable: global scope, public (unless !need_public), on ifindex, not
 * DAD-failed, tentative, temporary or deprecated. Among usable ones: a
 * permanent (static) address first, then the longest preferred lifetime,
 * lifetimes close enough to count as equal (so that router
 * advertisements refreshing them at different moments never flip the
 * choice) going to the newest address: while an old and a new prefix are
 * both preferred, the new one wins. */
ssize_t addr6_pick(struct addr6_cand *c, size_t n, int ifindex, bool need_public, int64_t now);

/* "temporary (privacy) address", ... for --probe and status. */
const char *addr6_verdict_text(enum addr6_verdict v);

/* A LAN device's address as the neighbour table knows it. */
struct addr6_neigh {
	struct in6_addr addr;
	int ifindex;
	uint16_t state;              /* NUD_* */
	uint8_t mac[6];
	int64_t first_seen;          /* ms: the longest known wins a tie */
};

/* The address to publish for the device with MAC mac: global and public,
 * on ifindex (0: any), in a state other than failed or incomplete, in
 * one of the /64s prefixes[0..np) (this host's current ones; np == 0:
 * any); preferring one in prefixes[0] (this host's chosen /64), then its
 * EUI-64 address (a temporary one never looks like that), then a confirmed
 * entry, then the longest known. Index, or -1. */
ssize_t addr6_pick_neigh(const struct addr6_neigh *n, size_t cnt, const uint8_t mac[6],
			 int ifindex, const struct in6_addr *prefixes, size_t np);

/* prefix64's first 64 bits + the modified EUI-64 interface ID of mac. */
void addr6_eui64(const struct in6_addr *prefix64, const uint8_t mac[6], struct in6_addr *out);
/* prefix64's first 64 bits + suffix's last 64. */
void addr6_with_suffix(const struct in6_addr *prefix64, const struct in6_addr *suffix,
		       struct in6_addr *out);
/* "2001:db8:77::/64": the /64 (or shorter, as the kernel says) holding a. */
void addr6_prefix_text(const struct in6_addr *a, unsigned prefixlen, char *out, size_t len);

/* [ddns:*] ipv6_host: whose address an AAAA record gets. */
enum addr6_host_kind { A6H_SELF, A6H_SUFFIX, A6H_MAC };
struct addr6_host {
	enum addr6_host_kind kind;
	struct in6_addr suffix;      /* A6H_SUFFIX: ::20 (first 64 bits zero) */
	uint8_t mac[6];              /* A6H_MAC */
};

/* "self", "::20", "02:11:22:33:44:55" (or with '-'). 0, or -1 with a
 * sentence in why. */
int  addr6_host_parse(const char *s, struct addr6_host *h, char *why, size_t len);
/* As a user would write it back (canonical). */
void addr6_host_format(const struct addr6_host *h, char *out, size_t len);
bool addr6_host_equal(const struct addr6_host *a, const struct addr6_host *b);

#endif
