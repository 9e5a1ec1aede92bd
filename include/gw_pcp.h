/* gw_pcp.h - the PCP backend (RFC 6887): our own client in the event
 * loop, one row of the backend table (gw_backend.h). See gw_pcp.c.
 *
 * Results: GW_OK; GW_REFUSED (NOT_AUTHORIZED, a refused THIRD_PARTY and
 * the other "we may not" codes); GW_CONFLICT (CANNOT_PROVIDE_EXTERNAL);
 * GW_NOT_FOUND (delete of a mapping the gateway does not have);
 * GW_TEMPORARY (NO_RESOURCES, NETWORK_FAILURE, USER_EX_QUOTA, unknown
 * codes; retry_s from the answer's lifetime); GW_FAULT (no PCP server:
 * ICMP port unreachable; an answer without a usable mapping); GW_GONE
 * (no valid answer before the deadline; a gateway that speaks no PCP v2;
 * ADDRESS_MISMATCH: find the gateway and our address again). Each
 * answer's epoch is checked (RFC 6887 8.5): gw_result.state_lost. */
#ifndef HP_GW_PCP_H
#define HP_GW_PCP_H

#include "gw_backend.h"

extern const struct gw_backend gw_backend_pcp;

#endif
