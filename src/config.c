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
 * the whole section (required keys, duplicate ports). A DDNS provider's own
 * keys may come before "provider =", so the handler keeps their text and
 * validate_ddns() parses them through the provider's key table (cfgkey.h),
 * loads its secret files (secret.h) and runs its validate hook. Every
 * problem is collected. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <net/if.h>
#include <pwd.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "config_hook.h"
#include "homeport.h"
#include "log.h"
#include "provider.h"
#include "secret.h"
#include "util.h"

#define DEFAULT_FORCE_INTERVAL (30 * 86400)
#define MAX_LEASE (7 * 86400)          /* IGDv2 caps leases at a week */
#define MAX_DESCRIPTION 80

enum sect_kind { SECT_NONE, SECT_DAEMON, SECT_GATEWAY, SECT_SERVICE, SECT_DDNS, SECT_HOOK, SECT_BAD };

/* Where a key was written: for duplicate keys and late checks. */
struct key_loc {
	char *key;
	const char *file;
	int line;
	char *value;                   /* a provider's key: parsed once the provider is known */
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

/* A key whose value is a list separated by commas or blanks (hostname,
 * check_url): each item checked, a repeated one an error. */
struct list_kind {
	const char *key;
	const char *bad;                            /* after "KEY: \"ITEM\" " */
	const char *item;                           /* "no ITEM given" */
	bool (*valid)(const char *s);
	int (*cmp)(const char *a, const char *b);   /* the same item? */
};

static void list_key(struct parser *p, const struct list_kind *k, const char *value,
		     char ***list, size_t *n)
{
	char *copy = xstrdup(value), *save = NULL;

	for (char *tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (!k->valid(tok)) {
			PERR(p, "%s: \"%s\" %s", k->key, tok, k->bad);
			continue;
		}
		for (size_t i = 0; i < *n; i++)
			if (k->cmp((*list)[i], tok) == 0)
				PERR(p, "%s: \"%s\" is listed twice", k->key, tok);
		*list = xrealloc(*list, *n + 1, sizeof(char *));
		(*list)[(*n)++] = xstrdup(tok);
	}
	if (strspn(value, ", \t") == strlen(value))
		PERR(p, "%s: no %s given", k->key, k->item);
	free(copy);
}

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
	svc->ipv6 = true;
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
	d->records = DDNS_REC_A;
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
	const struct cfgkey *k = s->kind == SECT_DDNS ? provider_key_any(key) : NULL;

	if (!k || !(k->flags & CK_REPEAT)) {
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
	s->keys[s->n_keys].value = NULL;
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
	} else if (strcmp(key, "user") == 0) {
		if (getpwnam(value) == NULL)
			PERR(p, "user: no such user \"%s\"", value);
		else
			set_str(&d->user, value);
	} else if (strcmp(key, "control_group") == 0) {
		if (getgrnam(value) == NULL)
			PERR(p, "control_group: no such group \"%s\"", value);
		else
			set_str(&d->control_group, value);
	} else {
		PERR(p, "unknown key '%s' in [daemon]", key);
	}
}

static const char *const ip_source_names[] = {
	[IPSRC_AUTO] = "auto", [IPSRC_GATEWAY] = "gateway", [IPSRC_WEB] = "web",
};

static void ip_source_value(struct parser *p, struct cfg_gateway *g, const char *value)
{
	const char *ifname = strncasecmp(value, "interface:", 10) == 0 ? value + 10 : NULL;

	if (ifname) {
		if (*ifname == '\0' || strlen(ifname) >= IFNAMSIZ || strpbrk(ifname, "/: \t"))
			PERR(p, "ip_source: invalid interface name \"%s\"", ifname);
		g->ip_source = IPSRC_INTERFACE;
		set_str(&g->ip_source_if, ifname);
		return;
	}
	for (size_t i = 0; i < HP_ARRAY_LEN(ip_source_names); i++) {
		if (strcasecmp(value, ip_source_names[i]) == 0) {
			g->ip_source = (enum ip_source)i;
			return;
		}
	}
	PERR(p, "ip_source: unknown value \"%s\" (auto, gateway, web or interface:NAME)", value);
}

