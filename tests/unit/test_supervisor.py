"""The supervisor (supervisor.py), rule by rule: fault sources, sync groups, arbitration."""

from __future__ import annotations

import logging

from vrrp_agent.router import BACKUP, FAULT, INIT, MASTER, StateChanged, WantMaster
from vrrp_agent.supervisor import (
    EnterFault,
    ForceBackup,
    ForceMaster,
    GroupChanged,
    LeaveFault,
    MemberView,
    Supervisor,
)

LOG = logging.getLogger("test")


def view(**states):
    out = {}
    for name, st in states.items():
        if isinstance(st, MemberView):
            out[name] = st
        else:
            out[name] = MemberView(st)
    return out


def sup(**groups):
    return Supervisor(groups, LOG)


# ---- rule 3: fault sources

def test_rule3_a_fault_source_puts_a_lone_router_in_fault_once():
    s = sup()
    v = view(A=BACKUP)
    assert s.set_fault("A", "tracking", "chk failed", v) == [EnterFault("A", "chk failed")]
    assert s.set_fault("A", "tracking", "chk failed", view(A=FAULT)) == []  # no change, no command


def test_rule3_fault_holds_while_any_source_holds():
    s = sup()
    s.set_fault("A", "link", "interface down", view(A=BACKUP))
    s.set_fault("A", "tracking", "chk failed", view(A=FAULT))
    assert s.set_fault("A", "link", None, view(A=FAULT)) == []
    assert s.set_fault("A", "tracking", None, view(A=FAULT)) == [LeaveFault("A")]


def test_rule3_several_sources_are_joined_in_the_reason():
    s = sup()
    s.faults["A"] = {"link": "interface down", "tracking": "chk failed"}
    assert s.settle("A", view(A=MASTER)) == [EnterFault("A", "interface down; chk failed")]


def test_rule3_an_unbound_router_does_not_leave_fault():
    s = sup()
    s.set_fault("A", "link", "missing", view(A=BACKUP))
    assert s.set_fault("A", "link", None, view(A=MemberView(FAULT, bound=False))) == []
    assert s.settle("A", view(A=FAULT)) == [LeaveFault("A")]


def test_rule3_resource_fault_is_held_then_clears_by_itself():
    s = sup()
    assert s.set_fault("A", "resources", "start failed", view(A=MASTER), now=10.0, hold_s=30.0) == [
        EnterFault("A", "start failed")]
    assert s.next_deadline() == 40.0
    assert s.on_timer(39.0, view(A=FAULT)) == []
    assert s.on_timer(40.0, view(A=FAULT)) == [LeaveFault("A")]
    assert s.next_deadline() is None and s.faults["A"] == {}


def test_rule3_resource_fault_without_hold_waits_for_a_release():
    s = sup()
    s.set_fault("A", "resources", "start failed", view(A=MASTER), now=0.0, hold_s=0.0)
    assert s.next_deadline() is None
    assert s.set_fault("A", "resources", None, view(A=FAULT)) == [LeaveFault("A")]


def test_rule3_a_release_cancels_the_hold():
    s = sup()
    s.set_fault("A", "resources", "start failed", view(A=MASTER), now=0.0, hold_s=5.0)
    s.set_fault("A", "resources", None, view(A=FAULT))
    assert s.next_deadline() is None


# ---- rule 4a: one member's fault is every member's

def test_rule4a_a_member_fault_puts_the_group_in_fault():
    s = sup(G=["A", "B", "C"])
    cmds = s.set_fault("A", "link", "interface down", view(A=MASTER, B=MASTER, C=BACKUP))
    assert cmds == [EnterFault("A", "interface down"),
                    EnterFault("B", "sync group G: A in FAULT"),
                    EnterFault("C", "sync group G: A in FAULT")]
    assert s.faults["B"] == {"sync": "sync group G: A in FAULT"}


def test_rule4a_the_group_leaves_fault_when_the_last_own_source_clears():
    s = sup(G=["A", "B"])
    s.set_fault("A", "link", "down", view(A=BACKUP, B=BACKUP))
    s.set_fault("B", "tracking", "chk", view(A=FAULT, B=FAULT))
    assert s.set_fault("A", "link", None, view(A=FAULT, B=FAULT)) == []  # B still holds one
    assert s.faults["A"] == {"sync": "sync group G: B in FAULT"}
    assert s.set_fault("B", "tracking", None, view(A=FAULT, B=FAULT)) == [LeaveFault("A"), LeaveFault("B")]


