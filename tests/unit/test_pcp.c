/* Unit tests for the PCP client's pure parts: the RFC 6887 8.5 epoch rule,
 * retransmission (8.1.1) and renewal (11.2.1) times, the requests on the
 * wire, the strict reply parser and matcher, what every result code means,
 * and the nonce store in the state directory. */
#include <arpa/inet.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gw_natpmp.h"
#include "gw_pcp.h"
#include "gw_upnp.h"
#include "pcp_store.h"
#include "pcp_wire.h"

static const uint8_t NONCE[PCP_NONCE_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

/* ---- epoch rule (8.5) ---- */

static void test_epoch_first_reply_is_valid(void **state)
{
	struct pcp_epoch e = { 0 };

	assert_false(pcp_epoch_check(&e, 123456, 5000));
	assert_true(e.known);
	assert_int_equal(e.server, 123456);
	assert_int_equal(e.client_ms, 5000);
}

static void test_epoch_normal_progress(void **state)
{
	struct pcp_epoch e = { 0 };

	pcp_epoch_check(&e, 1000, 0);
	assert_false(pcp_epoch_check(&e, 1100, 100000));     /* in step */
	assert_false(pcp_epoch_check(&e, 1100, 100000));     /* same instant */
	assert_false(pcp_epoch_check(&e, 1101, 101500));     /* a second, give or take */
	/* Long gaps: 1/16 of the delta plus 2 s of slack each way. */
	pcp_epoch_check(&e, 10000, 0);
	assert_false(pcp_epoch_check(&e, 10000 + 3600, 3600000 + 226000));
	pcp_epoch_check(&e, 10000, 0);
	assert_false(pcp_epoch_check(&e, 10000 + 3600, 3600000 - 226000));
}

static void test_epoch_backwards(void **state)
{
	struct pcp_epoch e = { 0 };

	pcp_epoch_check(&e, 5000, 0);
	/* Back by one second: reordering, not a restart. */
	assert_false(pcp_epoch_check(&e, 4999, 0));
	pcp_epoch_check(&e, 5000, 0);
	/* Back by two: the server restarted. */
	assert_true(pcp_epoch_check(&e, 4998, 0));
	/* The new value is recorded: the next reply is judged against it. */
	assert_int_equal(e.server, 4998);
	assert_false(pcp_epoch_check(&e, 4999, 1000));
	/* Rebooted router: epoch back near 0 an hour later. */
	pcp_epoch_check(&e, 3600, 0);
	assert_true(pcp_epoch_check(&e, 3, 60000));
}

static void test_epoch_drift_limits(void **state)
{
	struct pcp_epoch e = { 0 };

	/* Server says 100 s passed, we saw 100 s: fine. 100 s but only
	 * 91 s passed here: 91 + 2 < 100 - 6.25 is false -> fine; 90 s:
	 * 92 < 93.75 -> the server's clock ran ahead: state lost. */
	pcp_epoch_check(&e, 0, 0);
	assert_false(pcp_epoch_check(&e, 100, 91800));
	pcp_epoch_check(&e, 0, 0);
	assert_true(pcp_epoch_check(&e, 100, 91000));
	/* Our clock ran 110 s, the server's 100 s: 102 < 110 - 6.875 -> lost;
	 * 108 s: 102 < 101.25 false -> fine. */
	pcp_epoch_check(&e, 0, 0);
	assert_true(pcp_epoch_check(&e, 100, 110000));
	pcp_epoch_check(&e, 0, 0);
	assert_false(pcp_epoch_check(&e, 100, 108000));
	/* A server epoch that stood still for a minute: it restarted and
	 * came back to the same number. */
	pcp_epoch_check(&e, 50, 0);
	assert_true(pcp_epoch_check(&e, 50, 60000));
	/* Within 2 s nothing can be told apart. */
	pcp_epoch_check(&e, 50, 0);
	assert_false(pcp_epoch_check(&e, 50, 2000));
	assert_false(pcp_epoch_check(&e, 52, 2000));
}

static void test_epoch_extremes(void **state)
{
	struct pcp_epoch e = { 0 };

	pcp_epoch_check(&e, UINT32_MAX - 10, 0);
	assert_false(pcp_epoch_check(&e, UINT32_MAX, 10000));
	assert_true(pcp_epoch_check(&e, 0, 11000));          /* wrapped = restarted */
	/* Our clock going backwards counts as no time passed. */
	pcp_epoch_check(&e, 100, 100000);
	assert_false(pcp_epoch_check(&e, 100, 0));
	/* Huge gaps stay in range, whichever way. */
	pcp_epoch_check(&e, 0, INT64_MIN);
	assert_true(pcp_epoch_check(&e, 0, INT64_MAX));
	/* Our clock saw far more pass than any epoch can say. */
	pcp_epoch_check(&e, 0, INT64_MIN);
	assert_true(pcp_epoch_check(&e, UINT32_MAX, INT64_MAX));
}

/* ---- retransmission (8.1.1) and renewal (11.2.1) ---- */

static void test_retransmission_times(void **state)
{
	int64_t rt;

	assert_int_equal(pcp_wire_next_rt_ms(0, 0.5), 3000);
	assert_int_equal(pcp_wire_next_rt_ms(0, 0), 2700);       /* RAND = -0.1 */
	assert_in_range(pcp_wire_next_rt_ms(0, 0.999999), 3299, 3300);
	assert_int_equal(pcp_wire_next_rt_ms(3000, 0.5), 6000);
	assert_int_equal(pcp_wire_next_rt_ms(3000, 0), 5700);
	/* Doubling up to MRT 1024 s, then MRT +- 10 %. */
	rt = 0;
	for (int i = 0; i < 30; i++)
		rt = pcp_wire_next_rt_ms(rt, 0.5);
	assert_int_equal(rt, PCP_MRT_MS);
	assert_int_equal(pcp_wire_next_rt_ms(PCP_MRT_MS, 0), PCP_MRT_MS - PCP_MRT_MS / 10);
	assert_int_equal(pcp_wire_next_rt_ms(INT64_MAX, 0.5), PCP_MRT_MS);
	/* Nonsense jitter is no jitter. */
	assert_int_equal(pcp_wire_next_rt_ms(0, -3), 3000);
	assert_int_equal(pcp_wire_next_rt_ms(0, 1.0), 3000);
}

static void test_renewal_windows(void **state)
{
	/* 3600 s: first renewal in [1800, 2250] s. */
	assert_int_equal(pcp_wire_renew_ms(3600, 0, 0, 0), 1800000);
	assert_int_equal(pcp_wire_renew_ms(3600, 0, 0.5, 0), 2025000);
	assert_in_range(pcp_wire_renew_ms(3600, 0, 0.999999, 0), 2249999, 2250000);
	/* Then [3/4, 3/4 + 1/16], [7/8, 7/8 + 1/32]. */
	assert_int_equal(pcp_wire_renew_ms(3600, 1, 0, 1800000), 2700000);
	assert_in_range(pcp_wire_renew_ms(3600, 1, 0.999999, 1800000), 2924999, 2925000);
	assert_int_equal(pcp_wire_renew_ms(3600, 2, 0, 2700000), 3150000);
	assert_in_range(pcp_wire_renew_ms(3600, 2, 0.999999, 2700000), 3262499, 3262500);
	/* Every window starts after the previous one ends, and before expiry. */
	for (unsigned n = 0; n < 8; n++) {
		assert_true(pcp_wire_renew_ms(86400, n, 0.999999, 0) <
			    pcp_wire_renew_ms(86400, n + 1, 0, 0));
		assert_true(pcp_wire_renew_ms(86400, n, 0.999999, 0) < 86400000);
	}
	assert_true(pcp_wire_renew_ms(86400, 1000, 0.5, 0) <= 86400000);
}

static void test_renewal_gap(void **state)
{
	/* Never sooner than 4 s after the previous request: a 1 s lifetime
	 * (a hostile router) cannot make us send twice a second. */
	assert_int_equal(pcp_wire_renew_ms(1, 0, 0.5, 0), 4000);
	assert_int_equal(pcp_wire_renew_ms(120, 0, 0, 0), 60000);
	assert_int_equal(pcp_wire_renew_ms(120, 3, 0, 112000), 116000);
	assert_int_equal(pcp_wire_renew_ms(0, 0, 0, 0), 4000);
	assert_int_equal(pcp_wire_renew_ms(3600, 0, 0, -5), 1800000);
	assert_int_equal(pcp_wire_renew_ms(3600, 0, NAN, 0), 1800000);
}

/* ---- requests ---- */

static void v4_req(struct pcp_map_req *q, uint16_t ext, uint32_t lifetime)
{
	assert_int_equal(pcp_wire_map_init(q, "192.168.77.10", NULL, IPPROTO_TCP, 8080, ext,
					   lifetime, NONCE), 0);
}

static void test_build_map_v4(void **state)
{
	struct pcp_map_req q;
	uint8_t buf[PCP_MAX_LEN];
	const uint8_t client[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 77, 10 };
	const uint8_t any4[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0 };

	v4_req(&q, 18080, 3600);
	assert_false(q.third_party);
	assert_int_equal(pcp_wire_build_map(&q, buf, sizeof(buf)), 60);
	assert_int_equal(buf[0], 2);
	assert_int_equal(buf[1], 1);                    /* MAP, R clear */
	assert_int_equal(buf[2] | buf[3], 0);
	assert_memory_equal(buf + 4, "\0\0\x0e\x10", 4);
	assert_memory_equal(buf + 8, client, 16);
	assert_memory_equal(buf + 24, NONCE, 12);
	assert_int_equal(buf[36], IPPROTO_TCP);
	assert_int_equal(buf[37] | buf[38] | buf[39], 0);
	assert_memory_equal(buf + 40, "\x1f\x90\x46\xa0", 4);
	assert_memory_equal(buf + 44, any4, 16);
	assert_int_equal(pcp_wire_build_map(&q, buf, 59), 0);
}

static void test_build_map_v6_and_third_party(void **state)
{
	struct pcp_map_req q;
	uint8_t buf[PCP_MAX_LEN];
	struct in6_addr a;

	assert_int_equal(pcp_wire_map_init(&q, "2001:db8:77::10", "", IPPROTO_UDP, 5000, 5000,
					   600, NONCE), 0);
	assert_int_equal(pcp_wire_build_map(&q, buf, sizeof(buf)), 60);
	inet_pton(AF_INET6, "2001:db8:77::10", &a);
	assert_memory_equal(buf + 8, &a, 16);
	for (int i = 44; i < 60; i++)
		assert_int_equal(buf[i], 0);            /* suggested: :: */

	assert_int_equal(pcp_wire_map_init(&q, "192.168.77.10", "192.168.77.20", IPPROTO_TCP,
					   554, 10554, 600, NONCE), 0);
	assert_true(q.third_party);
	assert_int_equal(pcp_wire_build_map(&q, buf, sizeof(buf)), 80);
	assert_int_equal(buf[60], 1);                   /* THIRD_PARTY */
	assert_int_equal(buf[61], 0);
	assert_memory_equal(buf + 62, "\0\x10", 2);
	assert_memory_equal(buf + 64 + 10, "\xff\xff\xc0\xa8\x4d\x14", 6);
	assert_int_equal(pcp_wire_build_map(&q, buf, 79), 0);
	/* THIRD_PARTY naming ourselves would be MALFORMED_REQUEST: left out. */
	assert_int_equal(pcp_wire_map_init(&q, "192.168.77.10", "192.168.77.10", IPPROTO_TCP,
					   554, 10554, 600, NONCE), 0);
	assert_false(q.third_party);
	assert_int_equal(pcp_wire_build_map(&q, buf, sizeof(buf)), 60);
}

static void test_map_init_refuses(void **state)
{
	struct pcp_map_req q;

	assert_int_equal(pcp_wire_map_init(&q, "192.168.77.10", "2001:db8::1", IPPROTO_TCP,
					   1, 1, 1, NONCE), -1);
	assert_int_equal(pcp_wire_map_init(&q, "2001:db8::1", "192.168.77.10", IPPROTO_TCP,
					   1, 1, 1, NONCE), -1);
	assert_int_equal(pcp_wire_map_init(&q, "192.168.77.10", NULL, 1, 80, 80, 1, NONCE), -1);
	assert_int_equal(pcp_wire_map_init(&q, "192.168.77.10", NULL, IPPROTO_UDP, 0, 80, 1,
					   NONCE), -1);
	assert_int_equal(pcp_wire_map_init(&q, "0.0.0.0", NULL, IPPROTO_UDP, 80, 80, 1, NONCE), -1);
	assert_int_equal(pcp_wire_map_init(&q, "::", NULL, IPPROTO_UDP, 80, 80, 1, NONCE), -1);
	assert_int_equal(pcp_wire_map_init(&q, "gateway", NULL, IPPROTO_UDP, 80, 80, 1, NONCE), -1);
	assert_int_equal(pcp_wire_map_init(&q, NULL, NULL, IPPROTO_UDP, 80, 80, 1, NONCE), -1);
	assert_int_equal(pcp_wire_map_init(&q, "192.168.77.10", "nas", IPPROTO_UDP, 80, 80, 1,
					   NONCE), -1);
}

static void test_build_announce(void **state)
{
	struct in6_addr c;
	uint8_t buf[64];

	assert_int_equal(pcp_wire_addr("192.168.77.10", &c), 0);
	assert_int_equal(pcp_wire_build_announce(&c, buf, sizeof(buf)), 24);
	assert_int_equal(buf[0], 2);
	assert_int_equal(buf[1], 0);
	assert_memory_equal(buf + 8 + 12, "\xc0\xa8\x4d\x0a", 4);
	assert_int_equal(pcp_wire_build_announce(&c, buf, 23), 0);
}

static void test_addr_helpers(void **state)
{
	struct in6_addr a;
	char s[INET6_ADDRSTRLEN];

	assert_int_equal(pcp_wire_addr("203.0.113.2", &a), 0);
	assert_true(pcp_wire_addr_is_v4(&a));
	pcp_wire_addr_str(&a, s);
	assert_string_equal(s, "203.0.113.2");
	assert_int_equal(pcp_wire_addr("2001:db8::0:1", &a), 0);
	assert_false(pcp_wire_addr_is_v4(&a));
	pcp_wire_addr_str(&a, s);
	assert_string_equal(s, "2001:db8::1");
	assert_int_equal(pcp_wire_addr("::ffff:10.0.0.1", &a), 0);
	assert_true(pcp_wire_addr_is_v4(&a));
	assert_int_equal(pcp_wire_addr("", &a), -1);
	assert_int_equal(pcp_wire_addr("1.2.3.4.5", &a), -1);
}

/* ---- replies ---- */

/* A reply to q as miniupnpd writes it: the request echoed, R set, the
 * result, lifetime, epoch, the granted port and external address. */
static size_t reply_to(const struct pcp_map_req *q, uint8_t *buf, uint8_t result,
		       uint32_t lifetime, uint32_t epoch, uint16_t ext_port, const char *ext)
{
	size_t len = pcp_wire_build_map(q, buf, PCP_MAX_LEN);
	struct in6_addr a;

	buf[1] |= 0x80;
	buf[3] = result;
	buf[4] = (uint8_t)(lifetime >> 24);
	buf[5] = (uint8_t)(lifetime >> 16);
	buf[6] = (uint8_t)(lifetime >> 8);
	buf[7] = (uint8_t)lifetime;
	buf[8] = (uint8_t)(epoch >> 24);
	buf[9] = (uint8_t)(epoch >> 16);
	buf[10] = (uint8_t)(epoch >> 8);
	buf[11] = (uint8_t)epoch;
	memset(buf + 12, 0, 12);
	buf[42] = (uint8_t)(ext_port >> 8);
	buf[43] = (uint8_t)ext_port;
	if (ext) {
		assert_int_equal(pcp_wire_addr(ext, &a), 0);
		memcpy(buf + 44, &a, 16);
	}
	return len;
}

/* The verdict on a miniupnpd-style reply to q (reply_to's arguments). */
static enum gw_outcome judged(const struct pcp_map_req *q, uint8_t result, uint32_t lifetime,
			      uint16_t ext_port, const char *ext, struct pcp_verdict *v)
{
	uint8_t buf[PCP_MAX_LEN];
	struct pcp_reply r;
	size_t len = reply_to(q, buf, result, lifetime, 9, ext_port, ext);

	assert_int_equal(pcp_wire_parse(buf, len, &r), 0);
	pcp_wire_verdict(q, &r, v);
	return v->outcome;
}

static void test_parse_map_success(void **state)
{
	struct pcp_map_req q;
	struct pcp_reply r;
	struct pcp_verdict v;
	uint8_t buf[PCP_MAX_LEN];
	size_t len;

	v4_req(&q, 18080, 3600);
	len = reply_to(&q, buf, 0, 3600, 77, 18080, "203.0.113.2");
	assert_int_equal(pcp_wire_parse(buf, len, &r), 0);
	assert_int_equal(r.version, 2);
	assert_int_equal(r.opcode, PCP_OP_MAP);
	assert_int_equal(r.result, 0);
	assert_int_equal(r.lifetime, 3600);
	assert_int_equal(r.epoch, 77);
	assert_true(r.has_map);
	assert_int_equal(r.int_port, 8080);
	assert_int_equal(r.ext_port, 18080);
	assert_true(pcp_wire_matches_map(&r, &q));
	assert_false(pcp_wire_matches_announce(&r));
	pcp_wire_verdict(&q, &r, &v);
	assert_int_equal(v.outcome, GW_OK);
	assert_int_equal(v.action, PCP_ACT_NONE);
	assert_int_equal(v.lifetime, 3600);
	assert_int_equal(v.ext_port, 18080);
	assert_string_equal(v.ext_ip, "203.0.113.2");
	assert_string_equal(v.error, "");
}

static void test_parse_rejects(void **state)
{
	struct pcp_map_req q;
	struct pcp_reply r;
	uint8_t buf[PCP_MAX_LEN + 8];
	size_t len;

	v4_req(&q, 18080, 3600);
	len = reply_to(&q, buf, 0, 3600, 1, 18080, "203.0.113.2");
	assert_int_equal(pcp_wire_parse(NULL, len, &r), -1);
	assert_int_equal(pcp_wire_parse(buf, 0, &r), -1);
	assert_int_equal(pcp_wire_parse(buf, 3, &r), -1);
	assert_int_equal(pcp_wire_parse(buf, 59, &r), -1);      /* not a multiple of 4 */
	assert_int_equal(pcp_wire_parse(buf, 56, &r), -1);      /* payload cut */
	assert_int_equal(pcp_wire_parse(buf, 20, &r), -1);
	memset(buf + len, 0, sizeof(buf) - len);
	assert_int_equal(pcp_wire_parse(buf, 1104, &r), -1);    /* longer than 1100 */
	buf[1] = 1;                                             /* our own request echoed */
	assert_int_equal(pcp_wire_parse(buf, len, &r), -1);
	buf[1] = 0x82;                                          /* PEER: never asked */
	assert_int_equal(pcp_wire_parse(buf, len, &r), -1);
	buf[1] = 0x81;
	buf[0] = 3;
	assert_int_equal(pcp_wire_parse(buf, len, &r), -1);
	buf[0] = 2;
	/* A SUCCESS without the MAP payload says nothing usable. */
	assert_int_equal(pcp_wire_parse(buf, 24, &r), -1);
	/* Trailing bytes that are no option. */
	assert_int_equal(pcp_wire_parse(buf, len + 4, &r), 0);  /* an empty option, code 0 */
	buf[len + 2] = 0;
	buf[len + 3] = 8;                                       /* says 8 bytes, has 0 */
	assert_int_equal(pcp_wire_parse(buf, len + 4, &r), -1);
}

static void test_parse_short_error(void **state)
{
	struct pcp_map_req q;
	struct pcp_reply r;
	uint8_t buf[PCP_MAX_LEN];

	v4_req(&q, 18080, 3600);
	reply_to(&q, buf, PCP_MALFORMED_REQUEST, 0, 1, 0, NULL);
	assert_int_equal(pcp_wire_parse(buf, 24, &r), 0);
	assert_false(r.has_map);
	assert_true(pcp_wire_matches_map(&r, &q));
	buf[3] = PCP_NO_RESOURCES;                   /* that one could have echoed us */
	assert_int_equal(pcp_wire_parse(buf, 24, &r), -1);
}

static void test_parse_old_versions(void **state)
{
	/* A NAT-PMP-only gateway answers version 2 in its own format. */
	const uint8_t natpmp[8] = { 0, 129, 0, 1, 0, 0, 0x10, 0 };
	const uint8_t natpmp_ok[12] = { 0, 128, 0, 0, 0, 0, 0, 1, 203, 0, 113, 2 };
	uint8_t v1[24] = { 1, 0x81, 0, 1 };
	struct pcp_map_req q;
	struct pcp_reply r;
	struct pcp_verdict v;

	v4_req(&q, 18080, 3600);
	assert_int_equal(pcp_wire_parse(natpmp, sizeof(natpmp), &r), 0);
	assert_int_equal(r.version, 0);
	assert_int_equal(r.result, PCP_UNSUPP_VERSION);
	assert_int_equal(r.epoch, 4096);
	assert_true(pcp_wire_matches_map(&r, &q));
	pcp_wire_verdict(&q, &r, &v);
	assert_int_equal(v.outcome, GW_GONE);
	assert_int_equal(v.action, PCP_ACT_FALLBACK);
	assert_non_null(strstr(v.error, "NAT-PMP only"));
	/* Anything else in version 0 is not an answer to us. */
	assert_int_equal(pcp_wire_parse(natpmp_ok, sizeof(natpmp_ok), &r), -1);
	assert_int_equal(pcp_wire_parse(natpmp, 7, &r), -1);
	assert_int_equal(pcp_wire_parse(v1, sizeof(v1), &r), 0);
	assert_int_equal(r.version, 1);
	pcp_wire_verdict(&q, &r, &v);
	assert_int_equal(v.action, PCP_ACT_FALLBACK);
	v1[3] = 0;
	assert_int_equal(pcp_wire_parse(v1, sizeof(v1), &r), -1);
	/* An ANNOUNCE request answered by NAT-PMP: opcode 128 + 0. */
	assert_int_equal(pcp_wire_parse((const uint8_t[8]){ 0, 128, 0, 1 }, 8, &r), 0);
	assert_true(pcp_wire_matches_announce(&r));
	assert_false(pcp_wire_matches_map(&r, &q));
}

static void test_match_map(void **state)
{
	struct pcp_map_req q, other;
	struct pcp_reply r;
	uint8_t buf[PCP_MAX_LEN];
	size_t len;

	v4_req(&q, 18080, 3600);
	len = reply_to(&q, buf, 0, 3600, 1, 18080, "203.0.113.2");
	buf[24] ^= 1;                                /* another nonce */
	assert_int_equal(pcp_wire_parse(buf, len, &r), 0);
	assert_false(pcp_wire_matches_map(&r, &q));
	buf[24] ^= 1;
	buf[36] = IPPROTO_UDP;
	assert_int_equal(pcp_wire_parse(buf, len, &r), 0);
	assert_false(pcp_wire_matches_map(&r, &q));
	buf[36] = IPPROTO_TCP;
	buf[41]++;                                   /* another internal port */
	assert_int_equal(pcp_wire_parse(buf, len, &r), 0);
	assert_false(pcp_wire_matches_map(&r, &q));
	buf[41]--;
	assert_int_equal(pcp_wire_parse(buf, len, &r), 0);
	assert_true(pcp_wire_matches_map(&r, &q));

	/* THIRD_PARTY must come back naming the same host. */
	assert_int_equal(pcp_wire_map_init(&other, "192.168.77.10", "192.168.77.20",
					   IPPROTO_TCP, 8080, 18080, 3600, NONCE), 0);
	len = reply_to(&other, buf, 0, 3600, 1, 18080, "203.0.113.2");
	assert_int_equal(pcp_wire_parse(buf, len, &r), 0);
	assert_true(r.has_third_party);
	assert_true(pcp_wire_matches_map(&r, &other));
	assert_false(pcp_wire_matches_map(&r, &q));  /* we asked for ourselves */
	buf[79] = 21;
	assert_int_equal(pcp_wire_parse(buf, len, &r), 0);
	assert_false(pcp_wire_matches_map(&r, &other));
	/* A success for another host that does not say for which. */
	assert_int_equal(pcp_wire_parse(buf, 60, &r), 0);
	assert_false(pcp_wire_matches_map(&r, &other));
	buf[3] = PCP_NOT_AUTHORIZED;
	assert_int_equal(pcp_wire_parse(buf, 60, &r), 0);
	assert_true(pcp_wire_matches_map(&r, &other));
}

static void test_options(void **state)
{
	struct pcp_map_req q;
	struct pcp_reply r;
	uint8_t buf[PCP_MAX_LEN];
	size_t len;

	assert_int_equal(pcp_wire_map_init(&q, "192.168.77.10", "192.168.77.20", IPPROTO_TCP,
					   8080, 18080, 3600, NONCE), 0);
	len = reply_to(&q, buf, 0, 3600, 1, 18080, "203.0.113.2");
	/* An unknown option of 5 bytes, padded to 8, before THIRD_PARTY. */
	memmove(buf + 72, buf + 60, 20);
	memcpy(buf + 60, "\x80\x00\x00\x05" "abcde\0\0\0", 12);
	assert_int_equal(pcp_wire_parse(buf, len + 12, &r), 0);
	assert_true(r.has_third_party);
	assert_true(pcp_wire_matches_map(&r, &q));
	/* Padding missing. */
	assert_int_equal(pcp_wire_parse(buf, 68, &r), -1);
	/* THIRD_PARTY twice, or of the wrong length. */
	len = reply_to(&q, buf, 0, 3600, 1, 18080, "203.0.113.2");
	memcpy(buf + 80, buf + 60, 20);
	assert_int_equal(pcp_wire_parse(buf, 100, &r), -1);
	buf[63] = 12;
	assert_int_equal(pcp_wire_parse(buf, 76, &r), -1);
}

static void test_announce(void **state)
{
	uint8_t buf[28] = { 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00 };
	uint32_t epoch = 0;
	struct pcp_reply r;

	assert_int_equal(pcp_wire_parse_announce(buf, 24, &epoch), 0);
	assert_int_equal(epoch, 256);
	assert_int_equal(pcp_wire_parse(buf, 24, &r), 0);
	assert_true(pcp_wire_matches_announce(&r));
	assert_int_equal(pcp_wire_parse_announce(buf, 28, &epoch), 0);   /* an empty option */
	assert_int_equal(pcp_wire_parse_announce(buf, 20, &epoch), -1);
	assert_int_equal(pcp_wire_parse_announce(buf, 26, &epoch), -1);
	buf[3] = PCP_NETWORK_FAILURE;
	assert_int_equal(pcp_wire_parse_announce(buf, 24, &epoch), -1);
	buf[3] = 0;
	buf[1] = 0;                                  /* a request, not an announcement */
	assert_int_equal(pcp_wire_parse_announce(buf, 24, &epoch), -1);
	buf[1] = 0x81;                               /* a MAP answer */
	assert_int_equal(pcp_wire_parse_announce(buf, 24, &epoch), -1);
	assert_int_equal(pcp_wire_parse_announce((const uint8_t[8]){ 0, 128, 0, 0 }, 8,
						 &epoch), -1);
}

/* ---- what each result code means ---- */

struct code_case {
	uint8_t code;
	uint32_t asked;              /* lifetime asked: 0 = delete */
	bool third_party;
	enum gw_outcome outcome;
	enum pcp_action action;
};

static const struct code_case cases[] = {
	{ PCP_UNSUPP_VERSION, 3600, false, GW_GONE, PCP_ACT_FALLBACK },
	{ PCP_NOT_AUTHORIZED, 3600, false, GW_REFUSED, PCP_ACT_NONE },
	{ PCP_NOT_AUTHORIZED, 0, false, GW_REFUSED, PCP_ACT_NONE },
	{ PCP_MALFORMED_REQUEST, 3600, false, GW_REFUSED, PCP_ACT_NONE },
	{ PCP_UNSUPP_OPCODE, 3600, false, GW_GONE, PCP_ACT_FALLBACK },
	{ PCP_UNSUPP_OPTION, 3600, true, GW_REFUSED, PCP_ACT_USE_UPNP },
	{ PCP_UNSUPP_OPTION, 3600, false, GW_REFUSED, PCP_ACT_NONE },
	{ PCP_MALFORMED_OPTION, 3600, true, GW_REFUSED, PCP_ACT_NONE },
	{ PCP_NETWORK_FAILURE, 3600, false, GW_TEMPORARY, PCP_ACT_NONE },
	{ PCP_NO_RESOURCES, 3600, false, GW_TEMPORARY, PCP_ACT_NONE },
	{ PCP_NO_RESOURCES, 0, false, GW_NOT_FOUND, PCP_ACT_NONE },   /* 2.3.1 */
	{ PCP_UNSUPP_PROTOCOL, 3600, false, GW_REFUSED, PCP_ACT_NONE },
	{ PCP_USER_EX_QUOTA, 3600, false, GW_TEMPORARY, PCP_ACT_NONE },
	{ PCP_CANNOT_PROVIDE_EXTERNAL, 3600, false, GW_CONFLICT, PCP_ACT_NONE },
	{ PCP_ADDRESS_MISMATCH, 3600, false, GW_TEMPORARY, PCP_ACT_REDETECT },
	{ PCP_EXCESSIVE_REMOTE_PEERS, 3600, false, GW_REFUSED, PCP_ACT_NONE },
	{ 14, 3600, false, GW_TEMPORARY, PCP_ACT_NONE },
	{ 255, 0, false, GW_TEMPORARY, PCP_ACT_NONE },
};

static void test_every_result_code(void **state)
{
	bool seen[14] = { false };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct code_case *c = &cases[i];
		struct pcp_map_req q;
		struct pcp_reply r;
		struct pcp_verdict v;
		uint8_t buf[PCP_MAX_LEN];
		char want[64];
		size_t len;

		assert_int_equal(pcp_wire_map_init(&q, "192.168.77.10",
						   c->third_party ? "192.168.77.20" : NULL,
						   IPPROTO_UDP, 8080, 18080, c->asked, NONCE), 0);
		len = reply_to(&q, buf, c->code, 30, 9, 18080, NULL);
		assert_int_equal(pcp_wire_parse(buf, len, &r), 0);
		assert_true(pcp_wire_matches_map(&r, &q));
		pcp_wire_verdict(&q, &r, &v);
		if (v.outcome != c->outcome || v.action != c->action)
			fail_msg("code %u (asked %u): outcome %d action %d", c->code, c->asked,
				 v.outcome, v.action);
		assert_int_equal(v.retry_s, 30);          /* the error's lifetime */
		snprintf(want, sizeof(want), "PCP %u %s", c->code, pcp_wire_result_name(c->code));
		assert_true(strncmp(v.error, want, strlen(want)) == 0);
		if (c->code < 14)
			seen[c->code] = true;
	}
	for (unsigned code = 1; code < 14; code++)
		assert_true(seen[code]);
	assert_string_equal(pcp_wire_result_name(8), "NO_RESOURCES");
	assert_string_equal(pcp_wire_result_name(13), "EXCESSIVE_REMOTE_PEERS");
	assert_string_equal(pcp_wire_result_name(14), "unknown result");
}

