/* test_clouddns.c - the pure parts of the Alibaba Cloud DNS and DNSPod
 * providers: reply parsers (every documented error class), the decision
 * after a lookup with the record-id cache, host names relative to the zone,
 * endpoints, and the signed requests the two APIs build. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "clouddns.h"

static struct clouddns_target target(const char *host, const char *type, const char *line)
{
	struct clouddns_target t;

	memset(&t, 0, sizeof(t));
	assert_int_equal(clouddns_target_names(&t, host, "example.com"), 0);
	t.host = host;
	t.zone = "example.com";
	t.type = type;
	t.line = line;
	t.value = "203.0.113.7";
	t.ttl = 600;
	return t;
}

struct parsed {
	int rc;
	struct clouddns_reply rep;
	struct ddns_result res;
};

static struct parsed parse(const struct clouddns_api *api, enum clouddns_op op,
			   const struct clouddns_target *t, const char *body, long status,
			   uint32_t retry_after)
{
	struct parsed p;

	memset(&p, 0xaa, sizeof(p));        /* the parser must set every field */
	p.rc = clouddns_parse(api, op, t, body, strlen(body), status, retry_after, &p.rep, &p.res);
	return p;
}

/* ---- names, endpoints, addresses ---- */

static void test_target_names(void **state)
{
	struct clouddns_target t;

	assert_int_equal(clouddns_target_names(&t, "WWW.Example.COM.", "example.com"), 0);
	assert_string_equal(t.name, "www.example.com");
	assert_string_equal(t.rr, "www");
	assert_int_equal(clouddns_target_names(&t, "a.b.example.com", "Example.com."), 0);
	assert_string_equal(t.rr, "a.b");
	assert_int_equal(clouddns_target_names(&t, "example.com", "example.com"), 0);
	assert_string_equal(t.rr, "@");
	assert_int_equal(clouddns_target_names(&t, "badexample.com", "example.com"), -1);
	assert_int_equal(clouddns_target_names(&t, "www.example.org", "example.com"), -1);
	assert_int_equal(clouddns_target_names(&t, ".example.com", "example.com"), -1);
	assert_int_equal(clouddns_target_names(&t, "", "example.com"), -1);
}

static void test_endpoint(void **state)
{
	struct clouddns_endpoint ep;
	char err[128];

	assert_int_equal(clouddns_endpoint_parse("https://alidns.aliyuncs.com/", &ep, err,
						 sizeof(err)), 0);
	assert_string_equal(ep.host, "alidns.aliyuncs.com");
	assert_string_equal(ep.path, "/");
	assert_string_equal(ep.url, "https://alidns.aliyuncs.com/");
	assert_int_equal(clouddns_endpoint_parse("https://dnspod.tencentcloudapi.com", &ep, err,
						 sizeof(err)), 0);
	assert_string_equal(ep.path, "/");
	assert_string_equal(ep.url, "https://dnspod.tencentcloudapi.com/");
	assert_int_equal(clouddns_endpoint_parse("https://ddns.example.test:8443/api/", &ep, err,
						 sizeof(err)), 0);
	assert_string_equal(ep.host, "ddns.example.test:8443");
	assert_string_equal(ep.path, "/api/");
	assert_int_equal(clouddns_endpoint_parse("https://[2001:db8::53]:443/", &ep, err,
						 sizeof(err)), 0);
	assert_string_equal(ep.host, "[2001:db8::53]:443");
	assert_int_equal(clouddns_endpoint_parse("https://h/?Action=x", &ep, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "query"));
	assert_int_equal(clouddns_endpoint_parse("https://u:p@h/", &ep, err, sizeof(err)), -1);
	assert_int_equal(clouddns_endpoint_parse("ftp://h/", &ep, err, sizeof(err)), -1);
	assert_int_equal(clouddns_endpoint_parse("not a url", &ep, err, sizeof(err)), -1);
}

