"""Hooks, events and metrics end to end on the bed: every event reaches an exec
hook with the right HOMEPORT_* variables (and nothing else: no other variable,
no inherited descriptor, a session of its own); an HTTP notification reaches
the stand-in with the right body and headers; a hook that hangs is killed at
its timeout with its process group while status keeps answering; a burst of
events arrives in order; a restart with nothing changed announces nothing;
`homeportctl events` follows; `homeportctl metrics` parses with the Prometheus
client's own parser and agrees with status.

Run as root:  HOMEPORT_BUILD=$PWD/build /usr/bin/python3 -m pytest -v tests/integration/test_hooks.py
"""
import json
import os
import signal
import subprocess
import time

import pytest

from bed import wait_until

RECORDER = """#!/usr/bin/python3
# A hook: appends what it was given (environment, arguments, open descriptors,
# session) as one JSON line.
import json, os, sys
fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
# as exec'd (python itself adds LC_CTYPE to os.environ in the C locale)
with open("/proc/self/environ", "rb") as f:
    env = dict(v.decode().split("=", 1) for v in f.read().split(b"\\0") if v)
rec = {"env": env, "argv": sys.argv[1:], "fds": fds,
       "own_session": os.getsid(0) == os.getpid(), "cwd": os.getcwd()}
with open(%r, "a") as f:
    f.write(json.dumps(rec) + "\\n")
"""

HOMEPORT_VARS = {"HOMEPORT_EVENT", "HOMEPORT_NAME", "HOMEPORT_IP", "HOMEPORT_OLD_IP",
                 "HOMEPORT_IPV6", "HOMEPORT_STATE", "HOMEPORT_ERROR", "HOMEPORT_HOSTNAMES",
                 "HOMEPORT_TIME", "HOMEPORT_PROTOCOL", "HOMEPORT_PORT", "HOMEPORT_SEQ"}
DYN_HOST = "www.dyn.example"


def recorder(bed, name="hook"):
    """A hook program and the file it appends to; returns (program, read())."""
    out = bed.path(name + ".jsonl")
    prog = bed.path(name + ".py")
    with open(prog, "w") as f:
        f.write(RECORDER % out)
    os.chmod(prog, 0o755)

    def read():
        if not os.path.exists(out):
            return []
        with open(out) as f:
            return [json.loads(line) for line in f if line.strip()]
    return prog, read


def events_of(records, event=None, name=None):
    return [r["env"] for r in records
            if (event is None or r["env"]["HOMEPORT_EVENT"] == event) and
            (name is None or r["env"]["HOMEPORT_NAME"] == name)]


def wait_event(read, event, name=None, pred=None, timeout=20):
    def got():
        es = [e for e in events_of(read(), event, name) if pred is None or pred(e)]
        return es[-1] if es else None
    return wait_until(got, timeout, "event %s %s in the hook's file" % (event, name or ""),
                      interval=0.05)


def metric(d, name, **labels):
    """The value of the one sample of `homeportctl metrics` named name with these labels."""
    from prometheus_client.parser import text_string_to_metric_families
    rc, text, err = d.ctl("metrics")
    assert rc == 0, err
    got = [x.value for f in text_string_to_metric_families(text) for x in f.samples
           if x.name == name and all(x.labels.get(k) == v for k, v in labels.items())]
    assert len(got) == 1, (name, labels, text)
    return got[0]


def conf(bed, *sections, protocol="upnp"):
    return bed.gateway_conf(protocol, check_interval="10s") + "".join(sections)