static void test_retry_capped(void **state)
{
	struct pcp_map_req q;
	struct pcp_verdict v;

	v4_req(&q, 18080, 3600);
	assert_int_equal(judged(&q, PCP_NO_RESOURCES, UINT32_MAX, 0, NULL, &v), GW_TEMPORARY);
	assert_int_equal(v.retry_s, 1800);
}

static void test_success_checks(void **state)
{
	struct pcp_map_req q;
	struct pcp_verdict v;

	/* Another port granted: said as it is (mapping.c hands it back). */
	v4_req(&q, 18080, 3600);
	assert_int_equal(judged(&q, 0, 3600, 18081, "203.0.113.2", &v), GW_OK);
	assert_int_equal(v.ext_port, 18081);
	/* Any port asked: whatever comes is fine. */
	v4_req(&q, 0, 3600);
	assert_int_equal(judged(&q, 0, 120, 1024, "203.0.113.2", &v), GW_OK);
	assert_int_equal(v.lifetime, 120);
	/* No external address, no port, no lifetime, or an IPv6 one for an
	 * IPv4 mapping: nothing usable. */
	v4_req(&q, 18080, 3600);
	assert_int_equal(judged(&q, 0, 3600, 18080, "0.0.0.0", &v), GW_FAULT);
	assert_int_equal(judged(&q, 0, 3600, 0, "203.0.113.2", &v), GW_FAULT);
	assert_int_equal(judged(&q, 0, 0, 18080, "203.0.113.2", &v), GW_FAULT);
	assert_int_equal(judged(&q, 0, 3600, 18080, "2001:db8::2", &v), GW_FAULT);
	/* A delete answered SUCCESS with lifetime 0. */
	v4_req(&q, 18080, 0);
	assert_int_equal(judged(&q, 0, 0, 18080, "203.0.113.2", &v), GW_OK);
}

