/* config_hook.c - [hook:NAME] sections: which events, and either a program
 * to run (exec) or a URL to call (url with the webhook keys).
 *
 * config.c reads the files and calls config_hook_key() for each key of a
 * hook section (it has already refused duplicates); config_hook_validate()
 * checks what needs the whole section and loads header_file, a secret. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfgkey.h"
#include "config_hook.h"
#include "event.h"
#include "homeport.h"
#include "http.h"
#include "template.h"
#include "util.h"

#define HOOK_TIMEOUT_MAX 600

/* Keys that only an HTTP notification takes. */
static const char *const http_keys[] = {
	"method", "header", "header_file", "body", "ca_file", "allow_http",
};

size_t config_hook_open(struct hp_config *cfg, const char *name, const char *file, int line)
{
	struct cfg_hook *h;

	cfg->hooks = xrealloc(cfg->hooks, cfg->n_hooks + 1, sizeof(*cfg->hooks));
	h = &cfg->hooks[cfg->n_hooks];
	memset(h, 0, sizeof(*h));
	h->name = xstrdup(name);
	h->events = EVENT_ALL;
	h->timeout = HOOK_TIMEOUT_DEF;
	h->file = xstrdup(file);
	h->line = line;
	return cfg->n_hooks++;
}

/* ---- exec: shell-like words, no shell ---------------------------------- */

