/* hook.c - runs [hook:NAME] on the events each asked for, one run per hook
 * at a time, in order. See hook.h.
 *
 * A program gets nothing but PATH and the HOMEPORT_* variables, no
 * descriptor but its output pipe (child.c), and never a secret: those stay
 * in this process (header_file is only for url hooks). A URL hook is one
 * HTTP request with the templates filled in; its values are encoded for
 * where they stand: percent-encoded in the URL, JSON-escaped in a JSON
 * body (one that starts with '{' or '[', or a Content-Type naming json),
 * percent-encoded in a form body (Content-Type
 * application/x-www-form-urlencoded), as they are in any other body
 * (sent as text/plain unless a Content-Type is set) and in headers (line
 * breaks made spaces). Success is a 2xx reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

#include "child.h"
#include "event.h"
#include "ev.h"
#include "hook.h"
#include "http.h"
#include "log.h"
#include "template.h"
#include "util.h"

struct hook {
	struct hook *next;
	char *name;
	const struct cfg_hook *cfg;    /* into the snapshot last applied; NULL: removed */
	struct event_queue q;
	unsigned long dropped_unlogged;
	struct event cur;              /* the event of the run in flight */
	uint32_t cur_timeout;          /* and the timeout it was started with */
	struct child *child;
	struct http_call *call;
	struct ev_timer *kick;         /* 0 ms: start the next run from the loop */
	unsigned long runs, failures, dropped;
};

static struct {
	bool inited;
	struct hook *head;
} H;

static void run_next(struct hook *h);

static bool running(const struct hook *h)
{
	return h->child || h->call;
}

static void on_kick(void *arg)
{
	run_next(arg);
}

static struct hook *hook_new(const struct cfg_hook *c)
{
	struct hook *h = xcalloc(1, sizeof(*h));

	h->name = xstrdup(c->name);
	h->cfg = c;
	h->q.cap = HOOK_QUEUE_MAX;
	h->kick = ev_timer_new(on_kick, h);
	return h;
}

static void hook_free(struct hook *h)
{
	child_stop(h->child);
	http_cancel(h->call);
	if (h->q.len)
		log_warnx("hook %s: %zu queued event%s not delivered", h->name, h->q.len,
			  h->q.len == 1 ? "" : "s");
	event_queue_clear(&h->q);
	ev_timer_free(h->kick);
	free(h->name);
	free(h);
}

/* A removed hook goes once its last run has ended. */
static void reap_removed(void)
{
	for (struct hook **pp = &H.head; *pp;) {
		struct hook *h = *pp;
		if (!h->cfg && !running(h)) {
			*pp = h->next;
			hook_free(h);
		} else {
			pp = &h->next;
		}
	}
}

/* ---- ending a run ----------------------------------------------------- */

static void run_ended(struct hook *h, bool ok)
{
	h->runs++;
	if (!ok)
		h->failures++;
	if (h->cfg)
		ev_timer_arm(h->kick, 0);
	else
		reap_removed();
}

