#!/usr/bin/env python3
"""Benchmark (issue 17): the memory of homeportd and every process it keeps running,
against Debian's inadyn on the same bed.

Run as root from the tree root:
    python3 bench/memory.py [--reps 3] [--services 50] [--before BUILD_DIR] [--no-inadyn]

One test bed (miniupnpd with UPnP and NAT-PMP, BIND, the HTTPS stand-in). Per
repetition, one client at a time (so that no two of them share library pages while
measured), each left to settle before it is read:
  https      homeportd, protocol=upnp (its UPnP helper runs), 50 services, 3 DDNS
             entries: dyndns2 over HTTPS to the stand-in, two rfc2136 to BIND
  no-http    the same with a third rfc2136 entry instead of the dyndns2 one: no HTTP
             provider, hook or web IP source at all
  inadyn     inadyn 2.10, 3 host names on the stand-in's dyndns2 API over HTTPS,
             period 600 s, read 1 s after its first update
With --before, the two homeportd rows again with another build's homeportd.
homeportd is read between updates: once its HTTP helper (which runs only while
requests are pending, and 20 s after) has ended; also 2 s after the first update (the
HTTP helper still running) and the peak of VmRSS sampled every 50 ms from start until
everything is mapped and published.
Figures per client, summed over its processes (homeportd: main and UPnP helper):
VmRSS (/proc/PID/status), PSS and private (Private_Clean + Private_Dirty) from
/proc/PID/smaps_rollup. PSS and private depend on what else maps the same libraries at
that moment (other processes on the machine); VmRSS does not. Medians over the reps.
"""
import argparse
import os
import shutil
import sys
import time

sys.dont_write_bytecode = True   # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import Bed, median, fmt_ratio, ratio, log  # noqa: E402
from ddns_latency import start_daemon_from  # noqa: E402
from mapping import clear_router, count_leases  # noqa: E402

EXT_BASE = 21000
INT_BASE = 11000
KEYS = ("rss", "pss", "private")


def daemon_conf(bed, n, http):
    text = bed.gateway_conf("upnp", lease="1h")
    for i in range(n):
        text += "\n" + bed.service_section("s%02d" % i, INT_BASE + i, EXT_BASE + i)
    text += "\n" + bed.ddns_section("bind1", "rfc2136", "mem1.%s" % bed.zone, ttl=60)
    text += "\n" + bed.ddns_section("bind2", "rfc2136", "mem2.%s" % bed.zone, ttl=60)
    if http:
        text += "\n" + bed.ddns_section("dyn", "dyndns2", "mem.dyn.example")
    else:
        text += "\n" + bed.ddns_section("bind3", "rfc2136", "mem3.%s" % bed.zone, ttl=60)
    return text


def settled(st, n):
    svcs = st.get("services") or []
    return len(svcs) >= n and all(s.get("state") == "mapped" for s in svcs) and \
        all(e.get("state") == "ok" for e in st.get("ddns") or [])


def http_helpers(pid):
    return [c for c in common.children_of(pid) if common.comm(c).startswith("homeport-http")]


