"""Routers that map nothing (SPEC "Without UPnP, NAT-PMP or PCP"): homeportd
learns the external IPv4 from HTTPS "what is my IP" services (the stand-in's
checkip hosts on the WAN side, answering the source address of the connection
as a real service would) or from an interface on this host, publishes it to a
real BIND, and shows services forwarded by hand as `manual`.

The bed's router here runs no miniupnpd unless a test says so; port forwards
are nft rules written "by hand" (bed.forward_port).

Run as root:
  HOMEPORT_BUILD=$PWD/build python3 -m pytest -v tests/integration/test_ipsource.py
"""
import os
import re
import time

from bed import build_dir

HOMEPORTD = os.path.join(build_dir(), "homeportd")

HOME_HOST = "www.home.example"
NO_ROUTER = dict(upnp=False, natpmp=False)
WEB_INTERVAL = 60        # the shortest interval web sources are asked at


def web_gateway(bed, n=2, protocol="none", **keys):
    keys.setdefault("check_url", ", ".join(bed.checkip_urls(n)))
    keys.setdefault("ca_file", bed.ca_file)
    return bed.gateway_conf(protocol, **keys)


def home(bed):
    return bed.ddns_section("home", "rfc2136", HOME_HOST, ttl=60)


def ddns_ok(ip):
    return lambda st: st["ddns"][0]["state"] == "ok" and st["ddns"][0]["published_ip"] == ip


def hosts_of(entries):
    return [e["headers"]["Host"].split(":")[0] for e in entries]


ASK_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) debug: ipweb: asking (\S+)$", re.M)
ASK_SLACK = 0.01         # two millisecond log stamps vs the daemon's ms clock


def asks(text):
    """The daemon's own "asking URL" debug lines: [(seconds, host)]. Its send
    times, not the stand-in's receive times (the run's first request there
    also paid the HTTP helper's start and a TLS handshake)."""
    out, day = [], 0
    for h, m, sec, ms, url in ASK_LINE.findall(text):
        t = int(h) * 3600 + int(m) * 60 + int(sec) + int(ms) / 1000 + day
        if out and t < out[-1][0]:          # past midnight
            day += 86400
            t += 86400
        out.append((t, url.split("/")[2]))
    return out


def test_no_protocol_publishes_web_ip_and_shows_manual(make_bed):
    bed = make_bed(**NO_ROUTER)
    conf = (web_gateway(bed) + bed.service_section("office", 8080) +
            bed.service_section("intranet", 8081, map="auto") + home(bed))
    assert not bed.reaches(8080)
    bed.forward_port(8080)
    d = bed.start_daemon(conf)
    ip = bed.gw_wan_ip
    st = d.wait_for(ddns_ok(ip), timeout=30)
    assert bed.dig(HOME_HOST) == [ip]
    gw = st["gateway"]
    assert gw["ip_source"] == "web"
    assert gw["external_ip"] == ip and gw["external_ip_public"] is True
    assert gw["error"] is None
    assert gw["protocol"] is None
    assert re.search(r"external IP from web sources checkip-[ab]\.example\.test and "
                     r"checkip-[ab]\.example\.test \(agree\)", gw["ip_source_detail"]), gw
    # protocol = none: every service is manual, shown at the address it is expected at
    for s in st["services"]:
        assert s["state"] == "manual", s
        assert s["via"] is None and s["error"] is None
        assert s["external_address"] == "%s:%d" % (ip, s["external_port"])
    # the forward made by hand works from the internet; the other is not open
    assert bed.reaches(8080)
    assert not bed.reaches(8081)
    rc, out, _ = d.ctl("status")
    assert rc == 0
    assert re.search(r"^office\s.*\bmanual\b.*\n  forwarded by hand, expected at %s:8080$"
                     % re.escape(ip), out, re.M), out
    assert re.search(r"^source     web: .*\(agree\)$", out, re.M), out
    # one request to each of the two sources, each from the router's WAN address
    reqs = bed.standin.checkip_log()
    assert sorted(hosts_of(reqs)) == ["checkip-a.example.test", "checkip-b.example.test"]
    assert {r["client"] for r in reqs} == {ip}
    assert all(r["scheme"] == "https" for r in reqs)


