"""Baseline: keepalived-only clusters in the namespace lab.

These prove the harness (netlab.py) and record how the reference daemon
behaves; the same patterns are reused for our agent. Timings here are only
"eventually, within a generous bound" (the machine is shared and noisy); the
numbers belong to bench/.
"""

from __future__ import annotations

import time

import pytest
from netlab import Lab, assert_single_owner, keepalived_instance, owned_only_by, wait_until

pytestmark = pytest.mark.usefixtures("keepalived_bin")

VIP4 = "198.51.100.100"
VIP6 = "2001:db8:100::100"
# Generous bounds: v2 @ 1 s takes ~3.6 s (3 x advert + skew) to fail over.
SLOW = 20.0
FAST = 10.0






def test_v2_pass_auth_freeze_and_preempt(lab: Lab):
    auth = "s3cret"
    conf = {
        i: keepalived_instance(version=2, priority=prio, advert_int=1, auth_pass=auth,
                               vips=[f"{VIP4}/24"])
        for i, prio in ((1, 150), (2, 100))
    }
    kas = {i: lab.keepalived(i, conf[i]) for i in (1, 2)}

    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    assert lab.arp_owners(VIP4) == {lab.node(1).mac}
    assert_single_owner(lab, VIP4, 1)

    garp = lab.watch_garp(VIP4)
    frozen_at = time.time()
    kas[1].freeze()  # hung master: silent, but its VIP stays in the kernel
    wait_until(lambda: lab.node(2).has_address(VIP4), SLOW,
               message="node 2 takes the VIP while node 1 is frozen")
    wait_until(lambda: 2 in lab.owner_nodes(VIP4, timeout=0.15), FAST)
    wait_until(lambda: any(mac == lab.node(2).mac and t >= frozen_at
                           for t, mac in garp.events()), FAST,
               message="gratuitous ARP from node 2")
    assert "Entering MASTER STATE" in kas[2].log_text()

    # While node 1 is frozen its kernel still answers ARP for the VIP too:
    # a hung master is a dual-ARP-owner situation, so no single-owner check here.

    thawed_at = time.time()
    kas[1].thaw()  # node 1 still believes it is master at 150: node 2 yields
    wait_until(lambda: not lab.node(2).has_address(VIP4), SLOW,
               message="node 2 drops the VIP after node 1 thaws")
    wait_until(owned_only_by(lab, VIP4, 1), FAST)
    # ... and node 1 re-announces, so clients' ARP caches point back at it.
    wait_until(lambda: any(mac == lab.node(1).mac and t >= thawed_at
                           for t, mac in garp.events()), FAST,
               message="gratuitous ARP from node 1 after thaw")
    assert_single_owner(lab, VIP4, 1)
    assert kas[1].running and kas[2].running


def test_v3_ipv6_sigterm_failover_sends_unsolicited_na(lab: Lab):
    # 2.2.7 accepts a global first VIP; it only warns
    # "(VI_1) the first IPv6 VIP address should be link local".
    conf = {
        i: keepalived_instance(version=3, priority=prio, advert_int=0.1, vrid=52,
                               vips=[f"{VIP6}/64"])
        for i, prio in ((1, 150), (2, 100))
    }
    kas = {i: lab.keepalived(i, conf[i]) for i in (1, 2)}

    wait_until(owned_only_by(lab, VIP6, 1), FAST)
    assert lab.nd_owners(VIP6) == {lab.node(1).mac}
    assert_single_owner(lab, VIP6, 1)

    una = lab.watch_garp(VIP6)
    stopped_at = time.time()
    assert kas[1].stop() == 0  # graceful: priority-0 advert, VIP removed
    assert not lab.node(1).has_address(VIP6)
    wait_until(owned_only_by(lab, VIP6, 2), FAST)
    wait_until(lambda: any(mac == lab.node(2).mac and t >= stopped_at
                           for t, mac in una.events()), FAST,
               message="unsolicited NA from node 2")
    assert {r["kind"] for r in una.records()} == {"una"}
    assert_single_owner(lab, VIP6, 2)


def test_v3_link_down_on_master(lab: Lab):
    conf = {
        i: keepalived_instance(version=3, priority=prio, advert_int=0.1, vrid=53,
                               vips=[f"{VIP4}/24"])
        for i, prio in ((1, 150), (2, 100))
    }
    kas = {i: lab.keepalived(i, conf[i]) for i in (1, 2)}

    wait_until(owned_only_by(lab, VIP4, 1), FAST)
    assert_single_owner(lab, VIP4, 1)

    lab.node(1).link_down()  # the cable: node 1 sees NO-CARRIER
    assert not lab.node(1).carrier()
    wait_until(owned_only_by(lab, VIP4, 2), FAST)
    wait_until(lambda: "Entering FAULT STATE" in kas[1].log_text(), FAST)
    assert lab.node(2).has_address(VIP4)

    lab.node(1).link_up()
    wait_until(owned_only_by(lab, VIP4, 1), FAST)
    wait_until(lambda: not lab.node(2).has_address(VIP4), FAST)
    assert_single_owner(lab, VIP4, 1)
