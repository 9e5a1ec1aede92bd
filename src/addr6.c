/* addr6.c - this host's IPv6 addresses, its IPv6 default routes and its
 * IPv6 neighbours, kept from rtnetlink.
 *
 * Two sockets: one joined to the address, route and neighbour groups,
 * read from the event loop; one for dumps, read at once (the kernel
 * answers a dump without waiting for anything). The event socket joins
 * before the first dump, so no change is missed: events queued while a
 * dump ran are applied after it, in order, and end in the current state.
 * If the kernel drops events (ENOBUFS), every table is read again.
 *
 * After each batch of messages the choice is made again (addr6_pick.c);
 * subscribers hear of it only when this host's address or prefix, or the
 * address of a watched device, actually changed. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "addr6.h"
#include "ev.h"
#include "homeport.h"
#include "log.h"
#include "nl.h"
#include "nlmsg.h"
#include "util.h"

#define RCVBUF_BYTES (1 << 20)
#define DUMP_TIMEOUT_MS 2000
#define DUMP_TRIES 3
#define MAX_ADDRS 1024               /* bounds: a hostile or huge table costs no more */
#define MAX_ROUTES 256
#define MAX_NEIGHS 8192
#define MAX_SUBS 8
#define VIEW_LEN 2048
#define DISCARD_PORT 9

struct route6 {
	int oif;
	uint32_t priority;
	bool has_gateway;
	struct in6_addr gateway;
};

/* A growable array of fixed-size entries, bounded. */
struct table {
	void *v;
	size_t n, cap, size, max;
	bool (*same)(const void *a, const void *b);
};

struct sub {
	addr6_change_cb cb;
	void *arg;
};

static bool same_addr(const void *a, const void *b);
static bool same_route(const void *a, const void *b);
static bool same_neigh(const void *a, const void *b);

static struct {
	bool inited;
	int ev_fd, dump_fd;
	uint32_t seq;
	struct table addrs, routes, neighs;
	char ifname[IF_NAMESIZE];        /* [gateway] interface, "" = the default route's */
	uint32_t check_interval;         /* seconds */
	uint8_t (*macs)[6];              /* watched ipv6_host MACs */
	size_t n_macs;
	struct ev_timer *recheck;
	struct sub subs[MAX_SUBS];
	size_t n_subs;
	char view[VIEW_LEN];             /* what subscribers last heard */
	char self_text[INET6_ADDRSTRLEN + ADDR6_WHY_LEN];  /* what the log last said */
} st = {
	.ev_fd = -1, .dump_fd = -1,
	.addrs = { .size = sizeof(struct addr6_cand), .max = MAX_ADDRS, .same = same_addr },
	.routes = { .size = sizeof(struct route6), .max = MAX_ROUTES, .same = same_route },
	.neighs = { .size = sizeof(struct addr6_neigh), .max = MAX_NEIGHS, .same = same_neigh },
};

/* ---- tables ---------------------------------------------------------- */

static bool same_addr(const void *a, const void *b)
{
	const struct addr6_cand *x = a, *y = b;

	return x->ifindex == y->ifindex && memcmp(&x->addr, &y->addr, sizeof(x->addr)) == 0;
}

static bool same_route(const void *a, const void *b)
{
	const struct route6 *x = a, *y = b;

	return x->oif == y->oif && x->priority == y->priority &&
	       x->has_gateway == y->has_gateway &&
	       memcmp(&x->gateway, &y->gateway, sizeof(x->gateway)) == 0;
}

static bool same_neigh(const void *a, const void *b)
{
	const struct addr6_neigh *x = a, *y = b;

	return x->ifindex == y->ifindex && memcmp(&x->addr, &y->addr, sizeof(x->addr)) == 0;
}

static void *table_at(const struct table *t, size_t i)
{
	return (char *)t->v + i * t->size;
}

static void *table_find(const struct table *t, const void *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->same(table_at(t, i), key))
			return table_at(t, i);
	return NULL;
}

/* Insert or replace; NULL when the table is full. */
static void *table_put(struct table *t, const void *e)
{
	void *slot = table_find(t, e);

	if (slot == NULL) {
		if (t->n >= t->max)
			return NULL;
		if (t->n == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 16;
			t->v = xrealloc(t->v, t->cap, t->size);
		}
		slot = table_at(t, t->n++);
	}
	memcpy(slot, e, t->size);
	return slot;
}

