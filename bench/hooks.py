#!/usr/bin/env python3
"""What hook runs cost the daemon's loop (issue 16): `status` latency while 100
hook runs are under way, against the same daemon idle.

One bed, NAT-PMP. The daemon maps 100 services at start, which announces 100
mapping-ok events; one hook takes them all. Its program sleeps 50 ms, so the
runs take more than 5 s and keep going well after the mappings are made: the
status samples are taken only in that window (after "all mapped", before the
last run), one request at a time over the control socket, every 5 ms. The same
is then done with an HTTP hook (a notification to the stand-in per event), and
once the queues are empty, idle. Prints median, p99 and max per row.

  python3 bench/hooks.py [--samples 400]
"""
import argparse
import os
import statistics
import time

from common import Bed, ctl_status, fmt, log, require_root, table

N_EVENTS = 100
SLOW_HOOK = "#!/bin/sh\nsleep 0.05\necho \"$HOMEPORT_SEQ\" >> %s\n"


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else None


def status_ms(sock):
    t = time.perf_counter()
    st = ctl_status(sock)
    return (time.perf_counter() - t) * 1000.0, st


def sample_while(sock, cond, limit, interval=0.005):
    """Status latencies (ms) while cond() holds, at most limit samples."""
    out = []
    while len(out) < limit and cond():
        ms, st = status_ms(sock)
        if st is not None:
            out.append(ms)
        time.sleep(interval)
    return out


def lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def run(bed, kind, samples):
    """Start a daemon whose hook (kind: exec or url) gets 100 events; return
    (latencies during the runs, latencies idle, seconds the 100 runs took)."""
    done = bed.path("%s.done" % kind)
    if kind == "exec":
        prog = bed.path("slow-hook.sh")
        with open(prog, "w") as f:
            f.write(SLOW_HOOK % done)
        os.chmod(prog, 0o755)
        hook = "[hook:bench]\nevents = mapping-ok\nexec = %s\n" % prog
    else:
        hook = ("[hook:bench]\nevents = mapping-ok\nurl = %s/webhook/bench?seq=%%seq%%\n"
                "ca_file = %s\n" % (bed.standin_url, bed.ca_file))
    services = "".join(bed.service_section("b%03d" % i, 30000 + i, 30000 + i)
                       for i in range(N_EVENTS))
    mark = bed.standin.mark()
    t0 = time.monotonic()
    d = bed.start_daemon(bed.gateway_conf("natpmp") + services + hook)

    def runs():
        if kind == "exec":
            return lines(done)
        return len(bed.standin.log(mark, api="webhook"))

    def all_mapped():
        st = ctl_status(d.sock)
        return st and all(s["state"] == "mapped" for s in st["services"])
    while not all_mapped():
        time.sleep(0.01)
    log("%s: all mapped, %d runs done; sampling while the rest run" % (kind, runs()))
    busy = sample_while(d.sock, lambda: runs() < N_EVENTS - 5, samples)
    while runs() < N_EVENTS:
        time.sleep(0.01)
    took = time.monotonic() - t0
    time.sleep(0.5)
    idle = sample_while(d.sock, lambda: True, samples)
    d.stop()
    return busy, idle, took


def row(name, xs):
    return [name, len(xs), fmt(statistics.median(xs) if xs else None, " ms", 2),
            fmt(pct(xs, 99), " ms", 2), fmt(max(xs) if xs else None, " ms", 2)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=400)
    args = ap.parse_args()
    require_root()
    with Bed(secure_mode=False, bind=False) as bed:
        exec_busy, exec_idle, exec_took = run(bed, "exec", args.samples)
        url_busy, url_idle, url_took = run(bed, "url", args.samples)
    print("status latency (one request at a time over the control socket, every 5 ms)")
    table(["daemon state", "samples", "median", "p99", "max"],
          [row("idle (after the exec runs)", exec_idle),
           row("during 100 exec hook runs", exec_busy),
           row("idle (after the url runs)", url_idle),
           row("during 100 url hook runs", url_busy)])
    print("100 exec runs (sleep 50 ms each) done %.1f s after start; 100 HTTP "
          "notifications %.1f s after start" % (exec_took, url_took))


if __name__ == "__main__":
    main()
