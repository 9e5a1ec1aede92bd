/* test_sdnotify.c - the sd_notify(3) datagram (sdnotify.c): sent to a path
 * and to an abstract socket as systemd names them in $NOTIFY_SOCKET, nothing
 * without it, an error for an address it cannot speak to. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "sdnotify.h"

/* A datagram socket bound to name (a path, or '@' + abstract name). */
static int listener(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, name, n);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)), 0);
	return fd;
}

static void expect_datagram(int fd, const char *text)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, text);
}

static void test_path(void **state)
{
	char dir[] = "/tmp/hp-test-notify-XXXXXX", path[64];
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(sdnotify_send("READY=1\nSTATUS=running"), 1);
	expect_datagram(fd, "READY=1\nSTATUS=running");
	assert_int_equal(sdnotify_sendf("RELOADING=1\nSTATUS=reloading %s", "/etc/x.conf"), 1);
	expect_datagram(fd, "RELOADING=1\nSTATUS=reloading /etc/x.conf");
	close(fd);
	unlink(path);
	rmdir(dir);
	/* the socket is gone: an error, not a crash or a wait */
	assert_int_equal(sdnotify_send("STOPPING=1"), -1);
}

static void test_abstract(void **state)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "@hp-test-notify-%ld", (long)getpid());
	fd = listener(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(sdnotify_send("STOPPING=1"), 1);
	expect_datagram(fd, "STOPPING=1");
	close(fd);
}

static void test_unset_and_foreign(void **state)
{
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(sdnotify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(sdnotify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	assert_int_equal(sdnotify_send("READY=1"), -1);
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_abstract),
		cmocka_unit_test(test_unset_and_foreign),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
