/* libFuzzer target: NAT-PMP replies and announcements (network input),
 * through the pure checks of natpmp_wire.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "natpmp_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct natpmp_wire_msg m;

	if (natpmp_wire_parse(data, size, &m) == 0) {
		if (m.op > 2)
			abort();
		(void)natpmp_wire_matches(&m, m.op, m.int_port);
		(void)natpmp_wire_result_name(m.result);
	}
	if (natpmp_wire_parse_announce(data, size, &m) == 0 && (size != 12 || m.result))
		abort();
	return 0;
}
