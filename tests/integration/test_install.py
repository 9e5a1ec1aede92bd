"""`make install DESTDIR=...` installs what running homeportd as a service needs,
with paths that match PREFIX; `systemd-analyze verify` accepts the installed
units (seen at their real paths: a private mount namespace binds the staged
tree over PREFIX, the host is untouched); `make uninstall` takes it all back
but the configuration."""
import os
import pwd
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("HOMEPORT_BUILD", os.path.join(REPO, "build"))

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(BUILD, "homeportd")),
                                reason="homeportd not built: run make")


def make(*args, **env):
    p = subprocess.run(["make", "-s", "-C", REPO, "BUILD=" + BUILD] + list(args),
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, **env))
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, fs in os.walk(root) for f in fs)


@pytest.mark.parametrize("prefix,init", [("/usr/local", "sysv"), ("/opt/hp", "none")])
def test_install_paths_follow_prefix(tmp_path, prefix, init):
    dest = str(tmp_path / "dest")
    make("install", "DESTDIR=" + dest, "PREFIX=" + prefix, "INIT_SCRIPT=" + init)
    p = prefix.lstrip("/")
    got = files(dest)
    for f in ("sbin/homeportd", "bin/homeportctl", "share/man/man5/homeport.conf.5",
              "share/man/man8/homeportd.8", "share/man/man8/homeportctl.8",
              "lib/systemd/system/homeportd.service", "lib/systemd/system/homeport-metrics.service",
              "lib/systemd/system/homeport-metrics.timer", "lib/sysusers.d/homeport.conf",
              "lib/tmpfiles.d/homeport.conf", "share/doc/homeport/examples/notify.conf.disabled",
              "libexec/homeport/homeport-upnp-helper", "libexec/homeport/homeport-http-helper"):
        assert os.path.join(p, f) in got, (f, got)
    assert "etc/homeport/homeport.conf" in got
    assert ("etc/init.d/homeportd" in got) == (init == "sysv")
    unit = open(os.path.join(dest, p, "lib/systemd/system/homeportd.service")).read()
    assert "ExecStart=%s/sbin/homeportd -c /etc/homeport/homeport.conf\n" % prefix in unit
    assert "@SBINDIR@" not in unit and "@SYSCONFDIR@" not in unit
    metrics = open(os.path.join(dest, p, "lib/systemd/system/homeport-metrics.service")).read()
    assert "%s/bin/homeportctl metrics" % prefix in metrics
    if init == "sysv":
        script = open(os.path.join(dest, "etc/init.d/homeportd")).read()
        assert "\nDAEMON=%s/sbin/homeportd\n" % prefix in script
        assert os.access(os.path.join(dest, "etc/init.d/homeportd"), os.X_OK)
    # the sample config installed is valid as it is
    conf = os.path.join(dest, "etc/homeport/homeport.conf")
    r = subprocess.run([os.path.join(dest, p, "sbin/homeportd"), "-n", "-c", conf],
                       capture_output=True, text=True)
    try:
        pwd.getpwnam("homeport")
        assert r.returncode == 0, r.stderr
    except KeyError:
        # it sets user = homeport, which only a real install creates
        # (contrib/postinstall.sh): that must be its one and only error
        assert r.returncode == 78 and r.stderr.count("\n") == 1, r.stderr
        assert r.stderr.endswith(': user: no such user "homeport"\n'), r.stderr

    make("uninstall", "DESTDIR=" + dest, "PREFIX=" + prefix)
    assert files(dest) == ["etc/homeport/homeport.conf"], files(dest)


def test_installed_user_and_directories(tmp_path):
    """What `make install` runs on a live system (contrib/postinstall.sh), into a
    staged root: the homeport user and group, the state and runtime directories."""
    for tool in ("systemd-sysusers", "systemd-tmpfiles"):
        if not shutil.which(tool):
            pytest.skip("%s missing (Debian package systemd)" % tool)
    dest = str(tmp_path / "dest")
    make("install", "DESTDIR=" + dest, "INIT_SCRIPT=none")
    lib = os.path.join(dest, "usr/local/lib")
    for cmd in (["systemd-sysusers", "--root=" + dest, lib + "/sysusers.d/homeport.conf"],
                ["systemd-tmpfiles", "--root=" + dest, "--create",
                 lib + "/tmpfiles.d/homeport.conf"]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    users = {l.split(":")[0]: l.split(":") for l in open(os.path.join(dest, "etc/passwd"))}
    assert "homeport" in users and users["homeport"][5] == "/var/lib/homeport"
    uid, gid = int(users["homeport"][2]), int(users["homeport"][3])
    for d in ("var/lib/homeport", "run/homeport"):
        st = os.stat(os.path.join(dest, d))
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (uid, gid, 0o750), d
    # the unit runs the daemon as that user
    unit = open(os.path.join(lib, "systemd/system/homeportd.service")).read()
    assert "\nUser=homeport\n" in unit and "\nStateDirectory=homeport\n" in unit


def test_installed_units_pass_systemd_analyze_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze missing (Debian package systemd): cannot verify the unit")
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare for a private mount namespace")
    dest = str(tmp_path / "dest")
    make("install", "DESTDIR=" + dest, "PREFIX=/usr/local", "INIT_SCRIPT=none")
    units = "/usr/local/lib/systemd/system/"
    script = ("mount --make-rprivate / && mount --bind %s/usr/local /usr/local && "
              "systemd-analyze verify %shomeportd.service && "
              "systemd-analyze verify %shomeport-metrics.service %shomeport-metrics.timer"
              % (dest, units, units, units))
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    # the check can fail: a unit whose ExecStart points where nothing was installed
    broken = os.path.join(dest, "usr/local/lib/systemd/system/homeportd.service")
    with open(broken) as f:
        text = f.read()
    with open(broken, "w") as f:
        f.write(text.replace("/usr/local/sbin/homeportd", "/usr/local/sbin/nothing-here"))
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode != 0 and "nothing-here" in r.stdout + r.stderr
