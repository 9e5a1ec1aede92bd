#!/usr/bin/env python3
"""Benchmark (issue 15): homeportd with web IP sources (a router without UPnP,
NAT-PMP or PCP): how many requests it sends to "what is my IP" services per
day, against Debian's inadyn and ddclient at their defaults, and how long a
WAN address change takes to reach DNS.

Run as root from the tree root:
    python3 bench/web_sources.py [--minutes 60] [--rounds 10] [--interval 60]
                                 [--no-baselines] [--only rate|delay]

1. Request rate (--minutes of real time): one bed whose router runs no
   miniupnpd. Side by side in the lan namespace:
     homeportd   protocol = none, check_interval at its default (5m), two
                 HTTPS checkip stand-ins (the built-in list's six services
                 cannot be asked from the bed; the count does not depend on
                 how many sources there are: one request per round once two
                 agreed)
     inadyn      its own default period, one custom provider checking the IP
                 over HTTPS at a third checkip stand-in
     ddclient    daemon=300 (Debian's /etc/default/ddclient), use=web at the
                 third checkip stand-in over HTTPS
   Requests are counted at the stand-in, by User-Agent. Per day = the
   requests after the first round, over the time since the first round,
   times 86400.
2. Delay (--rounds changes): homeportd, protocol = none, check_interval
   --interval (60 s: the shortest the web sources are asked at), two checkip
   stand-ins, rfc2136 to BIND. Before each WAN change the script waits a
   random time (uniform, 0 .. interval) so that the change falls at a random
   phase of the schedule; the delay is taken until BIND answers the new
   address (polled every 20 ms from the wan namespace).
No timing is asserted: figures only.
"""
import argparse
import os
import random
import socket
import sys
import time

sys.dont_write_bytecode = True   # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import Bed, fmt, log  # noqa: E402

POLL = 0.020
CHECKIP_BASELINE = "checkip-c.example.test"     # homeportd asks a and b


def homeport_conf(bed, n_sources, interval=None):
    keys = {"check_url": ", ".join(bed.checkip_urls(n_sources)), "ca_file": bed.ca_file}
    if interval:
        keys["check_interval"] = "%ds" % interval
    return (bed.gateway_conf("none", **keys) +
            bed.ddns_section("home", "rfc2136", "www.%s" % bed.zone, ttl=60))


def agent_count(bed, agent):
    """checkip requests at the stand-in whose User-Agent starts with agent."""
    return sum(1 for e in bed.standin.checkip_log()
               if e["headers"].get("User-Agent", "").lower().startswith(agent))


def rate(args):
    """Requests per day at the default settings, measured over args.minutes."""
    problems, counters = [], {}
    with Bed(upnp=False, natpmp=False, bind=True, standin=True, echo=False) as bed:
        log("bed up in %.2f s (%s)" % (bed.startup_time, bed.tmp))
        d = bed.start_daemon(homeport_conf(bed, 2))
        counters["homeportd (check_interval 5m, default)"] = lambda: agent_count(bed, "homeport/")
        if not args.no_baselines:
            for name, agent, start in (
                    ("inadyn (its default period)", "inadyn/",
                     lambda: common.start_inadyn(bed, "c.dyn.example", None,
                                                 checkip_host=CHECKIP_BASELINE)),
                    ("ddclient (daemon=300)", "ddclient/",
                     lambda: common.start_ddclient(bed, "d.dyn.example", 300,
                                                   checkip_host=CHECKIP_BASELINE))):
                try:
                    proc = start()
                    time.sleep(3)
                    if proc.poll() is not None:
                        with open(proc.log, errors="replace") as f:
                            raise RuntimeError("exited at once: %s" % f.read()[-300:].strip())
                    counters[name] = (lambda a: lambda: agent_count(bed, a))(agent)
                except RuntimeError as e:
                    problems.append("%s not run: %s" % (name, e))
        first = {}
        t_end = time.monotonic() + args.minutes * 60
        while time.monotonic() < t_end:
            now = time.monotonic()
            for k, c in counters.items():
                if k not in first and c() > 0:
                    first[k] = (now, c())
            time.sleep(1)
        elapsed = {k: time.monotonic() - t for k, (t, _) in first.items()}
        totals = {k: c() for k, c in counters.items()}
        if not d.running():
            problems.append("homeportd exited")
    print()
    print("Requests to web IP services over %g minutes; per day = after the first round" %
          args.minutes)
    print()
    rows = []
    for k in counters:
        if k not in first:
            rows.append([k, totals[k], "n/a", "n/a"])
            continue
        after = totals[k] - first[k][1]
        per_day = after / elapsed[k] * 86400 if elapsed[k] > 0 else None
        rows.append([k, totals[k], after, fmt(per_day, "", 0)])
    common.table(["client", "requests", "after first round", "per day"], rows)
    return problems


