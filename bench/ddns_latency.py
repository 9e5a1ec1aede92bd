#!/usr/bin/env python3
"""Benchmark (issue 5): time from the router's WAN IP change to DNS answering the new
address, homeportd against Debian's inadyn and ddclient.

Run as root from the tree root:
    python3 bench/ddns_latency.py [--rounds 20] [--no-ddclient] [--no-inadyn]
                                  [--before BUILD_DIR]

One test bed (miniupnpd with UPnP and NAT-PMP, BIND, HTTPS stand-in). All clients run
at the same time, each on its own host names, so one WAN change is one sample for each:
  (a) homeportd, protocol=natpmp, default check_interval (5m): it learns the change
      from the router's NAT-PMP announcement to 224.0.0.1:5350 (lan namespace)
  (a0) with --before: the homeportd of another build (e.g. main before a change), the
      same config as (a), beside it in the lan namespace
  (b) homeportd, protocol=upnp, check_interval=10s (its shortest): polling (lan2)
  (c1) inadyn 2.10, period=1: asking checkip every second, custom dyndns2 over HTTPS
  (c) inadyn 2.10, period=30, custom dyndns2 over HTTPS (lan)
  (d) ddclient 3.10, daemon=60 (its shortest), min-interval=0, dyndns2 over HTTPS (lan)
inadyn and ddclient speak no RFC 2136, so the common yardstick is a dyndns2 account on
the bed's stand-in: every client updates its own name there, and the time is taken
until the stand-in's record holds the new IP. The two daemons also update an rfc2136
name in BIND; that time is taken until BIND answers the new address (an A query from
the wan namespace). inadyn and ddclient learn the IP from a small checkip HTTP server
in the wan namespace that answers the client's source address (the router's WAN IP
after NAT). Polling every 20 ms. Before each change the script waits a random time
(uniform, 0 .. the longest polling period) so that the change falls at a random
phase of every poller's cycle; a poller's expected latency is then about period/2.
Traffic between changes: the requests the pollers sent to checkip, and the NAT-PMP
requests the lan daemons sent to the router (an nft counter in the router), over the run.
"""
import argparse
import json
import os
import random
import socket
import sys
import time

sys.dont_write_bytecode = True   # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import Bed, median, fmt, fmt_ratio, ratio, log  # noqa: E402
from bed import Daemon  # noqa: E402  (common puts tests/bed on the path)

POLL = 0.020


def start_daemon_from(bed, build, conf, ns):
    """bed.start_daemon() with the homeportd of another build directory."""
    d = Daemon(bed, conf, ns=ns)
    d.homeportd = os.path.join(build, "homeportd")
    d.homeportctl = os.path.join(build, "homeportctl")
    bed._daemons.append(d)
    d.start(wait=True, timeout=20)
    return d


def count_router_requests(bed):
    """An nft counter in the router: NAT-PMP/PCP requests from the lan host."""
    bed.run("gw", ["sh", "-c",
                   "nft add table inet hpbench && "
                   "nft add chain inet hpbench in '{ type filter hook input priority -5; }' && "
                   "nft add rule inet hpbench in ip saddr %s udp dport 5351 counter"
                   % bed.lan_ip], check=True)


def router_requests(bed):
    p = bed.run("gw", ["nft", "-j", "list", "table", "inet", "hpbench"], check=True)
    for item in json.loads(p.stdout)["nftables"]:
        for e in item.get("rule", {}).get("expr", []):
            if "counter" in e:
                return e["counter"]["packets"]
    return None


def checkip_requests(proc):
    try:
        with open(proc.log, errors="replace") as f:
            return sum(1 for l in f if l.startswith("checkip "))
    except OSError:
        return None


def wait_initial(bed, targets, dns_sock, ip, timeout):
    deadline = time.monotonic() + timeout
    pending = set(targets)
    while pending and time.monotonic() < deadline:
        values = current_values(bed, targets, dns_sock)
        pending = {k for k in pending if values.get(k) != ip}
        time.sleep(0.1)
    return pending


