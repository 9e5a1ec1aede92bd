/* ddns_policy.h - the pure decisions behind the DDNS state machine (ddns.c):
 * when to send, how long to back off, and the config fingerprint that decides
 * whether persisted state still belongs to an entry. No I/O, no clock: the
 * caller passes "now", so unit tests can walk through days in microseconds. */
#ifndef HP_DDNS_POLICY_H
#define HP_DDNS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"

#define DDNS_BACKOFF_MIN 30          /* s: first retry after a temporary failure */
#define DDNS_BACKOFF_MAX 3600        /* s: cap of the doubling */
#define DDNS_RETRY_AFTER_MAX 86400   /* s: a provider's Retry-After is honoured up to this */

/* Seconds to wait after the attempts-th consecutive temporary failure
 * (attempts >= 1): 30 s doubling to 1 h, +-10 % jitter taken from rnd, or the
 * provider's retry_after (capped) when that is longer. */
uint32_t ddns_policy_backoff(unsigned attempts, uint32_t retry_after, uint32_t rnd);

/* What one entry knows; every time is wall-clock seconds, 0 = never. */
struct ddns_facts {
	const char *ip;              /* current stable external IP; NULL: unknown */
	bool is_public;
	const char *published_ip;    /* last IP the provider accepted; NULL: none */
	int64_t now;
	int64_t last_update;         /* last success */
	int64_t last_attempt;        /* last request sent, whatever its outcome */
	int64_t retry_at;            /* backoff end after a temporary failure; 0: none */
	uint32_t force_interval;     /* re-send an unchanged IP this often; 0: never */
	uint32_t min_interval;       /* the preset's spacing between two requests */
	bool forced;                 /* homeportctl update */
	bool failed;                 /* permanent failure, sticky */
};

enum ddns_verdict {
	DDNS_IDLE,    /* nothing to send; *wait_s = when to look again, -1: never */
	DDNS_BLOCK,   /* the IP is not public: publish nothing */
	DDNS_WAIT,    /* a request is due but must wait *wait_s (backoff, min_interval) */
	DDNS_SEND,    /* send now */
};

enum ddns_verdict ddns_policy_decide(const struct ddns_facts *f, int64_t *wait_s);

/* Forced updates (homeportctl update) per entry: at most DDNS_FORCE_BURST
 * back to back, then one per DDNS_FORCE_INTERVAL, so that a loop of
 * "homeportctl update" sends a provider at most 144 requests a day (3322
 * wants 60 s between updates, deSEC 2 per 2 min, dyndns2 servers block
 * repeated "nochg"). A token bucket kept as one time, *tat (0: full): 0 when
 * a forced update may go now (and *tat advances), else the seconds to wait. */
#define DDNS_FORCE_BURST 3
#define DDNS_FORCE_INTERVAL 600
int64_t ddns_policy_force_take(int64_t *tat, int64_t now);

/* Hex fingerprint of everything in c that decides where and how an entry
 * publishes, secrets included, salted so the state file does not carry a
 * plain hash of a password. out must hold DDNS_FP_LEN + 1 bytes; salt is
 * hex text (stored beside the fingerprint). 0 / -1. */
#define DDNS_FP_LEN 32
int ddns_policy_fingerprint(const struct cfg_ddns *c, const char *salt, char *out);

/* Upgrade only: the fingerprint release 0.1.0 (commit 6bd72cf) wrote for
 * the same config, so that ddns.c takes its state files over (and rewrites
 * them) instead of sending a needless update for every entry. -1 when c
 * cannot be a 0.1.0 config (a provider or fingerprinted key 0.1.0 did not
 * have). May be removed once upgrading straight from 0.1.0 is no longer
 * supported. */
int ddns_policy_fingerprint_legacy(const struct cfg_ddns *c, const char *salt, char *out);

#endif