def delay(args):
    """Change-to-DNS delay in web mode, args.rounds samples."""
    problems, samples = [], []
    rnd = random.Random(args.seed)
    with Bed(upnp=False, natpmp=False, bind=True, standin=True, echo=False) as bed:
        log("bed up in %.2f s (%s)" % (bed.startup_time, bed.tmp))
        d = bed.start_daemon(homeport_conf(bed, 2, args.interval))
        name = "www.%s" % bed.zone
        sock = bed.socket("wan", socket.AF_INET, socket.SOCK_DGRAM)

        def served():
            ans = common.dns_query_a(sock, (bed.wan_ip, bed.dns_port), name, timeout=0.2)
            return ans[0] if ans else None
        deadline = time.monotonic() + 60
        while served() != bed.gw_wan_ip and time.monotonic() < deadline:
            time.sleep(0.1)
        for i in range(args.rounds):
            pre = rnd.uniform(0, args.interval)
            new_ip = "203.0.113.%d" % (10 + i % 200)
            log("round %d/%d: waiting %.1f s, then WAN %s -> %s" % (
                i + 1, args.rounds, pre, bed.gw_wan_ip, new_ip))
            time.sleep(pre)
            t0 = time.monotonic()
            bed.set_wan_ip(new_ip)
            took = None
            while time.monotonic() - t0 < args.interval + 60:
                if served() == new_ip:
                    took = time.monotonic() - t0
                    break
                time.sleep(POLL)
            if took is None:
                problems.append("round %d: %s not in DNS within %d s" % (
                    i + 1, new_ip, args.interval + 60))
            samples.append(took)
            log("  %s" % fmt(took, " s", 2))
        n_req = len(bed.standin.checkip_log())
        if not d.running():
            problems.append("homeportd exited")
        sock.close()
    got = sorted(s for s in samples if s is not None)
    print()
    print("WAN change -> BIND answers the new address, web sources, check_interval %d s, "
          "%d rounds" % (args.interval, args.rounds))
    print()
    if got:
        def pct(p):
            return got[min(len(got) - 1, int(p * len(got)))]
        common.table(["min", "p25", "median", "p75", "p90", "max", "ok"],
                     [[fmt(got[0], " s", 1), fmt(pct(0.25), " s", 1),
                       fmt(common.median(got), " s", 1), fmt(pct(0.75), " s", 1),
                       fmt(pct(0.9), " s", 1), fmt(got[-1], " s", 1),
                       "%d/%d" % (len(got), len(samples))]])
        print()
        print("samples: " + ", ".join("%.1f" % s for s in got))
    print("checkip requests during the run (start included): %d" % n_req)
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--interval", type=int, default=60)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--only", choices=("rate", "delay"))
    args = ap.parse_args()
    common.require_root()
    problems = []
    if args.only != "rate":
        problems += delay(args)
    if args.only != "delay":
        problems += rate(args)
    for p in problems:
        print("problem: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
