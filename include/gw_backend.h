/* gw_backend.h - the gateway protocols behind one table.
 *
 * Each protocol (UPnP IGD, NAT-PMP; PCP later) is one file that fills one
 * struct gw_backend and sorts its own replies into enum gw_outcome. Above
 * it, gateway.c and mapping.c reason in outcomes and capability bits only;
 * a protocol's own code and words travel in gw_result.code / .error, for
 * logs and status. Adding a protocol is one new file and one row in
 * gw_backend.c's table (see gw_backends[]).
 *
 * Every request is asynchronous: a call queues it and returns its id
 * (> 0), or 0 if it could not be queued. The callback runs once, from the
 * event loop, unless cancel(id) came first. Each backend has a small,
 * polite window of requests on the wire (one for NAT-PMP, up to three for
 * UPnP and PCP while the router answers well and quickly) and a deadline
 * per request (gw_queue.h). */
#ifndef HP_GW_BACKEND_H
#define HP_GW_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <jansson.h>

#include "config.h"

/* What an answer means, whatever the protocol said. */
enum gw_outcome {
	GW_OK,
	GW_CONFLICT,         /* the external port is held by another mapping */
	GW_REFUSED,          /* the gateway does not allow this (not authorized) */
	GW_PERMANENT_ONLY,   /* asked with a lease: only permanent ones allowed */
	GW_NOT_FOUND,        /* no such mapping */
	GW_TEMPORARY,        /* an error answer: try again later */
	GW_FAULT,            /* no usable answer (garbage, a local failure): it may be back soon */
	GW_GONE,             /* no answer before the deadline, or no gateway there */
};

/* Capability bits (gw_backend.caps). */
#define GW_CAP_OTHER_HOST 0x01   /* maps ports to other LAN hosts, not only the asking one */
#define GW_CAP_READ_BACK  0x02   /* can read a mapping back (who holds a port, its lease) */
#define GW_CAP_EPOCH      0x04   /* answers carry an epoch: a lost table shows (state_lost) */
#define GW_CAP_ANNOUNCES  0x08   /* the gateway announces changes (hints, see listen) */
#define GW_CAP_THIRD_PARTY 0x10  /* maps for other hosts where the router allows it (PCP
				  * THIRD_PARTY): tried first for them, then a protocol
				  * with GW_CAP_OTHER_HOST alone */
#define GW_CAP_PINHOLE    0x20   /* opens IPv6 firewall pinholes (map/unmap with
				  * GW_FAMILY_IPV6), where the gateway found has an IPv6
				  * firewall to control (gw_found.pinholes) */
#define GW_CAP_OWN_HANDLE 0x40   /* a handle names only our own mapping (PCP's nonce):
				  * a delete by it cannot remove another's, even after
				  * the router lost its state */

enum gw_family { GW_FAMILY_IPV4, GW_FAMILY_IPV6 };

#define GW_ADDR_LEN INET6_ADDRSTRLEN
#define GW_DESC_MAX 80           /* UPnP's limit; longer descriptions are cut */
#define GW_HANDLE_LEN 64
#define GW_ERROR_LEN 160
#define GW_IGNORED_MAX 4
#define GW_IGNORED_LEN 160

/* A mapping to make, read back or delete. */
struct gw_map_req {
	enum gw_family family;
	unsigned proto;                  /* SVC_TCP or SVC_UDP */
	uint16_t ext_port;               /* IPv6 pinholes: equal to int_port */
	uint16_t int_port;
	char int_host[GW_ADDR_LEN];      /* "" = this host (its address towards the gateway) */
	char desc[GW_DESC_MAX + 1];      /* what the router's table shows */
	uint32_t lease;                  /* seconds, 0 = permanent */
	char handle[GW_HANDLE_LEN];      /* from an earlier result (a PCP nonce, a pinhole's
					  * UniqueID): renew or delete that one; "" if none */
	/* GW_FAMILY_IPV6: int_host is the IPv6 address to open (and the request
	 * goes from it, since routers open pinholes only for the asking
	 * address); the request goes to via6, the IPv6 gateway (on interface
	 * scope_id when link-local). */
	char via6[GW_ADDR_LEN];
	unsigned scope_id;
	/* unmap: the same is added again right after (a renewal by delete and
	 * add): keep what names it (a PCP nonce) for that add. */
	bool again;
};

