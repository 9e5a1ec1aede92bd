/* natpmp_wire.h - pure NAT-PMP helpers for gw_natpmp.c (owned by it):
 * response and announcement parsing. No I/O, so the unit tests and the
 * fuzzer can feed them anything. */
#ifndef HP_NATPMP_WIRE_H
#define HP_NATPMP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>

#define NATPMP_WIRE_OP_PUBLIC 0
#define NATPMP_WIRE_OP_UDP 1
#define NATPMP_WIRE_OP_TCP 2

struct natpmp_wire_msg {
	uint8_t op;                  /* request opcode answered: 0, 1 or 2 */
	uint16_t result;
	uint32_t epoch;
	struct in_addr addr;         /* op 0 with result 0 */
	uint16_t int_port, ext_port; /* op 1/2 with result 0 */
	uint32_t lifetime;
};

/* A response to one of our requests: version 0, opcode 128..130, long
 * enough for its opcode (8 bytes suffice for an error). 0 / -1. */
int natpmp_wire_parse(const uint8_t *buf, size_t len, struct natpmp_wire_msg *m);

/* Does m answer our request op (and, for mappings, int_port)? */
bool natpmp_wire_matches(const struct natpmp_wire_msg *m, uint8_t op, uint16_t int_port);

/* A gateway announcement (RFC 6886 3.2.1): exactly 12 bytes, version 0,
 * opcode 128, result 0. 0 / -1. */
int natpmp_wire_parse_announce(const uint8_t *buf, size_t len, struct natpmp_wire_msg *m);

/* "NAT-PMP 2 not authorized" style meaning of a result code. */
const char *natpmp_wire_result_name(unsigned code);

#endif
