"""Sync groups and tracked faults on a simulated LAN: one master per VRID after convergence,
and every node's group in one state (the supervisor meets real elections)."""

from __future__ import annotations

import pytest
from lansim import SyncLan
from vrrp_agent.router import BACKUP, FAULT, MASTER


def converged(lan: SyncLan) -> None:
    for j in range(lan.members):
        assert len(lan.masters(j)) == 1, (j, [lan.states(i) for i in range(len(lan.routers))])
    for i in range(len(lan.routers)):
        assert len(set(lan.states(i))) == 1, (i, lan.states(i))  # the group moves as one


def test_the_highest_node_takes_the_whole_group():
    lan = SyncLan([150, 100], members=3)
    lan.start_all()
    lan.run_until(10)
    converged(lan)
    assert lan.states(0) == [MASTER] * 3 and lan.states(1) == [BACKUP] * 3
    assert all(lan.owners[j] == {0} for j in range(3))


def test_a_tracked_fault_on_one_member_moves_the_whole_group():
    lan = SyncLan([150, 100], members=3)
    lan.start_all()
    lan.run_until(10)
    lan.fault(0, 1, True)
    assert lan.states(0) == [FAULT] * 3  # one member's fault is the group's, at once
    lan.run_until(20)
    assert lan.states(1) == [MASTER] * 3
    assert all(lan.owners[j] == {1} for j in range(3))
    lan.fault(0, 1, False)
    lan.run_until(30)
    converged(lan)
    assert lan.states(0) == [MASTER] * 3


def test_one_cut_segment_does_not_split_the_group():
    """keepalived's rule: a member that still hears its master holds the group back."""
    lan = SyncLan([150, 100], members=2)
    lan.start_all()
    lan.run_until(10)
    lan.partition(0, {0}, {1})  # only segment 0 is cut
    lan.run_until(20)
    assert lan.states(1) == [BACKUP, BACKUP]  # VI_1 still hears node 0: no takeover
    assert lan.routers[1][0].wants_master
    lan.heal()
    lan.run_until(30)
    converged(lan)
    assert lan.states(0) == [MASTER, MASTER]


@pytest.mark.parametrize("seed", range(60))
def test_random_cuts_and_faults_converge_to_one_master_per_vrid(seed):
    lan = SyncLan([150, 120, 100], members=3, loss=0.05, seed=seed)
    rng = lan.rng
    lan.start_all()
    t = 5.0
    lan.run_until(t)
    failing = set()
    for _ in range(12):
        what = rng.random()
        if what < 0.35:
            seg = rng.randrange(3)
            lan.partition(seg, *[{n} for n in range(3)] if rng.random() < 0.5 else ({0}, {1, 2}))
        elif what < 0.5:
            lan.heal()
        else:
            key = (rng.randrange(3), rng.randrange(3))
            lan.fault(*key, key not in failing)
            failing ^= {key}
        t += rng.uniform(0.1, 5.0)
        lan.run_until(t)
    lan.heal()
    for key in sorted(failing):
        lan.fault(*key, False)
    lan.run_until(t + 30)
    converged(lan)
    # with everything healed and cleared, the highest node holds every VRID and every VIP
    assert lan.states(0) == [MASTER] * 3
    assert all(lan.owners[j] == {0} for j in range(3))