/* A mapping as the gateway reports it: the answer to map or read_back. */
struct gw_mapping {
	char int_host[GW_ADDR_LEN];      /* "" when the protocol does not say (this host) */
	uint16_t int_port, ext_port;     /* ext_port as granted: may differ from the asked one */
	char desc[GW_DESC_MAX + 1];      /* read_back only */
	uint32_t lease;                  /* granted or remaining, 0 = permanent */
	bool confirmed;                  /* map: the answer itself proves the mapping exists */
	char handle[GW_HANDLE_LEN];      /* keep for renewals and the delete */
};

/* A gateway that answered discover. */
struct gw_found {
	char address[INET_ADDRSTRLEN];   /* the gateway that answered */
	char lan_addr[INET_ADDRSTRLEN];  /* this host's address towards it, "" = unknown */
	char locator[256];               /* where the backend finds it again (the IGD's root
					  * URL), "" if nothing beyond the address */
	char ext_ip[GW_ADDR_LEN];        /* the external IP, if the answer carried it */
	bool pinholes;                   /* GW_CAP_PINHOLE: this gateway has an IPv6 firewall
					  * we can open (UPnP: WANIPv6FirewallControl) */
};

struct gw_result {
	enum gw_outcome outcome;
	int code;                        /* the protocol's own code (UPnP 718, NAT-PMP 2), 0 if none */
	char error[GW_ERROR_LEN];        /* its own words, e.g. "UPnP 718 ConflictInMappingEntry";
					  * "" on GW_OK; never holds control characters */
	bool timed_out;                  /* GW_GONE because the deadline passed */
	uint32_t retry_s;                /* an error answer says it stands this long (0: unknown):
					  * no new try before then */
	bool state_lost;                 /* this answer shows the gateway lost its mappings
					  * (an epoch that went back): re-create them */
	bool has_epoch;                  /* for tools: the answer's epoch */
	uint32_t epoch;
	/* discover: devices that answered but are not the trusted gateway,
	 * e.g. "IGD at http://192.168.1.20:5000/rootDesc.xml" ("" ends it) */
	char ignored[GW_IGNORED_MAX][GW_IGNORED_LEN];
	union {
		struct gw_found found;           /* discover */
		char ext_ip[GW_ADDR_LEN];        /* external_ip ("" = the gateway has none) */
		struct gw_mapping map;           /* map, read_back */
	} u;
};

typedef void (*gw_cb)(void *arg, const struct gw_result *r);

/* Announcements are only hints: they make the daemon ask the gateway,
 * what they carry is never trusted. */
enum gw_hint {
	GW_HINT_CHANGED,     /* something changed (a new external IP?): ask again */
	GW_HINT_RESTARTED,   /* the gateway restarted: look at every mapping */
	GW_HINT_ALIVE,       /* it is there (and was before): fine unless it failed us */
};
typedef void (*gw_hint_cb)(void *arg, enum gw_hint hint, const char *what);

/* What a backend needs to talk to one gateway. */
struct gw_setup {
	/* The trusted gateway (SPEC "Which gateway is trusted"): this host's
	 * default IPv4 router, dotted quad; NULL when there is none. Nothing
	 * that answers from another address is used. */
	const char *gateway;
	/* Where to find it without discovery (upnp_url): trusted as given,
	 * wherever it is. NULL = discover. */
	const char *url;
	const char *ifname;      /* LAN interface, NULL = the one towards the gateway */
	/* This host's IPv6 address and its IPv6 default router (on interface
	 * scope6 when link-local), for a protocol that opens pinholes by
	 * talking IPv6 to the router (PCP); NULL when there is none yet. */
	const char *addr6, *router6;
	unsigned scope6;
	int deadline_ms;         /* per request, 0 = the backend's default */
};

