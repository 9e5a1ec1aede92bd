/* mapstore.c - mappings.json (mapstore.h). The file is rewritten whole,
 * atomically (state.c), and only when its content changes. It holds two
 * sets, the IPv4 mappings (mapping.c) and the IPv6 pinholes (pinhole.c):
 * each owner replaces its own set; the other is kept as the file had it. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "mapstore.h"
#include "state.h"
#include "util.h"

#define STATE_NAME "mappings"              /* <state_dir>/mappings.json */
#define STATE_VERSION 1

static struct {
	char *dir;
	char *saved;                 /* what the file holds (compact JSON) */
	json_t *sets[2];             /* [ipv6]: the records of each set, as the file has them */
} S;

static bool record_is_ipv6(json_t *o)
{
	const char *f = json_string_value(json_object_get(o, "family"));

	return f && strcmp(f, "ipv6") == 0;
}

void mapstore_open(const char *dir)
{
	json_t *root, *o;
	size_t i;

	mapstore_close();
	S.dir = dir && *dir ? xstrdup(dir) : NULL;
	S.sets[0] = json_array();
	S.sets[1] = json_array();
	if (!S.dir || !(root = state_load_json(S.dir, STATE_NAME)))
		return;
	json_array_foreach(json_object_get(root, "mappings"), i, o)
		if (json_is_object(o))
			json_array_append(S.sets[record_is_ipv6(o)], o);
	json_decref(root);
}

void mapstore_close(void)
{
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

void mapstore_save_set(bool ipv6, const struct map_record *recs, size_t n)
{
	json_t *root, *arr;
	char *text;

	if (!S.dir)
		return;
	json_array_clear(S.sets[ipv6]);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(S.sets[ipv6], record_json(&recs[i]));
	arr = json_array();
	json_array_extend(arr, S.sets[0]);
	json_array_extend(arr, S.sets[1]);
	n = json_array_size(arr);
	root = json_object();
	json_object_set_new(root, "version", json_integer(STATE_VERSION));
	json_object_set_new(root, "mappings", arr);
	text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	if (text && (!S.saved || strcmp(text, S.saved) != 0) &&
	    state_save_json(S.dir, STATE_NAME, root) == 0) {
		log_debug("mappings: %s/%s.json: %zu remembered", S.dir, STATE_NAME, n);
		free(S.saved);
		S.saved = text;
		text = NULL;
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