static void test_same_address(void **state)
{
	assert_true(clouddns_same_address("203.0.113.7", "203.0.113.7"));
	assert_false(clouddns_same_address("203.0.113.7", "203.0.113.8"));
	assert_true(clouddns_same_address("2001:DB8::1", "2001:db8:0:0::1"));
	assert_false(clouddns_same_address("2001:db8::1", "2001:db8::2"));
	assert_false(clouddns_same_address("203.0.113.7", "::ffff:203.0.113.7"));
	assert_false(clouddns_same_address("garbage", "203.0.113.7"));
}

/* ---- the decision after a lookup ---- */

static void test_decide(void **state)
{
	struct clouddns_reply r = { .matches = 1, .record_id = "42", .value = "203.0.113.7" };
	struct clouddns_cached c = { .id = "77", .value = "203.0.113.9" };
	char id[CLOUDDNS_ID_MAX];

	/* holds the address: nothing to send, whatever the cache says */
	assert_int_equal(clouddns_decide(&r, &c, "203.0.113.7", id), CLOUDDNS_NEXT_HOST);
	/* another value: modify that record */
	assert_int_equal(clouddns_decide(&r, NULL, "203.0.113.8", id), CLOUDDNS_NEXT_MODIFY);
	assert_string_equal(id, "42");
	/* two records of the name and type: refuse */
	r.matches = 2;
	assert_int_equal(clouddns_decide(&r, NULL, "203.0.113.7", id), CLOUDDNS_NEXT_DUPLICATE);
	/* none, nothing remembered: create */
	r.matches = 0;
	assert_int_equal(clouddns_decide(&r, NULL, "203.0.113.7", id), CLOUDDNS_NEXT_CREATE);
	/* none, but we created it a moment ago (index lag): never create twice */
	assert_int_equal(clouddns_decide(&r, &c, "203.0.113.9", id), CLOUDDNS_NEXT_HOST);
	assert_int_equal(clouddns_decide(&r, &c, "203.0.113.10", id), CLOUDDNS_NEXT_MODIFY);
	assert_string_equal(id, "77");
}

static void test_clock_text(void **state)
{
	char buf[200];

	clouddns_clock_text(1700000000, 1700003600, buf, sizeof(buf));
	assert_string_equal(buf, "the server's clock says 2023-11-14 22:13:20 UTC, this host's "
			    "2023-11-14 23:13:20 UTC (3600 s ahead): set this host's clock (NTP)");
	clouddns_clock_text(1700000000, 1699999000, buf, sizeof(buf));
	assert_non_null(strstr(buf, "(1000 s behind)"));
	clouddns_clock_text(0, 1700000000, buf, sizeof(buf));
	assert_string_equal(buf, "this host's clock says 2023-11-14 22:13:20 UTC: "
			    "check that it is right (NTP)");
}

/* ---- Alibaba Cloud DNS replies ---- */

/* DescribeSubDomainRecords, the document's example reply in JSON. */
static const char ali_list[] =
	"{\"TotalCount\":2,\"PageSize\":2,\"RequestId\":\"536E9CAD-DB30-4647-AC87-AA5CC38C5382\","
	"\"DomainRecords\":{\"Record\":["
	"{\"Status\":\"Enable\",\"Type\":\"MX\",\"Weight\":1,\"Value\":\"mail1.hichina.com\","
	"\"TTL\":600,\"Priority\":5,\"RecordId\":\"9999985\",\"RR\":\"www\","
	"\"DomainName\":\"example.com\",\"Line\":\"default\",\"Locked\":false},"
	"{\"Status\":\"Enable\",\"Type\":\"A\",\"Value\":\"203.0.113.5\",\"TTL\":600,"
	"\"RecordId\":\"9999986\",\"RR\":\"www\",\"DomainName\":\"example.com\","
	"\"Line\":\"default\",\"Locked\":false},"
	"{\"Status\":\"Enable\",\"Type\":\"A\",\"Value\":\"198.51.100.1\",\"TTL\":600,"
	"\"RecordId\":\"9999987\",\"RR\":\"www\",\"DomainName\":\"example.com\","
	"\"Line\":\"telecom\",\"Locked\":false}]},\"PageNumber\":1}";

