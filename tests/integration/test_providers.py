"""The HTTP DDNS providers (src/provider_{dyndns2,cloudflare,duckdns,webhook}.c
on src/http.c) driven by build/tools/provtool inside the bed's lan namespace,
against the HTTPS stand-in in wan. Real provider host names (dynupdate.no-ip.com,
api.cloudflare.com, www.duckdns.org, ...) resolve to the stand-in there, so the
presets run with their built-in URLs.

provtool prints "ok" / "tempfail: MSG" / "permfail: MSG", then "retry_after: N"
and "elapsed_ms: N"; exit 0 / 1 / 2 (3 cancelled or stuck)."""
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("HOMEPORT_BUILD", os.path.join(REPO, "build"))
PROVTOOL = os.path.join(BUILD, "tools", "provtool")

pytestmark = pytest.mark.skipif(not os.access(PROVTOOL, os.X_OK),
                                reason="%s not built" % PROVTOOL)

IP = "203.0.113.2"
SECRETS = ("dynpass", "cftoken", "duck-token", "hekey-secret", "wh-secret-key")


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        lines = proc.stdout.splitlines()
        self.verdict = lines[0] if lines else ""
        m = re.search(r"^retry_after: (\d+)$", proc.stdout, re.M)
        self.retry_after = int(m.group(1)) if m else 0
        m = re.search(r"^elapsed_ms: (\d+)$", proc.stdout, re.M)
        self.elapsed_ms = int(m.group(1)) if m else None

    def __repr__(self):
        return "<provtool rc=%d out=%r err=%r>" % (self.rc, self.out, self.err[-2000:])


def prov(bed, provider, *keys, ip=IP, ca=True, timeout=60):
    argv = [PROVTOOL, provider, ip] + list(keys)
    if ca:
        argv.append("ca_file=" + bed.ca_file)
    r = Result(bed.run("lan", argv, timeout=timeout))
    assert r.rc >= 0, "provtool killed by signal %d: %r" % (-r.rc, r)
    assert "runtime error" not in r.err and "AddressSanitizer" not in r.err, r
    for s in SECRETS:     # never a secret in logs or messages
        assert s not in r.err, "secret %r on stderr: %r" % (s, r)
        assert s not in r.out, "secret %r on stdout: %r" % (s, r)
    return r


@pytest.fixture
def sbed(make_bed):
    """A bed with the stand-in only: no router, no BIND."""
    return make_bed(upnp=False, natpmp=False, bind=False, echo=False)


def dyn(bed, *extra, password="dynpass", server=None):
    return ["server=" + (server or bed.standin_url + "/nic/update"), "username=homeport",
            "password=" + password] + list(extra)


# -- dyndns2 ---------------------------------------------------------------------------------

def test_dyndns2_good_publishes(sbed):
    m = sbed.standin.mark()
    r = prov(sbed, "dyndns2", *dyn(sbed, "hostname=www.dyn.example", "hostname=cam.dyn.example"))
    assert (r.rc, r.verdict) == (0, "ok"), r
    assert sbed.standin.ip_of("www.dyn.example") == IP
    assert sbed.standin.ip_of("cam.dyn.example") == IP
    reqs = sbed.standin.log(m, api="dyndns2")
    assert len(reqs) == 1, reqs                    # both hosts in one request
    q = reqs[0]
    assert q["method"] == "GET" and q["path"] == "/nic/update"
    assert q["query"]["hostname"] == "www.dyn.example,cam.dyn.example"
    assert q["query"]["myip"] == IP                # always explicit
    assert q["headers"]["User-Agent"].startswith("homeport/")
    assert q["auth"] == {"type": "basic", "user": "homeport", "password": "dynpass"}
    assert q["scheme"] == "https"


def test_dyndns2_badauth_is_permanent(sbed):
    r = prov(sbed, "dyndns2", *dyn(sbed, "hostname=www.dyn.example", password="wrong"))
    assert r.rc == 2 and r.verdict == "permfail: dyndns2 badauth: bad user name or password", r
    assert sbed.standin.ip_of("www.dyn.example") is None


def test_dyndns2_nohost_names_the_host(sbed):
    r = prov(sbed, "dyndns2", *dyn(sbed, "hostname=www.dyn.example", "hostname=x.other.example"))
    assert r.rc == 2 and "nohost" in r.verdict and "x.other.example" in r.verdict, r


