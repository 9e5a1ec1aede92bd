#!/usr/bin/env python3
"""Benchmark (issue 4): how fast homeportd maps 50 services, against the router's
floor and against miniupnpc's own client; and its memory against Debian's inadyn.

Run as root from the tree root:  python3 bench/mapping.py [--reps 5] [--services 50]

One test bed (real miniupnpd, secure_mode off, UPnP and NAT-PMP on). Per repetition,
interleaved so that background load hits every figure alike:
  daemon/upnp   homeportd, protocol=upnp + upnp_url (no SSDP): from starting the
                process to (router) the 50th lease in miniupnpd's lease file and
                (daemon) `status` showing all 50 services "mapped"
  daemon/auto   the same with protocol=auto (upnp_url set, NAT-PMP also on)
  floor         bench_upnpfloor: one process, plain blocking miniupnpc, known URL,
                50 AddPortMapping back to back (ops only; the description fetch
                is shown separately)
  gwtool        the daemon's own UPnP backend (helper process, event loop) driven
                by tests/tools/gwtool `bench 50`: the backend without start-up
  upnpc -u      50 sequential `upnpc -u URL -a ...` processes
  upnpc ssdp    one `upnpc -i -a ...` with SSDP discovery, times 50 (extrapolated)
Memory: VmRSS (and private = Private_Clean+Private_Dirty) of homeportd (main process
and its helper children) holding 50 mappings, and of inadyn idle (one dyndns2 host on
the bed's stand-in, period 600 s, after its first update), both in the lan namespace.
Medians over the repetitions; ratios are daemon / baseline.
"""
import argparse
import os
import re
import shutil
import sys
import time

sys.dont_write_bytecode = True   # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import Bed, median, fmt, fmt_ratio, ratio, log  # noqa: E402

EXT_BASE = 20000      # daemon services
FLOOR_BASE = 30000    # floor tool, gwtool, upnpc runs
INT_BASE = 10000


def count_leases(bed):
    try:
        with open(bed.lease_file) as f:
            return sum(1 for l in f if l.count(":") >= 5)
    except FileNotFoundError:
        return 0


def clear_router(bed):
    """Make sure the router holds no mapping before the next measurement."""
    if count_leases(bed) or bed.mappings():
        log("router still holds %d leases: rebooting it" % count_leases(bed))
        bed.reboot_router()


def daemon_conf(bed, protocol, n, ddns=False):
    text = bed.gateway_conf(protocol, lease="1h")
    for i in range(n):
        text += "\n" + bed.service_section("s%02d" % i, INT_BASE + i, EXT_BASE + i,
                                           description="bench s%02d" % i)
    if ddns:
        text += "\n" + bed.ddns_section("dyn", "dyndns2", "mem.dyn.example")
    return text


def run_daemon(bed, protocol, n, timeout=60.0, ddns=False):
    """Start homeportd with n services; time the router's lease count and the daemon's
    status reaching n. Returns a dict (times in ms, memory in kB)."""
    conf = daemon_conf(bed, protocol, n, ddns)
    t0 = time.monotonic()
    d = bed.start_daemon(conf, wait=False)
    res = {"router_ms": None, "daemon_ms": None, "protocol": None, "mem": None,
           "error": None, "ddns_ms": None}
    next_status = 0.0
    last = None
    leases = 0
    while True:
        now = time.monotonic()
        if res["router_ms"] is None:
            leases = count_leases(bed)
            if leases >= n:
                res["router_ms"] = (now - t0) * 1e3
        # Without ddns the status is asked only once the router holds all n
        # leases (miniupnpd writes a lease before it answers, so the daemon
        # cannot be done sooner), then every 0.5 ms: asked every 5 ms from
        # the start, each answer (JSON of every service) cost the daemon CPU
        # that the floor, timed inside its own process, does not pay, and
        # the 5 ms step added 2.5 ms on average to the daemon's figure.
        waiting = not ddns and res["router_ms"] is None
        if now >= next_status and not waiting:
            st = common.ctl_status(d.sock)
            next_status = now + (0.005 if ddns else 0.0005)
            if st:
                last = st
                svcs = st.get("services") or []
                if (res["daemon_ms"] is None and len(svcs) >= n and
                        all(s.get("state") == "mapped" for s in svcs)):
                    res["daemon_ms"] = (time.monotonic() - t0) * 1e3
                    res["protocol"] = (st.get("gateway") or {}).get("protocol")
                if ddns and res["ddns_ms"] is None and any(
                        e.get("state") == "ok" for e in st.get("ddns") or []):
                    res["ddns_ms"] = (time.monotonic() - t0) * 1e3
        done = res["daemon_ms"] is not None and res["router_ms"] is not None and \
            (not ddns or res["ddns_ms"] is not None)
        if done:
            break
        if not d.running():
            res["error"] = "homeportd exited %s" % d.proc.returncode
            break
        if now - t0 > timeout:
            states = {}
            for s in (last or common.ctl_status(d.sock) or {}).get("services") or []:
                states[s.get("state")] = states.get(s.get("state"), 0) + 1
            res["error"] = "timeout after %.0f s: router has %d leases, daemon states %s" % (
                timeout, count_leases(bed), states)
            break
        # The lease file every 20 ms while the router is far from done (each
        # look costs CPU on the two cores the router and the daemon share;
        # the floor is not watched at all), every 1 ms over its last 5 leases
        # (27 ms for miniupnpd on the bed).
        if ddns:
            time.sleep(0.002)
        else:
            time.sleep(0.0005 if not waiting else 0.001 if leases >= n - 5 else 0.02)
    if d.running():
        time.sleep(0.3 if not ddns else 1.0)     # let it settle before reading memory
        main, kids, total = common.tree_mem_kb(d.pid)
        res["mem"] = {"main": main, "kids": kids, "total": total}
    if res["error"]:
        res["log_tail"] = d.logtext()[-3000:]
    try:
        rc = d.stop(timeout=10)
        if rc != 0:
            log("homeportd exit code %s (expected 0)" % rc)
    except AssertionError as e:
        log(str(e))
    # its mappings should be gone now (SIGTERM removes them)
    res["left_behind"] = count_leases(bed)
    clear_router(bed)
    return res


