"""VIP options (nodad, -nodad, noprefixroute, preferred_lft, no_track) and
promote_secondaries: the addresses the agent adds carry the same flags and
lifetimes as keepalived 2.2.7's for the same config text, and the sysctl is set
while running and restored at stop, as keepalived does.
"""

from __future__ import annotations

import json
import time

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


@pytest.mark.parametrize("every", [True, False], ids=["all", "vmac-only"])
def test_garp_extra_if_like_keepalived(make_lab, every: bool):
    """garp_extra_if [all] 1: while MASTER, periodic GARPs for the eVIP on eth1 (another
    interface than the instance's), none for the VIP on eth0; without `all` none at all
    (only per-VIP vMACs would get them). keepalived first on node 1, then the agent on node 2."""
    lab: Lab = make_lab(nodes=2, ifaces=("eth0", "eth1"))
    extra = ("    garp_master_delay 0\n"  # one burst at takeover: later GARPs are periodic ones
             f"    garp_extra_if {'all ' if every else ''}1\n"
             "    virtual_ipaddress_excluded {\n        203.0.113.100/24 dev eth1\n    }\n")
    seen = {}
    for engine, i in (("keepalived", 1), ("agent", 2)):
        node = lab.node(i)
        with lab.watch_garp("198.51.100.100") as w0, \
                lab.watch_garp("203.0.113.100", ifname="eth1") as w1:
            if engine == "keepalived":
                daemon = Keepalived(node, keepalived_instance(state="MASTER", priority=150,
                                                              extra=extra))
            else:
                daemon = Agent(node, agent_instance(state="MASTER", priority=150, extra=extra))
            mac0 = node.macs["eth0"]
            wait_until(lambda: [m for _t, m in w0.events() if m == mac0], 15,  # noqa: B023
                       message=f"{engine}'s takeover burst")
            burst = min(t for t, m in w0.events() if m == mac0)
            wait_until(lambda: len(w1.events()) >= 8 or not every, 10,  # noqa: B023
                       message=f"{engine}'s periodic GARPs on eth1")
            if not every:
                time.sleep(3.5)  # long enough for three periodic rounds: there must be none
            later0 = [t for t, m in w0.events() if t > burst + 0.5]
            later1 = [t for t, m in w1.events() if t > burst + 0.5 and m == node.macs["eth1"]]
            seen[engine] = (len(later1) >= 2, later0)
            daemon.stop()
    assert seen["keepalived"] == seen["agent"] == (every, [])
