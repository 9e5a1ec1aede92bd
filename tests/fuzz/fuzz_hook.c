/* fuzz_hook.c - what hooks make of text from config files and routers: exec
 * split on arbitrary bytes, its quoting read back the same, and templates
 * expanded with arbitrary values in every encoding without a line break or
 * an unescaped quote slipping in where it would change the meaning. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_hook.h"
#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *value_of(void *arg, const char *name, size_t len, char *buf, size_t buflen)
{
	return len == 1 && *name == 'v' ? arg : NULL;
}

static void round_trip(char **argv)
{
	char *text = NULL, **again = NULL, why[160];
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);

	for (i = 0; argv[i]; i++) {
		if (i)
			fputc(' ', f);
		config_quote_arg(argv[i], f);
	}
	fclose(f);
	if (config_split_args(text, &again, why, sizeof(why)) != 0)
		abort();
	for (i = 0; argv[i]; i++)
		if (!again[i] || strcmp(argv[i], again[i]) != 0)
			abort();
	if (again[i])
		abort();
	config_free_args(again);
	free(text);
}

static void expand(const char *tmpl, const char *value)
{
	bool tmpl_breaks = strpbrk(tmpl, "\r\n") != NULL;
	char *out;

	out = tmpl_expand(tmpl, TMPL_HEADER, value_of, (void *)value);
	if (!tmpl_breaks && strpbrk(out, "\r\n"))
		abort();                       /* a value forged a header */
	free(out);
	out = tmpl_expand(tmpl, TMPL_URL, value_of, (void *)value);
	if (!strpbrk(tmpl, " \r\n\t") && strpbrk(out, " \r\n\t"))
		abort();
	free(out);
	out = tmpl_expand("%v%", TMPL_JSON, value_of, (void *)value);
	for (char *c = out; *c; c++) {
		if (*c == '\\' && c[1])
			c++;
		else if (*c == '"' || (unsigned char)*c < 0x20)
			abort();                   /* a value ended the JSON string */
	}
	free(out);
	free(tmpl_expand(tmpl, TMPL_RAW, value_of, (void *)value));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = strndup((const char *)data, size), *value, **argv = NULL, why[160];

	if (!s)
		return 0;
	if (config_split_args(s, &argv, why, sizeof(why)) == 0) {
		round_trip(argv);
		config_free_args(argv);
	} else if (!why[0]) {
		abort();
	}
	value = strchr(s, '|');        /* "TEMPLATE|VALUE" */
	if (value)
		*value++ = '\0';
	expand(s, value ? value : "");
	free(s);
	return 0;
}
