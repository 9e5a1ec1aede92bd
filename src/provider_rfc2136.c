/* provider_rfc2136.c - DNS UPDATE (RFC 2136) signed with TSIG (RFC 8945),
 * on the event loop: one message replaces the A (AAAA) RRset of every
 * hostname; UDP with retransmits under one deadline, TCP when the reply is
 * truncated or the request is too big for a datagram.
 *
 * The server must be an IP address: a name lookup would block the loop, so
 * names are refused at start with a sentence saying so.
 *
 * Spoofing: on UDP a reply that does not verify (wrong ID, bad MAC, no
 * TSIG) is ignored and we keep waiting, as resolvers do; its reason is
 * reported if nothing better arrives before the deadline. Error replies
 * that carry no signature (BADSIG/BADKEY, which servers send unsigned by
 * design, RFC 8945 5.2, and the REFUSED that PowerDNS sends for a key it
 * does not accept) could come from anyone on the path, so they never end
 * an entry for good: after one, we wait a short grace for a signed answer,
 * then end the attempt as a temporary failure that says what was seen. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns_msg.h"
#include "ev.h"
#include "homeport.h"
#include "log.h"
#include "provider.h"
#include "tsig.h"
#include "util.h"

#define RFC2136_TTL_DEF      300
#define RFC2136_TIMEOUT_DEF  30        /* seconds, when timeout is 0 */
#define RETRY_FIRST_MS       2000      /* UDP retransmit gaps: 2 s, 4 s, 8 s at most */
#define UDP_MAX_SENDS        4
#define UDP_RBUF             4096
#define UNSIGNED_GRACE_MS    1000      /* after an unsigned error: time for a signed answer */
#define TCP_RBUF             (2 + DNS_MSG_MAX)

/* ---- keys ---- */

enum { K_SERVER, K_ZONE, K_TTL, K_KEY_NAME, K_KEY_ALGORITHM, K_KEY_SECRET_FILE, K_TIMEOUT };

static const struct cfgkey keys[] = {
	[K_SERVER]          = { .name = "server", .type = CK_ADDRESS, .flags = CK_FP | CK_REQUIRED },
	[K_ZONE]            = { .name = "zone", .type = CK_ZONE, .flags = CK_FP | CK_REQUIRED },
	[K_TTL]             = { .name = "ttl", .type = CK_SECONDS, .flags = CK_FP, .max = INT32_MAX },
	[K_KEY_NAME]        = { .name = "key_name", .type = CK_DNSNAME, .flags = CK_FP,
				.what = "key name" },
	[K_KEY_ALGORITHM]   = { .name = "key_algorithm", .type = CK_STRING, .flags = CK_FP },
	[K_KEY_SECRET_FILE] = { .name = "key_secret_file", .type = CK_SECRET_FILE,
				.flags = CK_FP | CK_REQUIRED },
	[K_TIMEOUT]         = CFGKEY_TIMEOUT,
};

static bool in_zone(const char *h, const char *zone)
{
	size_t hl = strlen(h), zl = strlen(zone);

	return strcasecmp(h, zone) == 0 ||
	       (hl > zl && h[hl - zl - 1] == '.' && strcasecmp(h + hl - zl, zone) == 0);
}

/* key_secret_file holds the base64 secret alone or a BIND key file: keep
 * the secret, and take the key's name and algorithm from the file unless
 * the section gives them. */
static void read_key_file(struct cfg_ddns *d, struct config_check *chk)
{
	struct cfg_value *name = &d->values[K_KEY_NAME], *alg = &d->values[K_KEY_ALGORITHM];
	struct cfg_value *file = &d->values[K_KEY_SECRET_FILE];
	char *kname = NULL, *kalg = NULL, *secret = NULL, why[160];

	if (tsig_key_parse(file->secret, &kname, &kalg, &secret, why, sizeof(why)) < 0) {
		config_check_error(chk, "key_secret_file", "key_secret_file: %s", why);
		free_secret(file->secret);
		file->secret = NULL;
		return;
	}
	free_secret(file->secret);
	file->secret = secret;
	if (name->str == NULL && kname)
		name->str = xstrdup(kname);
	if (alg->str == NULL && kalg) {
		if (!tsig_algorithm_supported(kalg))
			config_check_error(chk, "key_secret_file",
					   "key_secret_file: unsupported algorithm \"%s\"", kalg);
		else
			alg->str = xstrdup(kalg);
	}
	free(kname);
	free(kalg);
}

