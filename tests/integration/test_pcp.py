"""PCP (RFC 6887) end to end on the test bed, against miniupnpd 2.3.1's PCP
server (enable_natpmp=yes turns it on): a mapping that traffic from the
internet namespace goes through, the nonce kept across a daemon restart,
a router reboot noticed by its ANNOUNCE and the epoch, a changed public
address reaching DNS, THIRD_PARTY refused and allowed, and which protocol
`auto` picks. Timings are printed (bench/ measures them properly)."""
import json
import os
import signal
import subprocess
import time

import pytest

from bed import build_dir, wait_until
from test_gateway import router_has, svc, wait_svc, web

HOMEPORTD = os.path.join(build_dir(), "homeportd")

pytestmark = pytest.mark.skipif(not os.path.exists(HOMEPORTD),
                                reason="%s missing: run make" % HOMEPORTD)


def nonces(d):
    """The nonces the daemon keeps: {(proto, host, port): hex}."""
    with open(os.path.join(d.state_dir, "pcp.json")) as f:
        return {(n["proto"], n["host"], n["port"]): n["nonce"] for n in json.load(f)["nonces"]}


def cam(b):
    """The camera on lan2 (echo on TCP 8554) as a service, external port 18554."""
    b.start_echo("lan2", tcp=[8554])
    return b.service_section("cam", 8554, 18554, internal_host=b.lan2_ip)


def test_pcp_maps_and_traffic_reaches(make_bed):
    b = make_bed(bind=False, standin=False)
    assert not b.reaches(18080, "tcp")
    d = b.start_daemon(b.gateway_conf("pcp", lease="10m"),
                       dropins={"web.conf": web(b, protocol="both")})
    t = time.monotonic()
    tcp = wait_svc(d, "web", "mapped")
    udp = wait_svc(d, "web", "mapped", proto="udp")
    print("both mapped %.3f s after the daemon answered" % (time.monotonic() - t))
    st = d.status()
    assert st["gateway"]["protocol"] == "pcp" and st["gateway"]["address"] == b.gw_lan_ip
    assert st["gateway"]["external_ip"] == b.gw_wan_ip
    assert tcp["via"] == "pcp" and udp["via"] == "pcp" and tcp["lease"] == 600
    assert b.reaches(18080, "tcp") and b.reaches(18080, "udp")
    # The router's entries carry the nonces this daemon keeps.
    kept = nonces(d)
    assert b.pcp_nonces() == {("tcp", 18080): kept[("tcp", b.lan_ip, 8080)],
                              ("udp", 18080): kept[("udp", b.lan_ip, 8080)]}
    assert d.stop() == 0
    assert b.mappings() == [] and b.leases() == []
    assert nonces(d) == {}          # deleted: the nonces are done


def test_pcp_restart_renews_with_the_same_nonce(make_bed):
    b = make_bed(bind=False, standin=False)
    conf = b.gateway_conf("pcp", lease="10m", keep_mappings=True)
    d = b.start_daemon(conf, dropins={"web.conf": web(b)})
    wait_svc(d, "web", "mapped")
    before = b.pcp_nonces()
    expires = b.leases()[0]["expires"]
    assert d.stop() == 0
    assert b.pcp_nonces() == before          # kept on the router
    time.sleep(1.1)                          # the renewal shows as a later expiry
    d.start()
    wait_svc(d, "web", "mapped")
    assert wait_until(lambda: b.leases() and b.leases()[0]["expires"] > expires, timeout=5), \
        (b.leases(), expires, d.logtext()[-2000:])
    assert b.pcp_nonces() == before, (b.leases(), before)   # renewed, not a second mapping
    assert len(b.mappings()) == 1, b.mappings()
    assert "made by an earlier run: adopted" in d.logtext(), d.logtext()[-2000:]


