/* libFuzzer target: a router's reply to AddPortMapping through the UPnP
 * helper's SOAP check (src/upnp-helper/soap.c), which must never read past
 * size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upnp_soap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);     /* exactly size bytes: ASan sees overreads */

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	(void)soap_response_ok(buf, size, "AddPortMapping");
	(void)soap_response_ok(buf, size, "");
	free(buf);
	return 0;
}
