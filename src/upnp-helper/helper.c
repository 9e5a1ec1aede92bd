/* homeport-upnp-helper - the process that runs miniupnpc. miniupnpc
 * blocks (3 s connect, 5 s per read, no overall bound), reads whole bodies
 * into memory and parses XML from any LAN host, so it runs here, a program
 * of its own linked with miniupnpc alone: exec'd by the daemon (never a
 * copy of it, so no secret was ever in its memory), with the socket to
 * the daemon as fd 3 and nothing else open, no environment, tied to the
 * daemon's life, unprivileged, memory capped, and under a seccomp filter
 * that leaves it the network and its socket only (sandbox.c). It answers
 * one request at a time and keeps the IGD it found between requests; the
 * daemon runs a few of them when it has several requests for the router
 * (each then has its own connection to it), and hands those the IGD the
 * first one found.
 *
 * Trust: it is told the gateway (the host's default router) and uses an
 * IGD only there: SSDP answers whose description lives at another address
 * are ignored and reported back, so the daemon can say so. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
#include <miniupnpc/upnpreplyparse.h>

#include "sandbox.h"
#include "upnp_sandbox.h"
#include "upnp_soap.h"
#include "upnp_wire.h"

#if MINIUPNPC_API_VERSION < 17
#error "miniupnpc API 17 or later needed"
#endif

#define HELPER_FD UPNP_HELPER_FD
#define DISCOVER_MS 2000

static struct {
	bool have_igd;
	bool full;                   /* from the description (else handed over) */
	struct UPNPUrls urls;
	struct IGDdatas data;
	char lanaddr[64];
	char root[256];
} igd;

static const struct { int code; const char *name; } upnp_errors[] = {
	{ 402, "InvalidArgs" }, { 501, "ActionFailed" }, { 606, "ActionNotAuthorized" },
	{ 714, "NoSuchEntryInArray" }, { 715, "WildCardNotPermittedInSrcIP" },
	{ 716, "WildCardNotPermittedInExtPort" }, { 718, "ConflictInMappingEntry" },
	{ 724, "SamePortValuesRequired" }, { 725, "OnlyPermanentLeasesSupported" },
	{ 726, "RemoteHostOnlySupportsWildcard" }, { 727, "ExternalPortOnlySupportsWildcard" },
	{ 728, "NoPortMapsAvailable" }, { 729, "ConflictWithOtherMechanisms" },
};

static const char *upnp_error_name(int code)
{
	const char *s;

	for (size_t i = 0; i < sizeof(upnp_errors) / sizeof(upnp_errors[0]); i++)
		if (upnp_errors[i].code == code)
			return upnp_errors[i].name;
	s = strupnperror(code);
	return s ? s : "Error";
}