static void test_ipv6_pinhole_port_zero(void **state)
{
	struct pcp_map_req q;
	struct pcp_verdict v;

	/* miniupnpd 2.3.1 renews a pinhole with external port 0: it is the
	 * internal port. */
	assert_int_equal(pcp_wire_map_init(&q, "2001:db8:77::10", NULL, IPPROTO_TCP, 8080, 8080,
					   3600, NONCE), 0);
	assert_int_equal(judged(&q, 0, 3600, 0, "2001:db8:77::10", &v), GW_OK);
	assert_int_equal(v.ext_port, 8080);
	assert_string_equal(v.ext_ip, "2001:db8:77::10");
}

/* ---- the nonce store ---- */

static char dir[64];

static int store_setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/hp-test-pcp-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	pcp_store_open(dir);
	return 0;
}

static int store_teardown(void **state)
{
	char cmd[256];

	pcp_store_close();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Does <dir>/pcp.json hold this nonce? */
static bool on_disk(const uint8_t nonce[PCP_NONCE_LEN])
{
	char path[512], hex[2 * PCP_NONCE_LEN + 1], text[8192] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/pcp.json", dir);
	f = fopen(path, "r");
	if (f) {
		text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
		fclose(f);
	}
	pcp_store_hex(nonce, hex);
	return strstr(text, hex) != NULL;
}

static void test_store_keeps_nonce(void **state)
{
	uint8_t a[PCP_NONCE_LEN], b[PCP_NONCE_LEN], c[PCP_NONCE_LEN], d[PCP_NONCE_LEN];

	assert_false(pcp_store_lookup(IPPROTO_TCP, "192.168.77.10", 8080, a));
	assert_int_equal(pcp_store_nonce(IPPROTO_TCP, "192.168.77.10", 8080, a), 0);
	/* On disk at the sync (before a request with it leaves), not sooner. */
	assert_false(on_disk(a));
	assert_int_equal(pcp_store_sync(), 0);
	assert_true(on_disk(a));
	assert_int_equal(pcp_store_nonce(IPPROTO_TCP, "192.168.77.10", 8080, b), 0);
	assert_memory_equal(a, b, PCP_NONCE_LEN);
	/* Another protocol, port or host: another nonce. */
	assert_int_equal(pcp_store_nonce(IPPROTO_UDP, "192.168.77.10", 8080, c), 0);
	assert_memory_not_equal(a, c, PCP_NONCE_LEN);
	assert_int_equal(pcp_store_nonce(IPPROTO_TCP, "192.168.77.20", 8080, d), 0);
	assert_memory_not_equal(a, d, PCP_NONCE_LEN);
	/* A restarted daemon finds them again; spellings of one address agree. */
	pcp_store_close();
	pcp_store_open(dir);
	assert_true(pcp_store_lookup(IPPROTO_TCP, "192.168.77.10", 8080, b));
	assert_memory_equal(a, b, PCP_NONCE_LEN);
	assert_int_equal(pcp_store_nonce(IPPROTO_TCP, "::ffff:192.168.77.10", 8080, b), 0);
	assert_memory_equal(a, b, PCP_NONCE_LEN);
	assert_true(pcp_store_lookup(IPPROTO_UDP, "192.168.77.10", 8080, b));
	assert_memory_equal(c, b, PCP_NONCE_LEN);
	/* Forgotten (deleted) mappings get a fresh one. */
	pcp_store_forget(IPPROTO_TCP, "192.168.77.10", 8080);
	assert_int_equal(pcp_store_sync(), 0);
	assert_false(on_disk(a));
	pcp_store_close();
	pcp_store_open(dir);
	assert_false(pcp_store_lookup(IPPROTO_TCP, "192.168.77.10", 8080, b));
	assert_true(pcp_store_lookup(IPPROTO_TCP, "192.168.77.20", 8080, b));
	assert_int_equal(pcp_store_nonce(IPPROTO_TCP, "192.168.77.10", 8080, b), 0);
	assert_memory_not_equal(a, b, PCP_NONCE_LEN);
	/* Bad keys. */
	assert_int_equal(pcp_store_nonce(IPPROTO_TCP, "nas", 8080, b), -1);
	assert_int_equal(pcp_store_nonce(IPPROTO_TCP, "192.168.77.10", 0, b), -1);
	assert_int_equal(pcp_store_nonce(1, "192.168.77.10", 80, b), -1);
	pcp_store_forget(IPPROTO_TCP, "nas", 1);   /* nothing to do */
}

static void test_store_ignores_bad_records(void **state)
{
	char path[512];
	FILE *f;
	uint8_t n[PCP_NONCE_LEN];

	snprintf(path, sizeof(path), "%s/pcp.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"nonces\": ["
	      "{\"proto\": \"tcp\", \"host\": \"192.168.77.10\", \"port\": 80, "
	      "\"nonce\": \"0102030405060708090a0b0c\"},"
	      "{\"proto\": \"sctp\", \"host\": \"192.168.77.10\", \"port\": 81, "
	      "\"nonce\": \"0102030405060708090a0b0c\"},"
	      "{\"proto\": \"udp\", \"host\": \"192.168.77.10\", \"port\": 70000, "
	      "\"nonce\": \"0102030405060708090a0b0c\"},"
	      "{\"proto\": \"udp\", \"host\": \"192.168.77.10\", \"port\": 82, "
	      "\"nonce\": \"0102030405060708090a0b0g\"},"
	      "{\"proto\": \"udp\", \"host\": \"192.168.77.10\", \"port\": 83, \"nonce\": \"01\"},"
	      "{\"proto\": \"tcp\", \"host\": \"192.168.77.10\", \"port\": 80, "
	      "\"nonce\": \"ffffffffffffffffffffffff\"},"
	      "7]}", f);
	fclose(f);
	pcp_store_open(dir);
	assert_true(pcp_store_lookup(IPPROTO_TCP, "192.168.77.10", 80, n));
	assert_memory_equal(n, NONCE, PCP_NONCE_LEN);      /* the first of two wins */
	assert_false(pcp_store_lookup(IPPROTO_UDP, "192.168.77.10", 82, n));
	assert_false(pcp_store_lookup(IPPROTO_UDP, "192.168.77.10", 83, n));
	/* Garbage in place of the file: start empty, never fail. */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("\x01garbage", f);
	fclose(f);
	pcp_store_open(dir);
	assert_false(pcp_store_lookup(IPPROTO_TCP, "192.168.77.10", 80, n));
	assert_int_equal(pcp_store_nonce(IPPROTO_TCP, "192.168.77.10", 80, n), 0);
}

static void test_store_memory_only(void **state)
{
	uint8_t a[PCP_NONCE_LEN], b[PCP_NONCE_LEN];

	pcp_store_open(NULL);
	assert_int_equal(pcp_store_nonce(IPPROTO_UDP, "2001:db8::10", 53, a), 0);
	assert_true(pcp_store_lookup(IPPROTO_UDP, "2001:db8:0::10", 53, b));
	assert_memory_equal(a, b, PCP_NONCE_LEN);
	pcp_store_open(dir);
}

static void test_hex(void **state)
{
	char hex[2 * PCP_NONCE_LEN + 1];
	uint8_t n[PCP_NONCE_LEN];

	pcp_store_hex(NONCE, hex);
	assert_string_equal(hex, "0102030405060708090a0b0c");
	assert_int_equal(pcp_store_unhex("0102030405060708090A0B0C", n), 0);
	assert_memory_equal(n, NONCE, PCP_NONCE_LEN);
	assert_int_equal(pcp_store_unhex("0102030405060708090a0b0", n), -1);
	assert_int_equal(pcp_store_unhex("0102030405060708090a0b0c0", n), -1);
	assert_int_equal(pcp_store_unhex("0102030405060708090a0b0x", n), -1);
	assert_int_equal(pcp_store_unhex(NULL, n), -1);
}

/* Which protocol opens the pinholes (gw_pinhole_pick): the one that maps
 * when it can, else the first other one that can, else the first that
 * could have (it says why not). */
static void test_pinhole_pick(void **state)
{
	struct gw_pin_cand c[3] = {
		{ &gw_backend_upnp, true }, { &gw_backend_pcp, true }, { &gw_backend_natpmp, false },
	};

	(void)state;
	assert_int_equal(gw_pinhole_pick(c, 3, 0), 0);          /* UPnP maps: UPnP */
	assert_int_equal(gw_pinhole_pick(c, 3, 1), 1);          /* protocol = pcp or auto found PCP */
	assert_int_equal(gw_pinhole_pick(c, 3, 2), 0);          /* NAT-PMP maps: no pinholes there */
	c[0].firewall = false;                                  /* an IGD v1 */
	assert_int_equal(gw_pinhole_pick(c, 3, 0), 1);
	c[1].firewall = false;                                  /* nor PCP over IPv6 */
	assert_int_equal(gw_pinhole_pick(c, 3, 1), 0);          /* UPnP says why not */
	c[0].be = NULL;                                         /* UPnP did not answer */
	assert_int_equal(gw_pinhole_pick(c, 3, 1), 1);
	c[1].be = NULL;
	assert_int_equal(gw_pinhole_pick(c, 3, 2), -1);         /* NAT-PMP alone: none */
	assert_int_equal(gw_pinhole_pick(c, 0, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pinhole_pick),
		cmocka_unit_test(test_epoch_first_reply_is_valid),
		cmocka_unit_test(test_epoch_normal_progress),
		cmocka_unit_test(test_epoch_backwards),
		cmocka_unit_test(test_epoch_drift_limits),
		cmocka_unit_test(test_epoch_extremes),
		cmocka_unit_test(test_retransmission_times),
		cmocka_unit_test(test_renewal_windows),
		cmocka_unit_test(test_renewal_gap),
		cmocka_unit_test(test_build_map_v4),
		cmocka_unit_test(test_build_map_v6_and_third_party),
		cmocka_unit_test(test_map_init_refuses),
		cmocka_unit_test(test_build_announce),
		cmocka_unit_test(test_addr_helpers),
		cmocka_unit_test(test_parse_map_success),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_short_error),
		cmocka_unit_test(test_parse_old_versions),
		cmocka_unit_test(test_match_map),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_announce),
		cmocka_unit_test(test_every_result_code),
		cmocka_unit_test(test_retry_capped),
		cmocka_unit_test(test_success_checks),
		cmocka_unit_test(test_ipv6_pinhole_port_zero),
		cmocka_unit_test_setup_teardown(test_store_keeps_nonce, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_store_ignores_bad_records, store_setup,
						store_teardown),
		cmocka_unit_test_setup_teardown(test_store_memory_only, store_setup, store_teardown),
		cmocka_unit_test(test_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
