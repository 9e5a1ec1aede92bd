/* dns_msg.c - DNS names, the RFC 2136 UPDATE message, and a strict walk
 * over replies. Replies come from the network: every read is bounds-checked
 * and a malformed reply is refused, never half-used. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dns_msg.h"

/* Enough to resolve any legal name: each jump goes strictly backwards. */
#define MAX_POINTER_JUMPS 128

const char *dns_rcode_name(unsigned rcode)
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
	};

	return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode] : "rcode?";
}

static bool label_byte_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '\\';
}

int dns_name_to_wire(const char *name, bool lower, uint8_t *out, size_t cap)
{
	size_t n = 0;
	const char *p = name;

	if (name == NULL || *name == '\0' || cap < 1)
		return -1;
	if (strcmp(name, ".") == 0) {
		out[0] = 0;
		return 1;
	}
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (l == 0 || l > 63 || n + 1 + l + 1 > DNS_NAME_MAX || n + 1 + l + 1 > cap)
			return -1;
		out[n++] = (uint8_t)l;
		for (size_t i = 0; i < l; i++) {
			unsigned char c = (unsigned char)p[i];
			if (!label_byte_ok(c))
				return -1;
			out[n++] = lower ? (uint8_t)tolower(c) : c;
		}
		p += l;
		if (*p == '.')
			p++;
	}
	out[n++] = 0;
	return (int)n;
}

int dns_name_read(const uint8_t *msg, size_t len, size_t *off, uint8_t *out, size_t cap)
{
	size_t pos = *off, limit = *off, end = 0, n = 0;
	int jumps = 0;

	for (;;) {
		uint8_t c;

		if (pos >= len)
			return -1;
		c = msg[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= len || ++jumps > MAX_POINTER_JUMPS)
				return -1;
			target = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
			/* strictly below where this stretch began: no loops */
			if (target >= limit)
				return -1;
			if (end == 0)
				end = pos + 2;
			pos = limit = target;
			continue;
		}
		if (c & 0xc0)
			return -1;           /* extended label types: never valid here */
		if (n + 1 + c > DNS_NAME_MAX || pos + 1 + c > len)
			return -1;
		if (out) {
			if (n + 1 + c > cap)
				return -1;
			out[n] = c;
			for (size_t i = 0; i < c; i++)
				out[n + 1 + i] = (uint8_t)tolower(msg[pos + 1 + i]);
		}
		n += 1 + (size_t)c;
		pos += 1 + (size_t)c;
		if (c == 0)
			break;
	}
	*off = end ? end : pos;
	return (int)n;
}

/* Length without one trailing dot. */
static size_t bare_len(const char *s)
{
	size_t l = strlen(s);

	return l > 0 && s[l - 1] == '.' ? l - 1 : l;
}

bool dns_name_in_zone(const char *name, const char *zone)
{
	size_t nl, zl;

	if (name == NULL || zone == NULL)
		return false;
	nl = bare_len(name);
	zl = bare_len(zone);
	if (zl == 0)
		return nl > 0;           /* the root zone holds every name */
	if (nl < zl || strncasecmp(name + nl - zl, zone, zl) != 0)
		return false;
	return nl == zl || name[nl - zl - 1] == '.';
}

/* ---- building ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool full;
};

static void put_bytes(struct wbuf *w, const void *data, size_t n)
{
	if (n == 0)
		return;
	if (w->full || n > w->cap - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->len, data, n);
	w->len += n;
}

static void put16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put_bytes(w, b, 2);
}

static void put32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	put_bytes(w, b, 4);
}

/* Owner, type, class, ttl, rdata: one resource record. */
static void put_rr(struct wbuf *w, const uint8_t *owner, size_t olen, uint16_t type,
		   uint16_t class, uint32_t ttl, const uint8_t *rdata, uint16_t rdlen)
{
	put_bytes(w, owner, olen);
	put16(w, type);
	put16(w, class);
	put32(w, ttl);
	put16(w, rdlen);
	put_bytes(w, rdata, rdlen);
}

