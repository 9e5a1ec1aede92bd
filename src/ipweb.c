/* ipweb.c - the external IPv4 from web sources, asked in rounds.
 *
 * A round asks one source after the other, from a rotating cursor, until
 * the answers decide (ipweb_policy_tally): two sources agree on an address,
 * or one confirms the address agreed on before. So a quiet line costs one
 * request per round, a change two. A source that fails (no answer, an HTTP
 * error, garbage, a private address) or is outvoted is backed off. Rounds
 * start every check_interval (at least IPWEB_MIN_INTERVAL) and never ask a
 * source sooner than that after its last request; homeportctl refresh may
 * start one early, at most every IPWEB_REFRESH_GAP.
 *
 * States: idle (the timer is for the next round), asking (one request in
 * flight), waiting (in a round, until the next source may be asked). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "homeport.h"
#include "http.h"
#include "ipweb.h"
#include "ipweb_policy.h"
#include "log.h"
#include "util.h"

#define NAME_LEN 128
#define ERROR_LEN 200
#define PART_LEN 400            /* votes or failures, in a sentence */
#define TEXT_LEN (2 * PART_LEN + 100)

const struct ipweb_default ipweb_defaults[] = {
	{ "https://checkip.amazonaws.com/", "Amazon Web Services" },
	{ "https://ip.3322.net/", "3322.org (Pubyun), Hangzhou" },
	{ "https://ipv4.icanhazip.com/", "Cloudflare (icanhazip.com)" },
	{ "https://4.ipw.cn/", "IPW.CN, an IPv6 readiness test site in China" },
	{ "https://ipinfo.io/ip", "IPinfo" },
	{ "https://ddns.oray.com/checkip", "Oray (Peanut Hull DDNS), Shanghai" },
};
const size_t ipweb_n_defaults = HP_ARRAY_LEN(ipweb_defaults);

enum web_state { WEB_IDLE, WEB_ASKING, WEB_WAITING };

static const char *const state_names[] = {
	[WEB_IDLE] = "idle", [WEB_ASKING] = "asking", [WEB_WAITING] = "waiting",
};

struct source {
	char *url;
	char name[NAME_LEN];           /* the host, or more when two share a host */
	unsigned failures;             /* in a row */
	char last_ip[INET_ADDRSTRLEN]; /* its last answer, "" none */
	int64_t last_answer;           /* ms, when last_ip came; 0 never */
	char error[ERROR_LEN];         /* its last failure, "" none */
	struct http_call *call;
};

static struct {
	bool running;
	enum web_state state;
	struct source *srcs;
	struct ipweb_pace *pace;       /* beside srcs[], as ipweb_policy_pick wants them */
	size_t n;
	bool *asked;                   /* this round */
	struct ipweb_vote *votes;      /* this round */
	size_t nv;
	size_t cursor;
	char *ca_file;
	bool allow_http;
	int64_t interval_ms;
	ipweb_cb cb;
	void *cb_arg;
	struct ev_timer *timer;
	bool refresh_round, refresh_pending;
	int64_t round_started, last_refresh;
	bool believed_known;
	struct in_addr believed;
	char error[TEXT_LEN];          /* why the last round decided nothing, "" */
	uint64_t requests;
} W;

static void step(void);

static void transition(enum web_state to, int64_t delay_ms)
{
	if (W.state != to)
		log_debug("ipweb: %s -> %s", state_names[W.state], state_names[to]);
	W.state = to;
	if (delay_ms < 0)
		ev_timer_disarm(W.timer);
	else
		ev_timer_arm(W.timer, delay_ms);
}

static void addr_text(struct in_addr a, char *buf)
{
	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* ---- one source ---- */

static void source_failed(struct source *s, const char *why, uint32_t retry_after)
{
	uint32_t wait = ipweb_policy_backoff(++s->failures, (uint32_t)(W.interval_ms / 1000),
					     retry_after);

	snprintf(s->error, sizeof(s->error), "%s", why);
	W.pace[s - W.srcs].hold_until = ev_now_ms() + (int64_t)wait * 1000;
	log_warnx("ipweb: %s: %s (failure %u, next try in %u s at the earliest)",
		  s->name, why, s->failures, wait);
}

/* An address: the source works (being outvoted later counts as a failure). */
static void source_answered(struct source *s, struct in_addr a)
{
	addr_text(a, s->last_ip);
	s->last_answer = ev_now_ms();
	s->failures = 0;
	s->error[0] = '\0';
	W.pace[s - W.srcs].hold_until = 0;
}

/* ---- rounds ---- */

static void votes_text(char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < W.nv && off < len; i++) {
		char ip[INET_ADDRSTRLEN];
		addr_text(W.votes[i].addr, ip);
		off += (size_t)snprintf(buf + off, len - off, "%s%s answered %s",
					i ? (i + 1 == W.nv ? " and " : ", ") : "",
					W.srcs[W.votes[i].src].name, ip);
	}
}

