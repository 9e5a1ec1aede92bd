"""Self-tests of the test bed (tests/bed/), with the baseline tools only: upnpc,
natpmpc, nsupdate, dig, curl. They prove the bed before anything is tested on it."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

from bed import Bed, BedError, cleanup_stale, missing_requirements
from bed.bed import _pid_alive

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def leftovers(bed_name, pids=()):
    """What a closed bed left behind: namespaces, /etc/netns dirs, temp dirs, processes."""
    left = []
    try:
        left += [n for n in os.listdir("/run/netns") if n.startswith(bed_name + "-")]
    except FileNotFoundError:
        pass
    if os.path.isdir("/etc/netns"):
        left += ["/etc/netns/" + n for n in os.listdir("/etc/netns")
                 if n.startswith(bed_name + "-")]
    tmp = tempfile.gettempdir()
    left += [os.path.join(tmp, n) for n in os.listdir(tmp) if n.startswith(bed_name + "-")]
    left += ["pid %d" % pid for pid in pids if _pid_alive(pid)]
    return left


def skip_unless_bed(**opts):
    why = missing_requirements(router=opts.get("upnp", True) or opts.get("natpmp", True),
                               bind=opts.get("bind", True), standin=opts.get("standin", True))
    if why:
        pytest.skip(why)


def curl(bed, *args, ca=True, ns="lan", timeout=30):
    """curl in a namespace: (rc, body, http_code, stderr)."""
    argv = ["curl", "-sS", "-w", "\n%{http_code}"]
    if ca:
        argv += ["--cacert", bed.ca_file]
    p = bed.run(ns, argv + list(args), timeout=timeout)
    body, _, code = p.stdout.rpartition("\n")
    return p.returncode, body, int(code or 0), p.stderr


# --------------------------------------------------------------------------------------
# the bed itself

def test_bring_up_is_fast_and_close_leaves_nothing():
    skip_unless_bed()
    b = Bed()
    try:
        assert b.startup_time < 2.0, "bring-up took %.2f s" % b.startup_time
        names = set(os.listdir("/run/netns"))
        assert set(b.ns.all()) <= names
        pids = [p.pid for _, p, _ in b._procs]
        assert len(pids) >= 5          # stun, named, standin, echo, miniupnpd
        # nothing in the host namespace: no interface of ours there
        host_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        assert "br0" not in host_links.split() and " lan0@" not in host_links
        # nothing routes out: wan has no default route, the host is not connected
        assert "default" not in b.run("wan", ["ip", "route"]).stdout
    finally:
        t = time.monotonic()
        b.close()
        took = time.monotonic() - t
    assert leftovers(b.name, pids) == []
    assert took < 2.0, "teardown took %.2f s" % took


def test_failed_start_leaves_nothing():
    skip_unless_bed()
    b = Bed(miniupnpd_extra="no_such_option=1", timeout=5, start=False)
    with pytest.raises(BedError) as e:
        b.start()
    assert "miniupnpd" in str(e.value)
    assert b.closed and leftovers(b.name) == []


# The child sets its own dispositions: an "ignore" inherited from whoever started
# the suite (nohup ignores SIGHUP; a shell's background job ignores SIGINT) is
# rightly kept by the bed, and would make the signal under test do nothing.
CHILD = textwrap.dedent("""
    import signal, sys, time, os
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    sys.path.insert(0, %r)
    from bed import Bed
    b = Bed(bind=False, standin=False)
    print(b.name, " ".join(str(p.pid) for _, p, _ in b._procs), flush=True)
    time.sleep(120)
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL],
                         ids=lambda s: s.name)
