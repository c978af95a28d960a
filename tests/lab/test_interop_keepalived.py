"""Mixed clusters with real keepalived 2.2.7: the agent and keepalived read the same
config text and share one VRID. Both directions (keepalived master with agent
backup, and the reverse) for v2 + PASS, v3 over IPv4 and v3 over IPv6:
election, freeze failover and graceful stop behave as in an all-keepalived cluster.
"""

from __future__ import annotations

import time

import pytest
from agentlab import Agent, agent_instance
from netlab import Keepalived, Lab, keepalived_instance, owned_only_by, wait_until

pytestmark = pytest.mark.usefixtures("keepalived_bin")

SLOW = 20.0
FAST = 10.0

CASES = {
    "v2-pass": dict(version=2, advert_int=1, auth_pass="s3cret", vips=["198.51.100.100/24"]),
    "v3-ipv4": dict(version=3, advert_int=0.2, vips=["198.51.100.100/24"]),
    "v3-ipv6": dict(version=3, advert_int=0.2, vips=["2001:db8:100::100/64"]),
}


def _start(lab: Lab, node: int, engine: str, priority: int, case: dict):
    if engine == "keepalived":
        return Keepalived(lab.node(node), keepalived_instance(priority=priority, **case))
    return Agent(lab.node(node), agent_instance(priority=priority, **case))




@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("master_engine", ["keepalived", "agent"])
def test_mixed_cluster_election_freeze_and_stop(lab: Lab, case: str, master_engine: str):
    spec = CASES[case]
    vip = spec["vips"][0].split("/")[0]
    backup_engine = "agent" if master_engine == "keepalived" else "keepalived"
    master = _start(lab, 1, master_engine, 150, spec)
    backup = _start(lab, 2, backup_engine, 100, spec)

    # election: the higher priority wins, whoever runs it
    wait_until(owned_only_by(lab, vip, 1), SLOW)
    time.sleep(1.0)
    assert lab.owner_nodes(vip, timeout=0.15) == {1}
    agent = backup if backup_engine == "agent" else master
    inst = agent.instance()
    assert sum(inst["counters"]["discards"].values()) == 0, inst["counters"]["discards"]
    if agent is backup:
        assert inst["state"] == "BACKUP" and inst["master_priority"] == 150
    else:
        assert inst["state"] == "MASTER"

    # freeze failover: the backup takes over after master-down
    master.freeze()
    wait_until(lambda: lab.node(2).has_address(vip), SLOW, message="backup takes the VIP")
    master.thaw()  # the old master preempts back
    wait_until(lambda: not lab.node(2).has_address(vip), SLOW, message="backup yields")
    wait_until(owned_only_by(lab, vip, 1), FAST)

    # graceful stop: priority 0, the backup takes over in its skew time
    master.stop()
    wait_until(lambda: lab.node(2).has_address(vip), FAST, message="takeover after stop")
    wait_until(owned_only_by(lab, vip, 2), FAST)