static void table_del(struct table *t, const void *key)
{
	void *slot = table_find(t, key);

	if (slot == NULL)
		return;
	t->n--;
	if (slot != table_at(t, t->n))
		memcpy(slot, table_at(t, t->n), t->size);
}

static void table_free(struct table *t)
{
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}

/* ---- applying kernel messages ---------------------------------------- */

/* Each returns whether the message could change what subscribers see. */
static bool apply_addr(const struct nlmsg *m, int64_t now)
{
	const struct nlmsg_addr *a = &m->u.addr;
	struct addr6_cand c = { .addr = a->addr.v6, .ifindex = a->ifindex,
				.prefixlen = a->prefixlen, .scope = a->scope, .flags = a->flags,
				.preferred_until = ADDR6_FOREVER, .cstamp = a->cstamp };

	if (a->family != AF_INET6)
		return false;
	if (m->del) {
		table_del(&st.addrs, &c);
		return true;
	}
	if (a->has_cacheinfo && a->preferred != NLMSG_FOREVER)
		c.preferred_until = now + (int64_t)a->preferred * 1000;
	if (!table_put(&st.addrs, &c))
		log_debug("ipv6: more than %d addresses, ignoring the rest", MAX_ADDRS);
	return true;
}

static bool apply_route(const struct nlmsg *m)
{
	const struct nlmsg_route *r = &m->u.route;
	struct route6 e = { .oif = r->oif, .priority = r->priority,
			    .has_gateway = r->has_gateway };

	if (r->family != AF_INET6 || r->dst_len != 0 || r->table != RT_TABLE_MAIN ||
	    r->type != RTN_UNICAST || r->oif <= 0)
		return false;
	if (r->has_gateway)
		e.gateway = r->gateway.v6;
	if (m->del)
		table_del(&st.routes, &e);
	else
		table_put(&st.routes, &e);
	return true;
}

/* Neighbours matter only when a MAC is watched (they change often). */
static bool apply_neigh(const struct nlmsg *m, int64_t now)
{
	const struct nlmsg_neigh *n = &m->u.neigh;
	struct addr6_neigh e = { .addr = n->dst.v6, .ifindex = n->ifindex, .state = n->state,
				 .first_seen = now };
	struct addr6_neigh *old;

	if (n->family != AF_INET6)
		return false;
	if (m->del) {
		table_del(&st.neighs, &e);
		return st.n_macs > 0;
	}
	old = table_find(&st.neighs, &e);
	if (n->has_lladdr)
		memcpy(e.mac, n->lladdr, sizeof(e.mac));
	else if (old)
		memcpy(e.mac, old->mac, sizeof(e.mac));   /* a state change alone keeps it */
	if (old && memcmp(old->mac, e.mac, sizeof(e.mac)) == 0)
		e.first_seen = old->first_seen;
	table_put(&st.neighs, &e);
	return st.n_macs > 0;
}

static bool apply(const struct nlmsg *m, int64_t now)
{
	switch (m->kind) {
	case NLMSG_K_ADDR:  return apply_addr(m, now);
	case NLMSG_K_ROUTE: return apply_route(m);
	case NLMSG_K_NEIGH: return apply_neigh(m, now);
	default:            return false;
	}
}

/* ---- dumps ----------------------------------------------------------- */

static uint8_t rxbuf[65536];

/* One batch of dump replies: 1 done, 0 more to read, -1 failed.
 * *intr: the kernel says the table changed while it was dumped. */
static int dump_batch(size_t len, uint32_t seq, bool *intr, int64_t now)
{
	struct nlmsg m;
	size_t off = 0;
	int rc;

	while ((rc = nlmsg_next(rxbuf, len, &off, &m)) == 1) {
		if (m.seq != seq)
			continue;                /* late replies to an abandoned dump */
		if (m.flags & NLM_F_DUMP_INTR)
			*intr = true;
		if (m.kind == NLMSG_K_DONE)
			return 1;
		if (m.kind == NLMSG_K_ERROR) {
			errno = -m.error;
			return -1;
		}
		apply(&m, now);
	}
	return rc < 0 ? -1 : 0;
}

static int dump_once(uint16_t type, bool *intr)
{
	uint32_t seq = ++st.seq;
	int rc = 0;

	*intr = false;
	if (nl_dump(st.dump_fd, type, AF_INET6, seq) < 0)
		return -1;
	while (rc == 0) {
		ssize_t r = nl_recv(st.dump_fd, rxbuf, sizeof(rxbuf), 0);
		if (r == 0)
			continue;                 /* not the kernel's */
		if (r < 0)
			return -1;
		rc = dump_batch((size_t)r, seq, intr, ev_now_ms());
	}
	return rc < 0 ? -1 : 0;
}

