/* ipsource.h - where the external IPv4 comes from ([gateway] ip_source).
 *
 * Between the gateway and the DDNS side: gateway.c reports what the router
 * says, this module decides which source is in use (the router, web
 * sources through ipweb.c, or an interface through ipif.c) and hands the
 * address of that source on. auto uses the router while it answers with an
 * address (or with two that disagree: then nothing new, SPEC "Which gateway
 * is trusted") and the web sources while it does not, switching back as soon
 * as the router answers again. */
#ifndef HP_IPSOURCE_H
#define HP_IPSOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "config.h"

struct ipsource_hooks {
	/* The external IPv4 of the source in use (NULL: unknown), and whether
	 * it is public. Called when either changes; every source hands on
	 * only what it vouches for (the router's answer to our own request,
	 * web sources that agree, the kernel's address of an interface). */
	void (*ip_changed)(const char *ip, bool is_public);
};

int  ipsource_init(const struct hp_config *cfg, const struct ipsource_hooks *hooks);
void ipsource_apply_config(const struct hp_config *cfg);
void ipsource_fini(void);

/* gateway.c's report: the router's external IP, NULL when it has none or
 * does not answer. */
void ipsource_gateway_ip(const char *ip, bool is_public);
/* gateway.c's report that the router's protocols disagree on the external
 * IP: the router answers, so auto does not turn to the web sources, and
 * nothing new is handed on until the router names one address again. */
void ipsource_gateway_disputed(void);

void ipsource_refresh(void);                 /* homeportctl refresh */

/* The address handed on last, NULL when none (status of manual services). */
const char *ipsource_ip(void);

/* Status: sets gateway.ip_source ("gateway", "web", "interface"),
 * ip_source_detail (a sentence) and, for the web, web_sources; for a
 * source other than the router also external_ip, external_ip_public and
 * error (gw is the "gateway" object). */
void ipsource_status(json_t *gw);

/* The sentence of ip_source_detail: "no mapping protocol answered;
 * external IP from web sources A and B (agree)". */
void ipsource_describe(char *buf, size_t len);

/* --probe: when the router is not the source (router_ip: it reported an
 * address), ask the source the daemon would use, running the event loop
 * until it reports; its address (or "") into ip and the sentence into
 * text. false when the router is the source (nothing asked). */
bool ipsource_probe(const struct hp_config *cfg, bool router_ip, char *ip, size_t iplen,
		    char *text, size_t textlen);

#endif
