/* ipif.h - the IPv4 address of an interface on this host (ip_source =
 * interface:NAME, e.g. ppp0 when PPPoE is dialled here), followed through
 * rtnetlink address events: one dump at start (RTM_GETADDR), then
 * RTM_NEWADDR / RTM_DELADDR as they come. No polling: a change reaches the
 * callback as soon as the kernel announces it. One instance. */
#ifndef HP_IPIF_H
#define HP_IPIF_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>

/* ip: the interface's address now, NULL when it has none; why says then
 * what is missing. Called whenever the chosen address changes. */
typedef void (*ipif_cb)(void *arg, const char *ip, const char *why);

int  ipif_start(const char *ifname, ipif_cb cb, void *arg);   /* 0 / -1 (logged) */
void ipif_stop(void);

/* For status and --probe: "external IP from interface ppp0", or why none. */
void ipif_describe(char *buf, size_t len);

/* ---- the pure part, for unit tests ---- */

#define IPIF_MAX 16                 /* addresses kept per interface */

struct ipif_set {
	struct ipif_addr {
		struct in_addr a;
		bool secondary;         /* IFA_F_SECONDARY: an alias, not the primary */
	} v[IPIF_MAX];
	size_t n;
};

/* Apply the rtnetlink messages in buf (len bytes) to set: IPv4 addresses of
 * the interface ifname (by label, "ppp0" or "ppp0:alias"; by index ifindex
 * when a message has no label). 1 when the buffer ends a dump (NLMSG_DONE),
 * -1 on an error message or a malformed buffer, else 0. */
int  ipif_apply(struct ipif_set *set, const char *ifname, unsigned ifindex,
		const void *buf, size_t len);

/* The address to use: a public one before a private one, the primary
 * before an alias, else the oldest. false when the set is empty. */
bool ipif_choose(const struct ipif_set *set, struct in_addr *out);

#endif
