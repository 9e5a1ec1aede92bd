"""RFC 2136 against a real PowerDNS 4.7 (sqlite3 backend, dnsupdate=yes, the
bed's TSIG key allowed through TSIG-ALLOW-DNSUPDATE metadata), beside BIND.

PowerDNS answers an update signed with a key it does not accept with a REFUSED
that carries no TSIG signature. Anyone on the path could send that, so it is
never taken as an answer that stops the entry: the attempt ends after a short
grace, status says what the server answered, and the entry backs off like after
any temporary error (`retrying`). With the right key the update lands and dig
answers."""
import os

import pytest

TOOL = os.path.join(os.environ.get("HOMEPORT_BUILD", os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build")),
    "tools", "rfc2136tool")
WRONG = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
SENTENCE = ("server answered REFUSED without a TSIG signature: wrong key, or the server "
            "does not allow this key/address")


def tool(bed, ip, name, key=None, secret=None):
    r = bed.run("lan", [TOOL, "-t", "20", bed.pdns_server, bed.zone, key or bed.key_name,
                        bed.key_algorithm, secret or bed.key_secret, ip, name], timeout=60)
    assert r.returncode in (0, 1, 2), r.stdout + r.stderr
    return r


@pytest.mark.skipif(not os.access(TOOL, os.X_OK), reason="%s not built" % TOOL)
def test_provider_against_powerdns(make_bed):
    bed = make_bed(upnp=False, natpmp=False, standin=False, echo=False, pdns=True)
    name = "www." + bed.zone
    for key, secret in ((None, WRONG), ("nobody-key", None)):
        r = tool(bed, "203.0.113.40", name, key=key, secret=secret)
        assert r.returncode == 1, r.stdout
        assert r.stdout.startswith("tempfail: ") and SENTENCE in r.stdout, r.stdout
        assert bed.pdns_server in r.stdout
    assert bed.dig(name, port=bed.pdns_port) == []
    r = tool(bed, "203.0.113.41", name)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stdout
    assert bed.dig(name, port=bed.pdns_port) == ["203.0.113.41"]
    assert bed.dig(name) == []                       # BIND beside it is untouched


def test_daemon_wrong_key_retries_then_right_key_publishes(make_bed):
    bed = make_bed(standin=False, pdns=True)
    name = "www." + bed.zone
    wrong = bed.secret_file("pdns-wrong.secret", WRONG + "\n")
    section = bed.ddns_section("pdns", "rfc2136", [name], server=bed.pdns_server, ttl=60,
                               timeout="20s")
    d = bed.start_daemon(bed.gateway_conf("upnp") +
                         section.replace(os.path.join(bed.tmp, "secrets", "tsig.secret"), wrong))
    st = d.wait_for(lambda s: s["ddns"][0]["state"] == "retrying", timeout=30)
    e = st["ddns"][0]
    assert SENTENCE in e["error"], e
    assert 25 <= e["next_try_in"] <= 35, e          # the first backoff step, 30 s +-10 %
    assert e["published_ip"] is None
    assert "ddns pdns: pending -> retrying" in d.logtext()
    assert "-> failed" not in d.logtext()
    assert bed.dig(name, port=bed.pdns_port) == []
    # the right key: the update lands
    d.write_conf(bed.gateway_conf("upnp") + section)
    rc, out, err = d.ctl("reload")
    assert rc == 0, out + err
    d.wait_for(lambda s: s["ddns"][0]["state"] == "ok"
               and s["ddns"][0]["published_ip"] == bed.gw_wan_ip, timeout=20)
    assert bed.dig(name, port=bed.pdns_port) == [bed.gw_wan_ip]
