#!/usr/bin/env python3
"""Seeded soak and chaos driver for homeportd on the namespace test bed.

    python3 tests/soak/soak.py --rounds 1000 --seed 7            (long mode, as root)
    python3 tests/soak/soak.py --rounds 1000 --seed 62 --minutes 80   (at most 80 min)
    python3 tests/soak/soak.py --rounds 12 --valgrind             (daemon under valgrind)
    HOMEPORT_BUILD=build/san python3 tests/soak/soak.py --rounds 20   (ASan/UBSan build)

Set-up: homeportd in the bed's LAN namespace, [gateway] protocol auto with
check_interval 10s and lease 2m (--lease), 20 services (tcp, udp, both) mapped to echo
ports on this host, three DDNS entries: rfc2136 on the bed's BIND, dyndns2 and
cloudflare on the HTTPS stand-in (timeout 5s).

Each round waits a random (seeded) moment, injects one fault and waits until
everything holds again, checked from outside the daemon:
  wan_ip        the router's WAN address changes (inside the bed's wan net)
  reboot        miniupnpd is killed, its chains flushed and leases dropped
  restart       miniupnpd restarts keeping its lease file
  freeze        miniupnpd is SIGSTOPped longer than the UPnP deadline (6 s), then thawed
  provider      the stand-in fails (500, 911, garbage, close, slow) for one API,
                and the WAN IP changes so that an update is due
  hup_good      a changed, valid config (a service added, removed or moved) + SIGHUP
  hup_bad       a broken drop-in + SIGHUP: must be rejected, the old services kept
  kill          SIGKILL the daemon and start it again on the same files
  renumber      the LAN moves to a new IPv6 prefix (old addresses deprecated, removed
                at the next renumbering): pinholes and AAAA must follow
  pinhole_lost  the router's IPv6 pinhole rules vanish behind the daemon's back: they
                come back at a check (CheckPinholeWorking) once miniupnpd has read its
                rules again, at the latest at the renewal, half the lease

Checks after every round (deadlines are generous; speeds are reported, never
asserted):
  * every wanted service answers from wan at the router's current WAN IP with the
    right internal port and protocol; removed services do not;
  * over IPv6 (the bed runs with ipv6=True), every wanted internal port answers from
    wan at the LAN host's current address, and the router holds exactly the
    pinholes wanted (no stale ones for old addresses or removed services);
  * dig answers the LAN host's current address for the rfc2136 AAAA record;
  * the router holds no mapping in the soak's port range that the daemon no longer
    wants, and holds every one it wants;
  * dig answers the current IP for the rfc2136 names; the stand-in holds it for
    the dyndns2 and cloudflare names (an entry whose provider fault is still being
    retried is checked once its backoff allows, see "provider faults" below);
  * the provider logs show no update for an IP the daemon had already published
    when it started that request (its own log line, on its own clock: a request
    over a reused connection is answered within the millisecond the daemon's stamps
    are cut to), unless forced with homeportctl update, and no retry sooner than the
    backoff, unless for a new IP after an error that did not ask us to wait.

Backoff bound (from ddns_policy.c and the SPEC): after the k-th consecutive
temporary failure the next try waits 30 s * 2^(k-1) +-10 % (capped at 1 h), or the
provider's wait when longer (dyndns2 911/dnserr: 1800 s; 429: Retry-After). The
soak requires a gap >= 0.9 * 30 * 2^(k-1) - 1.5 s (resp. wait - 1.5 s): the 1.5 s
covers the daemon's whole-second clock and log time stamps. A retry that follows
a SIGKILL or a reload which cancelled the request in flight, and a forced update,
are exempt. A request answered later than the daemon's timeout (5 s) counts as
failed.

Provider faults are checked asynchronously: the round does not wait 30-90 s for
the backoff; later rounds go on (only one provider fault is open at a time, since
the stand-in has one failure switch), and the entry's recovery is awaited with a
deadline of its backoff schedule plus a margin. A 911 asks for 30 minutes: the soak
checks status next_try_in is at least 1700 s, then forces the update (homeportctl
update NAME), which the rules above allow. The daemon refuses a forced update after
3 in a row per entry (then one per 10 minutes): the soak then forces again when the
refusal says it may, and the fault's deadline moves with it.

Output: a summary (and --json FILE); exit 1 when a check failed, naming the round,
the fault and what was wrong; 77 when the bed cannot run here.
"""
import argparse
import json
import os
import random
import re
import signal
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
ROOT = os.path.dirname(TESTS)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from bed import Bed, BedError, build_dir, missing_requirements  # noqa: E402

KINDS = ("wan_ip", "reboot", "restart", "freeze", "provider", "hup_good", "hup_bad", "kill",
         "renumber", "pinhole_lost")
WEIGHTS = {"wan_ip": 3, "reboot": 2, "restart": 2, "freeze": 1, "provider": 2,
           "hup_good": 2, "hup_bad": 2, "kill": 2, "renumber": 2, "pinhole_lost": 1}
UPNP_DEADLINE = 6.0          # gateway.c UPNP_DEADLINE_MS
HTTP_TIMEOUT = 5             # the soak's timeout for the HTTPS providers
BACKOFF_MIN = 30.0
BACKOFF_MAX = 3600.0
SLACK = 1.5
SAMPLE_EVERY = 25            # rounds between two readings of the daemon's rss and fds
EXT_BASE = 20000             # external ports of the soak's services: 20001...
ECHO_PORTS = (8080, 8081, 8082, 8083, 8084, 8085)
DYN_HOSTS = ["soak.dyn.example", "soak2.dyn.example"]
CF_HOSTS = ["soak.cf.example"]
RFC_HOSTS = ["soak.home.example", "soak2.home.example"]   # adjusted to bed.zone
LOG_RE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) (\w+): (.*)$")


class CheckFailed(Exception):
    pass


def now():
    return time.time()


def fmt_s(x):
    return "-" if x is None else "%.1f" % x


