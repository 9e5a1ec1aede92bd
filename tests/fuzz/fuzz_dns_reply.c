/* libFuzzer target: DNS UPDATE replies (network input) through the strict
 * walk of dns_msg.c and the TSIG check of tsig.c, and the same bytes as a
 * key file through tsig_key_parse (files users hand us). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_msg.h"
#include "tsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reply(const uint8_t *data, size_t size)
{
	static const uint8_t req_mac[32] = { 1, 2, 3 };
	struct tsig_key k;
	struct dns_reply r;
	struct tsig_rr rr;
	const char *why;
	char err[128];

	if (dns_msg_parse_reply(data, size, &r, &why) < 0) {
		if (why == NULL || why[0] == '\0')
			abort();
		return;
	}
	if (r.tsig_off >= size || (r.tsig_off && r.tc))
		abort();
	if (tsig_key_init(&k, "homeport-key", "hmac-sha256",
			  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", err, sizeof(err)) < 0)
		abort();
	switch (tsig_verify(&k, data, size, r.tsig_off, req_mac, sizeof(req_mac), 1700000000, &rr)) {
	case TSIG_VERIFIED:
		abort();               /* forging a MAC would be news */
	case TSIG_UNSIGNED_ERROR:
		if (rr.mac_size != 0 || rr.error == 0)
			abort();
		break;
	default:
		break;
	}
	(void)tsig_error_name(rr.error);
	(void)dns_rcode_name(r.rcode);
}

static void check_names(const uint8_t *data, size_t size)
{
	uint8_t out[DNS_NAME_MAX];

	for (size_t off = 0; off < size && off < 64; off++) {
		size_t o = off;
		int n = dns_name_read(data, size, &o, out, sizeof(out));
		if (n > DNS_NAME_MAX || (n >= 0 && (o <= off || o > size)))
			abort();
	}
}

static void check_keytext(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *n, *a, *s, err[256];

	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (tsig_key_parse(text, &n, &a, &s, err, sizeof(err)) == 0) {
		if (s == NULL || s[0] == '\0')
			abort();
		free(n);
		free(a);
		free(s);
	} else if (err[0] == '\0') {
		abort();
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_reply(data, size);
	check_names(data, size);
	check_keytext(data, size);
	return 0;
}