def test_web_change_reaches_dns_within_the_interval(make_bed):
    bed = make_bed(**NO_ROUTER)
    d = bed.start_daemon(web_gateway(bed, check_interval="1m") + home(bed))
    d.wait_for(ddns_ok(bed.gw_wan_ip), timeout=30)
    mark = bed.standin.mark()
    t0 = time.monotonic()
    bed.set_wan_ip("203.0.113.3")
    # within check_interval plus one request (the timeout is a failsafe only)
    d.wait_for(ddns_ok("203.0.113.3"), timeout=WEB_INTERVAL + 40)
    took = time.monotonic() - t0
    print("WAN change -> DNS in %.1f s (check_interval 60 s)" % took)
    assert bed.dig(HOME_HOST) == ["203.0.113.3"]
    # the change cost two requests, both answered with the new address
    reqs = bed.standin.checkip_log(mark)
    assert len(reqs) == 2, [(r["time"], r["reply"]) for r in reqs]
    assert all(r["reply"].strip() == "203.0.113.3" for r in reqs)
    # and no source was asked twice within the interval (by the daemon's send
    # times; each of its asks reached the stand-in)
    sent = asks(d.logtext())
    for host in ("a", "b"):
        name = "checkip-%s.example.test" % host
        times = [t for t, h in sent if h == name]
        assert len(times) == len(bed.standin.checkip_log(host=host)), (host, sent)
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(g >= WEB_INTERVAL - ASK_SLACK for g in gaps), (host, gaps)


def test_disagreement_publishes_nothing_and_says_why(make_bed):
    bed = make_bed(**NO_ROUTER)
    bed.standin.checkip("b", mode="lie", ip="198.51.100.66")
    d = bed.start_daemon(web_gateway(bed) + home(bed))
    st = d.wait_for(lambda s: s["gateway"]["error"] and "disagree" in s["gateway"]["error"],
                    timeout=30)
    err = st["gateway"]["error"]
    assert "checkip-a.example.test answered %s" % bed.gw_wan_ip in err, err
    assert "checkip-b.example.test answered 198.51.100.66" in err, err
    assert st["gateway"]["external_ip"] is None
    assert st["ddns"][0]["published_ip"] is None
    assert bed.dig(HOME_HOST) == []
    # fixed: homeportctl refresh asks again (no sooner than ten seconds after
    # the last request) and the agreed address is published
    bed.standin.checkip("b", mode="echo")
    mark = bed.standin.mark()
    before = len(asks(d.logtext()))
    assert d.ctl("refresh")[0] == 0
    st = d.wait_for(ddns_ok(bed.gw_wan_ip), timeout=40)
    assert st["gateway"]["error"] is None
    assert bed.dig(HOME_HOST) == [bed.gw_wan_ip]
    # by the daemon's send times (each of its asks reached the stand-in)
    sent = asks(d.logtext())
    first, again = sent[0][0], sent[before:]
    assert again and len(again) == len(bed.standin.checkip_log(mark)), d.logtext()[-3000:]
    assert all(t - first >= 10 - ASK_SLACK for t, _ in again), (first, again)
    # b lies again: one honest answer confirms the address agreed on before,
    # and b, if it was asked first, is outvoted and backed off
    bed.standin.checkip("b", mode="lie", ip="198.51.100.66")
    mark = bed.standin.mark()
    time.sleep(10)
    assert d.ctl("refresh")[0] == 0
    bed.standin.wait_log(1, mark, api="checkip", timeout=30,
                         pred=lambda e: e["headers"]["Host"].startswith("checkip-a."))
    if bed.standin.checkip_log(mark, host="b"):
        st = d.wait_for(lambda s: s["gateway"]["ip_source_detail"].endswith(
            "external IP from web source checkip-a.example.test, confirming the address "
            "agreed on before"), timeout=10)
        b = st["gateway"]["web_sources"][1]
        assert b["failures"] == 1 and b["last_ip"] == "198.51.100.66", b
    st = d.status()
    assert st["gateway"]["error"] is None
    assert st["ddns"][0]["published_ip"] == bed.gw_wan_ip
    assert bed.dig(HOME_HOST) == [bed.gw_wan_ip]