/* The program's output, a line per log line, non-printables as '?'. */
static void log_output(const struct hook *h, const struct child_result *r, int prio)
{
	char *text = xstrdup(r->output), *save = NULL;

	for (char *l = strtok_r(text, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save)) {
		for (char *c = l; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
				*c = '?';
		log_msg(prio, "hook %s: | %s", h->name, l);
	}
	if (r->output_lost)
		log_msg(prio, "hook %s: (%zu more bytes of output not logged)", h->name,
			r->output_lost);
	free(text);
}

static void on_exit_status(void *arg, const struct child_result *r)
{
	struct hook *h = arg;
	bool ok = !r->timed_out && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
	const char *ev = event_type_name(h->cur.type);
	double secs = (double)r->ms / 1000.0;

	h->child = NULL;
	log_output(h, r, ok ? LOG_INFO : LOG_WARNING);
	if (r->timed_out)
		log_warnx("hook %s (%s): killed at its timeout of %u s", h->name, ev,
			  h->cur_timeout);
	else if (WIFSIGNALED(r->status))
		log_warnx("hook %s (%s): killed by signal %d after %.2f s", h->name, ev,
			  WTERMSIG(r->status), secs);
	else if (!ok)
		log_warnx("hook %s (%s): exit status %d after %.2f s", h->name, ev,
			  WEXITSTATUS(r->status), secs);
	else
		log_info("hook %s (%s): done in %.2f s", h->name, ev, secs);
	run_ended(h, ok);
}

static void on_http_reply(void *arg, const struct http_response *r)
{
	struct hook *h = arg;
	bool ok = r->curl_code == 0 && r->status >= 200 && r->status <= 299;
	char what[300];

	h->call = NULL;
	http_failure_text(r, what, sizeof(what));
	if (ok)
		log_info("hook %s (%s): %s", h->name, event_type_name(h->cur.type), what);
	else
		log_warnx("hook %s (%s): failed: %s", h->name, event_type_name(h->cur.type), what);
	run_ended(h, ok);
}

/* ---- starting a run --------------------------------------------------- */

static const char *lookup(void *arg, const char *name, size_t len, char *buf, size_t buflen)
{
	return event_var(arg, name, len, buf, buflen);
}

/* Arguments with their %name% filled in (each stays one argument), and
 * PATH plus the HOMEPORT_* variables as the whole environment. */
static bool run_exec(struct hook *h)
{
	char **vars = event_env(&h->cur), **envp, **argv;
	size_t n = 0, argc = 0;

	while (vars[n])
		n++;
	envp = xcalloc(n + 2, sizeof(*envp));
	envp[0] = (char *)"PATH=" HOOK_PATH;
	memcpy(envp + 1, vars, n * sizeof(*envp));
	while (h->cfg->argv[argc])
		argc++;
	argv = xcalloc(argc + 1, sizeof(*argv));
	for (size_t i = 0; i < argc; i++)
		argv[i] = tmpl_expand(h->cfg->argv[i], TMPL_RAW, lookup, &h->cur);
	h->child = child_start(argv, envp, h->cfg->timeout, on_exit_status, h);
	if (!h->child)
		log_warn("hook %s (%s): cannot run %s", h->name, event_type_name(h->cur.type),
			 argv[0]);
	free(envp);
	event_env_free(vars);
	event_env_free(argv);
	return h->child != NULL;
}

/* The value of a Content-Type header the hook sets, or NULL. */
static const char *content_type(const struct cfg_hook *c)
{
	for (size_t i = 0; i < c->n_headers + c->n_secret_headers; i++) {
		const char *v = i < c->n_headers ? c->headers[i] :
			c->secret_headers[i - c->n_headers];
		if (strncasecmp(v, "Content-Type:", 13) == 0)
			return v + 13;
	}
	return NULL;
}

static enum tmpl_enc body_encoding(const char *body, const char *ctype)
{
	if (ctype)
		return strcasestr(ctype, "json") ? TMPL_JSON :
		       strcasestr(ctype, "x-www-form-urlencoded") ? TMPL_URL : TMPL_RAW;
	body += strspn(body, " \t");
	return *body == '{' || *body == '[' ? TMPL_JSON : TMPL_RAW;
}

/* The request's header lines: templates filled in, then header_file's. */
static char **build_headers(const struct hook *h, enum tmpl_enc body_enc, size_t *n)
{
	const struct cfg_hook *c = h->cfg;
	char **hdrs = xcalloc(c->n_headers + c->n_secret_headers + 1, sizeof(*hdrs));

	*n = 0;
	for (size_t i = 0; i < c->n_headers; i++)
		hdrs[(*n)++] = tmpl_expand(c->headers[i], TMPL_HEADER, lookup, (void *)&h->cur);
	for (size_t i = 0; i < c->n_secret_headers; i++)
		hdrs[(*n)++] = xstrdup(c->secret_headers[i]);
	if (c->body && !content_type(c))
		hdrs[(*n)++] = xstrdup(body_enc == TMPL_JSON ? "Content-Type: application/json" :
				       "Content-Type: text/plain; charset=utf-8");
	return hdrs;
}

static bool run_http(struct hook *h)
{
	const struct cfg_hook *c = h->cfg;
	enum tmpl_enc enc = c->body ? body_encoding(c->body, content_type(c)) : TMPL_RAW;
	size_t n_hdrs;
	char **hdrs = build_headers(h, enc, &n_hdrs);
	char *url = tmpl_expand(c->url, TMPL_URL, lookup, &h->cur);
	char *body = c->body ? tmpl_expand(c->body, enc, lookup, &h->cur) : NULL;
	struct http_request req = {
		.method = c->method ? c->method : body ? "POST" : "GET",
		.url = url, .headers = (const char *const *)hdrs, .n_headers = n_hdrs,
		.body = body, .ca_file = c->ca_file, .timeout = c->timeout,
		.allow_http = c->allow_http,
	};

	h->call = http_start(&req, on_http_reply, h);
	if (!h->call)
		log_warnx("hook %s (%s): cannot start the request", h->name,
			  event_type_name(h->cur.type));
	for (size_t i = 0; i < n_hdrs; i++)
		free_secret(hdrs[i]);
	free(hdrs);
	free_secret(url);
	free(body);
	return h->call != NULL;
}

static void run_next(struct hook *h)
{
	if (running(h) || !h->cfg || !event_queue_pop(&h->q, &h->cur))
		return;
	/* What the hook hears is on disk first: a crash cannot make it hear
	 * the same change again after the restart. */
	event_store_flush();
	if (h->dropped_unlogged) {
		log_warnx("hook %s: its queue was full: %lu oldest event%s dropped", h->name,
			  h->dropped_unlogged, h->dropped_unlogged == 1 ? "" : "s");
		h->dropped_unlogged = 0;
	}
	h->cur_timeout = h->cfg->timeout;
	log_debug("hook %s: running for %s (event %llu)", h->name, event_type_name(h->cur.type),
		  (unsigned long long)h->cur.seq);
	if (!(h->cfg->argv ? run_exec(h) : run_http(h)))
		run_ended(h, false);
}

/* ---- events in -------------------------------------------------------- */

static void on_event(const struct event *ev, void *arg)
{
	for (struct hook *h = H.head; h; h = h->next) {
		if (!h->cfg || !(h->cfg->events & EVENT_BIT(ev->type)))
			continue;
		if (event_queue_push(&h->q, ev)) {
			h->dropped++;
			h->dropped_unlogged++;
		}
		if (!running(h))
			ev_timer_arm(h->kick, 0);
	}
}

int hook_init(const struct hp_config *cfg)
{
	memset(&H, 0, sizeof(H));
	if (event_subscribe(on_event, NULL) < 0)
		return -1;
	H.inited = true;
	hook_apply_config(cfg);
	return 0;
}

static struct hook *take(struct hook **list, const char *name)
{
	for (struct hook **pp = list; *pp; pp = &(*pp)->next) {
		struct hook *h = *pp;
		if (h->cfg && strcmp(h->name, name) == 0) {
			*pp = h->next;
			h->next = NULL;
			return h;
		}
	}
	return NULL;
}

void hook_apply_config(const struct hp_config *cfg)
{
	struct hook *old = H.head, **tail = &H.head;

	if (!H.inited)
		return;
	H.head = NULL;
	for (size_t i = 0; i < cfg->n_hooks; i++) {
		struct hook *h = take(&old, cfg->hooks[i].name);
		if (!h)
			h = hook_new(&cfg->hooks[i]);
		h->cfg = &cfg->hooks[i];
		*tail = h;
		tail = &h->next;
	}
	*tail = old;           /* removed ones: dropped once idle */
	for (struct hook *h = old; h; h = h->next) {
		if (h->cfg)
			log_info("hook %s: removed from the configuration", h->name);
		h->cfg = NULL;
		if (h->q.len)
			log_warnx("hook %s: removed: %zu queued event%s dropped", h->name, h->q.len,
				  h->q.len == 1 ? "" : "s");
		event_queue_clear(&h->q);
	}
	reap_removed();
}

void hook_fini(void)
{
	if (!H.inited)
		return;
	event_unsubscribe(on_event, NULL);
	while (H.head) {
		struct hook *h = H.head;
		H.head = h->next;
		if (running(h))
			log_info("hook %s: run in flight stopped by shutdown", h->name);
		hook_free(h);
	}
	memset(&H, 0, sizeof(H));
}

json_t *hook_stats_json(void)
{
	json_t *a = json_array();

	for (const struct hook *h = H.head; h; h = h->next)
		if (h->cfg)
			json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:I, s:I}",
				"name", h->name, "runs", (json_int_t)h->runs,
				"failures", (json_int_t)h->failures, "dropped", (json_int_t)h->dropped,
				"queued", (json_int_t)h->q.len));
	return a;
}
