"""homeportd needs no privilege: run as an ordinary user (nobody, no
capabilities) on the bed, it maps a service through the real router, keeps
BIND's record on the external IP, answers on its socket and stops cleanly."""
import os
import shutil

import pytest

from bed import Daemon

NOBODY = 65534


def _chown_tree(path, uid, gid):
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for f in files:
            os.chown(os.path.join(root, f), uid, gid)


def test_runs_as_ordinary_user(bed):
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) not installed")
    name = "www." + bed.zone
    conf = (bed.gateway_conf("auto") + "\n" +
            bed.ddns_section("home", "rfc2136", [name], ttl=60))
    web = bed.service_section("web", 8080, 18080)
    wrapper = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
               "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
    d = Daemon(bed, conf, {"web.conf": web}, None, (), "lan", wrapper)
    bed._daemons.append(d)        # stopped and cleaned up with the bed
    # The user's own files: its directory, state, socket dir and the key file.
    os.chmod(bed.tmp, 0o711)
    _chown_tree(d.dir, NOBODY, NOBODY)
    _chown_tree(os.path.join(bed.tmp, "secrets"), NOBODY, NOBODY)
    os.chmod(os.path.join(bed.tmp, "secrets"), 0o700)
    d.start()
    with open("/proc/%d/status" % d.pid) as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    assert status["Uid"].split()[0] == str(NOBODY)
    assert int(status["CapEff"].strip(), 16) == 0
    st = d.wait_for(lambda s: s["services"] and s["services"][0]["state"] == "mapped"
                    and s["ddns"][0]["state"] == "ok", timeout=20)
    assert st["gateway"]["external_ip"] == bed.gw_wan_ip
    assert bed.reaches(18080, "tcp")
    assert bed.dig(name, "A") == [bed.gw_wan_ip]
    assert os.stat(d.sock).st_uid == NOBODY
    assert os.stat(d.sock).st_mode & 0o777 == 0o660        # SPEC: mode 0660
    assert d.stop() == 0
    assert not [m for m in bed.mappings() if m["ext_port"] == 18080]
