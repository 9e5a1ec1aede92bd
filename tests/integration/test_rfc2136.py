"""The rfc2136 provider (src/provider_rfc2136.c, src/tsig.c, src/dns_msg.c)
driven by build/tools/rfc2136tool against the bed's real BIND 9 with its
TSIG key: updates land and replace, names the server refuses in a signed reply
fail permanently, wrong keys (answered unsigned, so forgeable) and dead or
silent servers fail temporarily within the timeout, a truncated UDP reply
moves the update to TCP."""
import os
import re
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("HOMEPORT_BUILD", os.path.join(REPO, "build"))
TOOL = os.path.join(BUILD, "tools", "rfc2136tool")

pytestmark = pytest.mark.skipif(not os.access(TOOL, os.X_OK), reason="%s not built" % TOOL)

BED_OPTS = dict(upnp=False, natpmp=False, standin=False, echo=False)

# In wan: answers every UDP query on PORT with its header, QR and TC set (a
# truncated reply, no TSIG), and relays TCP on PORT to BIND, counting
# connections in the log. Forces the provider's fall-back to TCP.
TC_RELAY = r'''
import socket, sys, threading
ip, port, bind_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((ip, port))
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind((ip, port)); t.listen(4)
print("ready", flush=True)
def udp():
    while True:
        q, peer = u.recvfrom(4096)
        print("udp query", len(q), flush=True)
        if len(q) >= 12:
            u.sendto(q[:2] + bytes([q[2] | 0x82, 0]) + b"\0\0\0\0\0\0\0\0", peer)
def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        try: b.shutdown(socket.SHUT_WR)
        except OSError: pass
threading.Thread(target=udp, daemon=True).start()
while True:
    c, _ = t.accept()
    print("tcp connection", flush=True)
    s = socket.create_connection((ip, bind_port))
    threading.Thread(target=pump, args=(c, s), daemon=True).start()
    threading.Thread(target=pump, args=(s, c), daemon=True).start()
'''

# In wan: a UDP socket that reads and never answers (a hanging server).
SILENT = r'''
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
n = 0
while True:
    u.recvfrom(4096); n += 1
    print("query", n, flush=True)
'''


@pytest.fixture
def dns(make_bed):
    return make_bed(**BED_OPTS)


def tool(bed, *args, server=None, secret=None, key=None, alg=None, zone=None, timeout=None,
         ttl=None):
    argv = [TOOL]
    if timeout is not None:
        argv += ["-t", str(timeout)]
    if ttl is not None:
        argv += ["-T", str(ttl)]
    argv += [server or bed.dns_server, zone or bed.zone, key or bed.key_name,
             alg or bed.key_algorithm, secret or bed.key_secret] + list(args)
    t0 = time.monotonic()
    r = bed.run("lan", argv, timeout=60)
    r.elapsed = time.monotonic() - t0
    assert r.returncode in (0, 1, 2), "rfc2136tool died (%d): %s %s" % (
        r.returncode, r.stdout, r.stderr)
    assert bed.key_secret not in r.stdout + r.stderr
    return r


def fqdn(bed, host):
    return "%s.%s" % (host, bed.zone)


