"""The supervisor: fault sources, sync groups and group arbitration, sans I/O.

It decides, for the routers of one agent, what no single Router can decide
alone. Rules:

1. No clock, no socket, no asyncio, no callbacks. Entry points take `now`
   where time matters and the driver's current `view` of every router
   (state, wants_master, bound); they return Commands for the driver to run
   on the named routers, in order. `next_deadline()` says when `on_timer(now)`
   is due (the hold of a resource fault).
2. No re-entrancy. The supervisor never calls a router. The driver runs each
   Command on its router and feeds the router's output back through
   `on_output(name, actions, view, propagate)`, from a work queue: nothing
   calls back into the supervisor while it decides.
3. FAULT has sources per router (`faults[name]`): link (its interface),
   tracking (weight-0 trackers), resources (a failed start, held
   `hold_s` seconds, or until cleared), sync (another member of its sync
   group holds a source of its own). A router is in FAULT while any source
   holds; when the last one clears and it is bound to its interface, it
   starts again (LeaveFault: BACKUP, or MASTER for the owner, RFC 5798 §6.4.1).
4. Sync groups (keepalived's semantics, docs/agent.md):
   a. one member's FAULT puts every member in FAULT (source "sync");
   b. a member becoming MASTER makes the other members in BACKUP MASTER;
   c. a member leaving MASTER for BACKUP makes the other masters BACKUP;
   d. propagation happens once per change: a change the supervisor caused
      (b, c) is not propagated again (no ping-pong inside the agent);
   e. a member whose master-down timer expires (WantMaster) becomes MASTER
      only when every other member is MASTER or wants to be; the last one to
      want it takes the group over, and that change propagates (b).
5. A group's state is reported (GroupChanged) when all its members agree on
   a new one (INIT is reported as STOP), once per change.
"""

from __future__ import annotations

import logging
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from vrrp_agent.router import BACKUP, FAULT, INIT, MASTER, Action, StateChanged, WantMaster

SYNC = "sync"
RESOURCES = "resources"


class MemberView(NamedTuple):
    """What the supervisor needs to know of one router, as the driver sees it now."""

    state: str
    wants_master: bool = False
    bound: bool = True
    """Attached to its interface (sockets open): only then may it leave FAULT."""


class EnterFault(NamedTuple):
    """Run `router.enter_fault(now, reason)`."""

    name: str
    reason: str


class LeaveFault(NamedTuple):
    """Run `router.leave_fault(now)`."""

    name: str


class ForceMaster(NamedTuple):
    """Run `router.force_master(now, reason)`; feed its output back with `propagate`."""

    name: str
    reason: str
    propagate: bool


class ForceBackup(NamedTuple):
    """Run `router.force_backup(now, reason)`; its output is not propagated."""

    name: str
    reason: str


class GroupChanged(NamedTuple):
    """Every member of sync group `group` is now in `state` (STOP for INIT): notify."""

    group: str
    state: str


Command = Union[EnterFault, LeaveFault, ForceMaster, ForceBackup, GroupChanged]
View = Mapping[str, MemberView]