static void test_alidns_lookup(void **state)
{
	struct clouddns_target t = target("WWW.example.com", "A", "default");
	struct parsed p = parse(&provider_alidns_api, CLOUDDNS_LOOKUP, &t, ali_list, 200, 0);

	/* the MX and the other line's A do not count */
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.rep.matches, 1);
	assert_string_equal(p.rep.record_id, "9999986");
	assert_string_equal(p.rep.value, "203.0.113.5");
	assert_false(p.rep.clock_skew);
	t = target("www.example.com", "AAAA", "default");
	p = parse(&provider_alidns_api, CLOUDDNS_LOOKUP, &t, ali_list, 200, 0);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.rep.matches, 0);
	t = target("www.example.com", "A", "telecom");
	p = parse(&provider_alidns_api, CLOUDDNS_LOOKUP, &t, ali_list, 200, 0);
	assert_int_equal(p.rep.matches, 1);
	assert_string_equal(p.rep.record_id, "9999987");
	p = parse(&provider_alidns_api, CLOUDDNS_LOOKUP, &t,
		  "{\"TotalCount\":0,\"DomainRecords\":{\"Record\":[]}}", 200, 0);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.rep.matches, 0);
}

static void test_alidns_duplicates_counted(void **state)
{
	struct clouddns_target t = target("cam.example.com", "A", "default");
	struct parsed p = parse(&provider_alidns_api, CLOUDDNS_LOOKUP, &t,
		"{\"DomainRecords\":{\"Record\":["
		"{\"Type\":\"A\",\"Value\":\"203.0.113.1\",\"RecordId\":\"1\",\"RR\":\"cam\","
		"\"Line\":\"default\"},"
		"{\"Type\":\"A\",\"Value\":\"203.0.113.2\",\"RecordId\":\"2\",\"RR\":\"cam\","
		"\"Line\":\"default\"}]}}", 200, 0);

	assert_int_equal(p.rc, 0);
	assert_int_equal(p.rep.matches, 2);
}

static void test_alidns_writes(void **state)
{
	struct clouddns_target t = target("www.example.com", "A", "default");
	struct parsed p = parse(&provider_alidns_api, CLOUDDNS_CREATE, &t,
		"{\"RequestId\":\"536E9CAD-DB30-4647-AC87-AA5CC38C5382\",\"RecordId\":\"9999985\"}",
		200, 0);

	assert_int_equal(p.rc, 0);
	assert_string_equal(p.rep.record_id, "9999985");
	assert_false(p.rep.holds);
	/* "already exists" is success: the record holds it */
	p = parse(&provider_alidns_api, CLOUDDNS_MODIFY, &t,
		  "{\"RequestId\":\"x\",\"HostId\":\"alidns.aliyuncs.com\",\"Code\":"
		  "\"DomainRecordDuplicate\",\"Message\":\"The DNS record already exists.\"}", 400, 0);
	assert_int_equal(p.rc, 0);
	assert_true(p.rep.holds);
	/* a remembered id that was deleted meanwhile */
	p = parse(&provider_alidns_api, CLOUDDNS_MODIFY, &t,
		  "{\"Code\":\"DomainRecordNotBelongToUser\",\"Message\":\"The DNS record does "
		  "not exist.\"}", 400, 0);
	assert_int_equal(p.rc, -1);
	assert_int_equal(p.res.outcome, DDNS_TEMPFAIL);
	assert_true(p.rep.stale_id);
}

struct err_case {
	const char *code;
	long status;
	enum ddns_outcome outcome;
	const char *words;              /* in the sentence, besides code and message */
};