static void rfc2136_validate(struct cfg_ddns *d, struct config_check *chk)
{
	const char *zone = cfg_ddns_str(d, K_ZONE);
	struct cfg_value *alg = &d->values[K_KEY_ALGORITHM];

	for (size_t i = 0; zone && i < d->n_hostnames; i++)
		if (!in_zone(d->hostnames[i], zone))
			config_check_error(chk, "hostname", "hostname: \"%s\" is not inside zone %s",
					   d->hostnames[i], zone);
	if (alg->set && !tsig_algorithm_supported(alg->str ? alg->str : ""))
		config_check_error(chk, "key_algorithm", "key_algorithm: unsupported \"%s\" "
				   "(hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1, "
				   "hmac-md5)", alg->str ? alg->str : "");
	if (d->values[K_KEY_SECRET_FILE].secret)
		read_key_file(d, chk);
	if (alg->str == NULL)
		alg->str = xstrdup("hmac-sha256");
	if (cfg_ddns_str(d, K_KEY_NAME) == NULL && cfg_ddns_str(d, K_KEY_SECRET_FILE))
		config_check_error(chk, NULL, "[ddns:%s]: 'key_name' is required (the key file does "
				   "not name the key)", d->name);
}

enum phase { PH_IDLE, PH_UDP, PH_TCP_CONNECT, PH_TCP_SEND, PH_TCP_RECV };

struct rfc2136 {
	ddns_done_cb done;
	void *ctx;
	struct sockaddr_storage sa;
	socklen_t salen;
	char where[INET6_ADDRSTRLEN + 16];  /* "203.0.113.1:53" for messages */
	char key_name[80], zone[80];        /* for messages; never the secret */
	struct tsig_key key;
	uint8_t *buf;                       /* 2-byte TCP length, then the message */
	size_t msg_len;
	uint16_t id;
	uint8_t mac[TSIG_MAC_MAX];
	enum phase phase;
	int fd;
	struct ev_timer *deadline, *step;
	uint32_t timeout_s;
	int sends;
	int64_t gap_ms;
	uint8_t *rbuf;
	size_t rcap, rlen, rwant, sent;
	char note[160];                     /* why the last reply was ignored */
	char unsigned_err[24];              /* "REFUSED", "BADSIG": an unsigned error seen */
	struct ddns_result res;
	bool in_done;
};

static void udp_start(struct rfc2136 *r);
static void tcp_start(struct rfc2136 *r);

static void req_free(struct rfc2136 *r)
{
	if (r->fd >= 0) {
		ev_fd_del(r->fd);
		close(r->fd);
	}
	ev_timer_free(r->deadline);
	ev_timer_free(r->step);
	tsig_key_wipe(&r->key);
	free(r->buf);
	free(r->rbuf);
	free(r);
}

static void set_result(struct ddns_result *res, enum ddns_outcome o, const char *fmt, va_list ap)
{
	memset(res, 0, sizeof(*res));
	res->outcome = o;
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
}

/* The one way out once started: calls done, then frees everything. */
static void finish(struct rfc2136 *r, enum ddns_outcome o, const char *fmt, ...)
	HP_PRINTF(3, 4);
static void finish(struct rfc2136 *r, enum ddns_outcome o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_result(&r->res, o, fmt, ap);
	va_end(ap);
	if (r->fd >= 0) {
		ev_fd_del(r->fd);
		close(r->fd);
		r->fd = -1;
	}
	ev_timer_disarm(r->deadline);
	ev_timer_disarm(r->step);
	log_debug("rfc2136: %s: %s", r->where, o == DDNS_OK ? "updated" : r->res.error);
	r->in_done = true;
	r->done(r->ctx, &r->res);
	req_free(r);
}

