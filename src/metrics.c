/* metrics.c - the Prometheus text exposition of `homeportctl metrics`.
 *
 * Everything comes from the objects `homeportctl status` shows (so the
 * two agree by construction) plus the counters kept by event_store.c and
 * hook.c. States are labelled gauges, one sample per possible state, 1 for
 * the current one, so that an alert can say homeport_ddns_state{state=
 * "failed"} == 1. Times are Unix timestamps (..._timestamp_seconds), except
 * the lease, which is seconds left. Labels carry names only, never an
 * error text: their number stays that of the configured entries. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "event.h"
#include "homeport.h"
#include "hook.h"
#include "mapping.h"
#include "metrics.h"
#include "util.h"

static const char *const gateway_states[] = { "ok", "searching", "unreachable" };
static const char *const ddns_states[] = { "pending", "ok", "retrying", "failed", "blocked" };

void metrics_escape(const char *in, char *out, size_t outlen)
{
	size_t j = 0;

	for (; *in && j + 3 < outlen; in++) {
		if (*in == '\\' || *in == '"' || *in == '\n') {
			out[j++] = '\\';
			out[j++] = *in == '\n' ? 'n' : *in;
		} else {
			out[j++] = *in;
		}
	}
	out[j] = '\0';
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Labels k1="v1",k2="v2" into buf from NULL-terminated pairs; a NULL value
 * leaves its label out. */
static const char *labels(char *buf, size_t len, ...)
{
	const char *k, *v;
	char esc[512];
	size_t off = 0;
	va_list ap;

	buf[0] = '\0';
	va_start(ap, len);
	while ((k = va_arg(ap, const char *))) {
		v = va_arg(ap, const char *);
		if (!v || off >= len)
			continue;
		metrics_escape(v, esc, sizeof(esc));
		off += (size_t)snprintf(buf + off, len - off, "%s%s=\"%s\"", off ? "," : "", k, esc);
	}
	va_end(ap);
	return buf;
}