def test_rule4a_leaving_the_group_on_reload_drops_the_sync_source():
    s = sup(G=["A", "B"])
    s.set_fault("A", "link", "down", view(A=BACKUP, B=BACKUP))
    s.reconfigure({})
    assert s.settle_all(view(A=FAULT, B=FAULT)) == [LeaveFault("B")]


# ---- rule 4b/4c/4d: propagation

def test_rule4b_a_member_becoming_master_makes_the_backups_master():
    s = sup(G=["A", "B", "C"])
    cmds = s.on_output("A", [StateChanged(BACKUP, MASTER, "timer")], view(A=MASTER, B=BACKUP, C=FAULT))
    assert cmds == [ForceMaster("B", "sync group G: A is MASTER", propagate=False)]


def test_rule4c_a_master_leaving_for_backup_takes_the_masters_with_it():
    s = sup(G=["A", "B", "C"])
    cmds = s.on_output("A", [StateChanged(MASTER, BACKUP, "higher priority")],
                       view(A=BACKUP, B=MASTER, C=MASTER))
    assert cmds == [ForceBackup("B", "sync group G: A is BACKUP"),
                    ForceBackup("C", "sync group G: A is BACKUP")]


def test_rule4c_a_master_going_to_fault_is_not_a_backup_propagation():
    s = sup(G=["A", "B"])
    assert s.on_output("A", [StateChanged(MASTER, FAULT, "x")], view(A=FAULT, B=MASTER)) == []


def test_rule4d_a_change_the_supervisor_caused_is_not_propagated_again():
    s = sup(G=["A", "B"])
    out = s.on_output("B", [StateChanged(BACKUP, MASTER, "sync")], view(A=BACKUP, B=MASTER),
                      propagate=False)
    assert not [c for c in out if isinstance(c, (ForceMaster, ForceBackup))]


def test_a_router_outside_any_group_is_left_alone():
    s = sup(G=["A"])
    assert s.on_output("Z", [StateChanged(BACKUP, MASTER, "t"), WantMaster("t")], view(Z=MASTER)) == []


# ---- rule 4e: arbitration

def test_rule4e_want_master_waits_for_a_member_that_hears_a_master(caplog):
    s = sup(G=["A", "B"])
    with caplog.at_level(logging.INFO, logger="test"):
        assert s.on_output("A", [WantMaster("t")], view(A=MemberView(BACKUP, True), B=BACKUP)) == []
    assert "sync group G waits for B" in caplog.text


def test_rule4e_the_last_member_to_want_it_takes_the_group_over_and_propagates():
    s = sup(G=["A", "B"])
    v = view(A=MemberView(BACKUP, True), B=MemberView(BACKUP, True))
    assert s.on_output("B", [WantMaster("t")], v) == [
        ForceMaster("B", "master down timer expired (sync group ready)", propagate=True)]


def test_rule4e_a_member_already_master_does_not_hold_the_group_back():
    s = sup(G=["A", "B"])
    assert s.on_output("A", [WantMaster("t")], view(A=MemberView(BACKUP, True), B=MASTER))[0].name == "A"


# ---- rule 5: group state

def test_rule5_group_state_is_reported_once_when_all_agree():
    s = sup(G=["A", "B"])
    assert s.on_output("A", [StateChanged(INIT, BACKUP, "s")], view(A=BACKUP, B=INIT)) == []
    assert s.on_output("B", [StateChanged(INIT, BACKUP, "s")], view(A=BACKUP, B=BACKUP)) == [
        GroupChanged("G", BACKUP)]
    assert s.on_output("B", [StateChanged(BACKUP, BACKUP, "s")], view(A=BACKUP, B=BACKUP)) == []


def test_rule5_init_is_reported_as_stop():
    s = sup(G=["A"])
    assert s.on_output("A", [StateChanged(MASTER, INIT, "stop")], view(A=INIT)) == [GroupChanged("G", "STOP")]


def test_rename_and_forget_carry_the_fault_sources():
    s = sup()
    s.set_fault("A", "resources", "failed", view(A=MASTER), now=0.0, hold_s=3.0)
    s.rename("A", "A2")
    assert s.faults["A2"] == {"resources": "failed"} and s.next_deadline() == 3.0
    s.forget("A2")
    assert "A2" not in s.faults and s.next_deadline() is None