def test_interrupted_run_leaves_nothing(sig):
    """A bed user killed by SIGTERM/SIGINT/SIGHUP cleans up itself; after SIGKILL the
    next bed (cleanup_stale) removes what it left."""
    skip_unless_bed(bind=False, standin=False)
    child = subprocess.Popen([sys.executable, "-c", CHILD % TESTS], stdout=subprocess.PIPE,
                             text=True)
    try:
        line = child.stdout.readline().split()
        assert line, "child bed did not come up"
        name, pids = line[0], [int(x) for x in line[1:]]
        assert [n for n in os.listdir("/run/netns") if n.startswith(name + "-")]
        child.send_signal(sig)
        child.wait(20)
        if sig == signal.SIGKILL:
            assert leftovers(name) != []
            cleanup_stale()
            # its helpers were in its namespaces; cleanup_stale ended them by PID
        deadline = time.monotonic() + 5
        while leftovers(name, pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert leftovers(name, pids) == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_names_resolve_inside_the_bed_only(bed):
    p = bed.run("lan", ["getent", "hosts", bed.standin_host])
    assert p.stdout.split()[0] == bed.wan_ip
    p = bed.run("lan", ["getent", "hosts", "api.cloudflare.com"])
    assert p.stdout.split()[0] == bed.wan_ip
    with open("/etc/hosts") as f:
        assert bed.standin_host not in f.read()


def test_lan_hosts_and_router_addresses(bed):
    bed.start_echo("lan2", tcp=[554], udp=[554])
    # lan reaches lan2 over the router's bridge
    b = bed.tcp_probe(bed.lan2_ip, 554, ns="lan")
    assert b.startswith("homeport-echo host=lan2 addr=%s proto=tcp port=554" % bed.lan2_ip)
    b = bed.udp_probe(bed.lan2_ip, 554, ns="lan")
    assert "host=lan2" in b and "proto=udp" in b
    # LAN hosts reach the internet through the router's masquerade
    assert bed.run("lan", ["curl", "-sS", "--cacert", bed.ca_file, "-o", "/dev/null",
                           bed.standin_url + "/"]).returncode == 0
    assert bed.standin.log()[-1]["client"] == bed.gw_wan_ip
    # the internet does not reach the LAN without a mapping
    assert bed.tcp_probe(port=8080) is None
    assert bed.udp_probe(port=8080) is None


# --------------------------------------------------------------------------------------
# the router: UPnP IGD

def test_upnp_map_traffic_unmap(bed):
    for proto in ("tcp", "udp"):
        p = bed.upnpc("-e", "bedtest", "-a", bed.lan_ip, 8080, 18080, proto)
        assert "is redirected to internal" in p.stdout, p.stdout + p.stderr
        assert bed.reaches(18080, proto), bed.probe(18080, proto)
    banner = bed.tcp_probe(port=18080)
    assert "addr=%s" % bed.lan_ip in banner and "peer=%s:" % bed.wan_ip in banner
    maps = sorted((m["proto"], m["ext_port"], m["int_ip"], m["int_port"], m["desc"])
                  for m in bed.mappings())
    assert maps == [("tcp", 18080, bed.lan_ip, 8080, "bedtest"),
                    ("udp", 18080, bed.lan_ip, 8080, "bedtest")]
    listing = bed.upnpc("-l").stdout
    assert re.search(r"TCP\s+18080->%s:8080" % re.escape(bed.lan_ip), listing), listing
    for proto in ("tcp", "udp"):
        p = bed.upnpc("-d", 18080, proto)
        assert p.returncode == 0, p.stdout + p.stderr
        assert not bed.reaches(18080, proto, timeout=0.5)
    assert bed.mappings() == []


def test_upnp_other_host_refused_under_secure_mode(bed):
    bed.start_echo("lan2", tcp=[554], udp=[])
    p = bed.upnpc("-a", bed.lan2_ip, 554, 10554, "tcp")
    assert "718" in p.stdout, p.stdout
    assert bed.mappings() == []
    assert not bed.reaches(10554, host="lan2", timeout=0.5)
    # an external port below 1024 is refused too (606)
    p = bed.upnpc("-a", bed.lan_ip, 8080, 80, "tcp")
    assert "606" in p.stdout, p.stdout


def test_upnp_other_host_allowed_without_secure_mode(make_bed):
    b = make_bed(secure_mode=False, bind=False, standin=False)
    b.start_echo("lan2", tcp=[554], udp=[554])
    for proto in ("tcp", "udp"):
        p = b.upnpc("-a", b.lan2_ip, 554, 10554, proto)
        assert "is redirected to internal %s:554" % b.lan2_ip in p.stdout, p.stdout
        assert b.reaches(10554, proto, host="lan2")
    assert {m["int_ip"] for m in b.mappings()} == {b.lan2_ip}


def test_upnp_discovery_over_ssdp(bed):
    # the one test that discovers instead of using the root URL (about 2 s)
    p = bed.run("lan", ["upnpc", "-i", "-s"], timeout=30)
    assert bed.upnp_url in p.stdout, p.stdout
    assert "ExternalIPAddress = %s" % bed.gw_wan_ip in p.stdout


def test_upnp_only_router(make_bed):
    b = make_bed(natpmp=False, bind=False, standin=False)
    assert b.natpmp_public_ip(timeout=0.5) is None
    p = b.upnpc("-a", b.lan_ip, 8080, 18080, "tcp")
    assert "is redirected" in p.stdout
    assert b.reaches(18080)


# --------------------------------------------------------------------------------------
# the router: NAT-PMP

def test_natpmp_map_traffic_unmap(bed):
    for proto in ("tcp", "udp"):
        p = bed.natpmpc("-a", 18081, 8081, proto, 3600)
        assert p.returncode == 0 and "Mapped public port 18081" in p.stdout, p.stdout + p.stderr
        assert bed.reaches(18081, proto)
    assert sorted(m["proto"] for m in bed.mappings() if m["ext_port"] == 18081) == ["tcp", "udp"]
    for proto in ("tcp", "udp"):
        p = bed.natpmpc("-a", 18081, 8081, proto, 0)
        assert p.returncode == 0, p.stdout + p.stderr
        assert not bed.reaches(18081, proto, timeout=0.5)
    assert bed.mappings() == []
    # the in-process client speaks the same protocol
    r = bed.natpmp_map("tcp", 8080, 18082, 600)
    assert r["result"] == 0 and r["external"] == 18082 and r["lifetime"] == 600
    assert bed.reaches(18082)


def test_natpmp_only_router(make_bed):
    b = make_bed(upnp=False, bind=False, standin=False)
    p = b.upnpc("-a", b.lan_ip, 8080, 18080, "tcp", timeout=30)
    assert "is redirected" not in p.stdout
    assert b.natpmp_public_ip()[0] == b.gw_wan_ip
    p = b.natpmpc("-a", 18080, 8080, "tcp", 3600)
    assert "Mapped public port 18080" in p.stdout
    assert b.reaches(18080)


def test_natpmp_only_router_follows_a_wan_change(make_bed):
    # miniupnpd watches its interfaces only with UPnP on: set_wan_ip() tells it
    b = make_bed(upnp=False, bind=False, standin=False)
    with b.natpmp_announcements() as ann:
        b.set_wan_ip("203.0.113.3")
        got = ann.wait(1, timeout=10, pred=lambda a: a["ip"] == "203.0.113.3")
    assert got[0]["from"] == b.gw_lan_ip
    assert b.natpmp_public_ip()[0] == "203.0.113.3"


def test_wan_ip_change_is_announced_and_epoch_resets(bed):
    bed.natpmpc("-a", 18080, 8080, "tcp", 3600)
    # let the epoch grow so that a reset can be seen
    ip, epoch = bed.natpmp_public_ip()
    assert ip == bed.gw_wan_ip
    deadline = time.monotonic() + 10
    while epoch < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        ip, epoch = bed.natpmp_public_ip()
    assert epoch >= 2
    with bed.natpmp_announcements() as ann:
        t = time.monotonic()
        bed.set_wan_ip("203.0.113.3")
        got = ann.wait(1, timeout=5, pred=lambda a: a["ip"] == "203.0.113.3")
        took = time.monotonic() - t
    assert got[0]["from"] == bed.gw_lan_ip
    assert took < 2.0
    assert bed.gw_wan_ip == "203.0.113.3"
    # miniupnpd announces with the old epoch, then answers with a reset one
    ip2, epoch2 = bed.natpmp_public_ip()
    assert ip2 == "203.0.113.3" and epoch2 < epoch, (epoch, got, epoch2)
    # the mapping keeps working on the new address
    assert bed.reaches(18080, ip="203.0.113.3")
    # upnp sees it too
    assert "ExternalIPAddress = 203.0.113.3" in bed.upnpc("-s").stdout


def test_router_reboot_loses_mappings(bed):
    bed.natpmpc("-a", 18080, 8080, "tcp", 3600)
    bed.upnpc("-a", bed.lan_ip, 8081, 18081, "tcp")
    assert bed.reaches(18080) and bed.reaches(18081)
    assert len(bed.leases()) == 2
    bed.reboot_router()
    assert bed.mappings() == [] and bed.leases() == []
    assert not bed.reaches(18080, timeout=0.5) and not bed.reaches(18081, timeout=0.5)
    ip, epoch = bed.natpmp_public_ip()
    assert ip == bed.gw_wan_ip and epoch <= 1


def test_router_restart_keeps_leases(bed):
    bed.natpmpc("-a", 18080, 8080, "tcp", 3600)
    bed.upnpc("-a", bed.lan_ip, 8081, 18081, "udp")
    before = sorted((m["proto"], m["ext_port"]) for m in bed.mappings())
    bed.restart_router()
    after = sorted((m["proto"], m["ext_port"]) for m in bed.mappings())
    assert after == before == [("tcp", 18080), ("udp", 18081)]
    assert bed.reaches(18080) and bed.reaches(18081, "udp")


def test_router_freeze_and_thaw(bed):
    assert bed.natpmp_public_ip()[0] == bed.gw_wan_ip
    bed.freeze_router()
    t = time.monotonic()
    assert bed.natpmp_public_ip(timeout=0.5) is None
    assert time.monotonic() - t < 1.5
    bed.thaw_router()
    assert bed.natpmp_public_ip()[0] == bed.gw_wan_ip
    p = bed.upnpc("-a", bed.lan_ip, 8080, 18080, "tcp")
    assert "is redirected" in p.stdout


def test_router_stop_and_start(bed):
    bed.stop_router()
    assert bed.natpmp_public_ip(timeout=0.3) is None
    bed.start_router()
    assert bed.natpmp_public_ip()[0] == bed.gw_wan_ip


# --------------------------------------------------------------------------------------
# DNS: BIND with TSIG

def test_nsupdate_with_key_then_dig(bed):
    name = "www.%s" % bed.zone
    assert bed.dig(name) == []
    p = bed.nsupdate("update add %s 60 A %s" % (name, bed.gw_wan_ip))
    assert p.returncode == 0, p.stdout + p.stderr
    assert bed.dig(name) == [bed.gw_wan_ip]
    p = bed.nsupdate("update delete %s A\nupdate add %s 60 A 203.0.113.77" % (name, name))
    assert p.returncode == 0, p.stderr
    assert bed.dig(name) == ["203.0.113.77"]
    # from the LAN, through the router, too
    assert bed.dig(name, ns="lan") == ["203.0.113.77"]


def test_nsupdate_wrong_key_refused(bed):
    name = "bad.%s" % bed.zone
    wrong = (bed.key_name, "hmac-sha256", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=")
    p = bed.nsupdate("update add %s 60 A 203.0.113.9" % name, key=wrong)
    assert p.returncode != 0 and "BADSIG" in p.stdout + p.stderr, p.stdout + p.stderr
    p = bed.nsupdate("update add %s 60 A 203.0.113.9" % name,
                     key=("other-key", "hmac-sha256", wrong[2]))
    assert p.returncode != 0 and "BADKEY" in p.stdout + p.stderr, p.stdout + p.stderr
    p = bed.nsupdate("update add %s 60 A 203.0.113.9" % name, key=False)
    assert p.returncode != 0 and "REFUSED" in p.stdout + p.stderr, p.stdout + p.stderr
    p = bed.nsupdate("update add www.elsewhere.example 60 A 203.0.113.9")
    assert p.returncode != 0 and "NOTZONE" in p.stdout + p.stderr, p.stdout + p.stderr
    assert bed.dig(name) == []


# --------------------------------------------------------------------------------------
# the HTTPS stand-in

def test_standin_needs_the_ca(bed):
    rc, _, _, err = curl(bed, bed.standin_url + "/nic/update", ca=False)
    assert rc == 60, err
    # valid for the wan address and the host names
    for url in ("https://%s/" % bed.wan_ip, "https://members.dyndns.org/",
                "https://api.cloudflare.com/"):
        rc, _, code, err = curl(bed, url)
        assert rc == 0 and code == 404, (url, err)
    # and plain http on port 80
    rc, _, code, _ = curl(bed, "http://%s/webhook" % bed.standin_host, ca=False)
    assert rc == 0 and code == 200


def test_standin_dyndns2(bed):
    url = bed.standin_url + "/nic/update"
    ip = bed.gw_wan_ip
    mark = bed.standin.mark()
    rc, body, code, _ = curl(bed, "-u", "homeport:dynpass",
                             url + "?hostname=www.dyn.example,cam.dyn.example&myip=" + ip)
    assert (rc, code, body) == (0, 200, "good %s\ngood %s\n" % (ip, ip))
    rc, body, code, _ = curl(bed, "-u", "homeport:dynpass",
                             url + "?hostname=www.dyn.example,x.other.example&myip=" + ip)
    assert body == "nochg %s\nnohost\n" % ip
    rc, body, code, _ = curl(bed, "-u", "homeport:wrong", url + "?hostname=www.dyn.example")
    assert (code, body) == (401, "badauth\n")
    rc, body, code, _ = curl(bed, url + "?hostname=www.dyn.example")
    assert body == "badauth\n"
    rc, body, code, _ = curl(bed, "-u", "homeport:dynpass", "-A", "",
                             url + "?hostname=www.dyn.example")
    assert body == "badagent\n"
    rc, body, code, _ = curl(bed, "-u", "homeport:dynpass", url + "?hostname=nodot")
    assert body == "notfqdn\n"
    # no myip: the connection's source address (the router's WAN IP after NAT)
    rc, body, code, _ = curl(bed, "-u", "homeport:dynpass", url + "?hostname=nat.dyn.example")
    assert body == "good %s\n" % ip
    # dual stack in one parameter
    rc, body, code, _ = curl(bed, "-u", "homeport:dynpass",
                             url + "?hostname=v6.dyn.example&myip=203.0.113.5,2001:db8::5")
    assert body == "good 203.0.113.5,2001:db8::5\n"
    # a preset's real host name works the same
    rc, body, code, _ = curl(bed, "-u", "homeport:dynpass", "https://dynupdate.no-ip.com/nic/"
                             "update?hostname=www.dyn.example&myip=203.0.113.6")
    assert body == "good 203.0.113.6\n"
    assert bed.standin.ip_of("www.dyn.example") == "203.0.113.6"
    assert bed.standin.ip_of("cam.dyn.example") == ip
    assert bed.standin.ip_of("v6.dyn.example", "AAAA") == "2001:db8::5"
    assert bed.standin.ip_of("x.other.example") is None
    log = bed.standin.log(since=mark)
    assert len(log) == 9 and all(e["api"] == "dyndns2" for e in log)
    first = log[0]
    assert first["method"] == "GET" and first["path"] == "/nic/update"
    assert first["query"] == {"hostname": "www.dyn.example,cam.dyn.example", "myip": ip}
    assert first["headers"]["Authorization"].startswith("Basic ")
    assert first["auth"] == {"type": "basic", "user": "homeport", "password": "dynpass"}
    assert first["code"] == 200 and first["reply"].startswith("good")
    assert first["scheme"] == "https" and first["time"] > 0
    assert log[2]["code"] == 401


def test_standin_cloudflare(bed):
    base = "https://api.cloudflare.com/client/v4"
    auth = ["-H", "Authorization: Bearer cftoken"]
    js = ["-H", "Content-Type: application/json"]

    def cf(*args):
        rc, body, code, err = curl(bed, *args)
        assert rc == 0, err
        return code, json.loads(body)

    code, r = cf(*auth, base + "/zones?name=cf.example")
    assert code == 200 and r["success"] is True and r["errors"] == []
    assert r["result_info"]["count"] == 1
    zid = r["result"][0]["id"]
    assert re.fullmatch(r"[0-9a-f]{32}", zid)
    code, r = cf(*auth, base + "/zones/%s/dns_records?type=A&name=home.cf.example" % zid)
    assert r["result"] == [] and r["result_info"]["total_count"] == 0
    code, r = cf(*auth, *js, "-X", "POST", "-d", json.dumps(
        {"type": "A", "name": "home.cf.example", "content": "203.0.113.2", "ttl": 1,
         "proxied": False}), base + "/zones/%s/dns_records" % zid)
    assert code == 200 and r["success"] and r["result"]["content"] == "203.0.113.2"
    rid = r["result"]["id"]
    code, r = cf(*auth, *js, "-X", "POST", "-d", json.dumps(
        {"type": "A", "name": "home.cf.example", "content": "203.0.113.2"}),
        base + "/zones/%s/dns_records" % zid)
    assert code == 400 and r["success"] is False and r["errors"][0]["code"] == 81057
    code, r = cf(*auth, base + "/zones/%s/dns_records?type=A&name=home.cf.example" % zid)
    assert [x["id"] for x in r["result"]] == [rid]
    code, r = cf(*auth, *js, "-X", "PATCH", "-d", '{"content": "203.0.113.3"}',
                 base + "/zones/%s/dns_records/%s" % (zid, rid))
    assert code == 200 and r["result"]["content"] == "203.0.113.3" and r["result"]["id"] == rid
    code, r = cf(*auth, *js, "-X", "PUT", "-d", json.dumps(
        {"type": "A", "name": "home.cf.example", "content": "203.0.113.4", "ttl": 120}),
        base + "/zones/%s/dns_records/%s" % (zid, rid))
    assert code == 200 and r["result"]["ttl"] == 120
    code, r = cf(*auth, *js, "-X", "PUT", "-d", '{"content": "203.0.113.4"}',
                 base + "/zones/%s/dns_records/%s" % (zid, rid))
    assert code == 400
    code, r = cf(*auth, *js, "-X", "PATCH", "-d", '{"content": "not-an-ip"}',
                 base + "/zones/%s/dns_records/%s" % (zid, rid))
    assert code == 400 and r["success"] is False
    assert bed.standin.ip_of("home.cf.example") == "203.0.113.4"
    code, r = cf(*auth, base + "/zones/%s/dns_records/%s" % (zid, "0" * 32))
    assert code == 404 and r["errors"][0]["code"] == 81044
    code, r = cf(*auth, base + "/zones/%s/dns_records" % ("f" * 32))
    assert code == 404 and r["errors"][0]["code"] == 7003
    code, r = cf("-H", "Authorization: Bearer wrong", base + "/zones?name=cf.example")
    assert code == 403 and r["errors"][0]["code"] == 10000
    code, r = cf("-H", "Authorization: Basic eDp5", base + "/zones?name=cf.example")
    assert code == 400
    # a seeded record is there to be found and patched
    rec = bed.standin.seed("old.cf.example", "198.51.100.1")
    code, r = cf(*auth, base + "/zones/%s/dns_records?name=old.cf.example" % zid)
    assert r["result"][0]["id"] == rec["id"] and r["result"][0]["content"] == "198.51.100.1"
    e = bed.standin.log(api="cloudflare")[0]
    assert e["headers"]["Authorization"] == "Bearer cftoken"
    assert e["auth"] == {"type": "bearer", "token": "cftoken"}
    posts = [x for x in bed.standin.log(api="cloudflare") if x["method"] == "POST"]
    assert json.loads(posts[0]["body"])["name"] == "home.cf.example"


def test_standin_duckdns(bed):
    base = "https://www.duckdns.org/update"
    rc, body, code, _ = curl(bed, base + "?domains=myhome,mycam&token=duck-token&ip=203.0.113.2")
    assert (code, body) == (200, "OK")
    rc, body, code, _ = curl(bed, base + "?domains=myhome&token=duck-token&ip=203.0.113.2"
                             "&verbose=true")
    assert body == "OK\n203.0.113.2\n\nNOCHANGE"
    rc, body, code, _ = curl(bed, base + "?domains=myhome&token=bad&ip=203.0.113.2")
    assert body == "KO"
    rc, body, code, _ = curl(bed, base + "?domains=notmine&token=duck-token&ip=203.0.113.2")
    assert body == "KO"
    assert bed.standin.ip_of("mycam.duckdns.org") == "203.0.113.2"
    assert [e["query"]["token"] for e in bed.standin.log(api="duckdns")] == \
        ["duck-token", "duck-token", "bad", "duck-token"]


def test_standin_webhook(bed):
    url = bed.standin_url + "/webhook/dns"
    rc, body, code, _ = curl(bed, "-X", "POST", "-H", "X-Api-Key: k1", "-H",
                             "Content-Type: application/json", "-d",
                             '{"hostname": "hook.example", "ip": "203.0.113.2"}', url)
    assert (code, body) == (200, "ok")
    bed.standin.webhook_reply(status=202, body='{"status": "accepted"}',
                              headers={"X-Served-By": "standin"},
                              content_type="application/json")
    rc, body, code, _ = curl(bed, "-i", url + "?hostname=hook2.example&ip=203.0.113.3")
    assert code == 202 and "X-Served-By: standin" in body and body.endswith('"accepted"}')
    e = bed.standin.log(api="webhook")
    assert e[0]["method"] == "POST" and e[0]["headers"]["X-Api-Key"] == "k1"
    assert json.loads(e[0]["body"])["ip"] == "203.0.113.2"
    assert e[1]["method"] == "GET" and e[1]["code"] == 202
    assert bed.standin.ip_of("hook.example") == "203.0.113.2"
    assert bed.standin.ip_of("hook2.example") == "203.0.113.3"


@pytest.mark.parametrize("mode", ["911", "dnserr", "badauth", "nohost", "abuse"])
def test_standin_answer_codes(bed, mode):
    url = bed.standin_url + "/nic/update?hostname=www.dyn.example&myip=203.0.113.2"
    bed.standin.fail(mode, count=1)
    rc, body, code, _ = curl(bed, "-u", "homeport:dynpass", url)
    assert body == mode + "\n" and code == (401 if mode == "badauth" else 200)
    assert bed.standin.log()[-1]["fail"] == mode
    # count=1: the next request is answered normally
    rc, body, code, _ = curl(bed, "-u", "homeport:dynpass", url)
    assert body.startswith("good ")
    # Cloudflare and DuckDNS answer in their own terms
    bed.standin.fail(mode)
    rc, body, code, _ = curl(bed, "-H", "Authorization: Bearer cftoken",
                             "https://api.cloudflare.com/client/v4/zones")
    assert json.loads(body)["success"] is False and code >= 400
    rc, body, code, _ = curl(bed, "https://www.duckdns.org/update?domains=myhome&token=duck-token")
    assert body == "KO"


def test_standin_http_errors_and_garbage(bed):
    url = bed.standin_url + "/nic/update?hostname=www.dyn.example"
    bed.standin.fail("429", retry_after=77, api="dyndns2")
    rc, body, code, _ = curl(bed, "-i", "-u", "homeport:dynpass", url)
    assert code == 429 and "Retry-After: 77" in body
    # the switch is for dyndns2 only
    rc, body, code, _ = curl(bed, "https://www.duckdns.org/update?domains=myhome&token=duck-token")
    assert body == "OK"
    bed.standin.fail("429")
    rc, body, code, _ = curl(bed, "-H", "Authorization: Bearer cftoken",
                             "https://api.cloudflare.com/client/v4/zones")
    assert code == 429 and json.loads(body)["success"] is False
    bed.standin.fail("500")
    rc, body, code, _ = curl(bed, url)
    assert code == 500
    bed.standin.fail("garbage")
    p = bed.run("lan", ["curl", "-sS", "--cacert", bed.ca_file, url], text=False)
    assert p.returncode == 0 and b"\x00" in p.stdout and not p.stdout.startswith(b"good")
    bed.standin.fail("close")
    rc, body, code, err = curl(bed, url)
    assert rc == 52, err
    bed.standin.reset()
    rc, body, code, _ = curl(bed, url)
    assert body == "badauth\n"


def test_standin_huge_body(bed):
    bed.standin.fail("huge")         # 50 MB, streamed
    p = bed.run("lan", ["curl", "-sS", "--cacert", bed.ca_file, "-o", "/dev/null", "-w",
                        "%{size_download}", bed.standin_url + "/nic/update"])
    assert p.returncode == 0 and int(p.stdout) == 50 * 1024 * 1024
    # a client that gives up early does not hurt the stand-in
    bed.run("lan", ["sh", "-c", "curl -sS --cacert %s %s/nic/update | head -c 100 >/dev/null"
                    % (bed.ca_file, bed.standin_url)])
    bed.standin.reset()
    rc, body, code, _ = curl(bed, bed.standin_url + "/nic/update")
    assert code == 401


def test_standin_slow_and_concurrent(bed):
    bed.standin.slow(3, count=1)
    t = time.monotonic()
    out = bed.path("slow.out")
    with open(out, "w") as f:
        slow = subprocess.Popen(["ip", "netns", "exec", bed.ns.lan, "curl", "-sS", "--cacert",
                                 bed.ca_file, "-o", "/dev/null", "-w", "%{http_code}",
                                 bed.standin_url + "/nic/update"], stdout=f)
    try:
        bed.standin.wait_log(1, pred=lambda e: e["delay"] == 3)
        # meanwhile another connection is answered at once
        rc, body, code, _ = curl(bed, bed.standin_url + "/nic/update")
        assert code == 401 and time.monotonic() - t < 2.5
        assert slow.wait(10) == 0
        assert time.monotonic() - t >= 3
        with open(out) as f:
            assert f.read() == "401"
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait()
    # a client with a deadline gives up
    bed.standin.slow(5, count=1)
    rc, _, _, err = curl(bed, "--max-time", "1", bed.standin_url + "/nic/update")
    assert rc == 28, err
    # the control endpoint over HTTP, from inside the bed
    rc, body, code, _ = curl(bed, "-X", "POST", "-d", '{"op": "set", "fail": "911"}',
                             bed.standin_url + "/_standin/control")
    assert code == 200 and json.loads(body)["ok"]
    rc, body, code, _ = curl(bed, "-u", "homeport:dynpass",
                             bed.standin_url + "/nic/update?hostname=a.dyn.example")
    assert body == "911\n"