def run_floor(bed, tool, n):
    r = bed.run("lan", [tool, bed.upnp_url, bed.lan_ip, "add", str(n), str(FLOOR_BASE),
                        str(INT_BASE)], timeout=120)
    m = re.search(r"desc_ms=([\d.]+) ops_ms=([\d.]+) total_ms=([\d.]+)", r.stdout)
    ok = r.returncode == 0 and m and count_leases(bed) >= n
    bed.run("lan", [tool, bed.upnp_url, bed.lan_ip, "del", str(n), str(FLOOR_BASE),
                    str(INT_BASE)], timeout=120)
    clear_router(bed)
    if not ok:
        log("floor tool failed: %s %s" % (r.stdout.strip(), r.stderr.strip()[-500:]))
        return None
    return {"desc_ms": float(m.group(1)), "ops_ms": float(m.group(2)),
            "total_ms": float(m.group(3))}


def run_gwtool(bed, n):
    gwtool = os.path.join(common.build_dir(), "tools", "gwtool")
    if not os.path.exists(gwtool):
        return None
    r = bed.run("lan", [gwtool, "upnp", bed.upnp_url, "bench", str(n), str(FLOOR_BASE),
                        str(INT_BASE)], timeout=120)
    m = re.search(r"bench add n=\d+ ok=(\d+) ms=(\d+)", r.stdout)
    clear_router(bed)
    if not m or int(m.group(1)) != n:
        log("gwtool bench failed: rc %d %s %s" % (r.returncode, r.stdout.strip()[-300:],
                                                 r.stderr.strip()[-300:]))
        return None
    return float(m.group(2))


SEQ_SH = r'''
url=$1 ip=$2 n=$3 base=$4 ib=$5
t0=$(date +%s%N)
i=0
while [ $i -lt $n ]; do
    upnpc -u "$url" -a "$ip" $((ib + i)) $((base + i)) tcp 3600 >/dev/null 2>&1 || echo "fail $i" >&2
    i=$((i + 1))
done
t1=$(date +%s%N)
echo "ms=$(( (t1 - t0) / 1000000 ))"
'''


def run_upnpc_seq(bed, tool, n):
    r = bed.run("lan", ["sh", "-c", SEQ_SH, "sh", bed.upnp_url, bed.lan_ip, str(n),
                        str(FLOOR_BASE), str(INT_BASE)], timeout=300)
    m = re.search(r"ms=(\d+)", r.stdout)
    got = count_leases(bed)
    bed.run("lan", [tool, bed.upnp_url, bed.lan_ip, "del", str(n), str(FLOOR_BASE),
                    str(INT_BASE)], timeout=120)
    clear_router(bed)
    if not m or got < n:
        log("upnpc -u loop: %d/%d mapped; %s" % (got, n, r.stderr.strip()[-300:]))
        return None
    return float(m.group(1))


SSDP_SH = r'''
t0=$(date +%s%N)
upnpc -i -a "$1" "$2" "$3" tcp 3600 > "$4" 2>&1
rc=$?
t1=$(date +%s%N)
echo "rc=$rc ms=$(( (t1 - t0) / 1000000 ))"
'''


