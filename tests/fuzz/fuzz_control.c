/* fuzz_control.c - control socket request parsing on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_request req;
	const char *error = NULL;

	if (control_parse((const char *)data, size, &req, &error) == 0) {
		/* Accepted: a known command with a bounded, NUL-free argument. */
		if (req.cmd > CTL_EVENTS || strlen(req.arg) > size)
			abort();
	} else if (error == NULL || *error == '\0') {
		abort();
	}
	return 0;
}