/* Empty the table, then fill it from the kernel's. */
static int dump_table(uint16_t type, struct table *t)
{
	bool intr = true;

	for (int i = 0; i < DUMP_TRIES && intr; i++) {
		t->n = 0;
		if (dump_once(type, &intr) < 0) {
			log_warn("ipv6: reading the kernel's table (netlink type %u)", type);
			return -1;
		}
	}
	return 0;
}

static int dump_all(void)
{
	int rc = 0;

	rc |= dump_table(RTM_GETROUTE, &st.routes);
	rc |= dump_table(RTM_GETADDR, &st.addrs);
	rc |= dump_table(RTM_GETNEIGH, &st.neighs);
	return rc;
}

/* ---- the choice ------------------------------------------------------ */

/* The interface in use: [gateway] interface, else the one of the
 * lowest-metric IPv6 default route. 0 with why when there is none. */
static int in_use_ifindex(const struct route6 **via, char *why, size_t len)
{
	const struct route6 *best = NULL;
	int idx;

	for (size_t i = 0; i < st.routes.n; i++) {
		const struct route6 *r = table_at(&st.routes, i);
		if (best == NULL || r->priority < best->priority)
			best = r;
	}
	if (st.ifname[0]) {
		idx = (int)if_nametoindex(st.ifname);
		if (idx == 0)
			snprintf(why, len, "interface %s (from [gateway] interface) does not exist",
				 st.ifname);
		*via = NULL;
		for (size_t i = 0; i < st.routes.n; i++) {
			const struct route6 *r = table_at(&st.routes, i);
			if (r->oif == idx && (*via == NULL || r->priority < (*via)->priority))
				*via = r;
		}
		return idx;
	}
	*via = best;
	if (best == NULL)
		snprintf(why, len, "this host has no IPv6 default route");
	return best ? best->oif : 0;
}

static void name_of(int ifindex, char *out)
{
	if (ifindex <= 0 || !if_indextoname((unsigned)ifindex, out))
		snprintf(out, IF_NAMESIZE, "%s", ifindex > 0 ? "?" : "");
}

/* Why nothing was chosen on ifindex: the first global address's reason. */
static void why_none(int ifindex, const char *ifname, char *why, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < st.addrs.n; i++) {
		const struct addr6_cand *c = table_at(&st.addrs, i);
		if (c->ifindex != ifindex || c->scope != RT_SCOPE_UNIVERSE)
			continue;
		inet_ntop(AF_INET6, &c->addr, a, sizeof(a));
		snprintf(why, len, "no usable IPv6 address on %s: %s is %s", ifname, a,
			 addr6_verdict_text(c->verdict));
		return;
	}
	snprintf(why, len, "no global IPv6 address on %s", ifname);
}

void addr6_get_self(struct addr6_self *out)
{
	const struct route6 *via = NULL;
	ssize_t i;

	memset(out, 0, sizeof(*out));
	out->ifindex = in_use_ifindex(&via, out->why, sizeof(out->why));
	if (out->ifindex == 0)
		return;
	name_of(out->ifindex, out->ifname);
	if (via && via->has_gateway)
		inet_ntop(AF_INET6, &via->gateway, out->router, sizeof(out->router));
	/* The best non-public one first, for status; then the real choice. */
	i = addr6_pick(st.addrs.v, st.addrs.n, out->ifindex, false, ev_now_ms());
	if (i >= 0) {
		const struct addr6_cand *c = table_at(&st.addrs, (size_t)i);
		inet_ntop(AF_INET6, &c->addr, out->address, sizeof(out->address));
		addr6_prefix_text(&c->addr, c->prefixlen, out->prefix, sizeof(out->prefix));
	}
	for (size_t k = 0; k < st.addrs.n && !out->any_global; k++) {
		const struct addr6_cand *c = table_at(&st.addrs, k);
		out->any_global = c->ifindex == out->ifindex && c->scope == RT_SCOPE_UNIVERSE;
	}
	i = addr6_pick(st.addrs.v, st.addrs.n, out->ifindex, true, ev_now_ms());
	if (i < 0) {
		why_none(out->ifindex, out->ifname, out->why, sizeof(out->why));
		return;
	}
	const struct addr6_cand *c = table_at(&st.addrs, (size_t)i);
	inet_ntop(AF_INET6, &c->addr, out->address, sizeof(out->address));
	addr6_prefix_text(&c->addr, c->prefixlen, out->prefix, sizeof(out->prefix));
	out->have = out->public = true;
}