def test_liar_and_failing_source_are_outvoted(make_bed):
    bed = make_bed(**NO_ROUTER)
    bed.standin.checkip("b", mode="lie", ip="198.51.100.66")
    bed.standin.checkip("c", format="page")      # Dyn's checkip page: parsed too
    d = bed.start_daemon(web_gateway(bed, n=3) + home(bed))
    st = d.wait_for(ddns_ok(bed.gw_wan_ip), timeout=30)
    assert bed.dig(HOME_HOST) == [bed.gw_wan_ip]
    srcs = {s["host"]: s for s in st["gateway"]["web_sources"]}
    assert set(srcs) == {"checkip-a.example.test", "checkip-b.example.test",
                         "checkip-c.example.test"}
    if bed.standin.checkip_log(host="b"):
        assert srcs["checkip-b.example.test"]["failures"] == 1
        assert "answered 198.51.100.66 while the others agree" in \
            srcs["checkip-b.example.test"]["error"]


def test_private_and_broken_answers_are_refused(make_bed):
    bed = make_bed(**NO_ROUTER)
    bed.standin.checkip("a", mode="private")
    bed.standin.checkip("b", mode="500")
    d = bed.start_daemon(web_gateway(bed, n=2) + home(bed))
    st = d.wait_for(lambda s: s["gateway"]["error"] and "no web source" in s["gateway"]["error"],
                    timeout=30)
    err = st["gateway"]["error"]
    assert "checkip-a.example.test: answered 10.9.8.7, which is not a public address" in err
    assert "checkip-b.example.test: HTTP 500" in err
    assert st["ddns"][0]["published_ip"] is None


def test_auto_uses_the_router_and_falls_back_to_the_web(make_bed):
    bed = make_bed(upnp=False, natpmp=True)
    d = bed.start_daemon(web_gateway(bed, protocol="natpmp", ip_source="auto",
                                     check_interval="10s") + home(bed))
    ip = bed.gw_wan_ip
    st = d.wait_for(lambda s: ddns_ok(ip)(s) and s["gateway"]["ip_source"] == "gateway",
                    timeout=30)
    assert bed.standin.checkip_log() == []        # the router answers: no web request
    bed.stop_router()
    st = d.wait_for(lambda s: s["gateway"]["ip_source"] == "web" and
                    s["gateway"]["external_ip"] == ip, timeout=60)
    assert len(bed.standin.checkip_log()) >= 2
    assert "no mapping protocol answered" in st["gateway"]["ip_source_detail"]
    assert st["ddns"][0]["published_ip"] == ip
    bed.start_router()
    d.wait_for(lambda s: s["gateway"]["ip_source"] == "gateway" and
               s["gateway"]["state"] == "ok", timeout=60)
    mark = bed.standin.mark()
    time.sleep(3)
    assert bed.standin.checkip_log(mark) == []   # back on the router: the web rests


def test_map_manual_beside_mapped_service(make_bed):
    bed = make_bed(upnp=True, natpmp=False)
    conf = (bed.gateway_conf("upnp") + bed.service_section("web", 8080, 18080) +
            bed.service_section("byhand", 8081, 18081, map="manual"))
    d = bed.start_daemon(conf)
    st = d.wait_for(lambda s: {x["name"]: x["state"] for x in s["services"]} ==
                    {"web": "mapped", "byhand": "manual"}, timeout=20)
    ip = bed.gw_wan_ip
    byhand = next(x for x in st["services"] if x["name"] == "byhand")
    assert byhand["external_address"] == "%s:18081" % ip
    assert st["gateway"]["ip_source"] == "gateway"
    assert [m["ext_port"] for m in bed.mappings()] == [18080]
    assert bed.reaches(18080) and not bed.reaches(18081)


