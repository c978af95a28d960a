"""Around state changes: the supervisor's commands, events, notify hooks, resources.

One part of the daemon (daemon.py assembles them). Rules:
- Policy lives in supervisor.py (pure): fault sources, sync groups, group
  arbitration, the hold of a resource fault. This module only runs what it
  decides: `_apply` executes a router's actions in order, feeds the
  transitions and WantMaster to the supervisor, and runs the commands it
  returns on their routers, from one work queue (nothing re-enters: an
  `_apply` called while the queue drains only appends to it).
- Every state change is published on the event bus, then queued on the
  instance's notifier (keepalived's STOP for a stop; for an instance removed
  at a reload, FAULT, or DELETED with notify_deleted), and, when all members
  of a sync group agree on a new state, on the group's notifier.
- Resources: wanted up on entering MASTER (started after the VIPs are on
  the interface), wanted down on leaving it. A failed start is the
  "resources" fault source, held `fault_hold` seconds (0: until release).
- Stop: once every instance is released (`stopped`, daemon.py), fault
  sources no longer move them: nothing follows an instance's STOP.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
from typing import Deque, Dict, List, Optional, Protocol, Tuple

from vrrp_agent.config.model import RX_LOWER_PRI, InstanceConfig
from vrrp_agent.constants import PRIORITY_STOP
from vrrp_agent.instance import Instance
from vrrp_agent.notify import Notifier
from vrrp_agent.resources import ResourceGroup
from vrrp_agent.router import BACKUP, INIT, MASTER, Action, RxLowerPriority, StateChanged, WantMaster
from vrrp_agent.runtime import Runtime
from vrrp_agent.supervisor import (
    RESOURCES,
    Command,
    EnterFault,
    ForceBackup,
    ForceMaster,
    GroupChanged,
    LeaveFault,
    MemberView,
    Supervisor,
)
from vrrp_agent.vips import VipKeeper

log = logging.getLogger("vrrp_agent")


class RouterIO(Protocol):
    """What Transitions needs from the driver (driver.Driver)."""

    def execute(self, inst: Instance, actions: List[Action]) -> None:
        """Run a router's actions in order (adverts, VIPs, announcements, transitions)."""

    def arm(self, inst: Instance) -> None:
        """Re-arm the instance's timer at its router's next deadline."""

    def drain_all(self) -> None:
        """What every quiet socket received and the loop has not read yet, taken now."""


