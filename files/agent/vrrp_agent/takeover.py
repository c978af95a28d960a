"""A backup's takeover, prepared: each VIP's add and its GARP/NA burst back to back.

A part of the VIP keeper (vips.py), on the event loop. Issue 14: on a
takeover the first gratuitous ARP followed the new master's first advert by
0.12-0.17 ms, keepalived's by 0.06-0.09 ms; time marks in a copy of the agent
put about 0.06 ms of it in the Python between the two (the VIP keeper's
general path: job lists, look-ups, the burst's pacing rules). Rules:
- A plan is built when an instance becomes BACKUP (Plans.prepare), for a
  takeover the loop may do alone: not routed (no lease, no announce device),
  no no_accept filter, `vrrp_garp_interval` and `vrrp_gna_interval` at 0 (a
  burst goes out back to back), no virtual_routes or virtual_rules (they go
  in before the GARP, keepalived's order: the general path keeps it), every
  VIP's interface known. A backup made while the worker has work (the VIPs
  of a demotion) is prepared once it has none left. One step per
  VIP, in the instance's order: its RTM_NEWADDR, built and on an open socket
  (netlink.add_request), and its burst, frame built and socket open
  (announcer.sender).
- Run for a router's AddVips followed by its Announce (a takeover, a
  preemption, a make-before-break switchover), when the worker is idle: every
  VIP's add (rtnetlink adds the address inside `send`; its ACK is read at
  once), then the bursts of those on the interface (added, or already
  there), keepalived's order.
- Staged (`Plans.stage`): a backup that is about to act decides for its
  deadline and spins out its last millisecond (driver._fire); the adds run
  then, and the bursts follow the first advert on the deadline, with
  nothing in between. The VIPs are on the interface at most that
  millisecond before the advert says so.
- The first add that fails hands its VIP and every VIP after it to the
  worker (vips.py's fast-path rule): it adds them, announces them after, and
  counts and logs an error once. A burst that cannot be sent is logged.
- A plan lives while its instance is BACKUP, built from the config and the
  MACs of then: leaving BACKUP (a takeover takes it), a reload of the
  instance, a link event (the driver prepares its backups again) or a
  removal replace or forget it. Without a plan the general path runs.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from vrrp_agent.config.model import VipSpec
from vrrp_agent.errors import SystemFailure
from vrrp_agent.router import BACKUP
from vrrp_agent.vipwork import garp_not_sent

__all__ = ["Step", "Plan", "Plans", "Staged", "eligible", "run", "add_all", "burst_all"]


class Step(NamedTuple):
    """One VIP of a takeover: its add (True: added, False: already there; raises
    SystemFailure), then its burst of N frames (raises OSError)."""

    vip: VipSpec
    add: Callable[[], bool]
    burst: Callable[[int], None]


Plan = Tuple[Step, ...]


class Staged(NamedTuple):
    """A plan whose adds ran ahead: their outcomes, the index of the first undone."""

    plan: Plan
    done: List[Tuple[VipSpec, bool]]
    undone: int


def eligible(cfg: Any, filtered: bool) -> bool:
    """May the loop take this instance's VIPs over alone (module rules)?"""
    garp = cfg.garp
    return cfg.announce is None and not filtered and garp.interval_s <= 0 \
        and garp.gna_interval_s <= 0 and not cfg.routes and not cfg.rules


def run(steps: Sequence[Step], repeat: int) -> Tuple[List[Tuple[VipSpec, bool]], int, List[str]]:
    """Each step's add, then the bursts of REPEAT frames of those added.

    Returns the outcomes of the adds made, the index of the first step left
    undone (its add failed; len(steps) when none did) and the bursts' errors."""
    done, undone = add_all(steps)
    return done, undone, burst_all(steps[:undone], repeat)


def add_all(steps: Sequence[Step]) -> Tuple[List[Tuple[VipSpec, bool]], int]:
    """Each step's add, up to the first that fails: their outcomes, its index."""
    done: List[Tuple[VipSpec, bool]] = []
    for index, step in enumerate(steps):
        try:
            done.append((step.vip, step.add()))
        except SystemFailure:
            return done, index
    return done, len(steps)


def burst_all(steps: Sequence[Step], repeat: int) -> List[str]:
    """Each step's burst of REPEAT frames: the errors."""
    errors: List[str] = []
    for step in steps:
        try:
            step.burst(repeat)
        except OSError as exc:
            errors.append(garp_not_sent(step.vip, exc))
    return errors


class Plans:
    """The VIP keeper's plans, per instance name (module rules). KEEPER is the
    vips.VipKeeper: its netlink and announcer, MAC cache, interface look-up, and
    whether its worker is idle (the adapters are the worker's while it works)."""

    def __init__(self, keeper: Any):
        self.keeper = keeper
        self.plans: Dict[str, Plan] = {}
        self.pending: Dict[str, Any] = {}
        """Backups to prepare once the worker is idle."""
        self.staged: Dict[str, Staged] = {}
        """Plans whose adds ran ahead of their deadline (`stage`)."""

    def prepare(self, inst: Any) -> None:
        """INST (a backup) readies its takeover: requests built, sockets open; with the
        worker busy (the VIPs of a demotion), once it has nothing left."""
        self.forget(inst)
        keeper = self.keeper
        if inst.cfg.announce is not None:
            return
        if not keeper.idle():
            self.pending[inst.cfg.name] = inst
            return
        steps: Optional[List[Step]] = []
        for vip in inst.all_vips:
            ifindex, ifname = keeper.ifindex_of(inst, vip), inst.cfg.vip_dev(vip)
            try:
                burst = keeper.announcer.sender(ifname, keeper.mac(ifname), vip.address, vip.family)
                add = keeper.netlink.add_request(ifindex, vip) if isinstance(ifindex, int) else None
            except OSError as exc:  # the takeover then does it, or fails and says so
                inst.log.debug("cannot prepare VIP %s for a takeover: %s", vip.address, exc)
                add = None
            if add is None:
                steps = None
            elif steps is not None:
                steps.append(Step(vip, add, burst))
        if steps is not None and eligible(inst.cfg, keeper.filters(inst)):
            self.plans[inst.cfg.name] = tuple(steps)

    def take(self, inst: Any) -> Optional[Plan]:
        """INST's plan, if the loop may run it now (an idle worker, no filter)."""
        plan = self.plans.pop(inst.cfg.name, None)
        if plan is None or not self.keeper.idle() or self.keeper.filters(inst):
            return None
        return plan

    def stage(self, inst: Any) -> bool:
        """INST is about to take over: its plan's adds now, its bursts at `take_staged`."""
        plan = self.take(inst)
        if plan is None:
            return False
        done, undone = add_all(plan)
        self.staged[inst.cfg.name] = Staged(plan, done, undone)
        return True

    def take_staged(self, inst: Any) -> Optional[Staged]:
        return self.staged.pop(inst.cfg.name, None)

    def idle(self) -> None:
        """The worker has nothing left: prepare the backups made meanwhile."""
        if not self.pending:
            return
        pending, self.pending = self.pending, {}
        for inst in pending.values():
            if inst.router.state == BACKUP and not inst.removed:
                self.prepare(inst)

    def forget(self, inst: Any) -> None:
        """INST's plan, prepared or pending, is no more (a removal, a new one)."""
        self.plans.pop(inst.cfg.name, None)
        self.pending.pop(inst.cfg.name, None)

    def clear(self) -> None:
        """A link event: every plan goes (the driver prepares its backups again)."""
        self.plans.clear()
        self.pending.clear()
