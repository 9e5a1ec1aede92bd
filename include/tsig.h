/* tsig.h - TSIG keys (RFC 8945): parsing what users put in key_secret_file,
 * and signing/verifying DNS messages with HMAC (OpenSSL). */
#ifndef HP_TSIG_H
#define HP_TSIG_H

#include <stdbool.h>
#include <stddef.h>

/* text is either a bare base64 secret or a BIND key file as tsig-keygen
 * writes it: key "NAME" { algorithm ALG; secret "B64"; };
 * On success returns 0 and sets *name and *algorithm (malloc'd, NULL when
 * the text does not say) and *secret_b64 (malloc'd). On error returns -1
 * and writes a one-line reason (never containing the secret) to err. */
int tsig_key_parse(const char *text, char **name, char **algorithm,
		   char **secret_b64, char *err, size_t errlen);

/* "hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1", "hmac-md5". */
bool tsig_algorithm_supported(const char *algorithm);

#endif