def current_values(bed, targets, dns_sock):
    out = {}
    recs = None
    for key, (kind, name) in targets.items():
        if kind == "dns":
            ans = common.dns_query_a(dns_sock, (bed.wan_ip, bed.dns_port), name, timeout=0.2)
            out[key] = ans[0] if ans else None
        else:
            if recs is None:
                try:
                    recs = bed.standin.records()
                except Exception:   # noqa: BLE001  (stand-in busy: try next poll)
                    recs = {}
            r = recs.get(name, {}).get("A")
            out[key] = r["content"] if r else None
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--before", metavar="BUILD_DIR",
                    help="also run this build's homeportd as (a0), beside (a)")
    ap.add_argument("--no-ddclient", action="store_true")
    ap.add_argument("--no-inadyn", action="store_true")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    common.require_root()
    rnd = random.Random(args.seed)

    problems = []
    samples = {}
    with Bed(secure_mode=False, upnp=True, natpmp=True, bind=True, standin=True,
             echo=False) as bed:
        log("bed up in %.2f s (%s)" % (bed.startup_time, bed.tmp))
        targets, timeouts, period = {}, {}, {}
        procs = {}

        conf_a = (bed.gateway_conf("natpmp") + "\n" +
                  bed.ddns_section("bind", "rfc2136", "a.%s" % bed.zone, ttl=60) + "\n" +
                  bed.ddns_section("dyn", "dyndns2", "a.dyn.example"))
        da = bed.start_daemon(conf_a, ns="lan")
        targets["A/bind"] = ("dns", "a.%s" % bed.zone)
        targets["A/dyn"] = ("standin", "a.dyn.example")
        timeouts["A"] = 15.0
        if args.before:
            conf_a0 = (bed.gateway_conf("natpmp") + "\n" +
                       bed.ddns_section("bind", "rfc2136", "z.%s" % bed.zone, ttl=60) + "\n" +
                       bed.ddns_section("dyn", "dyndns2", "z.dyn.example"))
            d0 = start_daemon_from(bed, args.before, conf_a0, "lan")
            targets["A0/bind"] = ("dns", "z.%s" % bed.zone)
            targets["A0/dyn"] = ("standin", "z.dyn.example")
            timeouts["A0"] = 15.0

        conf_b = (bed.gateway_conf("upnp", check_interval="10s") + "\n" +
                  bed.ddns_section("bind", "rfc2136", "b.%s" % bed.zone, ttl=60) + "\n" +
                  bed.ddns_section("dyn", "dyndns2", "b.dyn.example"))
        db = bed.start_daemon(conf_b, ns="lan2")
        targets["B/bind"] = ("dns", "b.%s" % bed.zone)
        targets["B/dyn"] = ("standin", "b.dyn.example")
        timeouts["B"] = 25.0
        period["B"] = 10

        need_checkip = not (args.no_inadyn and args.no_ddclient)
        checkip = common.start_checkip(bed) if need_checkip else None
        count_router_requests(bed)
        if not args.no_inadyn:
            for key, host, per in (("inadyn1", "c1.dyn.example", 1),
                                   ("inadyn", "c.dyn.example", 30)):
                try:
                    procs[key] = common.start_inadyn(bed, host, period=per, label=key)
                    targets[key] = ("standin", host)
                    timeouts[key] = 2.5 * per + 15.0
                    period[key] = per
                except RuntimeError as e:
                    problems.append("%s not run: %s" % (key, e))
        if not args.no_ddclient:
            try:
                procs["ddclient"] = common.start_ddclient(bed, "d.dyn.example", interval=60)
                targets["ddclient"] = ("standin", "d.dyn.example")
                timeouts["ddclient"] = 140.0
                period["ddclient"] = 60
            except RuntimeError as e:
                problems.append("ddclient not run: %s" % e)

        dns_sock = bed.socket("wan", socket.AF_INET, socket.SOCK_DGRAM)
        log("waiting for every client's first update (%s)" % ", ".join(targets))
        missing = wait_initial(bed, targets, dns_sock, bed.gw_wan_ip, 90)
        for k in sorted(missing):
            problems.append("%s never published the initial IP %s" % (k, bed.gw_wan_ip))
            del targets[k]
        for k, p in procs.items():
            if p.poll() is not None:
                problems.append("%s exited %s; log %s" % (k, p.returncode, p.log))
        samples = {k: [] for k in targets}
        pmax = max(period.values()) if period else 10
        t_run = time.monotonic()
        ck0 = checkip_requests(checkip) if checkip else None
        rr0 = router_requests(bed)
        for rnd_i in range(args.rounds):
            pre = rnd.uniform(0, pmax)
            new_ip = "203.0.113.%d" % (10 + (rnd_i % 200))
            if new_ip == bed.gw_wan_ip:
                new_ip = "203.0.113.%d" % (220 + rnd_i % 30)
            log("round %d/%d: waiting %.1f s, then WAN %s -> %s" % (
                rnd_i + 1, args.rounds, pre, bed.gw_wan_ip, new_ip))
            time.sleep(pre)
            t0 = time.monotonic()
            bed.set_wan_ip(new_ip)
            pending = set(targets)
            got = {}
            while pending:
                now = time.monotonic()
                values = current_values(bed, {k: targets[k] for k in pending}, dns_sock)
                t = time.monotonic()
                for k, v in values.items():
                    if v == new_ip:
                        got[k] = (t - t0) * 1e3
                        pending.discard(k)
                for k in list(pending):
                    if now - t0 > timeouts[k.split("/")[0]]:
                        pending.discard(k)
                        problems.append("round %d: %s did not publish %s within %.0f s" % (
                            rnd_i + 1, k, new_ip, timeouts[k.split("/")[0]]))
                time.sleep(POLL)
            for k in targets:
                samples[k].append(got.get(k))
            log("  " + "  ".join("%s=%s" % (k, fmt(got.get(k), "ms", 0)) for k in targets))
        run_s = time.monotonic() - t_run
        traffic = {"checkip": None if ck0 is None else checkip_requests(checkip) - ck0,
                   "router": router_requests(bed) - rr0, "seconds": run_s}
        for name, d in (("A", da), ("B", db)):
            if not d.running():
                problems.append("homeportd %s exited %s" % (name, d.proc.returncode))
        dns_sock.close()
        for k, p in procs.items():
            if p.poll() is not None:
                problems.append("%s exited %s during the run; log %s" % (k, p.returncode, p.log))
            else:
                p.terminate()
                p.wait()

    M = {k: median(v) for k, v in samples.items()}
    miss = {k: sum(1 for x in v if x is None) for k, v in samples.items()}
    labels = {
        "A0/dyn": "(a0) homeportd before (%s), NAT-PMP -> dyndns2 stand-in" % args.before,
        "A0/bind": "(a0) homeportd before, NAT-PMP -> BIND (rfc2136)",
        "inadyn1": "(c1) inadyn, period 1s -> dyndns2 stand-in",
        "A/dyn": "(a) homeportd, NAT-PMP announcements -> dyndns2 stand-in",
        "B/dyn": "(b) homeportd, UPnP polling 10s -> dyndns2 stand-in",
        "inadyn": "(c) inadyn, period 30s -> dyndns2 stand-in",
        "ddclient": "(d) ddclient, daemon=60 -> dyndns2 stand-in",
        "A/bind": "(a) homeportd, NAT-PMP announcements -> BIND (rfc2136)",
        "B/bind": "(b) homeportd, UPnP polling 10s -> BIND (rfc2136)",
    }
    print()
    print("homeport DDNS latency: WAN IP change -> new address served; %d rounds, medians"
          % args.rounds)
    print()
    rows = []
    for k in ("A/dyn", "A0/dyn", "B/dyn", "inadyn1", "inadyn", "ddclient", "A/bind", "A0/bind",
              "B/bind"):
        if k in samples:
            v = [x for x in samples[k] if x is not None]
            rows.append([labels[k], fmt(M[k], " ms", 0),
                         fmt(min(v) if v else None, " ms", 0),
                         fmt(max(v) if v else None, " ms", 0),
                         "%d/%d" % (len(v), len(samples[k]))])
    common.table(["client", "median", "min", "max", "ok"], rows)
    print()
    rows = []
    for base in ("inadyn1", "inadyn", "ddclient"):
        for d in ("A/dyn", "B/dyn"):
            if base in M and d in M:
                rows.append(["%s / %s" % (labels[base].split()[0], labels[d][:3]) +
                             "  (%s vs homeportd %s)" % (base, "NAT-PMP" if d == "A/dyn" else "UPnP 10s"),
                             fmt_ratio(ratio(M[base], M[d]))])
    if "B/dyn" in M and "A/dyn" in M:
        rows.append(["(b) / (a)  (UPnP polling vs NAT-PMP, stand-in)",
                     fmt_ratio(ratio(M["B/dyn"], M["A/dyn"]))])
    if "B/bind" in M and "A/bind" in M:
        rows.append(["(b) / (a)  (UPnP polling vs NAT-PMP, BIND)",
                     fmt_ratio(ratio(M["B/bind"], M["A/bind"]))])
    if "A0/dyn" in M and "A/dyn" in M:
        rows.append(["(a0) / (a)  (before / after, stand-in)", fmt_ratio(ratio(M["A0/dyn"], M["A/dyn"]))])
    common.table(["ratio (baseline / homeportd: how many times faster homeportd is)", "value"],
                 rows)
    print()
    print("traffic over the %.0f s of the rounds (%d changes): %s requests to checkip "
          "(inadyn and ddclient), %s NAT-PMP requests from the lan host to the router "
          "(homeportd (a)%s; both ask once per announcement)" % (
              traffic["seconds"], args.rounds, traffic["checkip"], traffic["router"],
              " and (a0)" if args.before else ""))
    print()
    print("samples (ms): ")
    for k, v in samples.items():
        print("  %-9s %s" % (k, [None if x is None else round(x) for x in v]))
    common.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())
