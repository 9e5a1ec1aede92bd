/* gateway.h - the gateway side, as main and the control socket see it:
 * finding the gateway, its external IP, and the port mappings of every
 * configured service (mapping.c). */
#ifndef HP_GATEWAY_H
#define HP_GATEWAY_H

#include <stdbool.h>
#include <jansson.h>
#include "config.h"

int  gateway_init(const struct hp_config *cfg);       /* starts discovery; 0 / -1 */
void gateway_apply_config(const struct hp_config *cfg); /* after a reload */
void gateway_refresh(void);                          /* homeportctl refresh */

/* Remove this daemon's mappings (unless keep_mappings), then call done.
 * Always calls done within 4 s, even when the router hangs. */
void gateway_shutdown(void (*done)(void *arg), void *arg);
void gateway_fini(void);

json_t *gateway_status_json(void);   /* the "gateway" object of SPEC "Status" */
json_t *mapping_status_json(void);   /* the "services" array */

/* --once: true once every service has reached a final state for this pass;
 * *all_ok tells whether the gateway was found and every mapping succeeded. */
bool gateway_once_done(bool *all_ok);

/* --probe: blocking diagnosis, changes nothing. Returns an exit code. */
int gateway_probe(const struct hp_config *cfg, bool json);

#endif
