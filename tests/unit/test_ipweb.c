/* test_ipweb.c - the web IP sources on the event loop, against a small HTTP
 * server on loopback in this process (plain http with allow_http, so no
 * certificates are needed here; the bed tests HTTPS): two sources agree,
 * disagreement publishes nothing and says why, a liar is outvoted and
 * backed off, garbage and private answers are refused, a lone source is
 * believed, bodies are bounded, http:// is refused without allow_http, and
 * neither a refresh nor a restart asks a source again at once. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "ev.h"
#include "helper_proc.h"
#include "http.h"
#include "ipweb.h"

/* ---- the server: path -> status and body ---- */

struct route {
	const char *path;
	int status;
	const char *body;
	int hits;
};

static struct route routes[8];
static size_t n_routes;
static int listen_fd = -1;
static uint16_t port;

static struct route *route_of(const char *req)
{
	for (size_t i = 0; i < n_routes; i++) {
		size_t n = strlen(routes[i].path);
		if (strncmp(req + 4, routes[i].path, n) == 0 && req[4 + n] == ' ')
			return &routes[i];
	}
	return NULL;
}

static void on_conn(int fd, short revents, void *arg)
{
	static char req[4096];
	char head[256];
	ssize_t n = recv(fd, req, sizeof(req) - 1, 0);
	struct route *r;

	if (n <= 0)
		goto done;
	req[n] = '\0';
	if (!strstr(req, "\r\n\r\n"))
		return;                     /* the rest comes next (small requests: rare) */
	r = route_of(req);
	if (r)
		r->hits++;
	snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		 r ? r->status : 404, r ? strlen(r->body) : 0);
	if (write(fd, head, strlen(head)) < 0 || (r && write(fd, r->body, strlen(r->body)) < 0))
		goto done;
done:
	ev_fd_del(fd);
	close(fd);
}

static void on_accept(int fd, short revents, void *arg)
{
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

	if (c >= 0)
		ev_fd_add(c, POLLIN, on_conn, NULL);
}

static void route(const char *path, int status, const char *body)
{
	routes[n_routes++] = (struct route){ path, status, body, 0 };
}

static int hits(const char *path)
{
	for (size_t i = 0; i < n_routes; i++)
		if (strcmp(routes[i].path, path) == 0)
			return routes[i].hits;
	return -1;
}

/* ---- the client side ---- */

static char got_ip[64], got_error[1024];
static int rounds;

static void on_round(void *arg, const char *ip, const char *error)
{
	snprintf(got_ip, sizeof(got_ip), "%s", ip ? ip : "none");
	snprintf(got_error, sizeof(got_error), "%s", error ? error : "");
	rounds++;
	ev_break();
}

static void stop_loop(void *arg)
{
	ev_break();
}

/* Run the loop until a round ends or ms pass (a failsafe, not a check of
 * speed); true when a round ended. */
static bool run_for(int ms)
{
	struct ev_timer *t = ev_timer_new(stop_loop, NULL);
	int before = rounds;

	ev_timer_arm(t, ms);
	ev_run();
	ev_timer_free(t);
	return rounds > before;
}

static char urls[8][64];
static const char *url_ptrs[8];

static void start(const char *const *paths, size_t n, bool allow_http)
{
	for (size_t i = 0; i < n; i++) {
		snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:%u%s", port, paths[i]);
		url_ptrs[i] = urls[i];
	}
	struct ipweb_setup su = { .urls = url_ptrs, .n_urls = n, .allow_http = allow_http,
				  .check_interval = 300 };
	assert_int_equal(ipweb_start(&su, on_round, NULL), 0);
}

