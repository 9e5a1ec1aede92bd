/* mapstore.c - mappings.json (mapstore.h). The file is rewritten whole,
 * atomically (state.c), and only when its content changes. It holds two
 * sets, the IPv4 mappings (mapping.c) and the IPv6 pinholes (pinhole.c):
 * each owner replaces its own set; the other is kept as the file had it. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "mapstore.h"
#include "state.h"
#include "util.h"

#define STATE_NAME "mappings"              /* <state_dir>/mappings.json */
#define STATE_VERSION 1

struct record_copy {
	struct map_record *recs;     /* strings owned */
	size_t n;
	bool valid;
};

static struct {
	char *dir;
	char *saved;                 /* what the file holds (compact JSON) */
	json_t *sets[2];             /* [ipv6]: the records of each set, as the file has them */
	struct record_copy last[2];  /* [ipv6]: the records last saved, as given */
} S;

/* ---- the records last saved: a save of the same is a comparison ------- */

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void copy_free(struct record_copy *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct map_record *r = &c->recs[i];
		free((char *)r->service);
		free((char *)r->int_host);
		free((char *)r->desc);
		free((char *)r->via);
		free((char *)r->gateway);
		free((char *)r->locator);
		free((char *)r->handle);
	}
	free(c->recs);
	memset(c, 0, sizeof(*c));
}

static void copy_set(struct record_copy *c, const struct map_record *recs, size_t n)
{
	copy_free(c);
	c->recs = xcalloc(n ? n : 1, sizeof(*c->recs));
	for (size_t i = 0; i < n; i++) {
		struct map_record *r = &c->recs[i];
		*r = recs[i];
		r->service = dup_or_null(recs[i].service);
		r->int_host = dup_or_null(recs[i].int_host);
		r->desc = dup_or_null(recs[i].desc);
		r->via = dup_or_null(recs[i].via);
		r->gateway = dup_or_null(recs[i].gateway);
		r->locator = dup_or_null(recs[i].locator);
		r->handle = dup_or_null(recs[i].handle);
	}
	c->n = n;
	c->valid = true;
}

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool record_same(const struct map_record *a, const struct map_record *b)
{
	return a->proto == b->proto && a->ext_port == b->ext_port &&
	       a->int_port == b->int_port && a->lease == b->lease && a->ipv6 == b->ipv6 &&
	       str_same(a->service, b->service) && str_same(a->int_host, b->int_host) &&
	       str_same(a->desc, b->desc) && str_same(a->via, b->via) &&
	       str_same(a->gateway, b->gateway) && str_same(a->locator, b->locator) &&
	       str_same(a->handle, b->handle);
}

static bool copy_same(const struct record_copy *c, const struct map_record *recs, size_t n)
{
	if (!c->valid || c->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!record_same(&c->recs[i], &recs[i]))
			return false;
	return true;
}

static bool record_is_ipv6(json_t *o)
{
	const char *f = json_string_value(json_object_get(o, "family"));

	return f && strcmp(f, "ipv6") == 0;
}

/* The file's root for these records (it takes their reference). */
static json_t *file_root(json_t *records)
{
	json_t *root = json_object();

	json_object_set_new(root, "version", json_integer(STATE_VERSION));
	json_object_set_new(root, "mappings", records);
	return root;
}

/* The file's content, in the one form compared with S.saved. */
static char *compact_text(const json_t *root)
{
	return json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
}

void mapstore_open(const char *dir)
{
	json_t *root, *o;
	size_t i;

	mapstore_close();
	S.dir = dir && *dir ? xstrdup(dir) : NULL;
	S.sets[0] = json_array();
	S.sets[1] = json_array();
	if (!S.dir)
		return;
	root = state_load_json(S.dir, STATE_NAME);
	if (!root) {
		/* No file is as good as one holding nothing: a start with no
		 * mapping to remember writes nothing (no fsync before the first
		 * request). An unreadable file is written over at the first save. */
		if (errno == ENOENT) {
			root = file_root(json_array());
			S.saved = compact_text(root);
			json_decref(root);
		}
		return;
	}
	json_array_foreach(json_object_get(root, "mappings"), i, o)
		if (json_is_object(o))
			json_array_append(S.sets[record_is_ipv6(o)], o);
	json_decref(root);
}

void mapstore_close(void)
{
	copy_free(&S.last[0]);
	copy_free(&S.last[1]);
	free(S.dir);
	free(S.saved);
	json_decref(S.sets[0]);
	json_decref(S.sets[1]);
	memset(&S, 0, sizeof(S));
}

static const char *proto_str(unsigned proto)
{
	return proto == SVC_UDP ? "udp" : "tcp";
}

