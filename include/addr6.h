/* addr6.h - this host's IPv6 address and its LAN neighbours' ones, read
 * from rtnetlink (a dump at start, then RTM_NEWADDR / RTM_DELADDR,
 * route and neighbour events in the event loop: no polling, no commands
 * parsed). Which address counts is addr6_pick.h's decision. */
#ifndef HP_ADDR6_H
#define HP_ADDR6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <net/if.h>
#include <netinet/in.h>
#include <jansson.h>

#include "addr6_pick.h"
#include "config.h"

#define ADDR6_WHY_LEN 200

/* This host's address: what gateway.ipv6 shows. */
struct addr6_self {
	bool have;                           /* a usable (public) address was chosen */
	char address[INET6_ADDRSTRLEN];      /* chosen; else the best non-public one, or "" */
	char prefix[INET6_ADDRSTRLEN + 4];   /* "2001:db8:77::/64", or "" */
	bool public;
	bool any_global;                     /* the interface has a global address, usable or not */
	int ifindex;                         /* the interface in use, 0 = none */
	char ifname[IF_NAMESIZE];
	char router[INET6_ADDRSTRLEN];       /* its IPv6 default router, "" = none */
	char why[ADDR6_WHY_LEN];             /* !have: why not, one sentence */
};

/* Open the netlink sockets and read the tables. Works unprivileged.
 * 0, or -1 (logged) when netlink is not there. */
int  addr6_init(const struct hp_config *cfg);
void addr6_fini(void);
/* Follow [gateway] interface (else the interface of the IPv6 default
 * route), re-check neighbours every check_interval, watch the MACs named
 * by [ddns:*] ipv6_host. */
void addr6_apply_config(const struct hp_config *cfg);

/* Called (from the loop) when this host's address, its prefix or the
 * address of a watched ipv6_host changes. Several may subscribe. */
typedef void (*addr6_change_cb)(void *arg);
void addr6_subscribe(addr6_change_cb cb, void *arg);
void addr6_unsubscribe(addr6_change_cb cb, void *arg);

void addr6_get_self(struct addr6_self *out);

/* The address an AAAA record gets for h, in inet_ntop's form. 0, or -1
 * with why in one sentence (nothing is to be published then). */
int  addr6_resolve(const struct addr6_host *h, char *out, size_t len, char *why, size_t wlen);

/* Read the neighbour table again and look for watched devices now. */
void addr6_recheck(void);

/* --probe: every global address with why it was or was not chosen. */
json_t *addr6_probe_json(void);
void addr6_probe_print(FILE *out);

#endif
