#!/usr/bin/env python3
"""Benchmark (issue 17): how often an idle daemon wakes up, homeportd against inadyn.

Run as root from the tree root:
    python3 bench/idle.py [--minutes 10] [--before BUILD_DIR] [--no-inadyn]

One test bed (miniupnpd with UPnP and NAT-PMP, BIND, HTTPS stand-in). Once everything
is settled (services mapped, DNS names published), nothing is due for a while; then
the voluntary context switches of each process (every thread, and for homeportd its
UPnP helper too) are read from /proc/PID/task/*/status at the start and the end of an
idle window. A voluntary switch is the process going to sleep: one per wake-up.
  homeportd         protocol auto (UPnP and NAT-PMP), default check_interval (5m) and
                    lease (1h), 3 services, a dyndns2 and an rfc2136 entry (lan)
  homeportd before  with --before: the same from another build (lan2, other ports)
  inadyn period 300 the same checking cadence as homeportd's check_interval (lan)
  inadyn period 60  inadyn's default period (lan)
inadyn asks the bed's checkip server and updates the stand-in's dyndns2 API.
The router's own traffic that reaches the LAN hosts is counted in the router (nft):
SSDP NOTIFY datagrams (miniupnpd sends a burst every 30 s here; homeportd listens to
notice a router restart) and NAT-PMP/PCP datagrams sent from port 5351.
"""
import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True   # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import Bed, fmt, log  # noqa: E402
from ddns_latency import start_daemon_from  # noqa: E402


def switches(pid):
    """(voluntary, nonvoluntary) context switches over every thread of pid."""
    vol = invol = 0
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        vol += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        invol += int(line.split()[1])
        except OSError:
            continue
    return vol, invol


def tree(pid):
    return [pid] + common.children_of(pid)


def snapshot(procs, names):
    """{label: {pid: (vol, invol)}} for every process of every client; names[pid] = comm."""
    out = {}
    for label, pid in procs.items():
        out[label] = {}
        for p in tree(pid):
            names.setdefault(p, common.comm(p))
            out[label][p] = switches(p)
    return out


def router_counters(bed):
    bed.run("gw", ["sh", "-c",
                   "nft add table inet hpidle && "
                   "nft add chain inet hpidle out '{ type filter hook output priority -5; }' && "
                   "nft add rule inet hpidle out udp dport 1900 counter && "
                   "nft add rule inet hpidle out udp sport 5351 counter"], check=True)


def read_router_counters(bed):
    p = bed.run("gw", ["nft", "-j", "list", "table", "inet", "hpidle"], check=True)
    out = []
    for item in json.loads(p.stdout)["nftables"]:
        for e in item.get("rule", {}).get("expr", []):
            if "counter" in e:
                out.append(e["counter"]["packets"])
    return out


def conf_for(bed, tag, port0):
    return (bed.gateway_conf("auto") +
            "".join(bed.service_section("%s%d" % (tag, i), 8080 + i, port0 + i)
                    for i in range(3)) +
            bed.ddns_section("dyn", "dyndns2", "%s.dyn.example" % tag) +
            bed.ddns_section("bind", "rfc2136", "%s.%s" % (tag, bed.zone), ttl=60))


def settled(d):
    st = d.status()
    return all(e["state"] == "ok" for e in st["ddns"]) and \
        all(s["state"] == "mapped" for s in st["services"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--before", metavar="BUILD_DIR",
                    help="also run this build's homeportd (lan2)")
    ap.add_argument("--no-inadyn", action="store_true")
    args = ap.parse_args()
    common.require_root()
    problems = []
    with Bed(secure_mode=False, upnp=True, natpmp=True, bind=True, standin=True,
             echo=False) as bed:
        log("bed up in %.2f s (%s)" % (bed.startup_time, bed.tmp))
        procs, daemons = {}, {}
        daemons["homeportd"] = bed.start_daemon(conf_for(bed, "idle", 18100), ns="lan")
        if args.before:
            daemons["homeportd before"] = start_daemon_from(
                bed, args.before, conf_for(bed, "idle0", 18200), "lan2")
        inadyns = {}
        if not args.no_inadyn:
            common.start_checkip(bed)
            for per in (300, 60):
                label = "inadyn period %d" % per
                try:
                    inadyns[label] = common.start_inadyn(bed, "i%d.dyn.example" % per,
                                                         period=per, label="inadyn%d" % per)
                except RuntimeError as e:
                    problems.append("%s not run: %s" % (label, e))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            recs = bed.standin.records()
            if all(settled(d) for d in daemons.values()) and \
                    all(recs.get("i%s.dyn.example" % l.split()[-1]) for l in inadyns):
                break
            time.sleep(0.5)
        else:
            problems.append("not settled within 60 s")
        time.sleep(5)
        for label, d in daemons.items():
            procs[label] = d.proc.pid
        for label, p in inadyns.items():
            procs[label] = p.pid
        router_counters(bed)
        log("idle for %.1f min: %s" % (args.minutes, ", ".join(procs)))
        names = {}
        s0 = snapshot(procs, names)
        time.sleep(args.minutes * 60)
        s1 = snapshot(procs, names)
        notify, natpmp = read_router_counters(bed)
        for label, d in daemons.items():
            if not d.running():
                problems.append("%s exited" % label)

    print()
    print("idle wake-ups over %.1f min (voluntary context switches, every thread)"
          % args.minutes)
    print()
    rows = []
    for label in procs:
        tot_v = tot_i = 0
        for pid, a in s0[label].items():
            b = s1[label].get(pid)
            if a is None or b is None:
                continue
            dv, di = b[0] - a[0], b[1] - a[1]
            tot_v += dv
            tot_i += di
            if len(s0[label]) > 1:
                rows.append(["  %s (%s)" % (label, names.get(pid, pid)), dv,
                             fmt(dv / args.minutes, "", 1), di])
        rows.append([label, tot_v, fmt(tot_v / args.minutes, "", 1), tot_i])
    common.table(["process", "voluntary", "per minute", "nonvoluntary"], rows)
    print()
    print("the router sent %d SSDP NOTIFY datagrams and %d NAT-PMP/PCP datagrams to the LAN "
          "in the window" % (notify, natpmp))
    if problems:
        print()
        print("PROBLEMS SEEN (%d):" % len(problems))
        for p in problems:
            print(" - " + p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