/* The /64s a device's address may be in: this host's chosen one first,
 * then those of its other current (not deprecated) addresses there. */
static size_t current_prefixes(int ifindex, const struct addr6_self *self,
			       struct in6_addr *out, size_t max)
{
	size_t n = 0;

	if (self->have && inet_pton(AF_INET6, self->address, &out[0]) == 1)
		n = 1;
	for (size_t i = 0; i < st.addrs.n && n < max; i++) {
		const struct addr6_cand *c = table_at(&st.addrs, i);
		if (c->ifindex == ifindex && (c->verdict == A6_RUNNER_UP ||
					      c->verdict == A6_TEMPORARY))
			out[n++] = c->addr;
	}
	return n;
}

static int resolve_mac(const struct addr6_host *h, const struct addr6_self *self,
		       struct in6_addr *out, char *why, size_t wlen)
{
	struct in6_addr prefixes[16];
	size_t np;
	ssize_t i;
	char mac[24];

	addr6_host_format(h, mac, sizeof(mac));
	if (self->ifindex == 0) {
		snprintf(why, wlen, "cannot look for %s: %s", mac, self->why);
		return -1;
	}
	np = current_prefixes(self->ifindex, self, prefixes, HP_ARRAY_LEN(prefixes));
	i = addr6_pick_neigh(st.neighs.v, st.neighs.n, h->mac, self->ifindex,
			     np ? prefixes : NULL, np);
	if (np == 0 || i < 0) {
		snprintf(why, wlen, "%s has no global IPv6 address in this host's neighbour "
			 "table on %s (it must have talked to this host; checked again every "
			 "check_interval)", mac, self->ifname);
		return -1;
	}
	*out = ((const struct addr6_neigh *)table_at(&st.neighs, (size_t)i))->addr;
	return 0;
}

static int resolve(const struct addr6_host *h, const struct addr6_self *self,
		   struct in6_addr *out, char *why, size_t wlen)
{
	struct in6_addr me;

	if (h->kind == A6H_MAC)
		return resolve_mac(h, self, out, why, wlen);
	if (!self->have) {
		snprintf(why, wlen, "%s", self->why);
		return -1;
	}
	inet_pton(AF_INET6, self->address, &me);
	if (h->kind == A6H_SELF)
		*out = me;
	else
		addr6_with_suffix(&me, &h->suffix, out);
	if (!ipv6_is_public(out)) {
		snprintf(why, wlen, "the address for ipv6_host is not a public one");
		return -1;
	}
	return 0;
}

int addr6_resolve(const struct addr6_host *h, char *out, size_t len, char *why, size_t wlen)
{
	struct addr6_self self;
	struct in6_addr a;

	addr6_get_self(&self);
	if (resolve(h, &self, &a, why, wlen) < 0)
		return -1;
	if (!inet_ntop(AF_INET6, &a, out, (socklen_t)len)) {
		snprintf(why, wlen, "no room for the address");
		return -1;
	}
	return 0;
}

/* Everything subscribers care about, as one string. */
static void make_view(const struct addr6_self *self, char *view, size_t len)
{
	size_t off = (size_t)snprintf(view, len, "%s|%s|%d", self->have ? self->address : "-",
				      self->prefix, self->ifindex);

	for (size_t i = 0; i < st.n_macs && off < len; i++) {
		struct addr6_host h = { .kind = A6H_MAC };
		struct in6_addr a;
		char why[ADDR6_WHY_LEN], text[INET6_ADDRSTRLEN] = "-";

		memcpy(h.mac, st.macs[i], sizeof(h.mac));
		if (resolve_mac(&h, self, &a, why, sizeof(why)) == 0)
			inet_ntop(AF_INET6, &a, text, sizeof(text));
		off += (size_t)snprintf(view + off, len - off, "|%s", text);
	}
}

static void log_self(const struct addr6_self *self)
{
	char text[sizeof(st.self_text)];

	if (self->have)
		snprintf(text, sizeof(text), "%s on %s", self->address, self->ifname);
	else
		snprintf(text, sizeof(text), "%s", self->why);
	if (strcmp(text, st.self_text) == 0)
		return;
	if (self->have)
		log_notice("ipv6: this host's address is %s (was: %s)", text,
			   st.self_text[0] ? st.self_text : "none");
	else
		log_notice("ipv6: no address to use: %s", text);
	snprintf(st.self_text, sizeof(st.self_text), "%s", text);
}