class Soak:
    def __init__(self, bed, seed=1, rounds=24, mode="short", wrapper=(), slow_factor=1.0,
                 max_failures=3, out=sys.stdout, verbose=False, minutes=0, lease="2m"):
        self.bed = bed
        self.lease = lease
        self.minutes = minutes
        self.seed = seed
        self.rng = random.Random(seed)
        self.rounds = rounds
        self.mode = mode
        self.wrapper = list(wrapper)
        self.slow = slow_factor         # deadlines x this (valgrind)
        self.max_failures = max_failures
        self.out = out
        self.verbose = verbose
        self.d = None
        self.round = 0
        self.fault = "setup"
        self.services = {}              # name -> {"proto", "int", "ext"}
        self.removed = {}               # name -> spec, removed by a reload
        self.next_svc = 1
        self.next_ext = EXT_BASE + 1
        self.reset_after_round = False
        self.failures = []
        self.faults = {k: 0 for k in KINDS}
        self.recovery = {k: [] for k in KINDS}
        self.fault_detail = {}
        self.events = []                # (time, kind, info): kills, reloads, forced updates
        self.open_fault = None          # the provider fault being retried
        self.ip_changes = 0
        self.sl_mark = 0                # stand-in log index already analysed
        self.attempts = {"dyn": [], "cf": [], "rfc": []}
        self.named_off = 0
        self.log_off = 0
        self.published = {"rfc": [], "dyn": [], "cf": []}   # (time, ip) the daemon logged
        self.starts = {"rfc": [], "dyn": [], "cf": []}      # (time, ip, forced) from the log
        self.status_ms = []             # homeportctl status latencies while frozen
        self.figures = {}
        self.violations_seen = set()
        self.rfc_hosts = [h.replace("home.example", bed.zone) for h in RFC_HOSTS]

    # ------------------------------------------------------------------ output
    def say(self, msg):
        self.out.write("[soak r%d %s] %s\n" % (self.round, self.fault, msg))
        self.out.flush()

    def fail(self, what):
        entry = {"round": self.round, "fault": self.fault, "what": what}
        self.failures.append(entry)
        self.say("FAIL: " + what)
        if len(self.failures) >= self.max_failures:
            raise CheckFailed("too many failures")

    # ------------------------------------------------------------------ config
    def service_text(self, name, spec):
        return self.bed.service_section(name, spec["int"], spec["ext"], protocol=spec["proto"])

    def main_conf(self):
        b = self.bed
        return ("[daemon]\nlog_level = info\n" +
                b.gateway_conf("auto", check_interval="10s", lease=self.lease) +
                b.ddns_section("rfc", "rfc2136", self.rfc_hosts, ttl=60, records="A, AAAA") +
                b.ddns_section("dyn", "dyndns2", DYN_HOSTS, timeout="%ds" % HTTP_TIMEOUT) +
                b.ddns_section("cf", "cloudflare", CF_HOSTS, timeout="%ds" % HTTP_TIMEOUT))

    def new_service(self):
        n = self.next_svc
        self.next_svc += 1
        proto = ("tcp", "udp", "both")[n % 3]
        ext = self.next_ext
        self.next_ext += 1
        return "s%02d" % n, {"proto": proto, "int": ECHO_PORTS[n % len(ECHO_PORTS)],
                             "ext": ext}

    def setup(self):
        self.fault = "setup"
        self.bed.start_echo("lan", tcp=ECHO_PORTS[2:], udp=ECHO_PORTS[2:])
        for _ in range(20):
            name, spec = self.new_service()
            self.services[name] = spec
        dropins = {"%s.conf" % n: self.service_text(n, s) for n, s in self.services.items()}
        t0 = now()
        self.d = self.bed.start_daemon(self.main_conf(), dropins=dropins, wrapper=self.wrapper,
                                       timeout=60 * self.slow)
        self.wait_converged(None, t0, deadline=90)
        self.figures["start"] = self.proc_figures()
        self.figures["first_convergence_s"] = round(now() - t0, 2)
        self.say("converged in %.1f s: %d services, ip %s, rss %s kB, fds %s"
                 % (now() - t0, len(self.services), self.bed.gw_wan_ip,
                    self.figures["start"].get("rss_kb"), self.figures["start"].get("fds")))

    def proc_figures(self):
        pid = self.d.pid
        out = {"pid": pid}
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        out["rss_kb"] = int(line.split()[1])
            out["fds"] = len(os.listdir("/proc/%d/fd" % pid))
        except OSError:
            pass
        return out

    # ------------------------------------------------------------------ views from outside
    def service_problems(self):
        """What is wrong with the services, seen from wan and the router; [] = fine."""
        b = self.bed
        probs = []
        ip = b.gw_wan_ip
        for name, s in sorted(self.services.items()):
            protos = ("tcp", "udp") if s["proto"] == "both" else (s["proto"],)
            for p in protos:
                banner = b.probe(s["ext"], p, ip=ip, timeout=1.0)
                want = "proto=%s port=%d" % (p, s["int"])
                if not banner or " host=lan " not in banner or want not in banner:
                    probs.append("%s %s/%d not reachable at %s:%d (got %r)"
                                 % (name, p, s["int"], ip, s["ext"], banner))
        try:
            maps = b.mappings()
        except Exception as e:           # nft may fail while the router restarts
            return probs + ["router mappings unreadable: %r" % e]
        wanted = set()
        for s in self.services.values():
            for p in (("tcp", "udp") if s["proto"] == "both" else (s["proto"],)):
                wanted.add((p, s["ext"]))
        have = {(m["proto"], m["ext_port"]) for m in maps
                if isinstance(m["ext_port"], int) and EXT_BASE < m["ext_port"] < EXT_BASE + 1000}
        for p, port in sorted(have - wanted):
            probs.append("stale mapping %s/%d on the router (not wanted)" % (p, port))
        for p, port in sorted(wanted - have):
            probs.append("mapping %s/%d missing on the router" % (p, port))
        dup = {}
        for m in maps:
            k = (m["proto"], m["ext_port"])
            dup[k] = dup.get(k, 0) + 1
        for k, n in dup.items():
            if n > 1 and isinstance(k[1], int) and EXT_BASE < k[1] < EXT_BASE + 1000:
                probs.append("mapping %s/%d is on the router %d times" % (k[0], k[1], n))
        probs += self.ipv6_problems()
        for name, s in list(self.removed.items())[-4:]:     # the latest few
            if any((p, s["ext"]) in wanted
                   for p in (("tcp", "udp") if s["proto"] == "both" else (s["proto"],))):
                continue
            protos = ("tcp", "udp") if s["proto"] == "both" else (s["proto"],)
            for p in protos:
                if b.probe(s["ext"], p, ip=ip, timeout=0.5):
                    probs.append("removed service %s still answers at %s/%d" % (name, p, s["ext"]))
        return probs

    def ipv6_problems(self):
        """Pinholes: each wanted internal port answers over IPv6 at the LAN host's
        address, and the router holds exactly those pinholes."""
        b = self.bed
        wanted = set()
        for s in self.services.values():
            for p in (("tcp", "udp") if s["proto"] == "both" else (s["proto"],)):
                wanted.add((p, s["int"], b.lan6_ip))
        probs = []
        for p, port, ip in sorted(wanted):
            banner = b.probe(port, p, ip=ip, timeout=1.0)
            if not banner or " host=lan " not in banner:
                probs.append("%s/%d not reachable over IPv6 at [%s] (got %r)"
                             % (p, port, ip, banner))
        try:
            have = [(h["proto"], h["port"], h["int_ip"]) for h in b.pinholes()]
        except Exception as e:
            return probs + ["router pinholes unreadable: %r" % e]
        for h in sorted(set(have) - wanted):
            probs.append("stale pinhole %s/%d for %s" % h)
        for h in sorted(wanted - set(have)):
            probs.append("pinhole %s/%d for %s missing" % h)
        for h in set(have):
            if have.count(h) > 1:
                probs.append("pinhole %s/%d for %s is on the router %d times"
                             % (h + (have.count(h),)))
        return probs

    def dns_problems(self, entries=("rfc", "dyn", "cf")):
        b = self.bed
        ip = b.gw_wan_ip
        probs = []
        if "rfc" in entries:
            for h in self.rfc_hosts:
                got = b.dig(h)
                if got != [ip]:
                    probs.append("dig %s = %r, want [%s]" % (h, got, ip))
                got = b.dig(h, "AAAA")
                if got != [b.lan6_ip]:
                    probs.append("dig %s AAAA = %r, want [%s]" % (h, got, b.lan6_ip))
        recs = None
        for e, hosts in (("dyn", DYN_HOSTS), ("cf", CF_HOSTS)):
            if e not in entries:
                continue
            if recs is None:
                recs = b.standin.records()
            for h in hosts:
                got = recs.get(h, {}).get("A", {}).get("content")
                if got != ip:
                    probs.append("stand-in %s = %r, want %s" % (h, got, ip))
        return probs

    def status_problems(self, entries=("rfc", "dyn", "cf")):
        st = self.d.status()
        probs = []
        ip = self.bed.gw_wan_ip
        if st["gateway"]["state"] != "ok" or st["gateway"]["external_ip"] != ip:
            probs.append("gateway %s external_ip %s (want ok %s)"
                         % (st["gateway"]["state"], st["gateway"]["external_ip"], ip))
        names = {s["name"] for s in st["services"]}
        if names != set(self.services):
            probs.append("status services %s != wanted %s" % (sorted(names), sorted(self.services)))
        for e in st["ddns"]:
            if e["name"] in entries and (e["state"] != "ok" or e["published_ip"] != ip):
                probs.append("ddns %s %s published %s (want ok %s; error %s)"
                             % (e["name"], e["state"], e["published_ip"], ip, e["error"]))
        return probs, st

    # ------------------------------------------------------------------ waiting
    def wait_converged(self, kind, t0, deadline=90):
        """Wait until services, router, DNS and status agree; record the recovery time
        under kind. Entries with an open provider fault are left out of DNS checks."""
        entries = tuple(e for e in ("rfc", "dyn", "cf")
                        if not (self.open_fault and self.open_fault["entry"] == e))
        end = now() + deadline * self.slow
        last = []
        while True:
            self.poll_open_fault()
            entries = tuple(e for e in ("rfc", "dyn", "cf")
                            if not (self.open_fault and self.open_fault["entry"] == e))
            try:
                probs = self.service_problems()
                if not probs:
                    probs = self.dns_problems(entries)
                if not probs:
                    probs, _ = self.status_problems(entries)
            except (AssertionError, BedError, OSError, ValueError) as e:
                probs = ["check error: %r" % e]
            if not probs:
                if kind:
                    self.recovery[kind].append(now() - t0)
                return True
            last = probs
            if not self.d.running():
                self.fail("homeportd exited (%s); log tail:\n%s"
                          % (self.d.proc.returncode, self.d.logtext()[-3000:]))
                self.d.start(wait=True, timeout=60 * self.slow)
                continue
            if now() > end:
                self.fail("not recovered within %.0f s: %s" % (deadline * self.slow,
                                                             "; ".join(last[:6])))
                self.dump_state()
                return False
            time.sleep(0.3)

    def dump_state(self):
        try:
            self.out.write(json.dumps(self.d.status(), indent=1)[:4000] + "\n")
        except Exception as e:
            self.out.write("status: %r\n" % e)
        self.out.write("---- daemon log tail ----\n%s\n" % self.d.logtext()[-4000:])

    # ------------------------------------------------------------------ the daemon's log
    def read_daemon_log(self):
        """New lines of the daemon's log -> published / update-start events (timed)."""
        try:
            with open(self.d.log, "rb") as f:
                f.seek(self.log_off)
                data = f.read()
        except OSError:
            return
        cut = data.rfind(b"\n") + 1
        self.log_off += cut
        t_read = now()
        lt = time.localtime(t_read)
        for raw in data[:cut].decode("utf-8", "replace").splitlines():
            m = LOG_RE.match(raw)
            if not m:
                continue
            hh, mm, ss, ms = (int(x) for x in m.groups()[:4])
            base = time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, hh, mm, ss, 0, 0, -1))
            t = base + ms / 1000.0
            if t > t_read + 60:
                t -= 86400
            msg = m.group(6)
            pm = re.match(r"ddns (\w+): published (\S+) for", msg)
            if pm and pm.group(1) in self.published:
                self.published[pm.group(1)].append((t, pm.group(2)))
            sm = re.match(r"ddns (\w+): .*?(publishing|forced update to) (\d+\.\d+\.\d+\.\d+)", msg)
            if sm and sm.group(1) in self.starts and m.group(5) != "debug":
                self.starts[sm.group(1)].append((t, sm.group(3), sm.group(2) != "publishing"))

    def read_named_log(self):
        """BIND's log -> one rfc2136 attempt per UPDATE seen (its first host's A record)."""
        try:
            with open(self.bed.named_log, "rb") as f:
                f.seek(self.named_off)
                data = f.read()
        except OSError:
            return
        cut = data.rfind(b"\n") + 1
        self.named_off += cut
        first = self.rfc_hosts[0]
        for line in data[:cut].decode("utf-8", "replace").splitlines():
            m = re.match(r"^(\d+-\w+-\d+ \d+:\d+:\d+)\.(\d+) .*updating zone .*: "
                         r"adding an RR at '([^']+)' A (\S+)", line)
            if not m or m.group(3) != first:
                continue
            t = time.mktime(time.strptime(m.group(1), "%d-%b-%Y %H:%M:%S")) + \
                int(m.group(2)) / 1000.0
            self.attempts["rfc"].append({"t": t, "ip": m.group(4), "failed": False,
                                         "fail": None, "delay": None, "round": self.round,
                                         "n": 1, "write": True})

    def start_of(self, entry, t, ip=None):
        """The daemon's log line that started a request the provider saw at t: the
        last start (of that IP) stamped no later (the daemon logs the start before it
        sends). (time, ip, forced) or None."""
        best = None
        for st in self.starts[entry]:
            if st[0] <= t and (ip is None or st[1] == ip):
                best = st
        return best

    def last_published(self, entry, t):
        ip = None
        for tp, p in self.published[entry]:
            if tp < t:
                ip = p
        return ip

    # ------------------------------------------------------------------ provider logs
    def analyse_standin(self, final=False):
        """Turn new stand-in requests into attempts per entry and check each new one."""
        self.read_daemon_log()
        log = self.bed.standin.log(self.sl_mark)
        # keep an incomplete cloudflare group for the next call
        done = len(log)
        if log and not final:
            tail = max((i for i, e in enumerate(log) if e.get("api") == "cloudflare"
                        and e["path"].endswith("/zones") and e["method"] == "GET"), default=None)
            if tail is not None and now() - log[tail]["time"] < HTTP_TIMEOUT * 3 + 2:
                done = tail
        for e in log[:done]:
            self.add_request(e)
        self.sl_mark += done
        self.read_named_log()
        for entry in ("dyn", "cf", "rfc"):
            for a in self.attempts[entry]:
                if not a.get("checked"):
                    a["checked"] = True
                    self.check_attempt(entry, a)

    def failed_request(self, e):
        if e.get("fail"):
            return True
        if e.get("delay") and float(e["delay"]) >= HTTP_TIMEOUT:
            return True
        if e.get("code") is None or not (200 <= e["code"] < 300):
            return True
        if e["api"] == "dyndns2":
            words = [l.split()[0] for l in (e.get("reply") or "").splitlines() if l.strip()]
            return not words or any(w not in ("good", "nochg") for w in words)
        return False

    def add_request(self, e):
        api = e.get("api")
        if api == "dyndns2":
            hosts = (e["query"].get("hostname") or "").split(",")
            if not any(h in DYN_HOSTS for h in hosts):
                return
            self.attempts["dyn"].append({
                "t": e["time"], "ip": e["query"].get("myip") or e["client"],
                "failed": self.failed_request(e), "fail": e.get("fail"),
                "delay": e.get("delay"), "round": self.round, "n": 1})
        elif api == "cloudflare":
            if e["path"].endswith("/zones") and e["method"] == "GET":
                self.attempts["cf"].append({"t": e["time"], "ip": None, "failed": False,
                                            "fail": None, "delay": None, "round": self.round,
                                            "n": 0})
            if not self.attempts["cf"]:
                return
            a = self.attempts["cf"][-1]
            a["n"] += 1
            if self.failed_request(e):
                a["failed"] = True
                a["fail"] = a["fail"] or e.get("fail") or "http %s" % e.get("code")
                a["delay"] = a["delay"] or e.get("delay")
            if e["method"] in ("PATCH", "PUT", "POST") and "dns_records" in e["path"]:
                try:
                    a["ip"] = json.loads(e["body"]).get("content")
                    a["write"] = True
                except ValueError:
                    pass
            elif e["method"] == "GET" and "dns_records" in e["path"] and a["ip"] is None:
                try:
                    res = json.loads(e["reply"]).get("result") or []
                    if res:
                        a["ip"] = res[0].get("content")
                except (ValueError, AttributeError):
                    pass

    def events_between(self, t1, t2, kinds):
        return [ev for ev in self.events if t1 - 0.2 <= ev[0] <= t2 and ev[1] in kinds]

    def check_attempt(self, entry, a):
        atts = self.attempts[entry]
        i = atts.index(a)
        # redundancy: the daemon had already published this IP when it started the
        # request, and nobody forced it. Judged at the daemon's start, on its own clock:
        # the provider's stamp of a request answered in 2 ms (a reused connection) can
        # be later than the daemon's stamp, cut to the millisecond, of its answer.
        st = self.start_of(entry, a["t"], a["ip"])
        when = st[0] if st else a["t"]
        last = self.last_published(entry, when)
        if a["ip"] and last == a["ip"]:
            tp = self.last_pub_time(entry, when)
            excused = self.events_between(tp, a["t"], ("force-" + entry,)) or \
                self.events_between(tp - 0.5, tp + 1.0, ("kill",)) or \
                (not a.get("write") and self.events_between(a["t"], a["t"] + HTTP_TIMEOUT * 3,
                                                            ("kill",)))
            if not excused:
                self.violation("redundant", entry, a,
                               "update to %s sent at %s although the daemon had published it; "
                               "daemon log:\n      %s"
                               % (a["ip"], time.strftime("%H:%M:%S", time.localtime(a["t"])),
                                  self.log_context(entry, tp - 5, a["t"])))
        if i == 0:
            return
        prev = atts[i - 1]
        if not prev["failed"]:
            return
        if self.cut(prev):
            return            # the request in flight was cut: a fresh try is fair
        if self.new_ip_retry(entry, prev, a):
            return            # a new IP is a new reason to send (ddns_policy.c)
        # consecutive failures the daemon learnt of (a cut request taught it nothing)
        k = 0
        for p in reversed(atts[:i]):
            if self.cut(p):
                continue
            if not p["failed"]:
                break
            k += 1
        if prev.get("fail") in ("911", "dnserr") and entry == "dyn":
            bound = 1800.0
        elif prev.get("fail") == "429":
            bound = 120.0
        else:
            bound = min(BACKOFF_MIN * 2 ** (k - 1), BACKOFF_MAX) * 0.9
        gap = a["t"] - prev["t"]
        if gap >= bound - SLACK:
            return
        if self.events_between(prev["t"], a["t"], ("force-" + entry,)):
            return
        if prev.get("fail") == "close" and gap < 1.0:
            return            # curl resends on a fresh connection once (transport retry)
        self.violation("backoff", entry, a, "retry %.1f s after failed attempt #%d (%s at %s), "
                       "backoff allows >= %.1f s; daemon log:\n      %s"
                       % (gap, k, prev.get("fail") or "delay %s" % prev.get("delay"),
                          time.strftime("%H:%M:%S", time.localtime(prev["t"])),
                          bound - SLACK, self.log_context(entry, prev["t"] - 60, a["t"])))

    def new_ip_retry(self, entry, prev, a):
        """A retry for another IP than the failed attempt's, which did not ask us to
        wait (911, dnserr, 429 do): the daemon sends it at once, not after the backoff."""
        if prev.get("fail") in ("911", "dnserr", "429"):
            return False
        st = self.start_of(entry, prev["t"])
        prev_ip = prev["ip"] or (st[1] if st else None)
        st = self.start_of(entry, a["t"])
        ip = a["ip"] or (st[1] if st else None)
        return bool(ip and prev_ip and ip != prev_ip)

    def cut(self, a):
        """Was a SIGKILL or a reload made while this request was in flight?"""
        end = a["t"] + min(float(a.get("delay") or 0), HTTP_TIMEOUT) + 1.5
        if a.get("n", 1) > 1:
            end += 1.0
        return bool(self.events_between(a["t"], end, ("kill", "reload")))

    def log_context(self, entry, t1, t2):
        out = []
        lt = time.localtime(t2)
        for raw in self.d.logtext().splitlines():
            m = LOG_RE.match(raw)
            if not m or not (("ddns %s:" % entry) in raw or " started" in raw
                             or "exiting" in raw or "reload" in raw):
                continue
            hh, mm, ss, ms = (int(x) for x in m.groups()[:4])
            t = time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, hh, mm, ss, 0, 0, -1)) + ms / 1e3
            if t1 - 1 <= t <= t2 + 1:
                out.append(raw)
        return "\n      ".join(out[-20:])

    def last_pub_time(self, entry, t):
        tt = 0
        for tp, _ in self.published[entry]:
            if tp < t:
                tt = tp
        return tt

    def violation(self, kind, entry, a, text):
        key = (kind, entry, a["t"])
        if key in self.violations_seen:
            return
        self.violations_seen.add(key)
        saved = self.round
        self.round = a.get("round", self.round)
        self.fail("ddns %s: %s (%s)" % (entry, kind, text))
        self.round = saved

    # ------------------------------------------------------------------ open provider fault
    def poll_open_fault(self):
        f = self.open_fault
        if not f:
            return
        e = f["entry"]
        try:
            st = self.d.status()
        except AssertionError:
            return
        ent = next((x for x in st["ddns"] if x["name"] == e), None)
        ip = self.bed.gw_wan_ip
        if f.get("force_at") and now() >= f["force_at"]:
            del f["force_at"]
            self.force(e, f)
            return
        if f["mode"] == "911" and not f.get("forced") and ent and ent["state"] == "retrying":
            nt = ent.get("next_try_in")
            if nt is None or nt < 1700:
                saved = self.round
                self.round = f["round"]
                self.fail("ddns %s: after 911 next_try_in is %r, want >= 1700 s (30 min)"
                          % (e, nt))
                self.round = saved
            f["forced"] = True
            self.force(e, f)
            return
        # Recovered: the entry holds the current IP, or it published one since the
        # fault (the provider works again; a later change may still wait for the
        # daemon's pacing, and the rounds check that one).
        self.read_daemon_log()
        since = [tp for tp, _ in self.published[e] if tp > f["t"]]
        if since or (ent and ent["state"] == "ok" and ent["published_ip"] == ip and
                     not self.dns_problems((e,))):
            if not f.get("went_failed"):
                self.recovery["provider"].append((since[0] if since else now()) - f["t"])
            self.fault_detail.setdefault("provider_modes", []).append(
                "%s:%s:%s" % (f["api"], f["mode"], f["count"]))
            self.bed.standin.reset()
            self.open_fault = None
            return
        if ent and ent["state"] == "failed":
            saved = self.round
            self.round = f["round"]
            self.fault = "provider"
            self.fail("ddns %s: permanent failure after a temporary provider fault %s "
                      "(error: %s)" % (e, f["mode"], ent["error"]))
            self.round = saved
            self.bed.standin.reset()
            f["went_failed"] = True
            f["deadline"] = now() + 60 * self.slow
            self.force(e, f)
        if now() > f["deadline"]:
            saved = self.round
            self.round = f["round"]
            self.fail("ddns %s: not recovered from provider fault %s x%s within %.0f s (%s)"
                      % (e, f["mode"], f["count"], f["deadline"] - f["t"],
                         json.dumps(ent)))
            self.round = saved
            self.bed.standin.reset()
            self.open_fault = None

    def force(self, entry, fault=None):
        """homeportctl update ENTRY. The daemon allows 3 forced updates per entry in a
        row, then one per 10 minutes (ddns_policy_force_take): a refusal names the wait;
        the open fault then forces again once it is over (a refused update sends
        nothing, so it is no force event)."""
        t = now()
        rc, out, err = self.d.ctl("update", entry)
        m = re.search(r"forced update refused for .*?%s \(next allowed in (\d+) s\)" % entry,
                      err)
        if rc != 0 and m and fault is not None:
            wait = int(m.group(1))
            self.fault_detail.setdefault("forced_refused", []).append(wait)
            self.say("forced update of %s refused: again in %d s" % (entry, wait))
            fault["force_at"] = now() + wait + 1
            fault["deadline"] = max(fault["deadline"],
                                    fault["force_at"] + (60 + HTTP_TIMEOUT * 4) * self.slow)
            return
        self.events.append((t, "force-" + entry, None))
        if rc != 0:
            self.fail("homeportctl update %s: rc %d %s" % (entry, rc, err.strip()))

    # ------------------------------------------------------------------ faults
    def new_wan_ip(self):
        cur = self.bed.gw_wan_ip
        while True:
            ip = "203.0.113.%d" % self.rng.randint(10, 250)
            if ip != cur:
                return ip

    def do_wan_ip(self):
        ip = self.new_wan_ip()
        self.bed.set_wan_ip(ip)
        self.ip_changes += 1
        return ip

    def do_reboot(self):
        self.bed.reboot_router()

    def do_restart(self):
        self.bed.restart_router()

    def do_freeze(self):
        secs = self.rng.uniform(UPNP_DEADLINE + 0.5, UPNP_DEADLINE + 3.0)
        self.bed.freeze_router()
        try:
            end = now() + secs
            while now() < end:
                t = now()
                rc, _, _ = self.d.ctl("status", "--json", timeout=15)
                self.status_ms.append((now() - t) * 1000)
                if rc != 0:
                    self.fail("homeportctl status failed (rc %d) while the router hangs" % rc)
                self.poll_open_fault()
                time.sleep(min(1.0, max(0, end - now())))
        finally:
            self.bed.thaw_router()
            self.thawed_at = now()
        return "%.1f s" % secs

    def do_provider(self):
        api = self.rng.choice(["dyndns2", "cloudflare"])
        modes = ["500", "garbage", "close", "slow", "slow_ok"] + (["911"] if api == "dyndns2" else [])
        mode = self.rng.choice(modes)
        # short mode: one failure (a 30 s backoff); long mode also two in a row (30 + 60 s)
        count = 1 if mode in ("911", "slow_ok") or self.mode == "short" else \
            self.rng.choice([1, 1, 2])
        if mode == "slow":
            self.bed.standin.slow(HTTP_TIMEOUT + 3, count=count, api=api)
        elif mode == "slow_ok":
            self.bed.standin.slow(1.5, count=None, api=api)
        else:
            self.bed.standin.fail(mode, count=count, api=api)
        entry = "dyn" if api == "dyndns2" else "cf"
        t = now()
        if mode != "slow_ok":
            sched = sum(BACKOFF_MIN * 2 ** j * 1.1 for j in range(count))
            self.open_fault = {"entry": entry, "api": api, "mode": mode, "count": count,
                               "t": t, "round": self.round,
                               "deadline": t + (sched + 60 + HTTP_TIMEOUT * 4) * self.slow}
        self.do_wan_ip()
        if mode == "slow_ok":
            # answered within the timeout: must just work (the round waits for it)
            self.reset_after_round = True
        return "%s %s x%s" % (api, mode, count)

    def write_service(self, name, spec):
        self.d.dropin("%s.conf" % name, self.service_text(name, spec))

    def do_hup_good(self):
        what = self.rng.choice(["add", "remove", "move"])
        if what == "remove" and len(self.services) <= 15:
            what = "add"
        if what == "add" and len(self.services) >= 24:
            what = "remove"
        if what == "add":
            name, spec = self.new_service()
            self.services[name] = spec
            self.write_service(name, spec)
            info = "add %s %s/%d" % (name, spec["proto"], spec["ext"])
        elif what == "remove":
            name = self.rng.choice(sorted(self.services))
            spec = self.services.pop(name)
            self.removed[name] = spec
            self.d.remove_dropin("%s.conf" % name)
            info = "remove %s %s/%d" % (name, spec["proto"], spec["ext"])
        else:
            name = self.rng.choice(sorted(self.services))
            spec = self.services[name]
            old = dict(spec)
            spec["ext"] = self.next_ext
            self.next_ext += 1
            self.removed["%s@%d" % (name, old["ext"])] = old
            self.write_service(name, spec)
            info = "move %s %d -> %d" % (name, old["ext"], spec["ext"])
        self.events.append((now(), "reload", info))
        off = os.path.getsize(self.d.log)
        self.d.signal(signal.SIGHUP)
        self.wait_log_from(off, "configuration reloaded", 20)
        return info

    def wait_log_from(self, off, text, timeout):
        end = now() + timeout * self.slow
        while now() < end:
            with open(self.d.log, "rb") as f:
                f.seek(off)
                t = f.read().decode("utf-8", "replace")
            if text in t:
                return t
            time.sleep(0.05)
        self.fail("%r not logged within %.0f s after SIGHUP" % (text, timeout * self.slow))
        return None

    BROKEN = [
        ("[service:zzbroken]\nprotocol = tcpx\ninternal_port = 8080\nexternal_port = 20999\n", 2),
        ("[service:zzbroken]\nprotocol = tcp\ninternal_port = 8080\nbogus_key = 1\n", 4),
        ("[nosuchsection]\nx = 1\n", 1),
        ("[service:zzbroken]\nprotocol = udp\ninternal_port = 99999\n", 3),
        ("[ddns:zzbroken]\nprovider = nosuchprovider\nhostname = a.example\n", 2),
    ]

    def do_hup_bad(self):
        text, line = self.rng.choice(self.BROKEN)
        before = sorted((s["name"], s["protocol"], s["external_port"])
                        for s in self.d.status()["services"])
        path = self.d.dropin("zz-broken.conf", text)
        off = os.path.getsize(self.d.log)
        self.events.append((now(), "reload-rejected", text.splitlines()[0]))
        try:
            self.d.signal(signal.SIGHUP)
            t = self.wait_log_from(off, "reload rejected", 20)
            if t is not None and ("%s:%d" % (path, line)) not in t and \
                    ("zz-broken.conf:%d" % line) not in t:
                self.fail("rejected reload did not log %s:%d; log: %s"
                          % (path, line, t.strip()[-600:]))
            after = sorted((s["name"], s["protocol"], s["external_port"])
                           for s in self.d.status()["services"])
            if after != before:
                self.fail("services changed by a rejected reload: %s -> %s" % (before, after))
        finally:
            os.unlink(path)
        return text.splitlines()[0]

    def do_renumber(self):
        b = self.bed
        if getattr(self, "old_prefix", None):
            for h in ("gw", "lan", "lan2"):
                b.del_addr6(h, b.host6(h, self.old_prefix), self.old_prefix.prefixlen)
        self.old_prefix = b.lan6_net
        self.renumbers = getattr(self, "renumbers", 0) + 1
        prefix = "2001:db8:77:%x::/64" % self.renumbers    # never the WAN's prefix
        b.renumber6(prefix)
        return prefix

    def do_pinhole_lost(self):
        return "%d pinhole rules deleted" % self.bed.drop_pinhole_rules()

    def do_kill(self):
        self.events.append((now(), "kill", None))
        self.d.kill()
        time.sleep(self.rng.uniform(0, 1.0))
        self.d.start(wait=True, timeout=60 * self.slow)
        return "pid %s" % self.d.pid

    # ------------------------------------------------------------------ rounds
    def pick(self):
        kinds = [k for k in KINDS for _ in range(WEIGHTS[k])]
        while True:
            k = self.rng.choice(kinds)
            if k == "provider" and self.open_fault:
                continue
            return k

    def run_round(self):
        kind = self.pick()
        self.fault = kind
        self.faults[kind] += 1
        time.sleep(self.rng.uniform(0, 1.5 if self.mode == "short" else 8.0))
        t0 = now()
        info = getattr(self, "do_" + kind)()
        self.say("injected %s (%.1f s)" % (info or "", now() - t0))
        if kind == "provider" and self.open_fault is None:
            kind_for_time = "provider"     # slow_ok: waited for synchronously
        else:
            kind_for_time = None if kind == "provider" else kind
        ok = self.wait_converged(kind_for_time, t0, deadline=120)
        if ok and kind == "freeze":
            self.recovery.setdefault("freeze_after_thaw", []).append(now() - self.thawed_at)
        if self.reset_after_round:
            self.bed.standin.reset()
            self.reset_after_round = False
        self.analyse_standin()
        if ok and self.verbose:
            self.say("recovered in %.1f s" % (now() - t0))

    def finish(self):
        """Wait for the open provider fault, final checks, stop the daemon."""
        self.fault = "final"
        if self.open_fault:
            while self.open_fault:
                self.poll_open_fault()
                time.sleep(0.5)
        self.wait_converged(None, now(), deadline=120)
        # no update at all for an unchanged IP: watch quietly for a while
        mark = self.bed.standin.mark()
        time.sleep(3)
        self.analyse_standin(final=True)
        self.figures["end"] = self.proc_figures()
        extra = [e for e in self.bed.standin.log(mark) if e.get("api") in ("dyndns2", "cloudflare")]
        if extra:
            self.fail("%d provider requests while nothing changed: %s"
                      % (len(extra), [(e["method"], e["path"]) for e in extra][:5]))
        rc = self.d.stop(timeout=15 * self.slow)
        self.figures["exit_code"] = rc
        if rc != 0:
            self.fail("homeportd exited %s on SIGTERM; log tail:\n%s" % (rc, self.d.logtext()[-3000:]))
        left = [m for m in self.bed.mappings()
                if isinstance(m["ext_port"], int) and EXT_BASE < m["ext_port"] < EXT_BASE + 1000]
        if left:
            self.fail("mappings left on the router after SIGTERM: %s"
                      % [(m["proto"], m["ext_port"]) for m in left])
        self.read_daemon_log()

    def sanitizer_report(self):
        text = self.d.logtext()
        out = {}
        out["asan_errors"] = len(re.findall(r"ERROR: AddressSanitizer", text))
        out["lsan_errors"] = len(re.findall(r"ERROR: LeakSanitizer", text))
        out["ubsan_errors"] = len(re.findall(r"runtime error:", text))
        vg = re.findall(r"ERROR SUMMARY: (\d+) errors", text)
        out["valgrind_error_summaries"] = [int(x) for x in vg]
        out["valgrind_definitely_lost"] = re.findall(r"definitely lost: ([\d,]+) bytes", text)
        out["valgrind_indirectly_lost"] = re.findall(r"indirectly lost: ([\d,]+) bytes", text)
        bad = out["asan_errors"] or out["lsan_errors"] or out["ubsan_errors"] or \
            any(vg_n for vg_n in out["valgrind_error_summaries"]) or \
            any(x.replace(",", "") != "0" for x in out["valgrind_definitely_lost"])
        if bad:
            self.fault = "final"
            self.fail("sanitizer/valgrind findings: %s" % json.dumps(out))
        return out

    def run(self):
        t_start = now()
        try:
            self.setup()
            for r in range(1, self.rounds + 1):
                self.round = r
                self.run_round()
                if r % SAMPLE_EVERY == 0:
                    self.figures.setdefault("samples", []).append(
                        dict(self.proc_figures(), round=r))
                if self.minutes and now() - t_start > self.minutes * 60:
                    self.say("time budget of %g min used: stopping after round %d"
                             % (self.minutes, r))
                    break
            self.rounds_done = self.round
            self.finish()
            self.tools = self.sanitizer_report()
        except CheckFailed:
            pass
        self.duration = now() - t_start
        return self.summary()

    # ------------------------------------------------------------------ report
    def updates_summary(self):
        out = {}
        for e in ("dyn", "cf"):
            atts = self.attempts[e]
            out[e] = {"attempts": len(atts), "failed": sum(1 for a in atts if a["failed"]),
                      "writes": sum(1 for a in atts if a.get("write")) if e == "cf" else
                      sum(1 for a in atts if not a["failed"]),
                      "published": len(self.published[e])}
        out["rfc"] = {"attempts": len(self.attempts["rfc"]), "daemon_starts": len(self.starts["rfc"]),
                      "published": len(self.published["rfc"])}
        out["needed"] = self.ip_changes + 1
        return out

    def summary(self):
        rec = {}
        for k, v in self.recovery.items():
            if v:
                rec[k] = {"n": len(v), "median_s": round(statistics.median(v), 2),
                          "max_s": round(max(v), 2)}
        s = {"seed": self.seed,
             "rounds_run": self.round if self.failures else getattr(self, "rounds_done", 0),
             "rounds_asked": self.rounds, "duration_s": round(getattr(self, "duration", 0), 1),
             "faults": self.faults, "recovery": rec, "ip_changes": self.ip_changes,
             "updates": self.updates_summary(), "figures": self.figures,
             "status_ms_while_frozen": {
                 "n": len(self.status_ms),
                 "median": round(statistics.median(self.status_ms), 1) if self.status_ms else None,
                 "max": round(max(self.status_ms), 1) if self.status_ms else None},
             "wrapper": self.wrapper[:1], "build": build_dir(),
             "tools": getattr(self, "tools", None),
             "failures": self.failures, "ok": not self.failures}
        return s


