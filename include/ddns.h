/* ddns.h - the DDNS side: one state machine per [ddns:NAME] entry. */
#ifndef HP_DDNS_H
#define HP_DDNS_H

#include <stdbool.h>
#include <jansson.h>
#include "config.h"

int  ddns_init(const struct hp_config *cfg);          /* loads state; 0 / -1 */
void ddns_apply_config(const struct hp_config *cfg);  /* after a reload */

/* From the gateway side: the current external IPv4 (NULL: unknown), and
 * whether it is public (SPEC "Status"). Cheap; debounced inside. */
void ddns_set_external_ip(const char *ip, bool is_public);

/* homeportctl update [NAME]: publish now even if unchanged. NULL = all.
 * -1 if no entry has that name; -2 if the external IP is not public, so
 * nothing can be published; -3 if an entry had too many forced updates
 * lately (ddns_policy_force_take): why (may be NULL) gets a sentence naming
 * each refused entry and when it may be forced again. */
int  ddns_force_update(const char *name, char *why, size_t size);

void ddns_shutdown(void);            /* cancel in-flight requests, save state */
void ddns_fini(void);

json_t *ddns_status_json(void);      /* the "ddns" array of SPEC "Status" */

/* --once: true when every entry has reached a final state for this pass. */
bool ddns_once_done(bool *all_ok);

/* Test seam (tests/unit/test_ddns_*.c), added by the ddns.c author: run
 * lookup(the entry's provider) instead of the entry's provider (NULL:
 * restore) and debounce IP reports for debounce_ms instead of 1000 (<= 0:
 * restore). */
struct provider_ops;
void ddns_test_hooks(const struct provider_ops *(*lookup)(const struct provider_ops *),
		     int debounce_ms);

#endif
