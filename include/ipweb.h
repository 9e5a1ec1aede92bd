/* ipweb.h - the external IPv4 address as web services see it.
 *
 * For routers that speak no mapping protocol (SPEC "Without UPnP, NAT-PMP
 * or PCP"): HTTPS endpoints that answer with the caller's address as text
 * are asked in rotation over the daemon's libcurl multi handle (http.h),
 * never blocking. An address is believed only when two sources agree (one
 * when only one is configured); the decisions are in ipweb_policy.h. The
 * module is one instance: the daemon has one external IPv4. */
#ifndef HP_IPWEB_H
#define HP_IPWEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* The built-in list, used when check_url is not set. Each is run by a
 * different operator; see homeport.conf(5) for whom a user asks. */
struct ipweb_default {
	const char *url;
	const char *operator;
};
extern const struct ipweb_default ipweb_defaults[];
extern const size_t ipweb_n_defaults;

struct ipweb_setup {
	const char *const *urls;     /* NULL or n_urls == 0: the built-in list */
	size_t n_urls;
	const char *ca_file;         /* extra CA bundle, NULL: none */
	bool allow_http;             /* http:// URLs may be asked */
	uint32_t check_interval;     /* s; the schedule never goes below IPWEB_MIN_INTERVAL */
};

/* Called at the end of every round. ip: the address believed now (agreed on
 * in this round or kept from before), NULL when none. error: why this round
 * decided nothing (sources disagree, none answered), NULL when it decided. */
typedef void (*ipweb_cb)(void *arg, const char *ip, const char *error);

/* Start asking, or apply a new setup to the running instance: sources that
 * stay keep their pacing and backoff, so a reload never makes a source be
 * asked sooner than its interval. The first round starts at once. 0 / -1. */
int  ipweb_start(const struct ipweb_setup *s, ipweb_cb cb, void *arg);
/* Stop asking: the requests in flight are cancelled, no callback. What is
 * known of each source (pacing, backoff) stays for the next start. */
void ipweb_stop(void);
void ipweb_fini(void);                 /* at exit, after ipweb_stop */
bool ipweb_running(void);

/* homeportctl refresh: a round now, at most once every IPWEB_REFRESH_GAP. */
void ipweb_refresh(void);

/* One sentence for status and --probe: "external IP from web sources A and
 * B (agree)", or why there is none. */
void ipweb_describe(char *buf, size_t len);

/* The sources for status: [{"url", "host", "last_ip", "last_asked_ago",
 * "failures", "error"}]. */
json_t *ipweb_status_json(void);

uint64_t ipweb_requests(void);         /* requests sent since start (bench, metrics) */

#endif
