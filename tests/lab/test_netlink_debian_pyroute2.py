"""The agent's netlink adapter on the pyroute2 the role installs on Debian 12 (0.7.2).

The venv runs pyroute2 0.9; the role deploys the agent with Debian's
python3-pyroute2, which drops address lifetimes and reports __version__
"unknown". A routed VIP's lease and an IPv6 /128's preferred_lft 0 must still
reach the kernel there (found by the routed Molecule scenario: the lease path
raised on "unknown" and the VIP was never announced).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from netlab import Lab

AGENT = Path(__file__).resolve().parents[2] / "files" / "agent"
SYSTEM_PYTHON = "/usr/bin/python3"

SCRIPT = """
from vrrp_agent.adapters.netlink import Netlink
from vrrp_agent.config.specs import VipSpec
nl = Netlink()
print(nl.call(nl.add_vip, 1, VipSpec("198.51.100.200", 32, 4), 30))
print(nl.call(nl.add_vip, 1, VipSpec("198.51.100.200", 32, 4), 30))
print(nl.call(nl.add_vip, 1, VipSpec("2001:db8::200", 128, 6)))
nl.close()
"""


def _system_pyroute2() -> bool:
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import pyroute2"], capture_output=True)
    return probe.returncode == 0


def test_leases_and_preferred_lft_reach_the_kernel_on_debian_pyroute2(lab: Lab):
    if not os.path.exists(SYSTEM_PYTHON) or not _system_pyroute2():
        pytest.skip("Debian's python3-pyroute2 is not installed (apt-get install python3-pyroute2)")
    node = lab.node(1)
    out = node.run(["env", f"PYTHONPATH={AGENT}", SYSTEM_PYTHON, "-c", SCRIPT]).stdout.split()
    assert out == ["True", "False", "True"]  # added, renewed in place, added
    addresses = json.loads(node.run(["ip", "-j", "addr", "show", "dev", "lo"]).stdout)[0]["addr_info"]
    lifetimes = {a["local"]: (a["valid_life_time"], a["preferred_life_time"]) for a in addresses}
    valid, preferred = lifetimes["198.51.100.200"]
    assert 0 < valid <= 30 and 0 < preferred <= 30  # the lease, not "forever"
    assert lifetimes["2001:db8::200"][1] == 0  # deprecated: never picked as a source