/* ---- start: checks, message, signature ---- */

static int fail_start(struct ddns_result *res, enum ddns_outcome o, const char *fmt, ...)
	HP_PRINTF(3, 4);
static int fail_start(struct ddns_result *res, enum ddns_outcome o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_result(res, o, fmt, ap);
	va_end(ap);
	return -1;
}

/* "host[:port]", "[v6]:port" or a bare IPv6 literal; numeric only. */
static int parse_server(struct rfc2136 *r, const char *s, struct ddns_result *res)
{
	char host[INET6_ADDRSTRLEN + 32], port[8] = "53";
	const char *colon = s ? strrchr(s, ':') : NULL;
	struct addrinfo hints = { 0 }, *ai = NULL;
	uint16_t portnum;
	size_t hl;

	if (s == NULL || *s == '\0')
		return fail_start(res, DDNS_PERMFAIL, "no DNS server given (server = ADDRESS[:PORT])");
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e || (e[1] && (e[1] != ':' || strlen(e + 2) >= sizeof(port))))
			goto bad;
		hl = (size_t)(e - s - 1);
		if (e[1])
			strcpy(port, e + 2);
		s++;
	} else if (colon && strchr(s, ':') == colon) {
		hl = (size_t)(colon - s);
		if (strlen(colon + 1) >= sizeof(port))
			goto bad;
		strcpy(port, colon + 1);
	} else {
		hl = strlen(s);          /* no colon, or an IPv6 literal without port */
	}
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, s, hl);
	host[hl] = '\0';
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;  /* never a lookup */
	hints.ai_socktype = SOCK_DGRAM;
	if (parse_port(port, &portnum) < 0 || getaddrinfo(host, port, &hints, &ai) != 0 ||
	    ai->ai_addrlen > sizeof(r->sa)) {
		if (ai)
			freeaddrinfo(ai);
		goto bad;
	}
	memcpy(&r->sa, ai->ai_addr, ai->ai_addrlen);
	r->salen = ai->ai_addrlen;
	freeaddrinfo(ai);
	snprintf(r->where, sizeof(r->where), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
	return 0;
bad:
	return fail_start(res, DDNS_PERMFAIL, "server \"%.80s\" is not ADDRESS[:PORT] with an IP "
			  "address (host names are not resolved: the look-up would block)", s);
}

static int build_message(struct rfc2136 *r, const struct cfg_ddns *cfg, enum ddns_record rec,
			 const char *ip, struct ddns_result *res)
{
	uint8_t addr[16];
	char err[200];
	struct dns_update u = { .ipv6 = rec == DDNS_REC_AAAA };
	uint32_t ttl = cfg_ddns_num(cfg, K_TTL);
	size_t cap = 2 + DNS_MSG_MAX;

	if (!ip || inet_pton(u.ipv6 ? AF_INET6 : AF_INET, ip, addr) != 1)
		return fail_start(res, DDNS_PERMFAIL, "\"%.60s\" is not an IP address for %s records",
				  ip ? ip : "", u.ipv6 ? "AAAA" : "A");
	if (getrandom(&r->id, sizeof(r->id), 0) != sizeof(r->id))
		r->id = (uint16_t)(ev_now_ms() ^ getpid());
	u.id = r->id;
	u.zone = cfg_ddns_str(cfg, K_ZONE);
	u.names = (const char *const *)cfg->hostnames;
	u.n_names = cfg->n_hostnames;
	u.addr = addr;
	u.ttl = ttl ? ttl : RFC2136_TTL_DEF;
	r->buf = xcalloc(1, cap);
	if (dns_msg_build_update(&u, r->buf + 2, cap - 2, &r->msg_len, err, sizeof(err)) < 0)
		return fail_start(res, DDNS_PERMFAIL, "%s", err);
	if (tsig_sign(&r->key, r->buf + 2, &r->msg_len, cap - 2, (uint64_t)time(NULL), 0,
		      NULL, 0, r->mac) < 0)
		return fail_start(res, DDNS_TEMPFAIL, "cannot sign the DNS UPDATE (OpenSSL HMAC failed)");
	dns_put16(r->buf, (uint16_t)r->msg_len);
	return 0;
}

