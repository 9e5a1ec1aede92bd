#!/usr/bin/env python3
"""Benchmark (issue 13): 50 services mapped over PCP, against the same over UPnP and
against the router's floors, in one run; and how fast a router reboot is repaired.

Run as root from the tree root:  python3 bench/pcp.py [--reps 5] [--services 50]

One test bed (real miniupnpd 2.3.1, secure_mode off, UPnP and NAT-PMP/PCP on). Per
repetition, interleaved so that background load hits every figure alike:
  daemon/pcp    homeportd, protocol=pcp: from starting the process to (router) the
                50th lease in miniupnpd's lease file and (daemon) `status` showing all
                50 services "mapped"
  daemon/upnp   the same with protocol=upnp + upnp_url (no SSDP)
  floor/upnp    bench_upnpfloor: one blocking miniupnpc client, known URL, 50
                AddPortMapping back to back (ops only)
  floor/pcp     one minimal PCP client (this script, in-process): 50 MAP requests
                back to back, each waiting for its answer
  reboot/pcp    50 services mapped over PCP, router rebooted (miniupnpd killed, its
                rules and lease file dropped, started again): time until its lease
                file holds all 50 again (its ANNOUNCE, our ANNOUNCE request, the epoch)
  reboot/upnp   the same over UPnP (SSDP boot id, or a verification that finds them gone)
Medians over the repetitions; ratios are daemon / floor.
"""
import argparse
import os
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True   # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import mapping  # noqa: E402
from common import Bed, median, fmt, fmt_ratio, ratio, log  # noqa: E402

FLOOR_BASE = mapping.FLOOR_BASE
INT_BASE = mapping.INT_BASE
count_leases = mapping.count_leases


def pcp_floor(bed, n, base):
    """n PCP MAP requests (TCP base+i -> lan INT_BASE+i) back to back from one socket,
    each waiting for its answer; then deleted. Returns the adds' ms, or None."""
    def v4(ip):
        return b"\0" * 10 + b"\xff\xff" + socket.inet_aton(ip)

    s = bed.socket("lan", socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    s.connect((bed.gw_lan_ip, 5351))
    nonce = os.urandom(12)

    def exchange(i, lifetime):
        req = (struct.pack("!BBHI", 2, 1, 0, lifetime) + v4(bed.lan_ip) + nonce +
               struct.pack("!B3xHH", 6, INT_BASE + i, base + i) + v4("0.0.0.0"))
        s.send(req)
        r = s.recv(1100)
        return len(r) >= 60 and r[3] == 0

    try:
        t0 = time.monotonic()
        ok = all(exchange(i, 3600) for i in range(n))
        ms = (time.monotonic() - t0) * 1e3
        for i in range(n):
            exchange(i, 0)
    except OSError as e:
        log("PCP floor: %s" % e)
        ok = False
    finally:
        s.close()
    mapping.clear_router(bed)
    return ms if ok else None


def run_reboot(bed, protocol, n, timeout=30.0):
    """Map n services, reboot the router, time until its lease file holds n again."""
    d = bed.start_daemon(mapping.daemon_conf(bed, protocol, n).replace(
        "lease = 1h", "lease = 1h\ncheck_interval = 1h"), wait=True)
    try:
        deadline = time.monotonic() + timeout
        while count_leases(bed) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        if count_leases(bed) < n:
            return None
        # RFC 6887 8.5: within 2 s of the last answer a reboot cannot be told apart
        time.sleep(3.0)
        t0 = time.monotonic()
        bed.reboot_router()
        while count_leases(bed) < n and time.monotonic() - t0 < timeout:
            time.sleep(0.002)
        ms = (time.monotonic() - t0) * 1e3
        return ms if count_leases(bed) >= n else None
    finally:
        d.stop(timeout=10)
        mapping.clear_router(bed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--services", type=int, default=50)
    args = ap.parse_args()
    common.require_root()
    n = args.services
    tool = common.bench_tool("bench_upnpfloor")
    R = {k: [] for k in ("d_pcp", "d_pcp_router", "d_upnp", "d_upnp_router", "floor_upnp",
                         "floor_pcp", "reboot_pcp", "reboot_upnp")}
    problems = []
    with Bed(secure_mode=False, upnp=True, natpmp=True, bind=False, standin=False,
             echo=False) as bed:
        log("bed up in %.2f s (%s)" % (bed.startup_time, bed.tmp))
        for rep in range(args.reps):
            log("repetition %d/%d" % (rep + 1, args.reps))
            for proto in ("pcp", "upnp"):
                r = mapping.run_daemon(bed, proto, n)
                if r["error"] or r["left_behind"] or r["protocol"] != proto:
                    problems.append("daemon/%s rep %d: %s, protocol %s, %d left behind" % (
                        proto, rep + 1, r["error"], r["protocol"], r["left_behind"]))
                R["d_" + proto].append(r["daemon_ms"])
                R["d_%s_router" % proto].append(r["router_ms"])
            f = mapping.run_floor(bed, tool, n)
            R["floor_upnp"].append(f["ops_ms"] if f else None)
            R["floor_pcp"].append(pcp_floor(bed, n, FLOOR_BASE))
            for proto in ("pcp", "upnp"):
                ms = run_reboot(bed, proto, n)
                if ms is None:
                    problems.append("reboot/%s rep %d: not repaired" % (proto, rep + 1))
                R["reboot_" + proto].append(ms)

    M = {k: median(v) for k, v in R.items()}
    print()
    print("homeport PCP benchmark: %d services, %d repetitions, medians (ms)" % (n, args.reps))
    print("miniupnpd 2.3.1 on the test bed, secure_mode off; all clients in the lan namespace")
    print()
    common.table(["figure", "median ms"], [
        ["homeportd protocol=pcp (start -> %d mapped, daemon status)" % n, fmt(M["d_pcp"])],
        ["  same, router side (start -> %dth lease)" % n, fmt(M["d_pcp_router"])],
        ["homeportd protocol=upnp (start -> %d mapped, daemon status)" % n, fmt(M["d_upnp"])],
        ["  same, router side", fmt(M["d_upnp_router"])],
        ["floor/pcp: 1 client, %d MAP back to back" % n, fmt(M["floor_pcp"])],
        ["floor/upnp: 1 miniupnpc client, %d AddPortMapping back to back" % n,
         fmt(M["floor_upnp"])],
        ["router reboot -> %d mappings back, over PCP" % n, fmt(M["reboot_pcp"])],
        ["router reboot -> %d mappings back, over UPnP" % n, fmt(M["reboot_upnp"])],
    ])
    print()
    common.table(["ratio", "value"], [
        ["homeportd/pcp vs floor/pcp", fmt_ratio(ratio(M["d_pcp"], M["floor_pcp"]))],
        ["homeportd/pcp vs homeportd/upnp", fmt_ratio(ratio(M["d_pcp"], M["d_upnp"]))],
        ["homeportd/upnp vs floor/upnp", fmt_ratio(ratio(M["d_upnp"], M["floor_upnp"]))],
        ["floor/pcp vs floor/upnp", fmt_ratio(ratio(M["floor_pcp"], M["floor_upnp"]))],
    ])
    print()
    print("samples (ms): " + "; ".join("%s=%s" % (k, [None if x is None else round(x, 1)
                                                      for x in R[k]]) for k in R))
    common.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())
