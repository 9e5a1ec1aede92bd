"""Secrets (SPEC "Who may do what"): a webhook's credential headers come from a
header_file and reach the provider (the HTTPS stand-in logs every request with its
headers), but never the daemon's log, its status or `homeportd -nv`; a secret file
that is a FIFO is refused at once, also on reload, where the daemon keeps its old
configuration and keeps answering instead of waiting for a writer.

Run as root:  HOMEPORT_BUILD=$PWD/build python3 -m pytest -v tests/integration/test_secrets.py
"""
import os
import signal
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("HOMEPORT_BUILD", os.path.join(REPO, "build"))
HOMEPORTD = os.path.join(BUILD, "homeportd")

pytestmark = pytest.mark.skipif(not os.path.exists(HOMEPORTD),
                                reason="build/homeportd missing: run make")

HOST = "a.hook.example"
HEADERS = "X-Api-Key: hook-key-secret\r\n\nAuthorization: Bearer hook-bearer-secret\n"
SECRETS = ("hook-key-secret", "hook-bearer-secret", "query-secret")


def conf(bed, **keys):
    return (bed.gateway_conf("natpmp", check_interval="10s") +
            bed.ddns_section("hook", "webhook", HOST, **keys))


def hook_ok(st):
    return st["ddns"] and st["ddns"][0]["state"] == "ok"


def test_header_file_reaches_the_provider_and_nothing_else(bed):
    path = bed.secret_file("hook.headers", HEADERS)
    url = bed.standin_url + "/webhook?ip=%ip%&hostname=%hostname%&key=query-secret"
    mark = bed.standin.mark()
    d = bed.start_daemon(conf(bed, url=url, header="X-Source: homeport", header_file=path))
    d.wait_for(hook_ok, timeout=15)
    reqs = bed.standin.log(mark, api="webhook")
    assert len(reqs) == 1, reqs
    h = reqs[0]["headers"]
    assert h["X-Api-Key"] == "hook-key-secret"
    assert h["Authorization"] == "Bearer hook-bearer-secret"
    assert h["X-Source"] == "homeport"
    assert bed.standin.ip_of(HOST) == bed.gw_wan_ip

    rc, out, err = d.ctl("status", "--json")
    assert rc == 0, out + err
    nv = subprocess.run([HOMEPORTD, "-nv", "-c", d.conf], capture_output=True, text=True)
    assert nv.returncode == 0, nv.stderr
    assert "header_file     = %s ; <redacted>" % path in nv.stdout
    assert "X-Source: <redacted>" in nv.stdout and "key=" not in nv.stdout
    for s in SECRETS:
        assert s not in d.logtext(current=False), s
        assert s not in out + err, s
        assert s not in nv.stdout + nv.stderr, s


def test_fifo_secret_is_refused_not_waited_on(bed):
    path = bed.secret_file("hook.headers", HEADERS)
    d = bed.start_daemon(conf(bed, header_file=path))
    d.wait_for(hook_ok, timeout=15)
    fifo = bed.path("secrets", "fifo.headers")
    os.mkfifo(fifo, 0o600)                       # nobody ever writes to it
    d.write_conf(conf(bed, header_file=fifo))
    d.signal(signal.SIGHUP)
    d.wait_log("fifo.headers is not a regular file")
    st = d.status()                              # the loop still runs, old config kept
    assert hook_ok(st), st
    rc, out, err = d.ctl("reload")
    assert rc != 0 and "not a regular file" in out + err, (rc, out, err)
    assert d.running()