static int check_cfg(struct rfc2136 *r, const struct cfg_ddns *cfg, struct ddns_result *res)
{
	const char *alg = cfg_ddns_str(cfg, K_KEY_ALGORITHM);
	const char *zone = cfg_ddns_str(cfg, K_ZONE), *name = cfg_ddns_str(cfg, K_KEY_NAME);
	const char *secret = cfg_ddns_secret(cfg, K_KEY_SECRET_FILE);
	char err[200];

	if (zone == NULL || zone[0] == '\0')
		return fail_start(res, DDNS_PERMFAIL, "no zone given for the DNS UPDATE");
	if (name == NULL || secret == NULL)
		return fail_start(res, DDNS_PERMFAIL, "key_name and key_secret_file are required");
	if (tsig_key_init(&r->key, name, alg ? alg : "hmac-sha256", secret, err, sizeof(err)) < 0)
		return fail_start(res, DDNS_PERMFAIL, "%s", err);
	snprintf(r->key_name, sizeof(r->key_name), "%s", name);
	snprintf(r->zone, sizeof(r->zone), "%s", zone);
	return 0;
}

static void on_deadline(void *arg);
static void on_step(void *arg);

static void *rfc2136_start(const struct cfg_ddns *cfg, enum ddns_record rec, const char *ip,
			   ddns_done_cb done, void *ctx, struct ddns_result *res)
{
	struct rfc2136 *r = xcalloc(1, sizeof(*r));

	memset(res, 0, sizeof(*res));
	r->fd = -1;
	r->done = done;
	r->ctx = ctx;
	if (parse_server(r, cfg_ddns_str(cfg, K_SERVER), res) < 0 || check_cfg(r, cfg, res) < 0 ||
	    build_message(r, cfg, rec, ip, res) < 0) {
		req_free(r);
		return NULL;
	}
	r->timeout_s = cfg_ddns_num(cfg, K_TIMEOUT);
	if (r->timeout_s == 0)
		r->timeout_s = RFC2136_TIMEOUT_DEF;
	r->deadline = ev_timer_new(on_deadline, r);
	r->step = ev_timer_new(on_step, r);
	ev_timer_arm(r->deadline, (int64_t)r->timeout_s * 1000);
	ev_timer_arm(r->step, 0);     /* first send from the loop, never from here */
	log_debug("rfc2136: UPDATE id %u for %zu name(s) in %s to %s, %zu bytes", r->id,
		  cfg->n_hostnames, r->zone, r->where, r->msg_len);
	return r;
}

static void rfc2136_cancel(void *handle)
{
	struct rfc2136 *r = handle;

	if (r == NULL || r->in_done)
		return;              /* inside done: freed when done returns */
	req_free(r);
}

/* ---- verdicts ---- */

static void tsig_error_verdict(struct rfc2136 *r, const struct tsig_rr *rr)
{
	const char *n = tsig_error_name(rr->error);

	switch (rr->error) {
	case TSIG_ERR_BADSIG:
		finish(r, DDNS_PERMFAIL, "TSIG error BADSIG from %s: key or secret wrong", r->where);
		break;
	case TSIG_ERR_BADKEY:
		finish(r, DDNS_PERMFAIL, "TSIG error BADKEY from %s: the server does not know key "
		       "\"%s\" with algorithm %s", r->where, r->key_name, tsig_key_algorithm(&r->key));
		break;
	case TSIG_ERR_BADTIME:
		finish(r, DDNS_TEMPFAIL, "TSIG error BADTIME from %s: our clock and the server's "
		       "differ by more than %d s", r->where, TSIG_FUDGE);
		break;
	case TSIG_ERR_BADTRUNC:
		finish(r, DDNS_PERMFAIL, "TSIG error BADTRUNC from %s", r->where);
		break;
	default:
		finish(r, DDNS_TEMPFAIL, "TSIG error %s (%u) from %s", n, rr->error, r->where);
	}
}