def test_dyndns2_911_waits_30_minutes(sbed):
    sbed.standin.fail("911", api="dyndns2")
    r = prov(sbed, "dyndns2", *dyn(sbed, "hostname=www.dyn.example"))
    assert r.rc == 1 and "911" in r.verdict, r
    assert r.retry_after >= 1800, r


def test_dyndns2_http_500_is_temporary(sbed):
    sbed.standin.fail("500", api="dyndns2")
    r = prov(sbed, "dyndns2", *dyn(sbed, "hostname=www.dyn.example"))
    assert r.rc == 1 and "HTTP 500 from ddns.example.test" in r.verdict, r


@pytest.mark.parametrize("mode", ["garbage", "close", "huge"])
def test_dyndns2_hostile_replies_are_temporary(sbed, mode):
    sbed.standin.fail(mode, api="dyndns2", size=20 * 1024 * 1024)
    r = prov(sbed, "dyndns2", *dyn(sbed, "hostname=www.dyn.example", "timeout=20"))
    assert r.rc == 1 and r.verdict.startswith("tempfail: "), r
    if mode == "huge":                              # cut off at 64 KiB, not read whole
        assert "larger than" in r.verdict and r.elapsed_ms < 5000, r


def test_noip_preset_keeps_its_url(sbed):
    m = sbed.standin.mark()
    r = prov(sbed, "noip", "username=homeport", "password=dynpass", "hostname=www.dyn.example")
    assert (r.rc, r.verdict) == (0, "ok"), r
    q = sbed.standin.log(m, api="dyndns2")[0]
    assert q["headers"]["Host"] == "dynupdate.no-ip.com"
    assert q["path"] == "/nic/update"
    assert sbed.standin.ip_of("www.dyn.example") == IP


def test_server_overrides_preset_url(sbed):
    m = sbed.standin.mark()
    r = prov(sbed, "noip", *dyn(sbed, "hostname=www.dyn.example",
                               server=sbed.standin_url + "/v3/update"))
    assert r.rc == 0, r
    q = sbed.standin.log(m, api="dyndns2")[0]
    assert q["headers"]["Host"] == "ddns.example.test" and q["path"] == "/v3/update"


def test_he_one_host_per_request_user_is_hostname(sbed):
    sbed.standin.add_accounts(dyndns2={
        "a.he.example": {"password": "hekey-secret", "hosts": []},
        "b.he.example": {"password": "hekey-secret", "hosts": []}})
    m = sbed.standin.mark()
    r = prov(sbed, "he", "password=hekey-secret", "hostname=a.he.example",
             "hostname=b.he.example")
    assert (r.rc, r.verdict) == (0, "ok"), r
    reqs = sbed.standin.log(m, api="dyndns2")
    assert [q["query"]["hostname"] for q in reqs] == ["a.he.example", "b.he.example"]
    assert [q["auth"]["user"] for q in reqs] == ["a.he.example", "b.he.example"]
    assert all(q["headers"]["Host"] == "dyn.dns.he.net" for q in reqs)


def test_ovh_extra_query(sbed):
    m = sbed.standin.mark()
    r = prov(sbed, "ovh", "username=homeport", "password=dynpass", "hostname=www.dyn.example")
    assert r.rc == 0, r
    assert sbed.standin.log(m, api="dyndns2")[0]["query"]["system"] == "dyndns"


def test_desec_status_by_http(sbed):
    sbed.standin.fail("429", api="dyndns2", retry_after=77)
    r = prov(sbed, "desec", "username=homeport", "password=dynpass", "hostname=www.dyn.example")
    assert r.rc == 1 and "429" in r.verdict and r.retry_after == 77, r
    sbed.standin.reset()
    r = prov(sbed, "desec", "username=homeport", "password=nope", "hostname=www.dyn.example")
    assert r.rc == 2 and "401" in r.verdict, r
    r = prov(sbed, "desec", "username=homeport", "password=dynpass", "hostname=www.dyn.example")
    assert r.rc == 0, r


def test_http_refused_unless_allowed(sbed):
    m = sbed.standin.mark()
    url = "http://%s/nic/update" % sbed.standin_host
    r = prov(sbed, "dyndns2", *dyn(sbed, "hostname=www.dyn.example", server=url))
    assert r.rc == 2 and "https" in r.verdict, r
    assert sbed.standin.log(m) == []                # nothing was sent in clear
    r = prov(sbed, "dyndns2", *dyn(sbed, "hostname=www.dyn.example", "allow_http=yes",
                                   server=url))
    assert r.rc == 0, r
    assert sbed.standin.log(m, api="dyndns2")[0]["scheme"] == "http"


