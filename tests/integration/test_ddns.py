"""DDNS end to end: homeportd in the bed's LAN learns the router's external IP
(real miniupnpd) and publishes it to the HTTPS stand-in (dyndns2) and to BIND
(rfc2136). Covers: an IP change reaching both, no request after a restart with
the same IP, sticky permanent failures, backoff after temporary failures (cut
short by a new IP unless the provider asked to wait),
CGNAT blocking, `homeportctl update`, reloads (libcurl loaded only when an HTTP
provider needs it), --once, and an upgrade from
0.1.0's state files (tests/upgrade/).

Run as root:  HOMEPORT_BUILD=/work/main/build python3 -m pytest -v tests/integration/test_ddns.py
"""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from bed import Daemon, build_dir, children, wait_until
from test_daemon import raw_request

DDNS_KEYS = {"name", "provider", "hostnames", "state", "published_ip", "last_update_ago",
             "next_try_in", "error"}
DYN_HOST = "www.dyn.example"
HOME_HOST = "www.home.example"
QUIET = 3.0          # seconds we watch for requests that must not come


def entry(st, name):
    return next(e for e in st["ddns"] if e["name"] == name)


def conf(bed, *sections):
    return bed.gateway_conf("natpmp", check_interval="10s") + "".join(sections)


def dyn(bed, name="dyn", hosts=DYN_HOST, **keys):
    return bed.ddns_section(name, "dyndns2", hosts, **keys)


def dyn_requests(bed, since):
    return bed.standin.log(since, api="dyndns2")


def wait_state(d, name, state, timeout=15, pred=None):
    return d.wait_for(lambda st: entry(st, name)["state"] == state and
                      (pred is None or pred(entry(st, name))), timeout=timeout)


def assert_quiet(bed, since, seconds=QUIET):
    time.sleep(seconds)
    got = dyn_requests(bed, since)
    assert got == [], "unexpected dyndns2 requests: %r" % [r["query_raw"] for r in got]


def test_ip_change_reaches_standin_and_bind(bed):
    d = bed.start_daemon(conf(bed, dyn(bed), bed.ddns_section("home", "rfc2136", HOME_HOST,
                                                              ttl=60)))
    ip1 = bed.gw_wan_ip
    st = d.wait_for(lambda s: all(e["state"] == "ok" and e["published_ip"] == ip1
                                  for e in s["ddns"]), timeout=15)
    for e in st["ddns"]:
        assert DDNS_KEYS <= set(e), e
        assert e["error"] is None and e["next_try_in"] is None
        assert isinstance(e["last_update_ago"], int)
    assert entry(st, "dyn")["hostnames"] == [DYN_HOST]
    assert entry(st, "home")["provider"] == "rfc2136"
    assert bed.standin.ip_of(DYN_HOST) == ip1
    assert bed.dig(HOME_HOST) == [ip1]

    mark = bed.standin.mark()
    t0 = time.monotonic()
    bed.set_wan_ip("203.0.113.3")
    d.wait_for(lambda s: all(e["state"] == "ok" and e["published_ip"] == "203.0.113.3"
                             for e in s["ddns"]), timeout=20)
    took = time.monotonic() - t0
    print("IP change -> both providers ok in %.2f s" % took)
    assert bed.standin.ip_of(DYN_HOST) == "203.0.113.3"
    assert bed.dig(HOME_HOST) == ["203.0.113.3"]
    # debounced: one request, with the new IP only (never the announced old one)
    reqs = dyn_requests(bed, mark)
    assert len(reqs) == 1, [r["query_raw"] for r in reqs]
    assert "203.0.113.3" in reqs[0]["query_raw"]
    assert_quiet(bed, bed.standin.mark(), 2)