/* Each code between pre and post, an error reply of api: the outcome, the
 * provider's code and message in the sentence, the clock flag only for
 * clock_code, at least a minute's wait after a rate limit. */
static void check_errors(const struct clouddns_api *api, enum clouddns_op op, const char *pre,
			 const char *post, const struct err_case *cases, size_t n,
			 const char *clock_code)
{
	struct clouddns_target t = target("www.example.com", "A", api->default_line);

	for (size_t i = 0; i < n; i++) {
		char body[400];
		struct parsed p;

		snprintf(body, sizeof(body), "%s%s%s", pre, cases[i].code, post);
		p = parse(api, op, &t, body, cases[i].status, 0);
		assert_int_equal(p.rc, -1);
		assert_int_equal(p.res.outcome, cases[i].outcome);
		assert_non_null(strstr(p.res.error, cases[i].code));
		assert_non_null(strstr(p.res.error, cases[i].words));
		assert_non_null(strstr(p.res.error, "The thing failed."));
		assert_int_equal(p.rep.clock_skew, strcmp(cases[i].code, clock_code) == 0);
		if (cases[i].outcome == DDNS_TEMPFAIL &&
		    (strstr(cases[i].code, "Throttling") || strstr(cases[i].code, "LimitExceeded")))
			assert_true(p.res.retry_after >= CLOUDDNS_THROTTLE_WAIT);
	}
}

static void test_alidns_errors(void **state)
{
	static const struct err_case cases[] = {
		{ "InvalidAccessKeyId.NotFound", 404, DDNS_PERMFAIL, "(check key_id)" },
		{ "InvalidAccessKeyId.Inactive", 400, DDNS_PERMFAIL, "(check key_id)" },
		{ "SignatureDoesNotMatch", 400, DDNS_PERMFAIL, "(check key_secret_file)" },
		{ "IncompleteSignature", 400, DDNS_PERMFAIL, "(check key_secret_file)" },
		{ "Forbidden.RAM", 403, DDNS_PERMFAIL, "AliyunDNSFullAccess" },
		{ "IncorrectDomainUser", 400, DDNS_PERMFAIL, "(check zone)" },
		{ "InvalidParameter", 400, DDNS_PERMFAIL, "" },
		{ "Throttling.User", 400, DDNS_TEMPFAIL, "" },
		{ "Throttling", 400, DDNS_TEMPFAIL, "" },
		{ "ThrottlingLike", 400, DDNS_PERMFAIL, "" },   /* "Throttling." is not a prefix */
		{ "InvalidTimeStamp.Expired", 400, DDNS_TEMPFAIL, "" },
		{ "SignatureNonceUsed", 400, DDNS_TEMPFAIL, "" },
		{ "InternalError", 500, DDNS_TEMPFAIL, "" },
		{ "ServiceUnavailable", 503, DDNS_TEMPFAIL, "" },
		{ "SomethingNew", 503, DDNS_TEMPFAIL, "" },
	};

	check_errors(&provider_alidns_api, CLOUDDNS_LOOKUP,
		     "{\"RequestId\":\"r\",\"HostId\":\"alidns.aliyuncs.com\",\"Code\":\"",
		     "\",\"Message\":\"The thing failed.\",\"Recommend\":"
		     "\"https://api.aliyun.com/troubleshoot\"}",
		     cases, sizeof(cases) / sizeof(cases[0]), "InvalidTimeStamp.Expired");
}

