"""Who the daemon runs as and who may tell it what (SPEC "Who may do what"), on
the bed with the real router and BIND.

A daemon started as root with [daemon] user = nobody runs as nobody (groups,
gid, uid; no capabilities; no_new_privs) and still maps, publishes, reloads its
root:group 0640 secret and serves its socket. Members of control_group get
status; refresh, update, reload and log-level are for root and the daemon's
user only, refused with a sentence and exit 1. A state directory that others
may write, or that is not the daemon's user's, is refused at start (exit 78).
The daemon works with /proc mounted as systemd's ProcSubset=pid mounts it.

homeportctl is run from the host namespace as other users with setpriv: the
control socket is a path, reachable from any network namespace."""
import grp
import os
import shutil
import signal
import subprocess

import pytest

from bed import Daemon

NOBODY = 65534
OTHER = 4242                   # a uid with no passwd entry: neither root nor nobody
EX_CONFIG = 78

pytestmark = pytest.mark.skipif(shutil.which("setpriv") is None,
                                reason="setpriv (util-linux) not installed")


def nogroup():
    return grp.getgrnam("nogroup").gr_gid


def ctl_as(d, uid, gid, groups, *args):
    """homeportctl -s SOCK ARGS as uid/gid with exactly these supplementary groups."""
    argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid]
    argv += ["--groups=" + ",".join(str(g) for g in groups)] if groups else ["--clear-groups"]
    p = subprocess.run(argv + [d.homeportctl, "-s", d.sock] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=15)
    return p.returncode, p.stdout, p.stderr


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict((k, v.strip()) for k, v in (l.split(":", 1) for l in f if ":" in l))


