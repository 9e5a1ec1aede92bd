/* Unit tests for the NAT-PMP backend: the RFC 6886 3.6 epoch rule, the
 * wire checks (replies, announcements, /proc/net/route), and the client
 * against an in-process fake gateway on a loopback address that sends
 * noise, wrong answers, late duplicates and error codes. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "ev.h"
#include "gw_natpmp.h"
#include "log.h"
#include "natpmp_wire.h"

/* ---- epoch rule ---- */

static void test_epoch_normal_progress(void **state)
{
	/* 100 s later the gateway says 100 s more: no reset. */
	assert_false(natpmp_epoch_reset(1000, 50000, 1100, 150000));
	/* Gateway clock a bit slow but within 7/8 - 2 s. */
	assert_false(natpmp_epoch_reset(1000, 0, 1000 + 86, 100000));
	/* Same instant, same epoch. */
	assert_false(natpmp_epoch_reset(5, 1000, 5, 1000));
}

static void test_epoch_small_jitter(void **state)
{
	/* Up to 2 s behind right away is tolerated... */
	assert_false(natpmp_epoch_reset(1000, 0, 998, 0));
	assert_false(natpmp_epoch_reset(1000, 0, 999, 500));
	/* ...more is not. */
	assert_true(natpmp_epoch_reset(1000, 0, 997, 0));
	/* 7/8 of 100 s is 87.5 s: 1000 + 87.5 - 2 = 1085.5 expected. */
	assert_true(natpmp_epoch_reset(1000, 0, 1085, 100000));
	assert_false(natpmp_epoch_reset(1000, 0, 1086, 100000));
}

static void test_epoch_backwards_and_restart(void **state)
{
	assert_true(natpmp_epoch_reset(5000, 0, 4000, 1000));
	/* Rebooted: back to 0 (or a few seconds). */
	assert_true(natpmp_epoch_reset(3600, 0, 0, 60000));
	assert_true(natpmp_epoch_reset(3600, 0, 12, 60000));
	/* A gateway that had just started and is still young is fine. */
	assert_false(natpmp_epoch_reset(0, 0, 30, 30000));
}

static void test_epoch_wrap_safe(void **state)
{
	/* Near UINT32_MAX nothing may wrap into a false reset... */
	assert_false(natpmp_epoch_reset(UINT32_MAX - 10, 0, UINT32_MAX, 10000));
	assert_false(natpmp_epoch_reset(UINT32_MAX, 0, UINT32_MAX, 0));
	/* ...or hide a real one. */
	assert_true(natpmp_epoch_reset(UINT32_MAX, 0, 0, 1000));
	/* Small prev epoch, 1 - 2 s must not underflow into a reset. */
	assert_false(natpmp_epoch_reset(0, 0, 0, 0));
	assert_false(natpmp_epoch_reset(1, 0, 0, 0));
	/* Our clock going backwards counts as no time passed. */
	assert_false(natpmp_epoch_reset(100, 100000, 100, 0));
	/* Huge elapsed times stay in range. */
	assert_true(natpmp_epoch_reset(0, INT64_MIN / 4, 0, INT64_MAX / 4));
	assert_true(natpmp_epoch_reset(UINT32_MAX, INT64_MIN, UINT32_MAX, INT64_MAX));
	assert_false(natpmp_epoch_reset(0, INT64_MAX, 0, INT64_MIN));
}

/* NAT-PMP has no permanent mappings: lease 0 asks a week (renewed). */
static void test_natpmp_lifetime(void **state)
{
	assert_int_equal(natpmp_lifetime(3600), 3600);
	assert_int_equal(natpmp_lifetime(0), 7 * 24 * 3600);
}

/* ---- wire ---- */

