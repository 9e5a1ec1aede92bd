/* Unit tests for provider_rfc2136.c against an in-process fake DNS server
 * on loopback (UDP and TCP on one port, in the same event loop) that can
 * answer correctly, truncate, forge, stay silent or send errors. The real
 * server (BIND) is exercised in tests/integration/test_rfc2136.py; this
 * covers what BIND will not do on demand: TC, bad MACs, spoofed IDs, lost
 * datagrams, cancel at any point. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "dns_msg.h"
#include "ev.h"
#include "log.h"
#include "provider.h"
#include "tsig.h"

#define SECRET "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

enum mode { M_OK, M_TC, M_BADMAC, M_SILENT, M_REFUSED, M_SERVFAIL, M_NOTZONE, M_BADSIG,
	    M_BADKEY, M_SPOOF, M_BADTIME, M_UNSIGNED };

static struct {
	int udp, lst, conn;
	uint16_t port;
	enum mode mode;
	int udp_requests, tcp_requests;
	uint8_t in[2 + DNS_MSG_MAX];
	size_t in_len;
	struct tsig_key key;
} F;

static int n_done;
static bool in_start;
static struct ddns_result got;
static struct ev_timer *guard;

/* ---- the fake server ---- */

static void put_unsigned_tsig(uint8_t *out, size_t *n, uint16_t id, uint16_t error)
{
	uint8_t alg[32];
	int alen = dns_name_to_wire("hmac-sha256.", true, alg, sizeof(alg));
	uint8_t *p = out + *n;

	memcpy(p, F.key.name, F.key.name_len);
	p += F.key.name_len;
	dns_put16(p, DNS_TYPE_TSIG);
	dns_put16(p + 2, DNS_CLASS_ANY);
	memset(p + 4, 0, 4);
	dns_put16(p + 8, (uint16_t)(alen + 16));
	memcpy(p + 10, alg, (size_t)alen);
	p += 10 + alen;
	memset(p, 0, 16);
	p[5] = 1;                          /* some time */
	dns_put16(p + 6, 300);
	dns_put16(p + 10, id);
	dns_put16(p + 12, error);
	*n += F.key.name_len + 10 + (size_t)alen + 16;
	dns_put16(out + 10, 1);
}

/* Header + echoed zone section, then signed (or not) with the request MAC. */
static size_t make_reply(const uint8_t *req, size_t len, unsigned rcode, bool tc, bool sign,
			 int64_t skew, uint8_t *out)
{
	struct dns_reply q;
	struct tsig_rr rr;
	const char *why;
	size_t off = DNS_HDR_LEN;
	uint8_t mac[TSIG_MAC_MAX];

	assert_int_equal(dns_msg_parse_reply(req, len, &q, &why), 0);
	assert_true(q.tsig_off > 0);
	assert_int_equal(tsig_rr_parse(req, len, q.tsig_off, &rr), 0);
	assert_true(dns_name_read(req, len, &off, NULL, 0) > 0);
	off += 4;
	memcpy(out, req, off);
	dns_put16(out + 2, (uint16_t)(DNS_FLAG_QR | DNS_OPCODE_UPDATE << 11 | rcode |
				      (tc ? DNS_FLAG_TC : 0)));
	dns_put16(out + 4, 1);
	memset(out + 6, 0, 6);
	if (sign)
		assert_int_equal(tsig_sign(&F.key, out, &off, 4096, (uint64_t)(time(NULL) + skew), 0,
					   rr.mac, rr.mac_size, mac), 0);
	return off;
}

