"""pytest glue for the namespace test bed (tests/bed/).

Fixtures:
  bed       a default bed: miniupnpd with secure_mode, UPnP and NAT-PMP, BIND, the
            HTTPS stand-in, the echo service in lan
  make_bed  factory: make_bed(secure_mode=True, upnp=True, natpmp=True, bind=True,
            standin=True, **other Bed options); every bed made is closed at teardown

Tests using them skip with a clear message when not root or a binary is missing.
On a failed test the tails of the bed's logs are printed (shown by pytest).
HOMEPORT_BED_KEEP=1 keeps each bed's temp dir for a post-mortem.
"""
import os
import sys

import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from bed import Bed, close_all, missing_requirements  # noqa: E402


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def pytest_sessionfinish(session, exitstatus):
    close_all()


def _failed(node):
    return any(getattr(node, "rep_" + w, None) is not None and getattr(node, "rep_" + w).failed
               for w in ("setup", "call"))


def bed_skip_reason(**opts):
    return missing_requirements(router=bool(opts.get("upnp", True) or opts.get("natpmp", True)),
                                bind=opts.get("bind", True), standin=opts.get("standin", True),
                                pdns=opts.get("pdns", False))


@pytest.fixture
def make_bed(request):
    beds = []

    def make(**opts):
        why = bed_skip_reason(**opts)
        if why:
            pytest.skip(why)
        b = Bed(**opts)
        beds.append(b)
        return b

    yield make
    failed = _failed(request.node)
    for b in beds:
        try:
            if failed:
                b.dump_logs()
        finally:
            b.close()


@pytest.fixture
def bed(make_bed):
    return make_bed()
