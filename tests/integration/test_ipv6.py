"""IPv6 on the bed (Bed(ipv6=True)): the bed itself first, proven with the
baseline tools (upnpc, dig) and raw sockets; then homeport's IPv6 address
tracking (addr6tool), then the daemon: pinholes and AAAA records, each
checked from outside."""
import os
import re
import subprocess
import sys
import time

import pytest

from bed import wait_until
from bed.bed import build_dir


def v6bed(make_bed, **opts):
    opts.setdefault("ipv6", True)
    return make_bed(**opts)


def upnpc6(bed, *args, ns="lan"):
    """upnpc over IPv6 (the IGD's global LAN address)."""
    url = "http://[%s]:%d/rootDesc.xml" % (bed.gw_lan6_ip, bed.http_port)
    return bed.run(ns, ["upnpc", "-6", "-u", url] + [str(a) for a in args], timeout=30)


# --------------------------------------------------------------------------------------
# the bed

def test_bed_ipv6_routed_and_closed_until_pinhole(make_bed):
    b = v6bed(make_bed)
    # both LAN hosts share the segment, over IPv6 too
    assert "host=lan " in (b.tcp_probe(b.lan6_ip, 8080, ns="lan2") or "")
    # routed, no NAT66: the WAN sees the LAN host's own address, but only through a pinhole
    assert not b.reaches6(8080)
    assert b.pinholes() == []
    p = upnpc6(b, "-A", "", "0", b.lan6_ip, 8080, "tcp", 600)
    assert "Pinhole ID" in p.stdout, p.stdout + p.stderr
    assert b.pinholes() == [{"proto": "tcp", "int_ip": b.lan6_ip, "port": 8080, "remote": None}]
    banner = b.tcp_probe(b.lan6_ip, 8080)
    assert "host=lan " in banner and "peer=%s:" % b.wan6_ip in banner
    # IPv4 is unchanged: NATed, closed without a mapping
    assert not b.reaches(8080)


def test_bed_ipv6_forwarding_survives_a_wan_ip_change(make_bed):
    """A new WAN IPv4 address leaves the router's IPv6 as it was: its WAN link-local
    address stays, so it can still ask for its WAN neighbour when it forwards a
    reply (the soak once lost IPv6 for good after a WAN change and a while with no
    traffic: the bed had flushed that address)."""
    b = v6bed(make_bed)
    p = upnpc6(b, "-A", "", "0", b.lan6_ip, 8080, "tcp", 600)
    assert "Pinhole ID" in p.stdout, p.stdout + p.stderr
    assert "host=lan " in (b.tcp_probe(b.lan6_ip, 8080) or "")   # the WAN knows the router
    b.set_wan_ip("203.0.113.77")
    ll = b.run("gw", ["ip", "-6", "addr", "show", "dev", b.gw_wan_if, "scope", "link"]).stdout
    assert "inet6 fe80::" in ll, ll
    # the router forgets its WAN neighbour (as it does after a quiet while) and must
    # ask for it again to forward the reply
    b.run("gw", ["ip", "-6", "neigh", "flush", "dev", b.gw_wan_if], check=True)
    assert "host=lan " in (b.tcp_probe(b.lan6_ip, 8080) or "")


def test_bed_ipv6_pinhole_rules_of_the_router(make_bed):
    """What TESTBED.md says of miniupnpd 2.3.1, checked here so the daemon's tests
    can rely on it: another host's address and ports below 1024 are refused (606)."""
    b = v6bed(make_bed)
    p = upnpc6(b, "-A", "", "0", b.lan2_6_ip, 8080, "tcp", 600)
    assert "606" in p.stdout + p.stderr
    p = upnpc6(b, "-A", "", "0", b.lan6_ip, 80, "tcp", 600)
    assert "606" in p.stdout + p.stderr
    assert b.pinholes() == []


def test_bed_ipv6_dns_and_addresses(make_bed):
    b = v6bed(make_bed)
    p = b.run("wan", ["dig", "+short", "@" + b.wan6_ip, "ns." + b.zone, "A"])
    assert p.stdout.split() == [b.wan_ip]
    addrs = {a["address"]: a for a in b.addrs6("lan")}
    assert b.lan6_ip in addrs and "deprecated" not in addrs[b.lan6_ip]["flags"]
    assert b.mac("lan2") == b.run("lan2", ["cat", "/sys/class/net/eth0/address"]).stdout.strip()