static void udp_answer(const uint8_t *req, size_t len, struct sockaddr *sa, socklen_t sl)
{
	uint8_t out[4096];
	size_t n = 0;
	uint16_t id = dns_get16(req);

	switch (F.mode) {
	case M_OK: n = make_reply(req, len, 0, false, true, 0, out); break;
	case M_TC: n = make_reply(req, len, 0, true, false, 0, out); break;
	case M_REFUSED: n = make_reply(req, len, DNS_RCODE_REFUSED, false, true, 0, out); break;
	case M_SERVFAIL: n = make_reply(req, len, DNS_RCODE_SERVFAIL, false, true, 0, out); break;
	case M_NOTZONE: n = make_reply(req, len, DNS_RCODE_NOTZONE, false, true, 0, out); break;
	case M_BADTIME: n = make_reply(req, len, 0, false, true, -1000, out); break;
	case M_SILENT: return;
	case M_BADMAC:
		n = make_reply(req, len, 0, false, true, 0, out);
		out[n - 7] ^= 1;               /* last MAC byte */
		break;
	case M_BADSIG:
	case M_BADKEY:
		n = make_reply(req, len, DNS_RCODE_NOTAUTH, false, false, 0, out);
		put_unsigned_tsig(out, &n, id, F.mode == M_BADSIG ? TSIG_ERR_BADSIG : TSIG_ERR_BADKEY);
		break;
	case M_UNSIGNED:
		n = make_reply(req, len, DNS_RCODE_REFUSED, false, false, 0, out);
		break;
	case M_SPOOF:
		/* another ID, then no TSIG, then a bad MAC: all ignored; then the real one */
		n = make_reply(req, len, DNS_RCODE_REFUSED, false, true, 0, out);
		dns_put16(out, (uint16_t)(id + 1));
		sendto(F.udp, out, n, 0, sa, sl);
		n = make_reply(req, len, DNS_RCODE_REFUSED, false, false, 0, out);
		sendto(F.udp, out, n, 0, sa, sl);
		n = make_reply(req, len, DNS_RCODE_REFUSED, false, true, 0, out);
		out[n - 7] ^= 1;
		sendto(F.udp, out, n, 0, sa, sl);
		sendto(F.udp, "junk", 4, 0, sa, sl);
		n = make_reply(req, len, 0, false, true, 0, out);
		break;
	}
	sendto(F.udp, out, n, 0, sa, sl);
}

static void on_udp(int fd, short ev, void *arg)
{
	uint8_t buf[4096];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);

	if (n <= 0)
		return;
	F.udp_requests++;
	udp_answer(buf, (size_t)n, (struct sockaddr *)&ss, sl);
}

static void on_conn(int fd, short ev, void *arg)
{
	ssize_t n = read(fd, F.in + F.in_len, sizeof(F.in) - F.in_len);
	uint8_t out[4098];
	size_t len;

	if (n <= 0) {
		ev_fd_del(fd);
		close(fd);
		F.conn = -1;
		return;
	}
	F.in_len += (size_t)n;
	if (F.in_len < 2 || F.in_len < 2 + (size_t)dns_get16(F.in))
		return;
	F.tcp_requests++;
	len = make_reply(F.in + 2, F.in_len - 2, 0, false, true, 0, out + 2);
	dns_put16(out, (uint16_t)len);
	assert_int_equal(write(fd, out, len + 2), (ssize_t)(len + 2));
	ev_fd_del(fd);
	close(fd);
	F.conn = -1;
}

static void on_accept(int fd, short ev, void *arg)
{
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (c < 0)
		return;
	F.conn = c;
	F.in_len = 0;
	assert_int_equal(ev_fd_add(c, POLLIN, on_conn, NULL), 0);
}

