/* natpmp_wire.c - NAT-PMP message checks. Every byte here comes from the
 * network: lengths are checked before any field is read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natpmp_wire.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int natpmp_wire_parse(const uint8_t *buf, size_t len, struct natpmp_wire_msg *m)
{
	memset(m, 0, sizeof(*m));
	/* An error reply may stop after the epoch (RFC 6886 3.5). */
	if (!buf || len < 8 || buf[0] != 0 || buf[1] < 128 || buf[1] > 130)
		return -1;
	m->op = buf[1] - 128;
	m->result = get16(buf + 2);
	m->epoch = get32(buf + 4);
	if (m->result != 0)
		return 0;
	if (m->op == NATPMP_WIRE_OP_PUBLIC) {
		if (len < 12)
			return -1;
		memcpy(&m->addr.s_addr, buf + 8, 4);
		return 0;
	}
	if (len < 16)
		return -1;
	m->int_port = get16(buf + 8);
	m->ext_port = get16(buf + 10);
	m->lifetime = get32(buf + 12);
	return 0;
}

bool natpmp_wire_matches(const struct natpmp_wire_msg *m, uint8_t op, uint16_t int_port)
{
	if (m->op != op)
		return false;
	/* Error replies carry no ports; the opcode is all we can match. */
	if (op == NATPMP_WIRE_OP_PUBLIC || m->result != 0)
		return true;
	return m->int_port == int_port;
}

int natpmp_wire_parse_announce(const uint8_t *buf, size_t len, struct natpmp_wire_msg *m)
{
	if (len != 12 || natpmp_wire_parse(buf, len, m) < 0)
		return -1;
	if (m->op != NATPMP_WIRE_OP_PUBLIC || m->result != 0)
		return -1;
	return 0;
}

const char *natpmp_wire_result_name(unsigned code)
{
	static const char *const names[] = {
		"success", "unsupported version", "not authorized",
		"network failure", "out of resources", "unsupported opcode",
	};

	return code < sizeof(names) / sizeof(names[0]) ? names[code] : "unknown result";
}