def test_restart_with_same_ip_sends_nothing(bed):
    d = bed.start_daemon(conf(bed, dyn(bed)))
    ip = bed.gw_wan_ip
    wait_state(d, "dyn", "ok", pred=lambda e: e["published_ip"] == ip)
    assert len(dyn_requests(bed, 0)) == 1
    path = os.path.join(d.state_dir, "ddns-dyn.json")
    with open(path) as f:
        text = f.read()
    saved = json.loads(text)
    assert saved["published_ip"] == ip
    assert "dynpass" not in text                 # the password never lands in state

    mark = bed.standin.mark()
    d.restart()
    st = wait_state(d, "dyn", "ok", pred=lambda e: e["published_ip"] == ip)
    assert st["gateway"]["external_ip"] == ip
    assert_quiet(bed, mark)
    assert "dynpass" not in d.logtext()


def test_corrupt_state_file_is_ignored(bed):
    d = bed.start_daemon(conf(bed, dyn(bed)))
    wait_state(d, "dyn", "ok")
    d.stop()
    with open(os.path.join(d.state_dir, "ddns-dyn.json"), "w") as f:
        f.write('{"version": 1, "published_ip": [')
    mark = bed.standin.mark()
    d.start()
    wait_state(d, "dyn", "ok")
    assert len(dyn_requests(bed, mark)) == 1     # starts afresh: publishes once
    d.wait_log("ddns-dyn.json")


def test_badauth_fails_and_stays_failed(bed):
    bed.standin.fail("badauth", api="dyndns2")
    d = bed.start_daemon(conf(bed, dyn(bed)))
    e = entry(wait_state(d, "dyn", "failed"), "dyn")
    assert "badauth" in e["error"]
    assert e["next_try_in"] is None and e["published_ip"] is None
    assert len(dyn_requests(bed, 0)) == 1
    d.wait_log("dyn: pending -> failed")
    # a new IP does not tempt it, nor does a restart with the same config
    mark = bed.standin.mark()
    bed.set_wan_ip("203.0.113.5")
    d.wait_for(lambda s: s["gateway"]["external_ip"] == "203.0.113.5")
    d.restart()
    wait_state(d, "dyn", "failed")
    assert_quiet(bed, mark)
    # the user asks explicitly: one try, and it works now
    bed.standin.reset()
    rc, out, err = d.ctl("update", "dyn")
    assert rc == 0, out + err
    wait_state(d, "dyn", "ok", pred=lambda e: e["published_ip"] == "203.0.113.5")
    assert len(dyn_requests(bed, mark)) == 1


@pytest.mark.parametrize("mode,lo,hi", [("911", 1000, 2100), ("500", 1, 40)])
def test_tempfail_retries_later(make_bed, mode, lo, hi):
    bed = make_bed()
    bed.standin.fail(mode, api="dyndns2")
    d = bed.start_daemon(conf(bed, dyn(bed)))
    e = entry(wait_state(d, "dyn", "retrying"), "dyn")
    assert lo <= e["next_try_in"] <= hi, e
    assert e["error"] and (mode in e["error"] or "outage" in e["error"]), e
    assert e["published_ip"] is None
    n = len(dyn_requests(bed, 0))
    assert n == 1
    assert_quiet(bed, n)                         # backing off, not looping


def test_new_ip_is_retried_at_once_after_a_temporary_error(bed):
    # a 500 makes the entry back off (>= 27 s); a new IP is a new reason to send
    bed.standin.fail("500", count=1, api="dyndns2")
    d = bed.start_daemon(conf(bed, dyn(bed)))
    e = entry(wait_state(d, "dyn", "retrying"), "dyn")
    assert e["next_try_in"] >= 20, e
    first = dyn_requests(bed, 0)
    assert len(first) == 1
    bed.set_wan_ip("203.0.113.3")
    wait_state(d, "dyn", "ok", timeout=20, pred=lambda e: e["published_ip"] == "203.0.113.3")
    reqs = dyn_requests(bed, 0)
    assert len(reqs) == 2 and "203.0.113.3" in reqs[1]["query_raw"], reqs
    # sent for the new IP, not at the end of the backoff (30 s +- 10 %)
    assert reqs[1]["time"] - first[0]["time"] < 27, reqs[1]["time"] - first[0]["time"]
    assert bed.standin.ip_of(DYN_HOST) == "203.0.113.3"


