/* nlmsg.c - rtnetlink messages in and out (see nlmsg.h). Everything is
 * copied out of the buffer with memcpy: the buffer may be unaligned (the
 * fuzzer) and every length is checked against what is left. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "nlmsg.h"

/* One attribute: type (flags stripped), data and its length. */
struct attr {
	uint16_t type;
	const uint8_t *data;
	size_t len;
};

/* The next attribute of p[*off..len); 1, or 0 at the end or on garbage. */
static int attr_next(const uint8_t *p, size_t len, size_t *off, struct attr *a)
{
	struct rtattr rta;

	if (*off >= len || len - *off < sizeof(rta))
		return 0;
	memcpy(&rta, p + *off, sizeof(rta));
	if (rta.rta_len < sizeof(rta) || rta.rta_len > len - *off)
		return 0;
	a->type = rta.rta_type & NLA_TYPE_MASK;
	a->data = p + *off + RTA_LENGTH(0);
	a->len = rta.rta_len - RTA_LENGTH(0);
	*off += RTA_ALIGN(rta.rta_len);
	return 1;
}

static bool get_u32(const struct attr *a, uint32_t *out)
{
	if (a->len < sizeof(*out))
		return false;
	memcpy(out, a->data, sizeof(*out));
	return true;
}

/* An address attribute of the right size for family. */
static bool get_ip(const struct attr *a, int family, union nlmsg_ip *out)
{
	size_t want = family == AF_INET ? sizeof(out->v4) : sizeof(out->v6);

	if (a->len != want)
		return false;
	memset(out, 0, sizeof(*out));
	memcpy(out, a->data, want);
	return true;
}

static bool family_ok(int family)
{
	return family == AF_INET || family == AF_INET6;
}

static bool parse_addr(const uint8_t *p, size_t len, struct nlmsg_addr *m)
{
	struct ifaddrmsg ifa;
	struct ifa_cacheinfo ci;
	bool have_local = false, have_addr = false;
	union nlmsg_ip local = { 0 };
	struct attr a;
	size_t off = NLMSG_ALIGN(sizeof(ifa));
	uint32_t flags;

	if (len < sizeof(ifa))
		return false;
	memcpy(&ifa, p, sizeof(ifa));
	if (!family_ok(ifa.ifa_family))
		return false;
	*m = (struct nlmsg_addr){ .family = ifa.ifa_family, .ifindex = (int)ifa.ifa_index,
				  .prefixlen = ifa.ifa_prefixlen, .scope = ifa.ifa_scope,
				  .flags = ifa.ifa_flags };
	while (attr_next(p, len, &off, &a)) {
		switch (a.type) {
		case IFA_LOCAL:
			have_local = get_ip(&a, m->family, &local);
			break;
		case IFA_ADDRESS:
			have_addr = get_ip(&a, m->family, &m->addr);
			break;
		case IFA_LABEL:
			if (a.len > 0 && a.len <= sizeof(m->label) && memchr(a.data, '\0', a.len))
				memcpy(m->label, a.data, a.len);
			break;
		case IFA_FLAGS:
			if (get_u32(&a, &flags))
				m->flags = flags;
			break;
		case IFA_CACHEINFO:
			if (a.len >= sizeof(ci)) {
				memcpy(&ci, a.data, sizeof(ci));
				m->has_cacheinfo = true;
				m->preferred = ci.ifa_prefered;
				m->valid = ci.ifa_valid;
				m->cstamp = ci.cstamp;
			}
			break;
		}
	}
	if (have_local)              /* point-to-point: IFA_ADDRESS is the peer */
		m->addr = local;
	return have_local || have_addr;
}

/* A multipath route: its first nexthop's interface and gateway. */
static void first_nexthop(const struct attr *mp, struct nlmsg_route *m)
{
	struct rtnexthop nh;
	struct attr a;
	size_t off;

	if (mp->len < sizeof(nh))
		return;
	memcpy(&nh, mp->data, sizeof(nh));
	if (nh.rtnh_len < sizeof(nh) || nh.rtnh_len > mp->len)
		return;
	m->oif = nh.rtnh_ifindex;
	off = RTNH_ALIGN(sizeof(nh));
	while (attr_next(mp->data, nh.rtnh_len, &off, &a))
		if (a.type == RTA_GATEWAY)
			m->has_gateway = get_ip(&a, m->family, &m->gateway);
}

static bool parse_route(const uint8_t *p, size_t len, struct nlmsg_route *m)
{
	struct rtmsg rtm;
	struct attr a;
	size_t off = NLMSG_ALIGN(sizeof(rtm));
	uint32_t v;

	if (len < sizeof(rtm))
		return false;
	memcpy(&rtm, p, sizeof(rtm));
	if (!family_ok(rtm.rtm_family))
		return false;
	*m = (struct nlmsg_route){ .family = rtm.rtm_family, .dst_len = rtm.rtm_dst_len,
				   .table = rtm.rtm_table, .type = rtm.rtm_type };
	while (attr_next(p, len, &off, &a)) {
		switch (a.type) {
		case RTA_TABLE:
			if (get_u32(&a, &v))
				m->table = v;
			break;
		case RTA_OIF:
			if (get_u32(&a, &v))
				m->oif = (int)v;
			break;
		case RTA_PRIORITY:
			if (get_u32(&a, &v))
				m->priority = v;
			break;
		case RTA_GATEWAY:
			m->has_gateway = get_ip(&a, m->family, &m->gateway);
			break;
		case RTA_MULTIPATH:
			if (m->oif == 0)
				first_nexthop(&a, m);
			break;
		}
	}
	return true;
}

