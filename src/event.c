/* event.c - the event bus: names, variables and subscribers.
 *
 * An event is a small fixed record, copied by whoever keeps it (the hook
 * queues), so nothing points into a module's state. Its strings come from
 * routers and providers as much as from us: event_publish() reduces them
 * to printable ASCII once, so that no receiver (an environment, a JSON
 * body, a header, a log line) ever sees a control character. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "homeport.h"
#include "log.h"
#include "util.h"

#define MAX_SUBSCRIBERS 8

static const char *const type_names[EV__COUNT] = {
	[EV_IP_CHANGE] = "ip-change", [EV_DDNS_OK] = "ddns-ok",
	[EV_DDNS_FAILED] = "ddns-failed", [EV_MAPPING_OK] = "mapping-ok",
	[EV_MAPPING_LOST] = "mapping-lost", [EV_MAPPING_FAILED] = "mapping-failed",
	[EV_GATEWAY_FOUND] = "gateway-found", [EV_GATEWAY_LOST] = "gateway-lost",
};

/* Every variable: where its text lives in struct event (0 size: computed). */
enum var_id { V_EVENT, V_NAME, V_IP, V_OLD_IP, V_IPV6, V_STATE, V_ERROR, V_HOSTNAMES,
	      V_TIME, V_PROTOCOL, V_PORT, V_SEQ };

static const struct var {
	const char *name;
	enum var_id id;
	size_t off, size;
} vars[] = {
#define S(n, id, f) { n, id, offsetof(struct event, f), sizeof(((struct event *)0)->f) }
	{ "event", V_EVENT, 0, 0 },
	S("name", V_NAME, name), S("ip", V_IP, ip), S("old_ip", V_OLD_IP, old_ip),
	S("ipv6", V_IPV6, ipv6), S("state", V_STATE, state), S("error", V_ERROR, error),
	S("hostnames", V_HOSTNAMES, hostnames),
	{ "time", V_TIME, 0, 0 },
	S("protocol", V_PROTOCOL, protocol),
	{ "port", V_PORT, 0, 0 }, { "seq", V_SEQ, 0, 0 },
#undef S
};

static struct {
	event_cb cb;
	void *arg;
} subs[MAX_SUBSCRIBERS];
static uint64_t next_seq = 1;
static uint64_t counts[EV__COUNT];

const char *event_type_name(enum event_type t)
{
	return (unsigned)t < EV__COUNT ? type_names[t] : "?";
}

int event_type_parse(const char *name)
{
	for (int t = 0; t < EV__COUNT; t++)
		if (strcmp(type_names[t], name) == 0)
			return t;
	return -1;
}

const char *event_type_list(void)
{
	return "ip-change, ddns-ok, ddns-failed, mapping-ok, mapping-lost, mapping-failed, "
	       "gateway-found, gateway-lost";
}

/* ---- variables ------------------------------------------------------- */

static const struct var *var_find(const char *name, size_t len)
{
	for (size_t i = 0; i < HP_ARRAY_LEN(vars); i++)
		if (strlen(vars[i].name) == len && memcmp(vars[i].name, name, len) == 0)
			return &vars[i];
	return NULL;
}

bool event_var_known(const char *name, size_t len)
{
	return var_find(name, len) != NULL;
}

const char *event_var_list(void)
{
	static char list[256];

	if (!list[0])
		for (size_t i = 0; i < HP_ARRAY_LEN(vars); i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%%%s%%",
				 i ? ", " : "", vars[i].name);
	return list;
}

static void iso_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
}

static const char *var_value(const struct event *ev, const struct var *v, char *buf, size_t len)
{
	switch (v->id) {
	case V_EVENT:
		return event_type_name(ev->type);
	case V_TIME:
		iso_time(ev->time, buf, len);
		return buf;
	case V_PORT:
		if (!ev->port)
			return "";
		snprintf(buf, len, "%u", ev->port);
		return buf;
	case V_SEQ:
		snprintf(buf, len, "%llu", (unsigned long long)ev->seq);
		return buf;
	default:
		return (const char *)ev + v->off;
	}
}

const char *event_var(const struct event *ev, const char *name, size_t len,
		      char *buf, size_t buflen)
{
	const struct var *v = var_find(name, len);

	return v ? var_value(ev, v, buf, buflen) : NULL;
}

