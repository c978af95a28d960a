"""The takeover's VIP add from the event loop (Netlink.add_now: a hand-built
RTM_NEWADDR on a plain netlink socket, adapters/rtaddr.py) puts the same address
in the kernel as the worker's add_vip (pyroute2) for every VIP option, on the
venv's pyroute2 and on Debian 12's python3-pyroute2 0.7.2 (what the role installs);
a second add is "already there" and a kernel error is a SystemFailure. The
takeover plan's prepared add (Netlink.add_request, takeover.py) does the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from netlab import Lab

AGENT = Path(__file__).resolve().parents[2] / "files" / "agent"
SYSTEM_PYTHON = "/usr/bin/python3"

SCRIPT = r"""
import json, socket, subprocess
from vrrp_agent.adapters.netlink import Netlink
from vrrp_agent.config.specs import VipSpec as V
from vrrp_agent.errors import SystemFailure

SPECS = [V("198.51.100.100", 24, 4), V("198.51.100.101", 32, 4),
         V("198.51.100.102", 24, 4, label="eth0:vip", brd="+"),
         V("198.51.100.103", 24, 4, brd="198.51.100.7"),
         V("198.51.100.104", 24, 4, noprefixroute=True, brd="-"),
         V("198.51.100.105", 24, 4, preferred_lft=20),
         V("2001:db8::100", 128, 6), V("2001:db8::101", 64, 6, nodad=False),
         V("2001:db8::102", 64, 6, preferred_lft=30, noprefixroute=True),
         V("2001:db8::103", 128, 6, preferred_lft=0xFFFFFFFF)]
idx = socket.if_nametoindex("eth0")

def dump():
    out = json.loads(subprocess.run(["ip", "-d", "-j", "addr", "show", "dev", "eth0"],
                                    capture_output=True, text=True, check=True).stdout)
    seen = {}
    for a in out[0]["addr_info"]:
        if a["local"] in {s.address for s in SPECS}:
            for key in ("valid_life_time", "preferred_life_time"):
                if a.get(key) not in (0, 4294967295):
                    a[key] = "finite"
            a.pop("tentative", None)  # DAD in progress or done: when, not how, it was added
            seen[a["local"]] = a
    return seen

nl = Netlink()
result = {}
ADD = {"worker": lambda s: nl.call(nl.add_vip, idx, s), "loop": lambda s: nl.add_now(idx, s),
       "plan": lambda s: nl.add_request(idx, s)()}
for how, add in ADD.items():
    added = [add(s) for s in SPECS]
    again = [nl.add_now(idx, s) for s in SPECS]
    result[how] = {"added": added, "again": again, "addresses": dump()}
    for s in SPECS:
        nl.call(nl.del_vip, idx, s)
for key, call in (("error", nl.add_now), ("plan error", lambda *a: nl.add_request(*a)())):
    try:
        call(999999, SPECS[0])
        result[key] = None
    except SystemFailure as exc:
        result[key] = str(exc)
nl.close()
print(json.dumps(result))
"""


def _pythons() -> list:
    found = [sys.executable]
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import pyroute2"], capture_output=True) \
        if os.path.exists(SYSTEM_PYTHON) else None
    found.append(SYSTEM_PYTHON if probe is not None and probe.returncode == 0 else None)
    return found


@pytest.mark.parametrize("which", [0, 1], ids=["venv-pyroute2", "debian-pyroute2"])
def test_a_vip_added_from_the_loop_is_the_worker_s_address(lab: Lab, which: int):
    python = _pythons()[which]
    if python is None:
        pytest.skip("Debian's python3-pyroute2 is not installed (apt-get install python3-pyroute2)")
    node = lab.node(1)
    out = json.loads(node.run(["env", f"PYTHONPATH={AGENT}", python, "-c", SCRIPT]).stdout)
    worker, loop, plan = out["worker"], out["loop"], out["plan"]
    assert worker["added"] == loop["added"] == plan["added"] == [True] * 10
    assert worker["again"] == loop["again"] == plan["again"] == [False] * 10  # EEXIST: already there
    assert len(loop["addresses"]) == 10 and loop["addresses"] == worker["addresses"] == plan["addresses"]
    assert loop["addresses"]["2001:db8::100"]["preferred_life_time"] == 0  # deprecated /128
    assert loop["addresses"]["2001:db8::102"]["preferred_life_time"] == "finite"
    assert loop["addresses"]["198.51.100.102"]["label"] == "eth0:vip"
    assert loop["addresses"]["198.51.100.103"]["broadcast"] == "198.51.100.7"
    for key in ("error", "plan error"):  # the plan's prepared add (takeover.py) alike
        assert out[key] is not None and "198.51.100.100/24: 19 ENODEV" in out[key]