void config_free_args(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

struct words {
	char **argv;
	size_t argc;
	char *word;                    /* the word being read */
	size_t len;
};

static void end_word(struct words *w)
{
	w->argv = xrealloc(w->argv, w->argc + 2, sizeof(*w->argv));
	w->word[w->len] = '\0';
	w->argv[w->argc++] = xstrdup(w->word);
	w->argv[w->argc] = NULL;
	w->len = 0;
}

/* One character outside quotes at *pp; -1 with why on a refusal. */
static int plain_char(struct words *w, const char **pp, bool word_start, char *why, size_t len)
{
	char c = **pp;

	if (c == '\\') {
		if ((*pp)[1] == '\0') {
			snprintf(why, len, "a backslash at the end");
			return -1;
		}
		w->word[w->len++] = *++*pp;
	} else if (strchr("|&;<>()$`", c) || (c == '#' && word_start)) {
		snprintf(why, len, "'%c' would need a shell (homeport runs the program itself): "
			 "put it in single quotes, or write a script", c);
		return -1;
	} else {
		w->word[w->len++] = c;
	}
	return 0;
}

/* Inside "...": a backslash escapes only " \ $ `, as in a shell. */
static int double_char(struct words *w, const char **pp, char *why, size_t len)
{
	char c = **pp;

	if (c == '\\' && (*pp)[1] && strchr("\"\\$`", (*pp)[1])) {
		w->word[w->len++] = *++*pp;
	} else if (c == '$' || c == '`') {
		snprintf(why, len, "'%c' would need a shell (nothing is expanded): use single quotes", c);
		return -1;
	} else {
		w->word[w->len++] = c;
	}
	return 0;
}

int config_split_args(const char *s, char ***argv, char *why, size_t whylen)
{
	struct words w = { .word = xcalloc(strlen(s) + 1, 1) };
	enum { Q_NONE, Q_SINGLE, Q_DOUBLE } q = Q_NONE;
	bool in_word = false;
	int rc = -1;

	for (const char *p = s;; p++) {
		if (q != Q_NONE && *p == '\0') {
			snprintf(why, whylen, "a %s quote is not closed", q == Q_SINGLE ? "single" : "double");
			goto out;
		}
		if (q == Q_SINGLE) {
			if (*p == '\'')
				q = Q_NONE;
			else
				w.word[w.len++] = *p;
		} else if (q == Q_DOUBLE) {
			if (*p == '"')
				q = Q_NONE;
			else if (double_char(&w, &p, why, whylen) < 0)
				goto out;
		} else if (*p == '\0' || *p == ' ' || *p == '\t') {
			if (in_word)
				end_word(&w);
			in_word = false;
			if (*p == '\0')
				break;
		} else {
			bool start = !in_word;
			in_word = true;
			if (*p == '\'' || *p == '"')
				q = *p == '\'' ? Q_SINGLE : Q_DOUBLE;
			else if (plain_char(&w, &p, start, why, whylen) < 0)
				goto out;
		}
	}
	if (w.argc == 0) {
		snprintf(why, whylen, "no program given");
		goto out;
	}
	*argv = w.argv;
	w.argv = NULL;
	rc = 0;
out:
	config_free_args(w.argv);
	free(w.word);
	return rc;
}

void config_quote_arg(const char *arg, FILE *out)
{
	if (*arg == '\0') {
		fputs("''", out);
		return;
	}
	for (const char *c = arg; *c; c++) {
		if (!isalnum((unsigned char)*c) && !strchr("_-./:=@%+,?*[]{}~^!", *c))
			fputc('\\', out);
		fputc(*c, out);
	}
}

/* ---- keys --------------------------------------------------------------- */

static void events_key(struct config_errors *errs, struct cfg_hook *h, const char *file,
		       int line, const char *value)
{
	char *copy = xstrdup(value), *save = NULL;

	h->events = 0;
	for (char *tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		int t = event_type_parse(tok);
		if (t < 0)
			config_error(errs, file, line, "events: unknown event \"%s\" (%s)", tok,
				     event_type_list());
		else if (h->events & EVENT_BIT(t))
			config_error(errs, file, line, "events: \"%s\" is listed twice", tok);
		else
			h->events |= EVENT_BIT(t);
	}
	if (strspn(value, ", \t") == strlen(value)) {
		config_error(errs, file, line, "events: no event given");
		h->events = EVENT_ALL;
	}
	free(copy);
}

static bool header_ok(const char *v)
{
	const char *colon = strchr(v, ':');

	if (!colon || colon == v || strpbrk(v, "\r\n"))
		return false;
	for (const char *c = v; c < colon; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
			return false;
	return true;
}

static void check_template(struct config_errors *errs, const char *file, int line,
			   const char *key, const char *value)
{
	char bad[40];

	if (tmpl_find_unknown(value, event_var_known, bad, sizeof(bad)))
		config_error(errs, file, line, "%s: unknown variable %s (%s)", key, bad,
			     event_var_list());
}

static void template_key(struct config_errors *errs, const char *file, int line,
			 const char *key, const char *value, char **dst)
{
	check_template(errs, file, line, key, value);
	free(*dst);
	*dst = xstrdup(value);
}

static void http_key(struct config_errors *errs, struct cfg_hook *h, const char *file,
		     int line, const char *key, const char *value)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "PATCH" };
	size_t i;

	if (strcmp(key, "method") == 0) {
		for (i = 0; i < HP_ARRAY_LEN(methods) && strcasecmp(value, methods[i]) != 0; i++)
			;
		if (i == HP_ARRAY_LEN(methods))
			config_error(errs, file, line, "method: \"%s\" is not GET, POST, PUT or PATCH", value);
		else
			h->method = xstrdup(methods[i]);
	} else if (strcmp(key, "header") == 0) {
		if (!header_ok(value))
			config_error(errs, file, line, "header: expected \"Name: value\"");
		h->headers = xrealloc(h->headers, h->n_headers + 1, sizeof(*h->headers));
		h->headers[h->n_headers++] = NULL;
		template_key(errs, file, line, key, value, &h->headers[h->n_headers - 1]);
	} else if (strcmp(key, "header_file") == 0) {
		h->header_file = *value ? xstrdup(value) : NULL;
		h->at.header_file = line;
	} else if (strcmp(key, "body") == 0) {
		template_key(errs, file, line, key, value, &h->body);
	} else if (strcmp(key, "ca_file") == 0) {
		h->ca_file = *value ? xstrdup(value) : NULL;
		h->at.ca_file = line;
	} else if (strcmp(key, "allow_http") == 0) {
		if (parse_bool(value, &h->allow_http) < 0)
			config_error(errs, file, line, "allow_http: invalid boolean \"%s\" (yes/no, "
				     "true/false, on/off, 1/0)", value);
	}
}

/* The http_keys[] entry for key, or NULL. */
static const char *http_key_name(const char *key)
{
	for (size_t i = 0; i < HP_ARRAY_LEN(http_keys); i++)
		if (strcmp(http_keys[i], key) == 0)
			return http_keys[i];
	return NULL;
}