static void rcode_verdict(struct rfc2136 *r, unsigned rcode)
{
	const char *n = dns_rcode_name(rcode);

	switch (rcode) {
	case DNS_RCODE_NOERROR:
		finish(r, DDNS_OK, "%s", "");
		break;
	case DNS_RCODE_REFUSED:
		finish(r, DDNS_PERMFAIL, "DNS UPDATE refused by %s: REFUSED (rcode 5); the "
		       "server's policy does not let key \"%s\" change these names", r->where,
		       r->key_name);
		break;
	case DNS_RCODE_NOTAUTH:
		finish(r, DDNS_PERMFAIL, "DNS UPDATE not authorized by %s: NOTAUTH (rcode 9); "
		       "it is not authoritative for zone \"%s\"", r->where, r->zone);
		break;
	case DNS_RCODE_NOTZONE:
		finish(r, DDNS_PERMFAIL, "DNS UPDATE rejected by %s: NOTZONE (rcode 10); a name "
		       "is outside zone \"%s\"", r->where, r->zone);
		break;
	case DNS_RCODE_FORMERR:
	case DNS_RCODE_NOTIMP:
		finish(r, DDNS_PERMFAIL, "DNS UPDATE rejected by %s: %s (rcode %u); the server "
		       "cannot handle this update", r->where, n, rcode);
		break;
	default:
		finish(r, DDNS_TEMPFAIL, "DNS UPDATE failed at %s: %s (rcode %u)", r->where, n, rcode);
	}
}

static void finish_unsigned(struct rfc2136 *r)
{
	finish(r, DDNS_TEMPFAIL, "DNS UPDATE to %s: server answered %s without a TSIG signature: "
	       "wrong key, or the server does not allow this key/address", r->where,
	       r->unsigned_err);
}

/* An error reply without a signature (what: its rcode or TSIG error name).
 * Over TCP it is the answer; over UDP it may be forged: stop retransmitting
 * and give a signed answer a short grace (on_step ends it). */
static bool unsigned_error(struct rfc2136 *r, bool tcp, const char *what)
{
	bool first = r->unsigned_err[0] == '\0';

	snprintf(r->unsigned_err, sizeof(r->unsigned_err), "%s", what);
	if (tcp) {
		finish_unsigned(r);
		return true;
	}
	log_debug("rfc2136: %s: unsigned %s, waiting for a signed answer", r->where, what);
	if (first)
		ev_timer_arm(r->step, UNSIGNED_GRACE_MS);
	return false;
}

/* A reply we cannot trust: over UDP note it and wait on; over TCP (no
 * spoofing there) it is the answer. Returns true when finished. */
static bool reject(struct rfc2136 *r, bool tcp, const char *fmt, ...) HP_PRINTF(3, 4);
static bool reject(struct rfc2136 *r, bool tcp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	va_end(ap);
	if (tcp) {
		finish(r, DDNS_TEMPFAIL, "DNS UPDATE to %s: reply rejected: %s", r->where, r->note);
		return true;
	}
	log_debug("rfc2136: %s: reply ignored: %s", r->where, r->note);
	return false;
}