def test_bed_ipv6_renumber_and_temporary(make_bed):
    b = v6bed(make_bed)
    old = b.lan6_ip
    b.renumber6("2001:db8:78::/64")
    assert b.lan6_ip == "2001:db8:78::10"
    flags = {a["address"]: a["flags"] for a in b.addrs6("lan")}
    assert "deprecated" in flags[old] and "deprecated" not in flags[b.lan6_ip]
    # the new prefix is routed from the WAN to the LAN
    assert "host=lan " in (b.tcp_probe(b.lan6_ip, 8080, ns="lan2") or "")
    p = upnpc6(b, "-A", "", "0", b.lan6_ip, 8080, "tcp", 600)
    assert "Pinhole ID" in p.stdout, p.stdout + p.stderr
    assert b.reaches6(8080)
    # A temporary address, preferred by the kernel as source (use_tempaddr=2):
    # a client that lets the kernel pick its source asks from the wrong address
    # and miniupnpd refuses (606) -- the trap the daemon must avoid.
    template, tmp = b.temporary6("lan")
    flags = {a["address"]: a["flags"] for a in b.addrs6("lan")}
    assert "temporary" in flags[tmp] and "mngtmpaddr" in flags[template]
    p = upnpc6(b, "-A", "", "0", b.lan6_ip, 8081, "tcp", 600)
    assert "606" in p.stdout and tmp in p.stdout, p.stdout
    b.renumber6("2001:db8:79::/64", old="remove")
    assert "2001:db8:78::10" not in {a["address"] for a in b.addrs6("lan")}


def test_bed_ipv6_router_without_firewall_control(make_bed):
    b = v6bed(make_bed, ipv6_firewall=False)
    desc = b.run("lan", ["curl", "-sS", b.upnp_url]).stdout
    assert "InternetGatewayDevice:1" in desc and "WANIPv6FirewallControl" not in desc
    p = upnpc6(b, "-A", "", "0", b.lan6_ip, 8080, "tcp", 600)
    assert "Pinhole ID" not in p.stdout
    assert not b.reaches6(8080)
    # IPv4 mappings still work
    assert b.upnpc("-a", b.lan_ip, 8080, 18080, "tcp").returncode == 0
    assert b.reaches(18080)


# --------------------------------------------------------------------------------------
# this host's address and other hosts' ones, from rtnetlink (addr6tool: addr6.c alone)

class Follow:
    """addr6tool follow in a namespace: every change it reports, parsed."""

    def __init__(self, bed, hosts=(), ns="lan", args=()):
        tool = os.path.join(build_dir(), "tools", "addr6tool")
        if not os.path.exists(tool):
            pytest.skip("%s not built" % tool)
        self.bed = bed
        self.p = bed.popen(ns, [tool] + list(args) + ["follow"] + list(hosts),
                           label="addr6tool-%s" % ns)
        self.log = bed.path("addr6tool-%s.log" % ns)
        wait_until(lambda: self.lines(), 5, "addr6tool to start")

    def lines(self):
        out = []
        with open(self.log) as f:
            for line in f:
                if re.match(r"^\d+ self=", line):
                    t, _, rest = line.strip().partition(" ")
                    out.append((int(t) / 1000.0, dict(kv.split("=", 1) for kv in rest.split())))
        return out

    def last(self):
        return self.lines()[-1][1]

    def wait(self, pred, timeout=5, what="addr6tool to report"):
        """The first report (time, values) that pred accepts."""
        found = []

        def seen():
            found[:] = [l for l in self.lines() if pred(l[1])][:1]
            return found
        wait_until(seen, timeout, what, fail=lambda: self.p.poll() is not None)
        return found[0]


