"""The homeport test bed: a small internet in network namespaces.

    wan   the internet: BIND 9, the HTTPS provider stand-in, a STUN responder,
          optionally PowerDNS (sqlite3 backend, DNS UPDATE with TSIG)
    gw    the router: miniupnpd (nftables backend), UPnP IGD and/or NAT-PMP
    lan   the LAN host where homeportd runs; a TCP+UDP echo service
    lan2  a second LAN host (a "camera") for mappings made for another host

With ipv6=True, IPv6 is routed (no NAT66) beside the NATed IPv4: documentation
prefixes on both sides, miniupnpd with IGDv2 pinholes, BIND also on IPv6.

Everything lives in namespaces named hpbed-<pid>-<n>-<role>, wired with veth
pairs created inside them; nothing is added to the host namespace and nothing
routes out. Processes are ended by PID; namespaces, /etc/netns/<ns> files and the
bed's temp dir are removed on close, also on failure, Ctrl-C and SIGTERM/SIGHUP.
Leftovers of a run that was SIGKILLed are removed by the next run.

See tests/bed/README.md for the API summary.
"""
import atexit
import base64
import ctypes
import ipaddress
import itertools
import json
import os
import re
import shutil
import signal
import signal as _signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PYTHON = sys.executable or "/usr/bin/python3"
TAG = "hpbed"
PREFIX = "%s-%d-" % (TAG, os.getpid())
SBIN_PATH = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin:/usr/local/sbin"

# binary -> Debian package, for skip messages
BINARIES = {
    "ip": "iproute2", "nft": "nftables", "miniupnpd": "miniupnpd miniupnpd-nftables",
    "named": "bind9", "dig": "bind9-dnsutils", "nsupdate": "bind9-dnsutils",
    "upnpc": "miniupnpc", "natpmpc": "natpmpc", "openssl": "openssl", "curl": "curl",
    "pdns_server": "pdns-server pdns-backend-sqlite3", "pdnsutil": "pdns-server",
}
PDNS_SCHEMA = "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql"

# Real provider host names that resolve to the stand-in inside the bed's namespaces
# (through /etc/netns/<ns>/hosts) and that its certificate is valid for, so
# provider presets can be tested with their built-in URLs.
PROVIDER_HOSTS = [
    "members.dyndns.org", "dynupdate.no-ip.com", "dynupdate6.noip.com", "api.dynu.com",
    "dyn.dns.he.net", "members.3322.net", "members.3322.org", "ddns.oray.com",
    "update.dedyn.io", "update6.dedyn.io", "www.ovh.com", "dyndns.strato.com",
    "updates.dnsomatic.com", "ipv4.nsupdate.info", "ipv6.nsupdate.info",
    "carol.selfhost.de", "update.spdyn.de", "ipv4.tunnelbroker.net", "nic.changeip.com",
    "freedns.afraid.org", "sync.afraid.org", "dynv6.com", "api.cloudflare.com",
    "www.duckdns.org", "duckdns.org", "alidns.aliyuncs.com", "dnspod.tencentcloudapi.com",
]

# "What is my IP" services played by the stand-in (it answers the address a
# request comes from); resolve to the wan address like the provider names.
CHECKIP_HOSTS = ["checkip-a.example.test", "checkip-b.example.test",
                 "checkip-c.example.test"]

ROLES = ("wan", "gw", "lan", "lan2")


class BedError(Exception):
    pass


def which(name):
    return shutil.which(name, path=SBIN_PATH)


def missing_requirements(router=True, bind=True, standin=True, pdns=False):
    """A sentence saying why the bed cannot run here, or None."""
    if os.geteuid() != 0:
        return "the test bed needs root (network namespaces)"
    need = ["ip"]
    if router:
        need += ["nft", "miniupnpd", "upnpc", "natpmpc"]
    if bind:
        need += ["named", "dig", "nsupdate"]
    if standin:
        need += ["openssl", "curl"]
    if pdns:
        need += ["pdns_server", "pdnsutil", "dig"]
    gone = [n for n in need if not which(n)]
    if pdns and not gone and not os.path.exists(PDNS_SCHEMA):
        gone = ["pdns_server"]             # the sqlite3 backend is missing
    if gone:
        pkgs = sorted({BINARIES[n] for n in gone})
        return "test bed: missing %s (apt-get install %s)" % (", ".join(gone), " ".join(pkgs))
    if not os.path.isdir("/run") or not os.access("/run", os.W_OK):
        return "test bed: /run is not writable (ip netns needs /run/netns)"
    return None


# ---------------------------------------------------------------------------------
# network namespaces from inside this process: a socket made in a thread that has
# joined a namespace stays in that namespace

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def in_netns(ns, fn):
    """Run fn() in a short-lived thread that has joined network namespace ns."""
    box = {}

    def target():
        try:
            fd = os.open("/run/netns/" + ns, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, "setns(%s): %s" % (ns, os.strerror(e)))
            finally:
                os.close(fd)
            box["result"] = fn()
        except BaseException as e:        # noqa: B902 - handed to the caller
            box["error"] = e

    t = threading.Thread(target=target, name="netns-" + ns)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


def wait_until(pred, timeout=10, what="a condition", interval=0.005, fail=None):
    """Poll pred() until it returns a true value; return that value (raise
    BedError past timeout seconds). fail() may return a message that aborts
    the wait (a process died). The one wait helper of the tests."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if fail:
            msg = fail()
            if msg:
                raise BedError("%s: %s" % (what, msg))
        if time.monotonic() > deadline:
            raise BedError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)
        interval = min(interval * 1.5, 0.05)


def children(pid):
    """The child processes of pid (every thread's)."""
    out = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, task)) as f:
            out += [int(x) for x in f.read().split()]
    return out


def _pid_alive(pid):
    """True while pid runs (a zombie waiting for a parent that is not us is dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


# ---------------------------------------------------------------------------------
# global registry: every live bed is closed at exit and on SIGTERM / SIGHUP

_live = set()
_live_lock = threading.Lock()
_counter = itertools.count(1)
_installed = False


def close_all():
    with _live_lock:
        beds = list(_live)
    for b in beds:
        try:
            b.close()
        except Exception as e:          # keep closing the others
            sys.stderr.write("test bed: cleanup of %s failed: %r\n" % (b.name, e))


def _on_signal(signum, frame):
    close_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers():
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(close_all)
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(s) in (signal.SIG_DFL, None):
                signal.signal(s, _on_signal)
    cleanup_stale()


def _ns_pids(ns):
    p = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(x) for x in p.stdout.split() if x.isdigit()]


def _kill_pids(pids, timeout=2.0):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for pid in pids:
        while _pid_alive(pid) and time.monotonic() < deadline:
            try:                           # reap if it is our child
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.002)


def cleanup_stale():
    """Remove namespaces, /etc/netns dirs and temp dirs of bed runs whose process
    is gone (a run that was SIGKILLed)."""
    pat = re.compile(r"^%s-(\d+)-\d+(-(wan|gw|lan|lan2))?$" % TAG)

    def dead(name):
        m = pat.match(name)
        return m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1)))

    try:
        names = os.listdir("/run/netns")
    except OSError:
        names = []
    stale = [n for n in names if dead(n)]
    for n in stale:
        _kill_pids(_ns_pids(n))
    if stale:
        subprocess.run(["ip", "-force", "-batch", "-"], input="".join(
            "netns del %s\n" % n for n in stale), text=True, capture_output=True)
    for base in ("/etc/netns",):
        try:
            for n in os.listdir(base):
                if dead(n):
                    shutil.rmtree(os.path.join(base, n), ignore_errors=True)
        except OSError:
            pass
    tmpdir = tempfile.gettempdir()
    for n in os.listdir(tmpdir):
        m = re.match(r"^%s-(\d+)-\d+-" % TAG, n)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(os.path.join(tmpdir, n), ignore_errors=True)


# ---------------------------------------------------------------------------------

class Names:
    """The bed's namespace names: .wan .gw .lan .lan2"""

    def __init__(self, base):
        for r in ROLES:
            setattr(self, r, "%s-%s" % (base, r))

    def all(self):
        return [getattr(self, r) for r in ROLES]

    def __repr__(self):
        return "Names(%s)" % ", ".join(self.all())