/* Returns true when the request finished or moved on to TCP. */
static bool handle_reply(struct rfc2136 *r, const uint8_t *msg, size_t len, bool tcp)
{
	struct dns_reply rep;
	struct tsig_rr rr;
	const char *why;
	enum tsig_status st;

	if (len < 2 || dns_get16(msg) != r->id)
		return reject(r, tcp, "reply with another message ID");
	if (dns_msg_parse_reply(msg, len, &rep, &why) < 0)
		return reject(r, tcp, "malformed reply: %s", why);
	if (!rep.qr || rep.opcode != DNS_OPCODE_UPDATE)
		return reject(r, tcp, "reply is not an UPDATE response");
	if (rep.tc) {
		if (tcp)
			return reject(r, tcp, "truncated reply over TCP");
		log_debug("rfc2136: %s: truncated reply, retrying over TCP", r->where);
		tcp_start(r);
		return true;
	}
	st = tsig_verify(&r->key, msg, len, rep.tsig_off, r->mac, r->key.mac_size,
			 (uint64_t)time(NULL), &rr);
	if (st == TSIG_VERIFIED && rr.error == 0)
		rcode_verdict(r, rep.rcode);
	else if (st == TSIG_VERIFIED)
		tsig_error_verdict(r, &rr);
	else if (st == TSIG_UNSIGNED_ERROR)
		return unsigned_error(r, tcp, tsig_error_name(rr.error));
	else if (st == TSIG_NOT_SIGNED && rep.rcode != DNS_RCODE_NOERROR)
		return unsigned_error(r, tcp, dns_rcode_name(rep.rcode));
	else if (st == TSIG_BAD_TIME)
		finish(r, DDNS_TEMPFAIL, "reply from %s was signed at a time more than %u s off "
		       "our clock: is the clock set?", r->where, rr.fudge);
	else
		return reject(r, tcp, "%s (%s, rcode %u)", tsig_status_text(st),
			      dns_rcode_name(rep.rcode), rep.rcode);
	return true;
}

/* ---- UDP ---- */

static void net_error(struct rfc2136 *r, int err, const char *what)
{
	if (err == ECONNREFUSED)
		finish(r, DDNS_TEMPFAIL, "DNS UPDATE to %s: connection refused (nothing listening "
		       "on that port)", r->where);
	else
		finish(r, DDNS_TEMPFAIL, "DNS UPDATE to %s: %s: %s", r->where, what, strerror(err));
}

static void udp_send(struct rfc2136 *r)
{
	if (send(r->fd, r->buf + 2, r->msg_len, MSG_NOSIGNAL) < 0 &&
	    errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS && errno != EINTR) {
		net_error(r, errno, "send");
		return;
	}
	if (++r->sends < UDP_MAX_SENDS) {
		ev_timer_arm(r->step, r->gap_ms);
		r->gap_ms *= 2;
	}
}

static void on_udp(int fd, short revents, void *arg)
{
	struct rfc2136 *r = arg;

	for (;;) {
		ssize_t n = recv(fd, r->rbuf, r->rcap, MSG_TRUNC);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				net_error(r, errno, "receive");
			return;
		}
		if ((size_t)n > r->rcap) {
			reject(r, false, "reply of %zd bytes is too large", n);
			continue;
		}
		if (handle_reply(r, r->rbuf, (size_t)n, false))
			return;
	}
}

static int open_socket(struct rfc2136 *r, int type)
{
	int fd = socket(r->sa.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&r->sa, r->salen) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void udp_start(struct rfc2136 *r)
{
	r->rcap = UDP_RBUF;
	r->rbuf = xcalloc(1, r->rcap);
	r->fd = open_socket(r, SOCK_DGRAM);
	if (r->fd < 0) {
		net_error(r, errno, "UDP socket");
		return;
	}
	if (ev_fd_add(r->fd, POLLIN, on_udp, r) < 0) {
		net_error(r, errno, "event loop");
		return;
	}
	r->phase = PH_UDP;
	/* short deadlines still get a few tries */
	r->gap_ms = (int64_t)r->timeout_s * 1000 / 4;
	if (r->gap_ms > RETRY_FIRST_MS)
		r->gap_ms = RETRY_FIRST_MS;
	udp_send(r);
}

/* ---- TCP ---- */

/* Returns -1 when the request finished (and is gone). */
static int tcp_connected(struct rfc2136 *r)
{
	int err = 0;
	socklen_t l = sizeof(err);

	if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
		err = errno;
	if (err) {
		net_error(r, err, "TCP connect");
		return -1;
	}
	r->phase = PH_TCP_SEND;
	r->sent = 0;
	return 0;
}

static void tcp_send(struct rfc2136 *r)
{
	size_t total = r->msg_len + 2;
	ssize_t n = send(r->fd, r->buf + r->sent, total - r->sent, MSG_NOSIGNAL);

	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			net_error(r, errno, "TCP send");
		return;
	}
	r->sent += (size_t)n;
	if (r->sent == total) {
		r->phase = PH_TCP_RECV;
		r->rlen = 0;
		r->rwant = 2;
		ev_fd_set_events(r->fd, POLLIN);
	}
}

