/* test_http_wire.c - the HTTP helper's messages (http_wire.c): requests and
 * responses survive the trip whole (NULL and empty strings apart, binary
 * bodies, every header), and anything cut short, padded, of another magic
 * or with a NUL inside a request string is refused; url_split (url.c),
 * which names hosts in messages now that libcurl is not in the daemon. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http_wire.h"
#include "url.h"

static const char *const hdrs[] = { "Content-Type: application/json", "X-Auth: s3cret" };

static const struct http_request full = {
	.method = "PATCH", .url = "https://api.example/zones/1?x=y", .headers = hdrs,
	.n_headers = 2, .body = "{\"a\":1}", .username = "", .password = NULL,
	.bearer = "tok", .ca_file = "/etc/ca.pem", .timeout = 7, .allow_http = true,
	.ipv4_only = false, .max_body = 512,
};

static void test_request_round_trip(void **state)
{
	struct http_wire_msg m;
	size_t len = 0;
	uint8_t *enc = http_wire_req(42, &full, &len);

	assert_non_null(enc);
	assert_int_equal(http_wire_decode(enc, len, &m), 0);
	assert_int_equal(m.kind, HTTP_WIRE_REQ);
	assert_int_equal(m.id, 42);
	assert_string_equal(m.req.method, "PATCH");
	assert_string_equal(m.req.url, full.url);
	assert_int_equal(m.req.n_headers, 2);
	assert_string_equal(m.req.headers[0], hdrs[0]);
	assert_string_equal(m.req.headers[1], hdrs[1]);
	assert_string_equal(m.req.body, full.body);
	assert_string_equal(m.req.username, "");
	assert_null(m.req.password);
	assert_string_equal(m.req.bearer, "tok");
	assert_string_equal(m.req.ca_file, "/etc/ca.pem");
	assert_int_equal(m.req.timeout, 7);
	assert_true(m.req.allow_http);
	assert_false(m.req.ipv4_only);
	assert_int_equal(m.req.max_body, 512);
	http_wire_free(&m);
	free(enc);
}

static void test_response_round_trip(void **state)
{
	static const char body[] = "good\0binary";
	struct http_response r = { .status = 429, .curl_code = 0, .error = "", .body = body,
				   .body_len = sizeof(body) - 1, .retry_after = 120,
				   .date = 1700000000, .truncated = true };
	struct http_wire_msg m;
	size_t len = 0;
	uint8_t *enc = http_wire_resp(7, &r, &len);

	assert_non_null(enc);
	assert_int_equal(http_wire_decode(enc, len, &m), 0);
	assert_int_equal(m.kind, HTTP_WIRE_RESP);
	assert_int_equal(m.id, 7);
	assert_int_equal(m.resp.status, 429);
	assert_int_equal(m.resp.body_len, sizeof(body) - 1);
	assert_memory_equal(m.resp.body, body, sizeof(body) - 1);
	assert_int_equal(m.resp.body[m.resp.body_len], '\0');
	assert_int_equal(m.resp.retry_after, 120);
	assert_int_equal(m.resp.date, 1700000000);
	assert_true(m.resp.truncated);
	assert_string_equal(m.resp.error, "");
	http_wire_free(&m);
	free(enc);
}

static void test_cancel(void **state)
{
	uint8_t enc[HTTP_WIRE_CANCEL_LEN];
	struct http_wire_msg m;

	http_wire_cancel(99, enc);
	assert_int_equal(http_wire_decode(enc, sizeof(enc), &m), 0);
	assert_int_equal(m.kind, HTTP_WIRE_CANCEL);
	assert_int_equal(m.id, 99);
	http_wire_free(&m);
}

static void test_damaged_messages_refused(void **state)
{
	struct http_wire_msg m;
	size_t len = 0;
	uint8_t *enc = http_wire_req(1, &full, &len), *big, *url;

	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(http_wire_decode(enc, cut, &m), -1);
	big = calloc(1, len + 1);
	memcpy(big, enc, len);
	assert_int_equal(http_wire_decode(big, len + 1, &m), -1);       /* trailing byte */
	big[0] ^= 1;
	assert_int_equal(http_wire_decode(big, len, &m), -1);           /* magic */
	free(big);
	/* a NUL inside the URL: the helper would ask for another URL than logged */
	url = memmem(enc, len, full.url, strlen(full.url));
	assert_non_null(url);
	url[5] = '\0';
	assert_int_equal(http_wire_decode(enc, len, &m), -1);
	free(enc);
}

static void test_too_many_headers_or_too_large(void **state)
{
	const char *many[HTTP_WIRE_HEADERS + 1];
	struct http_request r = { .url = "https://a.example/", .headers = many,
				  .n_headers = HTTP_WIRE_HEADERS + 1 };
	char *huge = malloc(HTTP_WIRE_MAX + 1);
	size_t len = 0;

	for (size_t i = 0; i < HTTP_WIRE_HEADERS + 1; i++)
		many[i] = "X: y";
	assert_null(http_wire_req(1, &r, &len));
	memset(huge, 'a', HTTP_WIRE_MAX);
	huge[HTTP_WIRE_MAX] = '\0';
	r.n_headers = 0;
	r.body = huge;
	assert_null(http_wire_req(1, &r, &len));
	free(huge);
}

static void test_url_split(void **state)
{
	struct url_parts u;

	assert_int_equal(url_split("https://user:pw@Api.Example:8443/a/b/?q=1#f", &u), 0);
	assert_string_equal(u.scheme, "https");
	assert_string_equal(u.host, "Api.Example");
	assert_string_equal(u.port, "8443");
	assert_string_equal(u.path, "/a/b/");
	assert_true(u.has_query);
	assert_true(u.has_user);
	assert_int_equal(url_split("http://[2001:db8::1]/", &u), 0);
	assert_string_equal(u.host, "[2001:db8::1]");
	assert_string_equal(u.port, "");
	assert_string_equal(u.path, "/");
	assert_false(u.has_query);
	assert_false(u.has_user);
	assert_int_equal(url_split("https://203.0.113.9", &u), 0);
	assert_string_equal(u.host, "203.0.113.9");
	assert_string_equal(u.path, "");
	assert_int_equal(url_split("example.com/path", &u), -1);      /* no scheme */
	assert_int_equal(url_split("https:///path", &u), -1);          /* no host */
	assert_int_equal(url_split("https://a b/", &u), -1);
	assert_int_equal(url_split("", &u), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_response_round_trip),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_damaged_messages_refused),
		cmocka_unit_test(test_too_many_headers_or_too_large),
		cmocka_unit_test(test_url_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
