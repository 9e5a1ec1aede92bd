/* test_http_lib.c - libcurl loaded on demand (http_lib.c): nothing is
 * loaded before the first use, a missing library is a sentence naming it
 * (and a later call may still load the real one), and the loaded table
 * works (a URL parsed through it). */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "http.h"
#include "http_lib.h"

static void test_not_loaded_before_use(void **state)
{
	assert_false(http_lib_loaded());
	/* the test binary does not link libcurl either */
	assert_null(dlopen(HTTP_LIB_SONAME, RTLD_NOW | RTLD_NOLOAD));
}

static void test_missing_library(void **state)
{
	char err[300] = "";

	assert_null(http_lib_get_from("libcurl-hp-test-missing.so.4", err, sizeof(err)));
	assert_non_null(strstr(err, "cannot load libcurl"));
	assert_non_null(strstr(err, "libcurl-hp-test-missing.so.4"));
	assert_false(http_lib_loaded());
}

static void test_wrong_library(void **state)
{
	char err[300] = "";

	/* a library without curl's functions: refused, named, not half-loaded */
	assert_null(http_lib_get_from("libc.so.6", err, sizeof(err)));
	assert_non_null(strstr(err, "libc.so.6 has no curl_"));
	assert_false(http_lib_loaded());
}

static void test_loads_and_works(void **state)
{
	char err[300] = "", host[64];
	const struct http_lib *lib = http_lib_get(err, sizeof(err));

	assert_non_null(lib);
	assert_true(http_lib_loaded());
	assert_ptr_equal(http_lib_get(err, sizeof(err)), lib);   /* once */
#define assert_non_null_member(name) assert_non_null(lib->name);
	HTTP_LIB_FUNCS(assert_non_null_member)
#undef assert_non_null_member
	http_url_host("https://user:pw@Example.test:8443/p?q=1", host, sizeof(host));
	assert_string_equal(host, "Example.test");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_loaded_before_use),
		cmocka_unit_test(test_missing_library),
		cmocka_unit_test(test_wrong_library),
		cmocka_unit_test(test_loads_and_works),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