static void test_alidns_http_trouble(void **state)
{
	struct clouddns_target t = target("www.example.com", "A", "default");
	struct parsed p = parse(&provider_alidns_api, CLOUDDNS_LOOKUP, &t,
				"<html>Too Many Requests</html>", 429, 120);

	assert_int_equal(p.rc, -1);
	assert_int_equal(p.res.outcome, DDNS_TEMPFAIL);
	assert_int_equal(p.res.retry_after, 120);
	assert_string_equal(p.res.error, "HTTP 429");
	p = parse(&provider_alidns_api, CLOUDDNS_LOOKUP, &t, "<html>bad gateway</html>", 502, 0);
	assert_int_equal(p.res.outcome, DDNS_TEMPFAIL);
	p = parse(&provider_alidns_api, CLOUDDNS_LOOKUP, &t, "\x01\x02 not json", 200, 0);
	assert_int_equal(p.rc, -1);
	assert_int_equal(p.res.outcome, DDNS_TEMPFAIL);
	assert_non_null(strstr(p.res.error, "unreadable reply"));
	p = parse(&provider_alidns_api, CLOUDDNS_LOOKUP, &t, "{\"TotalCount\":1}", 200, 0);
	assert_int_equal(p.res.outcome, DDNS_TEMPFAIL);
	/* a matching record whose id could end up in a URL must be plain */
	p = parse(&provider_alidns_api, CLOUDDNS_LOOKUP, &t, "{\"DomainRecords\":{\"Record\":["
		  "{\"Type\":\"A\",\"Value\":\"1.2.3.4\",\"RecordId\":\"1&RR=evil\",\"RR\":\"www\"}]}}",
		  200, 0);
	assert_int_equal(p.rc, -1);
	/* an empty code is no code (found by fuzz_clouddns) */
	p = parse(&provider_alidns_api, CLOUDDNS_LOOKUP, &t, "{\"Code\":\"\"}", 400, 0);
	assert_int_equal(p.rc, -1);
	assert_string_equal(p.res.error, "HTTP 400");
	/* server text is cleaned before it reaches a status line */
	p = parse(&provider_alidns_api, CLOUDDNS_LOOKUP, &t,
		  "{\"Code\":\"X\\u0007\\n\",\"Message\":\"a\\nb\\u00e9\"}", 400, 0);
	assert_int_equal(p.res.outcome, DDNS_PERMFAIL);
	for (const char *c = p.res.error; *c; c++)
		assert_true(*c >= 0x20 && *c < 0x7f);
}

/* ---- DNSPod replies ---- */

/* DescribeRecordList, shaped like the document's example reply. */
static const char pod_list[] =
	"{\"Response\":{\"RequestId\":\"ab4f1426-ea15-42ea-8183-dc1b44151166\","
	"\"RecordCountInfo\":{\"SubdomainCount\":3,\"TotalCount\":3,\"ListCount\":3},"
	"\"RecordList\":["
	"{\"RecordId\":556507778,\"Value\":\"f1g1ns1.dnspod.net.\",\"Status\":\"ENABLE\","
	"\"UpdatedOn\":\"2021-03-28 11:27:09\",\"Name\":\"www\",\"Line\":\"默认\",\"LineId\":\"0\","
	"\"Type\":\"NS\",\"Weight\":null,\"MonitorStatus\":\"\",\"Remark\":\"\",\"TTL\":86400,"
	"\"MX\":0},"
	"{\"RecordId\":556507779,\"Value\":\"203.0.113.5\",\"Status\":\"ENABLE\","
	"\"Name\":\"www\",\"Line\":\"默认\",\"LineId\":\"0\",\"Type\":\"A\",\"TTL\":600,\"MX\":0},"
	"{\"RecordId\":556507780,\"Value\":\"198.51.100.1\",\"Status\":\"ENABLE\","
	"\"Name\":\"www\",\"Line\":\"电信\",\"LineId\":\"10=0\",\"Type\":\"A\",\"TTL\":600}]}}";

