/* libFuzzer target: SSDP messages from the LAN (NOTIFY, M-SEARCH answers)
 * through ssdp_parse, which must never read past len. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ssdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes: ASan catches a read past the end. */
	char *buf = malloc(size ? size : 1);
	struct ssdp_msg m;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (ssdp_parse(buf, size, &m) == 0) {
		if (m.kind != SSDP_ALIVE && m.kind != SSDP_RESPONSE)
			abort();
	} else if (m.has_bootid) {
		abort();
	}
	free(buf);
	return 0;
}
