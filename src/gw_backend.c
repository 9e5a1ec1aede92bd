/* gw_backend.c - the table of gateway protocols (gw_backend.h). Its order
 * is the order of preference for mappings: the first protocol that
 * answers maps.
 *   UPnP first: the router's table then shows each mapping's description,
 *     a mapping can be read back (verified without re-creating it, the
 *     holder of a conflicting port named), and it maps for other hosts.
 *   PCP next: NAT-PMP's successor on the same port, with the same epoch
 *     and announcements, plus mappings owned by a nonce (no other host
 *     can renew or delete them), THIRD_PARTY for other hosts, IPv6. Every
 *     PCP server also answers NAT-PMP, so NAT-PMP before it would leave
 *     PCP unused.
 *   NAT-PMP last: what PCP does, minus the above.
 * Mappings for another host try a protocol with GW_CAP_THIRD_PARTY first
 * (where the router allows it), then one with GW_CAP_OTHER_HOST.
 * IPv6 pinholes go through the protocol that maps IPv4 when it can open
 * them on this gateway (one protocol for both, as the user chose or auto
 * found), else through the first other one that can (gw_pinhole_pick). */
#include <stdio.h>
#include <string.h>

#include "gw_backend.h"
#include "gw_natpmp.h"
#include "gw_pcp.h"
#include "gw_upnp.h"
#include "homeport.h"

static const struct gw_backend *table[] = {
	&gw_backend_upnp,
	&gw_backend_pcp,
	&gw_backend_natpmp,
	NULL,          /* gw_backends_test_row */
	NULL,
};

const struct gw_backend *const *gw_backends = table;

int gw_backends_init(const char *state_dir)
{
	for (const struct gw_backend *const *b = gw_backends; *b; b++)
		if ((*b)->init && (*b)->init(state_dir) < 0)
			return -1;
	return 0;
}

void gw_backends_fini(void)
{
	for (const struct gw_backend *const *b = gw_backends; *b; b++)
		if ((*b)->fini)
			(*b)->fini();
}

const struct gw_backend *gw_backend_by_name(const char *name)
{
	for (const struct gw_backend *const *b = gw_backends; name && *b; b++)
		if (strcmp((*b)->name, name) == 0)
			return *b;
	return NULL;
}

const char *gw_backend_why(const struct gw_backend *be, enum gw_protocol_pref pref)
{
	return pref == GW_PREF_AUTO ? be->why : "the protocol configured ([gateway] protocol)";
}

bool gw_outcome_gone(enum gw_outcome o)
{
	return o == GW_GONE || o == GW_FAULT;
}

const char *gw_outcome_name(enum gw_outcome o)
{
	static const char *const names[] = {
		[GW_OK] = "ok", [GW_CONFLICT] = "conflict", [GW_REFUSED] = "refused",
		[GW_PERMANENT_ONLY] = "permanent leases only", [GW_NOT_FOUND] = "not found",
		[GW_TEMPORARY] = "temporary", [GW_FAULT] = "fault", [GW_GONE] = "gone",
	};

	return (unsigned)o < HP_ARRAY_LEN(names) ? names[o] : "?";
}

bool gw_trust(const struct gw_backend *be, const struct gw_result *r, const char *trusted,
	      const char *url, void (*ignore)(const char *what), char *err, size_t errlen)
{
	const struct gw_found *f = &r->u.found;
	char what[GW_IGNORED_LEN];

	for (size_t i = 0; i < GW_IGNORED_MAX && r->ignored[i][0]; i++)
		ignore(r->ignored[i]);
	if (r->outcome != GW_OK || (trusted && *trusted && strcmp(f->address, trusted) == 0) ||
	    (url && strcmp(f->locator, url) == 0))
		return true;
	snprintf(what, sizeof(what), "%s at %s", be->label, f->address);
	ignore(what);
	snprintf(err, errlen, "answers at %s, not at the default gateway", f->address);
	return false;
}

static bool opens(const struct gw_pin_cand *c)
{
	return c->be && (c->be->caps & GW_CAP_PINHOLE);
}

int gw_pinhole_pick(const struct gw_pin_cand *c, size_t n, size_t via)
{
	if (via < n && opens(&c[via]) && c[via].firewall)
		return (int)via;
	for (size_t i = 0; i < n; i++)
		if (opens(&c[i]) && c[i].firewall)
			return (int)i;
	for (size_t i = 0; i < n; i++)
		if (opens(&c[i]))
			return (int)i;
	return -1;
}

void gw_backends_test_row(const struct gw_backend *be)
{
	table[HP_ARRAY_LEN(table) - 2] = be;
}