def test_every_event_reaches_an_exec_hook(bed):
    prog, read = recorder(bed)
    hook = "[hook:rec]\nexec = %s --event %%event%% 'for %%name%%'\ntimeout = 10s\n" % prog
    d = bed.start_daemon(conf(
        bed, bed.service_section("web", 8080, 18080),
        bed.service_section("cam", 554, 10554, internal_host=bed.lan2_ip),   # secure mode: refused
        bed.ddns_section("dyn", "dyndns2", DYN_HOST),
        bed.ddns_section("bad", "dyndns2", "bad.dyn.example", username="nobody"),  # badauth
        hook))
    ip1 = bed.gw_wan_ip

    found = wait_event(read, "gateway-found")
    assert found["HOMEPORT_NAME"] == bed.gw_lan_ip and found["HOMEPORT_STATE"] == "ok"
    ok = wait_event(read, "mapping-ok", "web")
    assert (ok["HOMEPORT_PROTOCOL"], ok["HOMEPORT_PORT"], ok["HOMEPORT_STATE"]) == \
        ("tcp", "18080", "mapped")
    failed = wait_event(read, "mapping-failed", "cam")
    assert failed["HOMEPORT_STATE"] == "refused" and "718" in failed["HOMEPORT_ERROR"]
    ipc = wait_event(read, "ip-change")
    assert (ipc["HOMEPORT_IP"], ipc["HOMEPORT_OLD_IP"], ipc["HOMEPORT_STATE"]) == \
        (ip1, "", "public")
    dok = wait_event(read, "ddns-ok", "dyn")
    assert (dok["HOMEPORT_IP"], dok["HOMEPORT_HOSTNAMES"], dok["HOMEPORT_STATE"]) == \
        (ip1, DYN_HOST, "ok")
    dfail = wait_event(read, "ddns-failed", "bad")
    assert dfail["HOMEPORT_STATE"] == "failed" and "badauth" in dfail["HOMEPORT_ERROR"]
    assert dfail["HOMEPORT_HOSTNAMES"] == "bad.dyn.example"

    # the router drops the mapping: found at the next verification, made again
    n_ok = len(events_of(read(), "mapping-ok", "web"))
    assert bed.upnpc("-d", 18080, "tcp").returncode == 0
    assert d.ctl("refresh")[0] == 0
    lost = wait_event(read, "mapping-lost", "web")
    assert lost["HOMEPORT_STATE"] == "pending" and "714" in lost["HOMEPORT_ERROR"]
    wait_until(lambda: len(events_of(read(), "mapping-ok", "web")) > n_ok, 15,
               "mapping-ok again after mapping-lost")
    assert wait_until(lambda: bed.reaches(18080, "tcp"), 10, "the mapping back")

    # a new WAN address: ip-change with the old one, then ddns-ok with both
    bed.set_wan_ip("203.0.113.3")
    assert d.ctl("refresh")[0] == 0
    ipc = wait_event(read, "ip-change", pred=lambda e: e["HOMEPORT_IP"] == "203.0.113.3")
    assert ipc["HOMEPORT_OLD_IP"] == ip1
    dok = wait_event(read, "ddns-ok", "dyn", pred=lambda e: e["HOMEPORT_IP"] == "203.0.113.3")
    assert dok["HOMEPORT_OLD_IP"] == ip1

    # the router goes away: gateway-lost once it cannot be found
    bed.stop_router()
    assert d.ctl("refresh")[0] == 0
    gone = wait_event(read, "gateway-lost", timeout=40)
    assert gone["HOMEPORT_STATE"] == "unreachable" and gone["HOMEPORT_ERROR"]
    assert gone["HOMEPORT_NAME"] == bed.gw_lan_ip

    records = read()
    seen = {r["env"]["HOMEPORT_EVENT"] for r in records}
    assert seen == {"gateway-found", "gateway-lost", "ip-change", "mapping-ok", "mapping-lost",
                    "mapping-failed", "ddns-ok", "ddns-failed"}
    seqs = [int(r["env"]["HOMEPORT_SEQ"]) for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    for r in records:
        # a clean environment: PATH and the HOMEPORT_* variables, all of them, nothing more
        assert set(r["env"]) == HOMEPORT_VARS | {"PATH"}, sorted(r["env"])
        assert r["env"]["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        assert r["argv"] == ["--event", r["env"]["HOMEPORT_EVENT"],
                             "for " + r["env"]["HOMEPORT_NAME"]]
        assert r["fds"][:3] == [0, 1, 2] and len(r["fds"]) <= 4, r["fds"]  # + listdir's own
        assert r["own_session"] and r["cwd"] == "/"
        assert r["env"]["HOMEPORT_TIME"].endswith("Z")
    # each change once: one ddns-failed however often "bad" is retried or forced.
    # The daemon counts the failed update and the event it announces (if any)
    # in the same step: once the forced update counted as failed, no event.
    failed_before = metric(d, "homeport_ddns_update_failures_total", entry="bad")
    events_before = metric(d, "homeport_events_total", event="ddns-failed")
    assert d.ctl("update", "bad")[0] == 0
    wait_until(lambda: metric(d, "homeport_ddns_update_failures_total", entry="bad") >
               failed_before, 15, "the forced update to fail")
    assert metric(d, "homeport_events_total", event="ddns-failed") == events_before
    assert len(events_of(read(), "ddns-failed", "bad")) == 1
    assert "dynpass" not in json.dumps(read())      # children never see a secret
    d.stop()


def test_http_notification_reaches_the_standin(bed):
    headers = bed.secret_file("push.headers", "Authorization: Bearer hook-secret-token\n")
    hook = ("[hook:push]\nevents = ip-change, ddns-ok\n"
            "url = %s/webhook/notify?ev=%%event%%&name=%%name%%\n"
            "header = X-Title: homeport %%event%% for %%hostnames%%\n"
            "header_file = %s\n"
            'body = {"text": "%%event%% %%name%% %%ip%%", "old": "%%old_ip%%", "hosts": "%%hostnames%%"}\n'
            "ca_file = %s\n" % (bed.standin_url, headers, bed.ca_file))
    d = bed.start_daemon(conf(bed, bed.ddns_section("dyn", "dyndns2", [DYN_HOST, "cam.dyn.example"]),
                              hook, protocol="natpmp"))
    ip1 = bed.gw_wan_ip
    reqs = bed.standin.wait_log(2, api="webhook", timeout=20)
    by_event = {r["query"]["ev"]: r for r in reqs}
    assert set(by_event) == {"ip-change", "ddns-ok"}, [r["query_raw"] for r in reqs]
    r = by_event["ddns-ok"]
    assert r["method"] == "POST" and r["path"] == "/webhook/notify"
    assert r["query"]["name"] == "dyn"
    assert json.loads(r["body"]) == {"text": "ddns-ok dyn %s" % ip1, "old": "",
                                     "hosts": "%s cam.dyn.example" % DYN_HOST}
    assert r["headers"]["Content-Type"] == "application/json"
    assert r["headers"]["Authorization"] == "Bearer hook-secret-token"
    assert r["headers"]["X-Title"] == "homeport ddns-ok for %s cam.dyn.example" % DYN_HOST
    # the URL's values are percent-encoded: an empty name stays an empty parameter
    assert "ev=ip-change&name=" in by_event["ip-change"]["query_raw"]
    assert json.loads(by_event["ip-change"]["body"])["text"] == "ip-change  %s" % ip1

    # a failing endpoint is a failed run, logged with the HTTP status; the secret is not
    # (first the replies must be home: the new WAN address cuts NATed connections)
    d.wait_log("hook push (ddns-ok): HTTP 200")
    mark = bed.standin.mark()
    bed.standin.webhook_reply(status=503, body="down")
    bed.set_wan_ip("203.0.113.3")
    bed.standin.wait_log(2, since=mark, api="webhook", timeout=20)
    d.wait_log("hook push (ddns-ok): failed: HTTP 503")
    assert "hook-secret-token" not in d.logtext(current=False)
    rc, out, _ = d.ctl("metrics")
    assert rc == 0 and 'homeport_hook_failures_total{hook="push"} 2' in out, out
    d.stop()


HANGER = """#!/bin/sh
# The first run hangs with a child of its own; later ones record and return.
if [ ! -e %(flag)s ]; then
    : > %(flag)s
    sleep 1000 &
    echo "$$ $!" > %(pids)s
    echo "hanging on $HOMEPORT_EVENT"
    sleep 1000
fi
echo "$HOMEPORT_SEQ $HOMEPORT_EVENT" >> %(done)s
"""


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_hanging_hook_is_killed_at_its_timeout(bed):
    paths = {k: bed.path("hang." + k) for k in ("flag", "pids", "done")}
    prog = bed.path("hang.sh")
    with open(prog, "w") as f:
        f.write(HANGER % paths)
    os.chmod(prog, 0o755)
    d = bed.start_daemon(conf(bed, bed.service_section("web", 8080, 18080),
                              "[hook:hang]\nexec = %s\ntimeout = 3s\n" % prog))
    wait_until(lambda: os.path.exists(paths["pids"]) and open(paths["pids"]).read().strip(),
               15, "the hook to start")
    pids = [int(p) for p in open(paths["pids"]).read().split()]
    assert all(_alive(p) for p in pids)
    # while it hangs, the daemon answers and does its work
    for _ in range(10):
        assert d.ctl("status")[0] == 0
    d.wait_for(lambda s: s["services"][0]["state"] == "mapped", timeout=15)
    d.wait_log("hook hang (gateway-found): killed at its timeout of 3 s", timeout=15)
    d.wait_log("hook hang: | hanging on gateway-found")
    wait_until(lambda: not any(_alive(p) for p in pids), 5, "the hook's process group gone")
    # the queue goes on, in order
    wait_until(lambda: os.path.exists(paths["done"]) and
               len(open(paths["done"]).read().split("\n")) >= 3, 15, "the next runs")
    seqs = [int(l.split()[0]) for l in open(paths["done"]).read().split("\n") if l]
    assert seqs == sorted(seqs) and seqs[0] == 2, seqs
    rc, out, _ = d.ctl("metrics")
    assert 'homeport_hook_failures_total{hook="hang"} 1' in out
    d.stop()


def test_burst_of_events_in_order_or_drop_logged(bed):
    prog, read = recorder(bed, "burst")
    n = 100
    services = "".join(bed.service_section("s%03d" % i, 20000 + i, 20000 + i) for i in range(n))
    d = bed.start_daemon(conf(bed, services, "[hook:rec]\nexec = %s\nevents = mapping-ok\n" % prog,
                              protocol="natpmp"))
    d.wait_for(lambda s: all(x["state"] == "mapped" for x in s["services"]), timeout=60)

    def settled():
        got = read()
        return got if len(got) >= n or "oldest event" in d.logtext() else None
    wait_until(settled, 120, "the burst delivered")
    got = [int(r["env"]["HOMEPORT_SEQ"]) for r in read()]
    assert got == sorted(got) and len(set(got)) == len(got), got
    names = [r["env"]["HOMEPORT_NAME"] for r in read()]
    if len(got) < n:
        dropped = sum(int(l.split("was full: ")[1].split()[0])
                      for l in d.logtext().splitlines() if "was full: " in l)
        assert dropped == n - len(got), (dropped, len(got))
    else:
        assert sorted(names) == ["s%03d" % i for i in range(n)]
    d.stop()


def test_restart_with_nothing_changed_announces_nothing(bed):
    prog, read = recorder(bed)
    d = bed.start_daemon(conf(bed, bed.service_section("web", 8080, 18080),
                              bed.ddns_section("dyn", "dyndns2", DYN_HOST),
                              "[hook:rec]\nexec = %s\n" % prog, protocol="natpmp"))
    wait_event(read, "ddns-ok", "dyn")
    wait_event(read, "mapping-ok", "web")
    before = len(read())
    assert os.path.exists(os.path.join(d.state_dir, "events.json"))
    d.restart()
    d.wait_for(lambda s: s["services"][0]["state"] == "mapped" and s["ddns"][0]["state"] == "ok"
               and s["gateway"]["external_ip"] is not None, timeout=15)
    time.sleep(3)
    assert len(read()) == before, [r["env"]["HOMEPORT_EVENT"] for r in read()[before:]]
    # what changed while it was down is told once
    d.stop()
    bed.set_wan_ip("203.0.113.3")
    d.start()
    ipc = wait_event(read, "ip-change", pred=lambda e: e["HOMEPORT_IP"] == "203.0.113.3")
    assert ipc["HOMEPORT_OLD_IP"] == "203.0.113.2"
    d.stop()


def test_reload_applies_hooks_and_rejects_bad_ones(bed):
    prog_a, read_a = recorder(bed, "a")
    prog_b, read_b = recorder(bed, "b")
    base = conf(bed, bed.service_section("web", 8080, 18080), protocol="natpmp")
    d = bed.start_daemon(base + "[hook:a]\nexec = %s\n" % prog_a)
    wait_event(read_a, "mapping-ok", "web")
    # a hook with an error: the whole reload is refused, hook a goes on
    d.write_conf(base + "[hook:a]\nexec = %s\n[hook:b]\nexec = %s $HOME\n" % (prog_a, prog_b))
    rc, _, err = d.ctl("reload")
    assert rc == 1 and "exec: '$' would need a shell" in err
    d.write_conf(base + "[hook:b]\nexec = %s\nevents = ip-change\n" % prog_b)
    assert d.ctl("reload")[0] == 0
    n_a = len(read_a())
    bed.set_wan_ip("203.0.113.3")
    wait_event(read_b, "ip-change", pred=lambda e: e["HOMEPORT_IP"] == "203.0.113.3")
    time.sleep(1)
    assert len(read_a()) == n_a                      # removed: told nothing more
    assert {e["HOMEPORT_EVENT"] for e in events_of(read_b())} == {"ip-change"}
    d.stop()


def test_homeportctl_events_follows(bed):
    d = bed.start_daemon(conf(bed, bed.service_section("web", 8080, 18080), protocol="natpmp"))
    d.wait_for(lambda s: s["services"][0]["state"] == "mapped", timeout=15)
    # the first address announced (it settles for a second first)
    wait_until(lambda: 'homeport_events_total{event="ip-change"} 1' in d.ctl("metrics")[1], 10,
               "the first ip-change")
    out = open(bed.path("events.out"), "w+")
    p = subprocess.Popen(["ip", "netns", "exec", bed.nsname("lan"), d.homeportctl, "-s", d.sock,
                          "events"], stdout=out, stderr=subprocess.STDOUT)
    try:
        # registered: from now on no event can be missed
        d.wait_log("events: a client follows", timeout=15)
        bed.set_wan_ip("203.0.113.3")

        def got():
            out.seek(0)
            lines = [json.loads(l) for l in out.read().splitlines() if l.startswith("{")]
            return [e for e in lines if e["event"] == "ip-change"]
        ev = wait_until(got, 15, "ip-change on homeportctl events")[0]
        assert ev["ip"] == "203.0.113.3" and ev["old_ip"] == "203.0.113.2"
        assert ev["name"] is None and ev["hostnames"] == [] and isinstance(ev["seq"], int)
        assert d.ctl("status")[0] == 0
        p.send_signal(signal.SIGINT)
        assert p.wait(5) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    # a follower that goes away is forgotten; the daemon goes on
    assert d.ctl("status")[0] == 0
    d.stop()


def test_metrics_parse_and_match_status(bed):
    from prometheus_client.parser import text_string_to_metric_families
    d = bed.start_daemon(conf(bed, bed.service_section("web", 8080, 18080, protocol="both"),
                              bed.service_section("cam", 554, 10554, internal_host=bed.lan2_ip),
                              bed.ddns_section("dyn", "dyndns2", DYN_HOST),
                              "[hook:noop]\nexec = /bin/true\n"))
    st = d.wait_for(lambda s: s["ddns"][0]["state"] == "ok" and
                    all(x["state"] in ("mapped", "refused") for x in s["services"]), timeout=20)
    rc, text, err = d.ctl("metrics")
    assert rc == 0, err
    st = d.status()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    for f in fams.values():
        assert f.name.startswith("homeport_") and f.documentation and f.type in ("gauge", "counter")

    def samples(metric, **labels):
        fam = fams[metric[:-len("_total")] if metric.endswith("_total") else metric]
        return [s for s in fam.samples
                if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(metric, **labels):
        got = samples(metric, **labels)
        assert len(got) == 1, (metric, labels, got)
        return got[0].value

    assert value("homeport_gateway_state", state=st["gateway"]["state"]) == 1
    assert sum(s.value for s in samples("homeport_gateway_state")) == 1
    assert value("homeport_external_ip_info", ip=st["gateway"]["external_ip"], public="true") == 1
    assert value("homeport_gateway_info", address=st["gateway"]["address"],
                 protocol=st["gateway"]["protocol"]) == 1
    for s in st["services"]:
        lab = dict(service=s["name"], protocol=s["protocol"], family="ipv4")
        assert value("homeport_service_state", state=s["state"], **lab) == 1
        assert sum(x.value for x in samples("homeport_service_state", **lab)) == 1
        if s["expires_in"] is None:
            assert samples("homeport_service_lease_expiry_seconds", **lab) == []
        else:
            assert abs(value("homeport_service_lease_expiry_seconds", **lab) - s["expires_in"]) <= 5
    assert len([x for x in samples("homeport_service_state", state="mapped") if x.value]) == 2
    for e in st["ddns"]:
        assert value("homeport_ddns_state", entry=e["name"], state=e["state"],
                     provider=e["provider"]) == 1
        assert value("homeport_ddns_updates_total", entry=e["name"]) >= 1
        assert value("homeport_ddns_update_failures_total", entry=e["name"]) == 0
        assert abs(value("homeport_ddns_last_update_timestamp_seconds", entry=e["name"]) -
                   (time.time() - e["last_update_ago"])) <= 5
    assert value("homeport_events_total", event="ddns-ok") == 1
    assert value("homeport_events_total", event="mapping-failed") == 1
    assert value("homeport_last_change_timestamp_seconds", kind="ddns", name="dyn") > 1e9
    assert value("homeport_last_change_timestamp_seconds", kind="mapping", name="web/udp") > 1e9
    assert value("homeport_hook_runs_total", hook="noop") >= 1
    assert value("homeport_hook_failures_total", hook="noop") == 0
    d.stop()