/* UDP and TCP on the same free loopback port. */
static void fake_start(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	char err[128];

	assert_int_equal(tsig_key_init(&F.key, "homeport-key", NULL, SECRET, err, sizeof(err)), 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int tries = 0; tries < 20; tries++) {
		F.udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		F.lst = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		sa.sin_port = 0;
		assert_int_equal(bind(F.udp, (struct sockaddr *)&sa, sizeof(sa)), 0);
		getsockname(F.udp, (struct sockaddr *)&sa, &sl);
		if (bind(F.lst, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(F.lst, 4) == 0)
			break;
		close(F.udp);
		close(F.lst);
		F.udp = F.lst = -1;
	}
	assert_true(F.udp >= 0);
	F.port = ntohs(sa.sin_port);
	F.conn = -1;
	F.udp_requests = F.tcp_requests = 0;
	assert_int_equal(ev_fd_add(F.udp, POLLIN, on_udp, NULL), 0);
	assert_int_equal(ev_fd_add(F.lst, POLLIN, on_accept, NULL), 0);
}

static void fake_stop(void)
{
	ev_fd_del(F.udp);
	ev_fd_del(F.lst);
	close(F.udp);
	close(F.lst);
	if (F.conn >= 0) {
		ev_fd_del(F.conn);
		close(F.conn);
	}
}

/* ---- driving the provider ---- */

static void on_done(void *ctx, const struct ddns_result *res)
{
	if (in_start)
		fail_msg("done called from inside start");
	n_done++;
	got = *res;
	ev_break();
}

static char server[64];
static char *names_one[] = { (char *)"www.home.example" };
static struct cfg_ddns C;              /* the entry under test, rebuilt by cfg_init */

static const struct provider_ops *rfc(void)
{
	return provider_preset_find("rfc2136")->ops;
}

/* Set key to text, unchecked: the provider's own checks are under test. */
static void put(struct cfg_ddns *c, const char *key, const char *text)
{
	struct cfg_value *v = &c->values[cfgkey_find(c->ops->keys, c->ops->n_keys, key)];

	free(v->str);
	v->str = text ? strdup(text) : NULL;
}

static void cfg_fini(void)
{
	if (C.ops) {
		C.hostnames = NULL;           /* the tests' own arrays */
		C.n_hostnames = 0;
		config_ddns_fini(&C);
	}
}

static struct cfg_ddns *cfg_init(char **names, size_t n, uint32_t timeout)
{
	char t[16], why[160];

	cfg_fini();
	config_ddns_init(&C, "test", provider_preset_find("rfc2136"));
	snprintf(server, sizeof(server), "127.0.0.1:%u", F.port);
	put(&C, "server", server);
	put(&C, "zone", "home.example");
	put(&C, "key_name", "homeport-key");
	config_ddns_set_secret(&C, "key_secret_file", SECRET);
	snprintf(t, sizeof(t), "%u", timeout);
	assert_int_equal(config_ddns_set(&C, "timeout", t, why, sizeof(why)), 0);
	C.hostnames = names;
	C.n_hostnames = n;
	return &C;
}

static void *start(const struct cfg_ddns *c, const char *ip, struct ddns_result *res)
{
	return rfc()->start(c, ip && strchr(ip, ':') ? DDNS_REC_AAAA : DDNS_REC_A, ip,
			    on_done, NULL, res);
}

static void on_guard(void *arg)
{
	ev_break();
}

static int setup(void **state)
{
	log_init(LOG_ERR, false);
	if (ev_init() < 0)
		return -1;
	guard = ev_timer_new(on_guard, NULL);
	fake_start();
	n_done = 0;
	memset(&got, 0, sizeof(got));
	return 0;
}

static int teardown(void **state)
{
	cfg_fini();
	fake_stop();
	ev_timer_free(guard);
	ev_fini();
	return 0;
}

/* Start, run the loop until done (at most guard_ms), return elapsed ms. */
static int64_t run(const struct cfg_ddns *c, const char *ip, int64_t guard_ms)
{
	struct ddns_result res;
	int64_t t0 = ev_now_ms();
	void *h;

	in_start = true;
	h = start(c, ip, &res);
	in_start = false;
	assert_non_null(h);
	ev_timer_arm(guard, guard_ms);
	ev_run();
	ev_timer_disarm(guard);
	assert_int_equal(n_done, 1);
	return ev_now_ms() - t0;
}

static void expect(enum ddns_outcome o, const char *text)
{
	assert_int_equal(got.outcome, o);
	if (text && strstr(got.error, text) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", got.error, text);
}

static void test_ok_udp(void **state)
{
	struct cfg_ddns *c;

	F.mode = M_OK;
	c = cfg_init(names_one, 1, 5);
	run(c, "203.0.113.7", 5000);
	expect(DDNS_OK, NULL);
	assert_string_equal(got.error, "");
	assert_int_equal(F.udp_requests, 1);
	assert_int_equal(F.tcp_requests, 0);
}

static void test_truncated_goes_tcp(void **state)
{
	struct cfg_ddns *c;

	F.mode = M_TC;
	c = cfg_init(names_one, 1, 5);
	run(c, "203.0.113.7", 5000);
	expect(DDNS_OK, NULL);
	assert_int_equal(F.udp_requests, 1);
	assert_int_equal(F.tcp_requests, 1);
}

static void test_big_update_tcp_first(void **state)
{
	static char name[40][40];
	char *names[40];
	struct cfg_ddns *c;

	for (int i = 0; i < 40; i++) {
		snprintf(name[i], sizeof(name[i]), "host-number-%02d.home.example", i);
		names[i] = name[i];
	}
	F.mode = M_OK;
	c = cfg_init(names, 40, 5);
	run(c, "2001:db8::1", 5000);
	expect(DDNS_OK, NULL);
	assert_int_equal(F.udp_requests, 0);
	assert_int_equal(F.tcp_requests, 1);
}

static void test_rcodes(void **state)
{
	static const struct { enum mode m; enum ddns_outcome o; const char *text; } cases[] = {
		{ M_REFUSED, DDNS_PERMFAIL, "REFUSED (rcode 5)" },
		{ M_NOTZONE, DDNS_PERMFAIL, "NOTZONE (rcode 10)" },
		{ M_SERVFAIL, DDNS_TEMPFAIL, "SERVFAIL (rcode 2)" },
		/* unsigned, so anyone on the path could have sent them: temporary */
		{ M_BADSIG, DDNS_TEMPFAIL, "server answered BADSIG without a TSIG signature" },
		{ M_BADKEY, DDNS_TEMPFAIL, "server answered BADKEY without a TSIG signature" },
		{ M_BADTIME, DDNS_TEMPFAIL, "clock" },
	};
	struct cfg_ddns *c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		F.mode = cases[i].m;
		n_done = 0;
		c = cfg_init(names_one, 1, 5);
		run(c, "203.0.113.7", 5000);
		expect(cases[i].o, cases[i].text);
	}
}

static void test_spoofs_ignored(void **state)
{
	struct cfg_ddns *c;

	F.mode = M_SPOOF;
	c = cfg_init(names_one, 1, 5);
	run(c, "203.0.113.7", 5000);
	expect(DDNS_OK, NULL);
}

static void test_bad_mac_rejected(void **state)
{
	struct cfg_ddns *c;
	int64_t ms;

	F.mode = M_BADMAC;
	c = cfg_init(names_one, 1, 1);
	ms = run(c, "203.0.113.7", 5000);
	expect(DDNS_TEMPFAIL, "reply TSIG MAC does not verify");
	assert_true(ms >= 900 && ms < 2000);
}

static void test_unsigned_rejected(void **state)
{
	struct cfg_ddns *c;
	int64_t ms;

	F.mode = M_UNSIGNED;
	c = cfg_init(names_one, 1, 1);
	run(c, "203.0.113.7", 5000);
	expect(DDNS_TEMPFAIL, "server answered REFUSED without a TSIG signature: wrong key, "
	       "or the server does not allow this key/address");
	/* what PowerDNS does with a wrong key: the attempt ends after a short
	 * grace for a signed answer, not at the deadline, and is not resent */
	F.udp_requests = 0;
	n_done = 0;
	c = cfg_init(names_one, 1, 20);
	ms = run(c, "203.0.113.7", 25000);
	expect(DDNS_TEMPFAIL, "server answered REFUSED without a TSIG signature");
	assert_true(ms < 20000);
	assert_int_equal(F.udp_requests, 1);
}

static void test_silent_retransmits(void **state)
{
	struct cfg_ddns *c;
	int64_t ms;

	F.mode = M_SILENT;
	c = cfg_init(names_one, 1, 2);
	ms = run(c, "203.0.113.7", 5000);
	expect(DDNS_TEMPFAIL, "no reply from 127.0.0.1:");
	assert_true(ms >= 1900 && ms < 2600);
	assert_int_equal(F.udp_requests, 3);     /* 0, 0.5 s, 1.5 s */
}

static void test_nothing_listening(void **state)
{
	struct cfg_ddns *c;
	int64_t ms;

	c = cfg_init(names_one, 1, 5);
	fake_stop();
	ms = run(c, "203.0.113.7", 6000);
	fake_start();
	expect(DDNS_TEMPFAIL, "connection refused");
	assert_true(ms < 1000);
}

static void test_start_refusals(void **state)
{
	static const struct { const char *server, *zone, *secret, *ip, *host, *text; } cases[] = {
		{ "ns.home.example", NULL, NULL, NULL, NULL, "host names are not resolved" },
		{ "127.0.0.1:0", NULL, NULL, NULL, NULL, "not ADDRESS[:PORT]" },
		{ "127.0.0.1:99999", NULL, NULL, NULL, NULL, "not ADDRESS[:PORT]" },
		{ "[::1", NULL, NULL, NULL, NULL, "not ADDRESS[:PORT]" },
		{ "", NULL, NULL, NULL, NULL, "no DNS server" },
		{ NULL, NULL, NULL, NULL, "www.example.org", "is not inside zone" },
		{ NULL, NULL, "not-base64!", NULL, NULL, "not valid base64" },
		{ NULL, NULL, NULL, "300.1.1.1", NULL, "not an IP address" },
		{ NULL, "", NULL, NULL, NULL, "no zone" },
	};
	struct cfg_ddns *c;
	struct ddns_result res;
	char *host[1];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		host[0] = (char *)(cases[i].host ? cases[i].host : "www.home.example");
		c = cfg_init(host, 1, 5);
		if (cases[i].server)
			put(c, "server", cases[i].server);
		if (cases[i].zone)
			put(c, "zone", cases[i].zone);
		if (cases[i].secret)
			config_ddns_set_secret(c, "key_secret_file", cases[i].secret);
		assert_null(start(c, cases[i].ip ? cases[i].ip : "1.2.3.4", &res));
		assert_int_equal(res.outcome, DDNS_PERMFAIL);
		if (strstr(res.error, cases[i].text) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, res.error, cases[i].text);
		assert_null(strstr(res.error, "AAECAw"));
	}
	/* nothing is sent and done never runs */
	ev_timer_arm(guard, 100);
	ev_run();
	assert_int_equal(n_done, 0);
	assert_int_equal(F.udp_requests, 0);
}

