"""Alibaba Cloud DNS (alidns) and DNSPod (dnspod) end to end: homeportd in the bed's LAN
learns the router's external IP (real miniupnpd, NAT-PMP) and keeps records at the HTTPS
stand-in, which speaks both APIs from their documentation and checks every signature with
its own code (tests/bed/standin_cloud.py). The daemon uses the providers' built-in API
URLs (alidns.aliyuncs.com, dnspod.tencentcloudapi.com), which the bed resolves to the
stand-in; provtool drives the providers without the daemon for AAAA.

Run as root:
  HOMEPORT_BUILD=$PWD/build /usr/bin/python3 -m pytest -v tests/integration/test_clouddns.py
"""
import os
import re
import subprocess
import time

import pytest

APIS = ["alidns", "dnspod"]
WRITES = {"alidns": ("AddDomainRecord", "UpdateDomainRecord"),
          "dnspod": ("CreateRecord", "ModifyRecord")}
LOOKUP = {"alidns": "DescribeSubDomainRecords", "dnspod": "DescribeRecordList"}
QUIET = 3.0           # seconds we watch for requests that must not come


@pytest.fixture
def cbed(make_bed):
    """A router and the stand-in, no BIND."""
    return make_bed(bind=False)


def zone(bed, api):
    return bed.standin.accounts[api]["zones"][0]


def secret(bed, api):
    return next(iter(bed.standin.accounts[api]["keys"].values()))


def conf(bed, api, hosts=None, name="home", **keys):
    hosts = hosts or ["www." + zone(bed, api), zone(bed, api)]
    return bed.gateway_conf("natpmp", check_interval="10s") + \
        bed.ddns_section(name, api, hosts, **keys)


def entry(st, name="home"):
    return next(e for e in st["ddns"] if e["name"] == name)


def wait_state(d, state, name="home", timeout=20, pred=None):
    return entry(d.wait_for(lambda st: entry(st, name)["state"] == state and
                            (pred is None or pred(entry(st, name))), timeout=timeout), name)


def requests(bed, api, since=0):
    return bed.standin.log(since, api=api)


def actions(reqs):
    return [r.get("action") for r in reqs]


def check_requests(bed, api, since=0):
    """Every request was signed right, and none wrote an unchanged value."""
    reqs = requests(bed, api, since)
    for r in reqs:
        assert r.get("verified"), r
        assert not r.get("unchanged"), "an unchanged value was sent: %r" % r
        assert secret(bed, api) not in r["query_raw"] + r["body"] + str(r["headers"])
    return reqs


def assert_quiet(bed, api, since, seconds=QUIET):
    time.sleep(seconds)
    got = requests(bed, api, since)
    assert got == [], "unexpected requests: %r" % actions(got)


def assert_no_secret(bed, api, d):
    assert secret(bed, api) not in d.logtext()
    for n in os.listdir(d.state_dir):
        with open(os.path.join(d.state_dir, n), errors="replace") as f:
            assert secret(bed, api) not in f.read(), n
    rc, out, err = d.ctl("status", "--json")
    assert rc == 0 and secret(bed, api) not in out


@pytest.mark.parametrize("api", APIS)
def test_create_then_update_on_ip_change(cbed, api):
    bed, z = cbed, zone(cbed, api)
    d = bed.start_daemon(conf(bed, api))
    ip1 = bed.gw_wan_ip
    e = wait_state(d, "ok", pred=lambda e: e["published_ip"] == ip1)
    assert e["provider"] == api and e["error"] is None
    assert bed.standin.cloud_values(api, "www." + z) == [ip1]
    assert bed.standin.cloud_values(api, z) == [ip1]          # the apex, "@"
    reqs = check_requests(bed, api)
    assert actions(reqs) == [LOOKUP[api], WRITES[api][0]] * 2, actions(reqs)
    ids = sorted(r["id"] for r in bed.standin.cloud_records(api))

    mark = bed.standin.mark()
    bed.set_wan_ip("203.0.113.3")
    wait_state(d, "ok", pred=lambda e: e["published_ip"] == "203.0.113.3")
    assert bed.standin.cloud_values(api, "www." + z) == ["203.0.113.3"]
    assert bed.standin.cloud_values(api, z) == ["203.0.113.3"]
    assert sorted(r["id"] for r in bed.standin.cloud_records(api)) == ids   # changed, not added
    reqs = check_requests(bed, api, mark)
    assert actions(reqs) == [LOOKUP[api], WRITES[api][1]] * 2, actions(reqs)
    assert_quiet(bed, api, bed.standin.mark())
    assert_no_secret(bed, api, d)