static bool any_url(const char *s)
{
	bool is_http;

	return url_valid(s, &is_http);
}

static const struct list_kind url_list = {
	"check_url", "is not an https:// URL", "URL", any_url, strcmp,
};

static void check_urls_key(struct parser *p, struct cfg_gateway *g, const char *value)
{
	list_key(p, &url_list, value, &g->check_urls, &g->n_check_urls);
}

/* The keys of SPEC "Without UPnP, NAT-PMP or PCP"; false: not one of them. */
static bool ip_source_key(struct parser *p, struct cfg_gateway *g, const char *key,
			  const char *value)
{
	if (strcmp(key, "ip_source") == 0)
		ip_source_value(p, g, value);
	else if (strcmp(key, "check_url") == 0)
		check_urls_key(p, g, value);
	else if (strcmp(key, "allow_http") == 0)
		get_bool(p, key, value, &g->allow_http);
	else if (strcmp(key, "ca_file") == 0)
		path_key(p, key, value, &g->ca_file, false);
	else
		return false;
	return true;
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
		else if (strcasecmp(value, "pcp") == 0)
			g->protocol = GW_PREF_PCP;
		else if (strcasecmp(value, "natpmp") == 0 || strcasecmp(value, "nat-pmp") == 0)
			g->protocol = GW_PREF_NATPMP;
		else if (strcasecmp(value, "none") == 0)
			g->protocol = GW_PREF_NONE;
		else
			PERR(p, "protocol: unknown value \"%s\" (auto, upnp, natpmp, pcp or none)", value);
	} else if (strcmp(key, "upnp_url") == 0) {
		if (*value && (!url_valid(value, &is_http) || !is_http))
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
	} else if (strcmp(key, "ipv6") == 0) {
		/* auto | no; booleans too, yes meaning auto */
		if (strcasecmp(value, "auto") == 0)
			g->ipv6 = true;
		else if (parse_bool(value, &g->ipv6) < 0)
			PERR(p, "ipv6: unknown value \"%s\" (auto or no)", value);
	} else if (!ip_source_key(p, g, key, value)) {
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
	} else if (strcmp(key, "map") == 0) {
		if (strcasecmp(value, "auto") == 0 || strcasecmp(value, "manual") == 0)
			svc->manual = strcasecmp(value, "manual") == 0;
		else
			PERR(p, "map: unknown value \"%s\" (auto or manual)", value);
	} else if (strcmp(key, "ipv6") == 0) {
		get_bool(p, key, value, &svc->ipv6);
	} else {
		PERR(p, "unknown key '%s' in [service:%s]", key, svc->name);
	}
}

static const struct list_kind hostname_list = {
	"hostname", "is not a valid host name", "host name", dns_name_valid, strcasecmp,
};

static void hostnames_key(struct parser *p, struct cfg_ddns *d, const char *value)
{
	list_key(p, &hostname_list, value, &d->hostnames, &d->n_hostnames);
}

/* "A", "AAAA" or "A, AAAA" (any order, any case). */
static void records_key(struct parser *p, struct cfg_ddns *d, const char *value)
{
	char *copy = xstrdup(value), *save = NULL;
	unsigned got = 0;

	for (char *tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		unsigned r = strcasecmp(tok, "A") == 0 ? DDNS_REC_A :
			     strcasecmp(tok, "AAAA") == 0 ? DDNS_REC_AAAA : 0;
		if (r == 0)
			PERR(p, "records: unknown record type \"%s\" (A or AAAA)", tok);
		else if (got & r)
			PERR(p, "records: %s is listed twice", tok);
		got |= r;
	}
	free(copy);
	if (strspn(value, ", \t") == strlen(value))
		PERR(p, "records: no record type given (A, AAAA or both)");
	else if (got)
		d->records = got;
}