/* build/tests/test_ipweb uses build/homeport-http-helper. */
static void use_built_helper(void)
{
	char self[4096], path[4200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	assert_true(n > 0);
	self[n] = '\0';
	slash = strrchr(self, '/');
	assert_non_null(slash);
	snprintf(path, sizeof(path), "%.*s/../homeport-http-helper", (int)(slash - self), self);
	http_helper_path(path);
}

static int setup(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	assert_int_equal(ev_init(), 0);
	use_built_helper();
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(listen_fd >= 0);
	assert_int_equal(bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(listen_fd, 16), 0);
	assert_int_equal(getsockname(listen_fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	ev_fd_add(listen_fd, POLLIN, on_accept, NULL);
	n_routes = 0;
	rounds = 0;
	return 0;
}

static int teardown(void **state)
{
	ipweb_fini();
	http_fini();
	helper_proc_reap_all();
	ev_fd_del(listen_fd);
	close(listen_fd);
	ev_fini();
	return 0;
}

static bool has(const char *hay, const char *needle)
{
	if (strstr(hay, needle))
		return true;
	print_error("\"%s\" not in \"%s\"\n", needle, hay);
	return false;
}

/* ---- tests ---- */

static void test_two_agree(void **state)
{
	static const char *const p[] = { "/a", "/b" };
	char text[512];

	route("/a", 200, "203.0.113.2\n");
	route("/b", 200, "203.0.113.2");
	start(p, 2, true);
	assert_true(run_for(5000));
	assert_string_equal(got_ip, "203.0.113.2");
	assert_string_equal(got_error, "");
	assert_int_equal(hits("/a") + hits("/b"), 2);
	assert_int_equal(ipweb_requests(), 2);
	ipweb_describe(text, sizeof(text));
	assert_true(has(text, "external IP from web sources 127.0.0.1:"));
	assert_true(has(text, "(agree)"));
	assert_true(has(text, "/a") && has(text, "/b"));
}

static void test_disagree_publishes_nothing(void **state)
{
	static const char *const p[] = { "/a", "/b" };
	char text[512];

	route("/a", 200, "203.0.113.2");
	route("/b", 200, "198.51.100.9");
	start(p, 2, true);
	assert_true(run_for(5000));
	assert_string_equal(got_ip, "none");
	assert_true(has(got_error, "web sources disagree: "));
	assert_true(has(got_error, "/a answered 203.0.113.2"));
	assert_true(has(got_error, "/b answered 198.51.100.9"));
	assert_true(has(got_error, "; not publishing"));
	ipweb_describe(text, sizeof(text));
	assert_string_equal(text, got_error);
}

static void test_liar_is_outvoted(void **state)
{
	static const char *const p[] = { "/a", "/liar", "/c" };
	json_t *st;

	route("/a", 200, "203.0.113.2");
	route("/liar", 200, "198.51.100.66");
	route("/c", 200, "203.0.113.2");
	start(p, 3, true);
	assert_true(run_for(5000));
	assert_string_equal(got_ip, "203.0.113.2");
	assert_string_equal(got_error, "");
	assert_int_equal(hits("/a") + hits("/c"), 2);
	st = ipweb_status_json();
	assert_int_equal(json_array_size(st), 3);
	if (hits("/liar") == 1) {       /* asked in this round's rotation */
		json_t *l = json_array_get(st, 1);
		assert_int_equal(json_integer_value(json_object_get(l, "failures")), 1);
		assert_true(has(json_string_value(json_object_get(l, "error")),
				"answered 198.51.100.66 while the others agree on 203.0.113.2"));
	}
	json_decref(st);
}

static void test_garbage_and_private_refused(void **state)
{
	static const char *const p[] = { "/garbage", "/private", "/good", "/err" };

	route("/garbage", 200, "<html>hello</html>");
	route("/private", 200, "10.0.0.1\n");
	route("/good", 200, "203.0.113.2\n");
	route("/err", 500, "oops");
	start(p, 4, true);
	assert_true(run_for(5000));
	assert_string_equal(got_ip, "none");
	assert_int_equal(ipweb_requests(), 4);
	assert_true(has(got_error, "only one web source answered ("));
	assert_true(has(got_error, "/good answered 203.0.113.2), a second must agree"));
	assert_true(has(got_error, "/garbage: not an IPv4 address: \"<html>hello</html>\""));
	assert_true(has(got_error, "/private: answered 10.0.0.1, which is not a public address"));
	assert_true(has(got_error, "/err: HTTP 500)"));
}

static void test_sole_source(void **state)
{
	static const char *const p[] = { "/only" };
	char text[512];

	route("/only", 200, "198.51.100.7");
	start(p, 1, true);
	assert_true(run_for(5000));
	assert_string_equal(got_ip, "198.51.100.7");
	ipweb_describe(text, sizeof(text));
	assert_true(has(text, "external IP from web source 127.0.0.1"));
	assert_true(has(text, "(the only one configured)"));
}

static void test_big_body_refused(void **state)
{
	static const char *const p[] = { "/big" };
	static char big[3000];

	memset(big, ' ', sizeof(big) - 1);
	memcpy(big, "203.0.113.2", 11);
	route("/big", 200, big);
	start(p, 1, true);
	assert_true(run_for(5000));
	assert_string_equal(got_ip, "none");
	assert_true(has(got_error, "reply larger than 1024 bytes"));
}

static void test_http_needs_allow_http(void **state)
{
	static const char *const p[] = { "/a" };

	route("/a", 200, "203.0.113.2");
	start(p, 1, false);
	assert_true(run_for(5000));
	assert_string_equal(got_ip, "none");
	assert_int_equal(hits("/a"), 0);
	assert_true(has(got_error, "no web source answered"));
}

/* After a round, neither a refresh nor a restart with the same sources
 * sends anything at once: refresh waits out its ten seconds, the restart
 * the interval. The loop runs a little to give a wrong request the chance. */
static void test_no_request_burst(void **state)
{
	static const char *const p[] = { "/a", "/b" };

	route("/a", 200, "203.0.113.2");
	route("/b", 200, "203.0.113.2");
	start(p, 2, true);
	assert_true(run_for(5000));
	assert_int_equal(ipweb_requests(), 2);
	ipweb_refresh();
	ipweb_refresh();
	assert_false(run_for(700));
	assert_int_equal(ipweb_requests(), 2);
	start(p, 2, true);
	assert_false(run_for(700));
	assert_int_equal(ipweb_requests(), 2);
	assert_int_equal(hits("/a") + hits("/b"), 2);
}

/* The built-in list, looked at, never asked: HTTPS only, run by different
 * operators on different hosts, enough of them that two can agree while
 * others fail. */
static void test_default_list(void **state)
{
	assert_true(ipweb_n_defaults >= 4);
	for (size_t i = 0; i < ipweb_n_defaults; i++) {
		char host[128], other[128];
		assert_true(strncmp(ipweb_defaults[i].url, "https://", 8) == 0);
		assert_true(ipweb_defaults[i].operator && ipweb_defaults[i].operator[0]);
		http_url_host(ipweb_defaults[i].url, host, sizeof(host));
		assert_string_not_equal(host, "?");
		for (size_t j = 0; j < i; j++) {
			http_url_host(ipweb_defaults[j].url, other, sizeof(other));
			assert_string_not_equal(host, other);
			assert_string_not_equal(ipweb_defaults[i].operator, ipweb_defaults[j].operator);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_agree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disagree_publishes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_liar_is_outvoted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_and_private_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sole_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_body_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_needs_allow_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_request_burst, setup, teardown),
		cmocka_unit_test(test_default_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