def test_addr6_follows_renumbering(make_bed):
    b = v6bed(make_bed)
    f = Follow(b, ["self", "::20"])
    assert f.last() == {"self": b.lan6_ip, "::20": b.lan2_6_ip}
    t0 = b.renumber6("2001:db8:78::/64")
    t, v = f.wait(lambda v: v["self"] == "2001:db8:78::10")
    assert v["::20"] == "2001:db8:78::20"
    assert t - t0 < 1.0, "a renumbered prefix must be seen within a second (no polling)"
    # the old one removed, a newer address with a finite lifetime: the static one stays
    b.del_addr6("lan", "2001:db8:77::10")
    b.addr6("lan", "2001:db8:78::99", preferred=3600, valid=7200)
    time.sleep(0.3)
    assert f.last()["self"] == "2001:db8:78::10"
    # the static address deprecated: the dynamic one
    b.deprecate6("lan", "2001:db8:78::10")
    f.wait(lambda v: v["self"] == "2001:db8:78::99")
    # nothing usable: nothing published
    b.del_addr6("lan", "2001:db8:78::99")
    f.wait(lambda v: v["self"] == "-" and v["::20"] == "-")


def test_addr6_never_temporary_nor_deprecated(make_bed):
    b = v6bed(make_bed)
    b.deprecate6("lan", b.lan6_ip)
    template, tmp = b.temporary6("lan")       # and a dynamic (non-static) template
    f = Follow(b, ["self"])
    assert f.last()["self"] == template
    tool = os.path.join(build_dir(), "tools", "addr6tool")
    out = b.run("lan", [tool, "probe"]).stdout
    assert out.startswith("IPv6 address: %s (2001:db8:77::/64 on eth0)" % template), out
    assert re.search(r"%s/64 on eth0: not used: temporary" % re.escape(tmp), out), out
    assert re.search(r"%s/64 on eth0: not used: deprecated" % re.escape(b.lan6_ip), out), out
    b.deprecate6("lan", template)
    f.wait(lambda v: v["self"] == "-")
    out = b.run("lan", [tool, "probe"]).stdout
    assert out.startswith("IPv6 address: none: no usable IPv6 address on eth0"), out


def test_addr6_interface_and_default_route(make_bed):
    b = v6bed(make_bed)
    f = Follow(b, ["self"], args=["-i", "lo"])
    assert f.last()["self"] == "-"
    g = Follow(b, ["self"], ns="lan2")
    assert g.last()["self"] == b.lan2_6_ip
    b.run("lan2", ["ip", "-6", "route", "del", "default"], check=True)
    g.wait(lambda v: v["self"] == "-")
    b.run("lan2", ["ip", "-6", "route", "add", "default", "via", b.ROUTER_LL, "dev", "eth0"],
          check=True)
    g.wait(lambda v: v["self"] == b.lan2_6_ip)


def test_addr6_mac_from_the_neighbour_table(make_bed):
    b = v6bed(make_bed)
    mac = b.mac("lan2")
    f = Follow(b, [mac], args=["-c", "1"])
    time.sleep(0.5)
    assert f.last()[mac] == "-", "lan2 has not talked to lan yet"
    # lan2 talks to lan: its address is in lan's neighbour table now
    assert b.tcp_probe(b.lan6_ip, 8080, ns="lan2")
    f.wait(lambda v: v[mac] == b.lan2_6_ip)
    # an EUI-64 address of that MAC is preferred; lan finds it by itself
    # (a datagram to the address makes the kernel solicit it)
    eui = "2001:db8:77::ff:fe00:7720"
    b.addr6("lan2", eui)
    f.wait(lambda v: v[mac] == eui)
    # renumbered: the old prefix's entries are not published; the new EUI-64 is found
    b.renumber6("2001:db8:78::/64")
    b.addr6("lan2", "2001:db8:78::ff:fe00:7720")
    f.wait(lambda v: v[mac] == "2001:db8:78::ff:fe00:7720")


# --------------------------------------------------------------------------------------
# the daemon: pinholes and AAAA records, each checked from outside

HOMEPORTD = os.path.join(build_dir(), "homeportd")


def entry(st, name, family, proto="tcp"):
    for s in st["services"]:
        if s["name"] == name and s["protocol"] == proto and s.get("family") == family:
            return s
    return None


def wait_entry(d, name, family, state, proto="tcp", timeout=10):
    st = d.wait_for(lambda st: (entry(st, name, family, proto) or {}).get("state") == state,
                    timeout=timeout)
    return entry(st, name, family, proto)