static void failures_text(char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < W.n && off < len; i++)
		if (W.asked[i] && W.srcs[i].error[0])
			off += (size_t)snprintf(buf + off, len - off, "%s%s: %s", off ? "; " : "",
						W.srcs[i].name, W.srcs[i].error);
}

/* Why a round decided nothing, into W.error. */
static void undecided_text(void)
{
	char v[PART_LEN], f[PART_LEN];

	votes_text(v, sizeof(v));
	failures_text(f, sizeof(f));
	if (W.nv >= 2)
		snprintf(W.error, sizeof(W.error), "web sources disagree: %s; not publishing", v);
	else if (W.nv == 1)
		snprintf(W.error, sizeof(W.error),
			 "only one web source answered (%s), a second must agree%s%s%s",
			 v, f[0] ? " (" : "", f, f[0] ? ")" : "");
	else
		snprintf(W.error, sizeof(W.error), "no web source answered%s%s%s",
			 f[0] ? " (" : "", f, f[0] ? ")" : "");
}

static void round_end(void)
{
	int64_t now = ev_now_ms(), next = W.round_started + W.interval_ms;
	char ip[INET_ADDRSTRLEN];

	if (W.refresh_pending) {
		int64_t r = W.last_refresh + IPWEB_REFRESH_GAP * 1000;
		if (r < next)
			next = r;
	}
	transition(WEB_IDLE, next > now ? next - now : 0);
	if (W.believed_known)
		addr_text(W.believed, ip);
	if (W.cb)
		W.cb(W.cb_arg, W.believed_known ? ip : NULL, W.error[0] ? W.error : NULL);
}

/* The votes decided on a: the sources that said otherwise are backed off. */
static void round_decided(struct in_addr a)
{
	char ip[INET_ADDRSTRLEN], why[ERROR_LEN];

	addr_text(a, ip);
	for (size_t i = 0; i < W.nv; i++) {
		struct source *s = &W.srcs[W.votes[i].src];
		if (W.votes[i].addr.s_addr == a.s_addr)
			continue;
		snprintf(why, sizeof(why), "answered %s while the others agree on %s", s->last_ip, ip);
		source_failed(s, why, 0);
	}
	if (!W.believed_known || W.believed.s_addr != a.s_addr)
		log_info("ipweb: external IP %s (%s)", ip,
			 W.n == 1 ? "the only web source" : "two web sources agree");
	W.believed = a;
	W.believed_known = true;
	W.error[0] = '\0';
	round_end();
}

static void round_undecided(void)
{
	undecided_text();
	log_warnx("ipweb: %s", W.error);
	round_end();
}

static void round_begin(bool refresh)
{
	memset(W.asked, 0, W.n * sizeof(*W.asked));
	W.nv = 0;
	W.refresh_round = refresh;
	W.round_started = ev_now_ms();
	if (refresh) {
		W.refresh_pending = false;
		W.last_refresh = W.round_started;
	}
	step();
}

static void on_reply(void *arg, const struct http_response *r)
{
	struct source *s = arg;
	struct in_addr a;
	char why[ERROR_LEN];
	enum ipweb_tally t;

	s->call = NULL;
	if (r->curl_code != 0 || r->status != 200) {
		/* the source's name goes in front: no host in the sentence */
		if (r->curl_code != 0 || r->status == 0)
			snprintf(why, sizeof(why), "%s", r->error[0] ? r->error : "no reply");
		else
			snprintf(why, sizeof(why), "HTTP %ld", r->status);
		source_failed(s, why, r->retry_after);
	} else if (ipweb_policy_parse(r->body, r->body_len, &a, why, sizeof(why)) != IPWEB_REPLY_OK) {
		source_failed(s, why, 0);
	} else {
		source_answered(s, a);
		log_debug("ipweb: %s answered %s", s->name, s->last_ip);
		W.votes[W.nv++] = (struct ipweb_vote){ (size_t)(s - W.srcs), a };
	}
	t = ipweb_policy_tally(W.votes, W.nv, W.n, W.believed_known ? &W.believed : NULL, &a);
	if (t != IPWEB_UNDECIDED)
		round_decided(a);
	else
		step();
}

