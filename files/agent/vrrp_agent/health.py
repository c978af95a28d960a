"""The asyncio side of tracking: script loops, file/process polling, re-evaluation.

The tracking driver, one part of the daemon (daemon.py assembles them). Rules:
- One task per vrrp_script that some instance tracks (keepalived skips the
  others). Runs of one script never overlap: the task runs, waits for the
  result (bounded by the script timeout), then sleeps the rest of the
  interval. Every run is counted; a failure is logged (warning when its
  detail changes, debug when it repeats) and published as an event.
- Track files and processes are polled every POLL_S (no polling task while
  the config has none: an idle agent wakes only for its adverts); tracked
  interfaces are refreshed on every link event (SIOCGIFFLAGS, as for the
  instance link).
- After any fact changes, every instance that tracks it is re-evaluated by
  track.evaluate: the Router takes it as its tracked priority (advertised
  unless an operator override holds one) and its actions are run; a FAULT
  verdict is a fault source ("tracking") that the supervisor combines with
  the others (supervisor.py).
- Reload: the task of a kept script keeps its rise/fall state and picks up
  the new settings at its next run; removed scripts stop; new ones start.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Dict, List, Optional, Set

from vrrp_agent.adapters import procscan
from vrrp_agent.adapters.scripts import RunResult, resolve_user, run_command
from vrrp_agent.config.model import ScriptConfig, TrackFileConfig
from vrrp_agent.instance import Instance
from vrrp_agent.runtime import Runtime
from vrrp_agent.track import Facts, ProcessDelay, ScriptHealth, evaluate
from vrrp_agent.transitions import Transitions

log = logging.getLogger("vrrp_agent")
POLL_S = 1.0


def read_track_file(path: str) -> int:
    """keepalived: the first number in the file; missing, empty or not a number = 0."""
    try:
        with open(path) as fh:
            words = fh.read(4096).split()
    except OSError:
        return 0
    try:
        return int(words[0]) if words else 0
    except ValueError:
        return 0


def init_track_file(cfg: TrackFileConfig) -> None:
    """init_file [V] [overwrite]: create the file with V (or always rewrite it)."""
    if cfg.init_value is None or (os.path.exists(cfg.path) and not cfg.init_overwrite):
        return
    try:
        with open(cfg.path, "w") as fh:
            fh.write(f"{cfg.init_value}\n")
    except OSError as exc:
        log.warning("vrrp_track_file %s: cannot initialise %s: %s", cfg.name, cfg.path, exc)


class TrackingDriver:
    """Runs the trackers and feeds their verdicts to the routers and the supervisor."""

    def __init__(self, rt: Runtime, transitions: Transitions):
        self.rt = rt
        self.transitions = transitions
        self.facts = Facts()
        self.process_delays: Dict[str, ProcessDelay] = {}
        """vrrp_track_process name -> its fork/terminate delay state."""
        self.script_tasks: Dict[str, asyncio.Task[None]] = {}
        self.script_cfgs: Dict[str, ScriptConfig] = {}
        self.poll_task: Optional[asyncio.Task[None]] = None
        self._last_detail: Dict[str, str] = {}

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start (or, on reload, adjust) script tasks and polling for self.rt.config."""
        used = {r.name for i in self.rt.instances for r in i.cfg.tracks if r.kind == "script"}
        wanted = {s.name: s for s in self.rt.config.scripts if s.name in used}
        unused = [s.name for s in self.rt.config.scripts if s.name not in used]
        if unused:
            log.info("vrrp_script not tracked by any instance, not run: %s", ", ".join(unused))
        for name in list(self.script_tasks):
            if name not in wanted:
                self.script_tasks.pop(name).cancel()
                self.facts.scripts.pop(name, None)
        for name, cfg in wanted.items():
            self.script_cfgs[name] = cfg
            health = self.facts.scripts.get(name)
            if health is None:
                self.facts.scripts[name] = ScriptHealth(name, cfg.rise, cfg.fall, cfg.init_fail)
            elif (health.rise, health.fall) != (cfg.rise, cfg.fall):
                health.reconfigure(cfg.rise, cfg.fall)
            if name not in self.script_tasks:
                self.script_tasks[name] = self.rt.loop.create_task(self._script_loop(name))
        for tf in self.rt.config.track_files:
            init_track_file(tf)
        self.facts.quorum = {p.name: (p.quorum, p.quorum_max) for p in self.rt.config.track_processes}
        self.refresh_interfaces()
        self._poll_once()
        pollable = bool(self.rt.config.track_files) or any(
            r.kind == "process" for i in self.rt.instances for r in i.cfg.tracks)
        if self.poll_task is None and pollable:
            self.poll_task = self.rt.loop.create_task(self._poll_loop())
        elif self.poll_task is not None and not pollable:
            self.poll_task.cancel()
            self.poll_task = None
        self.reevaluate(self.rt.instances)

    async def stop(self) -> None:
        tasks = list(self.script_tasks.values())
        if self.poll_task is not None:
            tasks.append(self.poll_task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping
                pass
        self.script_tasks.clear()
        self.poll_task = None

    # -------------------------------------------------------------- scripts
    async def _script_loop(self, name: str) -> None:
        while True:
            cfg = self.script_cfgs[name]
            started = self.rt.loop.time()
            result = await self._run_script(cfg)
            try:
                self._script_result(cfg, result)
            except Exception:  # noqa: BLE001 - the check loop must survive a bug
                log.exception("this is a bug: handling the result of vrrp_script %s failed", name)
            await asyncio.sleep(max(0.0, cfg.interval_s - (self.rt.loop.time() - started)))

    async def _run_script(self, cfg: ScriptConfig) -> RunResult:
        try:
            run_as = resolve_user(cfg.user, self.rt.config.globals)
        except KeyError as exc:
            return RunResult(False, None, f"refused: {exc.args[0]}")
        try:
            return await run_command(cfg.argv, cfg.run_timeout_s, run_as, self.rt.config.globals,
                                     capture=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a check must never kill its loop
            log.exception("this is a bug: vrrp_script %s could not run", cfg.name)
            return RunResult(False, None, f"internal error: {exc}")

    def _script_result(self, cfg: ScriptConfig, result: RunResult) -> None:
        health = self.facts.scripts.get(cfg.name)
        if health is None:
            return
        changed = health.feed(result.ok, self.rt.loop.time(), result.detail)
        previous = self._last_detail.get(cfg.name)
        self._last_detail[cfg.name] = result.detail
        if changed:
            level = logging.INFO if health.state == "ok" else logging.WARNING
            log.log(level, "vrrp_script %s is now %s (%s)", cfg.name, health.state.upper(),
                    result.detail)
        elif not result.ok and result.detail != previous:
            log.warning("vrrp_script %s failed: %s (%s, %d failure(s) so far)", cfg.name,
                        result.detail, health.state, health.failures)
        else:
            log.debug("vrrp_script %s: %s", cfg.name, result.detail)
        self.rt.bus.publish("script", script=cfg.name, ok=result.ok, result=result.detail,
                            state=health.state, changed=changed)
        if changed:
            self.reevaluate(self._tracking("script", {cfg.name}))

    # -------------------------------------------------------- files, processes, interfaces
    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                self._poll_once()
            except Exception:  # noqa: BLE001 - polling must survive anything
                log.exception("this is a bug: tracker polling failed")

    def _poll_once(self) -> None:
        changed: Dict[str, Set[str]] = {"file": set(), "process": set()}
        for tf in self.rt.config.track_files:
            value = read_track_file(tf.path)
            if self.facts.files.get(tf.name) != value:
                self.facts.files[tf.name] = value
                changed["file"].add(tf.name)
                log.info("vrrp_track_file %s: %s = %d", tf.name, tf.path, value)
                self.rt.bus.publish("tracker", kind="file", name=tf.name, value=value)
        tracked = {r.name for i in self.rt.instances for r in i.cfg.tracks if r.kind == "process"}
        procs = [p for p in self.rt.config.track_processes if p.name in tracked]
        if procs:
            now = self.rt.loop.time()
            for name, n in procscan.count(procs).items():
                n = self._process_delay(name).update(n, now)
                if self.facts.processes.get(name) != n:
                    self.facts.processes[name] = n
                    changed["process"].add(name)
                    log.info("vrrp_track_process %s: %d running", name, n)
                    self.rt.bus.publish("tracker", kind="process", name=name, count=n)
        for kind, names in changed.items():
            if names:
                self.reevaluate(self._tracking(kind, names))

    def _process_delay(self, name: str) -> ProcessDelay:
        """The fork/terminate delay state of one process tracker (new when its config changes)."""
        cfg = next(p for p in self.rt.config.track_processes if p.name == name)
        key = (cfg.fork_delay_s, cfg.terminate_delay_s, cfg.quorum, cfg.quorum_max)
        delay = self.process_delays.get(name)
        if delay is None or (delay.delays + delay.quorum) != key:
            delay = self.process_delays[name] = ProcessDelay(*key)
        return delay

    def refresh_interfaces(self) -> None:
        names = {r.name for i in self.rt.instances for r in i.cfg.tracks if r.kind == "interface"}
        changed = set()
        for name in names:
            up = self.rt.adapters.link_is_up(name)
            if self.facts.interfaces.get(name) != up:
                if name in self.facts.interfaces:
                    log.info("tracked interface %s is %s", name, "up" if up else "down")
                    self.rt.bus.publish("tracker", kind="interface", name=name, up=up)
                self.facts.interfaces[name] = up
                changed.add(name)
        if changed:
            self.reevaluate(self._tracking("interface", changed))

    # ------------------------------------------------------------ evaluation
    def _tracking(self, kind: str, names: Set[str]) -> List[Instance]:
        return [i for i in self.rt.instances if any(r.kind == kind and r.name in names for r in i.cfg.tracks)]

    def reevaluate(self, instances: List[Instance]) -> None:
        for inst in instances:
            verdict = evaluate(inst.cfg.priority, inst.cfg.tracks, self.facts)
            inst.verdict = verdict
            router = inst.router
            before = router.effective_priority
            if verdict.priority != router.tracked_priority:
                # what came before the change is taken as it was then: a watched backup
                # (stamped.py) has not read its master's steady adverts for a while
                self.transitions.drain_all()
            actions = router.set_priority(verdict.priority, self.rt.loop.time())
            if router.effective_priority != before:
                inst.log.info("effective priority %d -> %d (tracking)", before, router.effective_priority)
                self.rt.bus.publish("priority", instance=inst.cfg.name, old=before,
                                    new=router.effective_priority)
            self.transitions.apply(inst, actions)
            if router.effective_priority != before:
                self.transitions.rearm(inst)  # a watched backup's deadline is checked again (stamped.py)
            reason = "tracking: " + ", ".join(verdict.reasons) if verdict.fault else None
            self.transitions.set_fault(inst, "tracking", reason)

    def tracking_of(self, inst: Instance) -> Dict[str, Any]:
        from vrrp_agent.track import tracking_status

        verdict = getattr(inst, "verdict", None)
        if verdict is None:
            verdict = evaluate(inst.cfg.priority, inst.cfg.tracks, self.facts)
        doc = tracking_status(verdict, self.facts)
        doc["faults"] = self.transitions.faults_of(inst)
        return doc
