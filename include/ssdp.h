/* ssdp.h - the SSDP messages the UPnP backend listens to (owned by
 * gw_upnp.c): a NOTIFY or an M-SEARCH response from the gateway, read for
 * its BOOTID.UPNP.ORG (UDA 1.1), which a restarted device changes. Pure,
 * so that the unit tests and the fuzzer can feed it anything. */
#ifndef HP_SSDP_H
#define HP_SSDP_H

#include <stdbool.h>
#include <stddef.h>

enum ssdp_kind {
	SSDP_OTHER,          /* not one we read (M-SEARCH, byebye, garbage) */
	SSDP_ALIVE,          /* NOTIFY * with NTS: ssdp:alive */
	SSDP_RESPONSE,       /* HTTP/1.1 200: an answer to an M-SEARCH */
};

struct ssdp_msg {
	enum ssdp_kind kind;
	bool has_bootid;
	unsigned long bootid;
};

/* Parse len bytes (not NUL-terminated, any content). Returns 0 and fills
 * m for SSDP_ALIVE / SSDP_RESPONSE, -1 otherwise. */
int ssdp_parse(const char *buf, size_t len, struct ssdp_msg *m);

#endif
