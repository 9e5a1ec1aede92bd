/* gateway.h - the gateway side, as main and the control socket see it:
 * finding the gateway, its external IP, and driving the port mappings of
 * every configured service (mapping.c) through it. */
#ifndef HP_GATEWAY_H
#define HP_GATEWAY_H

#include <stdbool.h>
#include <jansson.h>

#include "config.h"
#include "mapping.h"

struct gateway_hooks {
	/* The external IPv4 as the gateway reports it (NULL: unknown), and
	 * whether it is public (SPEC "Status"). Called on every check. */
	void (*ip_changed)(const char *ip, bool is_public);
};

/* After mapping_init and gw_backends_init; starts discovery. 0 / -1. */
int  gateway_init(const struct hp_config *cfg, const struct gateway_hooks *hooks);
void gateway_apply_config(const struct hp_config *cfg); /* after a reload */
void gateway_refresh(void);                          /* homeportctl refresh */

/* Remove this daemon's mappings (unless keep_mappings), then call done.
 * Always calls done within 4 s, even when the router hangs. */
void gateway_shutdown(void (*done)(void *arg), void *arg);
void gateway_fini(void);

json_t *gateway_status_json(void);   /* the "gateway" object of SPEC "Status" */

/* --once: true once every service has reached a final state for this pass;
 * *all_ok tells whether the gateway was found and every mapping succeeded. */
bool gateway_once_done(bool *all_ok);

#endif
