"""Smoke test of homeportd on the test bed: it starts in the lan namespace with a
gateway section pointing at the bed's router, `homeportctl status --json` parses and
has a version, and SIGTERM stops it with exit 0."""
import os

import pytest

from bed import build_dir

HOMEPORTD = os.path.join(build_dir(), "homeportd")

pytestmark = pytest.mark.skipif(not os.path.exists(HOMEPORTD),
                                reason="%s missing: run make" % HOMEPORTD)


def test_daemon_starts_answers_and_stops(bed):
    d = bed.start_daemon(bed.gateway_conf("upnp"))
    st = d.status()
    assert st["version"]
    rc, out, err = d.ctl("status")
    assert rc == 0, err
    assert d.stop() == 0, d.logtext()[-3000:]