static void test_parse_public(void **state)
{
	const uint8_t ok[12] = { 0, 128, 0, 0, 0, 0, 1, 2, 203, 0, 113, 2 };
	struct natpmp_wire_msg m;
	char ip[INET_ADDRSTRLEN];

	assert_int_equal(natpmp_wire_parse(ok, sizeof(ok), &m), 0);
	assert_int_equal(m.op, 0);
	assert_int_equal(m.result, 0);
	assert_int_equal(m.epoch, 258);
	inet_ntop(AF_INET, &m.addr, ip, sizeof(ip));
	assert_string_equal(ip, "203.0.113.2");
	assert_true(natpmp_wire_matches(&m, 0, 0));
	assert_false(natpmp_wire_matches(&m, 2, 8080));
	/* Short, wrong version, request opcode, unknown opcode. */
	assert_int_equal(natpmp_wire_parse(ok, 11, &m), -1);
	assert_int_equal(natpmp_wire_parse(ok, 0, &m), -1);
	assert_int_equal(natpmp_wire_parse((const uint8_t[12]){ 1, 128 }, 12, &m), -1);
	assert_int_equal(natpmp_wire_parse((const uint8_t[12]){ 0, 0 }, 12, &m), -1);
	assert_int_equal(natpmp_wire_parse((const uint8_t[12]){ 0, 131 }, 12, &m), -1);
	assert_int_equal(natpmp_wire_parse(NULL, 12, &m), -1);
}

static void test_parse_mapping(void **state)
{
	const uint8_t ok[16] = { 0, 130, 0, 0, 0, 0, 0, 9, 0x1f, 0x90, 0x46, 0xa0,
				 0, 0, 0x0e, 0x10 };
	const uint8_t err[8] = { 0, 129, 0, 2, 0, 0, 0, 7 };
	struct natpmp_wire_msg m;

	assert_int_equal(natpmp_wire_parse(ok, sizeof(ok), &m), 0);
	assert_int_equal(m.op, 2);
	assert_int_equal(m.int_port, 8080);
	assert_int_equal(m.ext_port, 18080);
	assert_int_equal(m.lifetime, 3600);
	assert_int_equal(m.epoch, 9);
	assert_true(natpmp_wire_matches(&m, 2, 8080));
	assert_false(natpmp_wire_matches(&m, 2, 8081));   /* a previous request's answer */
	assert_false(natpmp_wire_matches(&m, 1, 8080));   /* UDP asked, TCP answered */
	assert_int_equal(natpmp_wire_parse(ok, 15, &m), -1);
	/* An 8-byte error reply is complete; it matches by opcode only. */
	assert_int_equal(natpmp_wire_parse(err, sizeof(err), &m), 0);
	assert_int_equal(m.result, 2);
	assert_int_equal(m.epoch, 7);
	assert_true(natpmp_wire_matches(&m, 1, 9999));
	assert_false(natpmp_wire_matches(&m, 2, 9999));
	assert_int_equal(natpmp_wire_parse(err, 7, &m), -1);
	assert_string_equal(natpmp_wire_result_name(2), "not authorized");
	assert_string_equal(natpmp_wire_result_name(3), "network failure");
	assert_string_equal(natpmp_wire_result_name(99), "unknown result");
}

static void test_parse_announce(void **state)
{
	uint8_t a[12] = { 0, 128, 0, 0, 0, 0, 0, 5, 203, 0, 113, 3 };
	struct natpmp_wire_msg m;

	assert_int_equal(natpmp_wire_parse_announce(a, 12, &m), 0);
	assert_int_equal(m.epoch, 5);
	assert_int_equal(natpmp_wire_parse_announce(a, 11, &m), -1);
	assert_int_equal(natpmp_wire_parse_announce((const uint8_t[16]){ 0, 128 }, 16, &m), -1);
	a[3] = 3;      /* result != 0 */
	assert_int_equal(natpmp_wire_parse_announce(a, 12, &m), -1);
	a[3] = 0;
	a[1] = 129;    /* a mapping reply */
	assert_int_equal(natpmp_wire_parse_announce(a, 12, &m), -1);
	a[1] = 128;
	a[0] = 2;      /* PCP */
	assert_int_equal(natpmp_wire_parse_announce(a, 12, &m), -1);
}

static void test_default_route(void **state)
{
	const char *text =
		"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		"wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
		"eth0\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
		"eth0\t00000000\t014DA8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
		"down0\t00000000\t0102A8C0\t0002\t0\t0\t1\t00000000\t0\t0\t0\n";
	struct in_addr gw;
	char ifname[IF_NAMESIZE], ip[INET_ADDRSTRLEN];

	assert_int_equal(natpmp_wire_default_gw(text, &gw, ifname), 0);
	inet_ntop(AF_INET, &gw, ip, sizeof(ip));
	assert_string_equal(ip, "192.168.77.1");
	assert_string_equal(ifname, "eth0");
	assert_int_equal(natpmp_wire_default_gw("Iface\tDestination\n", &gw, ifname), -1);
	assert_int_equal(natpmp_wire_default_gw("", &gw, ifname), -1);
	assert_int_equal(natpmp_wire_default_gw(
		"averyveryverylonginterfacename 00000000 0101A8C0 0003 0 0 1 00000000\n",
		&gw, ifname), -1);
}

