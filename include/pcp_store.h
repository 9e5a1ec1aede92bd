/* pcp_store.h - the nonce of every PCP mapping this daemon holds, kept in
 * <state_dir>/pcp.json. A PCP server ties a mapping to the nonce that made
 * it: only that nonce renews or deletes it. Keeping it lets a restarted
 * daemon renew and delete its own mappings instead of colliding with them.
 *
 * A mapping is known by protocol, internal host and internal port (RFC
 * 6887 11.1). Changes are written (atomically) by pcp_store_sync, which
 * the backend calls before a request leaves, so that no request carries a
 * nonce a crash would forget; 50 new mappings cost one write, not 50. */
#ifndef HP_PCP_STORE_H
#define HP_PCP_STORE_H

#include <stdint.h>

#include "pcp_wire.h"

/* Load <dir>/pcp.json (missing or invalid: start empty). dir NULL: keep
 * nonces in memory only. */
void pcp_store_open(const char *dir);
void pcp_store_close(void);

/* The nonce for proto (IPPROTO_TCP/UDP), int_host, int_port: the kept
 * one, else a fresh random one (written at the next sync). 0, or -1 (no
 * randomness, or the store is full). */
int pcp_store_nonce(uint8_t proto, const char *int_host, uint16_t int_port,
		    uint8_t nonce[PCP_NONCE_LEN]);

/* Is there a kept nonce for it? Copies it when there is. */
bool pcp_store_lookup(uint8_t proto, const char *int_host, uint16_t int_port,
		      uint8_t nonce[PCP_NONCE_LEN]);

/* The mapping is gone (deleted, or refused as not ours): drop its nonce. */
void pcp_store_forget(uint8_t proto, const char *int_host, uint16_t int_port);

/* Write the changes since the last sync (nothing when there are none).
 * 0, or -1 (logged). pcp_store_close syncs too. */
int  pcp_store_sync(void);

/* A fresh unguessable nonce (getrandom, else /dev/urandom). 0 / -1. */
int  pcp_store_random(uint8_t nonce[PCP_NONCE_LEN]);

/* Nonce <-> 24 lower-case hex digits (pcp.json). 0 / -1. */
void pcp_store_hex(const uint8_t nonce[PCP_NONCE_LEN], char out[2 * PCP_NONCE_LEN + 1]);
int  pcp_store_unhex(const char *hex, uint8_t nonce[PCP_NONCE_LEN]);

#endif