def ddns_entry(st, name):
    return next(e for e in st["ddns"] if e["name"] == name)


def web(bed, port=8080, **keys):
    return bed.service_section("web", port, 18000 + port % 1000, **keys)


def aaaa_conf(bed, name="home", hostname=None, records="A, AAAA", **keys):
    return "[ddns:%s]\nhostname = %s\nrecords = %s\n" % (
        name, hostname or "www." + bed.zone, records) + bed.rfc2136_conf(ttl=60, **keys)


def test_pinhole_opens_the_service_over_ipv6(make_bed):
    b = v6bed(make_bed)
    assert not b.reaches6(8080)
    d = b.start_daemon(b.gateway_conf("upnp", lease="1h"), dropins={"web.conf": web(b)})
    s6 = wait_entry(d, "web", "ipv6", "mapped")
    assert b.reaches6(8080), "the WAN reaches the LAN host's IPv6 service through the pinhole"
    wait_entry(d, "web", "ipv4", "mapped")
    assert b.reaches(18080)
    assert s6["internal_host"] == b.lan6_ip and s6["internal_port"] == 8080
    assert s6["external_port"] == 8080 and s6["via"] == "upnp" and s6["error"] is None
    assert s6["lease"] == 3600 and 0 < s6["expires_in"] <= 3600
    st = d.status()
    s4 = entry(st, "web", "ipv4")
    assert s4["state"] == "mapped" and s4["external_port"] == 18080
    assert [s["family"] for s in st["services"]] == ["ipv4", "ipv6"]
    g6 = st["gateway"]["ipv6"]
    assert g6["address"] == b.lan6_ip and g6["prefix"] == "2001:db8:77::/64"
    assert g6["public"] is True and g6["firewall"] == "upnp"
    assert b.pinholes() == [{"proto": "tcp", "int_ip": b.lan6_ip, "port": 8080, "remote": None}]
    # the UniqueID is remembered, in the mappings store
    with open(os.path.join(d.state_dir, "mappings.json")) as f:
        recs = [r for r in __import__("json").load(f)["mappings"] if r.get("family") == "ipv6"]
    assert len(recs) == 1 and recs[0]["internal_host"] == b.lan6_ip and recs[0]["handle"]
    # stop: the pinhole is gone, the WAN is shut out again
    assert d.stop() == 0
    assert b.pinholes() == []
    assert not b.reaches6(8080)


def test_keep_mappings_keeps_the_pinhole_and_a_restart_renews_it(make_bed):
    b = v6bed(make_bed)
    d = b.start_daemon(b.gateway_conf("upnp", keep_mappings=True),
                       dropins={"web.conf": web(b)})
    wait_entry(d, "web", "ipv6", "mapped")
    assert d.stop() == 0
    assert b.reaches6(8080) and len(b.pinholes()) == 1
    # in doubt after a restart: the remembered pinhole is deleted and added again,
    # never duplicated
    d.start()
    wait_entry(d, "web", "ipv6", "mapped")
    d.wait_log("from an earlier run: deleting")
    assert len(b.pinholes()) == 1 and b.reaches6(8080)


def test_pinhole_refused_below_1024_ipv4_still_mapped(make_bed):
    b = v6bed(make_bed)
    b.start_echo("lan", tcp=[80], udp=[])
    d = b.start_daemon(b.gateway_conf("upnp"),
                       dropins={"web.conf": b.service_section("web", 80, 18080)})
    s6 = wait_entry(d, "web", "ipv6", "refused")
    assert "UPnP 606" in s6["error"] and "2001:db8:77::10" in s6["error"]
    assert wait_entry(d, "web", "ipv4", "mapped")
    assert b.reaches(18080) and not b.reaches6(80)


def test_router_without_ipv6_firewall_control(make_bed):
    b = v6bed(make_bed, ipv6_firewall=False)
    d = b.start_daemon(b.gateway_conf("upnp"), dropins={"web.conf": web(b)})
    assert wait_entry(d, "web", "ipv4", "mapped")
    s6 = wait_entry(d, "web", "ipv6", "refused")
    assert "no IPv6 firewall control" in s6["error"] and "8080/tcp" in s6["error"]
    st = d.status()
    assert st["gateway"]["ipv6"]["firewall"] is None
    assert st["gateway"]["ipv6"]["address"] == b.lan6_ip
    assert b.reaches(18080) and not b.reaches6(8080)