@pytest.mark.parametrize("mode", ["911", "429"])
def test_new_ip_waits_when_the_provider_asked_to(make_bed, mode):
    # 911: "wait 30 min"; 429: Retry-After (the stand-in says 120 s)
    bed = make_bed()
    bed.standin.fail(mode, api="dyndns2")
    d = bed.start_daemon(conf(bed, dyn(bed)))
    e = entry(wait_state(d, "dyn", "retrying"), "dyn")
    assert e["next_try_in"] >= 100, e
    mark = bed.standin.mark()
    bed.set_wan_ip("203.0.113.3")
    d.wait_for(lambda s: s["gateway"]["external_ip"] == "203.0.113.3")
    assert_quiet(bed, mark)
    e = entry(d.status(), "dyn")
    assert e["state"] == "retrying" and e["next_try_in"] >= 90, e


def test_cgnat_blocks_publishing(bed):
    d = bed.start_daemon(conf(bed, dyn(bed)))
    ip = bed.gw_wan_ip
    wait_state(d, "dyn", "ok")
    mark = bed.standin.mark()
    bed.set_wan_ip("100.64.0.2")
    e = entry(wait_state(d, "dyn", "blocked", timeout=20), "dyn")
    assert "100.64.0.2" in e["error"] and "not public" in e["error"], e
    assert e["published_ip"] == ip
    rc, out, err = d.ctl("update", "dyn")        # not even on request, and it says so
    assert rc == 1 and "not public" in err, (rc, out, err)
    assert_quiet(bed, mark)
    assert bed.standin.ip_of(DYN_HOST) == ip
    bed.set_wan_ip("203.0.113.6")                # public again: resumes
    wait_state(d, "dyn", "ok", timeout=20, pred=lambda e: e["published_ip"] == "203.0.113.6")
    assert bed.standin.ip_of(DYN_HOST) == "203.0.113.6"


def test_update_command_forces_a_request(bed):
    d = bed.start_daemon(conf(bed, dyn(bed), dyn(bed, "other", "cam.dyn.example")))
    d.wait_for(lambda s: all(e["state"] == "ok" for e in s["ddns"]))
    mark = bed.standin.mark()
    rc, out, err = d.ctl("update", "dyn")
    assert rc == 0, out + err
    reqs = bed.standin.wait_log(1, since=mark, api="dyndns2")
    assert DYN_HOST in reqs[0]["query_raw"]
    wait_state(d, "dyn", "ok")
    time.sleep(1)
    assert len(dyn_requests(bed, mark)) == 1     # only the entry asked for
    rc, out, err = d.ctl("update")
    assert rc == 0
    bed.standin.wait_log(3, since=mark, api="dyndns2")
    rc, out, err = d.ctl("update", "nosuch")
    assert rc == 1


