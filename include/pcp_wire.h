/* pcp_wire.h - pure PCP (RFC 6887) helpers for the PCP backend (owned by
 * it): MAP and ANNOUNCE requests, the strict reply parser, what a reply
 * means (result codes sorted once into the project's outcomes), the
 * client's epoch check (8.5), retransmission (8.1.1) and renewal (11.2.1)
 * timing. No I/O and no clock: time and jitter come in as arguments, so
 * the unit tests and the fuzzer can drive everything. */
#ifndef HP_PCP_WIRE_H
#define HP_PCP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "gw_backend.h"

#define PCP_VERSION 2
#define PCP_SERVER_PORT 5351
#define PCP_ANNOUNCE_PORT 5350       /* where servers multicast ANNOUNCE */
#define PCP_MAX_LEN 1100
#define PCP_HDR_LEN 24
#define PCP_MAP_LEN 60               /* header + MAP payload */
#define PCP_NONCE_LEN 12

#define PCP_OP_ANNOUNCE 0
#define PCP_OP_MAP 1

#define PCP_OPT_THIRD_PARTY 1

enum pcp_result {
	PCP_SUCCESS = 0,
	PCP_UNSUPP_VERSION = 1,
	PCP_NOT_AUTHORIZED = 2,
	PCP_MALFORMED_REQUEST = 3,
	PCP_UNSUPP_OPCODE = 4,
	PCP_UNSUPP_OPTION = 5,
	PCP_MALFORMED_OPTION = 6,
	PCP_NETWORK_FAILURE = 7,
	PCP_NO_RESOURCES = 8,
	PCP_UNSUPP_PROTOCOL = 9,
	PCP_USER_EX_QUOTA = 10,
	PCP_CANNOT_PROVIDE_EXTERNAL = 11,
	PCP_ADDRESS_MISMATCH = 12,
	PCP_EXCESSIVE_REMOTE_PEERS = 13,
};

/* A MAP request (also a renewal, and with lifetime 0 a delete). */
struct pcp_map_req {
	uint8_t nonce[PCP_NONCE_LEN];
	uint8_t proto;               /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t int_port;
	uint16_t ext_port;           /* suggested; 0 = any */
	uint32_t lifetime;           /* seconds; 0 = delete */
	struct in6_addr client;      /* this host (IPv4 as ::ffff:a.b.c.d) */
	struct in6_addr ext_addr;    /* suggested: the family's "any" */
	bool third_party;            /* the mapping is for another host: */
	struct in6_addr internal;    /* that host (THIRD_PARTY option) */
};

/* A reply that passed pcp_wire_parse. */
struct pcp_reply {
	uint8_t version;             /* 2; else an UNSUPP_VERSION answer */
	uint8_t opcode;              /* without the R bit */
	uint8_t result;              /* enum pcp_result (or an unknown code) */
	uint32_t lifetime, epoch;
	bool has_map;                /* the MAP payload is there: */
	uint8_t nonce[PCP_NONCE_LEN];
	uint8_t proto;
	uint16_t int_port, ext_port;
	struct in6_addr ext_addr;
	bool has_third_party;
	struct in6_addr third_party;
};

/* What else the backend has to do about it. */
enum pcp_action {
	PCP_ACT_NONE,
	PCP_ACT_FALLBACK,            /* the gateway speaks no PCP v2: use NAT-PMP/UPnP */
	PCP_ACT_REDETECT,            /* our address is wrong (ADDRESS_MISMATCH): find it again */
	PCP_ACT_USE_UPNP,            /* THIRD_PARTY not allowed: map that host over UPnP */
};

/* What a reply means for the request it answers, in the project's
 * outcomes. A granted external port other than the one asked is GW_OK
 * with that port: mapping.c hands it back as a conflict, as for any
 * protocol. */
struct pcp_verdict {
	enum gw_outcome outcome;
	enum pcp_action action;
	uint32_t retry_s;            /* error answers: how long the answer stands (0: unknown) */
	uint32_t lifetime;           /* OK: granted seconds */
	uint16_t ext_port;           /* OK: the port granted */
	char ext_ip[INET6_ADDRSTRLEN];   /* OK: the external address ("" if none) */
	char error[160];             /* "PCP 2 NOT_AUTHORIZED ..."; "" on OK */
};