/* Bounded copy of a string that came out of miniupnpc (NULL allowed). */
static void copy(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static void copy_ipv4(char *dst, size_t size, const char *src)
{
	struct in_addr a;
	char tmp[64];

	copy(tmp, sizeof(tmp), src);
	if (inet_pton(AF_INET, tmp, &a) == 1)
		inet_ntop(AF_INET, &a, dst, size);
	else
		dst[0] = '\0';
}

static void fail(struct upnp_result *r, enum upnp_status s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct upnp_result *r, enum upnp_status s, const char *fmt, ...)
{
	va_list ap;

	r->status = s;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

/* A miniupnpc command's return value: > 0 is the router's UPnP error. */
static void command_failed(struct upnp_result *r, const char *what, int rc)
{
	static const char *const lib[] = {
		"", "no usable answer", "invalid arguments", "no valid HTTP response",
		"invalid response", "out of memory",
	};

	if (rc > 0) {
		r->upnp_code = rc;
		fail(r, UPNP_ST_ERROR, "UPnP %d %s", rc, upnp_error_name(rc));
	} else {
		fail(r, UPNP_ST_ERROR, "%s failed: %s", what,
		     rc < 0 && rc >= -5 ? lib[-rc] : "unknown error");
	}
}

static void drop_igd(void)
{
	if (igd.have_igd)
		FreeUPNPUrls(&igd.urls);
	memset(&igd, 0, sizeof(igd));
}

/* "http://192.168.1.1:5000/ctl" -> "192.168.1.1" (IPv4 literals only). */
static void url_host(char *dst, size_t size, const char *url)
{
	char host[64];
	size_t n;

	dst[0] = '\0';
	if (!url || strncmp(url, "http://", 7) != 0)
		return;
	url += 7;
	n = strcspn(url, ":/");
	if (n >= sizeof(host))
		return;
	memcpy(host, url, n);
	host[n] = '\0';
	copy_ipv4(dst, size, host);
}

/* GetFirewallStatus, for --probe and the IPv6 entries' reasons. */
static void firewall_status(struct upnp_igd *g)
{
	int enabled = 0, inbound = 0;

	if (UPNP_GetFirewallStatus(igd.urls.controlURL_6FC, igd.data.IPv6FC.servicetype,
				   &enabled, &inbound) != 0)
		return;
	g->fw_known = true;
	g->fw_enabled = enabled != 0;
	g->fw_inbound = inbound != 0;
}

static void fill_igd(struct upnp_igd *g, bool connected)
{
	const char *svc = igd.data.first.servicetype;
	size_t n;

	copy(g->root_url, sizeof(g->root_url), igd.root);
	copy(g->control_url, sizeof(g->control_url), igd.urls.controlURL);
	copy(g->service_type, sizeof(g->service_type), svc);
	n = strlen(g->service_type);
	g->igd_version = n >= 2 && strcmp(g->service_type + n - 2, ":2") == 0 ? 2 : 1;
	copy_ipv4(g->lan_addr, sizeof(g->lan_addr), igd.lanaddr);
	url_host(g->gateway_addr, sizeof(g->gateway_addr), igd.urls.controlURL);
	g->connected = connected;
	g->has_6fc = igd.data.IPv6FC.servicetype[0] && igd.urls.controlURL_6FC &&
		igd.urls.controlURL_6FC[0];
	if (g->has_6fc)
		firewall_status(g);
}

static int load_from_url(const char *root)
{
	drop_igd();
	if (UPNP_GetIGDFromUrl(root, &igd.urls, &igd.data, igd.lanaddr,
			       sizeof(igd.lanaddr) - 1) != 1) {
		FreeUPNPUrls(&igd.urls);
		memset(&igd, 0, sizeof(igd));
		return -1;
	}
	igd.have_igd = igd.full = true;
	copy(igd.root, sizeof(igd.root), root);
	/* A description without a WAN*Connection service is no IGD for us. */
	if (!igd.data.first.servicetype[0] || !igd.urls.controlURL || !igd.urls.controlURL[0]) {
		drop_igd();
		return -1;
	}
	return 0;
}

/* The IGD the daemon handed over (another helper's discovery): the WAN
 * connection service only, enough for every request but pinholes. */
static int take_igd(const struct upnp_wire_req *q)
{
	drop_igd();
	if (strncmp(q->control_url, "http://", 7) != 0 || !q->service_type[0] ||
	    strlen(q->service_type) >= sizeof(igd.data.first.servicetype))
		return -1;
	igd.urls.controlURL = strdup(q->control_url);
	igd.urls.rootdescURL = strdup(q->root_url);
	if (!igd.urls.controlURL || !igd.urls.rootdescURL) {
		FreeUPNPUrls(&igd.urls);
		memset(&igd, 0, sizeof(igd));
		return -1;
	}
	copy(igd.data.first.servicetype, sizeof(igd.data.first.servicetype), q->service_type);
	copy_ipv4(igd.lanaddr, sizeof(igd.lanaddr), q->lan_addr);
	copy(igd.root, sizeof(igd.root), q->root_url);
	igd.have_igd = true;
	return 0;
}

static bool pinhole_op(uint32_t op)
{
	return op == UPNP_OP_PIN_ADD || op == UPNP_OP_PIN_DEL || op == UPNP_OP_PIN_CHECK;
}

/* The IGD of the request: a new helper takes the one handed over, or
 * loads it again (pinholes need the whole description). */
static int need_igd(const struct upnp_wire_req *q, struct upnp_result *r)
{
	if (!q->root_url[0]) {
		fail(r, UPNP_ST_NO_IGD, "no IGD discovered yet");
		return -1;
	}
	if (igd.have_igd && strcmp(igd.root, q->root_url) == 0 && (igd.full || !pinhole_op(q->op)))
		return 0;
	if (q->control_url[0] && !pinhole_op(q->op) && take_igd(q) == 0)
		return 0;
	if (load_from_url(q->root_url) < 0) {
		fail(r, UPNP_ST_NO_IGD, "no usable IGD description at %s", q->root_url);
		return -1;
	}
	return 0;
}

static int valid_igd(struct UPNPDev *devs, bool *connected)
{
	int rc;

#if MINIUPNPC_API_VERSION >= 18
	char wan[64];
	rc = UPNP_GetValidIGD(devs, &igd.urls, &igd.data, igd.lanaddr,
			      sizeof(igd.lanaddr) - 1, wan, sizeof(wan) - 1);
	/* 1 connected, 2 connected with a reserved WAN address, 3 disconnected. */
	*connected = rc == 1 || rc == 2;
	return rc >= 1 && rc <= 3 ? 0 : rc;
#else
	rc = UPNP_GetValidIGD(devs, &igd.urls, &igd.data, igd.lanaddr,
			      sizeof(igd.lanaddr) - 1);
	/* 2 is also "connected with a reserved WAN address": ask again. */
	*connected = rc == 1 || (rc == 2 && UPNPIGD_IsConnected(&igd.urls, &igd.data) == 1);
	return rc == 1 || rc == 2 ? 0 : rc;
#endif
}

static bool listed(const struct upnp_result *r, size_t n, const char *url)
{
	for (size_t i = 0; i < n; i++)
		if (url && strncmp(r->ignored[i], url, sizeof(r->ignored[i]) - 1) == 0)
			return true;
	return false;
}

/* Keep the devices whose description is served by the gateway; report
 * the others (their URLs) as ignored and free them. Returns the kept. */
static struct UPNPDev *at_gateway(struct UPNPDev *devs, const char *gateway,
				  struct upnp_result *r)
{
	struct UPNPDev *kept = NULL, **tail = &kept, *next;
	char host[INET_ADDRSTRLEN];
	size_t n = 0;

	for (struct UPNPDev *d = devs; d; d = next) {
		next = d->pNext;
		d->pNext = NULL;
		url_host(host, sizeof(host), d->descURL);
		if (host[0] && strcmp(host, gateway) == 0) {
			*tail = d;
			tail = &d->pNext;
			continue;
		}
		if (n < UPNP_IGNORED_MAX && !listed(r, n, d->descURL))
			copy(r->ignored[n++], sizeof(r->ignored[0]), d->descURL);
		freeUPNPDevlist(d);
	}
	return kept;
}

static void do_ssdp(const struct upnp_wire_req *q, struct upnp_result *r)
{
	struct UPNPDev *devs;
	bool connected = false;
	int err = 0, rc;

	drop_igd();
	devs = upnpDiscover(DISCOVER_MS, q->ifname[0] ? q->ifname : NULL, "",
			    UPNP_LOCAL_PORT_ANY, 0, 2, &err);
	if (!devs) {
		if (err)
			fail(r, UPNP_ST_NO_IGD, "SSDP discovery failed (error %d)", err);
		else
			fail(r, UPNP_ST_NO_IGD, "no UPnP device answered");
		return;
	}
	devs = q->gateway[0] ? at_gateway(devs, q->gateway, r) : (freeUPNPDevlist(devs), NULL);
	if (!devs) {
		fail(r, UPNP_ST_NO_IGD, "no UPnP device at the gateway %s answered", q->gateway);
		return;
	}
	rc = valid_igd(devs, &connected);
	freeUPNPDevlist(devs);
	if (rc != 0) {
		/* > 0: a device that is not a usable IGD; urls were filled. */
		if (rc > 0)
			FreeUPNPUrls(&igd.urls);
		memset(&igd, 0, sizeof(igd));
		if (rc == -1)
			fail(r, UPNP_ST_ERROR, "out of memory while selecting the IGD");
		else
			fail(r, UPNP_ST_NO_IGD, "no Internet Gateway Device at the gateway %s",
			     q->gateway);
		return;
	}
	igd.have_igd = igd.full = true;
	copy(igd.root, sizeof(igd.root), igd.urls.rootdescURL);
	fill_igd(&r->u.igd, connected);
}

static void do_discover(const struct upnp_wire_req *q, struct upnp_result *r)
{
	if (!q->root_url[0]) {
		do_ssdp(q, r);
		return;
	}
	if (load_from_url(q->root_url) < 0) {
		fail(r, UPNP_ST_NO_IGD, "no usable IGD description at %s", q->root_url);
		return;
	}
	fill_igd(&r->u.igd, UPNPIGD_IsConnected(&igd.urls, &igd.data) == 1);
}

static void do_ext_ip(struct upnp_result *r)
{
	char ip[64] = "";
	int rc = UPNP_GetExternalIPAddress(igd.urls.controlURL, igd.data.first.servicetype, ip);

	if (rc != 0) {
		command_failed(r, "GetExternalIPAddress", rc);
		return;
	}
	ip[sizeof(ip) - 1] = '\0';
	/* Empty is what miniupnpd says with a reserved WAN address: pass it on. */
	copy_ipv4(r->u.ext_ip, sizeof(r->u.ext_ip), ip);
	if (ip[0] && !r->u.ext_ip[0])
		fail(r, UPNP_ST_ERROR, "GetExternalIPAddress returned no IPv4 address");
}

/* A SOAP reply to action, judged: an errorCode is the router's UPnP error,
 * a complete envelope with <ACTION>Response is success, anything else
 * garbage. buf NULL: no HTTP answer. pdata holds the parsed reply (the
 * caller clears it). true on success. */
static bool judge_reply(const char *action, char *buf, int size, struct upnp_result *r,
			struct NameValueParserData *pdata)
{
	const char *code;

	memset(pdata, 0, sizeof(*pdata));
	if (!buf) {
		command_failed(r, action, UPNPCOMMAND_HTTP_ERROR);
		return false;
	}
	if (size < 0)
		size = 0;
	ParseNameValue(buf, size, pdata);
	code = GetValueFromNameValueList(pdata, "errorCode");
	if (code) {
		char *end;
		long v = strtol(code, &end, 10);

		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (end != code && *end == '\0' && v > 0 && v < 1000)
			command_failed(r, action, (int)v);
		else
			fail(r, UPNP_ST_ERROR, "%s: garbage reply (errorCode \"%.20s\")", action, code);
		return false;
	}
	if (soap_response_ok(buf, (size_t)size, action))
		return true;
	fail(r, UPNP_ST_ERROR, "%s: garbage reply (%d bytes, no SOAP %sResponse)", action, size,
	     action);
	return false;
}

/* AddPortMapping, judged here rather than by UPNP_AddPortMapping: that
 * calls every reply without an errorCode element a success (random bytes,
 * an HTML page, an empty HTTP 500), so the daemon had to read every new
 * mapping back. Here an add is OK only when the reply is a complete SOAP
 * envelope holding an AddPortMappingResponse; an errorCode is the UPnP
 * error as before; anything else is a garbage reply. simpleUPnPcommand
 * drops the HTTP status (up to 2.3.3 at least): the body decides. A 200
 * without that element and any error status without a UPnP fault fail
 * alike; a fault carries its errorCode, whatever the status. With that,
 * OK means "the router said it made this mapping": r->confirmed. */
static void do_add(const struct upnp_wire_req *q, struct upnp_result *r)
{
	char ext[8], in[8], lease[12], client[INET_ADDRSTRLEN];
	struct UPNParg args[] = {
		{ "NewRemoteHost", "" }, { "NewExternalPort", ext }, { "NewProtocol", q->proto },
		{ "NewInternalPort", in }, { "NewInternalClient", client }, { "NewEnabled", "1" },
		{ "NewPortMappingDescription", q->desc }, { "NewLeaseDuration", lease },
		{ NULL, NULL },
	};
	struct NameValueParserData pdata;
	char *buf;
	int size = 0;

	snprintf(ext, sizeof(ext), "%u", q->ext_port);
	snprintf(in, sizeof(in), "%u", q->int_port);
	snprintf(lease, sizeof(lease), "%u", q->lease);
	if (q->int_host[0])
		copy(client, sizeof(client), q->int_host);
	else
		copy_ipv4(client, sizeof(client), igd.lanaddr);
#if MINIUPNPC_API_VERSION >= 19
	/* 2.3.0 dropped the unused socket argument. */
	buf = simpleUPnPcommand(igd.urls.controlURL, igd.data.first.servicetype,
				"AddPortMapping", args, &size);
#else
	buf = simpleUPnPcommand(-1, igd.urls.controlURL, igd.data.first.servicetype,
				"AddPortMapping", args, &size);
#endif
	if (judge_reply("AddPortMapping", buf, size, r, &pdata))
		r->confirmed = true;
	ClearNameValueList(&pdata);
	free(buf);
}

static void do_get(const struct upnp_wire_req *q, struct upnp_result *r)
{
	char ext[8], client[64] = "", port[16] = "", desc[128] = "", en[16] = "", lease[32] = "";
	struct upnp_entry *e = &r->u.entry;
	unsigned long v;
	char *end;
	int rc;

	snprintf(ext, sizeof(ext), "%u", q->ext_port);
	rc = UPNP_GetSpecificPortMappingEntry(igd.urls.controlURL, igd.data.first.servicetype,
					      ext, q->proto, "", client, port, desc, en, lease);
	if (rc != 0) {
		command_failed(r, "GetSpecificPortMappingEntry", rc);
		return;
	}
	copy_ipv4(e->int_client, sizeof(e->int_client), client);
	port[sizeof(port) - 1] = '\0';
	v = strtoul(port, &end, 10);
	e->int_port = end != port && *end == '\0' && v <= 65535 ? (uint16_t)v : 0;
	copy(e->desc, sizeof(e->desc), desc);
	e->enabled = en[0] == '1';
	lease[sizeof(lease) - 1] = '\0';
	v = strtoul(lease, &end, 10);
	e->lease = end != lease && v <= UINT32_MAX ? (uint32_t)v : 0;
	if (!e->int_client[0] || !e->int_port)
		fail(r, UPNP_ST_ERROR, "GetSpecificPortMappingEntry returned an invalid entry");
}

static void do_delete(const struct upnp_wire_req *q, struct upnp_result *r)
{
	char ext[8];
	int rc;

	snprintf(ext, sizeof(ext), "%u", q->ext_port);
	rc = UPNP_DeletePortMapping(igd.urls.controlURL, igd.data.first.servicetype,
				    ext, q->proto, "");
	if (rc != 0)
		command_failed(r, "DeletePortMapping", rc);
}

/* ---- IPv6 pinholes (WANIPv6FirewallControl) ------------------------- */

/* The port and path of an http:// URL (host IPv4, [IPv6] or a name). */
static int url_port_path(const char *url, unsigned *port, const char **path)
{
	const char *p;
	char *end;
	unsigned long v;

	if (!url || strncmp(url, "http://", 7) != 0)
		return -1;
	p = url + 7;
	if (*p == '[') {
		p = strchr(p, ']');
		if (!p)
			return -1;
		p++;
	} else {
		p += strcspn(p, ":/");
	}
	*port = 80;
	if (*p == ':') {
		v = strtoul(p + 1, &end, 10);
		if (end == p + 1 || v == 0 || v > 65535)
			return -1;
		*port = (unsigned)v;
		p = end;
	}
	*path = *p == '/' ? p : "/";
	return 0;
}

/* A TCP connection from q->addr6 to the IPv6 gateway at the port of the
 * IGD's firewall control URL, and that URL with the gateway's address in
 * it. miniupnpd opens a pinhole only for the address a request comes
 * from, and compares it as inet_ntop writes it: the kernel's choice of
 * source (a temporary address, say) would be refused. -1 on failure (r
 * says why), else the socket. */
static int pinhole_socket(const struct upnp_wire_req *q, struct upnp_result *r, char *url,
			  size_t len)
{
	struct sockaddr_in6 src = { .sin6_family = AF_INET6 }, dst = { .sin6_family = AF_INET6 };
	struct timeval tv = { .tv_sec = 3 };
	const char *path;
	unsigned port;
	int fd;

	if (!igd.data.IPv6FC.servicetype[0] ||
	    url_port_path(igd.urls.controlURL_6FC, &port, &path) < 0) {
		fail(r, UPNP_ST_ERROR, "the IGD offers no IPv6 firewall control "
		     "(WANIPv6FirewallControl)");
		return -1;
	}
	if (inet_pton(AF_INET6, q->addr6, &src.sin6_addr) != 1 ||
	    inet_pton(AF_INET6, q->via6, &dst.sin6_addr) != 1) {
		fail(r, UPNP_ST_ERROR, "invalid IPv6 address in the request");
		return -1;
	}
	dst.sin6_port = htons((uint16_t)port);
	dst.sin6_scope_id = IN6_IS_ADDR_LINKLOCAL(&dst.sin6_addr) ? q->scope_id : 0;
	snprintf(url, len, "http://[%s]:%u%s", q->via6, port, path);
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail(r, UPNP_ST_ERROR, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
		fail(r, UPNP_ST_ERROR, "cannot send from %s: %s", q->addr6, strerror(errno));
		goto bad;
	}
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		fail(r, UPNP_ST_ERROR, "cannot reach the IGD at [%s]:%u over IPv6: %s", q->via6,
		     port, strerror(errno));
		goto bad;
	}
	return fd;
bad:
	close(fd);
	return -1;
}

/* One WANIPv6FirewallControl action over a connection from q->addr6;
 * true when the router said yes. pdata: the reply (caller clears it). */
static bool pinhole_call(const struct upnp_wire_req *q, const char *action,
			 struct UPNParg *args, struct upnp_result *r,
			 struct NameValueParserData *pdata)
{
	char url[320], *buf;
	int fd, size = 0;
	bool ok;

	memset(pdata, 0, sizeof(*pdata));
#if MINIUPNPC_API_VERSION >= 19
	(void)url; (void)buf; (void)fd; (void)size; (void)ok; (void)args;
	fail(r, UPNP_ST_ERROR, "%s: miniupnpc 2.3 or later cannot send from a given address",
	     action);
	return false;
#else
	fd = pinhole_socket(q, r, url, sizeof(url));
	if (fd < 0)
		return false;
	/* miniupnpc closes fd. */
	buf = simpleUPnPcommand(fd, url, igd.data.IPv6FC.servicetype, action, args, &size);
	ok = judge_reply(action, buf, size, r, pdata);
	free(buf);
	return ok;
#endif
}

static bool uid_valid(const char *s)
{
	char *end;
	unsigned long v;

	if (!s || !*s || strlen(s) >= UPNP_UID_LEN)
		return false;
	v = strtoul(s, &end, 10);
	return *end == '\0' && s[0] >= '0' && s[0] <= '9' && v <= 65535;
}

static void do_pin_add(const struct upnp_wire_req *q, struct upnp_result *r)
{
	char port[8], lease[12];
	struct UPNParg args[] = {
		{ "RemoteHost", "" }, { "RemotePort", "0" }, { "InternalClient", (char *)q->addr6 },
		{ "InternalPort", port }, { "Protocol", strcmp(q->proto, "UDP") == 0 ? "17" : "6" },
		{ "LeaseTime", lease }, { NULL, NULL },
	};
	struct NameValueParserData pdata;
	const char *uid;

	snprintf(port, sizeof(port), "%u", q->int_port);
	snprintf(lease, sizeof(lease), "%u", q->lease);
	if (pinhole_call(q, "AddPinhole", args, r, &pdata)) {
		uid = GetValueFromNameValueList(&pdata, "UniqueID");
		if (uid_valid(uid))
			copy(r->u.uid, sizeof(r->u.uid), uid);
		else
			fail(r, UPNP_ST_ERROR, "AddPinhole: the reply has no valid UniqueID");
	}
	ClearNameValueList(&pdata);
}

static void do_pin_del(const struct upnp_wire_req *q, struct upnp_result *r)
{
	struct UPNParg args[] = { { "UniqueID", (char *)q->uid }, { NULL, NULL } };
	struct NameValueParserData pdata;

	if (!uid_valid(q->uid))
		fail(r, UPNP_ST_ERROR, "DeletePinhole: invalid UniqueID");
	else
		pinhole_call(q, "DeletePinhole", args, r, &pdata);
	ClearNameValueList(&pdata);
}

/* Does the router still hold the pinhole? CheckPinholeWorking answers
 * 709 NoTrafficReceived for one that exists but passed nothing yet: held
 * all the same. */
static void do_pin_check(const struct upnp_wire_req *q, struct upnp_result *r)
{
	struct UPNParg args[] = { { "UniqueID", (char *)q->uid }, { NULL, NULL } };
	struct NameValueParserData pdata;

	memset(&pdata, 0, sizeof(pdata));
	if (!uid_valid(q->uid))
		fail(r, UPNP_ST_ERROR, "CheckPinholeWorking: invalid UniqueID");
	else if (!pinhole_call(q, "CheckPinholeWorking", args, r, &pdata) &&
		 r->upnp_code == 709) {
		r->status = UPNP_ST_OK;
		r->upnp_code = 0;
		r->error[0] = '\0';
	}
	ClearNameValueList(&pdata);
}

static void serve(struct upnp_wire_req *q, struct upnp_wire_rep *p)
{
	struct upnp_result *r = &p->res;

	/* Never trust a string to be terminated, not even from the daemon. */
	q->root_url[sizeof(q->root_url) - 1] = '\0';
	q->control_url[sizeof(q->control_url) - 1] = '\0';
	q->service_type[sizeof(q->service_type) - 1] = '\0';
	q->lan_addr[sizeof(q->lan_addr) - 1] = '\0';
	q->ifname[sizeof(q->ifname) - 1] = '\0';
	q->gateway[sizeof(q->gateway) - 1] = '\0';
	q->proto[sizeof(q->proto) - 1] = '\0';
	q->int_host[sizeof(q->int_host) - 1] = '\0';
	q->desc[sizeof(q->desc) - 1] = '\0';
	q->addr6[sizeof(q->addr6) - 1] = '\0';
	q->via6[sizeof(q->via6) - 1] = '\0';
	q->uid[sizeof(q->uid) - 1] = '\0';
	if (q->op == UPNP_OP_DISCOVER) {
		do_discover(q, r);
		return;
	}
	if (need_igd(q, r) < 0)
		return;
	switch (q->op) {
	case UPNP_OP_EXT_IP: do_ext_ip(r); break;
	case UPNP_OP_ADD: do_add(q, r); break;
	case UPNP_OP_GET: do_get(q, r); break;
	case UPNP_OP_DELETE: do_delete(q, r); break;
	case UPNP_OP_PIN_ADD: do_pin_add(q, r); break;
	case UPNP_OP_PIN_DEL: do_pin_del(q, r); break;
	case UPNP_OP_PIN_CHECK: do_pin_check(q, r); break;
	default: fail(r, UPNP_ST_ERROR, "unknown request %u", q->op); break;
	}
}

static void setup(void)
{
	prctl(PR_SET_NAME, "homeport-upnp");
	/* Refuse to run unconfined. */
	if (upnp_sandbox_enter(HELPER_FD) < 0)
		_exit(3);
}

static void run(void)
{
	union {
		struct upnp_wire_req q;
		char raw[sizeof(struct upnp_wire_req) + 16];
	} in;
	struct upnp_wire_rep out;

	for (;;) {
		ssize_t n = recv(HELPER_FD, &in, sizeof(in), 0);

		if (n == 0 || (n < 0 && errno != EINTR))
			_exit(0);
		if (n != (ssize_t)sizeof(in.q) || in.q.magic != UPNP_WIRE_MAGIC)
			_exit(2);
		memset(&out, 0, sizeof(out));
		out.magic = UPNP_WIRE_MAGIC;
		out.id = in.q.id;
		serve(&in.q, &out);
		if (send(HELPER_FD, &out, sizeof(out), MSG_NOSIGNAL) != (ssize_t)sizeof(out))
			_exit(0);
	}
}

int main(int argc, char **argv)
{
	sandbox_start(argc, argv, "homeport-upnp-helper", upnp_sandbox_check);
	setup();
	run();
	return 0;
}