/* ---- client against a fake gateway ---- */

#define FAKE_GW "127.0.0.77"

enum fake_mode { FAKE_NOISY, FAKE_SILENT, FAKE_REFUSE };

static struct {
	int fd;
	enum fake_mode mode;
	struct sockaddr_in peer;
	uint8_t reply[16];
	size_t reply_len;
	struct ev_timer *late, *dup;
	int requests;
} fake;

static struct {
	struct gw_result r[4];
	int n, want;
	int64_t t[4];
} got;

static void fake_send(const void *buf, size_t len)
{
	sendto(fake.fd, buf, len, 0, (struct sockaddr *)&fake.peer, sizeof(fake.peer));
}

static void fake_late(void *arg)
{
	fake_send(fake.reply, fake.reply_len);
	ev_timer_arm(fake.dup, 50);
}

static void fake_dup(void *arg)
{
	fake_send(fake.reply, fake.reply_len);   /* stale for the next request */
}

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }

/* Answers after 100 ms, preceded by garbage, a public-address reply and a
 * reply for another port; the answer is repeated 50 ms later. Port 9999
 * gets result 2; the granted external port is the suggested one + 1. */
static void fake_readable(int fd, short revents, void *arg)
{
	uint8_t req[64], bad[16] = { 0 };
	socklen_t len = sizeof(fake.peer);
	ssize_t n = recvfrom(fd, req, sizeof(req), 0, (struct sockaddr *)&fake.peer, &len);
	uint16_t iport;

	if (n < 2 || fake.mode == FAKE_SILENT)
		return;
	fake.requests++;
	memset(fake.reply, 0, sizeof(fake.reply));
	fake.reply[1] = 128 + req[1];
	put32(fake.reply + 4, 1000);
	fake_send("junk!", 5);
	bad[1] = req[1] == 0 ? 130 : 128;
	fake_send(bad, 12);
	if (req[1] == 0) {
		put32(fake.reply + 8, ntohl(inet_addr("198.51.100.9")));
		fake.reply_len = 12;
	} else if (n >= 12) {
		iport = (uint16_t)(req[4] << 8 | req[5]);
		memcpy(bad, fake.reply, 16);
		put16(bad + 8, iport + 1);
		fake_send(bad, 16);
		put16(fake.reply + 8, iport);
		put16(fake.reply + 10, (uint16_t)((req[6] << 8 | req[7]) + (req[8] | req[9] | req[10] | req[11] ? 1 : 0)));
		memcpy(fake.reply + 12, req + 8, 4);
		fake.reply_len = 16;
		if (iport == 9999) {
			put16(fake.reply + 2, 2);
			fake.reply_len = 8;
		}
	}
	ev_timer_arm(fake.late, 100);
}

static void on_result(void *arg, const struct gw_result *r)
{
	got.t[got.n] = ev_now_ms();
	got.r[got.n++] = *r;
	if (got.n == got.want)
		ev_break();
}

static int fake_setup(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(5351) };

	log_init(LOG_ERR, false);
	assert_int_equal(ev_init(), 0);
	memset(&got, 0, sizeof(got));
	memset(&fake, 0, sizeof(fake));
	fake.fd = socket(AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, FAKE_GW, &sa.sin_addr);
	if (bind(fake.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fake.fd);
		fake.fd = -1;
		return 0;
	}
	ev_fd_add(fake.fd, POLLIN, fake_readable, NULL);
	fake.late = ev_timer_new(fake_late, NULL);
	fake.dup = ev_timer_new(fake_dup, NULL);
	return 0;
}

static int fake_teardown(void **state)
{
	natpmp_fini();
	if (fake.fd >= 0) {
		ev_fd_del(fake.fd);
		close(fake.fd);
	}
	ev_timer_free(fake.late);
	ev_timer_free(fake.dup);
	ev_fini();
	return 0;
}