def test_pcp_sigkill_then_removed_service_is_deleted_by_nonce(make_bed):
    b = make_bed(bind=False, standin=False)
    d = b.start_daemon(b.gateway_conf("pcp"),
                       dropins={"web.conf": web(b),
                                "dns.conf": b.service_section("dns", 8081, 18081)})
    wait_svc(d, "web", "mapped")
    wait_svc(d, "dns", "mapped")
    d.kill()
    d.remove_dropin("dns.conf")
    d.start()
    # Only the nonce that made it can delete a PCP mapping.
    assert wait_until(lambda: not router_has(b, 18081), timeout=5), d.logtext()[-3000:]
    wait_svc(d, "web", "mapped")
    assert list(b.pcp_nonces()) == [("tcp", 18080)]


def test_pcp_router_reboot_announce_remaps(make_bed):
    b = make_bed(bind=False, standin=False)
    d = b.start_daemon(b.gateway_conf("pcp", check_interval="1h"),
                       dropins={"web.conf": web(b)})
    wait_svc(d, "web", "mapped")
    # RFC 6887 8.5 allows 2 s of slack each way: before that, a rebooted
    # router's epoch cannot be told from the old one.
    time.sleep(3)
    with b.pcp_announcements() as ann:
        t = time.monotonic()
        b.reboot_router()
        ann.wait(1, timeout=5)
        assert wait_until(lambda: router_has(b, 18080), timeout=5), d.logtext()[-3000:]
        took = time.monotonic() - t
    print("re-mapped %.3f s after the reboot (ANNOUNCE, our ANNOUNCE request, epoch)" % took)
    # router_has() reads the DNAT rule, which miniupnpd adds before the forward
    # rule: a SYN in between is dropped, and one probe's 1 s is TCP's retransmit
    assert wait_until(lambda: b.reaches(18080, "tcp"), timeout=3)
    log = d.logtext()
    assert "PCP epoch" in log and "lost its mappings" in log


def test_pcp_public_address_change_reaches_dns(make_bed):
    b = make_bed(standin=False)
    conf = (b.gateway_conf("pcp", check_interval="1h") +
            b.ddns_section("home", "rfc2136", ["www.home.example"], ttl=60))
    d = b.start_daemon(conf, dropins={"web.conf": web(b)})
    wait_svc(d, "web", "mapped")
    assert wait_until(lambda: b.dig("www.home.example") == [b.gw_wan_ip], timeout=10)
    new_ip = "203.0.113.3" if b.gw_wan_ip != "203.0.113.3" else "203.0.113.4"
    with b.pcp_announcements() as ann:
        t = time.monotonic()
        b.set_wan_ip(new_ip)
        os.kill(b.miniupnpd.pid, signal.SIGUSR1)    # "the public address changed"
        ann.wait(1, timeout=5)
        assert wait_until(lambda: b.dig("www.home.example") == [new_ip], timeout=10), \
            d.logtext()[-3000:]
    print("new address in DNS %.3f s after the change" % (time.monotonic() - t))
    assert d.status()["gateway"]["external_ip"] == new_ip
    assert b.reaches(18080, "tcp", ip=new_ip)


def test_pcp_third_party_refused(make_bed):
    b = make_bed(bind=False, standin=False)
    d = b.start_daemon(b.gateway_conf("pcp"), dropins={"cam.conf": cam(b)})
    s = wait_svc(d, "cam", "refused")
    assert s["error"].startswith("PCP 5 UNSUPP_OPTION"), s
    assert "UPnP" in s["error"] and s["via"] == "pcp"
    assert b.mappings() == []


def test_pcp_third_party_allowed(make_bed):
    b = make_bed(bind=False, standin=False, pcp_allow_thirdparty=True)
    d = b.start_daemon(b.gateway_conf("pcp"), dropins={"cam.conf": cam(b)})
    s = wait_svc(d, "cam", "mapped")
    assert s["via"] == "pcp" and s["internal_host"] == b.lan2_ip
    assert b.reaches(18554, "tcp", host="lan2")
    assert d.stop() == 0
    assert b.mappings() == []        # the THIRD_PARTY delete, by nonce