static json_t *record_json(const struct map_record *r)
{
	json_t *o = json_object(), *desc;

	json_object_set_new(o, "service", json_string(r->service));
	json_object_set_new(o, "protocol", json_string(proto_str(r->proto)));
	json_object_set_new(o, "external_port", json_integer(r->ext_port));
	json_object_set_new(o, "internal_host", json_string(r->int_host));
	json_object_set_new(o, "internal_port", json_integer(r->int_port));
	/* Not UTF-8 (jansson refuses it): null, "unknown". */
	desc = r->desc ? json_string(r->desc) : NULL;
	json_object_set_new(o, "description", desc ? desc : json_null());
	json_object_set_new(o, "via", json_string(r->via));
	json_object_set_new(o, "gateway", json_string(r->gateway));
	json_object_set_new(o, "root_url", json_string_or_null(r->locator));
	if (r->handle && *r->handle)
		json_object_set_new(o, "handle", json_string(r->handle));
	json_object_set_new(o, "lease", json_integer(r->lease));
	if (r->ipv6)
		json_object_set_new(o, "family", json_string("ipv6"));
	return o;
}

/* Called once per event-loop pass while mappings change (mapping.c's
 * flush): the same records as last time are only compared, never turned
 * into JSON again (50 services at start: 50 dumps of 50 records). */
void mapstore_save_set(bool ipv6, const struct map_record *recs, size_t n)
{
	json_t *root, *arr;
	char *text;
	size_t total;

	if (!S.dir || copy_same(&S.last[ipv6], recs, n))
		return;
	json_array_clear(S.sets[ipv6]);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(S.sets[ipv6], record_json(&recs[i]));
	arr = json_array();
	json_array_extend(arr, S.sets[0]);
	json_array_extend(arr, S.sets[1]);
	total = json_array_size(arr);
	root = file_root(arr);
	text = compact_text(root);
	if (text && S.saved && strcmp(text, S.saved) == 0) {
		copy_set(&S.last[ipv6], recs, n);
	} else if (text && state_save_json(S.dir, STATE_NAME, root) == 0) {
		log_debug("mappings: %s/%s.json: %zu remembered", S.dir, STATE_NAME, total);
		free(S.saved);
		S.saved = text;
		text = NULL;
		copy_set(&S.last[ipv6], recs, n);
	}
	free(text);
	json_decref(root);
}

static bool port_ok(json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 1 &&
	       json_integer_value(v) <= 65535;
}

void mapstore_save(const struct map_record *recs, size_t n)
{
	mapstore_save_set(false, recs, n);
}

static bool ipv4_ok(const char *s)
{
	struct in_addr a;

	return s && inet_pton(AF_INET, s, &a) == 1;
}

static bool ipv6_ok(const char *s)
{
	struct in6_addr a;

	return s && inet_pton(AF_INET6, s, &a) == 1;
}

static int record_parse(json_t *o, struct map_record *r)
{
	const char *proto = json_string_value(json_object_get(o, "protocol"));
	json_t *desc = json_object_get(o, "description"), *lease = json_object_get(o, "lease");
	const char *url = json_string_value(json_object_get(o, "root_url"));
	const char *handle = json_string_value(json_object_get(o, "handle"));

	memset(r, 0, sizeof(*r));
	r->service = json_string_value(json_object_get(o, "service"));
	r->int_host = json_string_value(json_object_get(o, "internal_host"));
	r->via = json_string_value(json_object_get(o, "via"));
	r->gateway = json_string_value(json_object_get(o, "gateway"));
	r->ipv6 = record_is_ipv6(o);
	if (!r->service || !proto || !r->via || !*r->via ||
	    !(r->ipv6 ? ipv6_ok(r->int_host) : ipv4_ok(r->int_host)) ||
	    !ipv4_ok(r->gateway) || !port_ok(json_object_get(o, "external_port")) ||
	    !port_ok(json_object_get(o, "internal_port")) ||
	    (desc && !json_is_string(desc) && !json_is_null(desc)))
		return -1;
	if (strcmp(proto, "tcp") == 0)
		r->proto = SVC_TCP;
	else if (strcmp(proto, "udp") == 0)
		r->proto = SVC_UDP;
	else
		return -1;
	r->ext_port = (uint16_t)json_integer_value(json_object_get(o, "external_port"));
	r->int_port = (uint16_t)json_integer_value(json_object_get(o, "internal_port"));
	r->desc = json_string_value(desc);
	r->locator = url ? url : "";
	r->handle = handle ? handle : "";
	r->lease = json_is_integer(lease) && json_integer_value(lease) >= 0 &&
		json_integer_value(lease) <= UINT32_MAX ? (uint32_t)json_integer_value(lease) : 0;
	return 0;
}

size_t mapstore_load(void (*fn)(void *arg, const struct map_record *r), void *arg)
{
	json_t *root, *o;
	struct map_record r;
	size_t i, n = 0;

	if (!S.dir || !(root = state_load_json(S.dir, STATE_NAME)))
		return 0;
	json_array_foreach(json_object_get(root, "mappings"), i, o) {
		if (record_parse(o, &r) < 0) {
			log_warnx("mappings: %s/%s.json: entry %zu is not valid, ignored",
				  S.dir, STATE_NAME, i);
			continue;
		}
		fn(arg, &r);
		n++;
	}
	json_decref(root);
	return n;
}