class Transitions:
    """Runs the supervisor's decisions; publishes and notifies state changes."""

    def __init__(self, rt: Runtime, vips: VipKeeper):
        self.rt = rt
        self.vips = vips
        self.io: Optional[RouterIO] = None
        """Set by the daemon once the driver exists."""
        self.group_notifiers: Dict[str, Notifier] = {}
        self.supervisor = Supervisor({}, log)
        self._work: Deque[Tuple[Instance, List[Action], bool]] = collections.deque()
        self._draining = False
        self._supervisor_timer: Optional[asyncio.TimerHandle] = None
        self._supervisor_at: Optional[float] = None
        self.stopped = False
        """Set once the daemon released every instance (stop): no fault moves one after STOP."""

    # ------------------------------------------------------------ instances
    def new_instance(self, cfg: InstanceConfig) -> Instance:
        inst = Instance(cfg, self.rt.config.globals, log)
        self.attach(inst)
        return inst

    def attach(self, inst: Instance) -> None:
        """Notifier and resource group for an instance (new, or reconfigured on reload)."""
        cfg, gdefs = inst.cfg, self.rt.config.globals
        if inst.notifier is None:
            inst.notifier = Notifier("INSTANCE", cfg.name, cfg.notify, gdefs, self.rt.bus, inst.log)
        else:
            inst.notifier.reconfigure(cfg.notify, gdefs)
        inst.notifier.counters = inst.counters
        inst.counters.setdefault("notify_runs", 0)
        inst.counters.setdefault("notify_failures", 0)
        if cfg.resources is None:
            return
        if inst.resources is None:
            inst.resources = ResourceGroup(
                cfg.name, cfg.resources, gdefs, self.rt.bus, inst.log,
                on_start_failed=functools.partial(self.resource_failed, inst),
                before_start=self.vips.settled)
        else:
            inst.resources.reconfigure(cfg.resources, gdefs)

    def sync_groups_changed(self) -> None:
        """Create/update group notifiers and the supervisor's groups after a (re)load."""
        groups = {g.name: [i.cfg.name for i in self.rt.instances if i.cfg.sync_group == g.name]
                  for g in self.rt.config.sync_groups}
        self.supervisor.reconfigure(groups)
        for group in self.rt.config.sync_groups:
            notifier = self.group_notifiers.get(group.name)
            if notifier is None:
                self.group_notifiers[group.name] = Notifier(
                    "GROUP", group.name, group.notify, self.rt.config.globals, self.rt.bus,
                    logging.getLogger("vrrp_agent"))
            else:
                notifier.reconfigure(group.notify, self.rt.config.globals)
        for name in list(self.group_notifiers):
            if name not in groups:
                self.group_notifiers.pop(name)

    def group_members(self, group: Optional[str]) -> List[Instance]:
        names = self.supervisor.members(group)
        return [i for i in self.rt.instances if i.cfg.name in names]

    def _io(self) -> RouterIO:
        if self.io is None:
            raise RuntimeError("this is a bug: Transitions used before the driver was attached")
        return self.io

    def faults_of(self, inst: Instance) -> Dict[str, str]:
        return dict(self.supervisor.faults.get(inst.cfg.name, {}))

    # ----------------------------------------------------- supervisor glue
    def _view(self) -> Dict[str, MemberView]:
        return {i.cfg.name: MemberView(i.router.state, i.router.wants_master, i.ifindex is not None)
                for i in self.rt.instances}

    def set_fault(self, inst: Instance, source: str, reason: Optional[str],
                  hold_s: Optional[float] = None) -> None:
        """A fault source of `inst` holds (reason) or cleared (None)."""
        if self.stopped:  # a tracker or link event between the release and the end of stop
            return
        commands = self.supervisor.set_fault(inst.cfg.name, source, reason, self._view(),
                                             self.rt.loop.time(), hold_s)
        self._commands(commands)

    def rearm(self, inst: Instance) -> None:
        """INST's timer armed again (after a change of its priority)."""
        self._io().arm(inst)

    def drain_all(self) -> None:
        """Unread adverts taken now (before a change of priority judges them)."""
        self._io().drain_all()

    def settle(self, inst: Instance) -> None:
        self._commands(self.supervisor.settle(inst.cfg.name, self._view()))
        self._io().arm(inst)

    def apply(self, inst: Instance, actions: List[Action], propagate: bool = True) -> None:
        """Run a router's actions, then whatever the supervisor makes of them (one queue)."""
        self._work.append((inst, actions, propagate))
        if self._draining:
            return
        self._draining = True
        try:
            while self._work:
                target, todo, prop = self._work.popleft()
                self._io().execute(target, todo)
                if any(type(a) in (StateChanged, WantMaster) for a in todo):
                    self._commands(self.supervisor.on_output(target.cfg.name, todo, self._view(), prop))
        finally:
            self._draining = False
        self._arm_supervisor()

    def _commands(self, commands: List[Command]) -> None:
        now = self.rt.loop.time()
        for cmd in commands:
            if isinstance(cmd, GroupChanged):
                self._group_changed(cmd.group, cmd.state)
                continue
            inst = self.rt.by_name(cmd.name)
            if inst is None:
                continue
            router = inst.router
            if isinstance(cmd, EnterFault):
                self.apply(inst, router.enter_fault(now, cmd.reason))
            elif isinstance(cmd, LeaveFault):
                self.apply(inst, router.leave_fault(now))
            elif isinstance(cmd, ForceMaster):
                self.apply(inst, router.force_master(now, cmd.reason), cmd.propagate)
            elif isinstance(cmd, ForceBackup):
                self.apply(inst, router.force_backup(now, cmd.reason), False)
            self._io().arm(inst)
        self._arm_supervisor()

    def _arm_supervisor(self) -> None:
        deadline = self.supervisor.next_deadline()
        if deadline == self._supervisor_at:
            return
        if self._supervisor_timer is not None:
            self._supervisor_timer.cancel()
        self._supervisor_timer = None
        self._supervisor_at = deadline
        if deadline is not None:
            self._supervisor_timer = self.rt.loop.call_at(deadline, self._supervisor_fire)

    def _supervisor_fire(self) -> None:
        now = max(self.rt.loop.time(), self._supervisor_at or 0.0)
        self._supervisor_timer = None
        self._supervisor_at = None
        self._commands(self.supervisor.on_timer(now, self._view()))

    # --------------------------------------------------------------- faults
    def resource_failed(self, inst: Instance, why: str) -> None:
        hold = inst.cfg.resources.fault_hold_s if inst.cfg.resources else 0.0
        until = f"for {hold:g} s" if hold > 0 else "until `vrrp-agent release`"
        inst.log.error("%s: FAULT %s (priority 0 sent, VIPs released)", why, until)
        self.set_fault(inst, RESOURCES, why, hold_s=hold)

    def clear_resource_fault(self, inst: Instance) -> None:
        if self.supervisor.faults.get(inst.cfg.name, {}).get(RESOURCES) is not None:
            inst.log.info("resource failure cleared: leaving FAULT")
        self.set_fault(inst, RESOURCES, None)

    # ---------------------------------------------------------- transitions
    def on_transition(self, inst: Instance, change: StateChanged) -> None:
        router = inst.router
        state = "STOP" if change.new == INIT else change.new
        if change.new == INIT and inst.removed:  # keepalived: FAULT, or DELETED with notify_deleted
            state = "DELETED" if inst.cfg.notify_deleted else "FAULT"
        self.rt.bus.publish("transition", instance=inst.cfg.name, old=change.old, new=change.new,
                            reason=change.reason, priority=router.effective_priority, state=state)
        if inst.notifier is not None:
            inst.notifier.transition(state, router.effective_priority)
        if change.new == BACKUP:  # its takeover's advert, VIP add and GARP ready (takeover.py)
            inst.encoder.prepare(router.effective_priority, inst.cfg.advert_int_cs, inst.destinations)
            self.vips.plans.prepare(inst)
        elif change.old == BACKUP:  # a plan lives while BACKUP (a takeover has taken it)
            self.vips.plans.forget(inst)
        if change.new == MASTER:  # its release's priority-0 advert ready (a graceful stop)
            inst.encoder.prepare(PRIORITY_STOP, inst.cfg.advert_int_cs, inst.destinations)
        if inst.resources is not None:
            if change.new == MASTER:
                inst.resources.set_wanted(True)
            elif change.old == MASTER:
                inst.resources.set_wanted(False)

    def on_rx_lower_priority(self, inst: Instance, event: RxLowerPriority) -> None:
        """A lower-priority episode opened (answers.py): the event and keepalived's hook."""
        self.rt.bus.publish("rx_lower_priority", instance=inst.cfg.name, priority=event.priority)
        if inst.notifier is not None and inst.cfg.notify.master_rx_lower_pri is not None:
            inst.notifier.transition(RX_LOWER_PRI, inst.router.effective_priority)

    def _group_changed(self, group: str, state: str) -> None:
        log.info("sync group %s: %s", group, state)
        self.rt.bus.publish("group", group=group, state=state)
        notifier = self.group_notifiers.get(group)
        if notifier is not None:
            notifier.transition(state, 0)

    # ------------------------------------------------------------- shutdown
    async def stop_resources_first(self, instances: List[Instance]) -> None:
        """Voluntary release (stop, standby): resources stop while we still hold the VIPs."""
        busy = self.with_resources(instances)
        for inst in busy:
            inst.log.info("stopping resources before releasing the instance")
            inst.resources.set_wanted(False)
        for inst in busy:
            await inst.resources.settled()

    @staticmethod
    def with_resources(instances: List[Instance]) -> List[Instance]:
        """The masters whose resources must stop before they release their VIPs."""
        return [i for i in instances if i.resources is not None and i.router.state == MASTER]

    async def drain_hooks(self) -> None:
        notifiers = [i.notifier for i in self.rt.instances if i.notifier is not None]
        notifiers += list(self.group_notifiers.values())
        await asyncio.gather(*(n.drain() for n in notifiers))
        for inst in self.rt.instances:
            if inst.resources is not None:
                await inst.resources.close()
