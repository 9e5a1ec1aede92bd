/* cfgkey.h - configuration keys declared in tables.
 *
 * A DDNS provider (provider_*.c) lists the keys it takes as an array of
 * struct cfgkey: name, type, flags, default. Parsing and checking
 * (config.c), the -nv dump, reload equality, the state fingerprint
 * (ddns_policy.c) and the documentation check (tests/config/docs.sh, through
 * `provtool --keys`) all walk that array, so a key is declared once. An
 * entry of the config holds one struct cfg_value per key, in table order,
 * read through the typed accessors of config.h. */
#ifndef HP_CFGKEY_H
#define HP_CFGKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum cfgkey_type {
	CK_STRING,        /* one line of text; empty: not set */
	CK_SECRET_FILE,   /* a file holding a secret (secret.h); the value is its path */
	CK_PATH,          /* a file the daemon reads (a CA bundle): made absolute, must be readable */
	CK_UINT,          /* a number, min..max */
	CK_DURATION,      /* 90, 90s, 5m, 2h, 1d; printed with a suffix */
	CK_SECONDS,       /* written like a duration, printed as plain seconds (TTLs) */
	CK_BOOL,          /* yes/no, true/false, on/off, 1/0 */
	CK_URL,           /* https:// (http:// only with allow_http); -nv hides the query */
	CK_ADDRESS,       /* an IP address with optional port: 192.0.2.1:53, [2001:db8::1]:53 */
	CK_ZONE,          /* a DNS zone name; a trailing dot is dropped */
	CK_DNSNAME,       /* a DNS name (e.g. a TSIG key name); what names it in messages */
	CK_CHOICE,        /* one of choices, any case; stored as the table spells it */
	CK_REGEX,         /* a POSIX extended regular expression of bounded size */
	CK_HEADER,        /* an HTTP header line "Name: value"; -nv hides the value */
	CK_HEADER_FILE,   /* a secret file of header lines "Name: value" (credentials) */
};

/* struct cfgkey.flags */
#define CK_REQUIRED 0x01   /* the section is refused without it */
#define CK_REPEAT   0x02   /* may be given several times; every value kept, in order */
#define CK_FP       0x04   /* part of the state fingerprint: a change starts the entry afresh */
#define CK_PRESET   0x08   /* unset, it is the preset's URL (struct provider_preset.default_server) */

struct cfgkey {
	const char *name;
	enum cfgkey_type type;
	unsigned flags;
	const char *def;              /* default, written as a user would; NULL: none */
	uint32_t min, max;            /* CK_UINT, CK_DURATION, CK_SECONDS; both 0: any */
	const char *const *choices;   /* CK_CHOICE: NULL-terminated */
	const char *what;             /* CK_DNSNAME: what the name is, for messages */
};

/* The value of one key in one entry. Text types keep str (NULL: not set);
 * a secret file keeps its path in str and, once loaded, its content in
 * secret; numbers and booleans keep num; CK_REPEAT keys keep list. */
struct cfg_value {
	bool set;                     /* written in the config, not a default */
	char *str;
	char *secret;
	uint32_t num;
	char **list;
	size_t n_list;
};

/* The keys every HTTP provider takes, and the DNS-over-the-wire ones too
 * (timeout). Use as initializers in a provider's table. */
#define CFGKEY_CA_FILE    { .name = "ca_file", .type = CK_PATH }
#define CFGKEY_ALLOW_HTTP { .name = "allow_http", .type = CK_BOOL, .flags = CK_FP, .def = "no" }
#define CFGKEY_TIMEOUT    { .name = "timeout", .type = CK_DURATION, .def = "30", \
			    .min = 1, .max = 300 }

/* CK_SECRET_FILE or CK_HEADER_FILE: the value is a path, the content a secret. */
bool cfgkey_is_secret_file(const struct cfgkey *k);

/* The lines of a header file's content, each "Name: value" (empty lines
 * skipped), in a NULL-terminated array; NULL when a line is not a header,
 * with why naming the line but never its content. Free with
 * cfgkey_header_lines_free(), which wipes them. */
char **cfgkey_header_lines(const char *text, size_t *n, char *why, size_t len);
void cfgkey_header_lines_free(char **lines);

/* Index of name in keys[0..n), or -1. */
ssize_t cfgkey_find(const struct cfgkey *keys, size_t n, const char *name);

/* Parse text as a value of k into v (a CK_REPEAT key appends). 0, or -1
 * with a sentence in why that does not repeat the key's name. */
int  cfgkey_parse(const struct cfgkey *k, const char *text, struct cfg_value *v,
		  char *why, size_t len);
/* vals[i] = keys[i]'s default (or nothing); the values are not "set". */
void cfgkey_defaults(const struct cfgkey *keys, size_t n, struct cfg_value *vals);
/* Text types: str (or list) present; others: written. */
bool cfgkey_present(const struct cfgkey *k, const struct cfg_value *v);
void cfgkey_free(const struct cfgkey *k, struct cfg_value *v);
/* Secrets compare by content, so a corrected password counts as a change;
 * a secret file's path does not count. */
bool cfgkey_equal(const struct cfgkey *k, const struct cfg_value *a, const struct cfg_value *b);

/* One "key = value" line per value for -nv. Secrets never show: a secret
 * file shows its path and <redacted>, a header its name and <redacted>, a
 * URL <redacted> for its user info and query. preset_url: what a
 * CK_PRESET key is when unset (NULL: none). */
void cfgkey_dump(const struct cfgkey *k, const struct cfg_value *v, const char *preset_url,
		 FILE *out);
/* "key            = value" as -nv writes every line. */
void cfgkey_print(FILE *out, const char *key, const char *value);
void cfgkey_print_duration(FILE *out, const char *key, uint32_t seconds);

const char *cfgkey_type_name(enum cfgkey_type t);

#endif
