/* pcp_store.c - PCP mapping nonces in <state_dir>/pcp.json:
 *   {"nonces": [{"proto": "tcp", "host": "192.168.77.10", "port": 8080,
 *                "nonce": "<24 hex digits>"}, ...]}
 * A small table in memory, the whole file rewritten (state.c, atomic)
 * whenever it changes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <jansson.h>

#include "log.h"
#include "pcp_store.h"
#include "state.h"
#include "util.h"

#define STORE_NAME "pcp"
#define STORE_MAX 1024              /* far beyond any configuration */

struct nonce_rec {
	uint8_t proto;
	uint16_t port;
	char host[INET6_ADDRSTRLEN];
	uint8_t nonce[PCP_NONCE_LEN];
};

static struct {
	char *dir;
	struct nonce_rec *recs;
	size_t n, cap;
	bool dirty;                  /* changed since the last save */
} S;

void pcp_store_hex(const uint8_t nonce[PCP_NONCE_LEN], char out[2 * PCP_NONCE_LEN + 1])
{
	for (size_t i = 0; i < PCP_NONCE_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", nonce[i]);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int pcp_store_unhex(const char *hex, uint8_t nonce[PCP_NONCE_LEN])
{
	if (!hex || strlen(hex) != 2 * PCP_NONCE_LEN)
		return -1;
	for (size_t i = 0; i < PCP_NONCE_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		nonce[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* The nonce is what proves a mapping is ours: it must not be guessable,
 * so no clock-and-pid fallback. */
int pcp_store_random(uint8_t nonce[PCP_NONCE_LEN])
{
	ssize_t n = getrandom(nonce, PCP_NONCE_LEN, GRND_NONBLOCK);
	int fd;

	if (n == PCP_NONCE_LEN)
		return 0;
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, nonce, PCP_NONCE_LEN);
	close(fd);
	return n == PCP_NONCE_LEN ? 0 : -1;
}

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

/* The key, canonical: hosts compare as addresses, not as spellings. */
static int make_key(struct nonce_rec *k, uint8_t proto, const char *host, uint16_t port)
{
	struct in6_addr a;

	memset(k, 0, sizeof(*k));
	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || port == 0 ||
	    pcp_wire_addr(host, &a) < 0)
		return -1;
	k->proto = proto;
	k->port = port;
	pcp_wire_addr_str(&a, k->host);
	return 0;
}

static struct nonce_rec *find(const struct nonce_rec *k)
{
	for (size_t i = 0; i < S.n; i++)
		if (S.recs[i].proto == k->proto && S.recs[i].port == k->port &&
		    strcmp(S.recs[i].host, k->host) == 0)
			return &S.recs[i];
	return NULL;
}

static int save(void)
{
	json_t *root, *arr;
	int rc;

	if (!S.dir)
		return 0;
	S.dirty = false;
	arr = json_array();
	for (size_t i = 0; i < S.n; i++) {
		char hex[2 * PCP_NONCE_LEN + 1];

		pcp_store_hex(S.recs[i].nonce, hex);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:s}",
			"proto", proto_name(S.recs[i].proto), "host", S.recs[i].host,
			"port", (int)S.recs[i].port, "nonce", hex));
	}
	root = json_pack("{s:o}", "nonces", arr);
	rc = root ? state_save_json(S.dir, STORE_NAME, root) : -1;
	json_decref(root);
	return rc;
}

static int add(const struct nonce_rec *r)
{
	if (S.n >= STORE_MAX)
		return -1;
	if (S.n == S.cap) {
		S.cap = S.cap ? 2 * S.cap : 16;
		S.recs = xrealloc(S.recs, S.cap, sizeof(*S.recs));
	}
	S.recs[S.n++] = *r;
	return 0;
}

static int load_one(json_t *o)
{
	const char *proto = NULL, *host = NULL, *hex = NULL;
	int port = 0;
	struct nonce_rec r;
	uint8_t p;

	if (json_unpack(o, "{s:s, s:s, s:i, s:s}", "proto", &proto, "host", &host,
			"port", &port, "nonce", &hex) < 0)
		return -1;
	p = strcmp(proto, "udp") == 0 ? IPPROTO_UDP : strcmp(proto, "tcp") == 0 ? IPPROTO_TCP : 0;
	if (port < 1 || port > 65535 || make_key(&r, p, host, (uint16_t)port) < 0 ||
	    pcp_store_unhex(hex, r.nonce) < 0 || find(&r))
		return -1;
	return add(&r);
}

static void load(void)
{
	json_t *root = state_load_json(S.dir, STORE_NAME), *arr, *o;
	size_t i, bad = 0;

	if (!root)
		return;
	arr = json_object_get(root, "nonces");
	json_array_foreach(arr, i, o)
		if (load_one(o) < 0)
			bad++;
	if (bad)
		log_warnx("%s/%s.json: %zu invalid PCP nonce record(s) ignored", S.dir,
			  STORE_NAME, bad);
	json_decref(root);
}

void pcp_store_open(const char *dir)
{
	pcp_store_close();
	S.dir = dir ? xstrdup(dir) : NULL;
	if (S.dir)
		load();
}

int pcp_store_sync(void)
{
	if (!S.dirty)
		return 0;
	if (save() == 0)
		return 0;
	S.dirty = true;
	log_warnx("PCP: could not save the mapping nonces in %s", S.dir);
	return -1;
}

void pcp_store_close(void)
{
	pcp_store_sync();
	free(S.dir);
	free(S.recs);
	memset(&S, 0, sizeof(S));
}

bool pcp_store_lookup(uint8_t proto, const char *int_host, uint16_t int_port,
		      uint8_t nonce[PCP_NONCE_LEN])
{
	struct nonce_rec k, *r;

	if (make_key(&k, proto, int_host, int_port) < 0 || !(r = find(&k)))
		return false;
	memcpy(nonce, r->nonce, PCP_NONCE_LEN);
	return true;
}

int pcp_store_nonce(uint8_t proto, const char *int_host, uint16_t int_port,
		    uint8_t nonce[PCP_NONCE_LEN])
{
	struct nonce_rec k;

	if (pcp_store_lookup(proto, int_host, int_port, nonce))
		return 0;
	if (make_key(&k, proto, int_host, int_port) < 0)
		return -1;
	if (pcp_store_random(k.nonce) < 0) {
		log_warnx("PCP: no randomness for a mapping nonce");
		return -1;
	}
	if (add(&k) < 0) {
		log_warnx("PCP: more than %d mapping nonces kept; not adding another", STORE_MAX);
		return -1;
	}
	S.dirty = true;
	memcpy(nonce, k.nonce, PCP_NONCE_LEN);
	return 0;
}

void pcp_store_forget(uint8_t proto, const char *int_host, uint16_t int_port)
{
	struct nonce_rec k, *r;

	if (make_key(&k, proto, int_host, int_port) < 0 || !(r = find(&k)))
		return;
	*r = S.recs[--S.n];
	S.dirty = true;
}