def test_router_reboot_pinholes_back(make_bed):
    b = v6bed(make_bed)
    d = b.start_daemon(b.gateway_conf("auto"), dropins={"web.conf": web(b)})
    wait_entry(d, "web", "ipv6", "mapped")
    assert b.reaches6(8080)
    b.reboot_router()
    assert b.pinholes() == []
    assert wait_until(lambda: b.pinholes(), timeout=10, what="the pinhole back"), \
        d.logtext()[-3000:]
    assert wait_until(lambda: b.reaches6(8080), timeout=5, what="IPv6 traffic through it")
    assert entry(d.status(), "web", "ipv6")["state"] == "mapped"


def test_pinhole_deleted_by_another_program_back_at_the_next_check(make_bed):
    """Another program on this host deletes the daemon's pinhole (miniupnpd lets
    the pinhole's own address do that) while the IPv4 mapping stays: the check
    every check_interval asks the router about the pinhole (CheckPinholeWorking),
    learns it is gone and adds it again, long before its renewal (half of the
    1 h lease). A pinhole the router holds is only asked about, never added
    again."""
    b = v6bed(make_bed)
    d = b.start_daemon(b.gateway_conf("upnp", lease="1h", check_interval="10s"),
                       dropins={"web.conf": web(b)})
    wait_entry(d, "web", "ipv6", "mapped")
    assert b.reaches6(8080)
    time.sleep(1.5)                          # the first BOOTID's look is over
    mark = os.path.getsize(b.miniupnpd_log)
    time.sleep(10)                           # a check of a pinhole that is there
    with open(b.miniupnpd_log, errors="replace") as f:
        f.seek(mark)
        seen = f.read()
    assert "CheckPinholeWorking" in seen
    assert "AddPinhole" not in seen, "a pinhole the router holds was added again"
    with open(os.path.join(d.state_dir, "mappings.json")) as f:
        uid = next(r["handle"] for r in __import__("json").load(f)["mappings"]
                   if r.get("family") == "ipv6")
    p = upnpc6(b, "-D", uid)
    assert p.returncode == 0 and b.pinholes() == [], p.stdout + p.stderr
    assert not b.reaches6(8080)
    assert wait_until(lambda: b.reaches6(8080), timeout=15, what="the pinhole back"), \
        d.logtext()[-3000:]
    log = d.logtext()
    assert "no longer holds" in log and "re-creating every mapping" not in log
    assert len(b.pinholes()) == 1 and b.reaches(18080)
    s6 = entry(d.status(), "web", "ipv6")
    assert s6["state"] == "mapped" and s6["expires_in"] > 3000


SPOOF = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                     "spoof_announce.py")


def test_spoofed_restarts_do_not_churn_pinholes(make_bed):
    """Announcements are only hints (test_trust.py): a flood of spoofed SSDP restarts
    from another LAN host makes the daemon add its pinhole again once per
    check_interval at most, not once a second."""
    b = v6bed(make_bed)
    d = b.start_daemon(b.gateway_conf("upnp", check_interval="1h"), dropins={"web.conf": web(b)})
    wait_entry(d, "web", "ipv6", "mapped")
    time.sleep(1.5)                            # the first BOOTID's look is over
    mark = os.path.getsize(b.miniupnpd_log)
    flood = b.popen("lan2", [sys.executable, SPOOF, b.gw_lan_ip, "--rate", "200",
                             "--seconds", "6"], label="spoof")
    assert wait_until(lambda: flood.poll() is not None, timeout=30, what="the flood to end")
    time.sleep(1.5)
    assert int(re.search(r"SENT (\d+)", open(flood.log).read()).group(1)) >= 1000
    with open(b.miniupnpd_log, errors="replace") as f:
        f.seek(mark)
        adds = len(re.findall(r"AddPinhole: \(inbound\)", f.read()))
    assert adds <= 1, "the pinhole was made %d times during the flood" % adds
    assert entry(d.status(), "web", "ipv6")["state"] == "mapped"
    assert len(b.pinholes()) == 1 and b.reaches6(8080)


