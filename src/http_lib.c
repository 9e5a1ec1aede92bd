/* http_lib.c - libcurl through dlopen (see http_lib.h for why). */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "http_lib.h"

static const struct {
	const char *name;
	size_t off;
} syms[] = {
#define HTTP_LIB_SYM(name) { "curl_" #name, offsetof(struct http_lib, name) },
	HTTP_LIB_FUNCS(HTTP_LIB_SYM)
#undef HTTP_LIB_SYM
};

static struct http_lib lib;
static bool loaded;

/* Fill the table from handle h; false (and err) if a function is missing. */
static bool resolve(void *h, const char *soname, char *err, size_t errlen)
{
	struct http_lib t;

	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *p = dlsym(h, syms[i].name);
		if (!p) {
			snprintf(err, errlen, "cannot load libcurl: %s has no %s", soname,
				 syms[i].name);
			return false;
		}
		/* POSIX: a dlsym result converts to a function pointer this way. */
		memcpy((char *)&t + syms[i].off, &p, sizeof(p));
	}
	lib = t;
	return true;
}

const struct http_lib *http_lib_get_from(const char *soname, char *err, size_t errlen)
{
	void *h;

	if (loaded)
		return &lib;
	h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(err, errlen, "cannot load libcurl (%s)", why ? why : soname);
		return NULL;
	}
	if (!resolve(h, soname, err, errlen)) {
		dlclose(h);
		return NULL;
	}
	loaded = true;
	return &lib;
}

const struct http_lib *http_lib_get(char *err, size_t errlen)
{
	return http_lib_get_from(HTTP_LIB_SONAME, err, errlen);
}

bool http_lib_loaded(void)
{
	return loaded;
}
