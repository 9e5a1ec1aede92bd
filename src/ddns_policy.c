/* ddns_policy.c - when a DDNS entry sends, how it backs off, and the config
 * fingerprint kept in its state file. Pure functions (see ddns_policy.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddns_policy.h"
#include "digest.h"
#include "homeport.h"
#include "provider.h"
#include "util.h"

uint32_t ddns_policy_backoff(unsigned attempts, uint32_t retry_after, uint32_t rnd)
{
	uint32_t delay = DDNS_BACKOFF_MIN, spread;

	for (unsigned i = 1; i < attempts && delay < DDNS_BACKOFF_MAX; i++)
		delay *= 2;
	if (delay > DDNS_BACKOFF_MAX)
		delay = DDNS_BACKOFF_MAX;
	/* +-10 %: many daemons behind one provider outage must not return in step. */
	spread = delay / 5;
	delay = delay - delay / 10 + rnd % (spread + 1);
	if (retry_after > DDNS_RETRY_AFTER_MAX)
		retry_after = DDNS_RETRY_AFTER_MAX;
	return retry_after > delay ? retry_after : delay;
}

/* A time in the future means the wall clock went back: count it as now, so a
 * clock step never turns a short wait into a long one. */
static int64_t not_after_now(int64_t t, int64_t now)
{
	return t > now ? now : t;
}

/* Does the provider need a request? Repeated "nochg" gets hosts banned, so
 * only a change, a user's request or the keep-alive interval justify one. */
static bool needs_send(const struct ddns_facts *f, int64_t *wait_s)
{
	int64_t due;

	if (f->forced || !f->published_ip || strcmp(f->published_ip, f->ip) != 0)
		return true;
	if (f->force_interval == 0)
		return false;
	if (f->last_update <= 0)
		return true;
	due = not_after_now(f->last_update, f->now) + f->force_interval;
	if (due <= f->now)
		return true;
	*wait_s = due - f->now;
	return false;
}

/* Does the backoff of a temporary failure still hold? Not once the IP is
 * another than the one that failed, unless the provider asked us to wait. */
static bool backoff_holds(const struct ddns_facts *f)
{
	if (f->retry_at <= 0)
		return false;
	return f->told_to_wait || !f->failed_ip || strcmp(f->failed_ip, f->ip) == 0;
}

/* Earliest moment a request may go out: after the backoff and the pacing
 * (a forced update skips both: it has its own, ddns_policy_force_take) and
 * never closer than the preset's min_interval to the last one (that one
 * even a user cannot skip: 3322 answers "abuse" to rapid repeats). */
static int64_t not_before(const struct ddns_facts *f)
{
	int64_t t = 0;

	if (!f->forced && backoff_holds(f)) {
		t = f->retry_at;
		if (t > f->now + DDNS_RETRY_AFTER_MAX)
			t = f->now + DDNS_RETRY_AFTER_MAX;
	}
	if (!f->forced) {
		int64_t paced = f->now + ddns_policy_pace_wait(f->pace_tat, f->now, DDNS_PACE_BURST,
								DDNS_PACE_INTERVAL);
		if (paced > t)
			t = paced;
	}
	if (f->min_interval > 0 && f->last_attempt > 0) {
		int64_t spaced = not_after_now(f->last_attempt, f->now) + f->min_interval;
		if (spaced > t)
			t = spaced;
	}
	return t;
}

enum ddns_verdict ddns_policy_decide(const struct ddns_facts *f, int64_t *wait_s)
{
	int64_t earliest;

	*wait_s = -1;
	if (!f->ip)
		return DDNS_IDLE;
	/* failed stays failed behind CGNAT too: it needs the user either way. */
	if (f->failed && !f->forced)
		return DDNS_IDLE;
	if (!f->is_public)
		return DDNS_BLOCK;
	if (!needs_send(f, wait_s))
		return DDNS_IDLE;
	*wait_s = -1;
	earliest = not_before(f);
	if (earliest > f->now) {
		*wait_s = earliest - f->now;
		return DDNS_WAIT;
	}
	return DDNS_SEND;
}

/* GCRA: *tat is when the bucket would be full again; a request may go
 * while that is at most (burst - 1) intervals ahead. */