static bool parse_neigh(const uint8_t *p, size_t len, struct nlmsg_neigh *m)
{
	struct ndmsg nd;
	struct attr a;
	size_t off = NLMSG_ALIGN(sizeof(nd));
	bool have_dst = false;

	if (len < sizeof(nd))
		return false;
	memcpy(&nd, p, sizeof(nd));
	if (!family_ok(nd.ndm_family))
		return false;
	*m = (struct nlmsg_neigh){ .family = nd.ndm_family, .ifindex = nd.ndm_ifindex,
				   .state = nd.ndm_state };
	while (attr_next(p, len, &off, &a)) {
		if (a.type == NDA_DST) {
			have_dst = get_ip(&a, m->family, &m->dst);
		} else if (a.type == NDA_LLADDR && a.len == sizeof(m->lladdr)) {
			memcpy(m->lladdr, a.data, sizeof(m->lladdr));
			m->has_lladdr = true;
		}
	}
	return have_dst;
}

static void parse_body(uint16_t type, const uint8_t *p, size_t len, struct nlmsg *m)
{
	bool ok = false;

	switch (type) {
	case RTM_NEWADDR: case RTM_DELADDR:
		m->kind = NLMSG_K_ADDR;
		ok = parse_addr(p, len, &m->u.addr);
		break;
	case RTM_NEWROUTE: case RTM_DELROUTE:
		m->kind = NLMSG_K_ROUTE;
		ok = parse_route(p, len, &m->u.route);
		break;
	case RTM_NEWNEIGH: case RTM_DELNEIGH:
		m->kind = NLMSG_K_NEIGH;
		ok = parse_neigh(p, len, &m->u.neigh);
		break;
	case NLMSG_DONE:
		m->kind = NLMSG_K_DONE;
		return;
	case NLMSG_ERROR:
		m->kind = NLMSG_K_ERROR;
		m->error = -EIO;
		if (len >= sizeof(int))
			memcpy(&m->error, p, sizeof(int));
		return;
	default:
		return;
	}
	m->del = type == RTM_DELADDR || type == RTM_DELROUTE || type == RTM_DELNEIGH;
	if (!ok)
		m->kind = NLMSG_K_OTHER;
}

int nlmsg_next(const uint8_t *buf, size_t len, size_t *off, struct nlmsg *m)
{
	struct nlmsghdr h;
	size_t step;

	if (*off >= len)
		return 0;
	if (len - *off < sizeof(h))
		goto bad;
	memcpy(&h, buf + *off, sizeof(h));
	if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - *off)
		goto bad;
	memset(m, 0, sizeof(*m));
	m->seq = h.nlmsg_seq;
	m->flags = h.nlmsg_flags;
	parse_body(h.nlmsg_type, buf + *off + NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN, m);
	step = NLMSG_ALIGN(h.nlmsg_len);
	*off = step > len - *off ? len : *off + step;
	return 1;
bad:
	*off = len;
	return -1;
}

int nlmsg_each(const uint8_t *buf, size_t len, enum nlmsg_kind kind,
	       void (*fn)(const struct nlmsg *m, void *arg), void *arg)
{
	struct nlmsg m;
	size_t off = 0;
	int rc;

	while ((rc = nlmsg_next(buf, len, &off, &m)) == 1) {
		if (m.kind == NLMSG_K_DONE)
			return 1;
		if (m.kind == NLMSG_K_ERROR)
			return -1;
		if (m.kind == kind)
			fn(&m, arg);
	}
	return rc;
}

size_t nlmsg_dump_request(uint8_t *buf, size_t len, uint16_t type, int family, uint32_t seq)
{
	struct nlmsghdr h = { .nlmsg_type = type, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			      .nlmsg_seq = seq };
	union {
		struct ifaddrmsg ifa;
		struct rtmsg rtm;
		struct ndmsg nd;
	} body;
	size_t blen;

	memset(&body, 0, sizeof(body));
	switch (type) {
	case RTM_GETADDR:  body.ifa.ifa_family = (uint8_t)family; blen = sizeof(body.ifa); break;
	case RTM_GETROUTE: body.rtm.rtm_family = (uint8_t)family; blen = sizeof(body.rtm); break;
	case RTM_GETNEIGH: body.nd.ndm_family = (uint8_t)family; blen = sizeof(body.nd); break;
	default: return 0;
	}
	h.nlmsg_len = (uint32_t)NLMSG_LENGTH(blen);
	if (len < h.nlmsg_len)
		return 0;
	memset(buf, 0, h.nlmsg_len);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + NLMSG_HDRLEN, &body, blen);
	return h.nlmsg_len;
}
