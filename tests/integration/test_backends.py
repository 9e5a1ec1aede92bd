"""The UPnP and NAT-PMP backends (src/gw_upnp*.c, src/gw_natpmp.c) driven by
build/tools/gwtool: against the bed's miniupnpd, a frozen router, and a
hostile UPnP server on loopback."""
import os
import pwd
import re
import subprocess
import sys
import time

import pytest

from bed import wait_until

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("HOMEPORT_BUILD", os.path.join(REPO, "build"))
GWTOOL = os.path.join(BUILD, "tools", "gwtool")
HOSTILE = os.path.join(REPO, "tests", "tools", "hostile_upnp.py")

pytestmark = pytest.mark.skipif(not os.access(GWTOOL, os.X_OK),
                                reason="%s not built" % GWTOOL)

LINE = re.compile(r"^(\S+) (OK|ERROR|TIMEOUT|NO_IGD)\b(.*)$")


def parse(out):
    """gwtool lines -> [(step, status, {key: value}, msg)]"""
    res = []
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        rest, msg = m.group(3), ""
        if " msg=" in rest:
            rest, msg = rest.split(" msg=", 1)
        kv = dict(x.split("=", 1) for x in rest.split() if "=" in x)
        res.append((m.group(1), m.group(2), kv, msg))
    return res


def gw(bed, *args, timeout=30):
    r = bed.run("lan", [GWTOOL] + [str(a) for a in args], timeout=timeout)
    assert r.returncode >= 0, "gwtool killed by signal %d: %s" % (-r.returncode, r.stderr)
    return parse(r.stdout), r


def spawn(bed, *args, label):
    return bed.popen("lan", [GWTOOL] + [str(a) for a in args], label=label)


def wait_log(path, pattern, timeout=10):
    def seen():
        with open(path) as f:
            text = f.read()
        return text if re.search(pattern, text, re.M) else None
    return wait_until(seen, timeout, "%r in gwtool output %s" % (pattern, path))


@pytest.mark.parametrize("proto,int_port", [("tcp", 8080), ("udp", 8081)])
def test_upnp_add_get_delete(bed, proto, int_port):
    ext = 18000 + int_port
    res, r = gw(bed, "upnp", bed.upnp_url, "extip", ",", "add", proto, ext, "-", int_port,
                600, "hp-test", ",", "get", proto, ext)
    assert [x[:2] for x in res] == [("discover", "OK"), ("extip", "OK"), ("add", "OK"),
                                    ("get", "OK")], r.stdout + r.stderr
    disc = res[0][2]
    assert disc["lan"] == bed.lan_ip and disc["gateway"] == bed.gw_lan_ip
    assert disc["version"] == "2" and disc["root"] == bed.upnp_url
    assert res[1][2]["ip"] == bed.gw_wan_ip
    assert res[2][2]["confirmed"] == "1"     # miniupnpd's reply is a real AddPortMappingResponse
    entry = res[3][2]
    assert entry["client"] == bed.lan_ip and entry["port"] == str(int_port)
    assert 0 < int(entry["lease"]) <= 600
    assert any(m["proto"] == proto and m["ext_port"] == ext and m["int_port"] == int_port
               for m in bed.mappings())
    assert bed.reaches(ext, proto)

    res, r = gw(bed, "upnp", bed.upnp_url, "del", proto, ext, ",", "get", proto, ext)
    assert [x[:2] for x in res] == [("discover", "OK"), ("del", "OK"), ("get", "ERROR")]
    assert res[2][2]["code"] == "714" and res[2][3] == "UPnP 714 NoSuchEntryInArray"
    assert not any(m["ext_port"] == ext for m in bed.mappings())
    assert not bed.reaches(ext, proto)


def test_upnp_refusals_secure_mode(bed):
    res, r = gw(bed, "upnp", bed.upnp_url, "add", "tcp", 18090, bed.lan2_ip, 8080, 600,
                ",", "add", "tcp", 80, "-", 8080, 600)
    assert [x[:2] for x in res] == [("discover", "OK"), ("add", "ERROR"), ("add", "ERROR")]
    assert res[1][2]["code"] == "718" and res[1][3] == "UPnP 718 ConflictInMappingEntry"
    assert res[2][2]["code"] == "606" and res[2][3] == "UPnP 606 ActionNotAuthorized"
    assert r.returncode == 1
    assert bed.mappings() == []