struct gw_backend {
	const char *name;        /* "upnp": status ("via"), state files */
	const char *label;       /* "UPnP": logs and messages */
	const char *why;         /* why it maps when it is the first of the table to answer */
	enum gw_protocol_pref pref;  /* the [gateway] protocol value that picks it alone */
	unsigned caps;           /* GW_CAP_* */

	/* Once at start-up, before any start; state_dir holds what the backend
	 * keeps across restarts (NULL: keep nothing, --probe). 0 / -1. */
	int  (*init)(const char *state_dir);
	void (*fini)(void);
	/* Talk to one gateway; 0, or -1 with a sentence in err. */
	int  (*start)(const struct gw_setup *s, char *err, size_t errlen);
	void (*stop)(void);      /* drops every request without a callback */

	uint64_t (*discover)(gw_cb cb, void *arg);          /* OK: u.found */
	uint64_t (*external_ip)(gw_cb cb, void *arg);       /* OK: u.ext_ip */
	uint64_t (*map)(const struct gw_map_req *q, gw_cb cb, void *arg);        /* u.map */
	/* GW_CAP_READ_BACK. IPv6: whether the router still holds the pinhole
	 * q->handle (OK / GW_NOT_FOUND); 0 when the backend cannot tell. */
	uint64_t (*read_back)(const struct gw_map_req *q, gw_cb cb, void *arg);
	uint64_t (*unmap)(const struct gw_map_req *q, gw_cb cb, void *arg);
	void (*cancel)(uint64_t id);
	void (*cancel_all)(void);

	/* GW_CAP_ANNOUNCES: call cb for each announcement from the gateway. */
	int  (*listen)(gw_hint_cb cb, void *arg);
	/* What discover found, for logs: "IGD v2 at URL (...)". */
	void (*describe)(char *buf, size_t len);
	/* --probe --json: this protocol's own fields (found: it answered). */
	void (*probe_json)(json_t *o, bool found);
	/* When to renew a lease of granted seconds (ms after the grant; jitter
	 * in [0, 1)). NULL: at half of it. */
	int64_t (*renew_ms)(uint32_t granted, double jitter);
};

/* The table, in order of preference for mappings (NULL-terminated). */
extern const struct gw_backend *const *gw_backends;

int  gw_backends_init(const char *state_dir);  /* every backend's init; 0 / -1 */
void gw_backends_fini(void);
const struct gw_backend *gw_backend_by_name(const char *name);
bool gw_outcome_gone(enum gw_outcome o);   /* GW_GONE or GW_FAULT */
/* Why be maps, for the log and --probe: the configured protocol, or why
 * the table prefers it. */
const char *gw_backend_why(const struct gw_backend *be, enum gw_protocol_pref pref);
const char *gw_outcome_name(enum gw_outcome o);

/* SPEC "Which gateway is trusted", for discover answers: every device the
 * backend ignored, and the answer itself when it is not from the default
 * router (trusted, "" when there is none) and not the IGD url names, go
 * to ignore(what). Returns whether the answer is usable; when it is not
 * for that reason, err says why. */
bool gw_trust(const struct gw_backend *be, const struct gw_result *r, const char *trusted,
	      const char *url, void (*ignore)(const char *what), char *err, size_t errlen);

/* Which answering protocol opens IPv6 pinholes: c[i].be is the i-th
 * protocol of the table when it answered (else NULL), c[i].firewall what
 * its discovery said (gw_found.pinholes). The one that maps (via) when it
 * has GW_CAP_PINHOLE and a firewall to open; else the first of the table
 * that has both; else the first with GW_CAP_PINHOLE (it says why not);
 * -1: none. */
struct gw_pin_cand {
	const struct gw_backend *be;
	bool firewall;
};
int gw_pinhole_pick(const struct gw_pin_cand *c, size_t n, size_t via);

/* Test seam (tests/unit/test_mapping_*.c): one more row at the end of the
 * table, or NULL to remove it. */
void gw_backends_test_row(const struct gw_backend *be);

#endif