@pytest.mark.parametrize("api", APIS)
def test_unchanged_address_is_never_sent(cbed, api):
    """The record already holds the address (seeded by hand): the lookup is all; a
    forced update looks again and writes nothing."""
    bed, z = cbed, zone(cbed, api)
    host = "www." + z
    bed.standin.cloud_seed(api, host, bed.gw_wan_ip)
    d = bed.start_daemon(conf(bed, api, [host]))
    wait_state(d, "ok", pred=lambda e: e["published_ip"] == bed.gw_wan_ip)
    assert actions(check_requests(bed, api)) == [LOOKUP[api]]
    mark = bed.standin.mark()
    rc, out, err = d.ctl("update", "home")
    assert rc == 0, out + err
    bed.standin.wait_log(1, since=mark, api=api)
    wait_state(d, "ok", pred=lambda e: not e.get("updating"))
    assert_quiet(bed, api, bed.standin.mark(), 1.5)
    assert actions(check_requests(bed, api, mark)) == [LOOKUP[api]]
    assert bed.standin.cloud_values(api, host) == [bed.gw_wan_ip]


@pytest.mark.parametrize("api", APIS)
def test_restart_sends_nothing(cbed, api):
    bed = cbed
    d = bed.start_daemon(conf(bed, api))
    wait_state(d, "ok", pred=lambda e: e["published_ip"] == bed.gw_wan_ip)
    mark = bed.standin.mark()
    d.restart()
    wait_state(d, "ok", pred=lambda e: e["published_ip"] == bed.gw_wan_ip)
    assert_quiet(bed, api, mark)


@pytest.mark.parametrize("api,code", [("alidns", "SignatureDoesNotMatch"),
                                      ("dnspod", "AuthFailure.SignatureFailure")])
def test_wrong_secret_is_failed(cbed, api, code):
    bed = cbed
    wrong = bed.secret_file("wrong.secret", "not-the-secret-key\n")
    d = bed.start_daemon(conf(bed, api, key_secret_file=wrong))
    e = wait_state(d, "failed")
    assert code in e["error"] and "(check key_secret_file)" in e["error"], e
    assert e["next_try_in"] is None and e["published_ip"] is None
    assert bed.standin.cloud_records(api) == []
    reqs = requests(bed, api)
    assert len(reqs) == 1 and not reqs[0].get("verified"), reqs
    assert "not-the-secret-key" not in d.logtext() + str(reqs)
    mark = bed.standin.mark()                     # failed stays failed: no more tries
    bed.set_wan_ip("203.0.113.5")
    d.wait_for(lambda s: s["gateway"]["external_ip"] == "203.0.113.5")
    assert_quiet(bed, api, mark)


@pytest.mark.parametrize("api,code", [("alidns", "InvalidAccessKeyId.NotFound"),
                                      ("dnspod", "AuthFailure.SecretIdNotFound")])
def test_unknown_key_id_is_failed(cbed, api, code):
    d = cbed.start_daemon(conf(cbed, api, key_id="LTAIunknownKeyId0000"))
    e = wait_state(d, "failed")
    assert code in e["error"] and "(check key_id)" in e["error"], e


@pytest.mark.parametrize("api,mode,code,lo,hi", [
    ("alidns", "throttle", "Throttling.User", 54, 60),
    ("dnspod", "throttle", "RequestLimitExceeded", 54, 60),
    ("alidns", "429", "HTTP 429", 250, 300),
    ("dnspod", "500", "InternalError", 1, 40),
])
def test_throttled_backs_off(cbed, api, mode, code, lo, hi):
    bed = cbed
    bed.standin.fail(mode, api=api, retry_after=300 if mode == "429" else None)
    d = bed.start_daemon(conf(bed, api))
    e = wait_state(d, "retrying")
    assert code in e["error"] or (mode == "429" and "Throttling" in e["error"]), e
    assert lo <= e["next_try_in"] <= hi, e
    assert e["published_ip"] is None
    assert len(requests(bed, api)) == 1
    assert_quiet(bed, api, 1)                     # backing off, not looping
    bed.standin.reset()                           # the provider recovers: a forced try works
    rc, out, err = d.ctl("update", "home")
    assert rc == 0, out + err
    wait_state(d, "ok", pred=lambda e: e["published_ip"] == bed.gw_wan_ip)


@pytest.mark.parametrize("api", APIS)
def test_two_records_of_one_name_fail_with_reason(cbed, api):
    bed, z = cbed, zone(cbed, api)
    host = "cam." + z
    bed.standin.cloud_seed(api, host, "198.51.100.1")
    bed.standin.cloud_seed(api, host, "198.51.100.2")
    d = bed.start_daemon(conf(bed, api, [host]))
    e = wait_state(d, "failed")
    assert re.search(r"2 A records for %s \(line [^)]+\); homeport keeps exactly one up to "
                     r"date: delete the others" % re.escape(host), e["error"]), e
    assert actions(check_requests(bed, api)) == [LOOKUP[api]]      # nothing written
    assert bed.standin.cloud_values(api, host) == ["198.51.100.1", "198.51.100.2"]


@pytest.mark.parametrize("api,code", [("alidns", "InvalidTimeStamp.Expired"),
                                      ("dnspod", "AuthFailure.SignatureExpire")])