def test_names_resolve_through_dns_in_the_helper(make_bed):
    """The HTTP helper runs under its seccomp filter (http_sandbox.h): a name that no
    hosts file knows is looked up through DNS (glibc's resolver in libcurl's resolver
    thread: UDP to the bed's BIND, where ns.<zone> is the stand-in's address)."""
    b = make_bed(upnp=False, natpmp=False, echo=False)
    m = b.standin.mark()
    url = "http://ns.%s/nic/update" % b.zone
    r = prov(b, "dyndns2", *dyn(b, "hostname=www.dyn.example", "allow_http=yes", server=url))
    assert (r.rc, r.verdict) == (0, "ok"), r
    assert b.standin.log(m, api="dyndns2")[0]["headers"]["Host"] == "ns." + b.zone


def test_certificate_is_checked(sbed):
    r = prov(sbed, "dyndns2", *dyn(sbed, "hostname=www.dyn.example"), ca=False)
    assert r.rc == 1 and "certificate" in r.verdict.lower(), r


def test_hanging_provider_times_out(sbed):
    sbed.standin.slow(30, api="dyndns2")
    r = prov(sbed, "dyndns2", *dyn(sbed, "hostname=www.dyn.example", "timeout=2"))
    assert r.rc == 1 and "timed out" in r.verdict.lower(), r
    assert 1500 <= r.elapsed_ms < 4000, r


def test_cancel_never_calls_back(sbed):
    sbed.standin.slow(5, api="dyndns2")
    r = prov(sbed, "dyndns2", *dyn(sbed, "hostname=www.dyn.example", "cancel_after=200"))
    assert r.rc == 3 and r.verdict == "cancelled", r


# -- Cloudflare -------------------------------------------------------------------------------

def cf(*extra):
    return ["token=cftoken", "zone=cf.example"] + list(extra)


def methods(bed, since):
    return [q["method"] for q in bed.standin.log(since, api="cloudflare")]


def test_cloudflare_create_patch_and_no_needless_write(sbed):
    m = sbed.standin.mark()
    r = prov(sbed, "cloudflare", *cf("hostname=www.cf.example", "ttl=120", "proxied=yes"))
    assert (r.rc, r.verdict) == (0, "ok"), r
    assert methods(sbed, m) == ["GET", "GET", "POST"]
    rec = sbed.standin.records()["www.cf.example"]["A"]
    assert (rec["content"], rec["ttl"], rec["proxied"]) == (IP, 120, True)
    q = sbed.standin.log(m, api="cloudflare")[0]
    assert q["auth"] == {"type": "bearer", "token": "cftoken"}
    assert q["headers"]["User-Agent"].startswith("homeport/")

    m = sbed.standin.mark()                         # same IP: read only
    r = prov(sbed, "cloudflare", *cf("hostname=www.cf.example"))
    assert r.rc == 0, r
    assert methods(sbed, m) == ["GET", "GET"]

    m = sbed.standin.mark()                         # new IP: one PATCH of that record
    r = prov(sbed, "cloudflare", *cf("hostname=www.cf.example"), ip="198.51.100.7")
    assert r.rc == 0, r
    assert methods(sbed, m) == ["GET", "GET", "PATCH"]
    patch = sbed.standin.log(m, api="cloudflare")[2]
    assert patch["path"].endswith("/dns_records/" + rec["id"])
    assert sbed.standin.ip_of("www.cf.example") == "198.51.100.7"


def test_cloudflare_several_hosts(sbed):
    sbed.standin.seed("old.cf.example", "198.51.100.1")
    r = prov(sbed, "cloudflare", *cf("hostname=old.cf.example", "hostname=new.cf.example"))
    assert r.rc == 0, r
    assert sbed.standin.ip_of("old.cf.example") == IP
    assert sbed.standin.ip_of("new.cf.example") == IP
    assert sbed.standin.records()["new.cf.example"]["A"]["ttl"] == 1     # 0 -> automatic


def test_cloudflare_bad_token_is_permanent(sbed):
    r = prov(sbed, "cloudflare", "token=wrong", "zone=cf.example", "hostname=www.cf.example")
    assert r.rc == 2 and r.verdict == "permfail: Cloudflare 10000: Authentication error", r


def test_cloudflare_unknown_zone_is_permanent(sbed):
    r = prov(sbed, "cloudflare", "token=cftoken", "zone=nope.example", "hostname=www.nope.example")
    assert r.rc == 2 and "nope.example" in r.verdict, r