def wait_ready(p, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        with open(p.log) as f:
            if "ready" in f.read():
                return
        assert p.poll() is None, open(p.log).read()
        time.sleep(0.02)
    raise AssertionError("helper not ready: " + open(p.log).read())


def test_update_then_dig(dns):
    r = tool(dns, "203.0.113.50", fqdn(dns, "www"))
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stdout + r.stderr
    assert dns.dig(fqdn(dns, "www")) == ["203.0.113.50"]
    assert r.elapsed < 2, r.elapsed


def test_second_update_replaces(dns):
    name = fqdn(dns, "www")
    assert tool(dns, "203.0.113.50", name, ttl=60).returncode == 0
    # a stale extra record must go too: the provider replaces the whole RRset
    p = dns.nsupdate("update add %s 60 A 198.51.100.99" % name)
    assert p.returncode == 0, p.stderr
    assert sorted(dns.dig(name)) == ["198.51.100.99", "203.0.113.50"]
    r = tool(dns, "203.0.113.51", name, ttl=60)
    assert r.returncode == 0, r.stdout
    assert dns.dig(name) == ["203.0.113.51"]
    # the TTL asked for is the TTL served
    t = dns.run("wan", ["dig", "+noall", "+answer", "-p", str(dns.dns_port),
                        "@" + dns.wan_ip, name, "A"])
    assert re.search(r"\s60\s+IN\s+A\s+203\.0\.113\.51", t.stdout), t.stdout


def serial(bed):
    return int(bed.dig(bed.zone, "SOA")[0].split()[2])


def test_several_hostnames_one_update(dns):
    names = [fqdn(dns, h) for h in ("www", "cam", "nas")] + [dns.zone]
    before = serial(dns)
    r = tool(dns, "203.0.113.60", *names)
    assert r.returncode == 0, r.stdout
    for n in names:
        assert dns.dig(n) == ["203.0.113.60"], n
    # one UPDATE message for all: BIND bumps the zone serial once per update
    assert serial(dns) == before + 1


def test_ipv6_address_publishes_aaaa(dns):
    name = fqdn(dns, "v6")
    assert tool(dns, "203.0.113.61", name).returncode == 0
    r = tool(dns, "2001:db8::61", name)
    assert r.returncode == 0, r.stdout
    assert dns.dig(name, "AAAA") == ["2001:db8::61"]
    assert dns.dig(name, "A") == ["203.0.113.61"]       # the other family is left alone


# BIND answers a wrong key with an unsigned BADSIG/BADKEY (RFC 8945 5.2): anyone
# on the path could send that, so it must not stop the entry for good.
UNSIGNED = "without a TSIG signature: wrong key, or the server does not allow this key/address"


def test_wrong_secret_is_temporary(dns):
    bad = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    r = tool(dns, "203.0.113.52", fqdn(dns, "www"), secret=bad, timeout=20)
    assert r.returncode == 1, r.stdout
    assert r.stdout.startswith("tempfail: ")
    assert "server answered BADSIG " + UNSIGNED in r.stdout and dns.wan_ip in r.stdout, r.stdout
    assert r.elapsed < 20, r.elapsed       # ended after a short grace, not at the deadline
    assert bad not in r.stdout + r.stderr
    assert dns.dig(fqdn(dns, "www")) == []


def test_unknown_key_is_temporary(dns):
    r = tool(dns, "203.0.113.52", fqdn(dns, "www"), key="nobody-key")
    assert r.returncode == 1, r.stdout
    assert "server answered BADKEY " + UNSIGNED in r.stdout, r.stdout
    r = tool(dns, "203.0.113.52", fqdn(dns, "www"), alg="hmac-sha512")
    assert r.returncode == 1 and "BADKEY" in r.stdout, r.stdout


def test_hostname_outside_zone(dns):
    r = tool(dns, "203.0.113.53", "www.elsewhere.example")
    assert r.returncode == 2, r.stdout
    assert "not inside zone" in r.stdout, r.stdout
    assert r.elapsed < 1
    # a zone the server does not serve: it says so, permanently
    r = tool(dns, "203.0.113.53", "www.elsewhere.example", zone="elsewhere.example")
    assert r.returncode == 2, r.stdout
    assert re.search(r"NOTAUTH|NOTZONE|REFUSED", r.stdout), r.stdout


def test_server_not_listening(dns):
    r = tool(dns, "203.0.113.54", fqdn(dns, "www"), server="%s:5399" % dns.wan_ip, timeout=3)
    assert r.returncode == 1, r.stdout
    assert r.stdout.startswith("tempfail: ")
    assert "5399" in r.stdout, r.stdout
    assert r.elapsed < 3.5, r.elapsed


def test_silent_server_times_out(dns):
    p = dns.popen("wan", [sys.executable, "-c", SILENT, dns.wan_ip, "5398"], label="silent")
    wait_ready(p)
    r = tool(dns, "203.0.113.55", fqdn(dns, "www"), server="%s:5398" % dns.wan_ip, timeout=2)
    assert r.returncode == 1, r.stdout
    assert "no reply from %s:5398 within 2 s" % dns.wan_ip in r.stdout, r.stdout
    assert 1.9 <= r.elapsed < 3.0, r.elapsed
    with open(p.log) as f:
        assert f.read().count("query") >= 2        # retransmitted within the deadline


def test_truncated_reply_falls_back_to_tcp(dns):
    p = dns.popen("wan", [sys.executable, "-c", TC_RELAY, dns.wan_ip, "5397",
                          str(dns.dns_port)], label="tcrelay")
    wait_ready(p)
    r = tool(dns, "203.0.113.56", fqdn(dns, "tcp"), server="%s:5397" % dns.wan_ip, timeout=5)
    assert r.returncode == 0, r.stdout + r.stderr
    assert dns.dig(fqdn(dns, "tcp")) == ["203.0.113.56"]
    with open(p.log) as f:
        log = f.read()
    assert "udp query" in log and "tcp connection" in log, log


def test_big_update_goes_tcp(dns):
    # 30 names do not fit in a 512-byte datagram: TCP from the start
    names = [fqdn(dns, "host-with-a-longer-name-%02d" % i) for i in range(30)]
    r = tool(dns, "203.0.113.57", *names)
    assert r.returncode == 0, r.stdout
    assert dns.dig(names[0]) == ["203.0.113.57"]
    assert dns.dig(names[-1]) == ["203.0.113.57"]


def test_key_file_as_tsig_keygen_writes_it(dns):
    path = os.path.join(dns.tmp, "tool-tsig.key")
    with open(path, "w") as f:
        f.write('# made by tsig-keygen\nkey "%s" {\n\talgorithm %s;\n\tsecret "%s";\n};\n'
                % (dns.key_name, dns.key_algorithm, dns.key_secret))
    os.chmod(path, 0o600)
    r = tool(dns, "203.0.113.58", fqdn(dns, "kf"), key="-", alg="-", secret="@" + path)
    assert r.returncode == 0, r.stdout
    assert dns.dig(fqdn(dns, "kf")) == ["203.0.113.58"]
