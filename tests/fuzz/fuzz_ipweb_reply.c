/* fuzz_ipweb_reply.c - the web IP source reply parser on hostile bodies:
 * never crash, never read past len; an accepted address is public and
 * written in the body exactly as inet_ntop writes it; any refusal comes
 * with a printable sentence. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipweb_policy.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[160], ip[INET_ADDRSTRLEN];
	struct in_addr a;
	/* An exact-size copy: ASan catches any read past the reply. */
	char *body = malloc(size ? size : 1);
	enum ipweb_reply r;

	if (!body)
		return 0;
	memcpy(body, data, size);
	r = ipweb_policy_parse(body, size, &a, why, sizeof(why));
	if (r == IPWEB_REPLY_OK) {
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		if (!ipv4_is_public(a) || why[0] != '\0' || !memmem(body, size, ip, strlen(ip)))
			abort();
	} else if (r != IPWEB_REPLY_GARBAGE && r != IPWEB_REPLY_NOT_PUBLIC) {
		abort();
	} else if (why[0] == '\0') {
		abort();
	}
	for (const char *p = why; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			abort();
	free(body);
	return 0;
}