def test_aaaa_published_and_answered_by_bind(make_bed):
    b = v6bed(make_bed)
    d = b.start_daemon(b.gateway_conf("upnp"), dropins={"home.conf": aaaa_conf(b)})
    st = d.wait_for(lambda st: ddns_entry(st, "home")["state"] == "ok", timeout=15)
    e = ddns_entry(st, "home")
    assert e["records"] == ["A", "AAAA"]
    assert e["published_ip"] == b.gw_wan_ip and e["published_ipv6"] == b.lan6_ip
    assert e["record_states"]["AAAA"]["state"] == "ok"
    assert b.dig("www." + b.zone, "AAAA") == [b.lan6_ip]
    assert b.dig("www." + b.zone, "A") == [b.gw_wan_ip]
    # state per record type: a restart sends nothing
    mark = len(b.dig("www." + b.zone, "AAAA"))
    assert d.stop() == 0
    d.start()
    st = d.wait_for(lambda st: ddns_entry(st, "home")["state"] == "ok", timeout=15)
    assert "last published 2001:db8:77::10" in d.logtext()
    assert mark == 1


def test_renumbering_moves_aaaa_and_pinhole(make_bed):
    b = v6bed(make_bed)
    d = b.start_daemon(b.gateway_conf("upnp"), dropins={"web.conf": web(b),
                                                          "home.conf": aaaa_conf(b)})
    wait_entry(d, "web", "ipv6", "mapped")
    d.wait_for(lambda st: ddns_entry(st, "home")["state"] == "ok", timeout=15)
    old = b.lan6_ip
    b.renumber6("2001:db8:78::/64")
    new = b.lan6_ip
    assert wait_until(lambda: b.dig("www." + b.zone, "AAAA") == [new], timeout=10,
                      what="AAAA to follow the prefix")
    assert wait_until(lambda: b.reaches6(8080), timeout=10, what="the new pinhole")
    assert not b.reaches6(8080, ip=old)
    assert [p["int_ip"] for p in b.pinholes()] == [new]
    st = d.status()
    assert entry(st, "web", "ipv6")["internal_host"] == new
    assert st["gateway"]["ipv6"]["prefix"] == "2001:db8:78::/64"
    assert ddns_entry(st, "home")["published_ipv6"] == new
    # the old prefix gone entirely: nothing changes, nothing breaks
    b.del_addr6("lan", old)
    time.sleep(0.3)
    assert b.dig("www." + b.zone, "AAAA") == [new] and b.reaches6(8080)


def test_temporary_and_deprecated_never_published(make_bed):
    b = v6bed(make_bed)
    b.deprecate6("lan", b.lan6_ip)
    template, tmp = b.temporary6("lan")     # the kernel now prefers tmp as source
    d = b.start_daemon(b.gateway_conf("upnp"), dropins={"web.conf": web(b),
                                                          "home.conf": aaaa_conf(b)})
    d.wait_for(lambda st: ddns_entry(st, "home")["state"] == "ok", timeout=15)
    assert b.dig("www." + b.zone, "AAAA") == [template]
    s6 = wait_entry(d, "web", "ipv6", "mapped")
    assert s6["internal_host"] == template
    assert b.reaches6(8080, ip=template) and not b.reaches6(8080, ip=tmp)
    # the last usable address deprecated: nothing to publish, and it says why
    b.deprecate6("lan", template)
    st = d.wait_for(lambda st: entry(st, "web", "ipv6")["state"] == "pending", timeout=10)
    assert "deprecated" in entry(st, "web", "ipv6")["error"]
    assert b.dig("www." + b.zone, "AAAA") == [template]
    log = d.logtext()
    assert tmp not in re.sub(r"not used: temporary.*", "", log).split("published")[-1]
    assert "published %s" % tmp not in log and "published %s" % b.lan6_ip not in log


