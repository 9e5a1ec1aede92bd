/* fuzz_cloudflare.c - the Cloudflare v4 reply parser on hostile JSON:
 * never crash, ids that reach a URL are only [A-Za-z0-9_-], messages are
 * printable. The first two bytes pick the HTTP status. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = { 200, 200, 200, 201, 400, 401, 403, 404, 405, 429, 500, 503 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct provider_cf_item item;
	struct ddns_result r;
	long status = 200;
	uint32_t ra = 0;
	char *body;
	int rc;

	if (size >= 2) {
		status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
		ra = data[1] & 1 ? data[1] : 0;
		data += 2;
		size -= 2;
	}
	body = malloc(size ? size : 1);
	if (!body)
		return 0;
	memcpy(body, data, size);
	rc = provider_cloudflare_parse(body, size, status, ra, &item, &r);
	if (rc == 0) {
		if (status < 200 || status > 299)
			abort();
		if (item.found && (item.id[0] == '\0' ||
		    strspn(item.id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789-_") != strlen(item.id)))
			abort();
	} else {
		if (r.outcome == DDNS_OK || r.error[0] == '\0')
			abort();
		for (const char *p = r.error; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				abort();
	}
	free(body);
	return 0;
}
