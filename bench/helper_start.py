#!/usr/bin/env python3
"""Benchmark: what starting the HTTP helper costs. With ip_source = web the
helper ends after 20 s idle, so each check (every check_interval, 5 min by
default) starts it again; DDNS updates after a quiet spell do too.

Run from the tree root, after `make`:  python3 bench/helper_start.py [--reps 50]

Per repetition: homeport-http-helper started on a socketpair whose other end
is closed at once, so that it runs its whole start (sandbox, libcurl and
OpenSSL set up, event loop) and ends on the EOF; the CPU (user + system, from
the children's rusage) and wall time per start. Baseline in the same run:
`curl --version`, the start a curl-based client (ddclient) pays per request.
No network traffic; no timing is asserted.
"""
import argparse
import os
import resource
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HELPER_FD = 3                    # HELPER_PROC_FD in include/helper_proc.h


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def start_helper(path):
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    p = subprocess.Popen([path], pass_fds=(HELPER_FD,),
                         preexec_fn=lambda: os.dup2(theirs.fileno(), HELPER_FD),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    theirs.close()
    ours.close()                 # EOF: the helper ends once it is set up
    return p.wait()


def start_curl():
    return subprocess.call(["curl", "--version"], stdout=subprocess.DEVNULL)


def measure(run, reps):
    cpu0, t0 = children_cpu(), time.monotonic()
    for _ in range(reps):
        rc = run()
        if rc != 0:
            sys.exit("exit code %d" % rc)
    return (time.monotonic() - t0) / reps * 1000, (children_cpu() - cpu0) / reps * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--build", default=os.environ.get("HOMEPORT_BUILD", "build"))
    a = ap.parse_args()
    helper = os.path.join(a.build, "homeport-http-helper")
    rows = []
    for _ in range(3):           # interleaved, so that load hits both alike
        rows.append((measure(lambda: start_helper(helper), a.reps),
                     measure(start_curl, a.reps)))
    rows.sort(key=lambda r: r[0][1])
    (hw, hc), (cw, cc) = rows[1]  # the median by the helper's CPU
    print("homeport-http-helper start: %.2f ms CPU, %.2f ms wall (median of 3 x %d)"
          % (hc, hw, a.reps))
    print("curl --version:             %.2f ms CPU, %.2f ms wall" % (cc, cw))
    print("ratio helper/curl (CPU):    %.2fx" % (hc / cc))


if __name__ == "__main__":
    main()