def print_summary(s, out=sys.stdout):
    w = out.write
    w("\n==== homeport soak: seed %s, %s/%s rounds, %.0f s, build %s%s ====\n"
      % (s["seed"], s["rounds_run"], s["rounds_asked"], s["duration_s"], s["build"],
         " under " + s["wrapper"][0] if s["wrapper"] else ""))
    w("faults:   %s\n" % ", ".join("%s %d" % kv for kv in s["faults"].items()))
    w("recovery (s):\n")
    for k, v in s["recovery"].items():
        w("  %-9s n=%-3d median %6.2f  max %6.2f\n" % (k, v["n"], v["median_s"], v["max_s"]))
    u = s["updates"]
    w("updates:  needed %d per entry (IP changes + first); dyndns2 %d requests (%d failed), "
      "%d published; cloudflare %d attempts (%d failed, %d writes), %d published; "
      "rfc2136 %d sent, %d published\n"
      % (u["needed"], u["dyn"]["attempts"], u["dyn"]["failed"], u["dyn"]["published"],
         u["cf"]["attempts"], u["cf"]["failed"], u["cf"]["writes"], u["cf"]["published"],
         u["rfc"]["attempts"], u["rfc"]["published"]))
    f = s["figures"]
    w("daemon:   start rss %s kB fds %s; end rss %s kB fds %s; exit %s\n"
      % (f.get("start", {}).get("rss_kb"), f.get("start", {}).get("fds"),
         f.get("end", {}).get("rss_kb"), f.get("end", {}).get("fds"), f.get("exit_code")))
    if f.get("samples"):
        # a kill fault starts a new daemon: its pid shows where the series restarts
        w("rss/fds every %d rounds: %s\n" % (SAMPLE_EVERY, ", ".join(
            "r%d %s kB %s fds (pid %s)" % (x["round"], x.get("rss_kb"), x.get("fds"), x["pid"])
            for x in f["samples"])))
    sm = s["status_ms_while_frozen"]
    if sm["n"]:
        w("status while the router hangs: n=%d median %s ms max %s ms (homeportctl via "
          "ip netns exec)\n" % (sm["n"], sm["median"], sm["max"]))
    if s["tools"]:
        w("tools:    %s\n" % json.dumps(s["tools"]))
    if s["failures"]:
        w("FAILED checks (%d):\n" % len(s["failures"]))
        for x in s["failures"]:
            w("  round %s, fault %s: %s\n" % (x["round"], x["fault"], x["what"][:2000]))
    else:
        w("all checks passed\n")


