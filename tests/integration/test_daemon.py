"""The daemon's foundation, end to end: check mode, control socket, status
contract, reload (good and broken), signals, a hostile control client, and
leaks over many reloads. The daemon runs in a namespace of our own that has
nothing but loopback, so whatever it tries to reach goes nowhere."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid

import pytest

from bed import Daemon, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("HOMEPORT_BUILD", os.path.join(ROOT, "build"))
HOMEPORTD = os.path.join(BUILD, "homeportd")
HOMEPORTCTL = os.path.join(BUILD, "homeportctl")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(not os.path.exists(HOMEPORTD), reason="build/homeportd missing: run make"),
]

GATEWAY_KEYS = {"state", "protocol", "address", "lan_address", "external_ip",
                "external_ip_public", "last_check_ago", "error"}
SERVICE_KEYS = {"name", "protocol", "internal_host", "internal_port", "external_port",
                "state", "via", "lease", "expires_in", "error"}
DDNS_KEYS = {"name", "provider", "hostnames", "state", "published_ip", "last_update_ago",
             "next_try_in", "error"}


@pytest.fixture
def netns():
    name = "hpd-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture
def daemon_factory(netns, tmp_path):
    made = []

    def make(main_conf, dropins=None, wrapper=None):
        d = Daemon(None, main_conf, dropins, ns=netns, wrapper=wrapper or (), dir=str(tmp_path))
        made.append(d)
        return d
    yield make
    for d in made:
        if d.proc and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


# A gateway that is never there: loopback, nothing listening.
GATEWAY = "[gateway]\nprotocol = upnp\nupnp_url = http://127.0.0.1:9/rootDesc.xml\n"
WEB = "[service:web]\nprotocol = tcp\ninternal_port = 8080\nexternal_port = 18080\n"
CAM = "[service:cam]\nprotocol = both\ninternal_port = 554\nexternal_port = 10554\n"


def test_check_mode_reports_file_and_line(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[gateway]\nlease = forever\n[service:web]\ninternal_port = 99999\n")
    p = subprocess.run([HOMEPORTD, "-n", "-c", str(conf)], capture_output=True, text=True)
    assert p.returncode == 78
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert any(l.startswith("%s:2: " % conf) for l in lines), p.stderr
    assert any(l.startswith("%s:4: " % conf) for l in lines), p.stderr


def test_usage_errors_exit_64():
    assert subprocess.run([HOMEPORTD, "--no-such-option"], capture_output=True).returncode == 64
    assert subprocess.run([HOMEPORTCTL, "frobnicate"], capture_output=True).returncode == 64
    # "re" could be refresh or reload
    assert subprocess.run([HOMEPORTCTL, "re"], capture_output=True).returncode == 64


def test_ctl_without_daemon_exits_69(tmp_path):
    p = subprocess.run([HOMEPORTCTL, "-s", str(tmp_path / "none.sock"), "status"],
                       capture_output=True, text=True)
    assert p.returncode == 69
    assert "cannot reach" in p.stderr


def test_status_has_every_spec_field(daemon_factory):
    d = daemon_factory(GATEWAY + WEB + CAM).start()
    st = d.status()
    assert st["version"] and st["pid"] > 0 and st["uptime"] >= 0
    assert GATEWAY_KEYS <= set(st["gateway"]), st["gateway"]
    assert st["gateway"]["state"] in ("searching", "unreachable")
    # a "both" service is two entries
    names = sorted((s["name"], s["protocol"]) for s in st["services"])
    assert names == [("cam", "tcp"), ("cam", "udp"), ("web", "tcp")]
    for s in st["services"]:
        assert SERVICE_KEYS <= set(s), s
        assert s["state"] == "pending"
    web = [s for s in st["services"] if s["name"] == "web"][0]
    assert web["internal_port"] == 8080 and web["external_port"] == 18080
    rc, out, _ = d.ctl("st")          # unique prefix
    assert rc == 0 and "web" in out and "SERVICE" in out
    assert d.stop() == 0


def test_status_answers_fast_with_gateway_unreachable(daemon_factory):
    d = daemon_factory(GATEWAY + WEB).start()
    # timed once the start's discovery and helper spawns are over: the gateway
    # is then unreachable and not looked for again before the 5 s backoff
    d.wait_for(lambda st: st["gateway"]["state"] == "unreachable", timeout=10)
    worst = 0.0
    for _ in range(20):
        t = time.monotonic()
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.sock)
        s.sendall(b"status\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        worst = max(worst, time.monotonic() - t)
        json.loads(data)
    assert worst < 0.1, "status took %.3f s" % worst
    d.stop()


def raw_request(sock, payload, read=True):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sock)
    s.sendall(payload)
    data = b""
    if read:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    s.close()
    return data


def test_control_rejects_garbage(daemon_factory):
    d = daemon_factory(GATEWAY + WEB).start()
    r = json.loads(raw_request(d.sock, b"frobnicate\n"))
    assert r["ok"] is False and "unknown command" in r["error"]
    r = json.loads(raw_request(d.sock, b"x" * 5000))
    assert r["ok"] is False and "too long" in r["error"]
    r = json.loads(raw_request(d.sock, b"stat\x00us\n"))
    assert r["ok"] is False
    rc, _, err = d.ctl("update", "nosuchentry")
    assert rc == 1 and "nosuchentry" in err
    # Many idle clients hold slots, yet status still answers once they time out
    # or are dropped, and the daemon never stalls.
    idle = []
    for _ in range(60):
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.sock)
        idle.append(s)
    t = time.monotonic()
    rc, out, _ = d.ctl("status", "--json")
    assert rc == 0 and json.loads(out)["pid"] > 0
    assert time.monotonic() - t < 3
    for s in idle:
        s.close()
    assert d.proc.poll() is None
    d.stop()


def test_second_instance_refused(daemon_factory, netns, tmp_path):
    d = daemon_factory(GATEWAY + WEB).start()
    p = subprocess.run(["ip", "netns", "exec", netns, HOMEPORTD, "-c", d.conf],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "another homeportd" in p.stderr
    assert d.ctl("status")[0] == 0       # the first one is unharmed
    d.stop()


def test_reload_good_then_broken(daemon_factory):
    d = daemon_factory(GATEWAY + WEB).start()
    assert [s["name"] for s in d.status()["services"]] == ["web"]
    d.dropin("cam.conf", CAM)
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: len(d.status()["services"]) == 3, 5, "the new service")
    assert len(d.status()["services"]) == 3
    # a broken drop-in: the whole new config is rejected, the old one runs on
    d.dropin("zz-bad.conf", "[service:bad]\ninternal_port = 8081\nexternal_port = 0\n")
    bad_file = os.path.join(d.dir, "conf.d", "zz-bad.conf")
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: (bad_file + ":3:") in d.logtext(), 5, "the error in the log")
    assert (bad_file + ":3:") in d.logtext()
    assert d.proc.poll() is None
    assert len(d.status()["services"]) == 3
    # the same through homeportctl: exit 1 and the FILE:LINE on stderr
    rc, _, err = d.ctl("reload")
    assert rc == 1 and (bad_file + ":3:") in err
    os.unlink(bad_file)
    rc, out, _ = d.ctl("reload")
    assert rc == 0, out
    assert d.stop() == 0


def test_sigterm_exits_zero_and_cleans_up(daemon_factory):
    d = daemon_factory(GATEWAY + WEB).start()
    t = time.monotonic()
    assert d.stop(signal.SIGTERM) == 0
    assert time.monotonic() - t < 5
    assert not os.path.exists(d.sock)


def test_log_level_at_run_time(daemon_factory):
    d = daemon_factory(GATEWAY + WEB).start()
    rc, out, _ = d.ctl("log-level", "debug")
    assert rc == 0
    rc, _, err = d.ctl("log-level", "chatty")
    assert rc == 1 and "log-level" in err
    assert "log level set to debug" in d.logtext()
    d.stop()


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind missing")
def test_no_leaks_over_100_reloads(daemon_factory):
    if "/san" in BUILD:
        pytest.skip("valgrind does not run sanitizer builds")
    d = daemon_factory(GATEWAY + WEB + CAM, wrapper=[
        "valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
        "--error-exitcode=99", "--quiet"])
    d.start()
    for i in range(100):
        rc, out, err = d.ctl("reload")
        assert rc == 0, err
    st = d.status()
    assert len(st["services"]) == 3
    assert d.stop(timeout=60) == 0, d.logtext()[-3000:]
