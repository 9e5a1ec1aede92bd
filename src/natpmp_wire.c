/* natpmp_wire.c - NAT-PMP message checks and the default-route reader.
 * Every byte here comes from the network or the kernel: lengths are
 * checked before any field is read. */
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

/* One /proc/net/route line: "eth0 00000000 0100A8C0 0003 0 0 100 00000000 ...".
 * Only default routes (destination and mask 0) that are up with a
 * gateway (flags RTF_UP 1 | RTF_GATEWAY 2) count. */
static int route_line(const char *line, struct in_addr *gw, unsigned *metric,
		      char ifname[IF_NAMESIZE])
{
	char name[IF_NAMESIZE + 1];
	unsigned dst, gwx, flags, refcnt, use, met, mask;

	if (sscanf(line, "%16s %x %x %x %u %u %u %x", name, &dst, &gwx, &flags,
		   &refcnt, &use, &met, &mask) != 8)
		return -1;
	if (strlen(name) >= IF_NAMESIZE || dst != 0 || mask != 0 || gwx == 0 ||
	    (flags & 3) != 3)
		return -1;
	gw->s_addr = gwx;    /* the kernel prints it in network byte order */
	*metric = met;
	memcpy(ifname, name, strlen(name) + 1);
	return 0;
}

int natpmp_wire_default_gw(const char *text, struct in_addr *gw, char ifname[IF_NAMESIZE])
{
	unsigned best = 0;
	int found = -1;
	char line[256];

	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		struct in_addr g;
		unsigned met;
		char name[IF_NAMESIZE];

		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			if (route_line(line, &g, &met, name) == 0 && (found < 0 || met < best)) {
				*gw = g;
				best = met;
				memcpy(ifname, name, IF_NAMESIZE);
				found = 0;
			}
		}
		p = nl ? nl + 1 : NULL;
	}
	return found;
}

const char *natpmp_wire_result_name(unsigned code)
{
	static const char *const names[] = {
		"success", "unsupported version", "not authorized",
		"network failure", "out of resources", "unsupported opcode",
	};

	return code < sizeof(names) / sizeof(names[0]) ? names[code] : "unknown result";
}
