"""Fixtures for the network-namespace lab (see netlab.py).

* ``make_lab(nodes=2, ifaces=("eth0",), **kw)``: a factory of started ``netlab.Lab``
  objects, all closed (processes killed, namespaces deleted) at teardown, also
  when the test fails.
* ``lab``: ``make_lab()`` with the defaults (two nodes, eth0, a client).
* ``keepalived_bin``: path of keepalived; skips the test when it is not installed.

Lab tests skip cleanly when not root or when iproute2 is missing. When a test
fails, the tail of every log in each of its labs' logdir is added to the
failure report (section "lab logs"), and the logdir is kept for post-mortem.
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # importable under any --import-mode
    sys.path.insert(0, _HERE)

import netlab  # noqa: E402

LABS = pytest.StashKey[list]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    for lab in item.stash.get(LABS, []):
        lab.keep_logs = True
        rep.sections.append((f"lab logs ({lab.prefix}, {rep.when})", lab.log_tails()))


@pytest.fixture
def make_lab(request):
    reason = netlab.lab_unavailable_reason()
    if reason:
        pytest.skip(reason)
    labs: list[netlab.Lab] = []
    request.node.stash[LABS] = labs

    def factory(nodes: int = 2, ifaces=("eth0",), **kw) -> netlab.Lab:
        lab = netlab.Lab(nodes=nodes, ifaces=ifaces, **kw)
        labs.append(lab)
        return lab.start()

    try:
        yield factory
    finally:
        for lab in reversed(labs):
            lab.close()


@pytest.fixture
def lab(make_lab) -> netlab.Lab:
    return make_lab()


@pytest.fixture
def keepalived_bin() -> str:
    path = shutil.which("keepalived")
    if path is None:
        pytest.skip("keepalived is not installed (apt-get install keepalived)")
    return path