def test_auto_other_host_third_party_first_then_upnp(make_bed):
    """auto: a service on another host goes over PCP THIRD_PARTY where the router
    allows it; where it does not, over UPnP."""
    b = make_bed(bind=False, standin=False, secure_mode=False, pcp_allow_thirdparty=True)
    d = b.start_daemon(b.gateway_conf("auto"), dropins={"cam.conf": cam(b), "web.conf": web(b)})
    assert wait_svc(d, "cam", "mapped")["via"] == "pcp"
    assert wait_svc(d, "web", "mapped")["via"] == "upnp"
    assert d.stop() == 0
    b2 = make_bed(bind=False, standin=False, secure_mode=False)
    d2 = b2.start_daemon(b2.gateway_conf("auto"), dropins={"cam.conf": cam(b2)})
    s = wait_svc(d2, "cam", "mapped")
    assert s["via"] == "upnp", s
    assert "UNSUPP_OPTION" in d2.logtext() and b2.reaches(18554, "tcp", host="lan2")


def test_auto_picks_upnp_then_pcp_then_natpmp(make_bed):
    b = make_bed(bind=False, standin=False)
    d = b.start_daemon(b.gateway_conf("auto"), dropins={"web.conf": web(b)})
    assert wait_svc(d, "web", "mapped")["via"] == "upnp"
    d.wait_log("UPnP: first choice")
    assert d.stop() == 0
    b = make_bed(bind=False, standin=False, upnp=False)
    d = b.start_daemon(b.gateway_conf("auto", upnp_url=None), dropins={"web.conf": web(b)})
    assert wait_svc(d, "web", "mapped")["via"] == "pcp"
    d.wait_log("PCP: UPnP did not answer")
    assert d.stop() == 0
    b = make_bed(bind=False, standin=False, upnp=False, pcp=False)
    d = b.start_daemon(b.gateway_conf("auto", upnp_url=None), dropins={"web.conf": web(b)})
    assert wait_svc(d, "web", "mapped")["via"] == "natpmp"
    assert d.stop() == 0


def test_probe_shows_pcp_and_the_choice(make_bed):
    b = make_bed(bind=False, standin=False)
    conf = os.path.join(b.tmp, "probe.conf")
    with open(conf, "w") as f:
        f.write(b.gateway_conf("auto"))
    p = b.run("lan", [HOMEPORTD, "-c", conf, "--probe", "--json"], timeout=30)
    assert p.returncode == 0, p.stderr
    o = json.loads(p.stdout)
    assert o["pcp"]["ok"] is True and o["pcp"]["gateway"] == b.gw_lan_ip
    assert o["pcp"]["external_ip"] == b.gw_wan_ip and o["pcp"]["epoch"] is not None
    assert o["protocol"] == "upnp" and "first choice" in o["protocol_reason"]
    p = b.run("lan", [HOMEPORTD, "-c", conf, "--probe"], timeout=30)
    assert "PCP:" in p.stdout and "mapping:     over UPnP" in p.stdout, p.stdout
    # --probe changes nothing: the external-address MAP is taken back.
    assert b.mappings() == []
    with open(conf, "w") as f:
        f.write(b.gateway_conf("pcp"))
    p = b.run("lan", [HOMEPORTD, "-c", conf, "--probe", "--json"], timeout=30)
    o = json.loads(p.stdout)
    assert o["protocol"] == "pcp" and "configured" in o["protocol_reason"]


# --------------------------------------------------------------------------------------
# IPv6 pinholes over PCP (Bed(ipv6=True)): MAP for this host's IPv6 address, asked over
# IPv6 from that address to its IPv6 default router

def v6entry(st, name, proto="tcp"):
    return next((s for s in st["services"] if s["name"] == name and s["protocol"] == proto
                 and s.get("family") == "ipv6"), None)


def wait_v6(d, name, state, proto="tcp", timeout=10):
    st = d.wait_for(lambda st: (v6entry(st, name, proto) or {}).get("state") == state,
                    timeout=timeout)
    return v6entry(st, name, proto)


