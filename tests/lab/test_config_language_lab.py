"""keepalived's config language, read the same way by the agent and keepalived 2.2.7 in the lab.

One file for both nodes (CRLF line ends): `@ID` lines pick each node's
priority through `$PRIO`, `${VRID}` and `$IF` are definitions, and `~SEQ`
writes the three VIPs. keepalived runs it with `-i ka`, the agent with
`-i agent`; the election and the VIPs each side holds show that both read
the same values.
"""

from __future__ import annotations

from agentlab import Agent
from netlab import Keepalived, Lab, wait_until

SLOW = 20.0
VIPS = ["198.51.100.100", "198.51.100.101", "198.51.100.102"]

CONF = """! one file for every node
$IF=eth0
$VRID=61
@agent $PRIO=100
@ka $PRIO=150
@^agent $WHO=keepalived
@agent $WHO=the-agent
global_defs {
    vrrp_version 2
    router_id $WHO
}
vrrp_instance VI_1 {
    state BACKUP
    interface $IF
    virtual_router_id ${VRID}
    priority $PRIO
    advert_int 1
    virtual_ipaddress {
~SEQ(n, 100, 102)        198.51.100.${n}/24
    }
}
"""


def test_at_id_definitions_seq_and_crlf_read_like_keepalived(lab: Lab, keepalived_bin: str):
    text = CONF.replace("\n", "\r\n")
    ka = Keepalived(lab.node(2), text, binary=keepalived_bin, extra_args=["-i", "ka"])
    agent = Agent(lab.node(1), text, extra_args=["-i", "agent"])
    wait_until(lambda: all(lab.node(2).has_address(v) for v in VIPS), SLOW,
               message="keepalived (priority 150 from @ka) holds the three ~SEQ VIPs")
    wait_until(lambda: agent.instance().get("master_priority") == 150, SLOW, message="agent sees 150")
    inst = agent.instance()
    assert (inst["state"], inst["base_priority"], inst["vrid"]) == ("BACKUP", 100, 61)
    assert sorted(v.split("/")[0] for v in inst["vips"]) == VIPS
    assert not any(lab.node(1).has_address(v) for v in VIPS)

    ka.freeze()  # the agent takes every VIP the ~SEQ line wrote
    wait_until(lambda: all(lab.node(1).has_address(v) for v in VIPS), SLOW, message="agent takes over")
    ka.thaw()
    wait_until(lambda: not any(lab.node(1).has_address(v) for v in VIPS), SLOW, message="agent yields")
    assert agent.stop() == 0
    ka.stop()
    assert "Unknown keyword" not in ka.log_text()