static void timeout_key(struct config_errors *errs, struct cfg_hook *h, const char *file,
			int line, const char *value)
{
	uint32_t v;

	if (parse_duration(value, &v) < 0)
		config_error(errs, file, line, "timeout: invalid duration \"%s\" (a number with "
			     "optional s, m, h or d)", value);
	else if (v < 1 || v > HOOK_TIMEOUT_MAX)
		config_error(errs, file, line, "timeout: must be between 1s and 10m");
	else
		h->timeout = v;
}

void config_hook_key(struct config_errors *errs, struct cfg_hook *h, const char *file,
		     int line, const char *key, const char *value)
{
	char why[160];

	if (strcmp(key, "events") == 0) {
		events_key(errs, h, file, line, value);
	} else if (strcmp(key, "exec") == 0) {
		h->at.exec = line;
		if (config_split_args(value, &h->argv, why, sizeof(why)) < 0)
			config_error(errs, file, line, "exec: %s", why);
		for (size_t i = 0; h->argv && h->argv[i]; i++)
			check_template(errs, file, line, key, h->argv[i]);
	} else if (strcmp(key, "url") == 0) {
		h->at.url = line;
		template_key(errs, file, line, key, value, &h->url);
	} else if (strcmp(key, "timeout") == 0) {
		timeout_key(errs, h, file, line, value);
	} else if (http_key_name(key)) {
		if (!h->at.http_key_name) {
			h->at.http_key_name = http_key_name(key);
			h->at.http_key = line;
		}
		http_key(errs, h, file, line, key, value);
	} else {
		config_error(errs, file, line, "unknown key '%s' in [hook:%s]", key, h->name);
	}
}

/* ---- whole-section checks --------------------------------------------- */

static void validate_url(struct config_errors *errs, const struct cfg_hook *h)
{
	const char *rest = strstr(h->url, "://");

	if (!rest || rest[3] == '\0' || rest[3] == '/' || strpbrk(h->url, " \t\r\n") ||
	    !http_url_allowed(h->url, true))
		config_error(errs, h->file, h->at.url, "url: \"%s\" is not an https:// URL", h->url);
	else if (!http_url_allowed(h->url, h->allow_http))
		config_error(errs, h->file, h->at.url, "url: plain http:// would send the "
			     "notification in clear text; use https:// or set allow_http = yes");
}

/* header_file: one "Name: value" per line, read and checked as the
 * webhook's (secret.c, cfgkey.c). Errors name the line, never its text. */
static void load_header_file(struct config_errors *errs, const struct hp_config *cfg,
			     struct cfg_hook *h)
{
	char *text = config_read_secret(errs, cfg, h->file, h->at.header_file, "header_file",
					h->header_file);
	char why[160];
	size_t n;

	if (!text)
		return;
	h->secret_headers = cfgkey_header_lines(text, &n, why, sizeof(why));
	h->n_secret_headers = h->secret_headers ? n : 0;
	if (!h->secret_headers)
		config_error(errs, h->file, h->at.header_file, "header_file: %s %s",
			     h->header_file, why);
	free_secret(text);
}

static void validate_exec(struct config_errors *errs, const struct cfg_hook *h)
{
	const char *prog = h->argv[0];
	struct stat st;

	if (prog[0] != '/')
		config_error(errs, h->file, h->at.exec, "exec: \"%s\" is not an absolute path", prog);
	else if (stat(prog, &st) < 0)
		config_error(errs, h->file, h->at.exec, "exec: %s: %s", prog, strerror(errno));
	else if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		config_error(errs, h->file, h->at.exec, "exec: %s is not an executable file", prog);
}

static void validate_http(struct config_errors *errs, const struct hp_config *cfg,
			  struct cfg_hook *h)
{
	validate_url(errs, h);
	if (h->header_file)
		load_header_file(errs, cfg, h);
	if (h->ca_file) {
		char *full = config_path(cfg, h->ca_file);
		if (access(full, R_OK) < 0)
			config_error(errs, h->file, h->at.ca_file, "ca_file: cannot read %s: %s",
				     full, strerror(errno));
		free(h->ca_file);
		h->ca_file = full;
	}
}

