/* gw_backend.c - the table of gateway protocols (gw_backend.h). Its order
 * is the order of preference for mappings: the first protocol that
 * answers maps (UPnP first: only it can map for other LAN hosts). */
#include <string.h>

#include "gw_backend.h"
#include "gw_natpmp.h"
#include "gw_upnp.h"
#include "homeport.h"

static const struct gw_backend *table[] = {
	&gw_backend_upnp,
	&gw_backend_natpmp,
	NULL,          /* gw_backends_test_row */
	NULL,
};

const struct gw_backend *const *gw_backends = table;

int gw_backends_init(void)
{
	for (const struct gw_backend *const *b = gw_backends; *b; b++)
		if ((*b)->init && (*b)->init() < 0)
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

void gw_backends_test_row(const struct gw_backend *be)
{
	table[HP_ARRAY_LEN(table) - 2] = be;
}