/* Send one empty datagram to each watched device's EUI-64 address in this
 * host's prefix: the kernel's neighbour solicitation for it puts the
 * device in the neighbour table if it is there (port 9 is discard). */
static void poke_watched(const struct addr6_self *self)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(DISCARD_PORT) };
	struct in6_addr me;
	int fd;

	if (!self->have || st.n_macs == 0 || inet_pton(AF_INET6, self->address, &me) != 1)
		return;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	for (size_t i = 0; i < st.n_macs; i++) {
		addr6_eui64(&me, st.macs[i], &sa.sin6_addr);
		(void)sendto(fd, "", 0, 0, (struct sockaddr *)&sa, sizeof(sa));
	}
	close(fd);
}

static void evaluate(void)
{
	struct addr6_self self;
	char view[VIEW_LEN];
	bool prefix_changed;

	addr6_get_self(&self);
	log_self(&self);
	make_view(&self, view, sizeof(view));
	if (strcmp(view, st.view) == 0)
		return;
	prefix_changed = strncmp(view, st.view, strcspn(view, "|")) != 0;
	snprintf(st.view, sizeof(st.view), "%s", view);
	if (prefix_changed)
		poke_watched(&self);
	for (size_t i = 0; i < st.n_subs; i++)
		st.subs[i].cb(st.subs[i].arg);
}

/* ---- the event socket ------------------------------------------------ */

static void resync(void)
{
	log_info("ipv6: the kernel dropped netlink events; reading every table again");
	dump_all();
}

static void on_event(int fd, short revents, void *arg)
{
	bool changed = false;

	for (;;) {
		ssize_t r = nl_recv(fd, rxbuf, sizeof(rxbuf), 0);
		struct nlmsg m;
		size_t off = 0;
		int64_t now = ev_now_ms();

		if (r < 0) {
			if (errno == ENOBUFS) {
				resync();
				changed = true;
				continue;
			}
			break;                    /* EAGAIN: all read */
		}
		if (r == 0)
			continue;                 /* only the kernel speaks for these groups */
		while (nlmsg_next(rxbuf, (size_t)r, &off, &m) == 1)
			changed |= apply(&m, now);
	}
	if (changed)
		evaluate();
}