def run_upnpc_ssdp(bed, tool, port):
    out = bed.path("upnpc-ssdp.out")
    r = bed.run("lan", ["sh", "-c", SSDP_SH, "sh", bed.lan_ip, str(INT_BASE), str(port), out],
                timeout=60)
    m = re.search(r"rc=(\d+) ms=(\d+)", r.stdout)
    got = count_leases(bed)
    bed.run("lan", [tool, bed.upnp_url, bed.lan_ip, "del", "1", str(port), str(INT_BASE)])
    clear_router(bed)
    if not m or got < 1:
        try:
            text = open(out).read()[-500:]
        except OSError:
            text = ""
        log("upnpc with discovery failed: %s %s" % (r.stdout.strip(), text))
        return None
    return float(m.group(2))


def run_inadyn(bed):
    """inadyn idle: start, wait for its first update on the stand-in, settle, read memory."""
    shutil.rmtree(bed.path("inadyn-idle"), ignore_errors=True)   # fresh cache: it updates
    try:
        p = common.start_inadyn(bed, "idle.dyn.example", period=600, label="inadyn-idle")
    except RuntimeError as e:
        log("inadyn unavailable: %s" % e)
        return None
    deadline = time.monotonic() + 20
    while bed.standin.ip_of("idle.dyn.example") != bed.gw_wan_ip:
        if p.poll() is not None or time.monotonic() > deadline:
            log("inadyn did not update the stand-in (exit %s); log %s:\n%s" % (
                p.poll(), p.log, open(p.log, errors="replace").read()[-1500:]))
            if p.poll() is None:
                p.terminate()
                p.wait()
            return None
        time.sleep(0.05)
    time.sleep(1.0)
    main, kids, total = common.tree_mem_kb(p.pid)
    p.terminate()
    p.wait()
    bed.standin.delete("idle.dyn.example")
    return {"main": main, "kids": kids, "total": total}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--services", type=int, default=50)
    args = ap.parse_args()
    common.require_root()
    n = args.services
    tool = common.bench_tool("bench_upnpfloor")
    inadyn_bin, why = common.inadyn_binary()
    if not inadyn_bin:
        log("inadyn: %s (memory baseline skipped)" % why)

    R = {k: [] for k in ("d_upnp_router", "d_upnp", "d_auto_router", "d_auto", "floor_ops",
                         "floor_desc", "floor_total", "gwtool", "upnpc_seq", "upnpc_ssdp",
                         "d_rss", "d_priv", "d_main_rss", "d_ddns_rss", "d_ddns_priv",
                         "in_rss", "in_priv")}
    auto_protocols, problems, helpers = set(), [], set()
    with Bed(secure_mode=False, upnp=True, natpmp=True, bind=False, standin=True,
             echo=False) as bed:
        log("bed up in %.2f s (%s)" % (bed.startup_time, bed.tmp))
        if inadyn_bin:
            common.start_checkip(bed)
        for rep in range(args.reps):
            log("repetition %d/%d" % (rep + 1, args.reps))
            for proto, key in (("upnp", "d_upnp"), ("auto", "d_auto")):
                r = run_daemon(bed, proto, n)
                if r["error"]:
                    problems.append("daemon/%s rep %d: %s\n%s" % (proto, rep + 1, r["error"],
                                                                  r.get("log_tail", "")))
                if r["left_behind"]:
                    problems.append("daemon/%s rep %d: %d mappings left on the router after "
                                    "SIGTERM" % (proto, rep + 1, r["left_behind"]))
                R[key].append(r["daemon_ms"])
                R[key + "_router"].append(r["router_ms"])
                if proto == "auto" and r["protocol"]:
                    auto_protocols.add(r["protocol"])
                if proto == "upnp" and r["mem"] and r["mem"]["total"]:
                    R["d_rss"].append(r["mem"]["total"]["rss"])
                    R["d_priv"].append(r["mem"]["total"]["private"])
                    R["d_main_rss"].append(r["mem"]["main"]["rss"])
                    for k in r["mem"]["kids"]:
                        helpers.add(k["comm"])
            f = run_floor(bed, tool, n)
            if f:
                R["floor_ops"].append(f["ops_ms"])
                R["floor_desc"].append(f["desc_ms"])
                R["floor_total"].append(f["total_ms"])
            R["gwtool"].append(run_gwtool(bed, n))
            R["upnpc_seq"].append(run_upnpc_seq(bed, tool, n))
            R["upnpc_ssdp"].append(run_upnpc_ssdp(bed, tool, FLOOR_BASE + 500 + rep))
            # memory: homeportd with 50 services + one dyndns2 entry, inadyn idle
            r = run_daemon(bed, "upnp", n, ddns=True)
            if r["mem"] and r["mem"]["total"]:
                R["d_ddns_rss"].append(r["mem"]["total"]["rss"])
                R["d_ddns_priv"].append(r["mem"]["total"]["private"])
            elif r["error"]:
                problems.append("daemon/upnp+ddns rep %d: %s" % (rep + 1, r["error"]))
            bed.standin.delete("mem.dyn.example")
            if inadyn_bin:
                m = run_inadyn(bed)
                if m and m["total"]:
                    R["in_rss"].append(m["total"]["rss"])
                    R["in_priv"].append(m["total"]["private"])

    M = {k: median(v) for k, v in R.items()}
    ssdp50 = M["upnpc_ssdp"] * n if M["upnpc_ssdp"] is not None else None
    print()
    print("homeport mapping benchmark: %d services, %d repetitions, medians (ms)" % (n, args.reps))
    print("miniupnpd on the test bed, secure_mode off; all clients in the lan namespace")
    print()
    rows = [
        ["homeportd protocol=upnp (start -> %d mapped, daemon status)" % n, fmt(M["d_upnp"])],
        ["  same, router side (start -> %dth lease in miniupnpd)" % n, fmt(M["d_upnp_router"])],
        ["homeportd protocol=auto (start -> %d mapped, daemon status)" % n, fmt(M["d_auto"])],
        ["  same, router side", fmt(M["d_auto_router"])],
        ["floor: 1 miniupnpc client, %d AddPortMapping back to back" % n, fmt(M["floor_ops"])],
        ["  + its one root-description fetch", fmt(M["floor_desc"])],
        ["gwtool bench %d (homeport's UPnP backend alone)" % n, fmt(M["gwtool"])],
        ["%d sequential `upnpc -u URL -a` processes" % n, fmt(M["upnpc_seq"])],
        ["`upnpc -i -a` with SSDP discovery, 1 mapping", fmt(M["upnpc_ssdp"])],
        ["  x %d (extrapolated, not measured)" % n, fmt(ssdp50)],
    ]
    common.table(["figure", "median ms"], rows)
    print()
    rows = [
        ["homeportd/upnp vs floor (ops)", fmt_ratio(ratio(M["d_upnp"], M["floor_ops"]))],
        ["homeportd/upnp vs floor (desc + ops)", fmt_ratio(ratio(M["d_upnp"], M["floor_total"]))],
        ["homeportd/upnp vs gwtool bench", fmt_ratio(ratio(M["d_upnp"], M["gwtool"]))],
        ["homeportd/upnp vs %d x upnpc -u" % n, fmt_ratio(ratio(M["d_upnp"], M["upnpc_seq"]))],
        ["homeportd/upnp vs upnpc+SSDP x %d (extrap.)" % n, fmt_ratio(ratio(M["d_upnp"], ssdp50))],
        ["homeportd/auto vs floor (desc + ops)", fmt_ratio(ratio(M["d_auto"], M["floor_total"]))],
        ["homeportd/auto vs %d x upnpc -u" % n, fmt_ratio(ratio(M["d_auto"], M["upnpc_seq"]))],
        ["homeportd/auto vs upnpc+SSDP x %d (extrap.)" % n, fmt_ratio(ratio(M["d_auto"], ssdp50))],
    ]
    common.table(["ratio (lower is better for homeportd)", "value"], rows)
    print()
    kb = lambda v: fmt(v / 1024.0 if v is not None else None, " MB", 2)  # noqa: E731
    rows = [
        ["homeportd, %d services mapped (all its processes)" % n, kb(M["d_rss"]), kb(M["d_priv"])],
        ["  main process only", kb(M["d_main_rss"]), ""],
        ["homeportd, %d services + 1 dyndns2 entry (HTTP helper running)" % n,
         kb(M["d_ddns_rss"]), kb(M["d_ddns_priv"])],
        ["inadyn 2.10 idle, 1 dyndns2 host", kb(M["in_rss"]), kb(M["in_priv"])],
    ]
    common.table(["memory (median)", "VmRSS", "private"], rows)
    print()
    rows = [
        ["RSS homeportd(%d svc) / inadyn" % n, fmt_ratio(ratio(M["d_rss"], M["in_rss"]))],
        ["RSS homeportd(%d svc + dyndns2) / inadyn" % n, fmt_ratio(ratio(M["d_ddns_rss"], M["in_rss"]))],
        ["private homeportd(%d svc + dyndns2) / inadyn" % n,
         fmt_ratio(ratio(M["d_ddns_priv"], M["in_priv"]))],
    ]
    common.table(["memory ratio", "value"], rows)
    print()
    print("protocol=auto chose: %s" % (", ".join(sorted(auto_protocols)) or "n/a"))
    print("homeportd helper processes counted: %s" % (", ".join(sorted(helpers)) or "none"))
    print("samples (ms): " + "; ".join("%s=%s" % (k, [None if x is None else round(x, 1) for x in R[k]])
                                        for k in ("d_upnp", "d_auto", "floor_ops", "gwtool",
                                                  "upnpc_seq", "upnpc_ssdp")))
    common.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())
