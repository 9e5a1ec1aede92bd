/* pcp_wire.c - PCP (RFC 6887) messages, reply checks and timing rules.
 * Every byte here comes from the network: lengths are checked before any
 * field is read, and nothing the gateway says is used before it has been
 * matched to a request of ours. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "homeport.h"
#include "pcp_wire.h"

/* Longest an error answer may make us wait (a hostile lifetime of 2^32 s
 * must not park a mapping for a century). */
#define PCP_RETRY_MAX_S 1800
/* RFC 6887 11.2.1: renewals at least this far apart. */
#define PCP_RENEW_GAP_MS 4000

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- addresses ---- */

bool pcp_wire_addr_is_v4(const struct in6_addr *a)
{
	return IN6_IS_ADDR_V4MAPPED(a);
}

int pcp_wire_addr(const char *s, struct in6_addr *out)
{
	struct in_addr v4;

	memset(out, 0, sizeof(*out));
	if (!s)
		return -1;
	if (inet_pton(AF_INET, s, &v4) == 1) {
		out->s6_addr[10] = 0xff;
		out->s6_addr[11] = 0xff;
		memcpy(out->s6_addr + 12, &v4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

void pcp_wire_addr_str(const struct in6_addr *a, char out[INET6_ADDRSTRLEN])
{
	if (pcp_wire_addr_is_v4(a))
		inet_ntop(AF_INET, a->s6_addr + 12, out, INET6_ADDRSTRLEN);
	else
		inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN);
}

/* The unspecified address of a's family: what a MAP suggests as external
 * address when any will do. */
static void any_of_family(const struct in6_addr *a, struct in6_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (pcp_wire_addr_is_v4(a))
		out->s6_addr[10] = out->s6_addr[11] = 0xff;
}

static bool addr_unspecified(const struct in6_addr *a)
{
	static const uint8_t zero[16];

	if (pcp_wire_addr_is_v4(a))
		return memcmp(a->s6_addr + 12, zero, 4) == 0;
	return memcmp(a->s6_addr, zero, 16) == 0;
}

/* ---- requests ---- */

int pcp_wire_map_init(struct pcp_map_req *q, const char *client, const char *int_host,
		      uint8_t proto, uint16_t int_port, uint16_t ext_port, uint32_t lifetime,
		      const uint8_t nonce[PCP_NONCE_LEN])
{
	memset(q, 0, sizeof(*q));
	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || int_port == 0)
		return -1;
	if (pcp_wire_addr(client, &q->client) < 0 || addr_unspecified(&q->client))
		return -1;
	if (int_host && *int_host) {
		if (pcp_wire_addr(int_host, &q->internal) < 0 || addr_unspecified(&q->internal) ||
		    pcp_wire_addr_is_v4(&q->internal) != pcp_wire_addr_is_v4(&q->client))
			return -1;
		/* THIRD_PARTY naming ourselves is MALFORMED_REQUEST (13.1). */
		q->third_party = memcmp(&q->internal, &q->client, sizeof(q->client)) != 0;
	}
	if (!q->third_party)
		q->internal = q->client;
	memcpy(q->nonce, nonce, PCP_NONCE_LEN);
	q->proto = proto;
	q->int_port = int_port;
	q->ext_port = ext_port;
	q->lifetime = lifetime;
	any_of_family(&q->client, &q->ext_addr);
	return 0;
}

static void build_header(uint8_t *buf, uint8_t opcode, uint32_t lifetime,
			 const struct in6_addr *client)
{
	memset(buf, 0, PCP_HDR_LEN);
	buf[0] = PCP_VERSION;
	buf[1] = opcode;
	put32(buf + 4, lifetime);
	memcpy(buf + 8, client->s6_addr, 16);
}

size_t pcp_wire_build_map(const struct pcp_map_req *q, uint8_t *buf, size_t size)
{
	size_t len = PCP_MAP_LEN + (q->third_party ? 20 : 0);
	uint8_t *p = buf + PCP_HDR_LEN;

	if (size < len)
		return 0;
	build_header(buf, PCP_OP_MAP, q->lifetime, &q->client);
	memset(p, 0, len - PCP_HDR_LEN);
	memcpy(p, q->nonce, PCP_NONCE_LEN);
	p[12] = q->proto;
	put16(p + 16, q->int_port);
	put16(p + 18, q->ext_port);
	memcpy(p + 20, q->ext_addr.s6_addr, 16);
	if (q->third_party) {
		p = buf + PCP_MAP_LEN;
		p[0] = PCP_OPT_THIRD_PARTY;
		put16(p + 2, 16);
		memcpy(p + 4, q->internal.s6_addr, 16);
	}
	return len;
}

size_t pcp_wire_build_announce(const struct in6_addr *client, uint8_t *buf, size_t size)
{
	if (size < PCP_HDR_LEN)
		return 0;
	build_header(buf, PCP_OP_ANNOUNCE, 0, client);
	return PCP_HDR_LEN;
}

/* ---- replies ---- */

/* Options after the opcode payload: each a 4-byte header and its data,
 * padded to 4. Only THIRD_PARTY is ours to read; the others are skipped. */
static int parse_options(const uint8_t *buf, size_t off, size_t len, struct pcp_reply *r)
{
	while (off < len) {
		size_t olen, padded;

		if (len - off < 4)
			return -1;
		olen = get16(buf + off + 2);
		padded = (olen + 3) & ~(size_t)3;
		if (padded > len - off - 4)
			return -1;
		if (buf[off] == PCP_OPT_THIRD_PARTY) {
			if (olen != 16 || r->has_third_party)
				return -1;
			r->has_third_party = true;
			memcpy(r->third_party.s6_addr, buf + off + 4, 16);
		}
		off += 4 + padded;
	}
	return 0;
}

/* A server that does not speak version 2 answers UNSUPP_VERSION in its own
 * format: NAT-PMP (RFC 6886 3.5: version 0, 128 + opcode, a 16-bit result
 * 1, the epoch) or PCP version 1. */
static int parse_old_version(const uint8_t *buf, size_t len, struct pcp_reply *r)
{
	if (buf[0] == 0) {
		if (len < 8 || len > 16 || buf[1] < 128 || get16(buf + 2) != PCP_UNSUPP_VERSION)
			return -1;
		r->epoch = get32(buf + 4);
	} else if (buf[0] == 1) {
		if (len < PCP_HDR_LEN || len > PCP_MAX_LEN || len % 4 || !(buf[1] & 0x80) ||
		    buf[3] != PCP_UNSUPP_VERSION)
			return -1;
		r->lifetime = get32(buf + 4);
		r->epoch = get32(buf + 8);
	} else {
		return -1;
	}
	r->version = buf[0];
	r->opcode = buf[1] & 0x7f;
	r->result = PCP_UNSUPP_VERSION;
	return 0;
}

/* Without a MAP payload only answers from a server that could not read
 * ours make sense. */
static bool short_map_ok(uint8_t result)
{
	return result == PCP_UNSUPP_VERSION || result == PCP_MALFORMED_REQUEST ||
	       result == PCP_UNSUPP_OPCODE;
}

static void parse_map(const uint8_t *p, struct pcp_reply *r)
{
	r->has_map = true;
	memcpy(r->nonce, p, PCP_NONCE_LEN);
	r->proto = p[12];
	r->int_port = get16(p + 16);
	r->ext_port = get16(p + 18);
	memcpy(r->ext_addr.s6_addr, p + 20, 16);
}

int pcp_wire_parse(const uint8_t *buf, size_t len, struct pcp_reply *r)
{
	size_t off = PCP_HDR_LEN;

	memset(r, 0, sizeof(*r));
	if (!buf || len < 4)
		return -1;
	if (buf[0] != PCP_VERSION)
		return parse_old_version(buf, len, r);
	if (len < PCP_HDR_LEN || len > PCP_MAX_LEN || len % 4 || !(buf[1] & 0x80))
		return -1;
	r->version = PCP_VERSION;
	r->opcode = buf[1] & 0x7f;
	r->result = buf[3];
	r->lifetime = get32(buf + 4);
	r->epoch = get32(buf + 8);
	if (r->opcode == PCP_OP_MAP) {
		if (len < PCP_MAP_LEN)
			return len == PCP_HDR_LEN && short_map_ok(r->result) ? 0 : -1;
		parse_map(buf + PCP_HDR_LEN, r);
		off = PCP_MAP_LEN;
	} else if (r->opcode != PCP_OP_ANNOUNCE) {
		return -1;
	}
	return parse_options(buf, off, len, r);
}

bool pcp_wire_matches_map(const struct pcp_reply *r, const struct pcp_map_req *q)
{
	if (r->opcode != PCP_OP_MAP)
		return false;
	/* A server that could not read our request cannot echo it. */
	if (r->result == PCP_UNSUPP_VERSION || !r->has_map)
		return true;
	if (memcmp(r->nonce, q->nonce, PCP_NONCE_LEN) != 0 || r->proto != q->proto ||
	    r->int_port != q->int_port)
		return false;
	if (r->has_third_party)
		return q->third_party &&
		       memcmp(&r->third_party, &q->internal, sizeof(q->internal)) == 0;
	/* A mapping granted for another host must say for which (13.1). */
	return !(q->third_party && r->result == PCP_SUCCESS);
}

bool pcp_wire_matches_announce(const struct pcp_reply *r)
{
	return r->opcode == PCP_OP_ANNOUNCE;
}

int pcp_wire_parse_announce(const uint8_t *buf, size_t len, uint32_t *epoch)
{
	struct pcp_reply r;

	if (pcp_wire_parse(buf, len, &r) < 0 || r.version != PCP_VERSION ||
	    r.opcode != PCP_OP_ANNOUNCE || r.result != PCP_SUCCESS)
		return -1;
	*epoch = r.epoch;
	return 0;
}

/* ---- what a reply means ---- */

const char *pcp_wire_result_name(unsigned code)
{
	static const char *const names[] = {
		"SUCCESS", "UNSUPP_VERSION", "NOT_AUTHORIZED", "MALFORMED_REQUEST",
		"UNSUPP_OPCODE", "UNSUPP_OPTION", "MALFORMED_OPTION", "NETWORK_FAILURE",
		"NO_RESOURCES", "UNSUPP_PROTOCOL", "USER_EX_QUOTA", "CANNOT_PROVIDE_EXTERNAL",
		"ADDRESS_MISMATCH", "EXCESSIVE_REMOTE_PEERS",
	};

	return code < HP_ARRAY_LEN(names) ? names[code] : "unknown result";
}

static void say(struct pcp_verdict *v, const struct pcp_reply *r, const char *why)
{
	snprintf(v->error, sizeof(v->error), "PCP %u %s%s%s", r->result,
		 pcp_wire_result_name(r->result), why ? ": " : "", why ? why : "");
}

/* A SUCCESS to a MAP: what was granted, if it is usable. */
static void granted(const struct pcp_map_req *q, const struct pcp_reply *r,
		    struct pcp_verdict *v)
{
	bool v4 = pcp_wire_addr_is_v4(&q->client);

	v->lifetime = r->lifetime;
	v->ext_port = r->ext_port;
	/* miniupnpd 2.3.1 answers the renewal of an IPv6 pinhole with
	 * external port 0; a pinhole's external port is its internal one. */
	if (!v4 && v->ext_port == 0)
		v->ext_port = q->int_port;
	if (!r->has_map || r->lifetime == 0 || v->ext_port == 0 ||
	    pcp_wire_addr_is_v4(&r->ext_addr) != v4 || (v4 && addr_unspecified(&r->ext_addr))) {
		v->outcome = GW_FAULT;
		snprintf(v->error, sizeof(v->error),
			 "PCP 0 SUCCESS without a usable mapping (external %s port %u, lifetime %u)",
			 r->has_map ? (v4 ? "IPv4" : "IPv6") : "no", r->ext_port, r->lifetime);
		return;
	}
	if (!addr_unspecified(&r->ext_addr))
		pcp_wire_addr_str(&r->ext_addr, v->ext_ip);
	v->outcome = GW_OK;
}

static void verdict_error(const struct pcp_map_req *q, const struct pcp_reply *r,
			  struct pcp_verdict *v)
{
	v->retry_s = r->lifetime < PCP_RETRY_MAX_S ? r->lifetime : PCP_RETRY_MAX_S;
	switch (r->result) {
	case PCP_UNSUPP_VERSION:
		v->outcome = GW_GONE;
		v->action = PCP_ACT_FALLBACK;
		say(v, r, r->version == 0 ? "the gateway speaks NAT-PMP only" :
			  "the gateway speaks another PCP version");
		return;
	case PCP_UNSUPP_OPCODE:
		v->outcome = GW_GONE;
		v->action = PCP_ACT_FALLBACK;
		say(v, r, "the gateway does not map ports over PCP");
		return;
	case PCP_NOT_AUTHORIZED:
		v->outcome = GW_REFUSED;
		say(v, r, q && q->lifetime == 0 ? "not our mapping (another nonce)" : NULL);
		return;
	case PCP_UNSUPP_OPTION:
		v->outcome = GW_REFUSED;
		if (q && q->third_party) {
			v->action = PCP_ACT_USE_UPNP;
			say(v, r, "the router maps for other hosts only over UPnP (no THIRD_PARTY)");
		} else {
			say(v, r, NULL);
		}
		return;
	case PCP_MALFORMED_REQUEST:
	case PCP_MALFORMED_OPTION:
	case PCP_UNSUPP_PROTOCOL:
	case PCP_EXCESSIVE_REMOTE_PEERS:
		v->outcome = GW_REFUSED;
		say(v, r, NULL);
		return;
	case PCP_CANNOT_PROVIDE_EXTERNAL:
		v->outcome = GW_CONFLICT;
		say(v, r, NULL);
		return;
	case PCP_ADDRESS_MISMATCH:
		v->outcome = GW_TEMPORARY;
		v->action = PCP_ACT_REDETECT;
		say(v, r, "the gateway sees us at another address");
		return;
	case PCP_NO_RESOURCES:
		/* miniupnpd 2.3.1 answers the delete of a mapping it does not
		 * have with NO_RESOURCES (RFC 6887 15 says SUCCESS). */
		if (q && q->lifetime == 0) {
			v->outcome = GW_NOT_FOUND;
			say(v, r, "no such mapping");
			return;
		}
		break;
	default:            /* NETWORK_FAILURE, USER_EX_QUOTA, codes from the future */
		break;
	}
	v->outcome = GW_TEMPORARY;
	say(v, r, NULL);
}

void pcp_wire_verdict(const struct pcp_map_req *q, const struct pcp_reply *r,
		      struct pcp_verdict *v)
{
	memset(v, 0, sizeof(*v));
	if (r->result != PCP_SUCCESS || r->version != PCP_VERSION) {
		verdict_error(q, r, v);
		return;
	}
	if (!q || r->opcode == PCP_OP_ANNOUNCE) {
		v->outcome = GW_OK;
		return;
	}
	if (q->lifetime == 0) {          /* deleted */
		v->outcome = GW_OK;
		return;
	}
	granted(q, r, v);
}

/* ---- time ---- */

/* ms between two monotonic readings, 0 if the clock went back, capped
 * beyond anything a uint32 epoch can express so that * 1000 and / 16
 * arithmetic stays in range. */
static int64_t elapsed_ms(int64_t from, int64_t to)
{
	const uint64_t cap = (uint64_t)UINT32_MAX * 2000;
	uint64_t span = to > from ? (uint64_t)to - (uint64_t)from : 0;

	return (int64_t)(span < cap ? span : cap);
}

bool pcp_epoch_check(struct pcp_epoch *e, uint32_t epoch, int64_t now_ms)
{
	bool lost = false;

	if (e->known) {
		/* Backwards by more than a second: the server restarted. Up to a
		 * second is reordering. */
		if ((int64_t)epoch + 1 < (int64_t)e->server) {
			lost = true;
		} else {
			int64_t cd = elapsed_ms(e->client_ms, now_ms);
			int64_t sd = ((int64_t)epoch - (int64_t)e->server) * 1000;

			lost = cd + 2000 < sd - sd / 16 || sd + 2000 < cd - cd / 16;
		}
	}
	e->known = true;
	e->server = epoch;
	e->client_ms = now_ms;
	return lost;
}

static double rand_of(double jitter)
{
	if (!(jitter >= 0 && jitter < 1))
		jitter = 0.5;
	return jitter * 0.2 - 0.1;
}

int64_t pcp_wire_next_rt_ms(int64_t prev_ms, double jitter)
{
	double rnd = rand_of(jitter);
	int64_t rt;

	if (prev_ms <= 0)
		return PCP_IRT_MS + (int64_t)(rnd * PCP_IRT_MS);
	if (prev_ms > 2 * PCP_MRT_MS)
		prev_ms = 2 * PCP_MRT_MS;
	rt = 2 * prev_ms + (int64_t)(rnd * (double)prev_ms);
	if (rt > PCP_MRT_MS)
		rt = PCP_MRT_MS + (int64_t)(rnd * PCP_MRT_MS);
	return rt;
}

int64_t pcp_wire_renew_ms(uint32_t granted_s, unsigned n, double jitter, int64_t prev_ms)
{
	int64_t life = (int64_t)granted_s * 1000;
	int64_t start, width, t;

	if (!(jitter >= 0 && jitter < 1))
		jitter = 0;
	if (n > 30)
		n = 30;
	start = life - (life >> (n + 1));
	width = life >> (n + 3);
	t = start + (int64_t)((double)width * jitter);
	if (prev_ms < 0)
		prev_ms = 0;
	return t < prev_ms + PCP_RENEW_GAP_MS ? prev_ms + PCP_RENEW_GAP_MS : t;
}