char **event_env(const struct event *ev)
{
	char **env = xcalloc(HP_ARRAY_LEN(vars) + 1, sizeof(*env));

	for (size_t i = 0; i < HP_ARRAY_LEN(vars); i++) {
		char buf[64], upper[16];
		size_t j;

		for (j = 0; vars[i].name[j] && j + 1 < sizeof(upper); j++)
			upper[j] = (char)(vars[i].name[j] - (vars[i].name[j] >= 'a' ? 32 : 0));
		upper[j] = '\0';
		if (asprintf(&env[i], "HOMEPORT_%s=%s", upper,
			     var_value(ev, &vars[i], buf, sizeof(buf))) < 0)
			abort();
	}
	return env;
}

void event_env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

json_t *event_json(const struct event *ev)
{
	json_t *o = json_object(), *hosts = json_array();
	char buf[64], copy[sizeof(ev->hostnames)], *save = NULL;

	for (size_t i = 0; i < HP_ARRAY_LEN(vars); i++) {
		const struct var *v = &vars[i];
		if (v->id == V_HOSTNAMES)
			continue;
		if (v->id == V_SEQ || (v->id == V_PORT && ev->port))
			json_object_set_new(o, v->name, json_integer(v->id == V_SEQ ?
						(json_int_t)ev->seq : (json_int_t)ev->port));
		else
			json_object_set_new(o, v->name, json_string_or_null(var_value(ev, v, buf, sizeof(buf))));
	}
	memcpy(copy, ev->hostnames, sizeof(copy));
	for (char *h = strtok_r(copy, " ", &save); h; h = strtok_r(NULL, " ", &save))
		json_array_append_new(hosts, json_string(h));
	json_object_set_new(o, "hostnames", hosts);
	return o;
}

json_t *event_counts_json(void)
{
	json_t *o = json_object();

	for (int t = 0; t < EV__COUNT; t++)
		json_object_set_new(o, type_names[t], json_integer((json_int_t)counts[t]));
	return o;
}

/* ---- queues ---------------------------------------------------------- */

bool event_queue_push(struct event_queue *q, const struct event *ev)
{
	bool dropped = false;

	if (!q->items)
		q->items = xcalloc(q->cap, sizeof(*q->items));
	if (q->len == q->cap) {
		q->head = (q->head + 1) % q->cap;
		q->len--;
		dropped = true;
	}
	q->items[(q->head + q->len) % q->cap] = *ev;
	q->len++;
	return dropped;
}

bool event_queue_pop(struct event_queue *q, struct event *out)
{
	if (q->len == 0)
		return false;
	*out = q->items[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return true;
}

void event_queue_clear(struct event_queue *q)
{
	free(q->items);
	q->items = NULL;
	q->head = q->len = 0;
}

/* ---- subscribers ----------------------------------------------------- */

int event_subscribe(event_cb cb, void *arg)
{
	for (size_t i = 0; i < MAX_SUBSCRIBERS; i++) {
		if (!subs[i].cb) {
			subs[i].cb = cb;
			subs[i].arg = arg;
			return 0;
		}
	}
	return -1;
}

void event_unsubscribe(event_cb cb, void *arg)
{
	for (size_t i = 0; i < MAX_SUBSCRIBERS; i++)
		if (subs[i].cb == cb && subs[i].arg == arg)
			subs[i].cb = NULL;
}

static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static void clean_all(struct event *ev)
{
	for (size_t i = 0; i < HP_ARRAY_LEN(vars); i++) {
		if (vars[i].size) {
			char *s = (char *)ev + vars[i].off;
			s[vars[i].size - 1] = '\0';
			clean(s);
		}
	}
}

void event_publish(struct event *ev)
{
	if ((unsigned)ev->type >= EV__COUNT)
		return;
	ev->seq = next_seq++;
	ev->time = time(NULL);
	clean_all(ev);
	counts[ev->type]++;
	log_notice("event %s%s%s%s%s%s%s", event_type_name(ev->type), *ev->name ? " " : "",
		   ev->name, *ev->ip ? " ip " : "", ev->ip, *ev->error ? ": " : "", ev->error);
	for (size_t i = 0; i < MAX_SUBSCRIBERS; i++)
		if (subs[i].cb)
			subs[i].cb(ev, subs[i].arg);
}