def test_forced_updates_are_rate_limited(bed):
    """A loop of `homeportctl update` cannot flood a provider: three forced updates
    per entry go out, the next is refused with a sentence (exit 1) and sends nothing;
    other entries keep their own allowance."""
    d = bed.start_daemon(conf(bed, dyn(bed), dyn(bed, "other", "cam.dyn.example")))
    d.wait_for(lambda s: all(e["state"] == "ok" for e in s["ddns"]))
    mark = bed.standin.mark()
    for i in range(3):
        rc, out, err = d.ctl("update", "dyn")
        assert rc == 0, out + err
        bed.standin.wait_log(i + 1, since=mark, api="dyndns2")
        wait_state(d, "dyn", "ok", pred=lambda e: not e["updating"])
    for _ in range(5):
        rc, out, err = d.ctl("update", "dyn")
        assert rc == 1, (rc, out, err)
        assert "forced update refused for dyn (next allowed in " in err, err
        assert "at most 3 forced updates in a row per entry, then one every 10 min" in err
    d.wait_log("ddns dyn: forced update refused: too many in a row")
    rc, out, err = d.ctl("update")                   # all: "other" still may
    assert rc == 1 and "queued for the others" in err, err
    reqs = bed.standin.wait_log(4, since=mark, api="dyndns2")
    assert "cam.dyn.example" in reqs[3]["query_raw"]
    assert_quiet(bed, bed.standin.mark(), 1.5)
    assert len(dyn_requests(bed, mark)) == 4
    # the allowance is kept across a restart
    d.restart()
    rc, out, err = d.ctl("update", "dyn")
    assert rc == 1 and "refused for dyn" in err, err


def test_reload_resets_a_changed_failed_entry(bed):
    wrong = bed.secret_file("wrong.pass", "not-the-password\n")
    text = conf(bed, dyn(bed, password_file=wrong))
    d = bed.start_daemon(text)
    e = entry(wait_state(d, "dyn", "failed"), "dyn")
    assert "badauth" in e["error"]
    mark = bed.standin.mark()
    rc, out, err = d.ctl("reload")               # unchanged: stays failed, no request
    assert rc == 0, out + err
    wait_state(d, "dyn", "failed")
    assert_quiet(bed, mark, 1.5)
    d.write_conf(conf(bed, dyn(bed)))            # the right password file
    d.signal(signal.SIGHUP)
    wait_state(d, "dyn", "ok", pred=lambda e: e["published_ip"] == bed.gw_wan_ip)
    assert len(dyn_requests(bed, mark)) == 1
    # a removed entry is dropped from status and from the state directory
    d.write_conf(conf(bed))
    rc, out, err = d.ctl("reload")
    assert rc == 0, out + err
    assert d.status()["ddns"] == []
    assert not os.path.exists(os.path.join(d.state_dir, "ddns-dyn.json"))


HELPER_IDLE = 20      # seconds: http.h HTTP_HELPER_IDLE_MS