def test_natpmp_map_unmap(bed):
    res, r = gw(bed, "natpmp", "auto", "extip", ",", "map", "tcp", 8080, 18080, 600,
                ",", "map", "udp", 8081, 18081, 300)
    assert [x[:2] for x in res] == [("extip", "OK"), ("map", "OK"), ("map", "OK")], r.stdout
    assert r.stdout.startswith("gateway %s\n" % bed.gw_lan_ip)
    assert res[0][2]["ip"] == bed.gw_wan_ip
    assert res[1][2]["int"] == "8080" and res[1][2]["lifetime"] == "600"
    tcp_ext = int(res[1][2]["ext"])
    assert any(m["proto"] == "tcp" and m["ext_port"] == tcp_ext and m["int_port"] == 8080
               and m["int_ip"] == bed.lan_ip for m in bed.mappings())
    assert bed.reaches(tcp_ext, "tcp")
    assert bed.reaches(int(res[2][2]["ext"]), "udp")

    res, r = gw(bed, "natpmp", bed.gw_lan_ip, "unmap", "tcp", 8080, ",", "unmap", "udp", 8081)
    assert [x[:2] for x in res] == [("unmap", "OK"), ("unmap", "OK")], r.stdout
    assert res[0][2]["lifetime"] == "0"
    assert bed.mappings() == []
    assert not bed.reaches(tcp_ext, "tcp")


def test_natpmp_no_server_is_immediate(make_bed):
    b = make_bed(natpmp=False, bind=False, standin=False)
    t = time.time()
    res, r = gw(b, "-d", 5000, "natpmp", "auto", "extip")
    assert res[0][1] == "ERROR" and res[0][3] == "no NAT-PMP on gateway %s" % b.gw_lan_ip
    assert time.time() - t < 2


def test_natpmp_announcement_on_wan_change(bed):
    p = spawn(bed, "natpmp", "auto", "listen", 10, label="gwtool-listen")
    wait_log(p.log, r"^listening$")
    new_ip = "203.0.113.3" if bed.gw_wan_ip != "203.0.113.3" else "203.0.113.4"
    bed.set_wan_ip(new_ip)
    text = wait_log(p.log, r"^announce ip=%s " % re.escape(new_ip))
    assert "announce ip=" in text
    p.kill()


def test_upnp_frozen_router_times_out_then_recovers(bed):
    p = spawn(bed, "-d", 1500, "upnp", bed.upnp_url, "sleep", 800, ",", "extip", ",",
              "sleep", 1500, ",", "extip", label="gwtool-frozen")
    wait_log(p.log, r"^discover OK")
    bed.freeze_router()
    try:
        wait_log(p.log, r"^extip TIMEOUT", timeout=6)
    finally:
        bed.thaw_router()
    p.wait(timeout=10)
    with open(p.log) as f:
        res = parse(f.read())
    steps = [x[:2] for x in res]
    assert steps == [("discover", "OK"), ("sleep", "OK"), ("extip", "TIMEOUT"),
                     ("sleep", "OK"), ("extip", "OK")], steps
    assert 1400 <= int(res[2][2]["ms"]) <= 2500
    assert res[2][3] == "timed out after 1500 ms"
    assert res[4][2]["ip"] == bed.gw_wan_ip      # a new helper reloaded the IGD
    assert p.returncode == 1                     # the timeout counts as a failure


def children(pid):
    out = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, task)) as f:
            out += [int(x) for x in f.read().split()]
    return out


def test_upnp_helper_is_confined(bed):
    p = spawn(bed, "upnp", bed.upnp_url, "sleep", 3000, label="gwtool-conf")
    wait_log(p.log, r"^discover OK")
    kids = children(p.pid)
    assert len(kids) == 1
    helper = kids[0]
    with open("/proc/%d/comm" % helper) as f:
        assert f.read().strip() == "homeport-upnp"
    assert sorted(int(x) for x in os.listdir("/proc/%d/fd" % helper)) == [0, 1, 2, 3]
    with open("/proc/%d/limits" % helper) as f:
        limit = [l for l in f if l.startswith("Max address space")][0]
    # ASan reserves terabytes of address space, so sanitizer builds skip the cap.
    asan = "libasan" in subprocess.run(["ldd", GWTOOL], capture_output=True, text=True).stdout
    assert asan or "unlimited" not in limit.split()[3]
    with open("/proc/%d/status" % helper) as f:
        uid = [l for l in f if l.startswith("Uid:")][0].split()[1:]
    try:
        nobody = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        nobody = None
    if os.geteuid() == 0 and nobody is not None:
        assert uid == [str(nobody)] * 4
    p.kill()
    p.wait()
    # the helper dies with its parent (PR_SET_PDEATHSIG)
    for _ in range(100):
        if not os.path.exists("/proc/%d" % helper):
            break
        with open("/proc/%d/stat" % helper) as f:
            if f.read().split(") ")[1].startswith("Z"):
                break
        time.sleep(0.02)
    else:
        raise AssertionError("helper %d outlived gwtool" % helper)


# -- hostile UPnP server on loopback (no namespaces needed) ---------------------------