def test_cloudflare_429_retry_after(sbed):
    sbed.standin.fail("429", api="cloudflare", retry_after=90)
    r = prov(sbed, "cloudflare", *cf("hostname=www.cf.example"))
    assert r.rc == 1 and "971" in r.verdict and r.retry_after == 90, r


def test_cloudflare_garbage_is_temporary(sbed):
    sbed.standin.fail("garbage", api="cloudflare")
    r = prov(sbed, "cloudflare", *cf("hostname=www.cf.example"))
    assert r.rc == 1, r


# -- DuckDNS ----------------------------------------------------------------------------------

def test_duckdns_ok_and_ko(sbed):
    m = sbed.standin.mark()
    r = prov(sbed, "duckdns", "token=duck-token", "hostname=myhome.duckdns.org",
             "hostname=mycam")
    assert (r.rc, r.verdict) == (0, "ok"), r
    q = sbed.standin.log(m, api="duckdns")[0]
    assert q["headers"]["Host"] == "www.duckdns.org"
    assert q["query"]["domains"] == "myhome,mycam" and q["query"]["ip"] == IP
    assert sbed.standin.ip_of("myhome.duckdns.org") == IP
    assert sbed.standin.ip_of("mycam.duckdns.org") == IP
    r = prov(sbed, "duckdns", "token=not-the-token", "hostname=myhome")
    assert r.rc == 2 and r.verdict == "permfail: DuckDNS KO: bad token or domain", r


# -- webhook ----------------------------------------------------------------------------------

def hook(bed, *extra, url=None):
    return ["url=" + (url or bed.standin_url + "/webhook?ip=%ip%&hostname=%hostname%")] + \
        list(extra)


def test_webhook_header_and_regex(sbed):
    sbed.standin.webhook_reply(200, "status: updated")
    m = sbed.standin.mark()
    r = prov(sbed, "webhook", *hook(sbed, "hostname=a.hook.example", "hostname=b.hook.example",
                                    "header=X-Api-Key: wh-secret-key",
                                    "header=X-Addr: %ip%",
                                    "success_regex=^status: (updated|unchanged)$"))
    assert (r.rc, r.verdict) == (0, "ok"), r
    reqs = sbed.standin.log(m, api="webhook")
    assert [q["query"]["hostname"] for q in reqs] == ["a.hook.example", "b.hook.example"]
    assert all(q["headers"]["X-Api-Key"] == "wh-secret-key" for q in reqs)
    assert all(q["headers"]["X-Addr"] == IP for q in reqs)
    assert sbed.standin.ip_of("b.hook.example") == IP

    sbed.standin.webhook_reply(200, "status: error")  # 2xx but no match: retry later
    r = prov(sbed, "webhook", *hook(sbed, "hostname=a.hook.example",
                                    "success_regex=^status: (updated|unchanged)$"))
    assert r.rc == 1 and "success_regex" in r.verdict, r


def test_webhook_one_request_without_hostname(sbed):
    m = sbed.standin.mark()
    r = prov(sbed, "webhook", *hook(sbed, "hostname=a.hook.example", "hostname=b.hook.example",
                                    url=sbed.standin_url + "/webhook/all?ip=%ip%"))
    assert r.rc == 0, r
    assert len(sbed.standin.log(m, api="webhook")) == 1


def test_webhook_post_body_and_escaping(sbed):
    m = sbed.standin.mark()
    r = prov(sbed, "webhook", *hook(sbed, "method=POST", "hostname=c.hook.example",
                                    "header=Content-Type: application/json",
                                    'body={"name":"%hostname%","content":"%ip%"}',
                                    url=sbed.standin_url + "/webhook/x?tag=%hostname%%20x"))
    assert r.rc == 0, r
    q = sbed.standin.log(m, api="webhook")[0]
    assert q["method"] == "POST"
    assert q["body"] == '{"name":"c.hook.example","content":"%s"}' % IP
    assert sbed.standin.ip_of("c.hook.example") == IP


@pytest.mark.parametrize("status,rc", [(403, 2), (404, 2), (408, 1), (429, 1), (502, 1)])
def test_webhook_status_classes(sbed, status, rc):
    sbed.standin.webhook_reply(status, "no")
    r = prov(sbed, "webhook", *hook(sbed, "hostname=a.hook.example"))
    assert r.rc == rc and ("HTTP %d" % status) in r.verdict, r