static void tcp_recv(struct rfc2136 *r)
{
	ssize_t n = recv(r->fd, r->rbuf + r->rlen, r->rwant - r->rlen, 0);

	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			net_error(r, errno, "TCP receive");
		return;
	}
	if (n == 0) {
		finish(r, DDNS_TEMPFAIL, "DNS UPDATE to %s: the server closed the TCP connection "
		       "before a whole reply", r->where);
		return;
	}
	r->rlen += (size_t)n;
	if (r->rlen < r->rwant)
		return;
	if (r->rwant == 2) {
		r->rwant = 2 + (size_t)dns_get16(r->rbuf);   /* at most TCP_RBUF */
		if (r->rwant > 2)
			return;
	}
	if (!handle_reply(r, r->rbuf + 2, r->rwant - 2, true))
		finish(r, DDNS_TEMPFAIL, "DNS UPDATE to %s: %s", r->where, r->note);
}

static void on_tcp(int fd, short revents, void *arg)
{
	struct rfc2136 *r = arg;

	if (r->phase == PH_TCP_CONNECT && tcp_connected(r) < 0)
		return;
	if (r->phase == PH_TCP_SEND)
		tcp_send(r);
	else if (r->phase == PH_TCP_RECV)
		tcp_recv(r);
}

static void tcp_start(struct rfc2136 *r)
{
	if (r->fd >= 0) {
		ev_fd_del(r->fd);
		close(r->fd);
	}
	ev_timer_disarm(r->step);
	free(r->rbuf);
	r->rcap = TCP_RBUF;
	r->rbuf = xcalloc(1, r->rcap);
	r->fd = open_socket(r, SOCK_STREAM);
	if (r->fd < 0) {
		net_error(r, errno, "TCP connect");
		return;
	}
	r->phase = PH_TCP_CONNECT;
	if (ev_fd_add(r->fd, POLLOUT, on_tcp, r) < 0)
		net_error(r, errno, "event loop");
}

/* ---- timers ---- */

static void on_step(void *arg)
{
	struct rfc2136 *r = arg;

	if (r->unsigned_err[0])
		finish_unsigned(r);          /* the grace is over */
	else if (r->phase == PH_IDLE && r->msg_len > DNS_UDP_MAX)
		tcp_start(r);
	else if (r->phase == PH_IDLE)
		udp_start(r);
	else if (r->phase == PH_UDP)
		udp_send(r);
}

static void on_deadline(void *arg)
{
	struct rfc2136 *r = arg;

	if (r->unsigned_err[0])
		finish_unsigned(r);
	else if (r->note[0])
		finish(r, DDNS_TEMPFAIL, "no valid reply from %s within %u s; last reply ignored: %s",
		       r->where, r->timeout_s, r->note);
	else if (r->phase == PH_UDP)
		finish(r, DDNS_TEMPFAIL, "no reply from %s within %u s (DNS UPDATE over UDP, "
		       "sent %d time%s)", r->where, r->timeout_s, r->sends, r->sends == 1 ? "" : "s");
	else
		finish(r, DDNS_TEMPFAIL, "no reply from %s within %u s (DNS UPDATE over TCP, %s)",
		       r->where, r->timeout_s, r->phase == PH_TCP_CONNECT ? "not connected" :
		       r->phase == PH_TCP_SEND ? "still sending" : "waiting for the reply");
}

const struct provider_ops provider_rfc2136_ops = {
	.name = "rfc2136",
	.keys = keys,
	.n_keys = HP_ARRAY_LEN(keys),
	.records = DDNS_REC_A | DDNS_REC_AAAA,
	.validate = rfc2136_validate,
	.start = rfc2136_start,
	.cancel = rfc2136_cancel,
};