static int64_t pace_tat(int64_t tat, int64_t now, unsigned burst, int64_t interval)
{
	const int64_t slack = (int64_t)(burst - 1) * interval;
	int64_t t = tat > now ? tat : now;

	if (t > now + slack + interval)
		t = now + slack + interval;               /* the clock went back */
	return t;
}

int64_t ddns_policy_pace_wait(int64_t tat, int64_t now, unsigned burst, int64_t interval)
{
	const int64_t slack = (int64_t)(burst - 1) * interval;
	int64_t t = pace_tat(tat, now, burst, interval);

	return t - now > slack ? t - now - slack : 0;
}

int64_t ddns_policy_pace_take(int64_t *tat, int64_t now, unsigned burst, int64_t interval)
{
	int64_t wait_s = ddns_policy_pace_wait(*tat, now, burst, interval);

	if (wait_s > 0)
		return wait_s;
	*tat = pace_tat(*tat, now, burst, interval) + interval;
	return 0;
}

int64_t ddns_policy_force_take(int64_t *tat, int64_t now)
{
	return ddns_policy_pace_take(tat, now, DDNS_FORCE_BURST, DDNS_FORCE_INTERVAL);
}

/* Length-prefixed, so "ab"+"c" and "a"+"bc" hash differently; NULL differs from "". */
static int fp_str(struct digest_ctx *md, const char *s)
{
	uint32_t len = s ? (uint32_t)strlen(s) : UINT32_MAX;

	digest_update(md, &len, sizeof(len));
	if (s && len)
		digest_update(md, s, len);
	return 0;
}

static int fp_num(struct digest_ctx *md, uint64_t v)
{
	digest_update(md, &v, sizeof(v));
	return 0;
}

static int fp_value(struct digest_ctx *md, const struct cfgkey *k, const struct cfg_value *v)
{
	int rc = 0;

	if (k->flags & CK_REPEAT) {
		rc |= fp_num(md, v->n_list);
		for (size_t i = 0; i < v->n_list; i++)
			rc |= fp_str(md, v->list[i]);
		return rc;
	}
	switch (k->type) {
	case CK_SECRET_FILE:
	case CK_HEADER_FILE:
		return fp_str(md, v->secret);          /* the content: a new password counts */
	case CK_UINT:
	case CK_DURATION:
	case CK_SECONDS:
	case CK_BOOL:
		return fp_num(md, v->num);
	default:
		return fp_str(md, v->str);
	}
}

/* Every key the provider marks CK_FP, named, unless it holds its default:
 * so a key added to a provider later, with a default, leaves the
 * fingerprints of existing entries (and their state) as they were. */
static int fp_keys(struct digest_ctx *md, const struct cfg_ddns *c)
{
	const struct provider_ops *ops = c->ops;
	struct cfg_value *defs = xcalloc(ops->n_keys, sizeof(*defs));
	int rc = 0;

	cfgkey_defaults(ops->keys, ops->n_keys, defs);
	for (size_t i = 0; i < ops->n_keys; i++) {
		const struct cfgkey *k = &ops->keys[i];
		if ((k->flags & CK_FP) && !cfgkey_equal(k, &c->values[i], &defs[i]))
			rc |= fp_str(md, k->name) | fp_value(md, k, &c->values[i]);
	}
	for (size_t i = 0; i < ops->n_keys; i++)
		cfgkey_free(&ops->keys[i], &defs[i]);
	free(defs);
	return rc;
}

static int fp_hostnames(struct digest_ctx *md, const struct cfg_ddns *c)
{
	int rc = fp_num(md, c->n_hostnames);

	for (size_t i = 0; i < c->n_hostnames; i++)
		rc |= fp_str(md, c->hostnames[i]);
	return rc;
}

static int fp_fields(struct digest_ctx *md, const struct cfg_ddns *c)
{
	int rc = 0;

	rc |= fp_str(md, c->provider);
	rc |= fp_hostnames(md, c);
	rc |= fp_keys(md, c);
	return rc ? -1 : 0;
}

/* ---- upgrade only: the fingerprint of release 0.1.0 -------------------
 * 0.1.0 (commit 6bd72cf) hashed a fixed list of struct fields, not named
 * keys. Remove this part and its use in ddns.c load_state() once upgrading
 * straight from 0.1.0 is no longer supported (say so in that release's
 * notes); without it such an upgrade sends one needless update per entry. */

