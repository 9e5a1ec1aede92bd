/* test_cloudsig.c - the ACS3-HMAC-SHA256 and TC3-HMAC-SHA256 signatures
 * (src/cloudsig.c) against the providers' own worked examples, byte for
 * byte, and against vectors computed independently, step by step, with
 * python3's hashlib/hmac (the computation is written out above each). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "cloudsig.h"

/* Alibaba Cloud, "V3版本请求体&签名机制" (help.aliyun.com/zh/sdk/
 * product-overview/v3-request-structure-and-signature), its fixed-parameter
 * example (固定参数示例): AccessKeyID YourAccessKeyId, AccessKeySecret
 * YourAccessKeySecret, POST https://ecs.cn-shanghai.aliyuncs.com/?ImageId=
 * win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai,
 * x-acs-action RunInstances, x-acs-version 2014-05-26, x-acs-date
 * 2023-10-26T10:22:32Z, x-acs-signature-nonce 3156853299f313e23d1673dc12e1703d,
 * empty body. The document gives HashedCanonicalRequest 7ea06492... and the
 * Authorization value below. */
static void test_acs3_documented_example(void **state)
{
	const struct cloudsig_param q[] = {
		{ "RegionId", "cn-shanghai" },
		{ "ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd" },
	};
	char *query = cloudsig_acs3_query(q, 2);
	struct cloudsig_acs3 r = {
		.method = "POST", .host = "ecs.cn-shanghai.aliyuncs.com", .uri = "/",
		.query = query, .action = "RunInstances", .version = "2014-05-26",
		.nonce = "3156853299f313e23d1673dc12e1703d", .time = 1698315752,
		.key_id = "YourAccessKeyId", .key_secret = "YourAccessKeySecret",
	};
	struct cloudsig_acs3_out o;

	assert_string_equal(query, "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"
			    "&RegionId=cn-shanghai");
	assert_int_equal(cloudsig_acs3_sign(&r, &o), 0);
	assert_string_equal(o.date, "2023-10-26T10:22:32Z");
	assert_string_equal(o.content_sha256,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_string_equal(o.string_to_sign, "ACS3-HMAC-SHA256\n"
			    "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259");
	assert_string_equal(o.authorization,
			    "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;"
			    "x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;"
			    "x-acs-version,Signature="
			    "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0");
	free(query);
}

/* An alidns-shaped request with values that need encoding. Computed with
 * python3 from the same document's rules:
 *   enc = lambda s: urllib.parse.quote(s, safe="-_.~")
 *   q = "&".join(enc(k) + "=" + enc(v) for k, v in sorted(params.items()))
 *   e = sha256(b"").hexdigest()
 *   hd = [("host","alidns.aliyuncs.com"), ("x-acs-action","DescribeSubDomainRecords"),
 *         ("x-acs-content-sha256",e), ("x-acs-date","2024-02-29T23:59:59Z"),
 *         ("x-acs-signature-nonce","0123456789abcdef0123456789abcdef"),
 *         ("x-acs-version","2015-01-09")]
 *   cr = "GET\n/\n" + q + "\n" + "".join(k+":"+v+"\n" for k,v in hd) + "\n"
 *        + ";".join(k for k,_ in hd) + "\n" + e
 *   h = sha256(cr.encode()).hexdigest()
 *     -> e7ccd812380188946050410093de9543b013285d4ad57a8e8a038aec30de2a7c
 *   hmac.new(b"homeport-test-secret", ("ACS3-HMAC-SHA256\n"+h).encode(), sha256)
 *     -> 10ef7441d9c19cafccb85829a824da6aef58e707f53ff671e8a7594c7acc8c8f */
static void test_acs3_independent_vector(void **state)
{
	const struct cloudsig_param q[] = {
		{ "Type", "AAAA" }, { "SubDomain", "*.home example.com" },
		{ "DomainName", "example.com" }, { "PageSize", "100" },
		{ "Line", "default" }, { "Lang", "en" },
	};
	char *query = cloudsig_acs3_query(q, sizeof(q) / sizeof(q[0]));
	struct cloudsig_acs3 r = {
		.method = "GET", .host = "alidns.aliyuncs.com", .uri = "/", .query = query,
		.action = "DescribeSubDomainRecords", .version = "2015-01-09",
		.nonce = "0123456789abcdef0123456789abcdef", .time = 1709251199,
		.key_id = "LTAI-test", .key_secret = "homeport-test-secret",
	};
	struct cloudsig_acs3_out o;

	assert_string_equal(query, "DomainName=example.com&Lang=en&Line=default&PageSize=100"
			    "&SubDomain=%2A.home%20example.com&Type=AAAA");
	assert_int_equal(cloudsig_acs3_sign(&r, &o), 0);
	assert_string_equal(o.date, "2024-02-29T23:59:59Z");
	assert_string_equal(o.string_to_sign, "ACS3-HMAC-SHA256\n"
			    "e7ccd812380188946050410093de9543b013285d4ad57a8e8a038aec30de2a7c");
	assert_string_equal(o.authorization,
			    "ACS3-HMAC-SHA256 Credential=LTAI-test,SignedHeaders=host;"
			    "x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;"
			    "x-acs-version,Signature="
			    "10ef7441d9c19cafccb85829a824da6aef58e707f53ff671e8a7594c7acc8c8f");
	free(query);
}

/* RFC 3986 as the document says: unreserved kept, space %20, * %2A, ~ kept,
 * UTF-8 bytes each %XX upper case. */
static void test_acs3_query_encoding(void **state)
{
	const struct cloudsig_param q[] = {
		{ "b", "a b*~/+=&" }, { "a", "默认" }, { "a", "" },
	};
	char *s = cloudsig_acs3_query(q, 3);

	assert_string_equal(s, "a=&a=%E9%BB%98%E8%AE%A4&b=a%20b%2A~%2F%2B%3D%26");
	free(s);
	s = cloudsig_acs3_query(NULL, 0);
	assert_string_equal(s, "");
	free(s);
}

/* Tencent Cloud, "Signature v3" / "签名方法 v3" (the API 3.0 chapter of every
 * product, DNSPod's included), its worked example: SecretKey
 * Gu5t9xGARNpq86cd98joQYCN3EXAMPLE, POST https://cvm.tencentcloudapi.com,
 * Content-Type "application/json; charset=utf-8", X-TC-Action
 * DescribeInstances, X-TC-Timestamp 1551113065, signed headers
 * content-type;host, the body below (\u escapes as literal text). The
 * document gives HashedRequestPayload 35e9c5b0..., HashedCanonicalRequest
 * 5ffe6a04... and Signature 72e494ea.... */
static void test_tc3_documented_example(void **state)
{
	static const char body[] = "{\"Limit\": 1, \"Filters\": [{\"Values\": "
		"[\"\\u672a\\u547d\\u540d\"], \"Name\": \"instance-name\"}]}";
	struct cloudsig_tc3 r = {
		.host = "cvm.tencentcloudapi.com", .service = "cvm",
		.action = "DescribeInstances", .content_type = "application/json; charset=utf-8",
		.time = 1551113065, .payload = body, .payload_len = strlen(body),
		.secret_id = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
		.secret_key = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
	};
	struct cloudsig_tc3_out o;
	char h[CLOUDSIG_HEX + 1];

	assert_int_equal(cloudsig_sha256_hex(body, strlen(body), h), 0);
	assert_string_equal(h, "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064");
	assert_int_equal(cloudsig_tc3_sign(&r, &o), 0);
	assert_string_equal(o.timestamp, "1551113065");
	assert_string_equal(o.string_to_sign, "TC3-HMAC-SHA256\n1551113065\n"
			    "2019-02-25/cvm/tc3_request\n"
			    "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031");
	assert_string_equal(o.authorization,
			    "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/"
			    "2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
			    "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168");
}

/* The DNSPod request as homeport sends it (x-tc-action signed, Chinese line
 * name in the UTF-8 body, a UTC date that is another day in UTC+8).
 * Computed with python3 from the same document's rules:
 *   body = '{"Domain":"example.com","RecordLine":"默认","RecordType":"A",'
 *          '"Subdomain":"www"}'.encode()
 *   ph = sha256(body).hexdigest()
 *     -> 0ae30a3dae225cfd29d7e0b412b3d7034e927c9533ba8c4bd1a2ba2717de65ba
 *   cr = "POST\n/\n\ncontent-type:application/json\nhost:dnspod.tencentcloudapi.com\n"
 *        "x-tc-action:describerecordlist\n\ncontent-type;host;x-tc-action\n" + ph
 *   ch = sha256(cr.encode()).hexdigest()
 *     -> d00bd34410f00749c712331509f8c6999e32c08cb3e31cd3417e0e8088cd47ee
 *   sts = "TC3-HMAC-SHA256\n1709251199\n2024-02-29/dnspod/tc3_request\n" + ch
 *   k = hmac(b"TC3homeport-test-secret", b"2024-02-29"); k = hmac(k, b"dnspod")
 *   k = hmac(k, b"tc3_request"); hmac(k, sts.encode()).hexdigest()
 *     -> a7e753e56cf3dd0acbff8cea018c2ea9b842a87f35e63a4c7af83912ea058070 */
static void test_tc3_independent_vector(void **state)
{
	static const char body[] = "{\"Domain\":\"example.com\",\"RecordLine\":\"默认\","
		"\"RecordType\":\"A\",\"Subdomain\":\"www\"}";
	struct cloudsig_tc3 r = {
		.host = "dnspod.tencentcloudapi.com", .service = "dnspod",
		.action = "DescribeRecordList", .content_type = "application/json",
		.time = 1709251199, .payload = body, .payload_len = strlen(body),
		.sign_action = true, .secret_id = "AKID-test", .secret_key = "homeport-test-secret",
	};
	struct cloudsig_tc3_out o;

	assert_int_equal(cloudsig_tc3_sign(&r, &o), 0);
	assert_string_equal(o.string_to_sign, "TC3-HMAC-SHA256\n1709251199\n"
			    "2024-02-29/dnspod/tc3_request\n"
			    "d00bd34410f00749c712331509f8c6999e32c08cb3e31cd3417e0e8088cd47ee");
	assert_string_equal(o.authorization,
			    "TC3-HMAC-SHA256 Credential=AKID-test/2024-02-29/dnspod/tc3_request, "
			    "SignedHeaders=content-type;host;x-tc-action, "
			    "Signature=a7e753e56cf3dd0acbff8cea018c2ea9b842a87f35e63a4c7af83912ea058070");
}

/* The secret never shows in what the caller gets back; a key id that does
 * not fit the header is an error, not a truncated header. */
static void test_no_secret_in_output(void **state)
{
	char big[700];
	struct cloudsig_acs3 a = {
		.method = "GET", .host = "h", .uri = "/", .query = "", .action = "A",
		.version = "v", .nonce = "n", .time = 0, .key_id = "id",
		.key_secret = "topsecret-value",
	};
	struct cloudsig_acs3_out ao;
	struct cloudsig_tc3 t = {
		.host = "h", .service = "dnspod", .action = "A", .content_type = "application/json",
		.time = 0, .payload = "{}", .payload_len = 2, .secret_id = "id",
		.secret_key = "topsecret-value",
	};
	struct cloudsig_tc3_out to;

	assert_int_equal(cloudsig_acs3_sign(&a, &ao), 0);
	assert_null(strstr(ao.authorization, "topsecret"));
	assert_null(strstr(ao.string_to_sign, "topsecret"));
	assert_int_equal(cloudsig_tc3_sign(&t, &to), 0);
	assert_null(strstr(to.authorization, "topsecret"));
	assert_null(strstr(to.string_to_sign, "topsecret"));
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	a.key_id = big;
	t.secret_id = big;
	assert_int_equal(cloudsig_acs3_sign(&a, &ao), -1);
	assert_int_equal(cloudsig_tc3_sign(&t, &to), -1);
	a.key_id = "id";
	a.time = -1;                    /* before 1970: no date to sign */
	assert_int_equal(cloudsig_acs3_sign(&a, &ao), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acs3_documented_example),
		cmocka_unit_test(test_acs3_independent_vector),
		cmocka_unit_test(test_acs3_query_encoding),
		cmocka_unit_test(test_tc3_documented_example),
		cmocka_unit_test(test_tc3_independent_vector),
		cmocka_unit_test(test_no_secret_in_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
