/* config.c - reading homeport.conf and its drop-ins into one validated,
 * read-only snapshot.
 *
 * inih parses; we feed it through our own line reader (ini_parse_stream) so
 * that we know every line's number (Debian's inih gives the handler none),
 * can reject syntax errors on every line rather than the first, and can strip
 * leading white space so an indented key is never taken as a continuation of
 * the previous one (inih's multi-line mode).
 *
 * Parsing happens in two steps: the handler converts and stores each value,
 * remembering where every key was written; validate() then checks what needs
 * the whole section (required keys, keys that do not apply to a provider,
 * duplicate ports) and loads secrets. Every problem is collected. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_hook.h"
#include "homeport.h"
#include "log.h"
#include "provider.h"
#include "tsig.h"
#include "util.h"

#define SECRET_MAX 65536
#define DEFAULT_FORCE_INTERVAL (30 * 86400)
#define DEFAULT_HTTP_TIMEOUT 30
#define MAX_LEASE (7 * 86400)          /* IGDv2 caps leases at a week */
#define MAX_DESCRIPTION 80

enum sect_kind { SECT_NONE, SECT_DAEMON, SECT_GATEWAY, SECT_SERVICE, SECT_DDNS, SECT_HOOK, SECT_BAD };

/* Where a key was written: for duplicate keys and late checks. */
struct key_loc {
	char *key;
	const char *file;
	int line;
};

struct sect {
	enum sect_kind kind;
	size_t index;                  /* into services[] / ddns[] */
	char *name;                    /* "web" of [service:web] */
	const char *file;
	int line;
	struct key_loc *keys;
	size_t n_keys;
};

struct parser {
	struct hp_config *cfg;
	struct config_errors *errs;
	char **files;                  /* every file name read; owns the strings */
	size_t n_files;
	const char *file;              /* file being read */
	FILE *fp;
	int line;
	bool main_file;
	struct sect *sects;
	size_t n_sects;
	ssize_t cur;                   /* index into sects, -1: none */
	char *linebuf;
	size_t linecap;
};

static void add_error(struct config_errors *errs, const char *file, int line,
		      const char *fmt, ...) HP_PRINTF(4, 5);

static void add_error(struct config_errors *errs, const char *file, int line,
		      const char *fmt, ...)
{
	char msg[768], *full;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0) {
		if (asprintf(&full, "%s:%d: %s", file, line, msg) < 0)
			full = NULL;
	} else if (asprintf(&full, "%s: %s", file, msg) < 0) {
		full = NULL;
	}
	if (full == NULL)
		abort();
	errs->msgs = xrealloc(errs->msgs, errs->n + 1, sizeof(*errs->msgs));
	errs->msgs[errs->n++] = full;
}

#define PERR(p, ...) add_error((p)->errs, (p)->file, (p)->line, __VA_ARGS__)

/* ---- value parsers --------------------------------------------------- */

static bool valid_entry_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

/* A DNS name as users write it in "hostname": LDH labels, optional leading
 * "*." for wildcard records, optional trailing dot. */