/* 0.1.0's enum ddns_family, in its order: the number is what it hashed. */
static const char *const legacy_families[] = {
	"dyndns2", "cloudflare", "duckdns", "rfc2136", "webhook",
};

/* The fields 0.1.0 hashed after the hostnames, in its order, as the keys
 * that hold them now. A provider without the key hashes it unset: NULL for
 * text, 0 for numbers, an empty list for headers, as 0.1.0 left them. */
static const struct cfgkey legacy_keys[] = {
	{ .name = "server", .type = CK_STRING },
	{ .name = "username", .type = CK_STRING },
	{ .name = "password_file", .type = CK_SECRET_FILE },
	{ .name = "token_file", .type = CK_SECRET_FILE },
	{ .name = "zone", .type = CK_STRING },
	{ .name = "ttl", .type = CK_SECONDS },
	{ .name = "proxied", .type = CK_BOOL },
	{ .name = "key_name", .type = CK_STRING },
	{ .name = "key_algorithm", .type = CK_STRING },
	{ .name = "key_secret_file", .type = CK_SECRET_FILE },
	{ .name = "url", .type = CK_STRING },
	{ .name = "method", .type = CK_STRING },
	{ .name = "header", .type = CK_HEADER, .flags = CK_REPEAT },
	{ .name = "body", .type = CK_STRING },
	{ .name = "success_regex", .type = CK_STRING },
	{ .name = "allow_http", .type = CK_BOOL },
};

/* A provider or a fingerprinted key 0.1.0 did not have (header_file, ...)
 * means this config cannot be the one its state file was written for. */
static int legacy_family(const struct cfg_ddns *c)
{
	const struct provider_ops *ops = c->ops;
	int family = -1;

	for (size_t i = 0; i < HP_ARRAY_LEN(legacy_families); i++)
		if (strcmp(ops->name, legacy_families[i]) == 0)
			family = (int)i;
	for (size_t i = 0; family >= 0 && i < ops->n_keys; i++)
		if ((ops->keys[i].flags & CK_FP) && cfgkey_present(&ops->keys[i], &c->values[i]) &&
		    cfgkey_find(legacy_keys, HP_ARRAY_LEN(legacy_keys), ops->keys[i].name) < 0)
			family = -1;
	return family;
}

static int fp_legacy_fields(struct digest_ctx *md, const struct cfg_ddns *c)
{
	static const struct cfg_value unset;
	const struct provider_ops *ops = c->ops;
	int family = legacy_family(c), rc = 0;

	if (family < 0)
		return -1;
	rc |= fp_str(md, c->provider);
	rc |= fp_num(md, (uint64_t)family);
	rc |= fp_hostnames(md, c);
	for (size_t j = 0; j < HP_ARRAY_LEN(legacy_keys); j++) {
		ssize_t i = cfgkey_find(ops->keys, ops->n_keys, legacy_keys[j].name);
		rc |= i < 0 ? fp_value(md, &legacy_keys[j], &unset)
			    : fp_value(md, &ops->keys[i], &c->values[i]);
	}
	return rc ? -1 : 0;
}

/* ---- end of the upgrade-only part ---- */

static int fingerprint(const struct cfg_ddns *c, const char *salt, char *out,
		       int (*fields)(struct digest_ctx *, const struct cfg_ddns *))
{
	uint8_t d[DIGEST_MAX];
	struct digest_ctx md;

	_Static_assert(DDNS_FP_LEN / 2 <= 32, "a fingerprint is at most a SHA-256");
	digest_init(&md, DIGEST_SHA256);
	if (fp_str(&md, salt) < 0 || fields(&md, c) < 0)
		return -1;
	digest_final(&md, d);
	for (size_t i = 0; i < DDNS_FP_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	return 0;
}

int ddns_policy_fingerprint(const struct cfg_ddns *c, const char *salt, char *out)
{
	return fingerprint(c, salt, out, fp_fields);
}

int ddns_policy_fingerprint_legacy(const struct cfg_ddns *c, const char *salt, char *out)
{
	return fingerprint(c, salt, out, fp_legacy_fields);
}
