"""Short soak of homeportd on the test bed (tests/soak/soak.py): a few dozen seeded
rounds of router reboots, restarts and hangs, WAN IP changes, provider failures,
reloads (good and broken) and SIGKILLs, every one followed by checks from outside
the daemon. HOMEPORT_SOAK_ROUNDS and HOMEPORT_SOAK_SEED override the defaults; the
long run is `python3 tests/soak/soak.py --rounds 1000 --seed N` (root)."""
import os
import sys
import time

import pytest

from bed import build_dir

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "soak"))

import soak  # noqa: E402

HOMEPORTD = os.path.join(build_dir(), "homeportd")
pytestmark = pytest.mark.skipif(not os.path.exists(HOMEPORTD),
                                reason="%s missing: run make" % HOMEPORTD)


def test_soak_short(make_bed):
    bed = make_bed(echo_ports=(8080, 8081), ipv6=True)     # soak.py checks IPv6 too
    rounds = int(os.environ.get("HOMEPORT_SOAK_ROUNDS", "24"))
    seed = int(os.environ.get("HOMEPORT_SOAK_SEED", "20240607"))
    s = soak.run_on_bed(bed, seed=seed, rounds=rounds, mode="short", max_failures=3)
    soak.print_summary(s)
    assert s["ok"], "soak failed (seed %d):\n%s" % (seed, "\n".join(
        "round %s, fault %s: %s" % (f["round"], f["fault"], f["what"][:1500])
        for f in s["failures"]))


# -- the soak's own checker, without a bed ---------------------------------------------
class _Bed:
    zone = "home.example"


class _Daemon:
    """Just the daemon's log file, as soak.Soak reads it."""
    def __init__(self, path, lines):
        self.log = str(path)
        with open(self.log, "w") as f:
            f.write("".join(l + "\n" for l in lines))

    def logtext(self):
        with open(self.log) as f:
            return f.read()


def _stamp(t):
    # the daemon's log stamp: local time, milliseconds cut (not rounded), as log.c writes
    return time.strftime("%H:%M:%S", time.localtime(t)) + ".%03d" % int((t % 1) * 1000)


def _checker(tmp_path, daemon_lines):
    s = soak.Soak(_Bed(), out=open(os.devnull, "w"), max_failures=99)
    s.d = _Daemon(tmp_path / "homeportd.log", daemon_lines)
    s.read_daemon_log()
    return s


def _attempt(s, entry, t, ip, fail=None):
    a = {"t": t, "ip": ip, "failed": fail is not None, "fail": fail, "delay": None,
         "round": 683, "n": 1}
    s.attempts[entry].append(a)
    return a


def test_checker_a_fast_forced_update_is_not_redundant(tmp_path):
    # Seed 62, round 683: a 911, the soak forces an update 1 s later (homeportctl took
    # 250 ms to get there), the daemon sends it over the reused connection and logs
    # "published" 2 ms after the start. The stand-in stamps the request when it reads it,
    # the daemon when it has the reply, cut to the millisecond: the stand-in's stamp of
    # that one request can be later than the daemon's stamp of its answer.
    x = int(time.time()) - 60                       # a whole second
    ip = "203.0.113.191"
    s = _checker(tmp_path, [
        "%s info: ddns dyn: ok -> pending (publishing %s)" % (_stamp(x + 0.1), ip),
        "%s warning: ddns dyn: dyndns2 911: provider outage, retry in 30 minutes; next try "
        "in 1800 s" % _stamp(x + 0.15),
        "%s info: ddns dyn: update requested" % _stamp(x + 1.3500),
        "%s info: ddns dyn: forced update to %s" % (_stamp(x + 1.3501), ip),
        "%s notice: ddns dyn: published %s for soak.dyn.example" % (_stamp(x + 1.3524), ip),
        "%s info: ddns dyn: retrying -> ok (published IP is current)" % _stamp(x + 1.3526),
    ])
    s.events.append((x + 1.1, "force-dyn", None))
    _attempt(s, "dyn", x + 0.1016, ip, fail="911")
    _attempt(s, "dyn", x + 1.3521, ip)               # before the answer, after its stamp
    for a in s.attempts["dyn"]:
        s.check_attempt("dyn", a)
    assert s.failures == [], s.failures


def test_checker_still_finds_a_redundant_update(tmp_path):
    t0 = int(time.time()) - 60 + 0.1003
    ip = "203.0.113.191"
    s = _checker(tmp_path, [
        "%s info: ddns dyn: ok -> pending (publishing %s)" % (_stamp(t0), ip),
        "%s notice: ddns dyn: published %s for soak.dyn.example" % (_stamp(t0 + 0.003), ip),
        "%s info: ddns dyn: ok -> pending (publishing %s)" % (_stamp(t0 + 5), ip),
        "%s notice: ddns dyn: published %s for soak.dyn.example" % (_stamp(t0 + 5.003), ip),
    ])
    _attempt(s, "dyn", t0 + 0.0016, ip)
    _attempt(s, "dyn", t0 + 5.0016, ip)
    for a in s.attempts["dyn"]:
        s.check_attempt("dyn", a)
    assert [f["what"].split(" (")[0] for f in s.failures] == ["ddns dyn: redundant"], s.failures


def test_checker_a_new_ip_may_cut_a_backoff_short(tmp_path):
    x = int(time.time()) - 60
    s = _checker(tmp_path, [
        "%s info: ddns dyn: ok -> pending (publishing 203.0.113.5)" % _stamp(x + 0.1),
        "%s info: ddns dyn: publishing 203.0.113.6" % _stamp(x + 3.1),
        "%s info: ddns dyn: publishing 203.0.113.7" % _stamp(x + 6.1),
    ])
    _attempt(s, "dyn", x + 0.102, "203.0.113.5", fail="500")
    _attempt(s, "dyn", x + 3.102, "203.0.113.6", fail="911")   # a new IP: at once
    _attempt(s, "dyn", x + 6.102, "203.0.113.7")               # but 911 said wait
    for a in s.attempts["dyn"]:
        s.check_attempt("dyn", a)
    assert [f["what"].split(" (")[0] for f in s.failures] == ["ddns dyn: backoff"], s.failures


def test_soak_waits_out_a_refused_forced_update(tmp_path):
    class Refusing(_Daemon):
        def ctl(self, *args, **kw):
            return 1, "", ("homeportctl: forced update refused for dyn (next allowed in 420 s):"
                           " at most 3 forced updates in a row per entry, then one every 10 "
                           "min, so that providers do not block the account\n")
    s = _checker(tmp_path, [])
    s.d = Refusing(tmp_path / "homeportd.log", [])
    fault = {"entry": "dyn", "deadline": time.time() + 100}
    s.force("dyn", fault)
    assert s.failures == [] and s.events == []       # refused: nothing was sent
    assert 420 <= fault["force_at"] - time.time() <= 422
    assert fault["deadline"] >= fault["force_at"] + 60