def run_daemon(bed, build, n, http, problems):
    """Start one homeportd, wait until every service is mapped and every entry
    published (sampling its process tree all along: the peak), settle 2 s and read
    the tree (just after the update: an HTTP helper still runs), then wait until no
    HTTP helper runs (HTTP_HELPER_IDLE_MS, 20 s) and read it again: between updates.
    Stop it."""
    conf = daemon_conf(bed, n, http)
    d = start_daemon_from(bed, build, conf, "lan") if build else bed.start_daemon(conf)
    res = None
    peak = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and d.running():
        total = common.tree_mem_kb(d.pid)[2]
        peak = max(peak, total["rss"] if total else 0)
        st = common.ctl_status(d.sock)
        if st and settled(st, n):
            break
        time.sleep(0.05)
    else:
        problems.append("homeportd (%s, %s) did not settle; log %s" % (
            build or "this build", "https" if http else "no-http", d.log))
    if d.running():
        time.sleep(2.0)
        after = common.tree_mem_kb(d.pid)[2]
        peak = max(peak, after["rss"])
        helper_curl = any(maps_libcurl(c) for c in http_helpers(d.pid))
        deadline = time.monotonic() + 40
        while http_helpers(d.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if http_helpers(d.pid):
            problems.append("the HTTP helper of homeportd (%s) still runs 40 s after the "
                            "update" % (build or "this build"))
        main, kids, total = common.tree_mem_kb(d.pid)
        res = {"main": main, "kids": kids, "total": total, "libcurl": maps_libcurl(d.pid),
               "helper_libcurl": helper_curl, "after": after, "peak": peak,
               "by_mapping": common.mem_by_mapping(d.pid)}
    try:
        d.stop(timeout=10)
    except AssertionError as e:
        problems.append(str(e))
    if count_leases(bed):
        clear_router(bed)
    bed.standin.delete("mem.dyn.example")
    return res


def maps_libcurl(pid):
    try:
        with open("/proc/%d/maps" % pid) as f:
            return "libcurl" in f.read()
    except OSError:
        return None


def run_inadyn(bed, problems):
    """inadyn idle with 3 host names: start, wait for its updates, settle, read memory."""
    names = ["in%d.dyn.example" % i for i in range(3)]
    shutil.rmtree(bed.path("inadyn-mem"), ignore_errors=True)   # fresh cache: it updates
    try:
        p = common.start_inadyn(bed, names, period=600, label="inadyn-mem")
    except RuntimeError as e:
        problems.append("inadyn not run: %s" % e)
        return None
    res = None
    deadline = time.monotonic() + 30
    while p.poll() is None and time.monotonic() < deadline:
        if all(bed.standin.ip_of(h) == bed.gw_wan_ip for h in names):
            time.sleep(1.0)
            main, kids, total = common.tree_mem_kb(p.pid)
            res = {"main": main, "kids": kids, "total": total}
            break
        time.sleep(0.05)
    else:
        problems.append("inadyn did not update the stand-in (exit %s); log %s" % (p.poll(), p.log))
    if p.poll() is None:
        p.terminate()
        p.wait()
    for h in names:
        bed.standin.delete(h)
    return res


def print_by_mapping(R, n):
    """Where the main process's memory is (the last repetition), largest first."""
    for label, samples in R.items():
        last = next((s for s in reversed(samples) if s and s.get("by_mapping")), None)
        if not last:
            continue
        print()
        bm = sorted(last["by_mapping"].items(), key=lambda kv: -kv[1]["rss"])
        rows = [[name, v["rss"], v["pss"], v["private"]] for name, v in bm[:n]]
        rest = bm[n:]
        rows.append(["(%d more)" % len(rest)] + [sum(v[k] for _, v in rest) for k in KEYS])
        common.table(["%s, main process (kB)" % label, "VmRSS", "PSS", "private"], rows)


def kb(v):
    return "n/a" if v is None else "%.2f MB" % (v / 1024.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--before", metavar="BUILD_DIR", help="also measure this build's homeportd")
    ap.add_argument("--no-inadyn", action="store_true")
    ap.add_argument("--by-mapping", type=int, default=0, metavar="N",
                    help="also list the N largest mappings (VmRSS) of each homeportd main process")
    args = ap.parse_args()
    common.require_root()
    problems = []
    clients = [("homeportd, https", None, True), ("homeportd, no-http", None, False)]
    if args.before:
        clients += [("before, https", args.before, True), ("before, no-http", args.before, False)]
    R = {c[0]: [] for c in clients}
    R["inadyn"] = []
    with Bed(secure_mode=False, upnp=True, natpmp=True, bind=True, standin=True,
             echo=False) as bed:
        log("bed up in %.2f s (%s)" % (bed.startup_time, bed.tmp))
        if not args.no_inadyn:
            common.start_checkip(bed)
        for rep in range(args.reps):
            log("repetition %d/%d" % (rep + 1, args.reps))
            for label, build, http in clients:
                R[label].append(run_daemon(bed, build, args.services, http, problems))
            if not args.no_inadyn:
                R["inadyn"].append(run_inadyn(bed, problems))

    print()
    print("memory, %d services, 3 DDNS entries (medians of %d; every process of the client)"
          % (args.services, args.reps))
    print()
    rows = []
    med = {}
    for label, samples in R.items():
        samples = [s for s in samples if s]
        if not samples:
            continue
        med[label] = {k: median([s["total"][k] for s in samples]) for k in KEYS}
        rows.append([label] + [kb(med[label][k]) for k in KEYS])
        if label != "inadyn":
            rows.append(["  main process"] +
                        [kb(median([s["main"][k] for s in samples])) for k in KEYS])
            kids = [sum(c[k] for c in s["kids"]) for s in samples for k in ("rss",)]
            if any(kids):
                rows.append(["  helper"] + [kb(median([sum(c[k] for c in s["kids"])
                                                       for s in samples])) for k in KEYS])
            rows.append(["  2 s after the update"] +
                        [kb(median([s["after"][k] for s in samples])) for k in KEYS])
            rows.append(["  peak (VmRSS, sampled)", kb(median([s["peak"] for s in samples])),
                         "", ""])
            curl = {s.get("libcurl") for s in samples}
            rows.append(["  libcurl in homeportd", " / ".join(sorted(str(c) for c in curl)),
                         "", ""])
            curl = {s.get("helper_libcurl") for s in samples}
            rows.append(["  libcurl in a helper", " / ".join(sorted(str(c) for c in curl)),
                         "", ""])
    common.table(["client", "VmRSS", "PSS", "private"], rows)
    if "inadyn" in med:
        print()
        rows = []
        for label in med:
            if label == "inadyn":
                continue
            rows.append([label + " / inadyn"] +
                        [fmt_ratio(ratio(med[label][k], med["inadyn"][k])) for k in KEYS])
        common.table(["ratio", "VmRSS", "PSS", "private"], rows)
    if args.by_mapping:
        print_by_mapping(R, args.by_mapping)
    print()
    for label, samples in R.items():
        print("samples %s (VmRSS kB): %s" % (label, " ".join(
            str(s["total"]["rss"]) if s else "-" for s in samples)))
    common.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())