static void ask(size_t i)
{
	struct source *s = &W.srcs[i];
	struct http_request req = {
		.url = s->url, .ca_file = W.ca_file, .allow_http = W.allow_http,
		.timeout = IPWEB_TIMEOUT, .ipv4_only = true, .max_body = IPWEB_BODY_MAX,
	};

	W.asked[i] = true;
	W.cursor = (i + 1) % W.n;
	W.pace[i].last_asked = ev_now_ms();
	W.requests++;
	transition(WEB_ASKING, -1);
	log_debug("ipweb: asking %s", s->url);
	s->call = http_start(&req, on_reply, s);
	if (!s->call) {
		source_failed(s, "cannot start the request", 0);
		step();
	}
}

/* Ask the next source of this round, wait for one, or end the round. */
static void step(void)
{
	int64_t wait;
	ssize_t i = ipweb_policy_pick(W.pace, W.asked, W.n, W.cursor, ev_now_ms(),
				      W.interval_ms, W.refresh_round, &wait);

	if (i < 0)
		round_undecided();
	else if (wait == 0)
		ask((size_t)i);
	else if (W.nv == 0 || wait <= IPWEB_ROUND_WAIT * 1000)
		transition(WEB_WAITING, wait);
	else
		round_undecided();
}

static void on_timer(void *arg)
{
	if (W.state == WEB_WAITING)
		step();
	else if (W.state == WEB_IDLE)
		round_begin(W.refresh_pending);
}

/* ---- set-up ---- */

/* Sources are named by host; by the URL (minus the scheme) when two share
 * a host. */
static void name_sources(struct source *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char host[NAME_LEN];
		bool shared = false;
		http_url_host(s[i].url, host, sizeof(host));
		for (size_t j = 0; j < n && !shared; j++) {
			char other[NAME_LEN];
			http_url_host(s[j].url, other, sizeof(other));
			shared = j != i && strcmp(host, other) == 0;
		}
		const char *u = strstr(s[i].url, "://");
		snprintf(s[i].name, sizeof(s[i].name), "%s",
			 !shared ? host : u ? u + 3 : s[i].url);
	}
}

static ssize_t old_source(const char *url)
{
	for (size_t i = 0; i < W.n; i++)
		if (strcmp(W.srcs[i].url, url) == 0)
			return (ssize_t)i;
	return -1;
}

static void free_sources(void)
{
	for (size_t i = 0; i < W.n; i++) {
		http_cancel(W.srcs[i].call);
		free(W.srcs[i].url);
	}
	free(W.srcs);
	free(W.pace);
	W.srcs = NULL;
	W.pace = NULL;
	W.n = 0;
}

/* A new source list; what the old one knew of a URL carries over. */
static void set_sources(const struct ipweb_setup *su)
{
	bool own = su->urls && su->n_urls;
	size_t n = own ? su->n_urls : ipweb_n_defaults;
	struct source *s = xcalloc(n, sizeof(*s));
	struct ipweb_pace *pace = xcalloc(n, sizeof(*pace));

	for (size_t i = 0; i < n; i++) {
		const char *url = own ? su->urls[i] : ipweb_defaults[i].url;
		ssize_t o = old_source(url);
		if (o >= 0) {
			s[i] = W.srcs[o];
			s[i].call = NULL;
			pace[i] = W.pace[o];
		} else {
			pace[i].last_asked = -1;
		}
		s[i].url = xstrdup(url);
	}
	name_sources(s, n);
	free_sources();
	W.srcs = s;
	W.pace = pace;
	W.n = n;
	W.asked = xrealloc(W.asked, n, sizeof(*W.asked));
	W.votes = xrealloc(W.votes, n, sizeof(*W.votes));
	W.cursor = n > 1 ? (size_t)(drand48() * (double)n) % n : 0;   /* main.c seeds it */
}