def maps_libcurl(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "/libcurl" in f.read()


def http_helpers(d):
    out = []
    for pid in children(d.pid):
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip().startswith("homeport-http"):
                    out.append(pid)
        except FileNotFoundError:
            pass
    return out


def test_http_stack_in_a_helper_only_while_needed(bed):
    """libcurl (and the ~25 libraries it brings) never loads into homeportd: the first
    HTTP request, also of an entry a reload adds, starts homeport-http-helper, which
    has it; the daemon stops the helper HTTP_HELPER_IDLE_MS after the last request, and
    the next request starts a new one."""
    d = bed.start_daemon(conf(bed, bed.ddns_section("home", "rfc2136", HOME_HOST, ttl=60)))
    wait_state(d, "home", "ok", pred=lambda e: e["published_ip"] == bed.gw_wan_ip)
    assert not maps_libcurl(d.pid)
    assert http_helpers(d) == []
    d.write_conf(conf(bed, bed.ddns_section("home", "rfc2136", HOME_HOST, ttl=60), dyn(bed)))
    rc, out, err = d.ctl("reload")
    assert rc == 0, out + err
    wait_state(d, "dyn", "ok", pred=lambda e: e["published_ip"] == bed.gw_wan_ip)
    assert bed.standin.ip_of(DYN_HOST) == bed.gw_wan_ip
    first = http_helpers(d)
    assert len(first) == 1 and maps_libcurl(first[0])
    assert not maps_libcurl(d.pid)
    wait_until(lambda: http_helpers(d) == [], timeout=HELPER_IDLE + 15,
               what="the idle HTTP helper to be stopped")
    assert "http: no request for 20 s" in d.logtext()
    mark = bed.standin.mark()
    rc, out, err = d.ctl("update", "dyn")
    assert rc == 0, out + err
    bed.standin.wait_log(1, since=mark, api="dyndns2")
    wait_state(d, "dyn", "ok")
    again = http_helpers(d)
    assert len(again) == 1 and again != first
    assert not maps_libcurl(d.pid)


def test_http_helper_crash_is_a_temporary_error(bed):
    """The HTTP helper dies during a request: the entry retries (a transport error,
    not a failure), and the next request starts a new helper."""
    bed.standin.slow(30, count=1, api="dyndns2")
    d = bed.start_daemon(conf(bed, dyn(bed)))
    bed.standin.wait_log(1, since=0, api="dyndns2")     # the request is at the server
    helper = wait_until(lambda: http_helpers(d), what="the HTTP helper")[0]
    os.kill(helper, signal.SIGKILL)
    e = entry(wait_state(d, "dyn", "retrying"), "dyn")
    assert "the HTTP helper ended" in e["error"], e
    bed.set_wan_ip("203.0.113.3")                # a new IP: sent at once
    wait_state(d, "dyn", "ok", timeout=20, pred=lambda e: e["published_ip"] == "203.0.113.3")
    assert http_helpers(d) not in ([], [helper])


def test_hanging_http_helper_is_stopped(bed):
    """A helper that stops answering (stopped here) cannot hold a request past its
    timeout: the daemon kills it 5 s after the request's own timeout, the entry
    retries, and the daemon answers all along."""
    bed.standin.slow(30, count=1, api="dyndns2")
    d = bed.start_daemon(conf(bed, dyn(bed, timeout="2")))
    bed.standin.wait_log(1, since=0, api="dyndns2")
    helper = wait_until(lambda: http_helpers(d), what="the HTTP helper")[0]
    os.kill(helper, signal.SIGSTOP)
    rc, out, err = d.ctl("status")
    assert rc == 0, out + err
    e = entry(wait_state(d, "dyn", "retrying", timeout=20), "dyn")
    assert "the HTTP helper ended" in e["error"], e
    assert "no answer from the HTTP helper about " in d.logtext()
    wait_until(lambda: helper not in http_helpers(d), what="the stopped helper to be reaped")


def proc_state(pid):
    try:
        return proc_status(pid)["State"].split()[0]
    except FileNotFoundError:
        return None


def with_fake_http_helper(bed, script, conf_text):
    """A daemon from a copy of homeportd whose HTTP helper is the shell script given
    (it is found next to the program), started."""
    tree = bed.path("fake-helper")
    os.makedirs(tree)
    shutil.copy(os.path.join(build_dir(), "homeportd"), tree)
    with open(os.path.join(tree, HTTP_HELPER_NAME), "w") as f:
        f.write("#!/bin/sh\n" + script)
    os.chmod(os.path.join(tree, HTTP_HELPER_NAME), 0o755)
    d = Daemon(bed, conf_text)
    bed._daemons.append(d)             # stopped and cleaned up with the bed
    d.homeportd = os.path.join(tree, "homeportd")
    return d.start()


def test_helper_ignoring_sigterm_is_killed_while_the_daemon_answers(bed):
    """Stopping a helper never blocks the loop: a helper that ignores SIGTERM (a
    script that never answers) is still running after the daemon's SIGTERM while
    status answers; it is killed a second later and reaped (no zombie), and the
    entry retries."""
    mark = bed.path("got-sigterm")
    # the trap runs once the sleep ends: a short one, and status read over the
    # socket, so that all of it fits well inside the daemon's 1 s grace
    d = with_fake_http_helper(
        bed, "trap 'echo $$ >> %s' TERM\nwhile :; do /bin/sleep 0.01; done\n" % mark,
        conf(bed, dyn(bed, timeout="1")))
    helper = wait_until(lambda: http_helpers(d), what="the HTTP helper")[0]
    wait_until(lambda: os.path.exists(mark), timeout=30, what="the daemon's SIGTERM")
    # straight over the control socket: no homeportctl to start in the
    # namespace (under ASan that alone can take a good part of a second)
    st = json.loads(raw_request(d.sock, b"status\n"))
    assert st["pid"] == d.pid, st
    assert proc_state(helper) not in (None, "Z"), "the helper ended before status answered"
    wait_until(lambda: helper not in http_helpers(d), what="the helper to be killed and reaped")
    assert proc_state(helper) is None
    assert "http: helper %d did not end on SIGTERM: killed" % helper in d.logtext()
    e = entry(wait_state(d, "dyn", "retrying"), "dyn")
    assert "the HTTP helper ended" in e["error"], e


def test_helper_that_cannot_confine_itself_is_reported(bed):
    """A helper that ends with a status of its own (3: it could not confine itself)
    is named in the log with it, and the entry retries."""
    d = with_fake_http_helper(bed, "exit 3\n", conf(bed, dyn(bed)))
    e = entry(wait_state(d, "dyn", "retrying"), "dyn")
    assert "the HTTP helper ended" in e["error"], e
    d.wait_log("exited with status 3 (it could not confine itself)")


def test_http_helper_gets_the_proxy_variables_only(bed, monkeypatch):
    """The HTTP helper's environment holds libcurl's proxy variables from the daemon's
    and nothing else; libcurl uses them (here a proxy that refuses: a temporary error)."""
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HOMEPORT_SECRET_TEST", "not for the helper")
    d = bed.start_daemon(conf(bed, dyn(bed)))
    e = entry(wait_state(d, "dyn", "retrying"), "dyn")
    assert "127.0.0.1" in e["error"], e
    helper = wait_until(lambda: http_helpers(d), what="the HTTP helper")[0]
    with open("/proc/%d/environ" % helper, "rb") as f:
        assert f.read().split(b"\0")[:-1] == [b"https_proxy=http://127.0.0.1:9"]
    assert dyn_requests(bed, 0) == []


HTTP_HELPER_NAME = "homeport-http-helper"
HTTP_HELPER = os.path.join(build_dir(), HTTP_HELPER_NAME)


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


def test_http_helper_is_confined(bed):
    """The HTTP helper the daemon runs is under its seccomp filter (http_sandbox.h),
    with NO_NEW_PRIVS, and has no file open: only its socket to the daemon, the
    event loop's signalfd and libcurl's sockets."""
    bed.standin.slow(30, count=1, api="dyndns2")         # keep the helper running
    d = bed.start_daemon(conf(bed, dyn(bed)))
    bed.standin.wait_log(1, since=0, api="dyndns2")
    helper = wait_until(lambda: http_helpers(d), what="the HTTP helper")[0]
    st = proc_status(helper)
    assert st["NoNewPrivs"].strip() == "1" and st["Seccomp"].strip() == "2", st
    assert os.path.realpath("/proc/%d/exe" % helper) == os.path.realpath(HTTP_HELPER)
    fds = {int(x): os.readlink("/proc/%d/fd/%s" % (helper, x))
           for x in os.listdir("/proc/%d/fd" % helper)}
    assert all(fds[n] == "/dev/null" for n in (0, 1)), fds
    assert fds[3].startswith("socket:"), fds
    assert all(t.startswith(("socket:", "anon_inode:")) for n, t in fds.items() if n > 2), fds


def test_http_helper_sandbox_refuses_what_it_never_needs():
    """homeport-http-helper --check-sandbox: files read-only, name lookups and threads
    work; writing a file, a process, a program, ptrace, a Unix socket are refused."""
    for user in ([], ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]):
        r = subprocess.run(user + [HTTP_HELPER, "--check-sandbox"], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 0, r.stdout + r.stderr
        for line in ("open /etc/hosts read-only: allowed (ok)",
                     "open /dev/null for writing: Operation not permitted (ok)",
                     "resolve localhost: allowed (ok)",
                     "32 resolver threads at once: allowed (ok)",
                     "start a process: Operation not permitted (ok)",
                     "execve /bin/true: Operation not permitted (ok)",
                     "unix socket: Operation not permitted (ok)"):
            assert line in r.stdout, r.stdout
        assert "WRONG" not in r.stdout


def test_once_publishes_and_exits(bed):
    d = bed.start_daemon(conf(bed, dyn(bed)), args=["--once"], wait=False)
    assert d.wait_exit(30) == 0, d.logtext()
    assert "ddns dyn: ok" in d.logtext()
    assert len(dyn_requests(bed, 0)) == 1
    mark = bed.standin.mark()
    d.start(args=["--once"], wait=False)         # same IP: done without a request
    assert d.wait_exit(30) == 0, d.logtext()
    assert dyn_requests(bed, mark) == []


UPGRADE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "upgrade")
UPGRADE_IP = "203.0.113.7"       # what tests/upgrade/state says was published


