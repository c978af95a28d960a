"""The routed announce mode end to end: members in different subnets behind an FRR
router (bgpd + bfdd), a client behind the router (routedlab.py).

For each way the master can go (frozen, killed, link down, graceful stop, an
operator switchover) the client's traffic to the VIP follows the new master,
and once converged the router holds exactly one BGP path for the VIP, from the
master. Election runs over unicast VRRP through the router (TTL 254 on
arrival: unicast has no TTL check, RFC 5798 §5.1.1.3 applies to multicast).
"""

from __future__ import annotations

import signal
import time

import pytest
from agentlab import Agent
from netlab import wait_until
from routedlab import RoutedLab, frr_unavailable_reason, member_config

CONVERGE_S = 20.0  # lease (3 s) + BGP/BFD; generous on a loaded 2-core CI machine
REJOIN_S = 40.0  # a returning member's BGP session first re-establishes


@pytest.fixture
def make_routed(make_lab):  # make_lab: root and iproute2, else skipped
    reason = frr_unavailable_reason()
    if reason:
        pytest.skip(reason)
    labs = []

    def factory(members: int, priorities, track_session: bool = False):
        lab = RoutedLab(members)
        labs.append(lab)
        lab.start()
        wait_until(lab.established, 30, message="BGP sessions of the router established")
        for member, priority in zip(lab.members, priorities):
            member.agent = Agent(member, member_config(lab, member, priority,
                                                       track_session=track_session))
        return lab

    try:
        yield factory
    finally:
        for lab in labs:
            lab.close()


def assert_converged_on(lab: RoutedLab, member, timeout: float = CONVERGE_S) -> None:
    """The router has one path, from MEMBER, routes the VIP to it, the client reaches it."""
    def one_path_to_member():
        return (lab.vip_paths() == [member.ip4] and lab.vip_route() == member.ip4
                and lab.ask() == member.label)
    wait_until(one_path_to_member, timeout, interval=0.1,
               message=lambda: f"converged on {member.label}: paths {lab.vip_paths()}, "
                               f"route {lab.vip_route()}, client reaches {lab.ask()}")
    for _ in range(5):  # and it stays so: no second announcement comes back
        time.sleep(0.2)
        assert lab.vip_paths() == [member.ip4]
    assert member.agent.instance()["announce"]["announced"] == ["198.51.100.200/32"]
    for other in lab.members:
        if other is not member and other.agent.running and not other.agent.frozen:
            assert other.agent.instance()["announce"]["announced"] == []


def test_the_client_follows_the_master_through_every_failure(make_routed):
    lab = make_routed(2, (150, 100))
    n1, n2 = lab.members
    assert_converged_on(lab, n1)
    assert n2.agent.state() == "BACKUP"

    # frozen: its lease lapses, the kernel removes the VIP, FRR withdraws it
    n1.agent.freeze()
    assert_converged_on(lab, n2)
    n1.agent.thaw()
    assert_converged_on(lab, n1)

    # killed: same, then the restarted agent preempts back (make-before-break)
    n1.agent.signal(signal.SIGKILL)
    n1.agent.proc.wait(5)
    assert_converged_on(lab, n2)
    n1.agent.start()
    assert_converged_on(lab, n1)

    # link down (the router's port): BFD drops the session, VRRP elects n2
    lab.link_down(n1)
    wait_until(lambda: n1.agent.state() == "FAULT", 10, message="n1 in FAULT")
    assert_converged_on(lab, n2)
    lab.link_up(n1)
    assert_converged_on(lab, n1, REJOIN_S)

    # graceful stop: withdrawal first, then priority 0
    assert n1.agent.stop() == 0
    assert_converged_on(lab, n2)
    assert not n1.has_address("198.51.100.200", "lo")
    n1.agent.start()
    assert_converged_on(lab, n1)

    # switchover by the operator, and back
    assert n2.agent.cli("takeover").returncode == 0
    assert_converged_on(lab, n2)
    assert n1.agent.state() == "BACKUP"
    assert n2.agent.cli("release").returncode == 0
    assert_converged_on(lab, n1)


def test_three_members_hand_the_vip_down_the_priority_order(make_routed):
    lab = make_routed(3, (150, 120, 100))
    n1, n2, n3 = lab.members
    assert_converged_on(lab, n1)
    n1.agent.signal(signal.SIGKILL)
    n1.agent.proc.wait(5)
    assert_converged_on(lab, n2)
    assert n3.agent.state() == "BACKUP"
    assert n2.agent.stop() == 0
    assert_converged_on(lab, n3)


def test_a_master_whose_bgp_session_is_down_is_a_fault_and_gives_way(make_routed):
    """The role's session tracker (roles/vrrp/files/vrrp-bgp-session, weight 0): a master
    that announces to nobody goes FAULT; back in session, it preempts again."""
    lab = make_routed(2, (150, 100), track_session=True)
    n1, n2 = lab.members
    assert_converged_on(lab, n1)

    def session(shutdown: bool) -> None:
        lab.router_frr.vtysh_run("-c", "configure terminal", "-c", "router bgp 65000", "-c",
                                 f"{'' if shutdown else 'no '}neighbor {n1.ip4} shutdown")

    session(shutdown=True)
    wait_until(lambda: n1.agent.state() == "FAULT", 15, message="n1 in FAULT without a session")
    assert_converged_on(lab, n2)
    tracking = n1.agent.instance()["tracking"]
    assert any("bgp_session" in why for why in tracking["faults"].values()), tracking
    session(shutdown=False)
    assert_converged_on(lab, n1, REJOIN_S)
