"""The SysV init script (contrib/sysvinit/homeportd.init) on the bed: start runs
the daemon detached (--daemon --pidfile) as an ordinary user, status,
reload and stop work, and stop removes the mappings."""
import os
import pwd
import subprocess

import pytest

from bed import wait_until

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "contrib", "sysvinit", "homeportd.init")
NOBODY = pwd.getpwnam("nobody")


def _init(bed, defaults, action):
    env = dict(os.environ, HOMEPORTD_DEFAULTS=defaults)
    return subprocess.run(["ip", "netns", "exec", bed.nsname("lan"), "sh", SCRIPT, action],
                          capture_output=True, text=True, timeout=30, env=env)


def written_pid(path):
    """The pid in the file once its line is whole (the daemon truncates it,
    then writes "PID\n" in one write), else None."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    return int(text) if text.endswith("\n") else None


def test_sysv_init_script(bed):
    if not os.path.exists("/lib/lsb/init-functions"):
        pytest.skip("/lib/lsb/init-functions missing")
    build = os.environ.get("HOMEPORT_BUILD", os.path.join(REPO, "build"))
    base = bed.path("sysv")
    rundir, statedir = os.path.join(base, "run"), os.path.join(base, "state")
    os.makedirs(base)
    os.chmod(bed.tmp, 0o711)
    os.chmod(base, 0o755)
    conf = os.path.join(base, "homeport.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\nstate_dir = %s\nsocket = %s/homeportd.sock\ninclude_dir = none.d\n\n"
                % (statedir, rundir) + bed.gateway_conf("upnp") + "\n" +
                bed.service_section("web", 8080, 18080))
    defaults = os.path.join(base, "defaults")
    with open(defaults, "w") as f:
        f.write('DAEMON=%s/homeportd\nUSER=nobody\nRUNDIR=%s\nSTATEDIR=%s\n'
                'PIDFILE=$RUNDIR/homeportd.pid\nDAEMON_ARGS="-c %s"\n'
                % (build, rundir, statedir, conf))
    pidfile = os.path.join(rundir, "homeportd.pid")
    ctl = [os.path.join(build, "homeportctl"), "-s", os.path.join(rundir, "homeportd.sock")]

    r = _init(bed, defaults, "start")
    assert r.returncode == 0, r.stdout + r.stderr
    pid = wait_until(lambda: written_pid(pidfile), what="the pid file")
    try:
        assert os.stat("/proc/%d" % pid).st_uid == NOBODY.pw_uid
        wait_until(lambda: bed.reaches(18080, "tcp"), what="the service mapped")
        assert _init(bed, defaults, "status").returncode == 0
        r = _init(bed, defaults, "reload")
        assert r.returncode == 0, r.stdout + r.stderr
        assert subprocess.run(ctl + ["status"], capture_output=True).returncode == 0
        # A second start is a no-op: the same daemon keeps running.
        _init(bed, defaults, "start")
        assert int(open(pidfile).read()) == pid
        r = _init(bed, defaults, "stop")
        assert r.returncode == 0, r.stdout + r.stderr
        wait_until(lambda: not os.path.exists("/proc/%d" % pid), what="the daemon to exit")
        assert not [m for m in bed.mappings() if m["ext_port"] == 18080]
        assert _init(bed, defaults, "status").returncode != 0
    finally:
        if os.path.exists("/proc/%d" % pid):
            os.kill(pid, 9)

    # A daemon that cannot start (its socket directory cannot be made) makes
    # "start" fail, instead of the init script reporting a success.
    bad_conf = os.path.join(base, "bad.conf")
    with open(bad_conf, "w") as f:
        f.write("[daemon]\nstate_dir = %s\nsocket = /proc/homeport-test/homeportd.sock\n"
                "include_dir = none.d\n\n" % statedir + bed.gateway_conf("upnp"))
    with open(defaults, "a") as f:
        f.write('DAEMON_ARGS="-c %s"\n' % bad_conf)
    r = _init(bed, defaults, "start")
    assert r.returncode != 0, r.stdout + r.stderr
    assert not os.path.exists(pidfile) or not os.path.exists("/proc/%s" % open(pidfile).read().strip())