void config_hook_validate(struct config_errors *errs, const struct hp_config *cfg,
			  struct cfg_hook *h)
{
	if (h->at.exec && h->at.url) {
		bool url_last = h->at.url > h->at.exec;
		config_error(errs, h->file, url_last ? h->at.url : h->at.exec,
			     "'%s' and '%s' exclude each other (the other is at %s:%d)",
			     url_last ? "url" : "exec", url_last ? "exec" : "url", h->file,
			     url_last ? h->at.exec : h->at.url);
	} else if (!h->at.exec && !h->at.url) {
		config_error(errs, h->file, h->line, "[hook:%s]: 'exec' or 'url' is required", h->name);
	} else if (h->at.exec && h->at.http_key) {
		config_error(errs, h->file, h->at.http_key, "'%s' applies to url hooks only, "
			     "not to exec", h->at.http_key_name);
	}
	if (h->argv)
		validate_exec(errs, h);
	else if (h->url && !h->at.exec)
		validate_http(errs, cfg, h);
}

/* ---- free and -nv ------------------------------------------------------ */

static void hook_free(struct cfg_hook *h)
{
	free(h->name);
	config_free_args(h->argv);
	free(h->url);
	free(h->method);
	for (size_t i = 0; i < h->n_headers; i++)
		free(h->headers[i]);
	free(h->headers);
	free(h->header_file);
	for (size_t i = 0; i < h->n_secret_headers; i++)
		free_secret(h->secret_headers[i]);
	free(h->secret_headers);
	free(h->body);
	free(h->ca_file);
	free(h->file);
}

void config_hooks_free(struct hp_config *cfg)
{
	for (size_t i = 0; i < cfg->n_hooks; i++)
		hook_free(&cfg->hooks[i]);
	free(cfg->hooks);
	cfg->hooks = NULL;
	cfg->n_hooks = 0;
}

/* SPEC: -nv shows URL query strings and header values as <redacted>. */
static void dump_url(const char *url, FILE *out)
{
	const char *q = strchr(url, '?');

	fprintf(out, "%-15s = %.*s%s\n", "url", q ? (int)(q - url) : (int)strlen(url), url,
		q ? "?<redacted>" : "");
}

static void dump_http(const struct cfg_hook *h, FILE *out)
{
	dump_url(h->url, out);
	if (h->method)
		fprintf(out, "%-15s = %s\n", "method", h->method);
	for (size_t i = 0; i < h->n_headers; i++)
		fprintf(out, "%-15s = %.*s: <redacted>\n", "header",
			(int)strcspn(h->headers[i], ":"), h->headers[i]);
	if (h->header_file)
		fprintf(out, "%-15s = %s ; <redacted>\n", "header_file", h->header_file);
	if (h->body)
		fprintf(out, "%-15s = %s\n", "body", h->body);
	if (h->ca_file)
		fprintf(out, "%-15s = %s\n", "ca_file", h->ca_file);
	fprintf(out, "%-15s = %s\n", "allow_http", h->allow_http ? "yes" : "no");
}

static void dump_hook(const struct cfg_hook *h, FILE *out)
{
	fprintf(out, "\n[hook:%s] ; %s:%d\n%-15s = ", h->name, h->file, h->line, "events");
	for (int t = 0, n = 0; t < EV__COUNT; t++)
		if (h->events & EVENT_BIT(t))
			fprintf(out, "%s%s", n++ ? ", " : "", event_type_name(t));
	fputc('\n', out);
	if (h->argv) {
		fprintf(out, "%-15s = ", "exec");
		for (size_t i = 0; h->argv[i]; i++) {
			if (i)
				fputc(' ', out);
			config_quote_arg(h->argv[i], out);
		}
		fputc('\n', out);
	} else if (h->url) {
		dump_http(h, out);
	}
	if (h->timeout % 60 == 0)
		fprintf(out, "%-15s = %um\n", "timeout", h->timeout / 60);
	else
		fprintf(out, "%-15s = %us\n", "timeout", h->timeout);
}

void config_hooks_dump(const struct hp_config *cfg, FILE *out)
{
	for (size_t i = 0; i < cfg->n_hooks; i++)
		dump_hook(&cfg->hooks[i], out);
}