static bool valid_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;
	char prev = '.';

	if (len == 0 || len > 253)
		return false;
	if (s[0] == '*' && s[1] == '.')
		s += 2;
	if (*s == '\0' || *s == '.')
		return false;
	for (const char *c = s; *c; prev = *c++) {
		if (*c == '.') {
			if (prev == '.' || prev == '-')
				return false;      /* empty label, or one ending in '-' */
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
			return false;
		if (*c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return prev != '-';
}

static bool valid_url(const char *s, bool *is_http)
{
	const char *rest;

	if (strncasecmp(s, "https://", 8) == 0) {
		*is_http = false;
		rest = s + 8;
	} else if (strncasecmp(s, "http://", 7) == 0) {
		*is_http = true;
		rest = s + 7;
	} else {
		return false;
	}
	if (*rest == '\0' || *rest == '/')
		return false;
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
			return false;
	return true;
}

/* "a.b.c.d", "a.b.c.d:port", "[v6]:port", "v6" */
static bool valid_host_port(const char *s)
{
	char host[256];
	const char *port = NULL;
	uint16_t p;

	if (*s == '[') {
		const char *end = strchr(s, ']');
		struct in6_addr a6;
		if (end == NULL || (size_t)(end - s - 1) >= sizeof(host))
			return false;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return false;
		if (end[1] == '\0')
			return true;
		if (end[1] != ':')
			return false;
		return parse_port(end + 2, &p) == 0;
	}
	if (strchr(s, ':') != strrchr(s, ':')) {       /* bare IPv6 */
		struct in6_addr a6;
		return inet_pton(AF_INET6, s, &a6) == 1;
	}
	port = strchr(s, ':');
	if (port != NULL) {
		if ((size_t)(port - s) >= sizeof(host) || parse_port(port + 1, &p) < 0)
			return false;
		memcpy(host, s, (size_t)(port - s));
		host[port - s] = '\0';
	} else {
		if (strlen(s) >= sizeof(host))
			return false;
		strcpy(host, s);
	}
	/* An address, not a name: resolving would block the event loop. */
	struct in_addr a4;
	return inet_pton(AF_INET, host, &a4) == 1;
}

/* ---- sections -------------------------------------------------------- */

static struct sect *cur_sect(struct parser *p)
{
	return p->cur >= 0 ? &p->sects[p->cur] : NULL;
}

static struct sect *find_sect(struct parser *p, enum sect_kind kind, const char *name)
{
	for (size_t i = 0; i < p->n_sects; i++)
		if (p->sects[i].kind == kind &&
		    (name == NULL || strcmp(p->sects[i].name, name) == 0))
			return &p->sects[i];
	return NULL;
}

static struct sect *new_sect(struct parser *p, enum sect_kind kind, const char *name)
{
	struct sect *s;

	p->sects = xrealloc(p->sects, p->n_sects + 1, sizeof(*p->sects));
	s = &p->sects[p->n_sects];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->name = xstrdup(name ? name : "");
	s->file = p->file;
	s->line = p->line;
	p->cur = (ssize_t)p->n_sects++;
	return s;
}

static void open_service(struct parser *p, const char *name)
{
	struct hp_config *cfg = p->cfg;
	struct cfg_service *svc;
	struct sect *s = new_sect(p, SECT_SERVICE, name);

	s->index = cfg->n_services;
	cfg->services = xrealloc(cfg->services, cfg->n_services + 1, sizeof(*cfg->services));
	svc = &cfg->services[cfg->n_services++];
	memset(svc, 0, sizeof(*svc));
	svc->name = xstrdup(name);
	svc->protocols = SVC_TCP;
	svc->file = xstrdup(p->file);
	svc->line = p->line;
}

static void open_ddns(struct parser *p, const char *name)
{
	struct hp_config *cfg = p->cfg;
	struct cfg_ddns *d;
	struct sect *s = new_sect(p, SECT_DDNS, name);

	s->index = cfg->n_ddns;
	cfg->ddns = xrealloc(cfg->ddns, cfg->n_ddns + 1, sizeof(*cfg->ddns));
	d = &cfg->ddns[cfg->n_ddns++];
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(name);
	d->force_interval = DEFAULT_FORCE_INTERVAL;
	d->timeout = DEFAULT_HTTP_TIMEOUT;
	d->file = xstrdup(p->file);
	d->line = p->line;
}

static void open_hook(struct parser *p, const char *name)
{
	struct sect *s = new_sect(p, SECT_HOOK, name);

	s->index = config_hook_open(p->cfg, name, p->file, p->line);
}

/* A "[...]" line: open (or for [daemon]/[gateway], reopen) its section. */
static void section_line(struct parser *p, const char *name)
{
	const char *colon = strchr(name, ':');
	struct sect *prev;

	if (strcmp(name, "daemon") == 0 || strcmp(name, "gateway") == 0) {
		enum sect_kind kind = name[0] == 'd' ? SECT_DAEMON : SECT_GATEWAY;
		prev = find_sect(p, kind, NULL);
		if (prev != NULL) {
			p->cur = prev - p->sects;     /* keys merge; duplicates are caught per key */
			return;
		}
		new_sect(p, kind, NULL);
		return;
	}
	if (colon != NULL && (strncmp(name, "service:", 8) == 0 || strncmp(name, "ddns:", 5) == 0 ||
			      strncmp(name, "hook:", 5) == 0)) {
		enum sect_kind kind = name[0] == 's' ? SECT_SERVICE : name[0] == 'd' ? SECT_DDNS : SECT_HOOK;
		const char *ename = colon + 1;
		if (!valid_entry_name(ename)) {
			PERR(p, "invalid name in [%s]: use 1-64 letters, digits, '-', '_' or '.'", name);
			new_sect(p, SECT_BAD, name);
			return;
		}
		prev = find_sect(p, kind, ename);
		if (prev != NULL) {
			PERR(p, "duplicate section [%s], first defined at %s:%d", name, prev->file, prev->line);
			new_sect(p, SECT_BAD, name);
			return;
		}
		if (kind == SECT_SERVICE)
			open_service(p, ename);
		else if (kind == SECT_DDNS)
			open_ddns(p, ename);
		else
			open_hook(p, ename);
		return;
	}
	if (strcmp(name, "service") == 0 || strcmp(name, "ddns") == 0 || strcmp(name, "hook") == 0)
		PERR(p, "section [%s] needs a name: [%s:NAME]", name, name);
	else
		PERR(p, "unknown section [%s] (expected [daemon], [gateway], [service:NAME], [ddns:NAME] or [hook:NAME])", name);
	new_sect(p, SECT_BAD, name);
}

/* ---- the line reader ------------------------------------------------- */

/* Called by inih for each line. We strip leading white space (no
 * continuation lines), check the syntax ourselves so that every bad line is
 * reported, and handle section headers before inih sees them. */
static char *read_line(char *str, int num, void *stream)
{
	struct parser *p = stream;
	ssize_t n;
	char *s, *end;

	n = getline(&p->linebuf, &p->linecap, p->fp);
	if (n < 0)
		return NULL;
	p->line++;
	s = p->linebuf;
	if (p->line == 1 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	str[0] = '\0';
	if (*s == '\0' || *s == ';' || *s == '#')
		return str;
	if (memchr(s, '\0', (size_t)(p->linebuf + n - s)) != end) {
		PERR(p, "line contains a NUL byte");
		return str;
	}
	if ((int)(end - s) >= num - 1) {
		PERR(p, "line too long (at most %d characters)", num - 2);
		return str;
	}
	if (*s == '[') {
		char *close = strchr(s, ']'), *after;
		if (close == NULL) {
			PERR(p, "section header without closing ']'");
			p->cur = -1;
			new_sect(p, SECT_BAD, s + 1);
			return str;
		}
		after = close + 1;
		while (*after == ' ' || *after == '\t')
			after++;
		if (*after != '\0' && *after != ';' && *after != '#') {
			PERR(p, "unexpected text after section header");
			new_sect(p, SECT_BAD, "");
			return str;
		}
		*close = '\0';
		section_line(p, s + 1);
		return str;           /* inih need not see it: we track sections */
	}
	if (strpbrk(s, "=:") == NULL) {
		PERR(p, "expected \"key = value\" or a [section] header");
		return str;
	}
	memcpy(str, s, (size_t)(end - s) + 1);
	return str;
}

/* ---- keys ------------------------------------------------------------ */

/* Record where key was set; false (and an error) when it was set before. */
static bool note_key(struct parser *p, struct sect *s, const char *key)
{
	if (strcmp(key, "header") != 0) {
		for (size_t i = 0; i < s->n_keys; i++) {
			if (strcmp(s->keys[i].key, key) == 0) {
				PERR(p, "'%s' is already set at %s:%d", key,
				     s->keys[i].file, s->keys[i].line);
				return false;
			}
		}
	}
	s->keys = xrealloc(s->keys, s->n_keys + 1, sizeof(*s->keys));
	s->keys[s->n_keys].key = xstrdup(key);
	s->keys[s->n_keys].file = p->file;
	s->keys[s->n_keys].line = p->line;
	s->n_keys++;
	return true;
}

static const struct key_loc *key_where(const struct sect *s, const char *key)
{
	for (size_t i = 0; i < s->n_keys; i++)
		if (strcmp(s->keys[i].key, key) == 0)
			return &s->keys[i];
	return NULL;
}

static void set_str(char **dst, const char *value)
{
	free(*dst);
	*dst = *value ? xstrdup(value) : NULL;
}

static bool get_duration(struct parser *p, const char *key, const char *value, uint32_t *out)
{
	if (parse_duration(value, out) < 0) {
		PERR(p, "%s: invalid duration \"%s\" (a number with optional s, m, h or d)", key, value);
		return false;
	}
	return true;
}

static bool get_bool(struct parser *p, const char *key, const char *value, bool *out)
{
	if (parse_bool(value, out) < 0) {
		PERR(p, "%s: invalid boolean \"%s\" (yes/no, true/false, on/off, 1/0)", key, value);
		return false;
	}
	return true;
}

static bool get_port(struct parser *p, const char *key, const char *value, uint16_t *out)
{
	if (parse_port(value, out) < 0) {
		PERR(p, "%s: invalid port \"%s\" (1-65535)", key, value);
		return false;
	}
	return true;
}

static bool check_lease(struct parser *p, uint32_t lease)
{
	if (lease != 0 && (lease < 60 || lease > MAX_LEASE)) {
		PERR(p, "lease: must be 0 (permanent) or between 1m and 7d");
		return false;
	}
	return true;
}

static void path_key(struct parser *p, const char *key, const char *value, char **dst, bool absolute)
{
	if (*value == '\0') {
		PERR(p, "%s: empty path", key);
		return;
	}
	if (absolute && value[0] != '/') {
		PERR(p, "%s: must be an absolute path", key);
		return;
	}
	set_str(dst, value);
}

static void daemon_key(struct parser *p, const char *key, const char *value)
{
	struct cfg_daemon *d = &p->cfg->daemon;

	if (strcmp(key, "state_dir") == 0) {
		path_key(p, key, value, &d->state_dir, true);
	} else if (strcmp(key, "socket") == 0) {
		path_key(p, key, value, &d->socket, true);
		if (d->socket && strlen(d->socket) >= 108)
			PERR(p, "socket: path longer than 107 bytes");
	} else if (strcmp(key, "include_dir") == 0) {
		path_key(p, key, value, &d->include_dir, false);
	} else if (strcmp(key, "log_level") == 0) {
		int level = log_level_parse(value);
		if (level < 0)
			PERR(p, "log_level: unknown level \"%s\" (error, warning, notice, info, debug)", value);
		else
			d->log_level = level;
	} else {
		PERR(p, "unknown key '%s' in [daemon]", key);
	}
}

static void gateway_key(struct parser *p, const char *key, const char *value)
{
	struct cfg_gateway *g = &p->cfg->gateway;
	bool is_http;

	if (strcmp(key, "protocol") == 0) {
		if (strcasecmp(value, "auto") == 0)
			g->protocol = GW_PREF_AUTO;
		else if (strcasecmp(value, "upnp") == 0)
			g->protocol = GW_PREF_UPNP;
		else if (strcasecmp(value, "natpmp") == 0 || strcasecmp(value, "nat-pmp") == 0)
			g->protocol = GW_PREF_NATPMP;
		else
			PERR(p, "protocol: unknown value \"%s\" (auto, upnp or natpmp)", value);
	} else if (strcmp(key, "upnp_url") == 0) {
		if (*value && (!valid_url(value, &is_http) || !is_http))
			PERR(p, "upnp_url: \"%s\" is not an http:// URL of the IGD's root description", value);
		else
			set_str(&g->upnp_url, value);
	} else if (strcmp(key, "interface") == 0) {
		if (strlen(value) >= IFNAMSIZ || strpbrk(value, "/ \t") != NULL)
			PERR(p, "interface: invalid interface name \"%s\"", value);
		else
			set_str(&g->interface, value);
	} else if (strcmp(key, "check_interval") == 0) {
		uint32_t v;
		if (get_duration(p, key, value, &v)) {
			if (v < 10 || v > 86400)
				PERR(p, "check_interval: must be between 10s and 1d");
			else
				g->check_interval = v;
		}
	} else if (strcmp(key, "lease") == 0) {
		uint32_t v;
		if (get_duration(p, key, value, &v) && check_lease(p, v))
			g->lease = v;
	} else if (strcmp(key, "keep_mappings") == 0) {
		get_bool(p, key, value, &g->keep_mappings);
	} else {
		PERR(p, "unknown key '%s' in [gateway]", key);
	}
}

static void service_key(struct parser *p, struct cfg_service *svc, const char *key, const char *value)
{
	if (strcmp(key, "protocol") == 0) {
		if (strcasecmp(value, "tcp") == 0)
			svc->protocols = SVC_TCP;
		else if (strcasecmp(value, "udp") == 0)
			svc->protocols = SVC_UDP;
		else if (strcasecmp(value, "both") == 0)
			svc->protocols = SVC_TCP | SVC_UDP;
		else
			PERR(p, "protocol: unknown value \"%s\" (tcp, udp or both)", value);
	} else if (strcmp(key, "internal_port") == 0) {
		get_port(p, key, value, &svc->internal_port);
	} else if (strcmp(key, "external_port") == 0) {
		get_port(p, key, value, &svc->external_port);
	} else if (strcmp(key, "internal_host") == 0) {
		struct in_addr a;
		if (*value && inet_pton(AF_INET, value, &a) != 1)
			PERR(p, "internal_host: \"%s\" is not an IPv4 address (routers map to addresses, not names)", value);
		else if (*value && (a.s_addr == 0 || ntohl(a.s_addr) >> 24 == 127 || IN_MULTICAST(ntohl(a.s_addr))))
			PERR(p, "internal_host: %s is not a LAN host address", value);
		else
			set_str(&svc->internal_host, value);
	} else if (strcmp(key, "description") == 0) {
		if (strlen(value) > MAX_DESCRIPTION)
			PERR(p, "description: longer than %d characters", MAX_DESCRIPTION);
		else
			set_str(&svc->description, value);
	} else if (strcmp(key, "lease") == 0) {
		uint32_t v;
		if (get_duration(p, key, value, &v) && check_lease(p, v))
			svc->lease = v;
	} else {
		PERR(p, "unknown key '%s' in [service:%s]", key, svc->name);
	}
}

static void hostnames_key(struct parser *p, struct cfg_ddns *d, const char *value)
{
	char *copy = xstrdup(value), *save = NULL;

	for (char *tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (!valid_hostname(tok)) {
			PERR(p, "hostname: \"%s\" is not a valid host name", tok);
			continue;
		}
		for (size_t i = 0; i < d->n_hostnames; i++)
			if (strcasecmp(d->hostnames[i], tok) == 0)
				PERR(p, "hostname: \"%s\" is listed twice", tok);
		d->hostnames = xrealloc(d->hostnames, d->n_hostnames + 1, sizeof(char *));
		d->hostnames[d->n_hostnames++] = xstrdup(tok);
	}
	if (strspn(value, ", \t") == strlen(value))
		PERR(p, "hostname: no host name given");
	free(copy);
}

static void header_key(struct parser *p, struct cfg_ddns *d, const char *value)
{
	const char *colon = strchr(value, ':');

	if (colon == NULL || colon == value) {
		PERR(p, "header: expected \"Name: value\"");
		return;
	}
	for (const char *c = value; c < colon; c++) {
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_') {
			PERR(p, "header: invalid header name");
			return;
		}
	}
	for (const char *c = value; *c; c++) {
		if (*c == '\r' || *c == '\n') {
			PERR(p, "header: contains a line break");
			return;
		}
	}
	d->headers = xrealloc(d->headers, d->n_headers + 1, sizeof(*d->headers));
	d->headers[d->n_headers++].value = xstrdup(value);
}

/* glibc's regcomp copies a subexpression once per count of an interval
 * "{n,m}" and once more for "+" (x+ is xx*), so nesting multiplies:
 * "((a{99}){99}){99}" or "a++++++++++++++++++++++" take gigabytes. Bound the
 * product of every interval's largest count and of 2 per "+", as if all
 * were nested. */
#define MAX_REGEX_REPEAT 4096

static unsigned long regex_repeat_product(const char *re)
{
	unsigned long product = 1;

	for (const char *c = re; *c; c++) {
		unsigned long n = 0, m;
		if (*c == '\\' && c[1]) {
			c++;                      /* an escaped character is literal */
			continue;
		}
		if (*c == '+' && product <= MAX_REGEX_REPEAT)
			product *= 2;
		if (*c != '{' || !isdigit((unsigned char)c[1]))
			continue;
		for (c++; isdigit((unsigned char)*c) && n <= MAX_REGEX_REPEAT; c++)
			n = n * 10 + (unsigned long)(*c - '0');
		m = n;
		if (*c == ',' && isdigit((unsigned char)c[1]))
			for (m = 0, c++; isdigit((unsigned char)*c) && m <= MAX_REGEX_REPEAT; c++)
				m = m * 10 + (unsigned long)(*c - '0');
		if (m > 1)
			product = product > MAX_REGEX_REPEAT ? product : product * (m < n ? n : m);
		if (*c == '\0')
			break;
	}
	return product;
}

static void ddns_key(struct parser *p, struct cfg_ddns *d, const char *key, const char *value)
{
	if (strcmp(key, "provider") == 0) {
		d->preset = provider_preset_find(value);
		if (d->preset == NULL) {
			PERR(p, "provider: unknown provider \"%s\" (see homeport.conf(5) for the list)", value);
			return;
		}
		set_str(&d->provider, value);
		d->family = d->preset->family;
	} else if (strcmp(key, "hostname") == 0) {
		hostnames_key(p, d, value);
	} else if (strcmp(key, "force_interval") == 0) {
		uint32_t v;
		if (get_duration(p, key, value, &v)) {
			if (v < 300)
				PERR(p, "force_interval: at least 5m (providers block clients that update too often)");
			else
				d->force_interval = v;
		}
	} else if (strcmp(key, "server") == 0) {
		set_str(&d->server, value);
	} else if (strcmp(key, "username") == 0) {
		set_str(&d->username, value);
	} else if (strcmp(key, "password_file") == 0) {
		set_str(&d->password_file, value);
	} else if (strcmp(key, "token_file") == 0) {
		set_str(&d->token_file, value);
	} else if (strcmp(key, "zone") == 0) {
		char *z = xstrdup(value);
		size_t n = strlen(z);
		if (n > 1 && z[n - 1] == '.')
			z[n - 1] = '\0';
		if (!valid_hostname(z))
			PERR(p, "zone: \"%s\" is not a valid DNS zone name", value);
		else
			set_str(&d->zone, z);
		free(z);
	} else if (strcmp(key, "ttl") == 0) {
		uint32_t v;
		if (get_duration(p, key, value, &v)) {
			if (v > 2147483647u)
				PERR(p, "ttl: too large");
			else
				d->ttl = v;
		}
	} else if (strcmp(key, "proxied") == 0) {
		get_bool(p, key, value, &d->proxied);
	} else if (strcmp(key, "key_name") == 0) {
		if (!valid_hostname(value))
			PERR(p, "key_name: \"%s\" is not a valid key name", value);
		else
			set_str(&d->key_name, value);
	} else if (strcmp(key, "key_algorithm") == 0) {
		if (!tsig_algorithm_supported(value))
			PERR(p, "key_algorithm: unsupported \"%s\" (hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1, hmac-md5)", value);
		else
			set_str(&d->key_algorithm, value);
	} else if (strcmp(key, "key_secret_file") == 0) {
		set_str(&d->key_secret_file, value);
	} else if (strcmp(key, "url") == 0) {
		set_str(&d->url, value);
	} else if (strcmp(key, "method") == 0) {
		static const char *const methods[] = { "GET", "POST", "PUT", "PATCH" };
		size_t i;
		for (i = 0; i < HP_ARRAY_LEN(methods); i++)
			if (strcasecmp(value, methods[i]) == 0)
				break;
		if (i == HP_ARRAY_LEN(methods))
			PERR(p, "method: \"%s\" is not GET, POST, PUT or PATCH", value);
		else
			set_str(&d->method, methods[i]);
	} else if (strcmp(key, "header") == 0) {
		header_key(p, d, value);
	} else if (strcmp(key, "body") == 0) {
		set_str(&d->body, value);
	} else if (strcmp(key, "success_regex") == 0) {
		regex_t re;
		int rc;
		if (regex_repeat_product(value) > MAX_REGEX_REPEAT) {
			PERR(p, "success_regex: repetition counts too large (their product must be at most %d)",
			     MAX_REGEX_REPEAT);
			return;
		}
		rc = regcomp(&re, value, REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			char why[128];
			regerror(rc, &re, why, sizeof(why));
			PERR(p, "success_regex: %s", why);
		} else {
			regfree(&re);
			set_str(&d->success_regex, value);
		}
	} else if (strcmp(key, "ca_file") == 0) {
		set_str(&d->ca_file, value);
	} else if (strcmp(key, "timeout") == 0) {
		uint32_t v;
		if (get_duration(p, key, value, &v)) {
			if (v < 1 || v > 300)
				PERR(p, "timeout: must be between 1s and 5m");
			else
				d->timeout = v;
		}
	} else if (strcmp(key, "allow_http") == 0) {
		get_bool(p, key, value, &d->allow_http);
	} else {
		PERR(p, "unknown key '%s' in [ddns:%s]", key, d->name);
	}
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct parser *p = user;
	struct sect *s = cur_sect(p);

	if (s == NULL) {
		PERR(p, "'%s' is outside any section", key);
		return 1;
	}
	if (s->kind == SECT_BAD)
		return 1;        /* the section header was already reported */
	if (s->kind == SECT_DAEMON && !p->main_file && strcmp(key, "include_dir") == 0) {
		PERR(p, "include_dir may only be set in the main configuration file");
		return 1;
	}
	if (!note_key(p, s, key))
		return 1;
	switch (s->kind) {
	case SECT_DAEMON:  daemon_key(p, key, value); break;
	case SECT_GATEWAY: gateway_key(p, key, value); break;
	case SECT_SERVICE: service_key(p, &p->cfg->services[s->index], key, value); break;
	case SECT_DDNS:    ddns_key(p, &p->cfg->ddns[s->index], key, value); break;
	case SECT_HOOK:    config_hook_key(p->errs, &p->cfg->hooks[s->index], p->file, p->line, key, value); break;
	default: break;
	}
	return 1;
}

/* ---- files ----------------------------------------------------------- */

static const char *intern_file(struct parser *p, const char *path)
{
	p->files = xrealloc(p->files, p->n_files + 1, sizeof(char *));
	p->files[p->n_files] = xstrdup(path);
	return p->files[p->n_files++];
}

static int parse_file(struct parser *p, const char *path, bool main_file)
{
	int rc;

	p->file = intern_file(p, path);
	p->fp = fopen(path, "re");
	if (p->fp == NULL) {
		add_error(p->errs, p->file, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	p->line = 0;
	p->cur = -1;
	p->main_file = main_file;
	rc = ini_parse_stream(read_line, p, handler, p);
	if (rc > 0)
		add_error(p->errs, p->file, rc, "syntax error");
	else if (rc < 0)
		add_error(p->errs, p->file, 0, "cannot parse (out of memory)");
	if (ferror(p->fp))
		add_error(p->errs, p->file, 0, "read error: %s", strerror(errno));
	fclose(p->fp);
	p->fp = NULL;
	return 0;
}

static int conf_filter(const struct dirent *e)
{
	size_t n = strlen(e->d_name);
	return e->d_name[0] != '.' && n > 5 && strcmp(e->d_name + n - 5, ".conf") == 0;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	d = xstrdup(path);
	d[slash - path] = '\0';
	return d;
}

/* Relative paths are relative to the main config file's directory. */
static char *resolve_path(const struct hp_config *cfg, const char *path)
{
	char *dir, *full;

	if (path[0] == '/')
		return xstrdup(path);
	dir = dir_of(cfg->path);
	if (dir[0] != '/') {
		/* Absolute, so that it still holds after a daemon's chdir("/"). */
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			strcpy(cwd, "/");
		if (strcmp(dir, ".") == 0)
			full = xstrdup(cwd);
		else if (asprintf(&full, "%s/%s", cwd, dir) < 0)
			abort();
		free(dir);
		dir = full;
	}
	if (asprintf(&full, "%s/%s", dir, path) < 0)
		abort();
	free(dir);
	return full;
}

static void parse_dropins(struct parser *p)
{
	struct dirent **list = NULL;
	char *dir = resolve_path(p->cfg, p->cfg->daemon.include_dir);
	int n = scandir(dir, &list, conf_filter, alphasort);

	if (n < 0) {
		/* No drop-in directory is a normal set-up; any other failure is not. */
		if (errno != ENOENT)
			add_error(p->errs, p->cfg->path, 0, "include_dir %s: %s", dir, strerror(errno));
		free(dir);
		return;
	}
	for (int i = 0; i < n; i++) {
		char *path;
		if (asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0)
			abort();
		parse_file(p, path, false);
		free(path);
		free(list[i]);
	}
	free(list);
	free(dir);
}

/* ---- secrets --------------------------------------------------------- */

static char *secret_path(const struct hp_config *cfg, const char *path)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	char *full;

	if (path[0] != '/' && creds != NULL && *creds != '\0') {
		if (asprintf(&full, "%s/%s", creds, path) < 0)
			abort();
		return full;
	}
	return resolve_path(cfg, path);
}

/* Read a secret file, refusing one that others may read. NULL on error
 * (reported at the key's FILE:LINE). */
static char *load_secret(struct config_errors *errs, const struct hp_config *cfg,
			 const struct key_loc *where, const char *path)
{
	char *full = secret_path(cfg, path), *buf = NULL, *start, *end;
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		add_error(errs, where->file, where->line, "%s: cannot open %s: %s",
			  where->key, full, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		add_error(errs, where->file, where->line, "%s: %s is not a regular file", where->key, full);
		goto out;
	}
	if (st.st_mode & S_IRWXO) {
		add_error(errs, where->file, where->line,
			  "%s: %s is accessible by others (mode %04o): run chmod o-rwx on it",
			  where->key, full, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > SECRET_MAX) {
		add_error(errs, where->file, where->line, "%s: %s is larger than %d bytes",
			  where->key, full, SECRET_MAX);
		goto out;
	}
	buf = xcalloc(1, (size_t)st.st_size + 1);
	n = read(fd, buf, (size_t)st.st_size);
	if (n < 0) {
		add_error(errs, where->file, where->line, "%s: cannot read %s: %s",
			  where->key, full, strerror(errno));
		free_secret(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	for (start = buf; isspace((unsigned char)*start); start++)
		;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	if (*start == '\0' || strlen(start) != (size_t)(end - start)) {
		add_error(errs, where->file, where->line, "%s: %s is empty", where->key, full);
		free_secret(buf);
		buf = NULL;
		goto out;
	}
	memmove(buf, start, (size_t)(end - start) + 1);
out:
	if (fd >= 0)
		close(fd);
	free(full);
	return buf;
}

/* ---- validation of whole sections ------------------------------------ */

/* Which keys each family takes, beyond provider/hostname/force_interval. */
static bool key_applies(enum ddns_family f, const char *key)
{
	static const struct { const char *key; unsigned families; } table[] = {
#define F(x) (1u << (x))
#define HTTP (F(DDNS_DYNDNS2) | F(DDNS_CLOUDFLARE) | F(DDNS_DUCKDNS) | F(DDNS_WEBHOOK))
		{ "provider", ~0u }, { "hostname", ~0u }, { "force_interval", ~0u },
		{ "server", F(DDNS_DYNDNS2) | F(DDNS_RFC2136) | F(DDNS_CLOUDFLARE) },
		{ "username", F(DDNS_DYNDNS2) },
		{ "password_file", F(DDNS_DYNDNS2) },
		{ "token_file", F(DDNS_CLOUDFLARE) | F(DDNS_DUCKDNS) },
		{ "zone", F(DDNS_CLOUDFLARE) | F(DDNS_RFC2136) },
		{ "ttl", F(DDNS_CLOUDFLARE) | F(DDNS_RFC2136) },
		{ "proxied", F(DDNS_CLOUDFLARE) },
		{ "key_name", F(DDNS_RFC2136) }, { "key_algorithm", F(DDNS_RFC2136) },
		{ "key_secret_file", F(DDNS_RFC2136) },
		{ "url", F(DDNS_WEBHOOK) }, { "method", F(DDNS_WEBHOOK) },
		{ "header", F(DDNS_WEBHOOK) }, { "body", F(DDNS_WEBHOOK) },
		{ "success_regex", F(DDNS_WEBHOOK) },
		{ "ca_file", HTTP }, { "allow_http", HTTP },
		{ "timeout", HTTP | F(DDNS_RFC2136) },
#undef HTTP
#undef F
	};
	for (size_t i = 0; i < HP_ARRAY_LEN(table); i++)
		if (strcmp(table[i].key, key) == 0)
			return (table[i].families >> f) & 1u;
	return true;      /* unknown keys were reported by the handler */
}

static const struct key_loc *require(struct config_errors *errs, const struct sect *s,
				     const char *what, const char *key, bool present)
{
	if (!present)
		add_error(errs, s->file, s->line, "[%s:%s]: '%s' is required", what, s->name, key);
	return key_where(s, key);
}

static void validate_url_key(struct config_errors *errs, const struct sect *s,
			     const char *key, const char *url, bool allow_http)
{
	const struct key_loc *at = key_where(s, key);
	bool is_http;

	if (url == NULL || at == NULL)
		return;
	if (!valid_url(url, &is_http))
		add_error(errs, at->file, at->line, "%s: \"%s\" is not an https:// URL", key, url);
	else if (is_http && !allow_http)
		add_error(errs, at->file, at->line,
			  "%s: plain http:// would send credentials in clear text; use https:// or set allow_http = yes", key);
}

static void validate_rfc2136(struct config_errors *errs, struct hp_config *cfg,
			     const struct sect *s, struct cfg_ddns *d)
{
	const struct key_loc *at;
	char *name = NULL, *alg = NULL, *secret = NULL, *text, why[160];

	require(errs, s, "ddns", "server", d->server != NULL);
	require(errs, s, "ddns", "zone", d->zone != NULL);
	at = require(errs, s, "ddns", "key_secret_file", d->key_secret_file != NULL);
	if (d->server && (at = key_where(s, "server")) && !valid_host_port(d->server))
		add_error(errs, at->file, at->line,
				  "server: \"%s\" is not ADDRESS[:PORT] with an IP address (names are not resolved)", d->server);
	if (d->zone) {
		for (size_t i = 0; i < d->n_hostnames; i++) {
			size_t hl = strlen(d->hostnames[i]), zl = strlen(d->zone);
			const char *h = d->hostnames[i];
			bool inside = strcasecmp(h, d->zone) == 0 ||
				(hl > zl && h[hl - zl - 1] == '.' && strcasecmp(h + hl - zl, d->zone) == 0);
			const struct key_loc *hk = key_where(s, "hostname");
			if (!inside && hk)
				add_error(errs, hk->file, hk->line, "hostname: \"%s\" is not inside zone %s", h, d->zone);
		}
	}
	at = key_where(s, "key_secret_file");
	if (d->key_secret_file == NULL || at == NULL)
		goto check_name;
	text = load_secret(errs, cfg, at, d->key_secret_file);
	if (text == NULL)
		goto check_name;
	if (tsig_key_parse(text, &name, &alg, &secret, why, sizeof(why)) < 0) {
		add_error(errs, at->file, at->line, "key_secret_file: %s", why);
	} else {
		d->key_secret = secret;
		if (d->key_name == NULL && name)
			d->key_name = xstrdup(name);
		if (d->key_algorithm == NULL && alg) {
			if (!tsig_algorithm_supported(alg))
				add_error(errs, at->file, at->line, "key_secret_file: unsupported algorithm \"%s\"", alg);
			else
				d->key_algorithm = xstrdup(alg);
		}
	}
	free(name);
	free(alg);
	free_secret(text);
check_name:
	if (d->key_algorithm == NULL)
		d->key_algorithm = xstrdup("hmac-sha256");
	if (d->key_name == NULL && d->key_secret_file)
		add_error(errs, s->file, s->line,
			  "[ddns:%s]: 'key_name' is required (the key file does not name the key)", s->name);
}

static void load_secret_key(struct config_errors *errs, struct hp_config *cfg,
			    const struct sect *s, const char *key, const char *path, char **dst)
{
	const struct key_loc *at = key_where(s, key);

	if (path != NULL && at != NULL)
		*dst = load_secret(errs, cfg, at, path);
}

static void validate_ddns(struct config_errors *errs, struct hp_config *cfg,
			  const struct sect *s, struct cfg_ddns *d)
{
	const struct key_loc *at;

	if (d->preset == NULL) {
		if (key_where(s, "provider") == NULL)
			require(errs, s, "ddns", "provider", false);
		return;           /* a bad provider value was reported already */
	}
	require(errs, s, "ddns", "hostname", d->n_hostnames > 0 || key_where(s, "hostname"));
	for (size_t i = 0; i < s->n_keys; i++)
		if (!key_applies(d->family, s->keys[i].key))
			add_error(errs, s->keys[i].file, s->keys[i].line,
				  "'%s' does not apply to provider %s", s->keys[i].key, d->provider);

	switch (d->family) {
	case DDNS_DYNDNS2:
		require(errs, s, "ddns", "server", d->server || d->preset->default_server);
		if (!(d->preset->flags & PRESET_NO_USERNAME))
			require(errs, s, "ddns", "username", d->username != NULL);
		require(errs, s, "ddns", "password_file", d->password_file != NULL);
		validate_url_key(errs, s, "server", d->server, d->allow_http);
		load_secret_key(errs, cfg, s, "password_file", d->password_file, &d->password);
		break;
	case DDNS_CLOUDFLARE:
		require(errs, s, "ddns", "token_file", d->token_file != NULL);
		require(errs, s, "ddns", "zone", d->zone != NULL);
		validate_url_key(errs, s, "server", d->server, d->allow_http);
		if (d->ttl != 0 && d->ttl != 1 && (d->ttl < 60 || d->ttl > 86400) &&
		    (at = key_where(s, "ttl")))
			add_error(errs, at->file, at->line, "ttl: Cloudflare takes 1 (automatic) or 60-86400");
		load_secret_key(errs, cfg, s, "token_file", d->token_file, &d->token);
		break;
	case DDNS_DUCKDNS:
		require(errs, s, "ddns", "token_file", d->token_file != NULL);
		load_secret_key(errs, cfg, s, "token_file", d->token_file, &d->token);
		break;
	case DDNS_RFC2136:
		validate_rfc2136(errs, cfg, s, d);
		break;
	case DDNS_WEBHOOK:
		require(errs, s, "ddns", "url", d->url != NULL);
		validate_url_key(errs, s, "url", d->url, d->allow_http);
		if (d->method == NULL)
			d->method = xstrdup("GET");
		break;
	}
	if (d->ca_file && (at = key_where(s, "ca_file"))) {
		char *full = resolve_path(cfg, d->ca_file);
		if (access(full, R_OK) < 0)
			add_error(errs, at->file, at->line, "ca_file: cannot read %s: %s", full, strerror(errno));
		free(d->ca_file);
		d->ca_file = full;
	}
}

static void validate_service(struct config_errors *errs, struct hp_config *cfg,
			     const struct sect *s, struct cfg_service *svc)
{
	char *desc;

	require(errs, s, "service", "internal_port", svc->internal_port != 0 ||
		key_where(s, "internal_port"));
	if (key_where(s, "external_port") == NULL)
		svc->external_port = svc->internal_port;
	if (key_where(s, "lease") == NULL)
		svc->lease = cfg->gateway.lease;
	if (svc->description == NULL) {
		if (asprintf(&desc, "homeport:%s", svc->name) < 0)
			abort();
		svc->description = desc;
	}
	/* Two services cannot own the same external port and protocol. */
	for (size_t i = 0; i < (size_t)(svc - cfg->services); i++) {
		const struct cfg_service *o = &cfg->services[i];
		if (o->external_port != 0 && o->external_port == svc->external_port &&
		    (o->protocols & svc->protocols)) {
			const struct key_loc *at = key_where(s, "external_port");
			if (at == NULL)
				at = key_where(s, "internal_port");
			add_error(errs, at ? at->file : s->file, at ? at->line : s->line,
				  "external port %u/%s is already used by [service:%s] at %s:%d",
				  svc->external_port,
				  (o->protocols & svc->protocols) == SVC_UDP ? "udp" : "tcp",
				  o->name, o->file, o->line);
			break;
		}
	}
}

static void apply_defaults(struct hp_config *cfg)
{
	if (cfg->daemon.state_dir == NULL)
		cfg->daemon.state_dir = xstrdup(HP_DEFAULT_STATE_DIR);
	if (cfg->daemon.socket == NULL)
		cfg->daemon.socket = xstrdup(HP_DEFAULT_SOCKET);
	if (cfg->daemon.include_dir == NULL)
		cfg->daemon.include_dir = xstrdup("conf.d");   /* beside the main file */
}

/* Errors come from two passes; users read them best in file and line order. */
struct sort_key {
	size_t file;
	long line;
	size_t seq;
	char *msg;
};

static int cmp_sort_key(const void *a, const void *b)
{
	const struct sort_key *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void sort_errors(const struct parser *p, struct config_errors *errs)
{
	struct sort_key *keys = xcalloc(errs->n, sizeof(*keys));

	for (size_t i = 0; i < errs->n; i++) {
		const char *m = errs->msgs[i];
		size_t best = SIZE_MAX, best_len = 0;
		keys[i].seq = i;
		keys[i].msg = errs->msgs[i];
		for (size_t f = 0; f < p->n_files; f++) {
			size_t n = strlen(p->files[f]);
			if (n > best_len && strncmp(m, p->files[f], n) == 0 && m[n] == ':') {
				best = f;
				best_len = n;
			}
		}
		keys[i].file = best;
		keys[i].line = best == SIZE_MAX ? 0 : strtol(m + best_len + 1, NULL, 10);
	}
	qsort(keys, errs->n, sizeof(*keys), cmp_sort_key);
	for (size_t i = 0; i < errs->n; i++)
		errs->msgs[i] = keys[i].msg;
	free(keys);
}

/* ---- public ---------------------------------------------------------- */

int config_load(const char *path, struct hp_config **out, struct config_errors *errs)
{
	struct hp_config *cfg = xcalloc(1, sizeof(*cfg));
	struct parser p = { .cfg = cfg, .errs = errs, .cur = -1 };
	int rc = -1;

	*out = NULL;
	cfg->path = xstrdup(path);
	cfg->daemon.log_level = LOG_INFO;
	cfg->gateway.protocol = GW_PREF_AUTO;
	cfg->gateway.check_interval = 300;
	cfg->gateway.lease = 3600;

	if (parse_file(&p, path, true) < 0)
		goto out;
	apply_defaults(cfg);
	parse_dropins(&p);

	for (size_t i = 0; i < p.n_sects; i++) {
		struct sect *s = &p.sects[i];
		if (s->kind == SECT_SERVICE)
			validate_service(errs, cfg, s, &cfg->services[s->index]);
		else if (s->kind == SECT_DDNS)
			validate_ddns(errs, cfg, s, &cfg->ddns[s->index]);
		else if (s->kind == SECT_HOOK)
			config_hook_validate(errs, cfg, &cfg->hooks[s->index]);
	}
	if (errs->n == 0)
		rc = 0;
out:
	if (errs->n > 1)
		sort_errors(&p, errs);
	for (size_t i = 0; i < p.n_sects; i++) {
		for (size_t k = 0; k < p.sects[i].n_keys; k++)
			free(p.sects[i].keys[k].key);
		free(p.sects[i].keys);
		free(p.sects[i].name);
	}
	free(p.sects);
	for (size_t i = 0; i < p.n_files; i++)
		free(p.files[i]);
	free(p.files);
	free(p.linebuf);
	if (rc == 0)
		*out = cfg;
	else
		config_free(cfg);
	return rc;
}

static void free_ddns(struct cfg_ddns *d)
{
	free(d->name);
	free(d->provider);
	for (size_t i = 0; i < d->n_hostnames; i++)
		free(d->hostnames[i]);
	free(d->hostnames);
	free(d->server);
	free(d->username);
	free(d->password_file);
	free_secret(d->password);
	free(d->token_file);
	free_secret(d->token);
	free(d->zone);
	free(d->key_name);
	free(d->key_algorithm);
	free(d->key_secret_file);
	free_secret(d->key_secret);
	free(d->url);
	free(d->method);
	for (size_t i = 0; i < d->n_headers; i++)
		free(d->headers[i].value);
	free(d->headers);
	free(d->body);
	free(d->success_regex);
	free(d->ca_file);
	free(d->file);
}

void config_free(struct hp_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->daemon.state_dir);
	free(cfg->daemon.socket);
	free(cfg->daemon.include_dir);
	free(cfg->gateway.upnp_url);
	free(cfg->gateway.interface);
	for (size_t i = 0; i < cfg->n_services; i++) {
		struct cfg_service *s = &cfg->services[i];
		free(s->name);
		free(s->internal_host);
		free(s->description);
		free(s->file);
	}
	free(cfg->services);
	for (size_t i = 0; i < cfg->n_ddns; i++)
		free_ddns(&cfg->ddns[i]);
	free(cfg->ddns);
	config_hooks_free(cfg);
	free(cfg);
}

void config_errors_free(struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}

const struct cfg_service *config_find_service(const struct hp_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_services; i++)
		if (strcmp(cfg->services[i].name, name) == 0)
			return &cfg->services[i];
	return NULL;
}

const struct cfg_ddns *config_find_ddns(const struct hp_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_ddns; i++)
		if (strcmp(cfg->ddns[i].name, name) == 0)
			return &cfg->ddns[i];
	return NULL;
}

static bool str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

bool config_service_equal(const struct cfg_service *a, const struct cfg_service *b)
{
	return str_eq(a->name, b->name) && a->protocols == b->protocols &&
	       a->internal_port == b->internal_port && a->external_port == b->external_port &&
	       str_eq(a->internal_host, b->internal_host) &&
	       str_eq(a->description, b->description) && a->lease == b->lease;
}

bool config_ddns_equal(const struct cfg_ddns *a, const struct cfg_ddns *b)
{
	if (!str_eq(a->name, b->name) || !str_eq(a->provider, b->provider) ||
	    a->n_hostnames != b->n_hostnames || a->n_headers != b->n_headers)
		return false;
	for (size_t i = 0; i < a->n_hostnames; i++)
		if (strcmp(a->hostnames[i], b->hostnames[i]) != 0)
			return false;
	for (size_t i = 0; i < a->n_headers; i++)
		if (strcmp(a->headers[i].value, b->headers[i].value) != 0)
			return false;
	/* Secrets are compared by content, so a corrected password counts as a change. */
	return a->force_interval == b->force_interval && str_eq(a->server, b->server) &&
	       str_eq(a->username, b->username) && str_eq(a->password, b->password) &&
	       str_eq(a->token, b->token) && str_eq(a->zone, b->zone) && a->ttl == b->ttl &&
	       a->proxied == b->proxied && str_eq(a->key_name, b->key_name) &&
	       str_eq(a->key_algorithm, b->key_algorithm) && str_eq(a->key_secret, b->key_secret) &&
	       str_eq(a->url, b->url) && str_eq(a->method, b->method) && str_eq(a->body, b->body) &&
	       str_eq(a->success_regex, b->success_regex) && str_eq(a->ca_file, b->ca_file) &&
	       a->timeout == b->timeout && a->allow_http == b->allow_http;
}

/* ---- -nv ------------------------------------------------------------- */

static void dump_str(FILE *out, const char *key, const char *value)
{
	if (value != NULL)
		fprintf(out, "%-15s = %s\n", key, value);
}

static void dump_duration(FILE *out, const char *key, uint32_t v)
{
	if (v != 0 && v % 86400 == 0)
		fprintf(out, "%-15s = %ud\n", key, v / 86400);
	else if (v != 0 && v % 3600 == 0)
		fprintf(out, "%-15s = %uh\n", key, v / 3600);
	else if (v != 0 && v % 60 == 0)
		fprintf(out, "%-15s = %um\n", key, v / 60);
	else
		fprintf(out, "%-15s = %u\n", key, v);
}

static void dump_secret(FILE *out, const char *key, const char *path, const char *secret)
{
	if (path != NULL)
		fprintf(out, "%-15s = %s ; %s\n", key, path, secret ? "<redacted>" : "not loaded");
}

static const char *protocols_name(unsigned p)
{
	return p == (SVC_TCP | SVC_UDP) ? "both" : p == SVC_UDP ? "udp" : "tcp";
}

static void dump_ddns(const struct cfg_ddns *d, FILE *out)
{
	fprintf(out, "\n[ddns:%s] ; %s:%d\n", d->name, d->file, d->line);
	dump_str(out, "provider", d->provider);
	fprintf(out, "%-15s = ", "hostname");
	for (size_t i = 0; i < d->n_hostnames; i++)
		fprintf(out, "%s%s", i ? ", " : "", d->hostnames[i]);
	fputc('\n', out);
	dump_duration(out, "force_interval", d->force_interval);
	if (d->server)
		dump_str(out, "server", d->server);
	else if (d->preset && d->preset->default_server)
		fprintf(out, "%-15s = %s ; preset\n", "server", d->preset->default_server);
	dump_str(out, "username", d->username);
	dump_secret(out, "password_file", d->password_file, d->password);
	dump_secret(out, "token_file", d->token_file, d->token);
	dump_str(out, "zone", d->zone);
	if (d->family == DDNS_CLOUDFLARE || d->family == DDNS_RFC2136)
		fprintf(out, "%-15s = %u\n", "ttl", d->ttl);
	if (d->family == DDNS_CLOUDFLARE)
		dump_str(out, "proxied", d->proxied ? "yes" : "no");
	dump_str(out, "key_name", d->family == DDNS_RFC2136 ? d->key_name : NULL);
	dump_str(out, "key_algorithm", d->family == DDNS_RFC2136 ? d->key_algorithm : NULL);
	dump_secret(out, "key_secret_file", d->key_secret_file, d->key_secret);
	dump_str(out, "url", d->url);
	dump_str(out, "method", d->method);
	for (size_t i = 0; i < d->n_headers; i++)
		dump_str(out, "header", d->headers[i].value);
	dump_str(out, "body", d->body);
	dump_str(out, "success_regex", d->success_regex);
	dump_str(out, "ca_file", d->ca_file);
	if (d->family != DDNS_RFC2136)
		dump_str(out, "allow_http", d->allow_http ? "yes" : "no");
	dump_duration(out, "timeout", d->timeout);
}

void config_dump(const struct hp_config *cfg, FILE *out)
{
	static const char *const gw_proto[] = { "auto", "upnp", "natpmp" };

	fprintf(out, "; effective configuration of %s\n", cfg->path);
	fprintf(out, "[daemon]\n");
	dump_str(out, "state_dir", cfg->daemon.state_dir);
	dump_str(out, "socket", cfg->daemon.socket);
	dump_str(out, "include_dir", cfg->daemon.include_dir);
	dump_str(out, "log_level", log_level_name(cfg->daemon.log_level));

	fprintf(out, "\n[gateway]\n");
	dump_str(out, "protocol", gw_proto[cfg->gateway.protocol]);
	dump_str(out, "upnp_url", cfg->gateway.upnp_url);
	dump_str(out, "interface", cfg->gateway.interface);
	dump_duration(out, "check_interval", cfg->gateway.check_interval);
	dump_duration(out, "lease", cfg->gateway.lease);
	dump_str(out, "keep_mappings", cfg->gateway.keep_mappings ? "yes" : "no");

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct cfg_service *s = &cfg->services[i];
		fprintf(out, "\n[service:%s] ; %s:%d\n", s->name, s->file, s->line);
		dump_str(out, "protocol", protocols_name(s->protocols));
		fprintf(out, "%-15s = %u\n", "internal_port", s->internal_port);
		fprintf(out, "%-15s = %u\n", "external_port", s->external_port);
		dump_str(out, "internal_host", s->internal_host ? s->internal_host : "; this host");
		dump_str(out, "description", s->description);
		dump_duration(out, "lease", s->lease);
	}
	for (size_t i = 0; i < cfg->n_ddns; i++)
		dump_ddns(&cfg->ddns[i], out);
	config_hooks_dump(cfg, out);
}

/* ---- for the section parsers in config_*.c ---------------------------- */

void config_error(struct config_errors *errs, const char *file, int line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	add_error(errs, file, line, "%s", msg);
}

char *config_read_secret(struct config_errors *errs, const struct hp_config *cfg,
			 const char *file, int line, const char *key, const char *path)
{
	struct key_loc at = { .key = (char *)key, .file = file, .line = line };

	return load_secret(errs, cfg, &at, path);
}

char *config_path(const struct hp_config *cfg, const char *path)
{
	return resolve_path(cfg, path);
}