static void test_ipv6_literals(void **state)
{
	struct cfg_ddns *c;
	struct ddns_result res;
	void *h;

	c = cfg_init(names_one, 1, 5);
	put(c, "server", "[::1]:5353");
	h = start(c, "1.2.3.4", &res);
	assert_non_null(h);
	rfc()->cancel(h);
	put(c, "server", "::1");
	h = start(c, "1.2.3.4", &res);
	assert_non_null(h);
	rfc()->cancel(h);
	assert_int_equal(n_done, 0);
}

static void test_cancel(void **state)
{
	struct cfg_ddns *c;
	struct ddns_result res;
	void *h;

	/* before anything was sent */
	F.mode = M_OK;
	c = cfg_init(names_one, 1, 5);
	h = start(c, "203.0.113.7", &res);
	assert_non_null(h);
	rfc()->cancel(h);
	ev_timer_arm(guard, 200);
	ev_run();
	assert_int_equal(n_done, 0);
	assert_int_equal(F.udp_requests, 0);
	/* while waiting for an answer */
	F.mode = M_SILENT;
	h = start(c, "203.0.113.7", &res);
	ev_timer_arm(guard, 100);
	ev_run();
	assert_int_equal(F.udp_requests, 1);
	rfc()->cancel(h);
	ev_timer_arm(guard, 700);
	ev_run();
	assert_int_equal(n_done, 0);
	assert_int_equal(F.udp_requests, 1);     /* no retransmit after cancel */
	rfc()->cancel(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ok_udp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_goes_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_update_tcp_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rcodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spoofs_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_mac_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsigned_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_retransmits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_listening, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_literals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	};
	return cmocka_run_group_tests_name("rfc2136", tests, NULL, NULL);
}