@pytest.fixture
def hostile(request):
    procs = []

    def start(mode):
        p = subprocess.Popen([sys.executable, HOSTILE, mode], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        procs.append(p)
        line = p.stdout.readline()
        assert line.startswith("PORT "), line
        return "http://127.0.0.1:%d/rootDesc.xml" % int(line.split()[1])

    yield start
    for p in procs:
        p.kill()
        p.wait()


def run_local(*args, timeout=60):
    t = time.time()
    r = subprocess.run([GWTOOL] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode in (0, 1), "gwtool rc %d: %s" % (r.returncode, r.stderr)
    return parse(r.stdout), time.time() - t, r


# mode -> expected (step, status) list; steps: discover, extip, extip
HOSTILE_CASES = {
    "ok": [("discover", "OK"), ("extip", "OK"), ("extip", "OK")],
    "desc-garbage": [("discover", "NO_IGD")],
    "desc-trickle": [("discover", "TIMEOUT")],
    "desc-hang": [("discover", "TIMEOUT")],
    "soap-garbage": [("discover", "OK"), ("extip", "ERROR"), ("extip", "ERROR")],
    "soap-trickle": [("discover", "TIMEOUT")],     # GetStatusInfo during discovery hangs
    "soap-hang": [("discover", "TIMEOUT")],
    "soap-500": [("discover", "OK"), ("extip", "ERROR"), ("extip", "ERROR")],
    "soap-fault": [("discover", "OK"), ("extip", "ERROR"), ("extip", "ERROR")],
}


@pytest.mark.parametrize("mode", sorted(HOSTILE_CASES))
def test_upnp_hostile_server(hostile, mode):
    url = hostile(mode)
    res, took, r = run_local("-d", 1500, "upnp", url, "extip", ",", "extip")
    assert [x[:2] for x in res] == HOSTILE_CASES[mode], r.stdout + r.stderr
    for step, status, kv, msg in res:
        assert int(kv["ms"]) <= 1800, (step, kv)
        if status == "TIMEOUT":
            assert msg == "timed out after 1500 ms"
    if mode == "soap-fault":
        assert res[1][2]["code"] == "718"
    if mode == "ok":
        assert res[1][2]["ip"] == "198.51.100.7"
    assert took < 6


@pytest.mark.parametrize("mode", ["desc-huge", "soap-huge"])
def test_upnp_huge_body_is_bounded(hostile, mode):
    url = hostile(mode)
    res, took, r = run_local("-d", 3000, "upnp", url, "extip")
    assert res, r.stderr
    assert res[0][0] == "discover"
    for step, status, kv, msg in res:
        assert int(kv["ms"]) <= 3300
    assert took < 10


def test_upnp_timeout_respawns_helper_each_time(hostile):
    url = hostile("extip-hang")
    # Each hanging call gets its own full deadline, then its helper is killed;
    # the next helper reloads the IGD from the root URL by itself.
    res, took, r = run_local("-d", 800, "upnp", url, "extip", ",", "extip", ",",
                             "add", "tcp", 18080, "-", 8080, 60)
    assert [x[:2] for x in res] == [("discover", "OK"), ("extip", "TIMEOUT"),
                                    ("extip", "TIMEOUT"), ("add", "OK")], r.stdout
    for x in res[1:3]:
        assert 780 <= int(x[2]["ms"]) <= 1200
    assert 1.5 < took < 5


# mode -> (status, code, message) of one AddPortMapping. miniupnpc's own
# UPNP_AddPortMapping calls every reply without an errorCode a success; the
# helper accepts only a complete SOAP AddPortMappingResponse.
ADD_CASES = {
    "ok": ("OK", None, None),
    "add-garbage": ("ERROR", "0", "AddPortMapping: garbage reply ("),   # HTTP 200, HTML
    "add-wrong": ("ERROR", "0", "AddPortMapping: garbage reply ("),     # another response
    "soap-garbage": ("ERROR", "0", "AddPortMapping: garbage reply ("),  # random bytes
    "soap-fault": ("ERROR", "718", "UPnP 718 ConflictInMappingEntry"),
}


@pytest.mark.parametrize("mode", sorted(ADD_CASES))
def test_upnp_add_reply_is_judged(hostile, mode):
    url = hostile(mode)
    res, took, r = run_local("-d", 1500, "upnp", url, "add", "tcp", 18080, "-", 8080, 600,
                             ",", "add", "udp", 18081, "-", 8081, 0)
    status, code, msg = ADD_CASES[mode]
    assert [x[:2] for x in res] == [("discover", "OK"), ("add", status), ("add", status)], \
        r.stdout + r.stderr
    for step, st, kv, m in res[1:]:
        if status == "OK":
            assert kv["confirmed"] == "1", r.stdout
        else:
            assert "confirmed" not in kv
            assert kv["code"] == code and m.startswith(msg), r.stdout
    assert r.returncode == (0 if status == "OK" else 1)
