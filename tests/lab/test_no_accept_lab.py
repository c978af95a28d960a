"""no_accept / vrrp_strict filtering through libnftables, beside keepalived 2.2.7.

keepalived master first, then the agent master on the other node, same config
text: with no_accept (or vrrp_strict, whose default for a non-owner is
no_accept) the master drops traffic to its VIP while a second instance with
`accept` on the same node still answers, and the agent's nftables table is the
same as keepalived's (sets, chains, hooks, priorities, rules). After stop the
table is gone.
"""

from __future__ import annotations

import pytest
from agentlab import Agent, agent_instance
from netlab import Keepalived, Lab, keepalived_instance, wait_until
from nftlab import nftables_lib, ruleset  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("keepalived_bin", "nftables_lib")

CASES = {
    "v4-no_accept": dict(family=4, mode="no_accept"),
    "v4-vrrp_strict": dict(family=4, mode="vrrp_strict"),
    "v6-no_accept": dict(family=6, mode="no_accept"),
}


def configs(family: int, mode: str, priority: int, state: str, make) -> str:
    if family == 4:
        vips, other, version = ["198.51.100.100/24"], ["198.51.100.101/24"], 2
    else:
        vips, other, version = ["2001:db8:100::100/64"], ["2001:db8:100::101/64"], 3
    filtered = make(name="VI_1", vrid=51, priority=priority, state=state, version=version,
                    vips=vips, extra="    no_accept\n" if mode == "no_accept" else "")
    if mode == "vrrp_strict":
        version = 3  # strict mode resets accept on VRRPv2 (RFC 3768 has no accept mode)
        filtered = filtered.replace("version 2", "version 3")
    accepted = make(name="VI_2", vrid=52, priority=priority, state=state, version=version,
                    vips=other, extra="    accept\n")
    head = "global_defs {\n    vrrp_strict\n}\n" if mode == "vrrp_strict" else ""
    return head + _body(filtered, version) + _body(accepted, version)


def _body(text: str, version: int) -> str:
    """The vrrp_instance block alone, with its version (keepalived_instance() puts the
    version in a global_defs of its own)."""
    body = text[text.index("vrrp_instance"):]
    if "    version " not in body:
        body = body.replace("    advert_int", f"    version {version}\n    advert_int")
    return body


def pings(lab: Lab, address: str) -> bool:
    assert lab.client is not None
    argv = ["ping", "-c", "1", "-W", "1", address]
    return lab.client.run(argv, check=False, timeout=10).returncode == 0


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_accept_drops_traffic_to_the_vip_like_keepalived(lab: Lab, case: str):
    family, mode = CASES[case]["family"], CASES[case]["mode"]
    vip = "198.51.100.100" if family == 4 else "2001:db8:100::100"
    other = "198.51.100.101" if family == 4 else "2001:db8:100::101"
    n1, n2 = lab.node(1), lab.node(2)

    keepalived = Keepalived(n1, configs(family, mode, 150, "BACKUP", keepalived_instance))
    wait_until(lambda: n1.has_address(vip) and n1.has_address(other), 15,
               message="keepalived master of both instances")
    wait_until(lambda: pings(lab, other), 10, message="the accept instance answers")
    assert not pings(lab, vip)  # dropped by keepalived's table
    by_keepalived = ruleset(n1)
    assert list(by_keepalived) == [("ip" if family == 4 else "ip6", "keepalived")]

    agent = Agent(n2, configs(family, mode, 100, "BACKUP", agent_instance))
    keepalived.stop()
    assert ruleset(n1) == {}
    wait_until(lambda: n2.has_address(vip) and n2.has_address(other), 15,
               message="the agent master of both instances")
    wait_until(lambda: pings(lab, other), 10, message="the agent's accept instance answers")
    assert not pings(lab, vip)  # dropped by the agent's table
    assert ruleset(n2) == by_keepalived
    assert agent.stop() == 0
    assert ruleset(n2) == {}
    assert pings(lab, n2.ip4 if family == 4 else n2.ip6)  # nothing left behind


def test_nftables_globals_shape_the_table_like_keepalived(make_lab):
    """nftables NAME, nftables_priority, nftables_counters (and nftables_ifindex, which changes
    nothing here): the same table as keepalived's. One engine after the other on one node."""
    lab = make_lab(nodes=1, client=False)
    n1 = lab.node(1)
    head = ("global_defs {\n    nftables vrrp_tab\n    nftables_priority -5\n"
            "    nftables_counters\n    nftables_ifindex\n}\n")
    body = _body(agent_instance(state="MASTER", priority=150, extra="    no_accept\n"), 2)
    seen = {}
    for engine in ("keepalived", "agent"):
        daemon = (Keepalived if engine == "keepalived" else Agent)(n1, head + body)
        wait_until(lambda: n1.has_address("198.51.100.100"), 15, message=f"{engine} master")
        seen[engine] = ruleset(n1)
        daemon.stop()
        wait_until(lambda: ruleset(n1) == {}, 10, message="table removed")
    assert list(seen["keepalived"]) == [("ip", "vrrp_tab")]
    assert seen["agent"] == seen["keepalived"]
