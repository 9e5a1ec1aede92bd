/* fuzz_dyndns2.c - the dyndns2 reply parser on hostile bodies: never
 * crash, never read past len, always a verdict with a printable message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = {
		"a.dyn.example", "b.dyn.example", "c.dyn.example", "d.dyn.example",
	};
	struct ddns_result r;
	size_t n = size ? (size_t)(data[0] % 4) + 1 : 1;
	/* An exact-size copy: ASan catches any read past the reply. */
	char *body = malloc(size ? size : 1);

	if (!body)
		return 0;
	memcpy(body, data, size);
	provider_dyndns2_parse(body, size, hosts, n, &r);
	if (r.outcome != DDNS_OK && r.outcome != DDNS_TEMPFAIL && r.outcome != DDNS_PERMFAIL)
		abort();
	if (r.outcome != DDNS_OK && r.error[0] == '\0')
		abort();
	for (const char *p = r.error; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			abort();
	free(body);
	return 0;
}