static void sample(FILE *f, const char *name, const char *lbl, double value)
{
	fprintf(f, "%s%s%s%s %.15g\n", name, *lbl ? "{" : "", lbl, *lbl ? "}" : "", value);
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool integer(json_t *o, const char *key, double *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return false;
	*out = (double)json_integer_value(v);
	return true;
}

/* One sample per state (1 for cur), cur included when the list lacks it;
 * base: the other labels. */
static void states(FILE *f, const char *name, const char *const *list, size_t n,
		   const char *cur, const char *base)
{
	char lbl[1200];
	bool seen = false;

	for (size_t i = 0; i < n; i++) {
		bool on = cur && strcmp(cur, list[i]) == 0;
		seen |= on;
		snprintf(lbl, sizeof(lbl), "%s%sstate=\"%s\"", base, *base ? "," : "", list[i]);
		sample(f, name, lbl, on);
	}
	if (cur && !seen) {
		char esc[64];
		metrics_escape(cur, esc, sizeof(esc));
		snprintf(lbl, sizeof(lbl), "%s%sstate=\"%s\"", base, *base ? "," : "", esc);
		sample(f, name, lbl, 1);
	}
}

#define L(...) labels(lbl, sizeof(lbl), __VA_ARGS__, NULL)

static void gateway(FILE *f, json_t *gw, int64_t now)
{
	const char *ip = str(gw, "external_ip");
	json_t *pub = json_object_get(gw, "external_ip_public");
	char lbl[1024];
	double ago;

	family(f, "homeport_gateway_state", "gauge", "The gateway's state (1: the current one).");
	states(f, "homeport_gateway_state", gateway_states, HP_ARRAY_LEN(gateway_states),
	       str(gw, "state"), "");
	family(f, "homeport_gateway_info", "gauge", "The gateway in use, while one is.");
	if (str(gw, "address"))
		sample(f, "homeport_gateway_info", L("address", str(gw, "address"), "protocol",
			str(gw, "protocol"), "lan_address", str(gw, "lan_address")), 1);
	family(f, "homeport_external_ip_info", "gauge",
	       "The gateway's external IPv4 address; public=\"false\": double NAT or CGNAT.");
	if (ip)
		sample(f, "homeport_external_ip_info",
		       L("ip", ip, "public", json_is_true(pub) ? "true" : "false"), 1);
	family(f, "homeport_gateway_last_check_timestamp_seconds", "gauge",
	       "When the external IP was last read from the gateway.");
	if (integer(gw, "last_check_ago", &ago))
		sample(f, "homeport_gateway_last_check_timestamp_seconds", "", (double)now - ago);
}

static const char *service_labels(json_t *s, char *lbl, size_t len)
{
	const char *fam = str(s, "family");

	return labels(lbl, len, "service", str(s, "name"), "protocol", str(s, "protocol"),
		      "family", fam ? fam : "ipv4", NULL);
}

static const char *entry_labels(json_t *d, char *lbl, size_t len)
{
	return labels(lbl, len, "entry", str(d, "name"), NULL);
}

/* A gauge of the entries whose integer member key is not null: base +
 * sign * that value (seconds left as they are, "seconds ago" made a time). */
static void per_entry(FILE *f, const char *name, const char *help, json_t *list,
		      const char *key, double base, double sign,
		      const char *(*lbls)(json_t *o, char *lbl, size_t len))
{
	char lbl[1024];
	json_t *o;
	size_t i;

	family(f, name, "gauge", help);
	json_array_foreach(list, i, o) {
		double v;
		if (integer(o, key, &v))
			sample(f, name, lbls(o, lbl, sizeof(lbl)), base + sign * v);
	}
}

static void services(FILE *f, json_t *svcs)
{
	const char *list[MAP_FAILED + 1];
	char lbl[1024];
	json_t *s;
	size_t i;

	for (i = 0; i <= MAP_FAILED; i++)
		list[i] = mapping_state_name((enum map_state)i);
	family(f, "homeport_service_state", "gauge", "Each service's mapping per protocol and "
	       "address family (1: the current state).");
	json_array_foreach(svcs, i, s)
		states(f, "homeport_service_state", list, HP_ARRAY_LEN(list), str(s, "state"),
		       service_labels(s, lbl, sizeof(lbl)));
	per_entry(f, "homeport_service_lease_expiry_seconds",
		  "Seconds until a mapping's lease expires (none: permanent or not mapped).",
		  svcs, "expires_in", 0, 1, service_labels);
}

static void ddns_counter(FILE *f, json_t *entries, json_t *counts, const char *name,
			 const char *key, const char *help)
{
	char lbl[1024];
	json_t *d;
	size_t i;

	family(f, name, "counter", help);
	json_array_foreach(entries, i, d) {
		json_t *c = json_object_get(counts, str(d, "name"));
		sample(f, name, entry_labels(d, lbl, sizeof(lbl)),
		       (double)json_integer_value(json_object_get(c, key)));
	}
}

static void ddns(FILE *f, json_t *entries, json_t *counts, int64_t now)
{
	char lbl[1024];
	json_t *d;
	size_t i;

	family(f, "homeport_ddns_state", "gauge", "Each DDNS entry's state (1: the current one).");
	json_array_foreach(entries, i, d)
		states(f, "homeport_ddns_state", ddns_states, HP_ARRAY_LEN(ddns_states),
		       str(d, "state"), L("entry", str(d, "name"), "provider", str(d, "provider")));
	ddns_counter(f, entries, counts, "homeport_ddns_updates_total", "sent",
		     "DDNS updates sent since the daemon started.");
	ddns_counter(f, entries, counts, "homeport_ddns_update_failures_total", "failed",
		     "DDNS updates that failed (temporarily or for good) since the daemon started.");
	per_entry(f, "homeport_ddns_last_update_timestamp_seconds",
		  "When each DDNS entry last published successfully.", entries,
		  "last_update_ago", (double)now, -1, entry_labels);
}

static void changes(FILE *f, json_t *store, json_t *counts)
{
	const char *type;
	char lbl[1024];
	json_t *c;
	size_t i;

	family(f, "homeport_last_change_timestamp_seconds", "gauge",
	       "When each subject last changed (its last event), kept across restarts.");
	json_array_foreach(json_object_get(store, "changes"), i, c)
		sample(f, "homeport_last_change_timestamp_seconds",
		       L("kind", str(c, "kind"), "name", str(c, "name")),
		       (double)json_integer_value(json_object_get(c, "time")));
	family(f, "homeport_events_total", "counter", "Events announced since the daemon started.");
	json_object_foreach(counts, type, c)
		sample(f, "homeport_events_total", L("event", type), (double)json_integer_value(c));
}

static void hooks(FILE *f, json_t *list)
{
	static const struct { const char *name, *key, *type, *help; } m[] = {
		{ "homeport_hook_runs_total", "runs", "counter", "Hook runs since the daemon started." },
		{ "homeport_hook_failures_total", "failures", "counter",
		  "Hook runs that failed (exit status, signal, timeout, HTTP error)." },
		{ "homeport_hook_dropped_events_total", "dropped", "counter",
		  "Events dropped because the hook's queue was full." },
		{ "homeport_hook_queued_events", "queued", "gauge", "Events waiting for the hook." },
	};
	char lbl[1024];
	json_t *h;
	size_t i;

	for (size_t k = 0; k < HP_ARRAY_LEN(m); k++) {
		family(f, m[k].name, m[k].type, m[k].help);
		json_array_foreach(list, i, h)
			sample(f, m[k].name, L("hook", str(h, "name")),
			       (double)json_integer_value(json_object_get(h, m[k].key)));
	}
}

char *metrics_text(void)
{
	json_t *st = control_status_json(), *store = event_store_json();
	json_t *hook_list = hook_stats_json(), *counts = event_counts_json();
	int64_t now = time(NULL);
	double up = 0;
	char *text = NULL, lbl[128];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	integer(st, "uptime", &up);
	family(f, "homeport_info", "gauge", "homeportd's version.");
	sample(f, "homeport_info", L("version", HP_VERSION), 1);
	family(f, "homeport_start_time_seconds", "gauge", "When homeportd started.");
	sample(f, "homeport_start_time_seconds", "", (double)now - up);
	gateway(f, json_object_get(st, "gateway"), now);
	services(f, json_object_get(st, "services"));
	ddns(f, json_object_get(st, "ddns"), json_object_get(store, "ddns"), now);
	changes(f, store, counts);
	hooks(f, hook_list);
	fclose(f);
	json_decref(st);
	json_decref(store);
	json_decref(hook_list);
	json_decref(counts);
	return text;
}
