/* test_secret.c - secret files (secret.c): what is read, what is refused,
 * and that nothing but a regular file is ever waited on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "secret.h"

static char dir[] = "/tmp/hp-test-secret-XXXXXX";

/* dir/name; two calls may share one expression (symlink). */
static const char *at(const char *name)
{
	static char path[2][128];
	static int i;

	i ^= 1;
	snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
	return path[i];
}

static void put(const char *name, const char *text, size_t len, mode_t mode)
{
	FILE *f = fopen(at(name), "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	assert_int_equal(chmod(at(name), mode), 0);
}

/* secret_load(name): the secret, or NULL with why containing expect. */
static void expect(const char *name, const char *secret, const char *why_part)
{
	char why[512] = "", *s = secret_load(at(name), why, sizeof(why));

	if (secret) {
		if (s == NULL)
			fail_msg("%s refused: %s", name, why);
		assert_string_equal(s, secret);
	} else {
		if (s != NULL)
			fail_msg("%s accepted", name);
		if (strstr(why, why_part) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", name, why, why_part);
		assert_null(strstr(why, "hunter2"));
	}
	free(s);
}

static void test_secret_files(void **state)
{
	assert_non_null(mkdtemp(dir));
	put("plain", "  hunter2 \n", 11, 0600);
	put("group", "hunter2", 7, 0640);
	put("world", "hunter2", 7, 0604);
	put("blank", " \n\t\n", 4, 0600);
	put("nul", "hun\0ter2", 8, 0600);
	assert_int_equal(symlink(at("plain"), at("link")), 0);
	assert_int_equal(symlink(at("world"), at("link-world")), 0);
	assert_int_equal(mkfifo(at("fifo"), 0600), 0);
	assert_int_equal(mkdir(at("dir"), 0700), 0);

	expect("plain", "hunter2", NULL);
	expect("group", "hunter2", NULL);
	expect("link", "hunter2", NULL);             /* links are followed ... */
	expect("link-world", NULL, "accessible by others (mode 0604)");  /* ... and checked */
	expect("world", NULL, "accessible by others (mode 0604): run chmod o-rwx on it");
	expect("blank", NULL, "is empty");
	expect("nul", NULL, "is empty");
	expect("fifo", NULL, "is not a regular file");  /* at once: no writer needed */
	expect("dir", NULL, "is not a regular file");
	expect("missing", NULL, "cannot open");
	{
		char why[128];
		assert_null(secret_load("/dev/zero", why, sizeof(why)));
		assert_string_equal(why, "/dev/zero is not a regular file");
	}
	for (const char *const *n = (const char *const[]){ "plain", "group", "world", "blank",
			"nul", "link", "link-world", "fifo", NULL }; *n; n++)
		unlink(at(*n));
	rmdir(at("dir"));
	rmdir(dir);
}

static void test_paths(void **state)
{
	char *p;

	unsetenv("CREDENTIALS_DIRECTORY");
	p = secret_path("a.pass", "/etc/homeport");
	assert_string_equal(p, "/etc/homeport/a.pass");
	free(p);
	setenv("CREDENTIALS_DIRECTORY", "/run/credentials/homeportd.service", 1);
	p = secret_path("a.pass", "/etc/homeport");
	assert_string_equal(p, "/run/credentials/homeportd.service/a.pass");
	free(p);
	p = secret_path("/srv/b.pass", "/etc/homeport");
	assert_string_equal(p, "/srv/b.pass");
	free(p);
	unsetenv("CREDENTIALS_DIRECTORY");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_files),
		cmocka_unit_test(test_paths),
	};
	return cmocka_run_group_tests_name("secret", tests, NULL, NULL);
}