/* The keys every entry has; the provider's own keys wait in the section's
 * key list until validate_ddns() knows which table they belong to. */
static void ddns_key(struct parser *p, struct sect *s, const char *key, const char *value)
{
	struct cfg_ddns *d = &p->cfg->ddns[s->index];

	if (strcmp(key, "provider") == 0) {
		d->preset = provider_preset_find(value);
		if (d->preset == NULL) {
			PERR(p, "provider: unknown provider \"%s\" (see homeport.conf(5) for the list)", value);
			return;
		}
		set_str(&d->provider, value);
		d->ops = d->preset->ops;
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
	} else if (strcmp(key, "records") == 0) {
		records_key(p, d, value);
	} else if (strcmp(key, "ipv6_host") == 0) {
		char why[200];
		if (addr6_host_parse(value, &d->ipv6_host, why, sizeof(why)) < 0)
			PERR(p, "ipv6_host: %s", why);
	} else if (provider_key_any(key) != NULL) {
		s->keys[s->n_keys - 1].value = xstrdup(value);
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
	case SECT_DDNS:    ddns_key(p, s, key, value); break;
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

/* The main config file's directory, absolute so that it still holds after
 * a daemon's chdir("/"): relative paths start there. */
static char *base_dir(const struct hp_config *cfg)
{
	char *dir = dir_of(cfg->path), *full, cwd[PATH_MAX];

	if (dir[0] == '/')
		return dir;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		strcpy(cwd, "/");
	if (strcmp(dir, ".") == 0)
		full = xstrdup(cwd);
	else if (asprintf(&full, "%s/%s", cwd, dir) < 0)
		abort();
	free(dir);
	return full;
}

static char *resolve_path(const struct hp_config *cfg, const char *path)
{
	char *dir, *full;

	if (path[0] == '/')
		return xstrdup(path);
	dir = base_dir(cfg);
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

/* ---- validation of whole sections ------------------------------------ */

static const struct key_loc *require(struct config_errors *errs, const struct sect *s,
				     const char *what, const char *key, bool present)
{
	if (!present)
		add_error(errs, s->file, s->line, "[%s:%s]: '%s' is required", what, s->name, key);
	return key_where(s, key);
}

/* One [ddns:NAME] section being checked; its provider's hook reports here. */
struct config_check {
	struct config_errors *errs;
	const struct sect *s;
	const struct hp_config *cfg;
};

void config_check_error(struct config_check *chk, const char *key, const char *fmt, ...)
{
	const struct key_loc *at = key ? key_where(chk->s, key) : NULL;
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	add_error(chk->errs, at ? at->file : chk->s->file, at ? at->line : chk->s->line, "%s", msg);
}

bool config_check_require(struct config_check *chk, const char *key, bool present)
{
	require(chk->errs, chk->s, "ddns", key, present);
	return present;
}

/* The provider's keys, written before or after "provider", in the order
 * they were written (a repeated key keeps its order). bad[k]: key k's
 * value was refused (and reported). */
static void parse_provider_keys(struct config_check *chk, struct cfg_ddns *d, bool *bad)
{
	const struct provider_ops *ops = d->ops;
	char why[600];

	for (size_t i = 0; i < chk->s->n_keys; i++) {
		const struct key_loc *kl = &chk->s->keys[i];
		ssize_t k;

		if (kl->value == NULL)
			continue;           /* a key of every entry, or one already reported */
		k = cfgkey_find(ops->keys, ops->n_keys, kl->key);
		if (k < 0) {
			add_error(chk->errs, kl->file, kl->line, "'%s' does not apply to provider %s",
				  kl->key, d->provider);
		} else if (cfgkey_parse(&ops->keys[k], kl->value, &d->values[k], why, sizeof(why)) < 0) {
			add_error(chk->errs, kl->file, kl->line, "%s: %s", kl->key, why);
			bad[k] = true;
		} else {
			d->values[k].set = true;
		}
	}
}

/* A header file must hold header lines: say which line is not one (never
 * what it holds). */
static void load_secret_key(struct config_check *chk, const struct cfgkey *k, struct cfg_value *v)
{
	char why[PATH_MAX + 200], *dir = base_dir(chk->cfg), *full = secret_path(v->str, dir);
	char **lines;
	size_t n;

	v->secret = secret_load(full, why, sizeof(why));
	if (v->secret == NULL) {
		config_check_error(chk, k->name, "%s: %s", k->name, why);
	} else if (k->type == CK_HEADER_FILE) {
		lines = cfgkey_header_lines(v->secret, &n, why, sizeof(why));
		if (lines == NULL)
			config_check_error(chk, k->name, "%s: %s %s", k->name, full, why);
		cfgkey_header_lines_free(lines);
	}
	free(full);
	free(dir);
}

/* What a value needs beyond its own syntax: the file system, other keys. */
static void check_value(struct config_check *chk, const struct cfg_ddns *d,
			const struct cfgkey *k, struct cfg_value *v)
{
	ssize_t allow = cfgkey_find(d->ops->keys, d->ops->n_keys, "allow_http");
	bool is_http;
	char *full;

	if (v->str == NULL)
		return;
	if (cfgkey_is_secret_file(k)) {
		load_secret_key(chk, k, v);
	} else if (k->type == CK_PATH) {
		full = resolve_path(chk->cfg, v->str);
		if (access(full, R_OK) < 0)
			config_check_error(chk, k->name, "%s: cannot read %s: %s", k->name, full,
					   strerror(errno));
		free(v->str);
		v->str = full;
	} else if (k->type == CK_URL && url_valid(v->str, &is_http) && is_http &&
		   !(allow >= 0 && d->values[allow].num)) {
		config_check_error(chk, k->name, "%s: plain http:// would send credentials in clear "
				   "text; use https:// or set allow_http = yes", k->name);
	}
}

/* records against what the provider and [gateway] can do; ipv6_host. */
static void validate_records(struct config_errors *errs, const struct hp_config *cfg,
			     const struct sect *s, const struct cfg_ddns *d)
{
	const struct key_loc *at = key_where(s, "records");
	const struct key_loc *host = key_where(s, "ipv6_host");

	if ((d->records & DDNS_REC_AAAA) && !(provider_records(d->preset) & DDNS_REC_AAAA))
		add_error(errs, at->file, at->line, "records: provider %s cannot write AAAA "
			  "records (see homeport.conf(5))", d->provider);
	else if ((d->records & DDNS_REC_AAAA) && !cfg->gateway.ipv6)
		add_error(errs, at->file, at->line, "records: AAAA needs [gateway] ipv6 = auto "
			  "(it is no)");
	if (host && !(d->records & DDNS_REC_AAAA))
		add_error(errs, host->file, host->line, "ipv6_host: applies only with "
			  "records = AAAA or A, AAAA");
}

static void validate_ddns(struct config_errors *errs, struct hp_config *cfg,
			  const struct sect *s, struct cfg_ddns *d)
{
	struct config_check chk = { .errs = errs, .s = s, .cfg = cfg };
	const struct provider_ops *ops = d->ops;
	bool *bad;

	if (d->preset == NULL) {
		if (key_where(s, "provider") == NULL)
			require(errs, s, "ddns", "provider", false);
		return;           /* a bad provider value was reported already */
	}
	require(errs, s, "ddns", "hostname", d->n_hostnames > 0 || key_where(s, "hostname"));
	d->values = xcalloc(ops->n_keys, sizeof(*d->values));
	cfgkey_defaults(ops->keys, ops->n_keys, d->values);
	bad = xcalloc(ops->n_keys, sizeof(*bad));
	parse_provider_keys(&chk, d, bad);
	for (size_t i = 0; i < ops->n_keys; i++)
		if (ops->keys[i].flags & CK_REQUIRED)
			require(errs, s, "ddns", ops->keys[i].name,
				bad[i] || cfgkey_present(&ops->keys[i], &d->values[i]));
	free(bad);
	for (size_t i = 0; i < ops->n_keys; i++)
		check_value(&chk, d, &ops->keys[i], &d->values[i]);
	if (ops->validate)
		ops->validate(d, &chk);
	validate_records(errs, cfg, s, d);
}

/* What needs the whole [gateway] section: http:// web sources need
 * allow_http whichever line comes first; the CA bundle must be readable. */
static void validate_gateway(struct config_errors *errs, struct hp_config *cfg,
			     const struct sect *s)
{
	struct cfg_gateway *g = &cfg->gateway;
	const struct key_loc *at;
	bool is_http;

	if ((at = key_where(s, "check_url")))
		for (size_t i = 0; i < g->n_check_urls; i++)
			if (url_valid(g->check_urls[i], &is_http) && is_http && !g->allow_http)
				add_error(errs, at->file, at->line,
					  "check_url: plain http:// lets anyone on the path choose the address; use https:// or set allow_http = yes");
	if (g->ip_source == IPSRC_GATEWAY && g->protocol == GW_PREF_NONE &&
	    (at = key_where(s, "ip_source")))
		add_error(errs, at->file, at->line,
			  "ip_source: gateway needs a mapping protocol, but protocol = none asks the router nothing");
	if (g->ca_file && (at = key_where(s, "ca_file"))) {
		g->ca_path = resolve_path(cfg, g->ca_file);
		if (access(g->ca_path, R_OK) < 0)
			add_error(errs, at->file, at->line, "ca_file: cannot read %s: %s",
				  g->ca_path, strerror(errno));
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
	cfg->gateway.ipv6 = true;

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
		else if (s->kind == SECT_GATEWAY)
			validate_gateway(errs, cfg, s);
	}
	if (errs->n == 0)
		rc = 0;
out:
	if (errs->n > 1)
		sort_errors(&p, errs);
	for (size_t i = 0; i < p.n_sects; i++) {
		for (size_t k = 0; k < p.sects[i].n_keys; k++) {
			free(p.sects[i].keys[k].key);
			free(p.sects[i].keys[k].value);
		}
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
	for (size_t i = 0; d->values && i < d->ops->n_keys; i++)
		cfgkey_free(&d->ops->keys[i], &d->values[i]);
	free(d->values);
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
	free(cfg->daemon.user);
	free(cfg->daemon.control_group);
	free(cfg->gateway.upnp_url);
	free(cfg->gateway.interface);
	free(cfg->gateway.ip_source_if);
	for (size_t i = 0; i < cfg->gateway.n_check_urls; i++)
		free(cfg->gateway.check_urls[i]);
	free(cfg->gateway.check_urls);
	free(cfg->gateway.ca_file);
	free(cfg->gateway.ca_path);
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
	       str_eq(a->description, b->description) && a->lease == b->lease &&
	       a->manual == b->manual;
}

bool config_ddns_equal(const struct cfg_ddns *a, const struct cfg_ddns *b)
{
	if (!str_eq(a->name, b->name) || !str_eq(a->provider, b->provider) ||
	    a->ops != b->ops || a->n_hostnames != b->n_hostnames ||
	    a->force_interval != b->force_interval)
		return false;
	for (size_t i = 0; i < a->n_hostnames; i++)
		if (strcmp(a->hostnames[i], b->hostnames[i]) != 0)
			return false;
	for (size_t i = 0; i < a->ops->n_keys; i++)
		if (!cfgkey_equal(&a->ops->keys[i], &a->values[i], &b->values[i]))
			return false;
	return true;
}

/* ---- a provider's values --------------------------------------------- */

#define T(x) (1u << (x))
#define NUMBERS (T(CK_UINT) | T(CK_DURATION) | T(CK_SECONDS))
#define TEXT (~(NUMBERS | T(CK_BOOL)))

/* d's value of key, which must be of one of types and repeated or not. */
static const struct cfg_value *value_at(const struct cfg_ddns *d, size_t key, unsigned types,
					bool repeat)
{
	const struct cfgkey *k;

	if (d->ops == NULL || d->values == NULL || key >= d->ops->n_keys)
		abort();
	k = &d->ops->keys[key];
	if (!(T(k->type) & types) || !(k->flags & CK_REPEAT) != !repeat)
		abort();
	return &d->values[key];
}

const char *cfg_ddns_str(const struct cfg_ddns *d, size_t key)
{
	return value_at(d, key, TEXT, false)->str;
}

const char *cfg_ddns_secret(const struct cfg_ddns *d, size_t key)
{
	return value_at(d, key, T(CK_SECRET_FILE) | T(CK_HEADER_FILE), false)->secret;
}

uint32_t cfg_ddns_num(const struct cfg_ddns *d, size_t key)
{
	return value_at(d, key, NUMBERS, false)->num;
}

bool cfg_ddns_bool(const struct cfg_ddns *d, size_t key)
{
	return value_at(d, key, T(CK_BOOL), false)->num != 0;
}

const char *const *cfg_ddns_list(const struct cfg_ddns *d, size_t key, size_t *n)
{
	const struct cfg_value *v = value_at(d, key, TEXT, true);

	*n = v->n_list;
	return (const char *const *)v->list;
}

void config_ddns_init(struct cfg_ddns *d, const char *name, const struct provider_preset *preset)
{
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(name);
	d->provider = xstrdup(preset->name);
	d->preset = preset;
	d->ops = preset->ops;
	d->force_interval = DEFAULT_FORCE_INTERVAL;
	d->records = DDNS_REC_A;
	d->values = xcalloc(d->ops->n_keys, sizeof(*d->values));
	cfgkey_defaults(d->ops->keys, d->ops->n_keys, d->values);
}

int config_ddns_set(struct cfg_ddns *d, const char *key, const char *text, char *why, size_t len)
{
	ssize_t k = cfgkey_find(d->ops->keys, d->ops->n_keys, key);

	if (k < 0) {
		snprintf(why, len, "'%s' does not apply to provider %s", key, d->provider);
		return -1;
	}
	if (cfgkey_parse(&d->ops->keys[k], text, &d->values[k], why, len) < 0)
		return -1;
	d->values[k].set = true;
	return 0;
}

int config_ddns_set_secret(struct cfg_ddns *d, const char *key, const char *secret)
{
	ssize_t k = cfgkey_find(d->ops->keys, d->ops->n_keys, key);

	if (k < 0 || !cfgkey_is_secret_file(&d->ops->keys[k]))
		return -1;
	free_secret(d->values[k].secret);
	d->values[k].secret = xstrdup(secret);
	d->values[k].set = true;
	return 0;
}

void config_ddns_fini(struct cfg_ddns *d)
{
	free_ddns(d);
	memset(d, 0, sizeof(*d));
}

/* ---- -nv ------------------------------------------------------------- */

static const char *protocols_name(unsigned p)
{
	return p == (SVC_TCP | SVC_UDP) ? "both" : p == SVC_UDP ? "udp" : "tcp";
}

static void dump_ddns(const struct cfg_ddns *d, FILE *out)
{
	fprintf(out, "\n[ddns:%s] ; %s:%d\n", d->name, d->file, d->line);
	cfgkey_print(out, "provider", d->provider);
	fprintf(out, "%-15s = ", "hostname");
	for (size_t i = 0; i < d->n_hostnames; i++)
		fprintf(out, "%s%s", i ? ", " : "", d->hostnames[i]);
	fputc('\n', out);
	cfgkey_print_duration(out, "force_interval", d->force_interval);
	cfgkey_print(out, "records", d->records == (DDNS_REC_A | DDNS_REC_AAAA) ? "A, AAAA" :
		     d->records == DDNS_REC_AAAA ? "AAAA" : "A");
	if (d->records & DDNS_REC_AAAA) {
		char host[64];
		addr6_host_format(&d->ipv6_host, host, sizeof(host));
		cfgkey_print(out, "ipv6_host", host);
	}
	for (size_t i = 0; i < d->ops->n_keys; i++)
		cfgkey_dump(&d->ops->keys[i], &d->values[i], d->preset->default_server, out);
}

/* Only what differs from the defaults, so older effective configs read the same. */
static void dump_ip_source(const struct cfg_gateway *g, FILE *out)
{
	if (g->ip_source == IPSRC_INTERFACE)
		fprintf(out, "%-15s = interface:%s\n", "ip_source", g->ip_source_if);
	else if (g->ip_source != IPSRC_AUTO)
		cfgkey_print(out, "ip_source", ip_source_names[g->ip_source]);
	if (g->n_check_urls) {
		fprintf(out, "%-15s = ", "check_url");
		for (size_t i = 0; i < g->n_check_urls; i++)
			fprintf(out, "%s%s", i ? ", " : "", g->check_urls[i]);
		fputc('\n', out);
	}
	cfgkey_print(out, "ca_file", g->ca_file);
	if (g->allow_http)
		cfgkey_print(out, "allow_http", "yes");
}

void config_dump(const struct hp_config *cfg, FILE *out)
{
	static const char *const gw_proto[] = { "auto", "upnp", "natpmp", "pcp", "none" };

	fprintf(out, "; effective configuration of %s\n", cfg->path);
	fprintf(out, "[daemon]\n");
	cfgkey_print(out, "state_dir", cfg->daemon.state_dir);
	cfgkey_print(out, "socket", cfg->daemon.socket);
	cfgkey_print(out, "include_dir", cfg->daemon.include_dir);
	cfgkey_print(out, "log_level", log_level_name(cfg->daemon.log_level));
	cfgkey_print(out, "user", cfg->daemon.user);
	cfgkey_print(out, "control_group", cfg->daemon.control_group);

	fprintf(out, "\n[gateway]\n");
	cfgkey_print(out, "protocol", gw_proto[cfg->gateway.protocol]);
	cfgkey_print(out, "upnp_url", cfg->gateway.upnp_url);
	cfgkey_print(out, "interface", cfg->gateway.interface);
	cfgkey_print_duration(out, "check_interval", cfg->gateway.check_interval);
	cfgkey_print_duration(out, "lease", cfg->gateway.lease);
	cfgkey_print(out, "keep_mappings", cfg->gateway.keep_mappings ? "yes" : "no");
	dump_ip_source(&cfg->gateway, out);
	cfgkey_print(out, "ipv6", cfg->gateway.ipv6 ? "auto" : "no");

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct cfg_service *s = &cfg->services[i];
		fprintf(out, "\n[service:%s] ; %s:%d\n", s->name, s->file, s->line);
		cfgkey_print(out, "protocol", protocols_name(s->protocols));
		fprintf(out, "%-15s = %u\n", "internal_port", s->internal_port);
		fprintf(out, "%-15s = %u\n", "external_port", s->external_port);
		cfgkey_print(out, "internal_host", s->internal_host ? s->internal_host : "; this host");
		cfgkey_print(out, "description", s->description);
		cfgkey_print_duration(out, "lease", s->lease);
		if (s->manual)
			cfgkey_print(out, "map", "manual");
		cfgkey_print(out, "ipv6", s->ipv6 ? "yes" : "no");
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
	char why[PATH_MAX + 200], *dir = base_dir(cfg), *full = secret_path(path, dir);
	char *secret = secret_load(full, why, sizeof(why));

	if (!secret)
		add_error(errs, file, line, "%s: %s", key, why);
	free(full);
	free(dir);
	return secret;
}

char *config_path(const struct hp_config *cfg, const char *path)
{
	return resolve_path(cfg, path);
}