/* "192.168.77.10" -> ::ffff:192.168.77.10, "2001:db8::1" as it is. 0 / -1. */
int pcp_wire_addr(const char *s, struct in6_addr *out);
/* The other way round: an IPv4-mapped address prints as a dotted quad. */
void pcp_wire_addr_str(const struct in6_addr *a, char out[INET6_ADDRSTRLEN]);
bool pcp_wire_addr_is_v4(const struct in6_addr *a);

/* Fill q for a MAP of proto/int_port from client (this host) for int_host
 * ("" or NULL: this host; another address adds THIRD_PARTY). Both
 * addresses must be of one family. 0 / -1. */
int pcp_wire_map_init(struct pcp_map_req *q, const char *client, const char *int_host,
		      uint8_t proto, uint16_t int_port, uint16_t ext_port, uint32_t lifetime,
		      const uint8_t nonce[PCP_NONCE_LEN]);

/* Wire form of q / of an ANNOUNCE request into buf: its length, or 0 if
 * size is too small. */
size_t pcp_wire_build_map(const struct pcp_map_req *q, uint8_t *buf, size_t size);
size_t pcp_wire_build_announce(const struct in6_addr *client, uint8_t *buf, size_t size);

/* A response, checked strictly: 24..1100 bytes, a multiple of 4, the R
 * bit, opcode ANNOUNCE or MAP, a MAP payload unless the server could not
 * read ours, well-formed options (THIRD_PARTY at most once, 16 bytes).
 * A version-0 (NAT-PMP) or version-1 UNSUPP_VERSION answer is accepted
 * as such. 0, or -1: drop it. */
int pcp_wire_parse(const uint8_t *buf, size_t len, struct pcp_reply *r);

/* Does r answer q (MAP: nonce, protocol, internal port, THIRD_PARTY)? */
bool pcp_wire_matches_map(const struct pcp_reply *r, const struct pcp_map_req *q);
/* Does r answer our ANNOUNCE request? */
bool pcp_wire_matches_announce(const struct pcp_reply *r);

/* An unsolicited ANNOUNCE (multicast to 5350): version 2, R, opcode 0,
 * result SUCCESS. Its epoch goes to *epoch. 0 / -1. */
int pcp_wire_parse_announce(const uint8_t *buf, size_t len, uint32_t *epoch);

/* What r (which answers q) means. Every result code is sorted here and
 * nowhere else. */
void pcp_wire_verdict(const struct pcp_map_req *q, const struct pcp_reply *r,
		      struct pcp_verdict *v);

/* "NOT_AUTHORIZED"; "unknown result" past the table. */
const char *pcp_wire_result_name(unsigned code);

/* RFC 6887 8.5, the client's view of the server's epoch. */
struct pcp_epoch {
	bool known;                  /* a reply was seen */
	uint32_t server;             /* its epoch */
	int64_t client_ms;           /* our monotonic clock then */
};

/* Check the epoch of a reply received at now_ms against the last one and
 * record it. true: the server lost its state (re-create every mapping). */
bool pcp_epoch_check(struct pcp_epoch *e, uint32_t epoch, int64_t now_ms);

/* RFC 6887 8.1.1: the retransmission timeout after prev_ms (0: the first
 * send). IRT 3 s doubling to MRT 1024 s, each spread by RAND in
 * [-0.1, +0.1] (jitter in [0, 1) picks it). There is no MRC or MRD: the
 * caller bounds the whole exchange with its own deadline. */
#define PCP_IRT_MS 3000
#define PCP_MRT_MS 1024000
int64_t pcp_wire_next_rt_ms(int64_t prev_ms, double jitter);

/* RFC 6887 11.2.1: when (ms after the grant) to send renewal attempt n of
 * a lifetime of granted seconds: n = 0 in [1/2, 5/8] of it, n = 1 in
 * [3/4, 3/4 + 1/16], n = 2 in [7/8, 7/8 + 1/32], ... (jitter in [0, 1)
 * picks the point), and never sooner than 4 s after prev_ms, the time of
 * the previous request (also ms after the grant; 0 for the grant itself). */
int64_t pcp_wire_renew_ms(uint32_t granted, unsigned n, double jitter, int64_t prev_ms);

#endif
