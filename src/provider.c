/* provider.c - the table of provider names users can write in
 * "provider = ...": the protocol families and the dyndns2 presets with
 * their real update URLs and quirks (see homeport.conf(5)). A new family
 * is one extern line and one row here; its provider_X.c does the rest. */
#include <stdio.h>
#include <string.h>

#include "homeport.h"
#include "provider.h"

extern const struct provider_ops provider_dyndns2_ops;     /* provider_dyndns2.c */
extern const struct provider_ops provider_cloudflare_ops;  /* provider_cloudflare.c */
extern const struct provider_ops provider_duckdns_ops;     /* provider_duckdns.c */
extern const struct provider_ops provider_rfc2136_ops;     /* provider_rfc2136.c */
extern const struct provider_ops provider_webhook_ops;     /* provider_webhook.c */
extern const struct provider_ops provider_alidns_ops;      /* provider_alidns.c */
extern const struct provider_ops provider_dnspod_ops;      /* provider_dnspod.c */

static const struct provider_preset presets[] = {
	/* generic families */
	{ "dyndns2", &provider_dyndns2_ops, NULL, 0, NULL, 0,
	  "any dyndns2 server; \"server\" is the update URL", PRESET_V6_MYIPV6, NULL },
	{ "cloudflare", &provider_cloudflare_ops, "https://api.cloudflare.com/client/v4", 0, NULL, 0,
	  "Cloudflare API v4 with an API token", PRESET_V6_MYIPV6, NULL },
	{ "duckdns", &provider_duckdns_ops, "https://www.duckdns.org/update", 0, NULL, 0,
	  "DuckDNS; hostnames without .duckdns.org also accepted", PRESET_V6_MYIPV6, NULL },
	{ "rfc2136", &provider_rfc2136_ops, NULL, 0, NULL, 0,
	  "DNS UPDATE signed with TSIG, e.g. BIND or Knot", PRESET_V6_MYIPV6, NULL },
	{ "webhook", &provider_webhook_ops, NULL, 0, NULL, 0,
	  "any HTTP API through a URL template", PRESET_V6_MYIPV6, NULL },
	{ "alidns", &provider_alidns_ops, "https://alidns.aliyuncs.com/", 0, NULL, 0,
	  "Alibaba Cloud DNS, API 2015-01-09, ACS3-HMAC-SHA256 signatures", PRESET_V6_MYIPV6,
	  NULL },
	{ "dnspod", &provider_dnspod_ops, "https://dnspod.tencentcloudapi.com/", 0, NULL, 0,
	  "Tencent Cloud DNSPod, API 3.0 (2021-03-23), TC3-HMAC-SHA256 signatures",
	  PRESET_V6_MYIPV6, NULL },

	/* dyndns2 presets */
	{ "dyndns", &provider_dyndns2_ops, "https://members.dyndns.org/nic/update", 0, NULL, 0,
	  "Dyn (Oracle)", PRESET_V6_NONE, NULL },
	{ "noip", &provider_dyndns2_ops, "https://dynupdate.no-ip.com/nic/update", 0, NULL, 0,
	  "No-IP; username is the account e-mail or a DDNS key user", PRESET_V6_MYIP, NULL },
	{ "dynu", &provider_dyndns2_ops, "https://api.dynu.com/nic/update", 0, NULL, 0,
	  "Dynu", PRESET_V6_MYIPV6, NULL },
	{ "he", &provider_dyndns2_ops, "https://dyn.dns.he.net/nic/update",
	  PRESET_ONE_HOST_PER_REQUEST | PRESET_USER_IS_HOSTNAME | PRESET_NO_USERNAME, NULL, 0,
	  "Hurricane Electric; one host per request, the password is the record's key",
	  PRESET_V6_MYIP, NULL },
	{ "3322", &provider_dyndns2_ops, "https://members.3322.net/dyndns/update", 0, NULL, 60,
	  "3322 / pubyun; at most one update a minute", PRESET_V6_NONE, NULL },
	{ "oray", &provider_dyndns2_ops, "https://ddns.oray.com/ph/update",
	  PRESET_ONE_HOST_PER_REQUEST, NULL, 0,
	  "Oray (Peanut Hull); one host per request", PRESET_V6_NONE, NULL },
	{ "desec", &provider_dyndns2_ops, "https://update.dedyn.io/",
	  PRESET_STATUS_BY_HTTP, NULL, 60,
	  "deSEC; username is the domain, errors are HTTP statuses", PRESET_V6_DESEC, NULL },
	{ "ovh", &provider_dyndns2_ops, "https://www.ovh.com/nic/update",
	  PRESET_ONE_HOST_PER_REQUEST, "system=dyndns", 0,
	  "OVH DynHost", PRESET_V6_NONE, NULL },
	{ "strato", &provider_dyndns2_ops, "https://dyndns.strato.com/nic/update", 0, NULL, 0,
	  "Strato", PRESET_V6_MYIP, NULL },
	{ "dnsomatic", &provider_dyndns2_ops, "https://updates.dnsomatic.com/nic/update", 0, NULL, 0,
	  "DNS-O-Matic; one update fans out to the account's services", PRESET_V6_NONE, NULL },
	{ "nsupdate.info", &provider_dyndns2_ops, "https://ipv4.nsupdate.info/nic/update",
	  PRESET_ONE_HOST_PER_REQUEST, NULL, 0,
	  "nsupdate.info", PRESET_V6_MYIP,
	  "https://ipv6.nsupdate.info/nic/update" },
};

const struct provider_preset *provider_preset_find(const char *name)
{
	for (size_t i = 0; i < HP_ARRAY_LEN(presets); i++)
		if (strcmp(presets[i].name, name) == 0)
			return &presets[i];
	return NULL;
}

unsigned provider_records(const struct provider_preset *p)
{
	unsigned r = p->ops->records;

	if (p->ops == &provider_dyndns2_ops && p->v6 == PRESET_V6_NONE)
		r &= ~(unsigned)DDNS_REC_AAAA;
	return r;
}

const struct provider_preset *provider_preset_at(size_t i)
{
	return i < HP_ARRAY_LEN(presets) ? &presets[i] : NULL;
}

const struct cfgkey *provider_key_any(const char *name)
{
	for (size_t i = 0; i < HP_ARRAY_LEN(presets); i++) {
		const struct provider_ops *ops = presets[i].ops;
		ssize_t k = cfgkey_find(ops->keys, ops->n_keys, name);
		if (k >= 0)
			return &ops->keys[k];
	}
	return NULL;
}

void *provider_start(const struct provider_ops *ops, const struct cfg_ddns *cfg,
		     enum ddns_record rec, const char *addr, ddns_done_cb done, void *ctx,
		     struct ddns_result *res)
{
	if (!(ops->records & rec)) {
		memset(res, 0, sizeof(*res));
		res->outcome = DDNS_PERMFAIL;
		snprintf(res->error, sizeof(res->error), "provider %s cannot publish %s records",
			 cfg->provider ? cfg->provider : ops->name,
			 rec == DDNS_REC_AAAA ? "AAAA" : "A");
		return NULL;
	}
	return ops->start(cfg, rec, addr, done, ctx, res);
}