def pcp6_nonces(b):
    """The nonces of the router's IPv6 PCP pinholes, from its lease file:
    {(proto, port): nonce hex as on the wire}."""
    out = {}
    try:
        lines = open(b.path("router", "leases6")).read().split("\n")
    except FileNotFoundError:
        return out
    for l in lines:
        f = l.split(";")
        if len(f) >= 8 and f[7].startswith("PCP MAP "):
            h = f[7][8:].strip()
            words = [bytes.fromhex(h[i:i + 8])[::-1] for i in (0, 8, 16)]
            out[(f[0].lower(), int(f[2]))] = b"".join(words).hex()
    return out


def test_pcp_pinhole_opens_the_service_over_ipv6(make_bed):
    b = make_bed(ipv6=True, bind=False, standin=False)
    assert not b.reaches6(8080)
    d = b.start_daemon(b.gateway_conf("pcp", lease="10m"), dropins={"web.conf": web(b)})
    s6 = wait_v6(d, "web", "mapped")
    assert b.reaches6(8080), "the WAN reaches the LAN host's IPv6 service through the pinhole"
    assert s6["via"] == "pcp" and s6["internal_host"] == b.lan6_ip
    assert s6["external_port"] == 8080 and s6["lease"] == 600 and s6["error"] is None
    st = d.status()
    assert st["gateway"]["protocol"] == "pcp" and st["gateway"]["ipv6"]["firewall"] == "pcp"
    assert b.pinholes() == [{"proto": "tcp", "int_ip": b.lan6_ip, "port": 8080, "remote": None}]
    # the nonce is kept in the state directory (pcp.json) and is the pinhole's handle
    kept = nonces(d)
    assert pcp6_nonces(b) == {("tcp", 8080): kept[("tcp", b.lan6_ip, 8080)]}
    with open(os.path.join(d.state_dir, "mappings.json")) as f:
        recs = [r for r in json.load(f)["mappings"] if r.get("family") == "ipv6"]
    assert [r["handle"] for r in recs] == [kept[("tcp", b.lan6_ip, 8080)]]
    # stop: the pinhole is gone, the WAN is shut out again
    assert d.stop() == 0
    assert b.pinholes() == [] and not b.reaches6(8080)
    assert ("tcp", b.lan6_ip, 8080) not in nonces(d)


def test_pcp_pinhole_below_1024(make_bed):
    """miniupnpd refuses UPnP pinholes below port 1024 (606, test_ipv6.py); over
    PCP they are allowed."""
    b = make_bed(ipv6=True, bind=False, standin=False)
    b.start_echo("lan", tcp=[80], udp=[])
    assert not b.reaches6(80)
    d = b.start_daemon(b.gateway_conf("pcp"),
                       dropins={"web.conf": b.service_section("web", 80, 18080)})
    s6 = wait_v6(d, "web", "mapped")
    assert s6["via"] == "pcp" and s6["external_port"] == 80
    assert b.reaches6(80)
    assert b.pinholes() == [{"proto": "tcp", "int_ip": b.lan6_ip, "port": 80, "remote": None}]
    assert d.stop() == 0
    assert b.pinholes() == [] and not b.reaches6(80)


def test_pcp_pinhole_daemon_restart_keeps_the_nonce(make_bed):
    b = make_bed(ipv6=True, bind=False, standin=False)
    d = b.start_daemon(b.gateway_conf("pcp", keep_mappings=True),
                       dropins={"web.conf": web(b)})
    wait_v6(d, "web", "mapped")
    before = pcp6_nonces(b)
    assert list(before) == [("tcp", 8080)]
    assert d.stop() == 0
    assert b.reaches6(8080) and len(b.pinholes()) == 1      # kept
    # in doubt after a restart: deleted with its nonce, added again with it
    d.start()
    wait_v6(d, "web", "mapped")
    d.wait_log("from an earlier run: deleting")
    assert wait_until(lambda: "deleted" in d.logtext(), timeout=5)
    assert pcp6_nonces(b) == before, d.logtext()[-2000:]
    assert b.pinholes() == [{"proto": "tcp", "int_ip": b.lan6_ip, "port": 8080,
                             "remote": None}], d.logtext()[-2000:]
    assert b.reaches6(8080)
    assert "cannot delete" not in d.logtext()