static void test_dnspod_lookup(void **state)
{
	struct clouddns_target t = target("www.example.com", "A", "默认");
	struct parsed p = parse(&provider_dnspod_api, CLOUDDNS_LOOKUP, &t, pod_list, 200, 0);

	assert_int_equal(p.rc, 0);
	assert_int_equal(p.rep.matches, 1);
	assert_string_equal(p.rep.record_id, "556507779");
	assert_string_equal(p.rep.value, "203.0.113.5");
	/* an empty list is an error in this API: here it means "no record" */
	p = parse(&provider_dnspod_api, CLOUDDNS_LOOKUP, &t,
		  "{\"Response\":{\"Error\":{\"Code\":\"ResourceNotFound.NoDataOfRecord\","
		  "\"Message\":\"记录列表为空。\"},\"RequestId\":\"x\"}}", 200, 0);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.rep.matches, 0);
	/* two of them */
	p = parse(&provider_dnspod_api, CLOUDDNS_LOOKUP, &t,
		  "{\"Response\":{\"RecordList\":["
		  "{\"RecordId\":1,\"Value\":\"203.0.113.1\",\"Name\":\"WWW\",\"Line\":\"默认\","
		  "\"Type\":\"A\"},"
		  "{\"RecordId\":\"2\",\"Value\":\"203.0.113.2\",\"Name\":\"www\",\"Line\":\"默认\","
		  "\"Type\":\"A\"}]}}", 200, 0);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.rep.matches, 2);
	assert_string_equal(p.rep.record_id, "1");
}

static void test_dnspod_writes(void **state)
{
	struct clouddns_target t = target("www.example.com", "A", "默认");
	struct parsed p = parse(&provider_dnspod_api, CLOUDDNS_CREATE, &t,
		"{\"Response\":{\"RecordId\":162,\"RequestId\":\"ab4f1426\"}}", 200, 0);

	assert_int_equal(p.rc, 0);
	assert_string_equal(p.rep.record_id, "162");
	p = parse(&provider_dnspod_api, CLOUDDNS_CREATE, &t,
		  "{\"Response\":{\"Error\":{\"Code\":\"InvalidParameter.DomainRecordExist\","
		  "\"Message\":\"The record already exists.\"},\"RequestId\":\"x\"}}", 200, 0);
	assert_int_equal(p.rc, 0);
	assert_true(p.rep.holds);
	p = parse(&provider_dnspod_api, CLOUDDNS_MODIFY, &t,
		  "{\"Response\":{\"Error\":{\"Code\":\"InvalidParameter.RecordIdInvalid\","
		  "\"Message\":\"The record number is incorrect.\"},\"RequestId\":\"x\"}}", 200, 0);
	assert_int_equal(p.rc, -1);
	assert_true(p.rep.stale_id);
	assert_int_equal(p.res.outcome, DDNS_TEMPFAIL);
	/* NoDataOfRecord is only "empty" for a lookup */
	p = parse(&provider_dnspod_api, CLOUDDNS_CREATE, &t,
		  "{\"Response\":{\"Error\":{\"Code\":\"ResourceNotFound.NoDataOfRecord\","
		  "\"Message\":\"x\"}}}", 200, 0);
	assert_int_equal(p.rc, -1);
	assert_int_equal(p.res.outcome, DDNS_PERMFAIL);
}

