"""Shared helpers for the homeport benchmarks (bench/*.py).

Everything runs on the namespace test bed (tests/bed/): traffic stays inside
the bed's namespaces. Baseline programs (inadyn, ddclient) are taken from
Debian's archive with `apt-get download` + `dpkg -x` into a cache directory,
never installed (their packages would start services).
"""
import glob
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from bed import Bed, build_dir  # noqa: E402  (re-exported for the scripts)

CACHE = os.environ.get("HOMEPORT_BENCH_CACHE", "/var/tmp/homeport-bench")


# -- small utilities ---------------------------------------------------------------------
def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(v, unit="", prec=1):
    if v is None:
        return "n/a"
    return ("%%.%df%%s" % prec) % (v, unit)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    if r is None:
        return "n/a"
    return "%.2fx" % r if r >= 0.1 else "%.3gx" % r


def table(headers, rows, out=sys.stdout):
    """Print a plain-text table (left column left-aligned, others right-aligned)."""
    cols = [[str(h)] + [str(r[i]) for r in rows] for i, h in enumerate(headers)]
    width = [max(len(c) for c in col) for col in cols]
    def line(cells):
        return "  ".join(c.ljust(width[0]) if i == 0 else c.rjust(width[i])
                         for i, c in enumerate(cells))
    out.write(line([str(h) for h in headers]) + "\n")
    out.write("  ".join("-" * w for w in width) + "\n")
    for r in rows:
        out.write(line([str(c) for c in r]) + "\n")
    out.flush()


def print_problems(problems):
    """The problems a benchmark run saw, after its figures (nothing if none)."""
    if problems:
        print()
        print("PROBLEMS SEEN (%d):" % len(problems))
        for p in problems:
            print(" - " + p.rstrip())


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def require_root():
    if os.geteuid() != 0:
        sys.exit("this benchmark needs root (network namespaces)")


# -- memory --------------------------------------------------------------------------------
def children_of(pid):
    """Direct and indirect children of pid (by scanning /proc)."""
    parent = {}
    for st in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(st) as f:
                data = f.read()
            p = int(st.split("/")[2])
            ppid = int(data.rsplit(")", 1)[1].split()[1])
            parent[p] = ppid
        except (OSError, ValueError, IndexError):
            continue
    out, todo = [], [pid]
    while todo:
        cur = todo.pop()
        for p, pp in parent.items():
            if pp == cur:
                out.append(p)
                todo.append(p)
    return out


def mem_kb(pid):
    """{'rss': VmRSS kB, 'private': Private_Clean+Private_Dirty kB, 'pss': Pss kB} or None."""
    try:
        rss = None
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        priv = pss = 0
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                k, _, rest = line.partition(":")
                if k in ("Private_Clean", "Private_Dirty"):
                    priv += int(rest.split()[0])
                elif k == "Pss":
                    pss = int(rest.split()[0])
        return {"rss": rss, "private": priv, "pss": pss}
    except (OSError, ValueError):
        return None


def mem_by_mapping(pid):
    """{file name or [heap]/[anon]...: {'rss','pss','private'} kB} from /proc/PID/smaps."""
    out, cur = {}, None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                parts = line.split()
                if "-" in parts[0] and not parts[0].endswith(":"):
                    cur = out.setdefault(os.path.basename(parts[5]) if len(parts) > 5
                                         else "[anon]", {"rss": 0, "pss": 0, "private": 0})
                elif parts[0] == "Rss:":
                    cur["rss"] += int(parts[1])
                elif parts[0] == "Pss:":
                    cur["pss"] += int(parts[1])
                elif parts[0] in ("Private_Clean:", "Private_Dirty:"):
                    cur["private"] += int(parts[1])
    except (OSError, ValueError, IndexError):
        return {}
    return out


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def tree_mem_kb(pid):
    """Memory of pid and of every process below it: (main, [children], total)."""
    main = mem_kb(pid)
    kids = []
    for c in children_of(pid):
        m = mem_kb(c)
        if m:
            m["pid"], m["comm"] = c, comm(c)
            kids.append(m)
    total = None
    if main:
        total = {k: main[k] + sum(m[k] for m in kids) for k in ("rss", "private", "pss")}
    return main, kids, total