def process_tree(pid):
    """pid and every descendant (the UPnP helper)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for t in os.listdir("/proc/%d/task" % p):
            try:
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    todo += [int(c) for c in f.read().split()]
            except FileNotFoundError:
                pass
    return out


def nobody_conf(bed, daemon_keys="", protocol="auto"):
    name = "www." + bed.zone
    return ("[daemon]\nuser = nobody\n" + daemon_keys + "\n" + bed.gateway_conf(protocol) +
            "\n" + bed.ddns_section("home", "rfc2136", [name], ttl=60))


def prepare_for_nobody(bed, d):
    """What a package does for its user: state and socket dirs its own, the secret
    file root:GROUP 0640 in a root:GROUP 0750 directory."""
    for p in (d.state_dir, os.path.dirname(d.sock)):
        os.chown(p, NOBODY, nogroup())
    secrets = os.path.join(bed.tmp, "secrets")
    os.chown(secrets, 0, nogroup())
    os.chmod(secrets, 0o750)
    for f in os.listdir(secrets):
        os.chown(os.path.join(secrets, f), 0, nogroup())
        os.chmod(os.path.join(secrets, f), 0o640)


def start_nobody(bed, daemon_keys="", protocol="auto", wrapper=()):
    d = Daemon(bed, nobody_conf(bed, daemon_keys, protocol),
               {"web.conf": bed.service_section("web", 8080, 18080)}, None, (), "lan",
               list(wrapper))
    bed._daemons.append(d)             # stopped and cleaned up with the bed
    prepare_for_nobody(bed, d)
    return d.start()


def test_started_as_root_runs_as_user(bed):
    d = start_nobody(bed)
    st = d.wait_for(lambda s: s["services"][0]["state"] == "mapped"
                    and s["ddns"][0]["state"] == "ok", timeout=20)
    assert st["gateway"]["external_ip"] == bed.gw_wan_ip
    assert bed.reaches(18080, "tcp")
    assert bed.dig("www." + bed.zone) == [bed.gw_wan_ip]
    d.wait_log("running as user nobody (uid %d, gid %d)" % (NOBODY, nogroup()))
    assert "running as root" not in d.logtext()
    pids = process_tree(d.pid)
    for pid in pids:                    # the daemon and its helper, if any
        s = proc_status(pid)
        assert s["Uid"].split() == [str(NOBODY)] * 4, (pid, s["Uid"])
        assert s["Gid"].split() == [str(nogroup())] * 4, (pid, s["Gid"])
        assert s["Groups"].split() in ([], [str(nogroup())]), (pid, s["Groups"])
        # no capability left to become root again, and no set-uid program helps
        for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            assert int(s[cap], 16) == 0, (pid, cap, s[cap])
        assert s["NoNewPrivs"] == "1"
    # the socket is the daemon user's, its group the control group
    assert os.stat(d.sock).st_uid == NOBODY and os.stat(d.sock).st_gid == nogroup()
    assert os.stat(d.sock).st_mode & 0o777 == 0o660
    # after the switch it still reads its config and its root:nogroup 0640 secret
    rc, out, err = d.ctl("reload")
    assert rc == 0, out + err
    d.wait_log("configuration reloaded")
    assert d.stop() == 0
    assert not [m for m in bed.mappings() if m["ext_port"] == 18080]


def test_control_group_reads_only_owner_and_root_change(bed):
    d = start_nobody(bed)
    d.wait_for(lambda s: s["ddns"][0]["state"] == "ok", timeout=20)
    ng = nogroup()
    # a member of control_group (the daemon's group by default): by a supplementary
    # group, and by its primary group
    for gid, groups in ((OTHER, [ng]), (ng, [])):
        rc, out, err = ctl_as(d, OTHER, gid, groups, "status", "--json")
        assert rc == 0, err
        assert '"ddns"' in out
        for cmd in (["update"], ["update", "home"], ["reload"], ["refresh"],
                    ["log-level", "debug"]):
            rc, out, err = ctl_as(d, OTHER, gid, groups, *cmd)
            assert rc == 1, (cmd, rc, out, err)
            assert ('permission denied: "%s" changes what the daemon does; only root and '
                    "the daemon's user (nobody) may run it" % cmd[0]) in err, err
    d.wait_log('control: refused "update" from uid %d' % OTHER)
    assert "update requested" not in d.logtext()
    assert "reloading" not in d.logtext()
    # anyone else cannot even connect, and is told why
    rc, out, err = ctl_as(d, OTHER, OTHER, [], "status")
    assert rc == 1 and "permission denied on %s" % d.sock in err, (rc, err)
    # the daemon's own user and root may
    rc, out, err = ctl_as(d, NOBODY, ng, [], "update", "home")
    assert rc == 0, err
    d.wait_log("ddns home: update requested")
    rc, out, err = ctl_as(d, NOBODY, ng, [], "reload")
    assert rc == 0, err
    rc, out, err = d.ctl("log-level", "debug")          # root
    assert rc == 0, err
    rc, out, err = d.ctl("refresh")
    assert rc == 0, err
    d.wait_for(lambda s: s["ddns"][0]["state"] == "ok")


def test_other_control_group(bed):
    try:
        adm = grp.getgrnam("adm").gr_gid
    except KeyError:
        pytest.skip("no group adm here")
    d = start_nobody(bed, "control_group = adm")
    assert os.stat(d.sock).st_gid == adm
    rc, out, err = ctl_as(d, OTHER, OTHER, [adm], "status")
    assert rc == 0, err
    rc, out, err = ctl_as(d, OTHER, OTHER, [adm], "reload")
    assert rc == 1 and "permission denied" in err
    # the daemon's own group is no longer the control group
    rc, out, err = ctl_as(d, OTHER, OTHER, [nogroup()], "status")
    assert rc == 1 and "permission denied" in err


def test_root_without_user_warns_once(bed):
    d = bed.start_daemon(bed.gateway_conf("upnp"))
    d.wait_log("running as root: set [daemon] user")
    d.signal(signal.SIGHUP)
    d.wait_log("configuration reloaded")
    assert d.logtext().count("running as root") == 1


@pytest.mark.parametrize("mode,owner,why", [
    (0o757, 0, "writable by others"),
    (0o775, 0, "writable by others"),
    (0o750, OTHER, "is owned by uid %d, not by the daemon's user (uid 0)" % OTHER),
])
def test_unsafe_state_dir_refused(bed, mode, owner, why):
    d = Daemon(bed, bed.gateway_conf("upnp"), None, None, (), "lan")
    bed._daemons.append(d)
    os.chown(d.state_dir, owner, 0)
    os.chmod(d.state_dir, mode)
    d.start(wait=False)
    assert d.wait_exit() == EX_CONFIG
    text = d.logtext()
    assert "state_dir %s " % d.state_dir in text and why in text and "refusing to start" in text
    assert not os.path.exists(d.sock)


def test_state_dir_must_be_the_users(bed):
    d = Daemon(bed, nobody_conf(bed), None, None, (), "lan")
    bed._daemons.append(d)
    prepare_for_nobody(bed, d)
    os.chown(d.state_dir, 0, 0)                    # still root's
    d.start(wait=False)
    assert d.wait_exit() == EX_CONFIG
    assert "not by the daemon's user (uid %d)" % NOBODY in d.logtext()


def test_user_set_but_started_as_another(bed):
    d = Daemon(bed, "[daemon]\nuser = nobody\n" + bed.gateway_conf("upnp"), None, None, (),
               "lan", ["setpriv", "--reuid=%d" % OTHER, "--regid=%d" % OTHER, "--clear-groups"])
    bed._daemons.append(d)
    d.start(wait=False)
    assert d.wait_exit() == EX_CONFIG
    assert ("[daemon] user is nobody, but homeportd was started as uid %d: start it as root "
            "(it switches) or as nobody" % OTHER) in d.logtext()


def test_works_under_procsubset_pid(make_bed):
    """systemd's ProcSubset=pid hides /proc/net: the NAT-PMP gateway is still found."""
    bed = make_bed(upnp=False)
    proc_pid = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount -t proc -o subset=pid proc /proc && exec "$@"', "sh"]
    d = start_nobody(bed, protocol="natpmp", wrapper=proc_pid)
    st = d.wait_for(lambda s: s["services"][0]["state"] == "mapped", timeout=20)
    assert st["gateway"]["protocol"] == "natpmp"
    assert bed.reaches(18080, "tcp")