static void test_dnspod_errors(void **state)
{
	static const struct err_case cases[] = {
		{ "AuthFailure.SecretIdNotFound", 200, DDNS_PERMFAIL, "(check key_id)" },
		{ "AuthFailure.InvalidSecretId", 200, DDNS_PERMFAIL, "(check key_id)" },
		{ "AuthFailure.SignatureFailure", 200, DDNS_PERMFAIL, "(check key_secret_file)" },
		{ "AuthFailure.UnauthorizedOperation", 200, DDNS_PERMFAIL, "QcloudDNSPodFullAccess" },
		{ "AuthFailure.MFAFailure", 200, DDNS_PERMFAIL, "key_id and key_secret_file" },
		{ "UnauthorizedOperation", 200, DDNS_PERMFAIL, "QcloudDNSPodFullAccess" },
		{ "OperationDenied.DomainOwnerAllowedOnly", 200, DDNS_PERMFAIL, "" },
		{ "InvalidParameterValue.DomainNotExists", 200, DDNS_PERMFAIL, "(check zone)" },
		{ "InvalidParameter.RecordLineInvalid", 200, DDNS_PERMFAIL, "(check line)" },
		{ "AuthFailure.SignatureExpire", 200, DDNS_TEMPFAIL, "" },
		{ "RequestLimitExceeded", 200, DDNS_TEMPFAIL, "" },
		{ "RequestLimitExceeded.UinLimitExceeded", 200, DDNS_TEMPFAIL, "" },
		{ "LimitExceeded.FailedLoginLimitExceeded", 200, DDNS_TEMPFAIL, "" },
		{ "InternalError", 200, DDNS_TEMPFAIL, "" },
		{ "FailedOperation.UnknowError", 200, DDNS_TEMPFAIL, "" },
		{ "SomethingNew", 200, DDNS_PERMFAIL, "" },
	};

	check_errors(&provider_dnspod_api, CLOUDDNS_MODIFY,
		     "{\"Response\":{\"Error\":{\"Code\":\"",
		     "\",\"Message\":\"The thing failed.\"},\"RequestId\":\"ed93f3cb\"}}",
		     cases, sizeof(cases) / sizeof(cases[0]), "AuthFailure.SignatureExpire");
}

static void test_dnspod_garbage(void **state)
{
	struct clouddns_target t = target("www.example.com", "A", "默认");
	struct parsed p = parse(&provider_dnspod_api, CLOUDDNS_LOOKUP, &t, "[]", 200, 0);

	assert_int_equal(p.rc, -1);
	assert_int_equal(p.res.outcome, DDNS_TEMPFAIL);
	p = parse(&provider_dnspod_api, CLOUDDNS_LOOKUP, &t, "{\"Response\":{}}", 200, 0);
	assert_int_equal(p.res.outcome, DDNS_TEMPFAIL);
	p = parse(&provider_dnspod_api, CLOUDDNS_LOOKUP, &t,
		  "{\"Response\":{\"RecordList\":[{\"RecordId\":-5,\"Value\":\"1.2.3.4\","
		  "\"Name\":\"www\",\"Type\":\"A\"}]}}", 200, 0);
	assert_int_equal(p.rc, -1);
	p = parse(&provider_dnspod_api, CLOUDDNS_LOOKUP, &t, "", 503, 0);
	assert_int_equal(p.res.outcome, DDNS_TEMPFAIL);
	assert_string_equal(p.res.error, "HTTP 503");
	p = parse(&provider_dnspod_api, CLOUDDNS_LOOKUP, &t, "", 429, 7);
	assert_int_equal(p.res.retry_after, CLOUDDNS_THROTTLE_WAIT);
}

/* ---- the requests the APIs build ---- */

static const char *header(const struct clouddns_request *r, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < r->n_headers; i++)
		if (strncmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
			return r->headers[i] + n + 2;
	return NULL;
}

static void request_free(struct clouddns_request *r)
{
	free(r->url);
	free(r->body);
	for (size_t i = 0; i < r->n_headers; i++)
		free(r->headers[i]);
}

static void test_alidns_build(void **state)
{
	struct clouddns_conf c = { .key_id = "LTAI-id", .key_secret = "topsecret" };
	struct clouddns_endpoint ep;
	struct clouddns_target t = target("www.example.com", "AAAA", "default");
	struct clouddns_request r = { 0 };
	char err[100];

	assert_int_equal(clouddns_endpoint_parse("https://alidns.aliyuncs.com/", &ep, err,
						 sizeof(err)), 0);
	snprintf(t.record_id, sizeof(t.record_id), "9999986");
	t.value = "2001:db8::7";
	assert_int_equal(provider_alidns_api.build(&c, &ep, CLOUDDNS_MODIFY, &t, 1709251199, &r), 0);
	assert_string_equal(r.method, "GET");
	assert_null(r.body);
	assert_string_equal(r.url, "https://alidns.aliyuncs.com/?Lang=en&Line=default&RR=www"
			    "&RecordId=9999986&TTL=600&Type=AAAA&Value=2001%3Adb8%3A%3A7");
	assert_string_equal(header(&r, "x-acs-action"), "UpdateDomainRecord");
	assert_string_equal(header(&r, "x-acs-version"), "2015-01-09");
	assert_string_equal(header(&r, "x-acs-date"), "2024-02-29T23:59:59Z");
	assert_int_equal(strlen(header(&r, "x-acs-signature-nonce")), 32);
	assert_true(strncmp(header(&r, "Authorization"), "ACS3-HMAC-SHA256 Credential=LTAI-id,", 36) == 0);
	for (size_t i = 0; i < r.n_headers; i++)
		assert_null(strstr(r.headers[i], "topsecret"));
	request_free(&r);
}