def test_cgnat_ipv4_with_public_ipv6(make_bed):
    b = v6bed(make_bed)
    b.set_wan_ip("100.64.0.2", 10)
    d = b.start_daemon(b.gateway_conf("upnp"), dropins={"web.conf": web(b),
                                                          "home.conf": aaaa_conf(b)})
    st = d.wait_for(lambda st: ddns_entry(st, "home")["record_states"]["AAAA"]["state"] == "ok"
                    and ddns_entry(st, "home")["record_states"]["A"]["state"] == "blocked",
                    timeout=15)
    e = ddns_entry(st, "home")
    assert e["state"] == "blocked" and e["published_ip"] is None
    assert e["error"] == ("IPv4 100.64.0.2 is carrier-grade NAT: no A record; reachable "
                          "over IPv6 at %s" % b.lan6_ip)
    assert st["gateway"]["external_ip_public"] is False
    assert b.dig("www." + b.zone, "A") == []
    assert b.dig("www." + b.zone, "AAAA") == [b.lan6_ip]
    wait_entry(d, "web", "ipv6", "mapped")
    assert b.reaches6(8080)
    p = b.run("lan", [HOMEPORTD, "--probe", "-c", d.conf])
    assert "carrier-grade NAT" in p.stdout and b.lan6_ip in p.stdout, p.stdout


def test_ipv6_host_suffix_and_mac(make_bed):
    b = v6bed(make_bed)
    conf = (aaaa_conf(b, "suffix", "cam." + b.zone, "AAAA", ipv6_host="::20") +
            aaaa_conf(b, "mac", "nas." + b.zone, "AAAA", ipv6_host=b.mac("lan2")))
    d = b.start_daemon(b.gateway_conf("upnp", check_interval="10s"),
                       dropins={"cam.conf": conf})
    d.wait_for(lambda st: ddns_entry(st, "suffix")["state"] == "ok", timeout=15)
    assert b.dig("cam." + b.zone, "AAAA") == [b.lan2_6_ip]
    e = ddns_entry(d.status(), "mac")
    assert e["state"] == "pending" and "neighbour table" in e["error"]
    assert b.dig("nas." + b.zone, "AAAA") == []
    # lan2 talks to this host: its address is known now, and published
    assert b.tcp_probe(b.lan6_ip, 8080, ns="lan2")
    d.wait_for(lambda st: ddns_entry(st, "mac")["state"] == "ok", timeout=15)
    assert b.dig("nas." + b.zone, "AAAA") == [b.lan2_6_ip]
    # renumbered: the suffix follows at once; the MAC's new (EUI-64) address is
    # found by homeport itself
    b.renumber6("2001:db8:78::/64")
    b.addr6("lan2", "2001:db8:78::ff:fe00:7720")
    assert wait_until(lambda: b.dig("cam." + b.zone, "AAAA") == ["2001:db8:78::20"],
                      timeout=10, what="the suffix in the new prefix")
    assert wait_until(lambda: b.dig("nas." + b.zone, "AAAA") == ["2001:db8:78::ff:fe00:7720"],
                      timeout=20, what="the MAC's address in the new prefix")


# --------------------------------------------------------------------------------------
# AAAA on the HTTP providers (provtool against the stand-in, as test_providers.py)

IP6 = "2001:db8:77::10"


def prov6(bed, provider, *keys):
    tool = os.path.join(build_dir(), "tools", "provtool")
    if not os.path.exists(tool):
        pytest.skip("%s not built" % tool)
    p = bed.run("lan", [tool, provider, IP6] + list(keys) + ["ca_file=" + bed.ca_file],
                timeout=60)
    return p.returncode, p.stdout


@pytest.fixture
def sbed(make_bed):
    return make_bed(upnp=False, natpmp=False, bind=False, echo=False)


def dyn_keys(*extra):
    return ["username=homeport", "password=dynpass", "hostname=www.dyn.example"] + list(extra)


