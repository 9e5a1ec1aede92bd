/* probe.h - homeportd --probe: ask every gateway protocol once, print
 * what answers, change nothing. */
#ifndef HP_PROBE_H
#define HP_PROBE_H

#include <stdbool.h>

#include "config.h"

/* Blocking (runs its own event loop); after gw_backends_init. Returns an
 * exit code: 0 if a gateway answered, 69 if none did. */
int probe_run(const struct hp_config *cfg, bool json);

#endif
