/* mapstore.h - <state_dir>/mappings.json: the port mappings this daemon
 * made (or is about to make) on a router, so that a daemon killed with
 * SIGKILL, or whose service was removed while it was down, can clean up
 * after itself at the next start (mapping.c decides what to keep). */
#ifndef HP_MAPSTORE_H
#define HP_MAPSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct map_record {
	const char *service;
	unsigned proto;              /* SVC_TCP or SVC_UDP */
	uint16_t ext_port, int_port;
	const char *int_host;        /* dotted quad */
	const char *desc;            /* the description sent; NULL: unknown */
	const char *via;             /* the backend's name ("upnp") */
	const char *gateway;         /* dotted quad */
	const char *locator;         /* the backend's locator (the IGD root URL), "" if none */
	const char *handle;          /* the backend's handle of the mapping, "" if none */
	uint32_t lease;
	bool ipv6;                   /* an IPv6 pinhole (pinhole.c): int_host is IPv6 */
};

/* dir NULL: nothing is read or written. */
void mapstore_open(const char *dir);
void mapstore_close(void);

/* Make the file hold exactly these records (atomically). Cheap when they
 * are what it already holds. */
void mapstore_save(const struct map_record *recs, size_t n);
/* The same for one set: the IPv4 mappings (ipv6 false; mapstore_save) or
 * the IPv6 pinholes; the other set stays as it is. */
void mapstore_save_set(bool ipv6, const struct map_record *recs, size_t n);

/* Call fn for every valid record in the file; invalid ones are logged and
 * skipped. fn must copy what it keeps. Returns the count. */
size_t mapstore_load(void (*fn)(void *arg, const struct map_record *r), void *arg);

#endif
