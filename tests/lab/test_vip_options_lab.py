"""VIP options (nodad, -nodad, noprefixroute, preferred_lft, no_track) and
promote_secondaries: the addresses the agent adds carry the same flags and
lifetimes as keepalived 2.2.7's for the same config text, and the sysctl is set
while running and restored at stop, as keepalived does.
"""

from __future__ import annotations

import json

import pytest
from agentlab import Agent, agent_instance
from netlab import Host, Keepalived, Lab, keepalived_instance, wait_until

pytestmark = pytest.mark.usefixtures("keepalived_bin")

EXTRA = """    virtual_ipaddress_excluded {
        198.51.100.101/24 nodad no_track
        2001:db8:100::100
        2001:db8:100::101/64 preferred_lft forever noprefixroute
        2001:db8:100::102/64 preferred_lft 30 -nodad
        2001:db8:100::103/128 preferred_lft forever
        2001:db8:100::104/64 no_track
    }
    promote_secondaries
"""
VIPS = {"198.51.100.100", "198.51.100.101"} | {f"2001:db8:100::10{i}" for i in range(5)}


def vip_addresses(node: Host) -> dict:
    """VIP -> (prefix, flags, preferred lifetime: 0, forever or finite)."""
    out = {}
    for link in json.loads(node.ip("-j", "addr", "show", "dev", "eth0").stdout):
        for a in link["addr_info"]:
            if a["local"] not in VIPS:
                continue
            flags = sorted(k for k in ("nodad", "noprefixroute", "deprecated", "secondary")
                           if a.get(k))
            lft = a.get("preferred_life_time")
            out[a["local"]] = (a["prefixlen"], flags,
                               lft if lft in (0, 4294967295) else "finite")
    return out


def promote(node: Host) -> str:
    return node.run(["cat", "/proc/sys/net/ipv4/conf/eth0/promote_secondaries"]).stdout.strip()


def config(text: str) -> str:
    return text.replace("198.51.100.100/24\n", "198.51.100.100/24 noprefixroute\n")


def test_vip_options_and_promote_secondaries_match_keepalived(make_lab):
    lab: Lab = make_lab(nodes=2, client=False)
    n1, n2 = lab.node(1), lab.node(2)
    # one at a time: the two nodes would otherwise fight over the same VRID
    keepalived = Keepalived(n1, config(keepalived_instance(state="MASTER", priority=150,
                                                           extra=EXTRA)))
    wait_until(lambda: len(vip_addresses(n1)) == len(VIPS), 15, message="keepalived's VIPs")
    by_keepalived, promote_keepalived = vip_addresses(n1), promote(n1)
    keepalived.stop()
    assert promote(n1) == "0"

    agent = Agent(n2, config(agent_instance(state="MASTER", priority=150, extra=EXTRA)))
    wait_until(lambda: len(vip_addresses(n2)) == len(VIPS), 15, message="the agent's VIPs")
    assert vip_addresses(n2) == by_keepalived
    assert by_keepalived["2001:db8:100::100"] == (128, ["deprecated", "nodad"], 0)
    assert by_keepalived["2001:db8:100::102"] == (64, [], "finite")
    assert promote(n2) == promote_keepalived == "1"
    assert agent.stop() == 0
    assert promote(n2) == "0" and vip_addresses(n2) == {}
