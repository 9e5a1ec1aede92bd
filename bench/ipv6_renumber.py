#!/usr/bin/env python3
"""Benchmark (issue 12): time from an IPv6 prefix change on the LAN to (a) BIND
answering the new AAAA and (b) the router's pinhole passing traffic to the new
address.

Run as root from the tree root:
    python3 bench/ipv6_renumber.py [--rounds 10] [--old deprecate|remove]

One IPv6 test bed (miniupnpd with IGD v2 pinholes, BIND, routed 2001:db8::
prefixes). homeportd runs in lan with one service (8080/tcp, ipv6 = yes) and an
rfc2136 entry with records = A, AAAA. Each round moves the LAN to a new /64 the
way a renumbering router does: every host gets its interface ID in the new
prefix, then its old address is deprecated (default) or removed
(bed.renumber6). The clock starts just before the first address change. Every
5 ms the script asks BIND for the AAAA (in-process UDP from wan) and tries a
TCP connection from wan to [new address]:8080 (a fresh socket each time, 20 ms
timeout: a dropped SYN is not retried by the kernel within it). Times are
medians over the rounds. The old prefix's addresses are removed after each
round.
"""
import argparse
import os
import socket
import sys
import time

sys.dont_write_bytecode = True   # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import Bed, median, fmt, log  # noqa: E402

POLL = 0.005
LIMIT = 10.0


def round_once(bed, sock, name, prefix, old):
    before = bed.lan6_net
    t0 = bed.renumber6(prefix, old=old)
    new = bed.lan6_ip
    got = {}
    while len(got) < 2 and time.monotonic() - t0 < LIMIT:
        if "aaaa" not in got:
            ans = common.dns_query_a(sock, (bed.wan_ip, bed.dns_port), name, timeout=0.05,
                                     rtype=28)
            if ans == [new]:
                got["aaaa"] = (time.monotonic() - t0) * 1e3
        if "pinhole" not in got and bed.reaches6(8080, ip=new, timeout=0.02):
            got["pinhole"] = (time.monotonic() - t0) * 1e3
        time.sleep(POLL)
    if old != "remove":
        for h in ("gw", "lan", "lan2"):
            bed.del_addr6(h, bed.host6(h, before), before.prefixlen)
    return got.get("aaaa"), got.get("pinhole")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--old", choices=("deprecate", "remove"), default="deprecate")
    args = ap.parse_args()
    common.require_root()
    samples = {"aaaa": [], "pinhole": []}
    with Bed(ipv6=True) as bed:
        log("bed up in %.2f s (%s)" % (bed.startup_time, bed.tmp))
        name = "www.%s" % bed.zone
        conf = (bed.gateway_conf("upnp") + "\n" +
                bed.service_section("web", 8080, 18080) + "\n" +
                "[ddns:home]\nhostname = %s\nrecords = A, AAAA\n" % name +
                bed.rfc2136_conf(ttl=60))
        d = bed.start_daemon(conf)
        sock = bed.socket("wan", socket.AF_INET, socket.SOCK_DGRAM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
                common.dns_query_a(sock, (bed.wan_ip, bed.dns_port), name, rtype=28)
                == [bed.lan6_ip] and bed.reaches6(8080)):
            time.sleep(0.05)
        for i in range(args.rounds):
            prefix = "2001:db8:78:%x::/64" % (i + 1)     # never the WAN's prefix
            aaaa, pin = round_once(bed, sock, name, prefix, args.old)
            samples["aaaa"].append(aaaa)
            samples["pinhole"].append(pin)
            log("round %d/%d -> %s: AAAA %s, pinhole %s" % (
                i + 1, args.rounds, prefix, fmt(aaaa, " ms", 1), fmt(pin, " ms", 1)))
        sock.close()
        if not d.running():
            log("homeportd exited %s" % d.proc.returncode)
    print()
    print("homeport IPv6 renumbering (old prefix %s): prefix change -> ..., %d rounds"
          % ("deprecated" if args.old == "deprecate" else "removed", args.rounds))
    print()
    rows = []
    for k, label in (("aaaa", "BIND answers the new AAAA"),
                     ("pinhole", "the pinhole passes traffic to the new address")):
        v = [x for x in samples[k] if x is not None]
        rows.append([label, fmt(median(v), " ms", 1), fmt(min(v) if v else None, " ms", 1),
                     fmt(max(v) if v else None, " ms", 1), "%d/%d" % (len(v), len(samples[k]))])
    common.table(["after a prefix change", "median", "min", "max", "ok"], rows)


if __name__ == "__main__":
    main()