static int put_name_updates(const struct dns_update *u, struct wbuf *w, size_t i,
			    char *err, size_t errlen)
{
	uint8_t owner[DNS_NAME_MAX];
	uint16_t type = u->ipv6 ? DNS_TYPE_AAAA : DNS_TYPE_A;
	int olen = dns_name_to_wire(u->names[i], false, owner, sizeof(owner));

	if (olen < 0) {
		snprintf(err, errlen, "hostname \"%.80s\" is not a valid DNS name", u->names[i]);
		return -1;
	}
	if (!dns_name_in_zone(u->names[i], u->zone)) {
		snprintf(err, errlen, "hostname \"%.80s\" is not inside zone \"%.80s\"",
			 u->names[i], u->zone);
		return -1;
	}
	/* RFC 2136 2.5.2: delete an RRset = class ANY, TTL 0, no rdata */
	put_rr(w, owner, (size_t)olen, type, DNS_CLASS_ANY, 0, NULL, 0);
	put_rr(w, owner, (size_t)olen, type, DNS_CLASS_IN, u->ttl, u->addr, u->ipv6 ? 16 : 4);
	return 0;
}

int dns_msg_build_update(const struct dns_update *u, uint8_t *buf, size_t cap,
			 size_t *len, char *err, size_t errlen)
{
	struct wbuf w = { buf, 0, cap, false };
	uint8_t zone[DNS_NAME_MAX];
	int zlen = dns_name_to_wire(u->zone, false, zone, sizeof(zone));

	if (zlen < 0) {
		snprintf(err, errlen, "zone \"%.80s\" is not a valid DNS name", u->zone ? u->zone : "");
		return -1;
	}
	if (u->n_names == 0 || u->n_names > 0x7fff) {
		snprintf(err, errlen, "no hostnames to update");
		return -1;
	}
	put16(&w, u->id);
	put16(&w, DNS_OPCODE_UPDATE << 11);
	put16(&w, 1);                         /* ZOCOUNT */
	put16(&w, 0);                         /* PRCOUNT */
	put16(&w, (uint16_t)(u->n_names * 2)); /* UPCOUNT */
	put16(&w, 0);                         /* ADCOUNT: TSIG comes later */
	put_bytes(&w, zone, (size_t)zlen);
	put16(&w, DNS_TYPE_SOA);
	put16(&w, DNS_CLASS_IN);
	for (size_t i = 0; i < u->n_names; i++)
		if (put_name_updates(u, &w, i, err, errlen) < 0)
			return -1;
	if (w.full) {
		snprintf(err, errlen, "update for %zu hostnames does not fit in one DNS message",
			 u->n_names);
		return -1;
	}
	*len = w.len;
	return 0;
}

/* ---- parsing replies ---- */

/* Skips one record of section sec at *off; notes where a TSIG RR starts. */
static int skip_rr(const uint8_t *msg, size_t len, size_t *off, int sec, bool last,
		   struct dns_reply *r, const char **why)
{
	size_t start = *off;
	uint16_t type, rdlen;

	if (dns_name_read(msg, len, off, NULL, 0) < 0) {
		*why = "bad owner name";
		return -1;
	}
	if (sec == 0) {
		if (len - *off < 4) {
			*why = "zone section cut short";
			return -1;
		}
		*off += 4;
		return 0;
	}
	if (len - *off < 10) {
		*why = "record header cut short";
		return -1;
	}
	type = dns_get16(msg + *off);
	rdlen = dns_get16(msg + *off + 8);
	*off += 10;
	if (len - *off < rdlen) {
		*why = "record data cut short";
		return -1;
	}
	*off += rdlen;
	if (type == DNS_TYPE_TSIG) {
		if (sec != 3 || !last || *off != len) {
			*why = "TSIG record is not the last record";
			return -1;
		}
		r->tsig_off = start;
	}
	return 0;
}

int dns_msg_parse_reply(const uint8_t *msg, size_t len, struct dns_reply *r,
			const char **why)
{
	size_t off = DNS_HDR_LEN;

	memset(r, 0, sizeof(*r));
	*why = "";
	if (msg == NULL || len < DNS_HDR_LEN) {
		*why = "shorter than a DNS header";
		return -1;
	}
	r->id = dns_get16(msg);
	r->flags = dns_get16(msg + 2);
	r->qr = (r->flags & DNS_FLAG_QR) != 0;
	r->tc = (r->flags & DNS_FLAG_TC) != 0;
	r->opcode = (r->flags >> 11) & 0xf;
	r->rcode = r->flags & 0xf;
	for (int s = 0; s < 4; s++)
		r->counts[s] = dns_get16(msg + 4 + 2 * s);
	if (r->tc)
		return 0;                /* only the header of a cut reply counts */
	for (int s = 0; s < 4; s++)
		for (unsigned i = 0; i < r->counts[s]; i++)
			if (skip_rr(msg, len, &off, s, i + 1u == r->counts[s], r, why) < 0)
				return -1;
	if (off != len) {
		*why = "bytes left over after the last record";
		return -1;
	}
	return 0;
}