def upgrade_fixture():
    """tests/upgrade/: its [ddns:*] sections, its secret files {name: text}, its state files
    {name: parsed JSON} (written by release 0.1.0 itself, see tests/upgrade/README)."""
    with open(os.path.join(UPGRADE, "homeport.conf")) as f:
        text = f.read()
    sections = text[text.index("\n[ddns:") + 1:]
    secrets, states = {}, {}
    for name in os.listdir(UPGRADE):
        path = os.path.join(UPGRADE, name)
        if os.path.isfile(path) and not name.endswith(".conf") and name != "README":
            with open(path) as f:
                secrets[name] = f.read()
    for name in os.listdir(os.path.join(UPGRADE, "state")):
        with open(os.path.join(UPGRADE, "state", name)) as f:
            states[name] = json.load(f)
    return sections, secrets, states


def test_state_of_release_0_1_0_is_kept(make_bed):
    """Upgrade from 0.1.0: with the state files that release wrote and the IP they name,
    no entry sends (dyndns2 servers ban repeated unchanged updates), the failed one stays
    failed, and the files are rewritten so that a restart finds them as today's."""
    bed = make_bed(gw_wan_ip=UPGRADE_IP, bind=False)
    sections, secrets, states = upgrade_fixture()
    state_dir = bed.path("upgrade-state")
    os.mkdir(state_dir, 0o755)
    for name in states:
        shutil.copyfile(os.path.join(UPGRADE, "state", name), os.path.join(state_dir, name))
    text = "[daemon]\nstate_dir = %s\n%s%s" % (state_dir, conf(bed), sections)
    d = bed.start_daemon(text, secrets=secrets)

    def assert_kept(st, settled):
        assert len(st["ddns"]) == len(states) == 10
        for e in st["ddns"]:
            if e["name"] == "he-failed":
                assert e["state"] == "failed" and "badauth" in e["error"], e
            else:
                assert e["published_ip"] == UPGRADE_IP, e
                assert e["state"] == "ok" or not settled, e

    for run in (1, 2):
        assert_kept(d.status(), settled=False)          # at once, whatever the gateway does
        assert_kept(d.wait_for(lambda s: s["gateway"]["external_ip"] == UPGRADE_IP and
                               all(e["state"] != "pending" for e in s["ddns"]), timeout=20),
                    settled=True)
        log = d.logtext(current=True)
        assert "publishing" not in log, log
        assert log.count("state of release 0.1.0 taken over") == (10 if run == 1 else 0), log
        for name, old in states.items():
            with open(os.path.join(state_dir, name)) as f:
                new = json.load(f)
            assert new["salt"] == old["salt"] and new["fingerprint"] != old["fingerprint"]
            assert new["published_ip"] == old["published_ip"]
            assert new["failed"] == old["failed"]
        if run == 1:
            d.restart()
    assert bed.standin.log() == []
