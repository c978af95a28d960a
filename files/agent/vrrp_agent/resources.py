"""Resource groups (agent extension, heartbeat's haresources model) for one instance.

Rules:
- Resources start in config order when the instance becomes MASTER (after
  its VIPs are added) and stop in reverse order when it leaves MASTER.
  `service UNIT` runs `systemctl start|stop UNIT`; `script PATH ARGS...`
  runs `PATH ARGS... start|stop` (heartbeat's resource.d convention). Each
  action is bounded by `timeout` (process group killed) and runs as the
  agent's user (root in production: resources start services).
- One worker per group reconciles the wanted state (up while MASTER) with
  the resources' states, one action at a time; a change of mind while an
  action runs takes effect after that action.
- A failed start: everything not stopped is stopped in reverse (the failed
  one included: heartbeat scripts must tolerate a stop when stopped), then
  `on_start_failed` is called: the daemon puts the instance in FAULT
  (priority-0 advert, VIPs removed) so the peer takes over.
- A failed stop is retried `stop_retries` times, then the resource is
  "failed" with its last error: logged at error level and published.
  (heartbeat reboots the node here; the agent reports and goes on.)
- States: stopped | starting | started | stopping | failed.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from vrrp_agent.adapters.scripts import RunResult, agent_user, run_command
from vrrp_agent.config.model import GlobalDefs, ResourceConfig, ResourceGroupConfig
from vrrp_agent.events import EventBus

STOPPED, STARTING, STARTED, STOPPING, FAILED = "stopped", "starting", "started", "stopping", "failed"


def action_argv(res: ResourceConfig, verb: str) -> Tuple[str, ...]:
    if res.kind == "service":
        return ("systemctl", verb, res.name)
    return tuple(res.argv) + (verb,)


class ResourceState:
    def __init__(self, cfg: ResourceConfig):
        self.cfg = cfg
        self.state = STOPPED
        self.last_error: Optional[str] = None

    def status(self) -> Dict[str, Any]:
        return {"name": self.cfg.name, "kind": self.cfg.kind, "state": self.state,
                "last_error": self.last_error}


class ResourceGroup:
    def __init__(self, instance: str, cfg: ResourceGroupConfig, gdefs: GlobalDefs, bus: EventBus,
                 log: Any, on_start_failed: Callable[[str], None],
                 before_start: Callable[[], Awaitable[None]]):
        self.instance = instance
        self.gdefs = gdefs
        self.bus = bus
        self.log = log
        self.on_start_failed = on_start_failed
        self.before_start = before_start
        self.want_up = False
        self.wake = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self.task: Optional[asyncio.Task[None]] = None
        self.cfg = cfg
        self.items: List[ResourceState] = [ResourceState(r) for r in cfg.resources]

    def reconfigure(self, cfg: ResourceGroupConfig, gdefs: GlobalDefs) -> None:
        """Reload: keep the state of resources still listed (same kind and name)."""
        old = {(i.cfg.kind, i.cfg.name): i for i in self.items}
        items = []
        for res in cfg.resources:
            item = old.pop((res.kind, res.name), None) or ResourceState(res)
            item.cfg = res
            items.append(item)
        for gone in old.values():
            if gone.state != STOPPED:
                self.log.warning("resource %s left the configuration while %s: not stopped by the agent",
                                 gone.cfg.name, gone.state)
        self.cfg, self.gdefs, self.items = cfg, gdefs, items

    def status(self) -> List[Dict[str, Any]]:
        return [i.status() for i in self.items]

    def set_wanted(self, up: bool) -> None:
        self.want_up = up
        self.idle.clear()
        if self.task is None:
            self.task = asyncio.ensure_future(self._worker())
        self.wake.set()

    async def settled(self) -> None:
        """Wait until the worker has nothing left to do."""
        await self.idle.wait()

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping
                pass
            self.task = None

    # ------------------------------------------------------------- worker
    async def _worker(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            try:
                if self.want_up:
                    await self._start_all()
                else:
                    await self._stop_all()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the worker must survive a bug
                self.log.exception("this is a bug: resource group worker failed")
            if not self.wake.is_set():
                self.idle.set()

    async def _start_all(self) -> None:
        await self.before_start()
        for item in self.items:
            if not self.want_up:
                self.wake.set()  # changed our mind: the next round stops
                return
            if item.state == STARTED:
                continue
            item.state = STARTING
            self._publish(item, "start")
            result = await self._run(item.cfg, "start")
            if result.ok:
                item.state, item.last_error = STARTED, None
                self.log.info("resource %s started", item.cfg.name)
                self._publish(item, "start", result)
                continue
            item.state, item.last_error = FAILED, f"start: {result.detail}"
            self.log.error("resource %s failed to start: %s; stopping the group and releasing "
                           "the instance", item.cfg.name, result.detail)
            self._publish(item, "start", result)
            self.want_up = False
            await self._stop_all()
            self.on_start_failed(f"resource {item.cfg.name} failed to start ({result.detail})")
            return

    async def _stop_all(self) -> None:
        for item in reversed(self.items):
            if item.state == STOPPED:
                continue
            start_failure = item.last_error if item.state == FAILED else None
            await self._stop_one(item)
            if start_failure and item.state == STOPPED:
                item.last_error = start_failure  # keep why it is down

    async def _stop_one(self, item: ResourceState) -> None:
        attempts = 1 + self.cfg.stop_retries
        result: Optional[RunResult] = None
        for attempt in range(1, attempts + 1):
            item.state = STOPPING
            self._publish(item, "stop", attempt=attempt)
            result = await self._run(item.cfg, "stop")
            if result.ok:
                item.state = STOPPED
                item.last_error = None
                self.log.info("resource %s stopped", item.cfg.name)
                self._publish(item, "stop", result, attempt=attempt)
                return
            self.log.warning("resource %s: stop attempt %d/%d failed: %s", item.cfg.name, attempt,
                             attempts, result.detail)
            self._publish(item, "stop", result, attempt=attempt)
        item.state = FAILED
        item.last_error = f"stop: {result.detail if result else 'not run'}"
        self.log.error("resource %s could not be stopped after %d attempts: %s (it may still run)",
                       item.cfg.name, attempts, item.last_error)

    async def _run(self, res: ResourceConfig, verb: str) -> RunResult:
        try:
            return await run_command(action_argv(res, verb), self.cfg.timeout_s, agent_user(), self.gdefs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported as a failed action
            return RunResult(False, None, f"internal error: {exc}")

    def _publish(self, item: ResourceState, action: str, result: Optional[RunResult] = None,
                 **extra: Any) -> None:
        fields: Dict[str, Any] = dict(instance=self.instance, resource=item.cfg.name,
                                      kind=item.cfg.kind, action=action, state=item.state, **extra)
        if result is not None:
            fields.update(ok=result.ok, result=result.detail)
        self.bus.publish("resource", **fields)
