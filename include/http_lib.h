/* http_lib.h - libcurl, loaded on first use instead of at start.
 *
 * libcurl brings some 25 libraries with it (GnuTLS, Kerberos, LDAP, SSH,
 * p11-kit ...), about 4 MB resident even when nothing speaks HTTP. A daemon
 * with only routers and RFC 2136 never loads it; the first HTTP provider,
 * url hook or web IP source does (http.c, clouddns.c), also after a reload.
 * The table's types come from curl/curl.h (__typeof__), so the compiler
 * still checks every call against libcurl's declarations. Once loaded it
 * stays: libraries with TLS state are not safe to unload. */
#ifndef HP_HTTP_LIB_H
#define HP_HTTP_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <curl/curl.h>

#define HTTP_LIB_SONAME "libcurl.so.4"

/* Every libcurl function the daemon calls, without the curl_ prefix. */
#define HTTP_LIB_FUNCS(X) \
	X(global_init) X(global_cleanup) X(free) X(getdate) \
	X(easy_init) X(easy_cleanup) X(easy_setopt) X(easy_getinfo) X(easy_strerror) \
	X(multi_init) X(multi_cleanup) X(multi_setopt) X(multi_socket_action) \
	X(multi_info_read) X(multi_add_handle) X(multi_remove_handle) \
	X(slist_append) X(slist_free_all) \
	X(url) X(url_set) X(url_get) X(url_cleanup)

struct http_lib {
#define HTTP_LIB_MEMBER(name) __typeof__(curl_##name) *name;
	HTTP_LIB_FUNCS(HTTP_LIB_MEMBER)
#undef HTTP_LIB_MEMBER
};

/* The loaded table, loading HTTP_LIB_SONAME on the first call. NULL when
 * it cannot be loaded: err then says why (the library's name and the
 * loader's sentence); a later call tries again. */
const struct http_lib *http_lib_get(char *err, size_t errlen);

/* The same from another file name (tests). */
const struct http_lib *http_lib_get_from(const char *soname, char *err, size_t errlen);

/* True once the library is loaded in this process. */
bool http_lib_loaded(void);

#endif
