/* upnp_soap.h - the one SOAP check of homeport-upnp-helper (soap.c): is
 * the router's reply a complete SOAP envelope whose body holds
 * <ACTION>Response? The first three start tags must be Envelope, Body and
 * that element (any namespace prefix), and the envelope must be closed
 * (no cut-off reply). Pure, so that the fuzzer can feed it anything. */
#ifndef HP_UPNP_SOAP_H
#define HP_UPNP_SOAP_H

#include <stdbool.h>
#include <stddef.h>

bool soap_response_ok(const char *buf, size_t size, const char *action);

#endif