static int open_socket(unsigned groups, bool nonblock)
{
	int fd = nl_open(groups, nonblock);
	int size = RCVBUF_BYTES;
	struct timeval tv = { .tv_sec = DUMP_TIMEOUT_MS / 1000,
			      .tv_usec = (DUMP_TIMEOUT_MS % 1000) * 1000 };

	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (!nonblock)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* ---- public ---------------------------------------------------------- */

static void on_recheck(void *arg)
{
	struct addr6_self self;

	addr6_recheck();
	addr6_get_self(&self);
	poke_watched(&self);
	if (st.check_interval)
		ev_timer_arm(st.recheck, (int64_t)st.check_interval * 1000);
}

void addr6_recheck(void)
{
	if (!st.inited)
		return;
	dump_table(RTM_GETNEIGH, &st.neighs);
	evaluate();
}

int addr6_init(const struct hp_config *cfg)
{
	st.ev_fd = open_socket(RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE | RTMGRP_NEIGH, true);
	st.dump_fd = open_socket(0, false);
	if (st.ev_fd < 0 || st.dump_fd < 0) {
		log_warn("ipv6: cannot open a netlink socket");
		goto fail;
	}
	if (ev_fd_add(st.ev_fd, POLLIN, on_event, NULL) < 0)
		goto fail;
	st.recheck = ev_timer_new(on_recheck, NULL);
	st.inited = true;
	dump_all();
	addr6_apply_config(cfg);
	return 0;
fail:
	addr6_fini();
	return -1;
}

void addr6_fini(void)
{
	if (st.ev_fd >= 0) {
		ev_fd_del(st.ev_fd);
		close(st.ev_fd);
	}
	if (st.dump_fd >= 0)
		close(st.dump_fd);
	st.ev_fd = st.dump_fd = -1;
	ev_timer_free(st.recheck);
	st.recheck = NULL;
	table_free(&st.addrs);
	table_free(&st.routes);
	table_free(&st.neighs);
	free(st.macs);
	st.macs = NULL;
	st.n_macs = st.n_subs = 0;
	st.view[0] = st.self_text[0] = '\0';
	st.inited = false;
}

static void watch_macs(const struct hp_config *cfg)
{
	free(st.macs);
	st.macs = NULL;
	st.n_macs = 0;
	for (size_t i = 0; i < cfg->n_ddns; i++) {
		const struct addr6_host *h = &cfg->ddns[i].ipv6_host;
		if (h->kind != A6H_MAC)
			continue;
		st.macs = xrealloc(st.macs, st.n_macs + 1, sizeof(*st.macs));
		memcpy(st.macs[st.n_macs++], h->mac, 6);
	}
}

void addr6_apply_config(const struct hp_config *cfg)
{
	if (!st.inited)
		return;
	snprintf(st.ifname, sizeof(st.ifname), "%s",
		 cfg->gateway.interface ? cfg->gateway.interface : "");
	st.check_interval = cfg->gateway.check_interval;
	watch_macs(cfg);
	st.view[0] = '\0';               /* subscribers hear the new view once */
	evaluate();
	on_recheck(NULL);
}

void addr6_subscribe(addr6_change_cb cb, void *arg)
{
	if (st.n_subs < MAX_SUBS)
		st.subs[st.n_subs++] = (struct sub){ cb, arg };
}

void addr6_unsubscribe(addr6_change_cb cb, void *arg)
{
	for (size_t i = 0; i < st.n_subs; i++) {
		if (st.subs[i].cb == cb && st.subs[i].arg == arg) {
			st.subs[i] = st.subs[--st.n_subs];
			return;
		}
	}
}

/* ---- --probe --------------------------------------------------------- */

typedef void (*each_cb)(const struct addr6_cand *c, const char *ifname, void *arg);

/* Every global address, with its verdict from a fresh choice. */
static void each_global(each_cb cb, void *arg)
{
	struct addr6_self self;

	addr6_get_self(&self);            /* sets every verdict */
	for (size_t i = 0; i < st.addrs.n; i++) {
		const struct addr6_cand *c = table_at(&st.addrs, i);
		char ifname[IF_NAMESIZE];
		if (c->scope != RT_SCOPE_UNIVERSE)
			continue;
		name_of(c->ifindex, ifname);
		cb(c, ifname, arg);
	}
}

static json_t *lifetime_json(const struct addr6_cand *c)
{
	int64_t left = c->preferred_until - ev_now_ms();

	if (c->preferred_until == ADDR6_FOREVER)
		return json_null();
	return json_integer(left > 0 ? left / 1000 : 0);
}

static void add_json(const struct addr6_cand *c, const char *ifname, void *arg)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, &c->addr, a, sizeof(a));
	json_array_append_new(arg, json_pack("{s:s, s:I, s:s, s:b, s:s, s:b, s:o}",
		"address", a, "prefixlen", (json_int_t)c->prefixlen, "interface", ifname,
		"chosen", c->verdict == A6_CHOSEN, "why", addr6_verdict_text(c->verdict),
		"permanent", (c->flags & IFA_F_PERMANENT) != 0,
		"preferred_lifetime", lifetime_json(c)));
}

json_t *addr6_probe_json(void)
{
	json_t *list = json_array();
	struct addr6_self self;

	each_global(add_json, list);
	addr6_get_self(&self);
	return json_pack("{s:s?, s:s?, s:b, s:s?, s:s?, s:s?, s:o}",
			 "address", self.address[0] ? self.address : NULL,
			 "prefix", self.prefix[0] ? self.prefix : NULL,
			 "public", self.have,
			 "interface", self.ifname[0] ? self.ifname : NULL,
			 "router", self.router[0] ? self.router : NULL,
			 "error", self.have ? NULL : self.why,
			 "addresses", list);
}

static void print_one(const struct addr6_cand *c, const char *ifname, void *arg)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, &c->addr, a, sizeof(a));
	fprintf(arg, "  %s/%u on %s: %s%s\n", a, c->prefixlen, ifname,
		c->verdict == A6_CHOSEN ? "" : "not used: ", addr6_verdict_text(c->verdict));
}

void addr6_probe_print(FILE *out)
{
	struct addr6_self self;

	addr6_get_self(&self);
	if (self.have)
		fprintf(out, "IPv6 address: %s (%s on %s)\n", self.address, self.prefix, self.ifname);
	else
		fprintf(out, "IPv6 address: none: %s\n", self.why);
	each_global(print_one, out);
}