def test_clock_skew_is_retrying_with_both_clocks(cbed, api, code):
    bed = cbed
    bed.standin.clock(-3600)                      # the server is an hour behind us
    d = bed.start_daemon(conf(bed, api))
    e = wait_state(d, "retrying")
    assert code in e["error"], e
    m = re.search(r"the server's clock says (\S+ \S+) UTC, this host's (\S+ \S+) UTC "
                  r"\((\d+) s ahead\): set this host's clock \(NTP\)", e["error"])
    assert m and 3595 <= int(m.group(3)) <= 3605, e
    assert e["next_try_in"] is not None and bed.standin.cloud_records(api) == []
    d.wait_log("refused this host's time: the server's clock says")
    bed.standin.clock(0)                          # NTP fixed it
    rc, out, err = d.ctl("update", "home")
    assert rc == 0, out + err
    wait_state(d, "ok", pred=lambda e: e["published_ip"] == bed.gw_wan_ip)


@pytest.mark.parametrize("api", APIS)
def test_new_record_is_not_created_twice_while_the_index_lags(cbed, api):
    """The API's lookups miss a new record for 30 s (DNSPod documents this): an IP
    change within that time changes the record just created instead of adding one."""
    bed, z = cbed, zone(cbed, api)
    host = "lag." + z
    bed.standin.index_lag(api, 30)
    d = bed.start_daemon(conf(bed, api, [host]))
    wait_state(d, "ok", pred=lambda e: e["published_ip"] == bed.gw_wan_ip)
    mark = bed.standin.mark()
    bed.set_wan_ip("203.0.113.7")
    wait_state(d, "ok", pred=lambda e: e["published_ip"] == "203.0.113.7")
    reqs = check_requests(bed, api, mark)
    assert actions(reqs) == [LOOKUP[api], WRITES[api][1]], actions(reqs)
    assert bed.standin.cloud_values(api, host) == ["203.0.113.7"]


@pytest.mark.parametrize("api", APIS)
def test_a_and_aaaa_records_from_the_daemon(make_bed, api):
    """records = A, AAAA on the IPv6 bed: each record type its own state machine and
    state file, both records created at the API, a restart sends nothing."""
    bed = make_bed(ipv6=True, bind=False)
    host = "www." + zone(bed, api)
    d = bed.start_daemon(conf(bed, api, [host], records="A, AAAA"))
    e = wait_state(d, "ok", pred=lambda e: e["published_ip"] == bed.gw_wan_ip and
                   e["published_ipv6"] == bed.lan6_ip)
    assert e["records"] == ["A", "AAAA"] and e["record_states"]["AAAA"]["state"] == "ok"
    assert bed.standin.cloud_values(api, host, "A") == [bed.gw_wan_ip]
    assert bed.standin.cloud_values(api, host, "AAAA") == [bed.lan6_ip]
    reqs = check_requests(bed, api)
    assert sorted(actions(reqs)) == sorted([LOOKUP[api], WRITES[api][0]] * 2), actions(reqs)
    assert os.path.exists(os.path.join(d.state_dir, "ddns6-home.json"))
    mark = bed.standin.mark()
    d.restart()
    wait_state(d, "ok", pred=lambda e: e["published_ipv6"] == bed.lan6_ip)
    assert_quiet(bed, api, mark)
    assert_no_secret(bed, api, d)


# -- without the daemon: AAAA, and the default line --------------------------------------

def provtool(bed, api, addr, *keys):
    tool = os.path.join(os.environ.get("HOMEPORT_BUILD", "build"), "tools", "provtool")
    acc = bed.standin.accounts[api]
    key_id, sec = next(iter(acc["keys"].items()))
    argv = [tool, api, addr, "key_id=" + key_id, "key_secret=" + sec,
            "zone=" + acc["zones"][0], "ca_file=" + bed.ca_file] + list(keys)
    r = bed.run("lan", argv, timeout=60)
    assert sec not in r.stdout + r.stderr
    return r


@pytest.mark.parametrize("api", APIS)
def test_aaaa_records(make_bed, api):
    bed = make_bed(upnp=False, natpmp=False, bind=False, echo=False)
    z = zone(bed, api)
    r = provtool(bed, api, "2001:db8::5", "hostname=v6." + z)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stdout + r.stderr
    assert bed.standin.cloud_values(api, "v6." + z, "AAAA") == ["2001:db8::5"]
    assert bed.standin.cloud_values(api, "v6." + z, "A") == []
    r = provtool(bed, api, "2001:db8::6", "hostname=v6." + z)
    assert r.returncode == 0, r.stdout + r.stderr
    assert bed.standin.cloud_values(api, "v6." + z, "AAAA") == ["2001:db8::6"]
    line = {"alidns": "default", "dnspod": "默认"}[api]
    assert [x["line"] for x in bed.standin.cloud_records(api)] == [line]
    check_requests(bed, api)
