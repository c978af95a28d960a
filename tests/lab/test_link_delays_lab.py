"""interface_up_down_delays in the namespace lab, beside keepalived 2.2.7 reading the same block.

A pulled cable (the switch-side port down: NO-CARRIER) shorter than the down delay changes
nothing: the agent stays MASTER with its VIP, no FAULT, no transition; keepalived, given the
same block, does not enter FAULT either. A longer outage is a FAULT after the delay.
"""

from __future__ import annotations

import time

from agentlab import Agent, agent_instance
from netlab import Keepalived, Lab, owned_only_by, wait_until

VIP4 = "198.51.100.100"
DELAYS = "interface_up_down_delays {\n    eth0 5 0\n}\n"


def _blip(lab: Lab, node: int, seconds: float) -> None:
    lab.node(node).link_down()
    wait_until(lambda: not lab.node(node).carrier(), 5, message="NO-CARRIER seen")
    time.sleep(seconds)
    lab.node(node).link_up()
    wait_until(lambda: lab.node(node).carrier(), 5, message="carrier back")


def test_a_cable_blip_shorter_than_the_down_delay_changes_nothing(lab: Lab):
    agent = Agent(lab.node(1), DELAYS + agent_instance(priority=150, version=3, advert_int=1))
    ka = Keepalived(lab.node(2), DELAYS + agent_instance(priority=100, version=3, advert_int=1))
    wait_until(owned_only_by(lab, VIP4, 1), 20)
    transitions = agent.instance()["counters"]["transitions"]

    _blip(lab, 1, 1.0)
    time.sleep(1.0)
    assert agent.state() == "MASTER" and agent.instance()["counters"]["transitions"] == transitions
    assert agent.instance()["counters"].get("released_master", 0) == 0
    assert "cancelled" in agent.log_text(), "the waiting change was cancelled"
    assert lab.node(1).has_address(VIP4)

    _blip(lab, 2, 1.0)  # keepalived, same block, same blip
    time.sleep(1.0)
    log = ka.log_text()
    assert "delay by" in log and "Entering FAULT STATE" not in log, "keepalived debounced it too"
    assert owned_only_by(lab, VIP4, 1)()

    lab.node(1).link_down()  # longer than the delay: FAULT after it, the backup takes over
    wait_until(lambda: agent.state() == "FAULT", 15)
    wait_until(owned_only_by(lab, VIP4, 2), 15)
    lab.node(1).link_up()
    wait_until(owned_only_by(lab, VIP4, 1), 20)
