/* fuzz_clouddns.c - the Alibaba Cloud DNS and DNSPod reply parsers on
 * hostile bytes: never crash; a record id that reaches a request is plain
 * ([A-Za-z0-9_-]); a failure always has an outcome and a printable
 * sentence. The first byte picks the API and the call, the second the HTTP
 * status. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clouddns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = { 200, 200, 200, 400, 403, 404, 429, 500, 503 };

static void check_text(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct clouddns_api *api = &provider_alidns_api;
	enum clouddns_op op = CLOUDDNS_LOOKUP;
	struct clouddns_target t;
	struct clouddns_reply rep;
	struct ddns_result res;
	long status = 200;
	char *body;

	if (size >= 2) {
		api = data[0] & 1 ? &provider_dnspod_api : &provider_alidns_api;
		op = (enum clouddns_op)((data[0] >> 1) % 3);
		status = statuses[data[1] % (sizeof(statuses) / sizeof(statuses[0]))];
		data += 2;
		size -= 2;
	}
	memset(&t, 0, sizeof(t));
	if (clouddns_target_names(&t, "www.example.com", "example.com") < 0)
		abort();
	t.zone = "example.com";
	t.type = "A";
	t.line = api->default_line;
	t.value = "203.0.113.7";
	body = malloc(size ? size : 1);
	if (!body)
		return 0;
	memcpy(body, data, size);
	if (clouddns_parse(api, op, &t, body, size, status, 0, &rep, &res) == 0) {
		if ((rep.matches || rep.record_id[0]) && rep.record_id[0] &&
		    !clouddns_id_ok(rep.record_id))
			abort();
		if (op == CLOUDDNS_LOOKUP && rep.matches && !rep.record_id[0])
			abort();
		check_text(rep.value);
	} else {
		if (res.outcome == DDNS_OK || res.error[0] == '\0')
			abort();
		check_text(res.error);
	}
	free(body);
	return 0;
}