class Bed:
    """The test bed. Use as a context manager, or call close()."""

    def __init__(self, secure_mode=True, upnp=True, natpmp=True, bind=True, standin=True,
                 echo=True, pdns=False, pdns_port=5300,
                 wan_net="203.0.113.0/24", wan_ip="203.0.113.1", gw_wan_ip="203.0.113.2",
                 lan_net="192.168.77.0/24", gw_lan_ip="192.168.77.1",
                 lan_ip="192.168.77.10", lan2_ip="192.168.77.20",
                 http_port=5000, min_lifetime=120, max_lifetime=86400,
                 miniupnpd_extra="", pcp=True, pcp_allow_thirdparty=False,
                 permissions=("allow 1024-65535 LAN 1-65535", "deny 0-65535 0.0.0.0/0 0-65535"),
                 zone="home.example", key_name="homeport-key", key_secret=None,
                 dns_port=53,
                 standin_host="ddns.example.test", standin_port=443, standin_http_port=80,
                 standin_accounts=None, extra_hosts=(),
                 echo_ports=(8080, 8081),
                 ipv6=False, lan6_prefix="2001:db8:77::/64", wan6_prefix="2001:db8:203::/64",
                 ipv6_firewall=True,
                 timeout=15.0, start=True):
        self.opts = dict(secure_mode=secure_mode, upnp=upnp, natpmp=natpmp, bind=bind,
                         standin=standin)
        self.secure_mode, self.upnp, self.natpmp = secure_mode, upnp, natpmp
        self.router = bool(upnp or natpmp)
        self.with_bind, self.with_standin, self.with_echo = bind, standin, echo
        self.with_pdns, self.pdns_port = pdns, pdns_port
        self.wan_net = ipaddress.ip_network(wan_net)
        self.lan_net = ipaddress.ip_network(lan_net)
        self.wan_ip, self.gw_wan_ip = wan_ip, gw_wan_ip
        self.gw_lan_ip, self.lan_ip, self.lan2_ip = gw_lan_ip, lan_ip, lan2_ip
        self.http_port = http_port
        self.min_lifetime, self.max_lifetime = min_lifetime, max_lifetime
        self.miniupnpd_extra = miniupnpd_extra
        self.pcp, self.pcp_allow_thirdparty = pcp, pcp_allow_thirdparty
        self.permissions = list(permissions)     # miniupnpd allow/deny lines, LAN = lan_net
        self.zone = zone.rstrip(".")
        self.key_name = key_name
        self.key_algorithm = "hmac-sha256"
        self.key_secret = key_secret or base64.b64encode(os.urandom(32)).decode()
        self.dns_port = dns_port
        self.standin_host = standin_host
        self.standin_port, self.standin_http_port = standin_port, standin_http_port
        self.standin_accounts = standin_accounts or {}
        self.extra_hosts = list(extra_hosts)
        self.echo_ports = list(echo_ports)
        # IPv6 (ipv6=True): routed, each host keeps its interface ID across renumbering
        self.ipv6, self.ipv6_firewall = ipv6, ipv6_firewall
        self.lan6_net = ipaddress.ip_network(lan6_prefix)
        self.wan6_net = ipaddress.ip_network(wan6_prefix)
        self.timeout = timeout
        # interface names (inside the namespaces)
        self.wan_if = "wan0"          # in wan and in gw
        self.gw_wan_if = "wan0"
        self.gw_lan_if = "br0"
        self.lan_if = "eth0"          # in lan and lan2
        self.stun_port = 3478
        self.index = next(_counter)
        self.name = "%s%d" % (PREFIX, self.index)
        self.ns = Names(self.name)
        self.tmp = None
        self.closed = False
        self.started = False
        self.startup_time = None
        self._procs = []              # [(label, Popen, logfile)]
        self._daemons = []
        self._etc_dirs = []
        self._ns_made = []
        self.miniupnpd = None         # Popen
        self.frozen = False
        self.standin = Standin(self)
        if start:
            self.start()

    # -- context manager ---------------------------------------------------------
    def __enter__(self):
        if not self.started:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return "<Bed %s %s>" % (self.name, self.tmp)

    # -- paths and names ---------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def nsname(self, ns):
        """'wan'/'gw'/'lan'/'lan2' or a full namespace name -> full name."""
        return getattr(self.ns, ns) if ns in ROLES else ns

    @property
    def upnp_url(self):
        return "http://%s:%d/rootDesc.xml" % (self.gw_lan_ip, self.http_port)

    @property
    def ca_file(self):
        return self.path("tls", "ca.pem")

    @property
    def standin_url(self):
        port = "" if self.standin_port == 443 else ":%d" % self.standin_port
        return "https://%s%s" % (self.standin_host, port)

    @property
    def dns_server(self):
        return "%s:%d" % (self.wan_ip, self.dns_port)

    @property
    def pdns_server(self):
        return "%s:%d" % (self.wan_ip, self.pdns_port)

    # -- start ---------------------------------------------------------------------
    def start(self):
        if self.started:
            return self
        _install_handlers()
        t0 = time.monotonic()
        self.started = True
        with _live_lock:
            _live.add(self)
        try:
            self.tmp = tempfile.mkdtemp(prefix=self.name + "-")
            os.chmod(self.tmp, 0o755)
            for d in ("secrets", "tls", "named", "router", "pdns"):
                os.makedirs(self.path(d))
            os.chmod(self.path("secrets"), 0o700)
            self._make_network()
            self._write_etc()
            waits = []
            if self.router:
                waits.append(self._spawn_stun())
            if self.with_bind:
                waits.append(self._spawn_named())
            if self.with_standin:
                waits.append(self._spawn_standin())
            if self.with_pdns:
                waits.append(self._spawn_pdns())
            if self.with_echo and self.echo_ports:
                waits.append(self._spawn_echo("lan", self.echo_ports, self.echo_ports))
            if self.router:
                # miniupnpd needs the STUN responder before it starts
                self._wait_all(waits[:1])
                waits = waits[1:]
                self._start_miniupnpd(wait=False)
                waits.append(self._miniupnpd_ready_check())
            self._wait_all(waits)
        except BaseException:
            self.close()
            raise
        self.startup_time = time.monotonic() - t0
        return self

    def _wait_all(self, waits):
        for what, pred, fail in waits:
            wait_until(pred, self.timeout, what, fail=fail)

    def _ip_batch(self, lines, ns=None):
        argv = ["ip"] + (["-n", ns] if ns else []) + ["-batch", "-"]
        p = subprocess.run(argv, input="".join(l + "\n" for l in lines), text=True,
                           capture_output=True)
        if p.returncode != 0:
            raise BedError("ip %s-batch failed: %s" % ("-n %s " % ns if ns else "", p.stderr))

    def _make_network(self):
        n = self.ns
        wp, lp = self.wan_net.prefixlen, self.lan_net.prefixlen
        self._ns_made = n.all()
        self._ip_batch(["netns add %s" % x for x in n.all()])
        if self.ipv6:
            self._ipv6_sysctls()
        self._ip_batch([
            "link set lo up",
            "link add wan0 type veth peer name wan0 netns %s" % n.wan,
            "link add br0 type bridge",
            "link add lan0 type veth peer name eth0 netns %s" % n.lan,
            "link add lan1 type veth peer name eth0 netns %s" % n.lan2,
            "link set lan0 master br0",
            "link set lan1 master br0",
            "link set wan0 up", "link set br0 up", "link set lan0 up", "link set lan1 up",
            "addr add %s/%d dev wan0" % (self.gw_wan_ip, wp),
            "addr add %s/%d dev br0" % (self.gw_lan_ip, lp),
            "route add default via %s" % self.wan_ip,
        ], n.gw)
        self._ip_batch(["link set lo up", "link set wan0 up",
                        "addr add %s/%d dev wan0" % (self.wan_ip, wp)], n.wan)
        for ns, ip, host in ((n.lan, self.lan_ip, "lan"), (n.lan2, self.lan2_ip, "lan2")):
            mac = ["link set eth0 address %s" % self.MAC6[host]] if self.ipv6 else []
            self._ip_batch(mac + ["link set lo up", "link set eth0 up",
                            "addr add %s/%d dev eth0" % (ip, lp),
                            "route add default via %s" % self.gw_lan_ip,
                            "route add 224.0.0.0/4 dev eth0"], ns)
        if self.ipv6:
            self._make_ipv6()
        with open(self.path("router", "nft.conf"), "w") as f:
            f.write(self._nft_rules())
        p = subprocess.run(["ip", "netns", "exec", n.gw, "sh", "-c",
                            "echo 1 > /proc/sys/net/ipv4/ip_forward && nft -f \"$1\"", "sh",
                            self.path("router", "nft.conf")], capture_output=True, text=True)
        if p.returncode != 0:
            raise BedError("router firewall set-up failed: " + p.stderr)

    def _nft_rules(self):
        return """table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "br0" oifname "wan0" accept
    iifname "br0" oifname "br0" accept
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
    oifname "wan0" ip saddr %s masquerade
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }%s
}
""" % (self.lan_net, self._nft_input())

    def _write_etc(self):
        """/etc/netns/<ns>/{hosts,resolv.conf}: `ip netns exec` bind-mounts them, so
        the stand-in's and the providers' host names resolve to the wan address and
        other lookups go to the bed's BIND (never out of the bed)."""
        hosts = ("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"
                 "%s %s\n" % (self.wan_ip, " ".join(
                     [self.standin_host] + PROVIDER_HOSTS + CHECKIP_HOSTS +
                     self.extra_hosts)))
        resolv = "nameserver %s\noptions timeout:1 attempts:1\n" % self.wan_ip
        for ns in self.ns.all():
            d = os.path.join("/etc/netns", ns)
            try:
                for _ in range(3):          # another bed may rmdir /etc/netns meanwhile
                    try:
                        os.makedirs(d)
                        break
                    except FileNotFoundError:
                        continue
                self._etc_dirs.append(d)
                for name, text in (("hosts", hosts), ("resolv.conf", resolv)):
                    with open(os.path.join(d, name), "w") as f:
                        f.write(text)
            except OSError as e:
                sys.stderr.write("test bed: cannot write %s (%s); host names of the "
                                 "stand-in will not resolve\n" % (d, e))

    # -- processes -------------------------------------------------------------------
    def popen(self, ns, argv, log=None, env=None, label=None, **kw):
        """Start argv in a namespace; tracked, killed (by PID) when the bed closes.
        stdout+stderr go to `log` (default <tmp>/<label>.log)."""
        label = label or os.path.basename(argv[0])
        log = log or self.path("%s.log" % label)
        logf = open(log, "ab")
        try:
            p = subprocess.Popen(["ip", "netns", "exec", self.nsname(ns)] + list(argv),
                                 stdout=logf, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=env,
                                 start_new_session=True, **kw)
        except BaseException:
            logf.close()
            raise
        p.log = log
        p.label = label
        self._procs.append((label, p, logf))
        return p

    def run(self, ns, argv, timeout=30, check=False, input=None, text=True, **kw):
        """Run argv in a namespace; returns CompletedProcess (stdout, stderr captured)."""
        return subprocess.run(["ip", "netns", "exec", self.nsname(ns)] + list(argv),
                              capture_output=True, timeout=timeout, check=check,
                              input=input, text=text, **kw)

    def _end(self, p, sig=signal.SIGKILL, timeout=5.0):
        if p.poll() is None:
            try:
                if self.frozen and p is self.miniupnpd and sig != signal.SIGKILL:
                    os.kill(p.pid, signal.SIGCONT)
                p.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for i, (label, q, logf) in enumerate(self._procs):
            if q is p:
                logf.close()
                del self._procs[i]
                break
        return p.returncode

    def _died(self, p):
        def check():
            if p.poll() is not None:
                return "%s exited with %s; log %s:\n%s" % (p.label, p.returncode, p.log,
                                                          _tail(p.log))
            return None
        return check

    def _ready_file(self, label, ns, argv):
        ready = self.path("%s.ready" % label)
        if os.path.exists(ready):
            os.unlink(ready)
        p = self.popen(ns, argv + [ready] if "{ready}" not in argv else
                       [a.replace("{ready}", ready) for a in argv], label=label)
        return p, ("%s to start" % label, lambda: os.path.exists(ready), self._died(p))

    def _spawn_stun(self):
        _, w = self._ready_file("stun", "wan", [PYTHON, os.path.join(HERE, "stun.py"),
                                                self.wan_ip, str(self.stun_port)])
        return w

    def _spawn_echo(self, host, tcp=(), udp=()):
        ip = self.lan_ip if host == "lan" else self.lan2_ip if host == "lan2" else "?"
        label = "echo-%s-%d" % (host, len(self._procs))
        specs = ["tcp:%d" % p for p in tcp] + ["udp:%d" % p for p in udp]
        if self.ipv6:
            specs += ["tcp6:%d" % p for p in tcp] + ["udp6:%d" % p for p in udp]
        _, w = self._ready_file(label, host, [PYTHON, os.path.join(HERE, "echo.py"),
                                              host, ip, "{ready}"] + specs)
        return w

    def start_echo(self, host="lan2", tcp=(554,), udp=(554,)):
        """Start the echo service on a LAN host ('lan' or 'lan2'); waits until it listens."""
        self._wait_all([self._spawn_echo(host, tcp, udp)])

    # -- router (miniupnpd) ----------------------------------------------------------------
    def _miniupnpd_conf(self):
        r = self.path("router")
        lines = [
            "ext_ifname=%s" % self.gw_wan_if,
            "listening_ip=%s" % self.gw_lan_if,
            "http_port=%d" % self.http_port,
            "enable_upnp=%s" % ("yes" if self.upnp else "no"),
            "enable_natpmp=%s" % ("yes" if self.natpmp else "no"),
            "secure_mode=%s" % ("yes" if self.secure_mode else "no"),
            "system_uptime=no",
            "ext_perform_stun=yes",
            "ext_stun_host=%s" % self.wan_ip,
            "ext_stun_port=%d" % self.stun_port,
            "uuid=3b2fa3d4-5bd0-4c6e-9a7f-%012x" % self.index,
            "friendly_name=homeport test router",
            "lease_file=%s/leases" % r,
            "lease_file6=%s/leases6" % r,
            "minissdpdsocket=%s/minissdpd.sock" % r,
            "min_lifetime=%d" % self.min_lifetime,
            "max_lifetime=%d" % self.max_lifetime,
            "upnp_table_name=filter",
            "upnp_nat_table_name=filter",
            "upnp_forward_chain=miniupnpd",
            "upnp_nat_chain=prerouting_miniupnpd",
            "upnp_nat_postrouting_chain=postrouting_miniupnpd",
        ]
        if self.pcp_allow_thirdparty:
            # PCP MAP for other LAN hosts; miniupnpd then also answers PCP
            # from the WAN side (the IPv6 bed drops that in its input chain)
            lines.append("pcp_allow_thirdparty=yes")
        if self.ipv6:
            lines.append("ext_ifname6=%s" % self.gw_wan_if)
            if not self.ipv6_firewall:
                # an IGD v1 (no WANIPv6FirewallControl in its description) that does
                # not answer over IPv6 at all
                lines += ["force_igd_desc_v1=yes", "ipv6_disable=yes"]
        if self.miniupnpd_extra:
            lines.append(self.miniupnpd_extra.strip())
        lines += [l.replace("LAN", str(self.lan_net)) for l in self.permissions]
        return "\n".join(lines) + "\n"

    @property
    def lease_file(self):
        return self.path("router", "leases")

    @property
    def miniupnpd_log(self):
        return self.path("miniupnpd.log")

    def _start_miniupnpd(self, wait=True):
        conf = self.path("router", "miniupnpd.conf")
        with open(conf, "w") as f:
            f.write(self._miniupnpd_conf())
        try:
            self._mu_offset = os.path.getsize(self.miniupnpd_log)
        except OSError:
            self._mu_offset = 0
        # its log also goes to /dev/console (no syslog here): hide it there, in the
        # private mount namespace `ip netns exec` gives us
        self.miniupnpd = self.popen("gw", [
            "sh", "-c", 'mount --bind /dev/null /dev/console && exec miniupnpd -d -f "$1" -P "$2"',
            "sh", conf, self.path("router", "miniupnpd.pid")], label="miniupnpd",
            log=self.miniupnpd_log)
        self.frozen = False
        if wait:
            self._wait_all([self._miniupnpd_ready_check()])

    def _miniupnpd_ready_check(self):
        p = self.miniupnpd
        offset = self._mu_offset
        needs = []
        if self.natpmp:
            needs.append("Listening for NAT-PMP/PCP traffic on port")
        if self.upnp:
            needs.append("HTTP listening on port")

        def ready():
            try:
                with open(self.miniupnpd_log, errors="replace") as f:
                    f.seek(offset)
                    text = f.read()
            except OSError:
                return False
            if not all(n in text for n in needs):
                return False
            if self.upnp:
                return self._tcp_open("lan", self.gw_lan_ip, self.http_port)
            return True
        return ("miniupnpd to start", ready, self._died(p))

    def _tcp_open(self, ns, ip, port):
        s = self.socket(ns, socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            s.connect((ip, port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def _stop_miniupnpd(self, sig=signal.SIGTERM):
        if self.miniupnpd is not None:
            if self.frozen:
                os.kill(self.miniupnpd.pid, signal.SIGCONT)
                self.frozen = False
            self._end(self.miniupnpd, sig)
            self.miniupnpd = None

    def flush_router_chains(self):
        self.run("gw", ["sh", "-c", "nft flush chain inet filter miniupnpd && "
                        "nft flush chain inet filter prerouting_miniupnpd && "
                        "nft flush chain inet filter postrouting_miniupnpd"], check=True)

    def reboot_router(self):
        """A router reboot: miniupnpd stops, its nft chains are flushed, its lease
        file is dropped, it starts again (NAT-PMP epoch starts at 0, no mappings)."""
        self._stop_miniupnpd(signal.SIGKILL)
        self.flush_router_chains()
        for f in ("leases", "leases6"):
            try:
                os.unlink(self.path("router", f))
            except FileNotFoundError:
                pass
        self._start_miniupnpd()

    def restart_router(self):
        """miniupnpd restarts keeping its lease file: it restores the mappings
        (its nft chains are flushed first, as a service restart does)."""
        self._stop_miniupnpd(signal.SIGTERM)
        self.flush_router_chains()
        self._start_miniupnpd()

    def stop_router(self):
        """miniupnpd stops (a router that does not answer at all); start_router() again."""
        self._stop_miniupnpd(signal.SIGTERM)

    def start_router(self):
        if self.miniupnpd is None:
            self._start_miniupnpd()

    def freeze_router(self):
        """SIGSTOP miniupnpd: a hanging router (connections open, no answers)."""
        os.kill(self.miniupnpd.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw_router(self):
        os.kill(self.miniupnpd.pid, signal.SIGCONT)
        self.frozen = False

    def set_wan_ip(self, ip, prefixlen=None):
        """Change the router's WAN address (miniupnpd notices by itself). An address
        outside wan_net gets its subnet added on the wan side too (e.g. 100.64.0.2
        for a CGNAT-looking WAN)."""
        addr = ipaddress.ip_address(ip)
        if addr in self.wan_net and prefixlen is None:
            prefixlen, gwy = self.wan_net.prefixlen, self.wan_ip
        else:
            net = ipaddress.ip_network("%s/%d" % (ip, prefixlen or 24), strict=False)
            prefixlen = net.prefixlen
            gwy = str(next(h for h in net.hosts() if h != addr))
            if addr not in self.wan_net:
                self._ip_batch(["addr replace %s/%d dev wan0" % (gwy, prefixlen)], self.ns.wan)
            else:
                gwy = self.wan_ip
        v6 = ["addr add %s/%d dev %s nodad" % (self.gw_wan6_ip, self.wan6_net.prefixlen,
                                               self.gw_wan_if),
              "route replace ::/0 via %s" % self.wan6_ip] if self.ipv6 else []
        # scope global: a router keeps its link-local address; without it the
        # kernel cannot ask for the WAN neighbour when it forwards IPv6 replies
        self._ip_batch(["addr flush dev %s scope global" % self.gw_wan_if,
                        "addr add %s/%d dev %s" % (ip, prefixlen, self.gw_wan_if),
                        "route replace default via %s" % gwy] + v6, self.ns.gw)
        self.gw_wan_ip = str(ip)
        if not self.upnp and self.miniupnpd is not None and not self.frozen:
            # miniupnpd watches its interfaces only when UPnP is on (its netlink
            # watcher is opened with the SSDP socket); without it, routers tell it of
            # a new WAN address with SIGUSR1 (OpenWrt's hotplug does), and so do we.
            os.kill(self.miniupnpd.pid, signal.SIGUSR1)

    def forward_port(self, port, proto="tcp", host="lan", internal_port=None):
        """A port forward written "by hand" on the router, as an administrator of a
        router without UPnP or NAT-PMP would: DNAT on the WAN side plus a forward
        rule, in nft rules of the router's own (not miniupnpd's chains)."""
        ip = {"lan": self.lan_ip, "lan2": self.lan2_ip}.get(host, host)
        to = internal_port or port
        rules = [
            "add rule inet filter prerouting iifname %s %s dport %d dnat ip to %s:%d"
            % (self.gw_wan_if, proto, port, ip, to),
            "insert rule inet filter forward ip daddr %s %s dport %d ct status dnat accept"
            % (ip, proto, to),
        ]
        p = self.run("gw", ["nft", "-f", "-"], input="\n".join(rules) + "\n")
        if p.returncode != 0:
            raise BedError("nft port forward failed: " + p.stderr)

    def checkip_urls(self, n=2):
        """URLs of n checkip stand-ins (at most len(CHECKIP_HOSTS))."""
        return ["https://%s/" % h for h in CHECKIP_HOSTS[:n]]

    # -- IPv6 (ipv6=True) ---------------------------------------------------------------------
    HOST6_ID = {"gw": 0x1, "lan": 0x10, "lan2": 0x20}     # interface IDs, kept on renumbering
    MAC6 = {"lan": "02:00:00:00:77:10", "lan2": "02:00:00:00:77:20"}
    ROUTER_LL = "fe80::1"                                  # the LAN hosts' default router

    @property
    def wan6_ip(self):
        return str(self.wan6_net[1])

    @property
    def gw_wan6_ip(self):
        return str(self.wan6_net[2])

    def host6(self, host, prefix=None):
        """The global address of 'gw' (LAN side), 'lan' or 'lan2' in the current LAN
        prefix (or in `prefix`)."""
        net = ipaddress.ip_network(prefix) if prefix else self.lan6_net
        return str(net[self.HOST6_ID[host]])

    @property
    def lan6_ip(self):
        return self.host6("lan")

    @property
    def lan2_6_ip(self):
        return self.host6("lan2")

    @property
    def gw_lan6_ip(self):
        return self.host6("gw")

    def _ipv6_sysctls(self):
        """Before any link exists: no duplicate address detection and no router
        advertisements (addresses are usable at once and only tests change them);
        the router forwards."""
        keys = ["net.ipv6.conf.%s.%s=0" % (c, k) for c in ("all", "default")
                for k in ("accept_dad", "accept_ra")]
        for ns in self.ns.all():
            fwd = ["net.ipv6.conf.all.forwarding=1", "net.ipv6.conf.default.forwarding=1"] \
                if ns == self.ns.gw else []
            p = subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w"] + keys + fwd,
                               capture_output=True, text=True)
            if p.returncode != 0:
                raise BedError("IPv6 sysctls in %s: %s" % (ns, p.stderr))

    def _make_ipv6(self):
        n = self.ns
        wp, lp = self.wan6_net.prefixlen, self.lan6_net.prefixlen
        self._ip_batch([
            "link set br0 type bridge mcast_snooping 0",
            "addr add %s/%d dev wan0 nodad" % (self.gw_wan6_ip, wp),
            "addr add %s/%d dev br0 nodad" % (self.gw_lan6_ip, lp),
            "addr add %s/64 dev br0 nodad" % self.ROUTER_LL,
            "route add ::/0 via %s" % self.wan6_ip,
            # miniupnpd's IPv6 ANNOUNCE leaves by the wrong interface without it
            "route add multicast ff02::1/128 dev br0 table local",
        ], n.gw)
        self._ip_batch(["addr add %s/%d dev wan0 nodad" % (self.wan6_ip, wp),
                        "route add 2001:db8::/32 via %s" % self.gw_wan6_ip], n.wan)
        for host in ("lan", "lan2"):
            self._ip_batch(["addr add %s/%d dev eth0 nodad" % (self.host6(host), lp),
                            "route add ::/0 via %s dev eth0" % self.ROUTER_LL],
                           self.nsname(host))

    def _nft_input(self):
        """The router's input chain, "" when it needs none."""
        rules = []
        if self.ipv6:
            # UPnP, SSDP and PCP are for the LAN only (pcp_allow_thirdparty lets
            # miniupnpd take PCP from the WAN side too)
            rules += ['iifname "%s" udp dport { 1900, 5351 } drop' % self.gw_wan_if,
                      'iifname "%s" tcp dport %d drop' % (self.gw_wan_if, self.http_port)]
        if self.natpmp and not self.pcp:
            # miniupnpd 2.3.1 answers PCP wherever it answers NAT-PMP: a NAT-PMP-only
            # router (pcp=False) rejects PCP (version 2) on port 5351 as a router
            # without a PCP server would (ICMP port unreachable)
            rules.append("udp dport 5351 @th,64,8 2 reject")
        if not rules:
            return ""
        return ("\n  chain input {\n    type filter hook input priority 0; policy accept;\n" +
                "".join("    %s\n" % r for r in rules) + "  }")

    def _dev6(self, host):
        return (self.ns.gw, self.gw_lan_if) if host == "gw" else (self.nsname(host), self.lan_if)

    def addr6(self, host, addr, prefixlen=64, preferred=None, valid=None, extra=()):
        """Add an IPv6 address on a host's LAN interface ('gw' = the router's br0),
        without duplicate address detection; lifetimes in seconds (None = forever)."""
        ns, dev = self._dev6(host)
        line = "addr add %s/%d dev %s nodad" % (addr, prefixlen, dev)
        if valid is not None or preferred is not None:
            line += " valid_lft %s preferred_lft %s" % (
                "forever" if valid is None else valid, "forever" if preferred is None
                else preferred)
        self._ip_batch([" ".join([line] + list(extra))], ns)

    def change_addr6(self, host, addr, prefixlen=64, preferred=0, valid=None):
        """Change an address's lifetimes (preferred=0: deprecated)."""
        ns, dev = self._dev6(host)
        self._ip_batch(["addr change %s/%d dev %s valid_lft %s preferred_lft %s" % (
            addr, prefixlen, dev, "forever" if valid is None else valid, preferred)], ns)

    def deprecate6(self, host, addr, prefixlen=64):
        self.change_addr6(host, addr, prefixlen, preferred=0)

    def del_addr6(self, host, addr, prefixlen=64):
        ns, dev = self._dev6(host)
        self._ip_batch(["addr del %s/%d dev %s" % (addr, prefixlen, dev)], ns)

    def addrs6(self, host):
        """A host's IPv6 addresses on its LAN interface: [{"address", "prefixlen",
        "scope", "flags" (set: temporary, deprecated, mngtmpaddr, ...), "preferred",
        "valid"}] (lifetimes in seconds, None = forever)."""
        ns, dev = self._dev6(host)
        p = self.run(ns, ["ip", "-j", "-6", "addr", "show", "dev", dev], check=True)
        out = []
        for link in json.loads(p.stdout or "[]"):
            for a in link.get("addr_info", []):
                flags = {k for k, v in a.items() if v is True}
                life = {k: (None if a.get(k + "_life_time") == 4294967295
                            else a.get(k + "_life_time")) for k in ("preferred", "valid")}
                out.append({"address": a["local"], "prefixlen": a["prefixlen"],
                            "scope": a.get("scope"), "flags": flags, **life})
        return out

    def renumber6(self, prefix, old="deprecate", hosts=("gw", "lan", "lan2")):
        """Move the LAN to a new prefix: each host adds its interface ID there (the
        router too); the old addresses are then deprecated (preferred lifetime 0),
        removed (old="remove") or kept (old="keep"). Returns time.monotonic() taken
        just before the first change."""
        new = ipaddress.ip_network(prefix)
        if new.overlaps(self.wan6_net):
            raise BedError("renumber6: %s overlaps the WAN prefix %s" % (new, self.wan6_net))
        oldnet, t0 = self.lan6_net, time.monotonic()
        for h in hosts:
            ns, dev = self._dev6(h)
            lines = ["addr add %s/%d dev %s nodad" % (self.host6(h, new), new.prefixlen, dev)]
            was = "%s/%d dev %s" % (self.host6(h, oldnet), oldnet.prefixlen, dev)
            if old == "deprecate":
                lines.append("addr change %s valid_lft forever preferred_lft 0" % was)
            elif old == "remove":
                lines.append("addr del %s" % was)
            self._ip_batch(lines, ns)
        self.lan6_net = new
        return t0

    def temporary6(self, host="lan", template_id=0xabcd, timeout=5.0):
        """Make the kernel create a temporary (privacy) address on a host: a
        `mngtmpaddr` template with finite lifetimes (so it is no static address
        either) and use_tempaddr=2 (the kernel then prefers temporary addresses as
        source). Returns (template address, temporary address)."""
        ns, dev = self._dev6(host)
        self.run(ns, ["sysctl", "-q", "-w", "net.ipv6.conf.%s.use_tempaddr=2" % dev], check=True)
        template = str(self.lan6_net[template_id])
        self.addr6(host, template, self.lan6_net.prefixlen, preferred=14400, valid=86400,
                   extra=["mngtmpaddr"])
        found = []

        def made():
            found[:] = [a["address"] for a in self.addrs6(host) if "temporary" in a["flags"]]
            return found
        wait_until(made, timeout, "a temporary address on %s" % host)
        return template, found[0]

    def mac(self, host):
        return self.MAC6[host]

    def drop_pinhole_rules(self):
        """Delete the router's IPv6 pinhole rules behind miniupnpd's back (as a
        firewall reload does); how many were deleted."""
        p = self.run("gw", ["nft", "-a", "list", "chain", "inet", "filter", "miniupnpd"],
                     check=True)
        handles = re.findall(r"@nh,192,128 .* # handle (\d+)", p.stdout)
        for h in handles:
            self.run("gw", ["nft", "delete", "rule", "inet", "filter", "miniupnpd", "handle", h],
                     check=True)
        return len(handles)

    def pinholes(self):
        """The router's IPv6 pinholes, read from its nft chain:
        [{"proto", "int_ip", "port", "remote"}]"""
        p = self.run("gw", ["nft", "-j", "list", "chain", "inet", "filter", "miniupnpd"],
                     check=True)
        out = []
        for item in json.loads(p.stdout)["nftables"]:
            rule = item.get("rule")
            if not rule:
                continue
            m = {"proto": None, "int_ip": None, "port": None, "remote": None}
            for e in rule["expr"]:
                if "match" not in e:
                    continue
                left, right = e["match"]["left"], e["match"]["right"]
                pl = left.get("payload", {}) if isinstance(left, dict) else {}
                # miniupnpd writes raw IPv6 header matches: @nh,OFFSET,LEN
                raw = (pl.get("base"), pl.get("offset"), pl.get("len"))
                if raw == ("nh", 192, 128) or pl.get("field") == "daddr":
                    m["int_ip"] = _ip6_text(right)
                elif raw == ("nh", 64, 128) or pl.get("field") == "saddr":
                    m["remote"] = _ip6_text(right)
                elif raw == ("nh", 48, 8):
                    m["proto"] = {6: "tcp", 17: "udp"}.get(right, str(right))
                elif pl.get("field") == "dport":
                    m["port"] = right
            if m["int_ip"]:
                out.append(m)
        return out

    def reaches6(self, port, proto="tcp", host="lan", ip=None, ns="wan", timeout=1.0):
        """True when traffic from `ns` (wan) over IPv6 to ip (default: the host's
        current global address) is answered by the echo service on `host`."""
        b = self.probe(port, proto, ip or self.host6(host), ns, timeout)
        return bool(b) and b.startswith("homeport-echo ") and (" host=%s " % host) in b

    # -- router views -----------------------------------------------------------------------
    def mappings(self):
        """The router's port forwards, read from its nft chain:
        [{"proto", "ext_port", "int_ip", "int_port", "remote", "desc", "expires"}]"""
        p = self.run("gw", ["nft", "-j", "list", "chain", "inet", "filter",
                            "prerouting_miniupnpd"], check=True)
        leases = {(l["proto"], l["ext_port"]): l for l in self.leases()}
        out = []
        for item in json.loads(p.stdout)["nftables"]:
            rule = item.get("rule")
            if not rule:
                continue
            m = {"proto": None, "ext_port": None, "int_ip": None, "int_port": None,
                 "remote": None}
            for e in rule["expr"]:
                if "match" in e:
                    left, right = e["match"]["left"], e["match"]["right"]
                    pl = left.get("payload", {}) if isinstance(left, dict) else {}
                    meta = left.get("meta", {}) if isinstance(left, dict) else {}
                    if pl.get("base") == "nh" and pl.get("offset") == 72:
                        m["proto"] = {6: "tcp", 17: "udp"}.get(right, str(right))
                    elif meta.get("key") == "l4proto":
                        m["proto"] = right if isinstance(right, str) else \
                            {6: "tcp", 17: "udp"}.get(right, str(right))
                    elif pl.get("field") == "dport":
                        m["ext_port"] = right
                        if pl.get("protocol") in ("tcp", "udp"):
                            m["proto"] = pl["protocol"]
                    elif pl.get("field") == "saddr":
                        m["remote"] = right
                elif "dnat" in e:
                    m["int_ip"] = e["dnat"].get("addr")
                    m["int_port"] = e["dnat"].get("port")
            l = leases.get((m["proto"], m["ext_port"]), {})
            m["desc"] = l.get("desc")
            m["expires"] = l.get("expires")
            out.append(m)
        return out

    def leases(self):
        """miniupnpd's lease file: [{"proto","ext_port","int_ip","int_port","expires","desc"}]"""
        out = []
        try:
            with open(self.lease_file) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return out
        for line in lines:
            parts = line.split(":", 5)
            if len(parts) < 6:
                continue
            out.append({"proto": parts[0].lower(), "ext_port": int(parts[1]),
                        "int_ip": parts[2], "int_port": int(parts[3]),
                        "expires": int(parts[4]), "desc": parts[5]})
        return out

    def upnpc(self, *args, ns="lan", timeout=30):
        """upnpc -u <root URL> ARGS... in a LAN namespace."""
        return self.run(ns, ["upnpc", "-u", self.upnp_url] + [str(a) for a in args],
                        timeout=timeout)

    def natpmpc(self, *args, ns="lan", timeout=30):
        """natpmpc -g <router> ARGS... in a LAN namespace (-a PUBLIC PRIVATE PROTO LIFETIME)."""
        return self.run(ns, ["natpmpc", "-g", self.gw_lan_ip] + [str(a) for a in args],
                        timeout=timeout)

    def _natpmp(self, payload, ns="lan", timeout=2.0):
        s = self.socket(ns, socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect((self.gw_lan_ip, 5351))
            deadline = time.monotonic() + timeout
            wait = 0.25
            while time.monotonic() < deadline:
                s.send(payload)
                s.settimeout(min(wait, max(0.01, deadline - time.monotonic())))
                try:
                    return s.recv(1100)
                except socket.timeout:
                    wait *= 2
                except ConnectionRefusedError:
                    return None
            return None
        finally:
            s.close()

    def natpmp_public_ip(self, ns="lan", timeout=2.0):
        """NAT-PMP external address request: (ip, epoch), or None when no answer.
        A result code other than 0 gives (None, epoch, code)."""
        r = self._natpmp(b"\x00\x00", ns, timeout)
        if not r or len(r) < 8:
            return None
        _, op, code, epoch = struct.unpack("!BBHI", r[:8])
        if code != 0:
            return (None, epoch, code)
        return (socket.inet_ntoa(r[8:12]), epoch)

    def natpmp_map(self, proto, internal, external, lifetime, ns="lan", timeout=2.0):
        """NAT-PMP mapping request: {"result","epoch","internal","external","lifetime"}."""
        op = 1 if proto == "udp" else 2
        r = self._natpmp(struct.pack("!BBHHHI", 0, op, 0, internal, external, lifetime), ns,
                         timeout)
        if not r or len(r) < 16:
            return None
        _, rop, code, epoch, i, e, lt = struct.unpack("!BBHIHHI", r[:16])
        return {"result": code, "epoch": epoch, "internal": i, "external": e, "lifetime": lt}

    def natpmp_announcements(self, ns="lan"):
        """A listener on 224.0.0.1:5350 in a LAN namespace (context manager)."""
        return Announcements(self, ns)

    def pcp_announcements(self, ns="lan"):
        """Like natpmp_announcements, for PCP ANNOUNCE: [{"epoch","from","time"}]."""
        return Announcements(self, ns, kind="pcp")

    def pcp_map(self, proto, internal, external, lifetime, nonce, ns="lan", host=None,
                third_party=None, timeout=2.0):
        """A PCP MAP request (RFC 6887) from `host` (default: the namespace's own
        address), optionally with THIRD_PARTY: the reply as a dict
        {"result","lifetime","epoch","nonce","internal","external","ext_ip"} or None."""
        host = host or (self.lan_ip if ns == "lan" else self.lan2_ip)
        req = _pcp_header(1, lifetime, host) + nonce + struct.pack(
            "!B3xHH", {"tcp": 6, "udp": 17}[proto], internal, external) + _v4mapped("0.0.0.0")
        if third_party:
            req += struct.pack("!BBH", 1, 0, 16) + _v4mapped(third_party)
        r = self._natpmp(req, ns, timeout)
        if not r or len(r) < 60 or r[0] != 2:
            return None
        life, epoch = struct.unpack("!II", r[4:12])
        return {"result": r[3], "lifetime": life, "epoch": epoch, "nonce": r[24:36],
                "internal": struct.unpack("!H", r[40:42])[0],
                "external": struct.unpack("!H", r[42:44])[0],
                "ext_ip": socket.inet_ntoa(r[56:60])}

    def pcp_epoch(self, ns="lan", timeout=2.0):
        """The router's PCP epoch, from the answer to an ANNOUNCE request (or None)."""
        host = self.lan_ip if ns == "lan" else self.lan2_ip
        r = self._natpmp(_pcp_header(0, 0, host), ns, timeout)
        if not r or len(r) < 24 or r[0] != 2 or r[1] != 0x80:
            return None
        return struct.unpack("!I", r[8:12])[0]

    def pcp_nonces(self):
        """The nonces (hex, as sent on the wire) of the router's PCP mappings, from
        its lease file: {(proto, ext_port): nonce}. miniupnpd writes a nonce as
        three 32-bit words in host (little-endian) order: "PCP MAP <24 hex>"."""
        out = {}
        for l in self.leases():
            m = re.match(r"PCP MAP ([0-9a-f]{24})$", l["desc"] or "")
            if m:
                words = [bytes.fromhex(m.group(1)[i:i + 8])[::-1] for i in (0, 8, 16)]
                out[(l["proto"], l["ext_port"])] = b"".join(words).hex()
        return out

    # -- traffic ----------------------------------------------------------------------------
    def socket(self, ns, family=socket.AF_INET, type=socket.SOCK_STREAM, proto=0):
        """A socket that lives in the given namespace."""
        return in_netns(self.nsname(ns), lambda: socket.socket(family, type, proto))

    def tcp_probe(self, ip=None, port=0, ns="wan", timeout=1.0, payload=b"ping\n"):
        """Connect from `ns` (default wan) to ip:port (default: the router's WAN IP);
        return the echo service's banner line, or None (refused / no answer)."""
        ip = ip or self.gw_wan_ip
        s = self.socket(ns, _family(ip), socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((ip, port))
            s.sendall(payload)
            data = b""
            while b"\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            line = data.split(b"\n")[0].decode("utf-8", "replace")
            return line or None
        except OSError:
            return None
        finally:
            s.close()

    def udp_probe(self, ip=None, port=0, ns="wan", timeout=1.0, payload=b"ping\n"):
        """Send a datagram from `ns` to ip:port; the banner line of the reply, or None."""
        ip = ip or self.gw_wan_ip
        s = self.socket(ns, _family(ip), socket.SOCK_DGRAM)
        try:
            s.connect((ip, port))
            deadline = time.monotonic() + timeout
            wait = min(0.2, timeout)
            while time.monotonic() < deadline:
                s.send(payload)
                s.settimeout(min(wait, max(0.01, deadline - time.monotonic())))
                try:
                    data = s.recv(65536)
                    return data.split(b"\n")[0].decode("utf-8", "replace")
                except socket.timeout:
                    wait *= 2
                except ConnectionRefusedError:
                    return None
            return None
        except OSError:
            return None
        finally:
            s.close()

    def probe(self, port, proto="tcp", ip=None, ns="wan", timeout=1.0):
        return (self.tcp_probe if proto == "tcp" else self.udp_probe)(ip, port, ns, timeout)

    def reaches(self, port, proto="tcp", host="lan", ip=None, ns="wan", timeout=1.0):
        """True when traffic from `ns` (wan) to ip:port (the router's WAN IP) is
        answered by the echo service on LAN host `host`."""
        b = self.probe(port, proto, ip, ns, timeout)
        return bool(b) and b.startswith("homeport-echo ") and (" host=%s " % host) in b

    # -- DNS -------------------------------------------------------------------------------
    def dig(self, name, rtype="A", ns="wan", port=None):
        """Ask the bed's BIND (port: another server on wan, e.g. bed.pdns_port); the
        answers (dig +short), [] when none."""
        p = self.run(ns, ["dig", "+short", "+time=2", "+tries=2",
                          "-p", str(port or self.dns_port), "@" + self.wan_ip, name, rtype],
                     timeout=15)
        if p.returncode != 0:
            raise BedError("dig failed: %s%s" % (p.stdout, p.stderr))
        return [l for l in p.stdout.splitlines() if l and not l.startswith(";")]

    def nsupdate(self, script, key=True, ns="wan"):
        """Run nsupdate with `script` (server/zone lines are added when missing).
        key: True = the bed's key, False = unsigned, (name, algorithm, secret) = that key."""
        text = script if script.endswith("\n") else script + "\n"
        if not re.search(r"^\s*server\s", text, re.M):
            text = "server %s %d\n" % (self.wan_ip, self.dns_port) + text
        if not re.search(r"^\s*zone\s", text, re.M):
            text = "zone %s\n" % self.zone + text
        if not re.search(r"^\s*send\s*$", text, re.M):
            text += "send\n"
        argv = ["nsupdate", "-t", "5"]
        if key:
            name, alg, secret = (self.key_name, self.key_algorithm, self.key_secret) \
                if key is True else key
            kf = self.path("secrets", "nsupdate-%s.key" % re.sub(r"\W", "_", name))
            self._write_secret(kf, 'key "%s" {\n\talgorithm %s;\n\tsecret "%s";\n};\n'
                               % (name, alg, secret))
            argv += ["-k", kf]
        return self.run(ns, argv, input=text, timeout=30)

    def _spawn_named(self):
        d = self.path("named")
        with open(os.path.join(d, "named.conf"), "w") as f:
            f.write("""options {
    directory "%(d)s";
    pid-file "%(d)s/named.pid";
    session-keyfile "%(d)s/session.key";
    managed-keys-directory "%(d)s";
    listen-on port %(port)d { %(ip)s; };
    listen-on-v6 { %(ip6)s; };
    recursion no;
    dnssec-validation no;
    notify no;
    allow-transfer { none; };
};
controls { };
key "%(key)s" {
    algorithm %(alg)s;
    secret "%(secret)s";
};
zone "%(zone)s" {
    type primary;
    file "%(d)s/%(zone)s.zone";
    update-policy { grant %(key)s zonesub ANY; };
};
""" % {"d": d, "port": self.dns_port, "ip": self.wan_ip, "key": self.key_name,
            "ip6": self.wan6_ip if self.ipv6 else "none",
            "alg": self.key_algorithm, "secret": self.key_secret, "zone": self.zone})
        with open(os.path.join(d, "%s.zone" % self.zone), "w") as f:
            f.write("""$TTL 60
@ IN SOA ns.%(zone)s. hostmaster.%(zone)s. ( 1 3600 600 86400 60 )
@ IN NS ns.%(zone)s.
ns IN A %(ip)s
""" % {"zone": self.zone, "ip": self.wan_ip})
        log = self.path("named.log")
        p = self.popen("wan", ["named", "-g", "-n", "1", "-c", os.path.join(d, "named.conf")],
                       label="named", log=log)

        def ready():
            with open(log, errors="replace") as f:
                return re.search(r" running$", f.read(), re.M)
        return ("named to start", ready, self._died(p))

    @property
    def named_log(self):
        return self.path("named.log")

    # -- PowerDNS (optional) -------------------------------------------------------------
    def pdnsutil(self, *args):
        """pdnsutil on the bed's PowerDNS database (no network involved)."""
        p = subprocess.run([which("pdnsutil"), "--config-dir=" + self.path("pdns")] +
                           [str(a) for a in args], capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise BedError("pdnsutil %s failed: %s%s" % (" ".join(map(str, args)), p.stdout,
                                                         p.stderr))
        return p.stdout

    def _spawn_pdns(self):
        """PowerDNS serving the bed's zone on wan:pdns_port from sqlite3, with DNS UPDATE
        allowed for the bed's TSIG key (the metadata a real set-up would have)."""
        import sqlite3
        d = self.path("pdns")
        db = os.path.join(d, "pdns.sqlite3")
        with open(PDNS_SCHEMA) as f, sqlite3.connect(db) as c:
            c.executescript(f.read())
        with open(os.path.join(d, "pdns.conf"), "w") as f:
            f.write("""launch=gsqlite3
gsqlite3-database=%(db)s
local-address=%(ip)s
local-port=%(port)d
socket-dir=%(d)s
dnsupdate=yes
allow-dnsupdate-from=0.0.0.0/0
guardian=no
daemon=no
write-pid=no
disable-syslog=yes
api=no
webserver=no
loglevel=6
""" % {"db": db, "ip": self.wan_ip, "port": self.pdns_port, "d": d})
        self.pdnsutil("create-zone", self.zone, "ns." + self.zone)
        self.pdnsutil("import-tsig-key", self.key_name, self.key_algorithm, self.key_secret)
        self.pdnsutil("set-meta", self.zone, "TSIG-ALLOW-DNSUPDATE", self.key_name)
        p = self.popen("wan", [which("pdns_server"), "--config-dir=" + d], label="pdns")

        def ready():
            with open(p.log, errors="replace") as f:
                return "ready to distribute questions" in f.read()
        return ("PowerDNS to start", ready, self._died(p))

    # -- stand-in ---------------------------------------------------------------------------
    def _spawn_standin(self):
        tls = self.path("tls")
        san = ",".join(["DNS:%s" % h for h in [self.standin_host] + PROVIDER_HOSTS +
                        CHECKIP_HOSTS + self.extra_hosts] + ["IP:%s" % self.wan_ip])
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
        for argv in (
                ["openssl", "req", "-x509"] + ec + [
                    "-keyout", os.path.join(tls, "ca.key"), "-out", os.path.join(tls, "ca.pem"),
                    "-subj", "/CN=homeport test bed CA %s" % self.name,
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                ["openssl", "req", "-x509", "-CA", os.path.join(tls, "ca.pem"),
                 "-CAkey", os.path.join(tls, "ca.key")] + ec + [
                    "-keyout", os.path.join(tls, "key.pem"),
                    "-out", os.path.join(tls, "cert.pem"), "-subj", "/CN=%s" % self.standin_host,
                    "-addext", "subjectAltName=" + san,
                    "-addext", "basicConstraints=CA:FALSE",
                    "-addext", "extendedKeyUsage=serverAuth"]):
            p = subprocess.run(argv, capture_output=True, text=True)
            if p.returncode != 0:
                raise BedError("openssl failed: " + p.stderr)
        cfg = {"addr": self.wan_ip, "https_port": self.standin_port,
               "http_port": self.standin_http_port,
               "cert": os.path.join(tls, "cert.pem"), "key": os.path.join(tls, "key.pem"),
               "log": self.standin.log_file, "control": self.standin.control_path,
               "ready": self.path("standin.ready"), "accounts": self.standin_accounts,
               "checkip_hosts": CHECKIP_HOSTS}
        with open(self.path("standin.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        p = self.popen("wan", [PYTHON, os.path.join(HERE, "standin.py"),
                               self.path("standin.json")], label="standin")
        return ("the HTTPS stand-in to start", lambda: os.path.exists(self.path("standin.ready")),
                self._died(p))

    # -- secrets and config snippets ---------------------------------------------------------
    def _write_secret(self, path, text):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    def secret_file(self, name, text):
        """Write a secret file (mode 0600) under <tmp>/secrets; return its path."""
        return self._write_secret(self.path("secrets", name), text)

    def gateway_conf(self, protocol="upnp", **keys):
        """The [gateway] section for this bed: upnp_url for upnp/auto, plus keys."""
        lines = ["[gateway]", "protocol = %s" % protocol]
        if protocol in ("upnp", "auto") and "upnp_url" not in keys:
            lines.append("upnp_url = %s" % self.upnp_url)
        for k, v in keys.items():
            if v is not None:
                lines.append("%s = %s" % (k, _ini(v)))
        return "\n".join(lines) + "\n"

    def service_section(self, name, internal_port, external_port=None, protocol="tcp", **keys):
        lines = ["[service:%s]" % name, "protocol = %s" % protocol,
                 "internal_port = %d" % internal_port]
        if external_port is not None:
            lines.append("external_port = %d" % external_port)
        for k, v in keys.items():
            if v is not None:
                lines.append("%s = %s" % (k, _ini(v)))
        return "\n".join(lines) + "\n"

    def rfc2136_conf(self, keyfile=False, **over):
        """Key lines for provider = rfc2136 against the bed's BIND. keyfile=True hands
        over a BIND key file (key_name/key_algorithm then come from it)."""
        if keyfile:
            path = self.secret_file("tsig.key", 'key "%s" {\n\talgorithm %s;\n\tsecret "%s";\n};\n'
                                    % (self.key_name, self.key_algorithm, self.key_secret))
            keys = {"provider": "rfc2136", "server": self.dns_server, "zone": self.zone,
                    "key_secret_file": path}
        else:
            path = self.secret_file("tsig.secret", self.key_secret + "\n")
            keys = {"provider": "rfc2136", "server": self.dns_server, "zone": self.zone,
                    "key_name": self.key_name, "key_algorithm": self.key_algorithm,
                    "key_secret_file": path}
        return _lines(keys, over)

    def standin_conf(self, provider="dyndns2", **over):
        """Key lines for an HTTPS provider served by the stand-in (with ca_file).
        Presets (noip, dyndns, dynu, he, ...) get only credentials and ca_file: their
        built-in host names resolve to the stand-in inside the bed."""
        acc = self.standin.accounts
        keys = {"provider": provider}
        if provider in ("dyndns2",) or provider not in ("cloudflare", "duckdns", "webhook",
                                                        "alidns", "dnspod"):
            user, info = next(iter(acc["dyndns2"].items()))
            if provider == "dyndns2":
                keys["server"] = self.standin_url + "/nic/update"
            keys["username"] = user
            keys["password_file"] = self.secret_file("%s.pass" % provider, info["password"] + "\n")
        elif provider == "cloudflare":
            keys["token_file"] = self.secret_file("cloudflare.token", acc["cloudflare"]["tokens"][0])
            keys["zone"] = next(iter(acc["cloudflare"]["zones"]))
        elif provider == "duckdns":
            keys["token_file"] = self.secret_file("duckdns.token", next(iter(acc["duckdns"])))
        elif provider == "webhook":
            keys["url"] = self.standin_url + "/webhook?ip=%ip%&hostname=%hostname%"
            keys["method"] = "GET"
        elif provider in ("alidns", "dnspod"):
            # the built-in API URL, resolved to the stand-in inside the bed
            key_id, secret = next(iter(acc[provider]["keys"].items()))
            keys["key_id"] = key_id
            keys["key_secret_file"] = self.secret_file("%s.secret" % provider, secret + "\n")
            keys["zone"] = acc[provider]["zones"][0]
        keys["ca_file"] = self.ca_file
        return _lines(keys, over)

    def ddns_section(self, name, provider, hostnames, **keys):
        """A whole [ddns:NAME] section: rfc2136 against BIND, anything else against the
        stand-in; keys override or add (None removes)."""
        if isinstance(hostnames, str):
            hostnames = [hostnames]
        body = (self.rfc2136_conf(**keys) if provider == "rfc2136"
                else self.standin_conf(provider, **keys))
        return "[ddns:%s]\n%shostname = %s\n" % (name, body, ", ".join(hostnames))

    # -- the daemon ------------------------------------------------------------------------
    def start_daemon(self, conf_text="", dropins=None, secrets=None, args=(), ns="lan",
                     wait=True, timeout=20, wrapper=()):
        """Run homeportd -c FILE -v ARGS in a LAN namespace; see Daemon."""
        d = Daemon(self, conf_text, dropins, secrets, args, ns, wrapper)
        self._daemons.append(d)
        d.start(wait=wait, timeout=timeout)
        return d

    # -- close ------------------------------------------------------------------------------
    def logs(self):
        """{label: path} of every log the bed keeps."""
        out = {}
        if self.tmp and os.path.isdir(self.tmp):
            for n in sorted(os.listdir(self.tmp)):
                if n.endswith(".log") or n.endswith(".jsonl"):
                    out[n] = self.path(n)
            for d in self._daemons:
                out["daemon-%d" % d.index] = d.log
        return out

    def dump_logs(self, lines=30, out=None):
        out = out or sys.stdout
        for name, path in self.logs().items():
            t = _tail(path, lines)
            if t:
                out.write("----- %s (%s) -----\n%s\n" % (name, path, t))

    def close(self):
        """End every process by PID, delete the namespaces, /etc/netns files and the
        temp dir. Idempotent; if interrupted, the bed stays registered so that the
        exit handler finishes the job."""
        if self.closed:
            return
        for d in self._daemons:
            if d.proc is not None and d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait()
            d._close_log()
        for label, p, logf in list(self._procs):
            if p.poll() is None:
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
        for label, p, logf in list(self._procs):
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
            logf.close()
        self._procs = []
        # anything else still running in our namespaces was started there by a
        # test (through run/popen or by hand): end it by PID
        left = [pid for ns in self._ns_made for pid in _ns_pids(ns)]
        if left:
            _kill_pids(left)
        if self._ns_made:
            subprocess.run(["ip", "-force", "-batch", "-"], input="".join(
                "netns del %s\n" % n for n in self._ns_made), text=True,
                capture_output=True)
        for d in self._etc_dirs:
            shutil.rmtree(d, ignore_errors=True)
        if self._etc_dirs:
            try:
                os.rmdir("/etc/netns")      # only when empty: others may use it
            except OSError:
                pass
        if self.tmp:
            if os.environ.get("HOMEPORT_BED_KEEP"):
                sys.stderr.write("test bed: kept %s\n" % self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        self.closed = True
        with _live_lock:
            _live.discard(self)


def _v4mapped(ip):
    return b"\0" * 10 + b"\xff\xff" + socket.inet_aton(ip)


def _pcp_header(opcode, lifetime, client):
    return struct.pack("!BBHI", 2, opcode, 0, lifetime) + _v4mapped(client)
def _ip6_text(v):
    """An nft JSON value for an IPv6 address ("0x2001..." when matched raw) as text."""
    if isinstance(v, str) and v.startswith("0x"):
        return str(ipaddress.IPv6Address(int(v, 16)))
    return v


def _family(ip):
    return socket.AF_INET6 if ":" in str(ip) else socket.AF_INET


def _ini(v):
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v)


def _lines(keys, over):
    keys = dict(keys)
    for k, v in over.items():
        if v is None:
            keys.pop(k, None)
        else:
            keys[k] = v
    return "".join("%s = %s\n" % (k, _ini(v)) for k, v in keys.items())


# -------------------------------------------------------------------------------------------

class Announcements:
    """Collects NAT-PMP announcements (224.0.0.1:5350) seen in a LAN namespace,
    or with kind="pcp" PCP ANNOUNCE messages."""

    def __init__(self, bed, ns="lan", kind="natpmp"):
        self.bed, self.ns, self.kind = bed, ns, kind
        self.items = []
        self.cond = threading.Condition()
        self.sock = None
        self.thread = None
        self.stopping = False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    def start(self):
        ip = self.bed.lan_ip if self.ns == "lan" else self.bed.lan2_ip
        s = self.bed.socket(self.ns, socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("224.0.0.1", 5350))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                     socket.inet_aton("224.0.0.1") + socket.inet_aton(ip))
        s.settimeout(0.1)
        self.sock = s
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def _loop(self):
        while not self.stopping:
            try:
                data, peer = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                break
            item = None
            if self.kind == "natpmp" and len(data) >= 12 and data[0] == 0 and data[1] == 128:
                _, _, code, epoch = struct.unpack("!BBHI", data[:8])
                item = {"ip": socket.inet_ntoa(data[8:12]), "epoch": epoch, "result": code,
                        "from": peer[0], "time": time.monotonic()}
            elif self.kind == "pcp" and len(data) >= 24 and data[0] == 2 and data[1] == 0x80:
                item = {"epoch": struct.unpack("!I", data[8:12])[0], "result": data[3],
                        "from": peer[0], "time": time.monotonic()}
            if item:
                with self.cond:
                    self.items.append(item)
                    self.cond.notify_all()

    def wait(self, n=1, timeout=5.0, pred=None):
        """Wait until n announcements (matching pred) arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [i for i in self.items if pred is None or pred(i)]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BedError("got %d %s announcements, wanted %d: %r"
                                   % (len(got), self.kind, n, self.items))
                self.cond.wait(left)

    def close(self):
        self.stopping = True
        if self.thread:
            self.thread.join()
        if self.sock:
            self.sock.close()


class Standin:
    """Client side of the HTTPS stand-in: its log, its records, its switches."""

    def __init__(self, bed):
        self.bed = bed

    @property
    def log_file(self):
        return self.bed.path("standin.jsonl")

    @property
    def control_path(self):
        return self.bed.path("standin.sock")

    @property
    def accounts(self):
        sys.path.insert(0, HERE)
        try:
            import standin as s
        finally:
            sys.path.remove(HERE)
        acc = json.loads(json.dumps(s.DEFAULT_ACCOUNTS))
        for k, v in self.bed.standin_accounts.items():
            acc.setdefault(k, {}).update(v)
        return acc

    def call(self, **req):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(self.control_path)
            s.sendall((json.dumps(req) + "\n").encode())
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        r = json.loads(data)
        if not r.get("ok"):
            raise BedError("stand-in control %r: %s" % (req, r.get("error")))
        return r

    def log(self, since=0, api=None):
        """Requests seen (one dict each), from index `since` on."""
        try:
            with open(self.log_file) as f:
                text = f.read()
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines()[since:]:
            try:
                e = json.loads(line)
            except ValueError:
                break
            if api is None or e.get("api") == api:
                out.append(e)
        return out

    def mark(self):
        """Index to pass as since= to see only later requests."""
        return len(self.log())

    def wait_log(self, n=1, since=0, api=None, pred=None, timeout=10.0):
        """Wait until n requests (matching api/pred) are logged; return them."""
        def got():
            es = [e for e in self.log(since, api) if pred is None or pred(e)]
            return es if len(es) >= n else None
        return wait_until(got, timeout, "%d stand-in request(s)" % n, interval=0.01)

    def checkip(self, host, mode="echo", ip=None, delay=None, format=None):
        """How checkip stand-in `host` (a name from CHECKIP_HOSTS, or its letter)
        answers from now on: echo (the caller's address), lie (ip), private,
        garbage, 500, close; format "page" answers Dyn's checkip page."""
        if len(host) == 1:
            host = "checkip-%s.example.test" % host
        self.call(op="checkip", host=host, mode=mode, ip=ip, delay=delay, format=format)

    def checkip_log(self, since=0, host=None):
        """The checkip requests logged, optionally of one host (or its letter)."""
        if host and len(host) == 1:
            host = "checkip-%s.example.test" % host
        return [e for e in self.log(since, api="checkip")
                if host is None or e["headers"].get("Host", "").split(":")[0] == host]

    def records(self):
        """{name: {type: {"content", "ttl", "proxied", "id", "api", "updates", ...}}}"""
        return self.call(op="records")["records"]

    def ip_of(self, name, rtype="A"):
        r = self.records().get(name.lower().rstrip("."), {}).get(rtype)
        return r["content"] if r else None

    def fail(self, mode, count=None, api=None, retry_after=None, size=None, delay=None):
        """Answer with MODE (911 dnserr badauth nohost abuse badagent notfqdn numhost
        429 500 garbage huge close throttle) for `count` requests (None = until reset),
        for one api ("dyndns2", "cloudflare", "duckdns", "webhook", "alidns", "dnspod")
        or all."""
        self.call(op="set", fail=str(mode), count=count, api=api, retry_after=retry_after,
                  size=size, delay=delay)

    def slow(self, seconds, count=None, api=None):
        self.call(op="set", fail=None, delay=seconds, count=count, api=api)

    def reset(self):
        self.call(op="reset")

    def seed(self, name, content, rtype="A", ttl=1, proxied=False):
        return self.call(op="seed", name=name, content=content, type=rtype, ttl=ttl,
                         proxied=proxied)["record"]

    def delete(self, name, rtype=None):
        self.call(op="delete", name=name, type=rtype)

    def webhook_reply(self, status=200, body="ok", headers=None, content_type="text/plain"):
        self.call(op="webhook", status=status, body=body, headers=headers or {},
                  content_type=content_type)

    # -- Alibaba Cloud DNS and DNSPod (tests/bed/standin_cloud.py) --------------------
    def clock(self, skew):
        """Set the stand-in's clock (and its Date headers) skew seconds off."""
        self.call(op="clock", skew=skew)

    def index_lag(self, api, seconds):
        """New records of api stay out of its lookups for seconds."""
        self.call(op="cloud", api=api, index_lag=seconds)

    def cloud_records(self, api):
        """[{"id", "name", "zone", "rr", "type", "value", "line", "ttl", "updates"}, ...]"""
        return self.call(op="cloud_records", api=api)["records"]

    def cloud_values(self, api, name, rtype="A"):
        """The values of name's records of rtype, in creation order."""
        name = name.lower().rstrip(".")
        return [r["value"] for r in self.cloud_records(api)
                if r["name"] == name and r["type"] == rtype]

    def cloud_seed(self, api, name, value, rtype="A", line=None):
        return self.call(op="cloud_seed", api=api, name=name, value=value, type=rtype,
                         line=line)["record"]

    def cloud_delete(self, api, rid=None):
        """Delete record rid, or every record of api."""
        self.call(op="cloud_delete", api=api, id=rid)

    def add_accounts(self, **accounts):
        """e.g. add_accounts(dyndns2={"bob": {"password": "x", "hosts": ["b.dyn.example"]}})"""
        self.call(op="accounts", accounts=accounts)
        for k, v in accounts.items():
            self.bed.standin_accounts.setdefault(k, {}).update(v)


# -------------------------------------------------------------------------------------------

def build_dir():
    return os.environ.get("HOMEPORT_BUILD") or os.path.join(ROOT, "build")


class Daemon:
    """homeportd running in a LAN namespace of the bed, with its files in
    <bed tmp>/daemon-N/: homeport.conf, conf.d/, secrets next to the config,
    state/, run/homeportd.sock, homeportd.log (stdout+stderr). Without a bed
    (bed=None), ns is a namespace's full name and dir where the files go.
    The one Daemon class of the tests."""

    _n = itertools.count(1)

    def __init__(self, bed, conf_text, dropins=None, secrets=None, args=(), ns="lan",
                 wrapper=(), dir=None):
        self.bed, self.ns = bed, ns
        self.netns = bed.nsname(ns) if bed else ns
        self.index = next(Daemon._n)
        self.dir = dir or bed.path("daemon-%d" % self.index)
        self.conf = os.path.join(self.dir, "homeport.conf")
        self.include_dir = os.path.join(self.dir, "conf.d")
        self.state_dir = os.path.join(self.dir, "state")
        self.sock = os.path.join(self.dir, "run", "homeportd.sock")
        self.log = os.path.join(self.dir, "homeportd.log")
        self.args = list(args)
        self.wrapper = list(wrapper)
        self.homeportd = os.path.join(build_dir(), "homeportd")
        self.homeportctl = os.path.join(build_dir(), "homeportctl")
        self.proc = None
        self._logf = None
        for d in (self.dir, self.include_dir, self.state_dir, os.path.dirname(self.sock)):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        self.write_conf(conf_text)
        for name, text in (dropins or {}).items():
            self.dropin(name, text)
        for name, text in (secrets or {}).items():
            self.secret(name, text)

    # -- files -------------------------------------------------------------------------------
    def daemon_header(self):
        return {"state_dir": self.state_dir, "socket": self.sock, "include_dir": self.include_dir}

    def write_conf(self, text):
        """Write the main config; state_dir, socket and include_dir are added to its
        [daemon] section (or a new one) unless the text sets them."""
        keys = self.daemon_header()
        lines = text.splitlines()
        idx = next((i for i, l in enumerate(lines) if l.strip().lower() == "[daemon]"), None)
        if idx is None:
            head = ["[daemon]"] + ["%s = %s" % kv for kv in keys.items()]
            lines = head + lines
        else:
            # keys already set in the [daemon] section win
            end = next((j for j in range(idx + 1, len(lines))
                        if lines[j].strip().startswith("[")), len(lines))
            have = {l.split("=", 1)[0].strip() for l in lines[idx + 1:end] if "=" in l}
            add = ["%s = %s" % (k, v) for k, v in keys.items() if k not in have]
            lines = lines[:idx + 1] + add + lines[idx + 1:]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def dropin(self, name, text):
        path = os.path.join(self.include_dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def remove_dropin(self, name):
        os.unlink(os.path.join(self.include_dir, name))

    def secret(self, name, text, mode=0o600):
        """A secret file next to the config (so `*_file = NAME` finds it); returns its path."""
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    # -- process -------------------------------------------------------------------------------
    def _env(self):
        env = dict(os.environ)
        for k in ("CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID",
                  "WATCHDOG_USEC", "WATCHDOG_PID", "INVOCATION_ID"):
            env.pop(k, None)
        return env

    def start(self, args=None, wait=True, timeout=20):
        """Start homeportd -c CONF -v ARGS (in the foreground, in the namespace). With
        wait, return once `homeportctl status` answers (raise if it exits first)."""
        if self.proc is not None and self.proc.poll() is None:
            raise BedError("homeportd already running")
        if args is not None:
            self.args = list(args)
        if not os.path.exists(self.homeportd):
            raise BedError("%s missing: run make" % self.homeportd)
        self._close_log()
        self._logf = open(self.log, "ab")
        self._log_offset = self._logf.tell()
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.netns] + self.wrapper +
            [self.homeportd, "-c", self.conf, "-v"] + self.args,
            stdout=self._logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=self._env(), start_new_session=True)
        if wait:
            def up():
                return os.path.exists(self.sock) and self.ctl("status", timeout=5)[0] == 0

            def died():
                if self.proc.poll() is not None:
                    return "homeportd exited %s:\n%s" % (self.proc.returncode, self.logtext()[-4000:])
                return None
            try:
                wait_until(up, timeout, "homeportd to answer on its socket", interval=0.01,
                           fail=died)
            except BedError as e:
                raise AssertionError(str(e) + "\n" + self.logtext()[-4000:])
        return self

    def restart(self, args=None, wait=True, timeout=20):
        """Stop (SIGTERM) and start again with the same files."""
        self.stop()
        return self.start(args, wait, timeout)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=None, timeout=10):
        """Send sig (SIGTERM), wait; return the exit code (SIGKILL + AssertionError on timeout)."""
        sig = _signal.SIGTERM if sig is None else sig
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._close_log()
                raise AssertionError("homeportd did not exit within %s s after %s"
                                     % (timeout, _signal.Signals(sig).name))
        self._close_log()
        return self.proc.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_log()
        return self.proc.returncode if self.proc else None

    def wait_exit(self, timeout=10):
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is not None:
                self._close_log()

    def _close_log(self):
        if self._logf is not None:
            self._logf.close()
            self._logf = None

    # -- control ------------------------------------------------------------------------------
    def ctl(self, *args, timeout=15):
        """homeportctl -s SOCK ARGS in the daemon's namespace: (rc, stdout, stderr)."""
        p = subprocess.run(["ip", "netns", "exec", self.netns, self.homeportctl,
                            "-s", self.sock] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def status(self):
        rc, out, err = self.ctl("status", "--json")
        if rc != 0:
            raise AssertionError("homeportctl status --json: rc %d: %s" % (rc, err))
        return json.loads(out)

    def wait_for(self, predicate, timeout=10, interval=0.05):
        """Poll status() until predicate(status) is true; return that status. A
        predicate that raises KeyError/TypeError/IndexError/ValueError counts as false."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                last = self.status()
                if predicate(last):
                    return last
            except (KeyError, TypeError, IndexError, ValueError, AssertionError):
                pass
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("homeportd exited %s while waiting; last status %s\n%s"
                                     % (self.proc.returncode, json.dumps(last),
                                        self.logtext()[-4000:]))
            if time.monotonic() > deadline:
                raise AssertionError("condition not met within %s s; last status:\n%s\n"
                                     "log tail:\n%s" % (timeout, json.dumps(last, indent=1),
                                                        self.logtext()[-4000:]))
            time.sleep(interval)

    def logtext(self, current=False):
        """The daemon's log (stdout+stderr); current=True: only since the last start."""
        try:
            with open(self.log, errors="replace") as f:
                if current:
                    f.seek(getattr(self, "_log_offset", 0))
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=10, current=True):
        """Wait until `text` (a substring or a compiled regex) appears in the log
        (by default in what this run of the daemon wrote); returns the match."""
        def seen():
            t = self.logtext(current)
            return (text.search(t) if hasattr(text, "search") else text in t)
        return wait_until(seen, timeout, "%r in the homeportd log" % (text,), interval=0.01)