# -- the daemon's control socket (same one-line protocol homeportctl speaks) ---------------
def ctl_status(sock_path, timeout=1.0):
    """`homeportctl status --json`, without forking: send 'status\\n', read the JSON."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(b"status\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return json.loads(data)
    except (OSError, ValueError):
        return None
    finally:
        s.close()


# -- DNS, in-process (no dig fork per poll) -------------------------------------------------
def dns_query_a(sock, server, name, timeout=0.5, rtype=1):
    """One A query (rtype=28: AAAA) over an already-created UDP socket (in the
    right namespace); returns the list of addresses in the answer ([] when none,
    None on timeout)."""
    qid = int.from_bytes(os.urandom(2), "big")
    q = struct.pack(">HHHHHH", qid, 0x0000, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", rtype, 1)
    sock.settimeout(timeout)
    sock.sendto(q, server)
    deadline = time.monotonic() + timeout
    while True:
        try:
            data, _ = sock.recvfrom(4096)
        except socket.timeout:
            return None
        if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == qid:
            break
        if time.monotonic() > deadline:
            return None
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", data[:12])
    pos = 12

    def skip_name(p):
        while True:
            ln = data[p]
            if ln == 0:
                return p + 1
            if ln & 0xC0 == 0xC0:
                return p + 2
            p += 1 + ln
    for _ in range(qd):
        pos = skip_name(pos) + 4
    out = []
    for _ in range(an):
        pos = skip_name(pos)
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
        pos += 10
        if rtype == 1 and rdlen == 4:
            out.append(socket.inet_ntoa(data[pos:pos + 4]))
        elif rtype == 28 and rdlen == 16:
            out.append(socket.inet_ntop(socket.AF_INET6, data[pos:pos + 16]))
        pos += rdlen
    return out


# -- baselines from Debian's archive ---------------------------------------------------------
def debian_tool(pkg, rel_binary, extra_pkgs=()):
    """Path of a baseline binary unpacked (not installed) from Debian's archive, plus the
    library directory to put in LD_LIBRARY_PATH. Already-installed copies are used as is.
    Returns (binary, libdir or None) or (None, reason)."""
    installed = shutil.which(os.path.basename(rel_binary))
    if installed:
        return installed, None
    root = os.path.join(CACHE, "debs", pkg)
    binary = os.path.join(root, rel_binary.lstrip("/"))
    libdir = os.path.join(root, "usr/lib/x86_64-linux-gnu")
    if not os.path.exists(binary):
        os.makedirs(root, exist_ok=True)
        dl = tempfile.mkdtemp(prefix="dl-", dir=os.path.join(CACHE, "debs"))
        os.chmod(dl, 0o777)   # apt's _apt user writes here
        try:
            for p in (pkg,) + tuple(extra_pkgs):
                r = subprocess.run(["apt-get", "download", p], cwd=dl, capture_output=True,
                                   text=True)
                if r.returncode != 0:
                    return None, "apt-get download %s failed: %s" % (p, r.stderr.strip()[-300:])
            for deb in glob.glob(os.path.join(dl, "*.deb")):
                subprocess.run(["dpkg", "-x", deb, root], check=True)
        finally:
            shutil.rmtree(dl, ignore_errors=True)
    if not os.path.exists(binary):
        return None, "%s not found in the %s package" % (rel_binary, pkg)
    return binary, (libdir if os.path.isdir(libdir) else None)


def inadyn_binary():
    """inadyn needs libconfuse2, which Debian 12 does not install by default: unpack it too
    unless the system already has it."""
    have_confuse = bool(glob.glob("/usr/lib/x86_64-linux-gnu/libconfuse.so.2*"))
    return debian_tool("inadyn", "/usr/bin/inadyn", () if have_confuse else ("libconfuse2",))


def ddclient_binary():
    return debian_tool("ddclient", "/usr/bin/ddclient")


# -- a checkip server for the baselines --------------------------------------------------------
CHECKIP_PY = r'''
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("<html><body>Current IP Address: %s</body></html>\n" % self.client_address[0]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        sys.stderr.write("checkip %s %s\n" % (self.client_address[0], self.path)); sys.stderr.flush()
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
srv = S((sys.argv[1], int(sys.argv[2])), H)
open(sys.argv[3], "w").close()
srv.serve_forever()
'''

CHECKIP_PORT = 8245


def start_checkip(bed):
    """A tiny HTTP checkip service in the wan namespace (like checkip.dyndns.org): it
    answers with the client's source address, i.e. the router's WAN IP after NAT."""
    path = bed.path("checkip.py")
    with open(path, "w") as f:
        f.write(CHECKIP_PY)
    ready = bed.path("checkip.ready")
    p = bed.popen("wan", [sys.executable, path, bed.wan_ip, str(CHECKIP_PORT), ready],
                  label="checkip")
    deadline = time.monotonic() + 10
    while not os.path.exists(ready):
        if p.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("checkip server did not start; see %s" % p.log)
        time.sleep(0.01)
    return p


def dyndns2_account(bed):
    user, info = next(iter(bed.standin.accounts["dyndns2"].items()))
    return user, info["password"]


def start_inadyn(bed, hostname, period, ns="lan", label="inadyn", checkip_host=None):
    """Debian's inadyn in a LAN namespace, updating `hostname` (or a list of names) on
    the stand-in's dyndns2 API (custom provider over HTTPS with the bed's CA), checking
    the IP every `period` seconds (None: inadyn's own default) at the bed's checkip
    server, or over HTTPS at `checkip_host` (one of the stand-in's CHECKIP_HOSTS).
    Returns the Popen (its pid is inadyn's)."""
    binary, libdir = inadyn_binary()
    if not binary:
        raise RuntimeError(libdir)
    user, pw = dyndns2_account(bed)
    d = bed.path(label)
    os.makedirs(os.path.join(d, "cache"), exist_ok=True)
    conf = os.path.join(d, "inadyn.conf")
    with open(conf, "w") as f:
        f.write(('period = %d\n' % period if period else '') +
                'ca-trust-file = "%s"\n'
                'custom bench {\n'
                '    username       = "%s"\n'
                '    password       = "%s"\n'
                '    checkip-server = "%s"\n'
                '    checkip-path   = "/"\n'
                '    checkip-ssl    = %s\n'
                '    ssl            = true\n'
                '    ddns-server    = "%s"\n'
                '    ddns-path      = "/nic/update?hostname=%%h&myip=%%i"\n'
                '    hostname       = { %s }\n'
                '}\n' % (bed.ca_file, user, pw,
                         checkip_host or "%s:%d" % (bed.wan_ip, CHECKIP_PORT),
                         "true" if checkip_host else "false", bed.standin_host,
                         ", ".join('"%s"' % h for h in ([hostname] if isinstance(hostname, str)
                                                        else hostname))))
    os.chmod(conf, 0o600)
    env = dict(os.environ)
    if libdir:
        env["LD_LIBRARY_PATH"] = libdir
    return bed.popen(ns, [binary, "-n", "-l", "info", "-f", conf,
                          "--cache-dir", os.path.join(d, "cache"),
                          "-P", os.path.join(d, "inadyn.pid")], env=env, label=label)


def start_ddclient(bed, hostname, interval, ns="lan", label="ddclient", checkip_host=None):
    """Debian's ddclient (perl) in a LAN namespace, daemon mode, dyndns2 on the stand-in,
    IP from the bed's checkip server, or over HTTPS from `checkip_host` (one of the
    stand-in's CHECKIP_HOSTS)."""
    binary, err = ddclient_binary()
    if not binary:
        raise RuntimeError(err)
    if subprocess.run(["perl", "-MIO::Socket::SSL", "-e", "1"], capture_output=True).returncode:
        raise RuntimeError("ddclient needs perl's IO::Socket::SSL for HTTPS: "
                           "apt-get install libio-socket-ssl-perl")
    user, pw = dyndns2_account(bed)
    d = bed.path(label)
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "ddclient.conf")
    with open(conf, "w") as f:
        f.write("daemon=%d\n"
                "foreground=yes\n"
                "syslog=no\n"
                "verbose=yes\n"
                "pid=%s\n"
                "cache=%s\n"
                "ssl=yes\n"
                "ssl_ca_file=%s\n"
                "use=web, web=%s, web-skip='Current IP Address:'\n"
                "protocol=dyndns2\n"
                "server=%s\n"
                "login=%s\n"
                "password='%s'\n"
                "min-interval=0\n"
                "%s\n" % (interval, os.path.join(d, "ddclient.pid"),
                          os.path.join(d, "ddclient.cache"), bed.ca_file,
                          "https://%s/" % checkip_host if checkip_host else
                          "http://%s:%d/" % (bed.wan_ip, CHECKIP_PORT),
                          bed.standin_host, user, pw, hostname))
    os.chmod(conf, 0o600)
    return bed.popen(ns, [binary, "-file", conf, "-foreground", "-daemon", str(interval)],
                     label=label)


# -- our tool -------------------------------------------------------------------------------------
def bench_tool(name):
    """build/tools/NAME, built with make if missing; if make cannot build it (the tree is
    mid-edit), compile the stand-alone source directly into the cache."""
    path = os.path.join(build_dir(), "tools", name)
    if os.path.exists(path):
        return path
    src = os.path.join(ROOT, "tests", "tools", name + ".c")
    r = subprocess.run(["make", "-C", ROOT, os.path.relpath(path, ROOT)], capture_output=True,
                       text=True)
    if r.returncode == 0 and os.path.exists(path):
        return path
    os.makedirs(CACHE, exist_ok=True)
    alt = os.path.join(CACHE, name)
    subprocess.run(["cc", "-std=gnu11", "-O2", "-o", alt, src, "-lminiupnpc"], check=True)
    return alt