@pytest.mark.parametrize("preset,host,query", [
    ("dyndns2", "ddns.example.test", {"myipv6": IP6}),
    ("dynu", "api.dynu.com", {"myipv6": IP6}),
    ("noip", "dynupdate.no-ip.com", {"myip": IP6}),
    ("strato", "dyndns.strato.com", {"myip": IP6}),
    ("nsupdate.info", "ipv6.nsupdate.info", {"myip": IP6}),
    ("desec", "update.dedyn.io", {"myipv6": IP6, "myipv4": "preserve"}),
])
def test_dyndns2_presets_aaaa(sbed, preset, host, query):
    m = sbed.standin.mark()
    extra = ["server=%s/nic/update" % sbed.standin_url] if preset == "dyndns2" else []
    rc, out = prov6(sbed, preset, *dyn_keys(*extra))
    assert rc == 0, out
    q = sbed.standin.log(m, api="dyndns2")[0]
    assert q["headers"]["Host"] == host
    for k, v in query.items():
        assert q["query"][k] == v, q["query"]
    assert "myip" not in q["query"] or q["query"]["myip"] == IP6   # never an IPv4 guess
    assert sbed.standin.ip_of("www.dyn.example", "AAAA") == IP6
    assert sbed.standin.ip_of("www.dyn.example", "A") is None


def test_desec_a_update_preserves_aaaa(sbed):
    m = sbed.standin.mark()
    tool = os.path.join(build_dir(), "tools", "provtool")
    p = sbed.run("lan", [tool, "desec", "203.0.113.2"] + dyn_keys() +
                 ["ca_file=" + sbed.ca_file], timeout=60)
    assert p.returncode == 0, p.stdout
    q = sbed.standin.log(m, api="dyndns2")[0]
    assert q["query"]["myip"] == "203.0.113.2" and q["query"]["myipv6"] == "preserve"


def test_cloudflare_aaaa(sbed):
    keys = ["token=cftoken", "zone=cf.example", "hostname=www.cf.example"]
    rc, out = prov6(sbed, "cloudflare", *keys)
    assert rc == 0, out
    rec = sbed.standin.records()["www.cf.example"]
    assert rec["AAAA"]["content"] == IP6 and "A" not in rec
    m = sbed.standin.mark()
    rc, out = prov6(sbed, "cloudflare", *keys)          # unchanged: looked up, not written
    assert rc == 0, out
    assert [q["method"] for q in sbed.standin.log(m, api="cloudflare")] == ["GET", "GET"]
    assert "type=AAAA" in sbed.standin.log(m, api="cloudflare")[1]["query_raw"]


def test_duckdns_aaaa(sbed):
    m = sbed.standin.mark()
    rc, out = prov6(sbed, "duckdns", "token=duck-token", "hostname=myhome")
    assert rc == 0, out
    q = sbed.standin.log(m, api="duckdns")[0]
    assert q["query"]["ipv6"] == IP6 and "ip" not in q["query"]
    assert sbed.standin.ip_of("myhome.duckdns.org", "AAAA") == IP6


def test_webhook_ipv6_variable(sbed):
    m = sbed.standin.mark()
    rc, out = prov6(sbed, "webhook", "hostname=www.hook.example",
                    "url=%s/webhook?ip=%%ip%%&v6=%%ipv6%%&hostname=%%hostname%%"
                    % sbed.standin_url)
    assert rc == 0, out
    q = sbed.standin.log(m, api="webhook")[0]
    assert q["query"]["v6"] == IP6 and q["query"]["ip"] == IP6
    assert sbed.standin.ip_of("www.hook.example", "AAAA") == IP6


def test_other_host_and_ipv6_off_by_reload(make_bed):
    b = v6bed(make_bed)
    b.start_echo("lan2", tcp=[8554], udp=[])
    cam = b.service_section("cam", 8554, 18554, internal_host=b.lan2_ip)
    d = b.start_daemon(b.gateway_conf("upnp"), dropins={"web.conf": web(b), "cam.conf": cam})
    s6 = wait_entry(d, "cam", "ipv6", "refused")
    assert "only for the asking host" in s6["error"] and b.lan2_ip in s6["error"]
    assert s6["internal_host"] is None
    wait_entry(d, "web", "ipv6", "mapped")
    assert b.reaches6(8080) and not b.reaches6(8554, host="lan2")
    # ipv6 = no on reload: the pinhole goes, IPv4 stays
    d.dropin("web.conf", web(b, ipv6=False))
    assert d.ctl("reload")[0] == 0
    assert wait_until(lambda: b.pinholes() == [], timeout=10, what="the pinhole to go")
    st = d.status()
    assert entry(st, "web", "ipv6") is None and entry(st, "web", "ipv4")["state"] == "mapped"
    assert not b.reaches6(8080)
