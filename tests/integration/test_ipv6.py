"""IPv6 on the bed (Bed(ipv6=True)): the bed itself first, proven with the
baseline tools (upnpc, dig) and raw sockets; then homeport's IPv6 address
tracking (addr6tool), then the daemon: pinholes and AAAA records, each
checked from outside."""
import os
import re
import subprocess
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
