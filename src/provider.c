/* provider.c - the table of provider names users can write in
 * "provider = ...": the five protocol families and the dyndns2 presets
 * with their real update URLs and quirks (see homeport.conf(5)). */
#include <string.h>

#include "provider.h"

static const struct provider_preset presets[] = {
	/* generic families */
	{ "dyndns2", DDNS_DYNDNS2, NULL, 0, NULL, 0,
	  "any dyndns2 server; \"server\" is the update URL" },
	{ "cloudflare", DDNS_CLOUDFLARE, "https://api.cloudflare.com/client/v4", 0, NULL, 0,
	  "Cloudflare API v4 with an API token" },
	{ "duckdns", DDNS_DUCKDNS, "https://www.duckdns.org/update", 0, NULL, 0,
	  "DuckDNS; hostnames without .duckdns.org also accepted" },
	{ "rfc2136", DDNS_RFC2136, NULL, 0, NULL, 0,
	  "DNS UPDATE signed with TSIG, e.g. BIND or Knot" },
	{ "webhook", DDNS_WEBHOOK, NULL, 0, NULL, 0,
	  "any HTTP API through a URL template" },

	/* dyndns2 presets */
	{ "dyndns", DDNS_DYNDNS2, "https://members.dyndns.org/nic/update", 0, NULL, 0,
	  "Dyn (Oracle)" },
	{ "noip", DDNS_DYNDNS2, "https://dynupdate.no-ip.com/nic/update", 0, NULL, 0,
	  "No-IP; username is the account e-mail or a DDNS key user" },
	{ "dynu", DDNS_DYNDNS2, "https://api.dynu.com/nic/update", 0, NULL, 0,
	  "Dynu" },
	{ "he", DDNS_DYNDNS2, "https://dyn.dns.he.net/nic/update",
	  PRESET_ONE_HOST_PER_REQUEST | PRESET_USER_IS_HOSTNAME | PRESET_NO_USERNAME, NULL, 0,
	  "Hurricane Electric; one host per request, the password is the record's key" },
	{ "3322", DDNS_DYNDNS2, "https://members.3322.net/dyndns/update", 0, NULL, 60,
	  "3322 / pubyun; at most one update a minute" },
	{ "oray", DDNS_DYNDNS2, "https://ddns.oray.com/ph/update",
	  PRESET_ONE_HOST_PER_REQUEST, NULL, 0,
	  "Oray (Peanut Hull); one host per request" },
	{ "desec", DDNS_DYNDNS2, "https://update.dedyn.io/",
	  PRESET_STATUS_BY_HTTP, NULL, 60,
	  "deSEC; username is the domain, errors are HTTP statuses" },
	{ "ovh", DDNS_DYNDNS2, "https://www.ovh.com/nic/update",
	  PRESET_ONE_HOST_PER_REQUEST, "system=dyndns", 0,
	  "OVH DynHost" },
	{ "strato", DDNS_DYNDNS2, "https://dyndns.strato.com/nic/update", 0, NULL, 0,
	  "Strato" },
	{ "dnsomatic", DDNS_DYNDNS2, "https://updates.dnsomatic.com/nic/update", 0, NULL, 0,
	  "DNS-O-Matic; one update fans out to the account's services" },
	{ "nsupdate.info", DDNS_DYNDNS2, "https://ipv4.nsupdate.info/nic/update",
	  PRESET_ONE_HOST_PER_REQUEST, NULL, 0,
	  "nsupdate.info" },
};

const struct provider_preset *provider_preset_find(const char *name)
{
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		if (strcmp(presets[i].name, name) == 0)
			return &presets[i];
	return NULL;
}

const struct provider_preset *provider_preset_at(size_t i)
{
	return i < sizeof(presets) / sizeof(presets[0]) ? &presets[i] : NULL;
}

const struct provider_ops *provider_ops_for(enum ddns_family family)
{
	switch (family) {
	case DDNS_DYNDNS2:    return &provider_dyndns2_ops;
	case DDNS_CLOUDFLARE: return &provider_cloudflare_ops;
	case DDNS_DUCKDNS:    return &provider_duckdns_ops;
	case DDNS_RFC2136:    return &provider_rfc2136_ops;
	case DDNS_WEBHOOK:    return &provider_webhook_ops;
	}
	return NULL;
}