static void test_client_ignores_noise_and_stale(void **state)
{
	if (fake.fd < 0)
		skip();
	assert_int_equal(natpmp_init(FAKE_GW, 2000), 0);
	assert_string_equal(natpmp_gateway_addr(), FAKE_GW);
	got.want = 4;
	assert_true(natpmp_map(SVC_TCP, 8080, 18080, 3600, on_result, NULL) > 0);
	assert_true(natpmp_map(SVC_UDP, 8081, 18081, 60, on_result, NULL) > 0);
	assert_true(natpmp_get_external_ip(on_result, NULL) > 0);
	assert_true(natpmp_unmap(SVC_TCP, 9999, on_result, NULL) > 0);
	assert_int_equal(ev_run(), 0);
	assert_int_equal(got.r[0].outcome, GW_OK);
	assert_int_equal(got.r[0].u.map.int_port, 8080);
	assert_int_equal(got.r[0].u.map.ext_port, 18081);
	assert_int_equal(got.r[0].u.map.lease, 3600);
	assert_int_equal(got.r[0].epoch, 1000);
	assert_int_equal(got.r[1].outcome, GW_OK);
	assert_int_equal(got.r[1].u.map.int_port, 8081);
	assert_int_equal(got.r[1].u.map.lease, 60);
	assert_int_equal(got.r[2].outcome, GW_OK);
	assert_string_equal(got.r[2].u.ext_ip, "198.51.100.9");
	assert_int_equal(got.r[3].outcome, GW_REFUSED);
	assert_int_equal(got.r[3].code, 2);
	assert_string_equal(got.r[3].error, "NAT-PMP 2 not authorized");
	assert_int_equal(fake.requests, 4);     /* no retransmission was needed */
}

static void test_client_deadline(void **state)
{
	int64_t t0;

	if (fake.fd < 0)
		skip();
	fake.mode = FAKE_SILENT;
	assert_int_equal(natpmp_init(FAKE_GW, 700), 0);
	got.want = 1;
	t0 = ev_now_ms();
	assert_true(natpmp_get_external_ip(on_result, NULL) > 0);
	assert_int_equal(ev_run(), 0);
	assert_int_equal(got.r[0].outcome, GW_GONE);
	assert_string_equal(got.r[0].error, "timed out after 700 ms");
	assert_in_range(got.t[0] - t0, 690, 1000);
}

static void test_client_refused_and_cancel(void **state)
{
	uint64_t id;

	/* Nothing listens on 127.0.0.78:5351: ICMP port unreachable. */
	assert_int_equal(natpmp_init("127.0.0.78", 3000), 0);
	got.want = 1;
	id = natpmp_get_external_ip(on_result, (void *)1);
	assert_true(id > 0);
	natpmp_cancel(id);          /* queued, not sent: gone without a callback */
	assert_true(natpmp_get_external_ip(on_result, NULL) > 0);
	assert_int_equal(natpmp_map(SVC_TCP, 8080, 8080, 0, on_result, NULL), 0);
	assert_int_equal(natpmp_map(SVC_TCP, 0, 8080, 60, on_result, NULL), 0);
	assert_int_equal(natpmp_map(7, 8080, 8080, 60, on_result, NULL), 0);
	assert_int_equal(ev_run(), 0);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.r[0].outcome, GW_FAULT);
	assert_string_equal(got.r[0].error, "no NAT-PMP on gateway 127.0.0.78");
	assert_int_equal(natpmp_init("not-an-ip", 3000), -1);
	assert_string_equal(natpmp_gateway_addr(), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_epoch_normal_progress),
		cmocka_unit_test(test_epoch_small_jitter),
		cmocka_unit_test(test_epoch_backwards_and_restart),
		cmocka_unit_test(test_epoch_wrap_safe),
		cmocka_unit_test(test_natpmp_lifetime),
		cmocka_unit_test(test_parse_public),
		cmocka_unit_test(test_parse_mapping),
		cmocka_unit_test(test_parse_announce),
		cmocka_unit_test(test_default_route),
		cmocka_unit_test_setup_teardown(test_client_ignores_noise_and_stale,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_client_deadline, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_client_refused_and_cancel,
						fake_setup, fake_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
