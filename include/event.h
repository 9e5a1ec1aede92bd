/* event.h - what happened, told once: the events that hooks (hook.c),
 * `homeportctl events` (event_follow.c) and the metrics see.
 *
 * Two halves with one prefix:
 *   event.c        the bus: event names, the variables an event carries
 *                  (environment, templates, JSON), subscribers;
 *   event_store.c  "once per real change": the modules report every
 *                  transition (event_gateway(), event_ip(), ...), the store
 *                  compares it with what was last announced for that subject
 *                  (kept in <state_dir>/events.json, so a restart with
 *                  nothing changed announces nothing) and publishes only a
 *                  change. Reports before event_store_init() (or in --once)
 *                  are ignored. */
#ifndef HP_EVENT_H
#define HP_EVENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "config.h"

enum event_type {
	EV_IP_CHANGE, EV_DDNS_OK, EV_DDNS_FAILED, EV_MAPPING_OK, EV_MAPPING_LOST,
	EV_MAPPING_FAILED, EV_GATEWAY_FOUND, EV_GATEWAY_LOST, EV__COUNT
};
#define EVENT_ALL ((1u << EV__COUNT) - 1)
#define EVENT_BIT(t) (1u << (t))

/* A temporary DDNS failure becomes ddns-failed at the first failed attempt
 * this long after the first failure in a row (one 500 wakes nobody). */
#define EVENT_DDNS_TEMP_THRESHOLD (30 * 60)

struct event {
	enum event_type type;
	uint64_t seq;                  /* 1, 2, ... per daemon run */
	int64_t time;                  /* wall clock, seconds */
	char name[72];                 /* service, DDNS entry or gateway address */
	char ip[INET6_ADDRSTRLEN];
	char old_ip[INET6_ADDRSTRLEN];
	char ipv6[INET6_ADDRSTRLEN];
	char state[24];                /* the status word after the event */
	char error[256];
	char hostnames[512];           /* space-separated */
	char protocol[8];              /* mappings: tcp | udp */
	unsigned port;                 /* mappings: the external port */
};

const char *event_type_name(enum event_type t);
int event_type_parse(const char *name);        /* -1 when unknown */
/* "ip-change, ddns-ok, ..." for error messages. */
const char *event_type_list(void);

/* ---- the bus (event.c) ---- */
typedef void (*event_cb)(const struct event *ev, void *arg);

int  event_subscribe(event_cb cb, void *arg);  /* 0 / -1 when full */
void event_unsubscribe(event_cb cb, void *arg);
/* Stamp (seq, time), clean every string for any receiver (printable ASCII
 * only), log it, count it and hand it to every subscriber. */
void event_publish(struct event *ev);

/* Template and environment variables: "event", "name", "ip", "old_ip",
 * "ipv6", "state", "error", "hostnames", "time", "protocol", "port",
 * "seq". The value of name (len bytes) in buf, or NULL when unknown. */
const char *event_var(const struct event *ev, const char *name, size_t len,
		      char *buf, size_t buflen);
bool event_var_known(const char *name, size_t len);
/* "%event%, %name%, ..." for error messages. */
const char *event_var_list(void);
/* "HOMEPORT_EVENT=ip-change", ... for every variable: a NULL-terminated
 * malloc'd array of malloc'd strings (free with event_env_free). */
char **event_env(const struct event *ev);
void event_env_free(char **env);
json_t *event_json(const struct event *ev);
/* Events published this run, per type: {"ip-change": 2, ...}. */
json_t *event_counts_json(void);

/* A bounded FIFO of events (each hook's queue). Full: the oldest goes. */
struct event_queue {
	struct event *items;           /* ring of cap (> 0, set by the owner), allocated on first push */
	size_t cap, head, len;
};
/* Returns true when the oldest event was dropped to make room. */
bool event_queue_push(struct event_queue *q, const struct event *ev);
bool event_queue_pop(struct event_queue *q, struct event *out);   /* false: empty */
void event_queue_clear(struct event_queue *q);                    /* frees it */

/* ---- once per real change (event_store.c) ---- */
int  event_store_init(const char *state_dir);   /* loads events.json; 0 / -1 */
void event_store_fini(void);                     /* writes what is not written yet */
/* Write events.json now if a change waits (hook.c, before a hook runs). */
void event_store_flush(void);

void event_gateway(bool found, const char *address, const char *why);
void event_ip(const char *ip, bool is_public);
/* state: the status word (mapped, conflict, refused, failed; pending is
 * not announced), or "lost" when the router no longer holds it. */
void event_mapping(const char *service, const char *protocol, unsigned port,
		   const char *state, const char *error);
/* Every finished DDNS attempt. outcome: enum ddns_outcome (provider.h).
 * event_ddns6: of an AAAA record (HOMEPORT_IPV6 / %ipv6% carry it). */
void event_ddns(const struct cfg_ddns *c, int outcome, const char *ip,
		const char *old_ip, const char *error);
void event_ddns6(const struct cfg_ddns *c, int outcome, const char *ip6,
		 const char *old_ip6, const char *error);

/* For metrics: every subject's last change and the DDNS attempt counters:
 * {"changes": [{"kind","name","time"}], "ddns": {NAME: {"sent","failed"}}} */
json_t *event_store_json(void);

/* Pure decision behind event_ddns (unit-tested): should a temporary
 * failure be announced as ddns-failed now? */
bool event_ddns_temp_due(int64_t trouble_since, int64_t now);

#endif
