/* ipweb_policy.h - the pure decisions behind the web IP sources (ipweb.c):
 * reading a reply, pacing each source, backing off a failing one, and
 * deciding when the answers of one round are to be believed. No I/O, no
 * clock: the caller passes "now" (monotonic milliseconds), so unit tests
 * and the request-rate benchmark can walk through days in microseconds. */
#ifndef HP_IPWEB_POLICY_H
#define HP_IPWEB_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#define IPWEB_MIN_INTERVAL 60        /* s: no source is asked more often by the schedule,
				      * whatever check_interval says */
#define IPWEB_REFRESH_GAP 10         /* s: homeportctl refresh asks at most this often */
#define IPWEB_BACKOFF_MAX (6 * 3600) /* s: cap of a failing source's backoff */
#define IPWEB_RETRY_AFTER_MAX 86400  /* s: a source's Retry-After is honoured up to this */
#define IPWEB_ROUND_WAIT 30          /* s: a round waits this long at most for a second
				      * source to become askable, else it ends undecided */
#define IPWEB_BODY_MAX 1024          /* bytes: a longer reply is garbage */
#define IPWEB_TIMEOUT 10             /* s: one request, connection included */

/* ---- replies ---- */

enum ipweb_reply {
	IPWEB_REPLY_OK,
	IPWEB_REPLY_GARBAGE,         /* not one IPv4 address in a form we know */
	IPWEB_REPLY_NOT_PUBLIC,      /* an address, but not a public one (SPEC "Status") */
};

/* Read a web source's reply body (len bytes, not necessarily terminated).
 * Two forms are accepted: the address alone, with white space around it
 * (most services), or the checkip page of Dyn and Oray ("Current IP Address:
 * ADDR" once, in a little HTML). The address must be a plain dotted quad:
 * four decimal numbers 0-255 without leading zeros. On anything but
 * IPWEB_REPLY_OK, why holds a printable sentence. */
enum ipweb_reply ipweb_policy_parse(const char *body, size_t len, struct in_addr *out,
				    char *why, size_t whylen);

/* ---- pacing ---- */

/* The spacing of automatic requests to one source, in seconds:
 * check_interval, but never below IPWEB_MIN_INTERVAL. */
uint32_t ipweb_policy_interval(uint32_t check_interval);

/* When a source may be asked again; monotonic ms. */
struct ipweb_pace {
	int64_t last_asked;          /* -1: never */
	int64_t hold_until;          /* end of a backoff or Retry-After; 0: none */
};

/* Milliseconds until the source may be asked (0: now). The schedule keeps
 * interval_ms between two requests; a refresh only IPWEB_REFRESH_GAP. Both
 * respect a backoff. */
int64_t ipweb_policy_wait(const struct ipweb_pace *p, int64_t now, int64_t interval_ms,
			  bool refresh);

/* The next source to ask: the first one from cursor on (wrapping) that is
 * not asked[] yet in this round and has the shortest wait; its wait goes to
 * *wait_ms. -1 when every source was asked in this round. */
ssize_t ipweb_policy_pick(const struct ipweb_pace *p, const bool *asked, size_t n,
			  size_t cursor, int64_t now, int64_t interval_ms, bool refresh,
			  int64_t *wait_ms);

/* Seconds a source is left alone after its failures-th failure in a row
 * (failures >= 1): the interval doubling from the second failure on, capped
 * at IPWEB_BACKOFF_MAX, or the source's Retry-After (capped) when longer. */
uint32_t ipweb_policy_backoff(unsigned failures, uint32_t interval, uint32_t retry_after);

/* ---- agreement ---- */

struct ipweb_vote {
	size_t src;                  /* index of the source */
	struct in_addr addr;
};

enum ipweb_tally {
	IPWEB_UNDECIDED,             /* ask another source */
	IPWEB_AGREE,                 /* two sources of this round gave the same address */
	IPWEB_CONFIRM,               /* a source of this round gave the address believed
				      * before (agreed on earlier): unchanged */
	IPWEB_SOLE,                  /* only one source is configured: its answer */
};

/* Decide on the votes of one round. believed: the address agreed on before,
 * NULL when none. The address decided on goes to *out. A new address needs
 * two votes of this round; the old one is kept on one fresh vote. */
enum ipweb_tally ipweb_policy_tally(const struct ipweb_vote *v, size_t nv, size_t n_sources,
				    const struct in_addr *believed, struct in_addr *out);

#endif
