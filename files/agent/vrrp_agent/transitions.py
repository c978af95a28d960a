"""Around state changes: fault sources, sync groups, events, notify hooks, resources.

A mixin of the Daemon (daemon.py). Rules:
- FAULT has several sources per instance (`Instance.faults`): link (its own
  interface), tracking (weight-0 trackers), resources (a failed start),
  sync (another member of its sync group is in FAULT). The instance is in
  FAULT while any source holds; when the last one clears it starts again
  (BACKUP, or MASTER for the address owner), RFC 5798 §6.4.1.
- Sync groups (keepalived): one member's FAULT puts every member in FAULT;
  a member becoming MASTER makes the other backups MASTER; a member leaving
  MASTER for BACKUP makes the other masters BACKUP (priority-0 advert).
  Propagation happens once per change (no ping-pong inside the agent).
  A member whose master-down timer expires becomes MASTER only when every
  other member is MASTER or wants to be (its own timer expired): a member
  that still hears a live master holds the group back (keepalived's rule).
  Members need a consistent priority order across nodes (as in keepalived).
- Every state change is published on the event bus, then queued on the
  instance's notifier (keepalived's STOP for a stop), and, when all members
  of a sync group agree on a new state, on the group's notifier.
- Resources: wanted up on entering MASTER (started after the VIPs are on
  the interface), wanted down on leaving it. A failed start is the
  "resources" fault source, held `fault_hold` seconds (0: until release).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, Callable, Dict, List, Optional

from vrrp_agent.config.model import Config, InstanceConfig
from vrrp_agent.events import EventBus
from vrrp_agent.instance import Instance
from vrrp_agent.notify import Notifier
from vrrp_agent.resources import ResourceGroup
from vrrp_agent.router import BACKUP, FAULT, INIT, MASTER, StateChanged

log = logging.getLogger("vrrp_agent")


class Transitions:
    """Mixed into Daemon."""

    instances: List[Instance]
    config: Config
    loop: asyncio.AbstractEventLoop
    bus: EventBus
    _apply: Callable[..., None]
    _arm: Callable[..., None]
    _on_netlink: Callable[..., Any]

    def _init_transitions(self) -> None:
        self._syncing = False
        self.group_notifiers: Dict[str, Notifier] = {}
        self.group_states: Dict[str, Optional[str]] = {}

    # ------------------------------------------------------------ instances
    def _new_instance(self, cfg: InstanceConfig) -> Instance:
        inst = Instance(cfg, self.config.globals, log)
        self._attach(inst)
        return inst

    def _attach(self, inst: Instance) -> None:
        """Notifier and resource group for an instance (new, or reconfigured on reload)."""
        cfg, gdefs = inst.cfg, self.config.globals
        if inst.notifier is None:
            inst.notifier = Notifier("INSTANCE", cfg.name, cfg.notify, gdefs, self.bus, inst.log)
        else:
            inst.notifier.reconfigure(cfg.notify, gdefs)
        inst.notifier.counters = inst.counters
        inst.counters.setdefault("notify_runs", 0)
        inst.counters.setdefault("notify_failures", 0)
        if cfg.resources is None:
            return
        if inst.resources is None:
            inst.resources = ResourceGroup(
                cfg.name, cfg.resources, gdefs, self.bus, inst.log,
                on_start_failed=functools.partial(self._resource_failed, inst),
                before_start=self._vips_settled)
        else:
            inst.resources.reconfigure(cfg.resources, gdefs)

    async def _vips_settled(self) -> None:
        """Wait until queued VIP changes are done (resources start after the VIPs)."""
        await self._on_netlink(lambda: None)

    def _sync_groups_changed(self) -> None:
        """Create/update group notifiers after a (re)load."""
        for group in self.config.sync_groups:
            notifier = self.group_notifiers.get(group.name)
            if notifier is None:
                self.group_notifiers[group.name] = Notifier(
                    "GROUP", group.name, group.notify, self.config.globals, self.bus,
                    logging.getLogger("vrrp_agent"))
                self.group_states.setdefault(group.name, None)
            else:
                notifier.reconfigure(group.notify, self.config.globals)
        names = {g.name for g in self.config.sync_groups}
        for name in list(self.group_notifiers):
            if name not in names:
                self.group_notifiers.pop(name)
                self.group_states.pop(name, None)

    def group_members(self, group: Optional[str]) -> List[Instance]:
        if group is None:
            return []
        return [i for i in self.instances if i.cfg.sync_group == group]

    # --------------------------------------------------------------- faults
    def _settle(self, inst: Instance) -> None:
        if inst.cfg.sync_group is None:
            inst.faults.pop("sync", None)  # it may have left its group on reload
            self._settle_one(inst)
            return
        members = self.group_members(inst.cfg.sync_group)
        own = {id(m): any(k != "sync" for k in m.faults) for m in members}
        for m in members:
            others = [o.cfg.name for o in members if o is not m and own[id(o)]]
            if others:
                m.faults["sync"] = f"sync group {inst.cfg.sync_group}: {', '.join(others)} in FAULT"
            else:
                m.faults.pop("sync", None)
        for m in members:
            self._settle_one(m)

    def _settle_one(self, inst: Instance) -> None:
        router = inst.router
        now = self.loop.time()
        if inst.faults:
            if router.state != FAULT:
                self._apply(inst, router.enter_fault(now, "; ".join(inst.faults.values())))
        elif router.state == FAULT and inst.ifindex is not None:
            self._apply(inst, router.leave_fault(now))
        self._arm(inst)

    def _resource_failed(self, inst: Instance, why: str) -> None:
        hold = inst.cfg.resources.fault_hold_s if inst.cfg.resources else 0.0
        until = f"for {hold:g} s" if hold > 0 else "until `vrrp-agent release`"
        inst.log.error("%s: FAULT %s (priority 0 sent, VIPs released)", why, until)
        inst.faults["resources"] = why
        self._settle(inst)
        if inst.resource_hold is not None:
            inst.resource_hold.cancel()
        if hold > 0:
            inst.resource_hold = self.loop.call_later(hold, self._clear_resource_fault, inst)

    def _clear_resource_fault(self, inst: Instance) -> None:
        if inst.resource_hold is not None:
            inst.resource_hold.cancel()
            inst.resource_hold = None
        if inst.faults.pop("resources", None) is not None:
            inst.log.info("resource failure cleared: leaving FAULT")
            self._settle(inst)

    # ---------------------------------------------------------- transitions
    def _on_transition(self, inst: Instance, change: StateChanged) -> None:
        router = inst.router
        state = "STOP" if change.new == INIT else change.new
        self.bus.publish("transition", instance=inst.cfg.name, old=change.old, new=change.new,
                         reason=change.reason, priority=router.effective_priority)
        if inst.notifier is not None:
            inst.notifier.transition(state, router.effective_priority)
        if inst.resources is not None:
            if change.new == MASTER:
                inst.resources.set_wanted(True)
            elif change.old == MASTER:
                inst.resources.set_wanted(False)
        group = inst.cfg.sync_group
        if group is None:
            return
        if not self._syncing:
            self._propagate(inst, change)
        self._group_state(group)

    def _propagate(self, inst: Instance, change: StateChanged) -> None:
        now = self.loop.time()
        reason = f"sync group {inst.cfg.sync_group}: {inst.cfg.name} is {change.new}"
        self._syncing = True
        try:
            for other in self.group_members(inst.cfg.sync_group):
                if other is inst:
                    continue
                if change.new == MASTER and other.router.state == BACKUP:
                    self._apply(other, other.router.force_master(now, reason))
                elif change.old == MASTER and change.new == BACKUP and other.router.state == MASTER:
                    self._apply(other, other.router.force_backup(now, reason))
                self._arm(other)
        finally:
            self._syncing = False

    def _group_wants_master(self, inst: Instance) -> None:
        """keepalived's rule: a sync group goes MASTER only when every member wants it.

        A member whose master-down timer expired waits (BACKUP, no timer) while
        another member still hears a live master; the last member to want it
        takes the group over. This prevents ping-pong when one segment is cut.
        """
        others = [m for m in self.group_members(inst.cfg.sync_group) if m is not inst]
        waiting = [m.cfg.name for m in others
                   if not (m.router.state == MASTER or (m.router.state == BACKUP and m.router.wants_master))]
        if waiting:
            inst.log.info("master down timer expired; held BACKUP: sync group %s waits for %s",
                          inst.cfg.sync_group, ", ".join(waiting))
            return
        now = self.loop.time()
        self._apply(inst, inst.router.force_master(now, "master down timer expired (sync group ready)"))
        self._arm(inst)

    def _group_state(self, group: str) -> None:
        states = {m.router.state for m in self.group_members(group)}
        if len(states) != 1:
            return
        state = states.pop()
        if state == INIT:
            state = "STOP"
        if self.group_states.get(group) == state:
            return
        self.group_states[group] = state
        log.info("sync group %s: %s", group, state)
        self.bus.publish("group", group=group, state=state)
        notifier = self.group_notifiers.get(group)
        if notifier is not None:
            notifier.transition(state, 0)

    # ------------------------------------------------------------- shutdown
    async def _stop_resources_first(self, instances: List[Instance]) -> None:
        """Voluntary release (stop, standby): resources stop while we still hold the VIPs."""
        busy = [i for i in instances if i.resources is not None and i.router.state == MASTER]
        for inst in busy:
            inst.log.info("stopping resources before releasing the instance")
            inst.resources.set_wanted(False)
        for inst in busy:
            await inst.resources.settled()

    async def _drain_hooks(self) -> None:
        notifiers = [i.notifier for i in self.instances if i.notifier is not None]
        notifiers += list(self.group_notifiers.values())
        await asyncio.gather(*(n.drain() for n in notifiers))
        for inst in self.instances:
            if inst.resources is not None:
                await inst.resources.close()