static void test_dnspod_build(void **state)
{
	struct clouddns_conf c = { .key_id = "AKID-id", .key_secret = "topsecret" };
	struct clouddns_endpoint ep;
	struct clouddns_target t = target("example.com", "A", "默认");
	struct clouddns_request r = { 0 };
	char err[100];

	assert_int_equal(clouddns_endpoint_parse("https://dnspod.tencentcloudapi.com/", &ep, err,
						 sizeof(err)), 0);
	assert_int_equal(provider_dnspod_api.build(&c, &ep, CLOUDDNS_LOOKUP, &t, 1709251199, &r), 0);
	assert_string_equal(r.method, "POST");
	assert_string_equal(r.url, "https://dnspod.tencentcloudapi.com/");
	assert_string_equal(r.body, "{\"Domain\":\"example.com\",\"Limit\":100,\"RecordLine\":"
			    "\"默认\",\"RecordType\":\"A\",\"Subdomain\":\"@\"}");
	assert_string_equal(header(&r, "Content-Type"), "application/json");
	assert_string_equal(header(&r, "X-TC-Action"), "DescribeRecordList");
	assert_string_equal(header(&r, "X-TC-Version"), "2021-03-23");
	assert_string_equal(header(&r, "X-TC-Timestamp"), "1709251199");
	assert_true(strncmp(header(&r, "Authorization"), "TC3-HMAC-SHA256 Credential=AKID-id/"
			    "2024-02-29/dnspod/tc3_request, SignedHeaders=content-type;host;"
			    "x-tc-action, Signature=", 104) == 0);
	request_free(&r);
	memset(&r, 0, sizeof(r));
	snprintf(t.record_id, sizeof(t.record_id), "162");
	assert_int_equal(provider_dnspod_api.build(&c, &ep, CLOUDDNS_MODIFY, &t, 1709251199, &r), 0);
	assert_string_equal(r.body, "{\"Domain\":\"example.com\",\"RecordId\":162,\"RecordLine\":"
			    "\"默认\",\"RecordType\":\"A\",\"SubDomain\":\"@\",\"TTL\":600,"
			    "\"Value\":\"203.0.113.7\"}");
	request_free(&r);
	memset(&r, 0, sizeof(r));
	snprintf(t.record_id, sizeof(t.record_id), "abc");   /* never sent as a number */
	assert_int_equal(provider_dnspod_api.build(&c, &ep, CLOUDDNS_MODIFY, &t, 1709251199, &r), -1);
	request_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_names),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_same_address),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_clock_text),
		cmocka_unit_test(test_alidns_lookup),
		cmocka_unit_test(test_alidns_duplicates_counted),
		cmocka_unit_test(test_alidns_writes),
		cmocka_unit_test(test_alidns_errors),
		cmocka_unit_test(test_alidns_http_trouble),
		cmocka_unit_test(test_dnspod_lookup),
		cmocka_unit_test(test_dnspod_writes),
		cmocka_unit_test(test_dnspod_errors),
		cmocka_unit_test(test_dnspod_garbage),
		cmocka_unit_test(test_alidns_build),
		cmocka_unit_test(test_dnspod_build),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
