/* libFuzzer target: PCP replies and announcements (network input) through
 * the strict parser, the matcher and the verdict of pcp_wire.c. Checks
 * the parser's promises: nothing accepted is longer than 1100 bytes, a
 * version-2 answer is a multiple of 4 with a known opcode, and a verdict
 * always names its code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pcp_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void judge(const struct pcp_reply *r)
{
	static const uint8_t nonce[PCP_NONCE_LEN];
	struct pcp_map_req q[3];
	struct pcp_verdict v;

	/* The request the reply would answer: ours for ourselves, for another
	 * host, and a delete. Also the reply's own echo, so matching passes. */
	if (pcp_wire_map_init(&q[0], "192.168.77.10", NULL, IPPROTO_TCP, 8080, 18080, 3600,
			      nonce) < 0 ||
	    pcp_wire_map_init(&q[1], "192.168.77.10", "192.168.77.20", IPPROTO_UDP, 554, 0,
			      600, nonce) < 0 ||
	    pcp_wire_map_init(&q[2], "2001:db8::10", NULL, IPPROTO_TCP, 22, 22, 0, nonce) < 0)
		abort();
	if (r->has_map) {
		memcpy(q[0].nonce, r->nonce, PCP_NONCE_LEN);
		q[0].proto = r->proto;
		q[0].int_port = r->int_port;
	}
	for (int i = 0; i < 3; i++) {
		(void)pcp_wire_matches_map(r, &q[i]);
		pcp_wire_verdict(&q[i], r, &v);
		if (v.outcome != GW_OK && v.error[0] == '\0')
			abort();
		if (strlen(v.error) >= sizeof(v.error) || strlen(v.ext_ip) >= sizeof(v.ext_ip))
			abort();
	}
	pcp_wire_verdict(NULL, r, &v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pcp_reply r;
	uint32_t epoch;

	if (pcp_wire_parse(data, size, &r) == 0) {
		if (size > PCP_MAX_LEN)
			abort();
		if (r.version == PCP_VERSION &&
		    (size % 4 || (r.opcode != PCP_OP_MAP && r.opcode != PCP_OP_ANNOUNCE)))
			abort();
		if (r.has_map && size < PCP_MAP_LEN)
			abort();
		(void)pcp_wire_matches_announce(&r);
		judge(&r);
	}
	if (pcp_wire_parse_announce(data, size, &epoch) == 0 && (size < PCP_HDR_LEN || data[3]))
		abort();
	return 0;
}