class Supervisor:
    """Faults and sync groups of the routers of one agent."""

    def __init__(self, groups: Mapping[str, Sequence[str]], log: logging.Logger):
        self.log = log
        self.faults: Dict[str, Dict[str, str]] = {}
        """name -> source -> why the router must be in FAULT."""
        self.group_states: Dict[str, Optional[str]] = {}
        self._groups: Dict[str, Tuple[str, ...]] = {}
        self._group_of: Dict[str, str] = {}
        self._holds: Dict[str, float] = {}
        """name -> when its resource fault clears by itself."""
        self.reconfigure(groups)

    # ------------------------------------------------------------- config
    def reconfigure(self, groups: Mapping[str, Sequence[str]]) -> None:
        """New sync groups (start, reload); run `settle_all` afterwards."""
        self._groups = {g: tuple(members) for g, members in groups.items()}
        self._group_of = {m: g for g, members in self._groups.items() for m in members}
        for g in list(self.group_states):
            if g not in self._groups:
                del self.group_states[g]
        for g in self._groups:
            self.group_states.setdefault(g, None)

    def forget(self, name: str) -> None:
        """A router left the configuration."""
        self.faults.pop(name, None)
        self._holds.pop(name, None)

    def rename(self, old: str, new: str) -> None:
        """A kept router (same interface, VRID, family) got a new name on reload."""
        if old in self.faults:
            self.faults[new] = self.faults.pop(old)
        if old in self._holds:
            self._holds[new] = self._holds.pop(old)

    def group_of(self, name: str) -> Optional[str]:
        return self._group_of.get(name)

    def members(self, group: Optional[str]) -> Tuple[str, ...]:
        return self._groups.get(group, ()) if group is not None else ()

    # ------------------------------------------------------------- faults
    def set_fault(self, name: str, source: str, reason: Optional[str], view: View,
                  now: float = 0.0, hold_s: Optional[float] = None) -> List[Command]:
        """A fault source holds (`reason`) or cleared (None); `hold_s` > 0: clears by itself."""
        faults = self.faults.setdefault(name, {})
        if hold_s is not None and hold_s > 0 and reason is not None:
            self._holds[name] = now + hold_s
        elif reason is None and source == RESOURCES:
            self._holds.pop(name, None)
        if faults.get(source) == reason:
            return []
        if reason is None:
            faults.pop(source, None)
        else:
            faults[source] = reason
        return self.settle(name, view)

    def settle(self, name: str, view: View) -> List[Command]:
        """Bring `name` (and its sync group) in line with the fault sources."""
        group = self.group_of(name)
        if group is None:
            self.faults.setdefault(name, {}).pop(SYNC, None)  # it may have left its group
            return self._settle_one(name, view)
        members = self.members(group)
        own = {m: any(k != SYNC for k in self.faults.get(m, {})) for m in members}
        for m in members:
            others = [o for o in members if o != m and own[o]]
            faults = self.faults.setdefault(m, {})
            if others:
                faults[SYNC] = f"sync group {group}: {', '.join(others)} in FAULT"
            else:
                faults.pop(SYNC, None)
        commands: List[Command] = []
        for m in members:
            commands += self._settle_one(m, view)
        return commands

    def settle_all(self, view: View) -> List[Command]:
        commands: List[Command] = []
        for name in view:
            commands += self.settle(name, view)
        return commands

    def _settle_one(self, name: str, view: View) -> List[Command]:
        member = view.get(name)
        if member is None:
            return []
        faults = self.faults.get(name, {})
        if faults and member.state != FAULT:
            return [EnterFault(name, "; ".join(faults.values()))]
        if not faults and member.state == FAULT and member.bound:
            return [LeaveFault(name)]
        return []

    # -------------------------------------------------------------- timer
    def next_deadline(self) -> Optional[float]:
        return min(self._holds.values()) if self._holds else None

    def on_timer(self, now: float, view: View) -> List[Command]:
        """Resource faults whose hold ran out clear."""
        commands: List[Command] = []
        for name, until in sorted(self._holds.items(), key=lambda kv: kv[1]):
            if until <= now:
                del self._holds[name]
                if self.faults.get(name, {}).get(RESOURCES) is not None:
                    self.log.info("resource failure of %s cleared: leaving FAULT", name)
                    commands += self.set_fault(name, RESOURCES, None, view)
        return commands

    # ------------------------------------------------------- router output
    def on_output(self, name: str, actions: Sequence[Action], view: View,
                  propagate: bool = True) -> List[Command]:
        """What the router `name` returned; `propagate` False for a change we caused."""
        group = self.group_of(name)
        if group is None:
            return []
        commands: List[Command] = []
        for action in actions:
            if isinstance(action, StateChanged):
                if propagate:
                    commands += self._propagate(name, group, action, view)
                commands += self._group_state(group, view)
            elif isinstance(action, WantMaster):
                commands += self._wants_master(name, group, view)
        return commands

    def _propagate(self, name: str, group: str, change: StateChanged, view: View) -> List[Command]:
        reason = f"sync group {group}: {name} is {change.new}"
        commands: List[Command] = []
        for other in self.members(group):
            member = view.get(other)
            if other == name or member is None:
                continue
            if change.new == MASTER and member.state == BACKUP:
                commands.append(ForceMaster(other, reason, propagate=False))
            elif change.old == MASTER and change.new == BACKUP and member.state == MASTER:
                commands.append(ForceBackup(other, reason))
        return commands

    def _wants_master(self, name: str, group: str, view: View) -> List[Command]:
        waiting = []
        for other in self.members(group):
            member = view.get(other)
            if other == name or member is None:
                continue
            if not (member.state == MASTER or (member.state == BACKUP and member.wants_master)):
                waiting.append(other)
        if waiting:
            self.log.info("%s: master down timer expired; held BACKUP: sync group %s waits for %s",
                          name, group, ", ".join(waiting))
            return []
        return [ForceMaster(name, "master down timer expired (sync group ready)", propagate=True)]

    def _group_state(self, group: str, view: View) -> List[Command]:
        states = {view[m].state for m in self.members(group) if m in view}
        if len(states) != 1:
            return []
        state = states.pop()
        if state == INIT:
            state = "STOP"
        if self.group_states.get(group) == state:
            return []
        self.group_states[group] = state
        return [GroupChanged(group, state)]
