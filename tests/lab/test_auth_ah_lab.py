"""auth_type AH beside real keepalived 2.2.7 (VRRPv2 with the IPsec Authentication Header):
both directions of a mixed pair elect, fail over on a frozen master and hand over on a
graceful stop, as test_interop_keepalived does for PASS; a wrong key is refused by both.
"""

from __future__ import annotations

import time

import pytest
from agentlab import Agent, agent_instance
from netlab import Keepalived, Lab, keepalived_instance, owned_only_by, wait_until

pytestmark = pytest.mark.usefixtures("keepalived_bin")

VIP = "198.51.100.100"
SLOW = 20.0
AH = "    authentication {\n        auth_type AH\n        auth_pass %s\n    }\n"


def _conf(engine: str, priority: int, key: str = "s3cret", unicast: str = "") -> str:
    make = keepalived_instance if engine == "keepalived" else agent_instance
    text = make(priority=priority, version=2, advert_int=1, extra=unicast)
    return text.replace("    virtual_ipaddress", AH % key + "    virtual_ipaddress", 1)


def _start(lab: Lab, node: int, engine: str, priority: int, **kw):
    cls = Keepalived if engine == "keepalived" else Agent
    return cls(lab.node(node), _conf(engine, priority, **kw))


@pytest.mark.parametrize("master_engine", ["keepalived", "agent"])
def test_auth_ah_mixed_pair_elects_fails_over_and_hands_over(lab: Lab, master_engine: str):
    backup_engine = "agent" if master_engine == "keepalived" else "keepalived"
    master = _start(lab, 1, master_engine, 150)
    backup = _start(lab, 2, backup_engine, 100)
    wait_until(owned_only_by(lab, VIP, 1), SLOW)
    time.sleep(2.0)
    assert lab.owner_nodes(VIP, timeout=0.15) == {1}
    agent = backup if backup_engine == "agent" else master
    inst = agent.instance()
    assert sum(inst["counters"]["discards"].values()) == 0, inst["counters"]["discards"]
    if agent is backup:
        assert inst["state"] == "BACKUP" and inst["master_priority"] == 150
    keepalived = master if agent is backup else backup
    assert "IPSEC" not in keepalived.log_text(), keepalived.log_text()[-2000:]

    master.freeze()
    wait_until(lambda: lab.node(2).has_address(VIP), SLOW, message="backup takes the VIP")
    master.thaw()  # the old master preempts back (the AH sequence numbers resynchronise)
    wait_until(lambda: not lab.node(2).has_address(VIP), SLOW, message="backup yields")
    wait_until(owned_only_by(lab, VIP, 1), SLOW)

    master.stop()
    wait_until(lambda: lab.node(2).has_address(VIP), SLOW, message="takeover after stop")


def test_auth_ah_wrong_key_is_refused_and_counted(lab: Lab):
    Keepalived(lab.node(1), _conf("keepalived", 150, key="other"))
    agent = Agent(lab.node(2), _conf("agent", 100))
    wait_until(lambda: agent.instance()["counters"]["discards"]["auth"] >= 2, SLOW,
               message="keepalived's adverts refused (ICV)")
    wait_until(lambda: agent.state() == "MASTER", SLOW, message="no valid master heard")


def test_auth_ah_unicast_with_keepalived(lab: Lab):
    """Unicast AH: the TTL is left out of the ICV (keepalived zeroes it) and unicast_ttl applies."""
    n1, n2 = lab.node(1), lab.node(2)

    def peers(me, peer):
        return f"    unicast_src_ip {me.ip4}\n    unicast_peer {{\n        {peer.ip4}\n    }}\n"

    agent = Agent(n1, _conf("agent", 150, unicast=peers(n1, n2) + "    unicast_ttl 7\n"))
    keepalived = Keepalived(n2, _conf("keepalived", 100, unicast=peers(n2, n1)))
    wait_until(owned_only_by(lab, VIP, 1), SLOW)
    time.sleep(2.0)
    assert lab.owner_nodes(VIP, timeout=0.15) == {1} and agent.state() == "MASTER"
    assert "IPSEC" not in keepalived.log_text()
    agent.stop()
    wait_until(owned_only_by(lab, VIP, 2), SLOW)