def block_ipv4_announcements(b, ns="lan"):
    """Drop PCP/NAT-PMP announcements to 224.0.0.1:5350 in ns: only the IPv6 ones
    ([ff02::1]:5350) get through."""
    b.run(ns, ["nft", "-f", "-"], check=True, input=(
        "table ip hp_noann {\n chain input {\n  type filter hook input priority 0;\n"
        "  udp dport 5350 drop\n }\n}\n"))


def test_pcp_router_restart_ipv6_announce_adds_pinholes_again(make_bed):
    """miniupnpd restarts keeping its lease file: it reloads PCP pinholes with a
    garbage source address (2.3.1), so they pass nothing. Its ANNOUNCE on
    [ff02::1]:5350 (the IPv4 ones dropped here) makes the daemon ask over IPv6; the
    epoch there says the router lost its state: the pinhole is made again."""
    b = make_bed(ipv6=True, bind=False, standin=False)
    d = b.start_daemon(b.gateway_conf("pcp", check_interval="1h"),
                       dropins={"web.conf": web(b)})
    wait_v6(d, "web", "mapped")
    wait_svc(d, "web", "mapped")
    block_ipv4_announcements(b)
    time.sleep(3)                 # past the epoch's 2 s slack (RFC 6887 8.5)

    def open6():
        return {"proto": "tcp", "int_ip": b.lan6_ip, "port": 8080, "remote": None} \
            in b.pinholes()
    t = time.monotonic()
    b.restart_router()
    assert wait_until(open6, timeout=5, what="the pinhole again"), d.logtext()[-3000:]
    took = time.monotonic() - t
    assert b.reaches6(8080)
    print("pinhole back %.3f s after the router restart (ANNOUNCE on ff02::1)" % took)
    log = d.logtext()
    assert "PCP over IPv6 epoch" in log and "lost its mappings" in log, log[-3000:]
    # the IPv4 mapping too
    assert wait_until(lambda: router_has(b, 18080), timeout=5), d.logtext()[-3000:]
    assert d.stop() == 0
    assert {"proto": "tcp", "int_ip": b.lan6_ip, "port": 8080, "remote": None} \
        not in b.pinholes()


def test_pcp_router_without_ipv6(make_bed):
    """A router that does not answer PCP (nor UPnP) over IPv6: IPv4 is mapped over
    PCP, the IPv6 entry says why it is not open, quickly."""
    b = make_bed(ipv6=True, ipv6_firewall=False, bind=False, standin=False)
    d = b.start_daemon(b.gateway_conf("pcp"), dropins={"web.conf": web(b)})
    wait_svc(d, "web", "mapped")
    s6 = wait_v6(d, "web", "refused")
    assert "no IPv6 firewall control" in s6["error"], s6
    st = d.status()
    assert st["gateway"]["ipv6"]["firewall"] is None
    assert b.reaches(18080) and not b.reaches6(8080)
    assert "no answer over IPv6" in d.logtext() or "no answer over IPv6" in str(st)


@pytest.mark.parametrize("upnp", [True, False])
def test_auto_pinholes_follow_the_mapping_protocol(make_bed, upnp):
    """auto: the pinholes go by the protocol that maps IPv4 when it can open them
    (UPnP IGD v2 here), else by PCP."""
    b = make_bed(ipv6=True, upnp=upnp, bind=False, standin=False)
    d = b.start_daemon(b.gateway_conf("auto"), dropins={"web.conf": web(b)})
    s6 = wait_v6(d, "web", "mapped")
    want = "upnp" if upnp else "pcp"
    assert s6["via"] == want and d.status()["gateway"]["ipv6"]["firewall"] == want
    assert b.reaches6(8080)
    assert d.stop() == 0
    assert b.pinholes() == []
