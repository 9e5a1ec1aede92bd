"""Short soak of homeportd on the test bed (tests/soak/soak.py): a few dozen seeded
rounds of router reboots, restarts and hangs, WAN IP changes, provider failures,
reloads (good and broken) and SIGKILLs, every one followed by checks from outside
the daemon. HOMEPORT_SOAK_ROUNDS and HOMEPORT_SOAK_SEED override the defaults; the
long run is `python3 tests/soak/soak.py --rounds 1000 --seed N` (root)."""
import os
import sys

import pytest

from bed import build_dir

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "soak"))

import soak  # noqa: E402

HOMEPORTD = os.path.join(build_dir(), "homeportd")
pytestmark = pytest.mark.skipif(not os.path.exists(HOMEPORTD),
                                reason="%s missing: run make" % HOMEPORTD)


def test_soak_short(make_bed):
    bed = make_bed(echo_ports=(8080, 8081), ipv6=True)     # soak.py checks IPv6 too
    rounds = int(os.environ.get("HOMEPORT_SOAK_ROUNDS", "24"))
    seed = int(os.environ.get("HOMEPORT_SOAK_SEED", "20240607"))
    s = soak.run_on_bed(bed, seed=seed, rounds=rounds, mode="short", max_failures=3)
    soak.print_summary(s)
    assert s["ok"], "soak failed (seed %d):\n%s" % (seed, "\n".join(
        "round %s, fault %s: %s" % (f["round"], f["fault"], f["what"][:1500])
        for f in s["failures"]))
