"""Notify hooks, in transition order, one at a time (keepalived's are fire-and-forget, racy).

Rules:
- One Notifier per instance and per sync group: an asyncio queue and one
  worker. A transition enqueues (state, priority) with the hooks configured
  at that moment; the worker runs the specific hook (notify_master/backup/
  fault/stop), then the generic `notify` with keepalived's four arguments
  appended: TYPE NAME STATE PRIORITY (TYPE = INSTANCE | GROUP; a group's
  priority is 0). Only the configured words are passed to the specific hook.
- A hook never runs concurrently with another hook of the same instance
  or group, and never blocks the protocol: the queue is drained by its own
  task. Each hook is bounded by NOTIFY_TIMEOUT_S (process group killed).
- A failure (missing, not executable, non-zero, timeout, refused) is logged,
  counted and published as an event; the next hook still runs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional, Tuple

from vrrp_agent.adapters.scripts import RunResult, resolve_user, run_command
from vrrp_agent.config.model import RX_LOWER_PRI, GlobalDefs, NotifyCommand, NotifyConfig
from vrrp_agent.events import EventBus

NOTIFY_TIMEOUT_S = 30.0
STOP_DRAIN_S = 5.0

Item = Tuple[str, int, NotifyConfig]


class Notifier:
    def __init__(self, kind: str, name: str, notify: NotifyConfig, gdefs: GlobalDefs,
                 bus: EventBus, log: Any):
        self.kind = kind  # "INSTANCE" | "GROUP"
        self.name = name
        self.notify = notify
        self.gdefs = gdefs
        self.bus = bus
        self.log = log
        self.counters: Dict[str, int] = {}
        """The owner's counters: notify_runs and notify_failures are added here."""
        self.queue: asyncio.Queue[Optional[Item]] = asyncio.Queue()
        self.task: Optional[asyncio.Task[None]] = None

    def reconfigure(self, notify: NotifyConfig, gdefs: GlobalDefs) -> None:
        self.notify, self.gdefs = notify, gdefs

    def transition(self, state: str, priority: int) -> None:
        """Queue the hooks of entering `state` (MASTER, BACKUP, FAULT, STOP), or of the
        MASTER_RX_LOWER_PRI event (its own hook only)."""
        if not self.notify.any:
            return
        if self.task is None:
            self.task = asyncio.ensure_future(self._worker())
        self.queue.put_nowait((state, priority, self.notify))

    async def drain(self, timeout_s: float = STOP_DRAIN_S) -> None:
        """Wait (bounded) for queued hooks, then stop the worker."""
        if self.task is None:
            return
        self.queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout_s)
        except asyncio.TimeoutError:
            self.log.warning("notify hooks of %s %s still running after %.0f s: abandoned",
                             self.kind.lower(), self.name, timeout_s)
            self.task.cancel()
        self.task = None

    async def _worker(self) -> None:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            state, priority, notify = item
            specific = notify.for_state(state)
            if specific is not None:
                await self._run(f"notify_{state.lower()}", specific, (), state)
            if notify.generic is not None and state != RX_LOWER_PRI:
                await self._run("notify", notify.generic, (self.kind, self.name, state, str(priority)),
                                state)

    async def _run(self, hook: str, command: NotifyCommand, extra: Tuple[str, ...], state: str) -> None:
        argv = tuple(command.argv) + extra
        try:
            run_as = resolve_user(command.user, self.gdefs)
        except KeyError as exc:
            result = RunResult(False, None, f"refused: {exc.args[0]}")
        else:
            try:
                result = await run_command(argv, NOTIFY_TIMEOUT_S, run_as, self.gdefs)
            except Exception as exc:  # noqa: BLE001 - a hook must never break the worker
                result = RunResult(False, None, f"internal error: {exc}")
        self.counters["notify_runs"] = self.counters.get("notify_runs", 0) + 1
        if result.ok:
            self.log.info("%s %s: %s", hook, " ".join(argv), result.detail)
        else:
            self.counters["notify_failures"] = self.counters.get("notify_failures", 0) + 1
            self.log.warning("%s %s failed: %s", hook, " ".join(argv), result.detail)
        key = "instance" if self.kind == "INSTANCE" else "group"
        self.bus.publish("notify", **{key: self.name}, state=state, hook=hook, argv=list(argv),
                         ok=result.ok, result=result.detail)


def notify_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"vrrp_agent.notify.{name}")