def test_interface_address_followed_without_polling(make_bed):
    bed = make_bed(**NO_ROUTER)
    p = bed.run("lan", ["sh", "-c", "ip link add dsl0 type veth peer name dsl0p && "
                        "ip addr add 198.51.100.20/32 dev dsl0 && ip link set dsl0 up"])
    assert p.returncode == 0, p.stderr
    d = bed.start_daemon(bed.gateway_conf("none", ip_source="interface:dsl0") + home(bed))
    st = d.wait_for(ddns_ok("198.51.100.20"), timeout=20)
    assert st["gateway"]["ip_source"] == "interface"
    assert st["gateway"]["ip_source_detail"] == "external IP from interface dsl0"
    assert bed.dig(HOME_HOST) == ["198.51.100.20"]
    times = []
    for i, new in enumerate(("198.51.100.21", "198.51.100.22", "198.51.100.23")):
        if i:
            # DDNS paces an entry's requests against flapping (two back to
            # back, then one per 30 s): space the changes like a redial would
            time.sleep(31)
        t0 = time.monotonic()
        p = bed.run("lan", ["sh", "-c", "ip addr flush dev dsl0 && "
                            "ip addr add %s/32 dev dsl0" % new])
        assert p.returncode == 0, p.stderr
        d.wait_for(ddns_ok(new), timeout=15)
        times.append(time.monotonic() - t0)
        assert bed.dig(HOME_HOST) == [new]
    print("interface address change -> DNS: %s s" % ", ".join("%.2f" % t for t in times))
    # gone: nothing new is published, status says why
    bed.run("lan", ["ip", "link", "del", "dsl0"])
    st = d.wait_for(lambda s: s["gateway"]["error"] and "dsl0" in s["gateway"]["error"],
                    timeout=15)
    assert "interface dsl0 does not exist" in st["gateway"]["error"]
    assert st["ddns"][0]["published_ip"] == "198.51.100.23"
    assert bed.standin.checkip_log() == []


def test_probe_explains_the_web_source(make_bed):
    bed = make_bed(**NO_ROUTER)
    conf = os.path.join(bed.tmp, "probe.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\nstate_dir = %s/probe-state\nsocket = %s/probe.sock\n"
                "include_dir = %s/probe.d\n" % (bed.tmp, bed.tmp, bed.tmp))
        f.write(web_gateway(bed, protocol="auto", upnp_url=None))
    p = bed.run("lan", [HOMEPORTD, "-c", conf, "--probe"], timeout=60)
    out = p.stdout + p.stderr
    assert re.search(r"no mapping protocol answered; external IP from web sources "
                     r"checkip-[ab]\.example\.test and checkip-[ab]\.example\.test \(agree\)",
                     out), out
    assert bed.gw_wan_ip in out


def test_once_with_web_sources(make_bed):
    bed = make_bed(**NO_ROUTER)
    d = bed.start_daemon(web_gateway(bed) + bed.service_section("office", 8080) + home(bed),
                         args=["--once"], wait=False)
    assert d.wait_exit(40) == 0, d.logtext()
    out = d.logtext()
    assert "gateway: ok, external IP %s" % bed.gw_wan_ip in out, out
    assert "service office/tcp: manual" in out, out
    assert "ddns home: ok" in out, out
    assert bed.dig(HOME_HOST) == [bed.gw_wan_ip]


def test_hanging_source_blocks_nothing(make_bed):
    bed = make_bed(**NO_ROUTER)
    bed.standin.checkip("a", delay=25)           # past the 10 s request deadline
    d = bed.start_daemon(web_gateway(bed, n=3) + home(bed))
    asking_a = "ipweb: asking https://checkip-a.example.test/"
    # The first source asked is drawn at random: a round that began with b
    # and c ends when they agree, without a. A refresh then asks a first
    # (never asked, it owes no wait; b and c wait out the refresh gap).
    # The stand-in logs a request only once it has answered, so the
    # daemon's debug line is what tells that a's request is on the wire.
    d.wait_for(lambda s: asking_a in d.logtext() or ddns_ok(bed.gw_wan_ip)(s), timeout=10)
    if asking_a not in d.logtext():
        print("the first round did without a: refreshing")
        rc, out, err = d.ctl("refresh")
        assert rc == 0, err
        d.wait_log(asking_a, timeout=10)
    # status answers while that request hangs (homeportctl waits for nothing)
    for _ in range(5):
        rc, out, err = d.ctl("status", "--json", timeout=2)
        assert rc == 0, err
    assert "ipweb: checkip-a.example.test: " not in d.logtext(), \
        "a's request ended before status was asked: nothing was tested\n" + d.logtext()
    st = d.wait_for(ddns_ok(bed.gw_wan_ip), timeout=40)
    srcs = {s["host"]: s for s in st["gateway"]["web_sources"]}
    assert srcs["checkip-b.example.test"]["last_ip"] or srcs["checkip-c.example.test"]["last_ip"]
    # a's request ends at the daemon's deadline, counted as a failure
    d.wait_log(re.compile(r"ipweb: checkip-a\.example\.test: .*\(failure 1\b"), timeout=20)
    d.wait_for(lambda s: any(x["host"] == "checkip-a.example.test" and x["failures"] == 1
                             for x in s["gateway"]["web_sources"]), timeout=5)