def run_on_bed(bed, **kw):
    soak = Soak(bed, **kw)
    return soak.run()


def main(argv=None):
    ap = argparse.ArgumentParser(description="homeport soak and chaos driver (root)")
    ap.add_argument("--rounds", type=int, default=24)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--valgrind", action="store_true",
                    help="run the daemon under valgrind --leak-check=full")
    ap.add_argument("--san", action="store_true",
                    help="use the ASan/UBSan build (build/san, make SAN=1)")
    ap.add_argument("--long", action="store_true",
                    help="longer random pauses before each fault")
    ap.add_argument("--max-failures", type=int, default=5)
    ap.add_argument("--minutes", type=float, default=0,
                    help="start no round after this many minutes (0: no limit)")
    ap.add_argument("--lease", default="2m",
                    help="the services' lease (pinhole_lost recovers at half of it)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    seed = a.seed if a.seed is not None else int(time.time()) % 100000
    if a.san:
        os.environ["HOMEPORT_BUILD"] = os.path.join(ROOT, "build", "san")
    why = missing_requirements()
    if why:
        print("soak: skipped: " + why)
        return 77
    if not os.path.exists(os.path.join(build_dir(), "homeportd")):
        print("soak: %s/homeportd missing: run make%s" % (build_dir(), " SAN=1" if a.san else ""))
        return 77
    wrapper, slow = [], 1.0
    if a.valgrind:
        wrapper = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                   "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
                   "--track-fds=no", "--child-silent-after-fork=yes"]
        slow = 3.0
    if a.san:
        os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        slow = max(slow, 1.5)
    print("soak: seed %d, %d rounds (rerun: %s --rounds %d --seed %d%s%s%s)"
          % (seed, a.rounds, sys.argv[0], a.rounds, seed, " --valgrind" if a.valgrind else "",
             " --san" if a.san else "", " --lease " + a.lease if a.lease != "2m" else ""))
    with Bed(echo_ports=(8080, 8081), ipv6=True) as bed:
        s = run_on_bed(bed, seed=seed, rounds=a.rounds, mode="long" if a.long else "short",
                       minutes=a.minutes, lease=a.lease,
                       wrapper=wrapper, slow_factor=slow, max_failures=a.max_failures,
                       verbose=a.verbose)
        if s["failures"]:
            bed.dump_logs(lines=40)
    print_summary(s)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(s, f, indent=1)
    return 0 if s["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
