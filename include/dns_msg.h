/* dns_msg.h - the DNS wire format homeport needs: domain names, the
 * RFC 2136 UPDATE message it sends, and a strict walk over the replies it
 * receives (which are hostile input). */
#ifndef HP_DNS_MSG_H
#define HP_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HDR_LEN     12
#define DNS_NAME_MAX    255          /* wire form, final zero byte included */
#define DNS_UDP_MAX     512          /* larger requests go over TCP */
#define DNS_MSG_MAX     65535

#define DNS_TYPE_A      1
#define DNS_TYPE_SOA    6
#define DNS_TYPE_AAAA   28
#define DNS_TYPE_TSIG   250
#define DNS_CLASS_IN    1
#define DNS_CLASS_ANY   255

#define DNS_OPCODE_UPDATE 5

/* Header flag bits (second 16-bit word). */
#define DNS_FLAG_QR     0x8000
#define DNS_FLAG_TC     0x0200

enum dns_rcode {
	DNS_RCODE_NOERROR = 0, DNS_RCODE_FORMERR = 1, DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3, DNS_RCODE_NOTIMP = 4, DNS_RCODE_REFUSED = 5,
	DNS_RCODE_YXDOMAIN = 6, DNS_RCODE_YXRRSET = 7, DNS_RCODE_NXRRSET = 8,
	DNS_RCODE_NOTAUTH = 9, DNS_RCODE_NOTZONE = 10,
};

/* "NOERROR", "REFUSED", ...; "rcode?" for values without a name. */
const char *dns_rcode_name(unsigned rcode);

/* Text name ("www.example.org", a trailing dot optional, "." is the root)
 * to uncompressed wire form in out. Lower-cases when lower is set (TSIG's
 * canonical form). Refuses empty labels, labels over 63 bytes, names over
 * 255 bytes, and bytes outside printable ASCII or a backslash (no escape
 * syntax). Returns the wire length or -1. */
int dns_name_to_wire(const char *name, bool lower, uint8_t *out, size_t cap);

/* Read the name at *off in msg, following compression pointers (each must
 * point backwards, so no loops), into out as uncompressed lower-case wire
 * form. Advances *off past the name as it sits in msg. Returns the wire
 * length or -1 on anything malformed. out may be NULL to only skip. */
int dns_name_read(const uint8_t *msg, size_t len, size_t *off, uint8_t *out, size_t cap);

/* Whether name is zone itself or below it; case-insensitive, trailing
 * dots ignored. */
bool dns_name_in_zone(const char *name, const char *zone);

/* One UPDATE for every name: delete its A (AAAA) RRset, then add addr. */
struct dns_update {
	uint16_t id;
	const char *zone;
	const char *const *names;
	size_t n_names;
	bool ipv6;                   /* AAAA and a 16-byte addr, else A and 4 bytes */
	const uint8_t *addr;
	uint32_t ttl;
};

/* Writes the unsigned message (ARCOUNT 0) into buf. Returns 0, or -1 with
 * a one-line reason in err (a bad or out-of-zone name, or no room). */
int dns_msg_build_update(const struct dns_update *u, uint8_t *buf, size_t cap,
			 size_t *len, char *err, size_t errlen);

/* What a reply says, after a walk over every section. */
struct dns_reply {
	uint16_t id;
	uint16_t flags;
	unsigned opcode;
	unsigned rcode;
	bool qr, tc;
	uint16_t counts[4];          /* zone/question, prereq/answer, update/authority, additional */
	size_t tsig_off;             /* where the TSIG RR starts; 0: none */
};

/* Walks msg strictly: every name and RR inside len, no bytes left over, a
 * TSIG RR only as the very last RR. Returns 0, or -1 with a short reason
 * (static text) in *why. A truncated (TC) reply may end early: then the
 * walk stops at the cut and the header fields are still filled in. */
int dns_msg_parse_reply(const uint8_t *msg, size_t len, struct dns_reply *r,
			const char **why);

/* Big-endian helpers, bounds are the caller's job. */
static inline uint16_t dns_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void dns_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

#endif