int ipweb_start(const struct ipweb_setup *su, ipweb_cb cb, void *arg)
{
	if (!W.timer)
		W.timer = ev_timer_new(on_timer, NULL);
	set_sources(su);
	free(W.ca_file);
	W.ca_file = su->ca_file ? xstrdup(su->ca_file) : NULL;
	W.allow_http = su->allow_http;
	W.interval_ms = (int64_t)ipweb_policy_interval(su->check_interval) * 1000;
	W.cb = cb;
	W.cb_arg = arg;
	if (!W.running)
		log_info("ipweb: asking %zu web source%s for the external IP, each at most every %u s",
			 W.n, W.n == 1 ? "" : "s", (unsigned)(W.interval_ms / 1000));
	W.running = true;
	W.error[0] = '\0';
	round_begin(false);
	return 0;
}

void ipweb_stop(void)
{
	if (!W.running)
		return;
	for (size_t i = 0; i < W.n; i++) {
		http_cancel(W.srcs[i].call);
		W.srcs[i].call = NULL;
	}
	transition(WEB_IDLE, -1);
	W.running = false;
}

void ipweb_fini(void)
{
	ipweb_stop();
	free_sources();
	free(W.asked);
	free(W.votes);
	free(W.ca_file);
	ev_timer_free(W.timer);
	memset(&W, 0, sizeof(W));
}

bool ipweb_running(void)
{
	return W.running;
}

void ipweb_refresh(void)
{
	int64_t now = ev_now_ms(), gap = IPWEB_REFRESH_GAP * 1000;

	if (!W.running || W.state != WEB_IDLE)
		return;        /* a round is asking now */
	if (W.last_refresh == 0 || now - W.last_refresh >= gap) {
		round_begin(true);
		return;
	}
	W.refresh_pending = true;
	int64_t left = ev_timer_remaining_ms(W.timer), due = W.last_refresh + gap - now;
	if (left < 0 || left > due)
		ev_timer_arm(W.timer, due);
}

/* ---- status ---- */

/* Up to two sources whose last answer is ip, the most recent first. */
static size_t agreeing(const char *ip, const struct source **out)
{
	size_t n = 0;

	for (size_t i = 0; i < W.n; i++) {
		const struct source *s = &W.srcs[i];
		if (strcmp(s->last_ip, ip) != 0)
			continue;
		if (n < 2)
			out[n++] = s;
		else if (s->last_answer > out[1]->last_answer)
			out[1] = s;
		if (n == 2 && out[1]->last_answer > out[0]->last_answer) {
			const struct source *t = out[0];
			out[0] = out[1];
			out[1] = t;
		}
	}
	return n;
}

void ipweb_describe(char *buf, size_t len)
{
	const struct source *who[2];
	char ip[INET_ADDRSTRLEN];
	size_t n;

	if (!W.running) {
		snprintf(buf, len, "web sources are not asked");
		return;
	}
	if (W.error[0]) {
		snprintf(buf, len, "%s", W.error);
		return;
	}
	if (!W.believed_known) {
		snprintf(buf, len, "asking web sources");
		return;
	}
	addr_text(W.believed, ip);
	n = agreeing(ip, who);
	if (n == 2)
		snprintf(buf, len, "external IP from web sources %s and %s (agree)",
			 who[0]->name, who[1]->name);
	else if (n == 1 && W.n == 1)
		snprintf(buf, len, "external IP from web source %s (the only one configured)",
			 who[0]->name);
	else if (n == 1)
		snprintf(buf, len, "external IP from web source %s, confirming the address "
			 "agreed on before", who[0]->name);
	else
		snprintf(buf, len, "external IP agreed on before; no web source gives it now");
}

json_t *ipweb_status_json(void)
{
	json_t *a = json_array();
	int64_t now = ev_now_ms();

	for (size_t i = 0; W.running && i < W.n; i++) {
		const struct source *s = &W.srcs[i];
		json_t *o = json_object();
		char host[NAME_LEN];
		http_url_host(s->url, host, sizeof(host));
		json_object_set_new(o, "url", json_string(s->url));
		json_object_set_new(o, "host", json_string(host));
		json_object_set_new(o, "last_ip", json_string_or_null(s->last_ip));
		json_object_set_new(o, "last_asked_ago", W.pace[i].last_asked < 0 ? json_null() :
				    json_integer((now - W.pace[i].last_asked) / 1000));
		json_object_set_new(o, "failures", json_integer(s->failures));
		json_object_set_new(o, "error", json_string_or_null(s->error));
		json_array_append_new(a, o);
	}
	return a;
}

uint64_t ipweb_requests(void)
{
	return W.requests;
}
