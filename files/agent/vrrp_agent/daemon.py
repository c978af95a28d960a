"""The daemon: the assembly of the parts, the control API, the lifecycle.

Parts (each module's header states its rules), wired here, no mixins:
  Driver (driver)             clock, timers, socket binding, link events, actions
  Receiver (receive)          receive path: VRID tables, fast path, discards, AH
  Transitions (transitions)   runs the supervisor's decisions, events, hooks, resources
  Supervisor (supervisor)     fault sources, sync groups, arbitration: pure
  TrackingDriver (health)     scripts, polled trackers, re-evaluation
  Operations (operations)     status, takeover/standby/release, reload
  VipKeeper (vips)            VIPs and announcements on the netlink worker; held VIPs
  WireDriver (wiredriver)     per-instance socket settings, track_src_ip, late timers
  HostSetup (hostsetup)       vMACs, nftables tables, static_* for the daemon's lifetime
Every OS call goes through runtime.Adapters, so tests can drive all of it
with fakes.

Lifecycle rules:
- The control API (commands.py, control.py, metrics.py) sees only Daemon's
  facade methods; they delegate to Operations and Transitions.
- At startup leftover VIPs are removed (keepalived does the same), after the
  host setup; instances bind after vrrp_startup_delay / vrrp_delay_after_boot.
- SIGTERM/SIGINT: every master sends priority 0 and drops its VIPs; exit 0.
  The priority-0 adverts go out from the signal's own callback, before any
  other stop work (logging, systemd, trackers, hooks, VIP bookkeeping):
  the backups' skew timers start from them. Exception: while a master has
  resources, they stop first, with the VIPs still held (transitions.py), and
  every instance is released after them. When the signal finds the loop idle
  in its selector, the release runs at once from the Python-level handler
  (`_at_once_when_idle`), not two loop turns later through asyncio's wakeup
  (not measured apart from the pass's other changes, docs/benchmarks.md);
  otherwise asyncio's handler does it after the callback the signal
  interrupted.
- While it runs, INFO/DEBUG log lines are written after the loop callback
  that logged them (logdefer.py): a transition's line after its adverts.
  SIGHUP: reload (operations.py). SIGUSR1/SIGUSR2/SIGRTMIN+2/SIGRTMAX-1:
  keepalived's dumps (dumps.py). Servers close last, so that event streams
  see the STOP transitions.
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import dataclasses
import logging
import selectors
import signal
import sys
import time
from signal import SIGHUP, SIGINT, SIGTERM
from types import FrameType
from typing import Any, Callable, Dict, List, Optional

from vrrp_agent.adapters import systemd
from vrrp_agent.alerts import StateAlerts
from vrrp_agent.config.model import Config
from vrrp_agent.config.process_globals import process_limits, startup_wait_s
from vrrp_agent.driver import Driver
from vrrp_agent.dumps import Dumper
from vrrp_agent.events import EventBus
from vrrp_agent.health import TrackingDriver
from vrrp_agent.hostsetup import HostSetup
from vrrp_agent.instance import Instance
from vrrp_agent.linkdelays import LinkDelays
from vrrp_agent.logdefer import DeferredOutput
from vrrp_agent.operations import Operations
from vrrp_agent.runtime import Adapters, Runtime
from vrrp_agent.status import render_table
from vrrp_agent.transitions import Transitions
from vrrp_agent.vips import VipKeeper, read_held_vips

__all__ = ["Daemon", "Driver", "read_held_vips"]

log = logging.getLogger("vrrp_agent")
GIL_SWITCH_S = 0.0005


class Daemon:
    """The assembly: builds the parts, runs the lifecycle, serves the control API."""

    def __init__(self, config: Config, state_dir: Optional[str] = None,
                 control_socket: Optional[str] = None, control_group: Optional[str] = None,
                 metrics_listen: Optional[str] = None, adapters: Optional[Adapters] = None):
        self.control_socket = control_socket
        self.control_group = control_group
        self.metrics_listen = metrics_listen
        self.servers: List[Any] = []
        ad = adapters or Adapters()
        link_delays = LinkDelays(asyncio.get_event_loop(), ad.link_is_up, ad.ifindex, config.link_delays)
        ad = dataclasses.replace(ad, link_is_up=link_delays.is_up)
        self.rt = Runtime(asyncio.get_event_loop(), config, EventBus(), state_dir, ad)
        self.netlink = ad.netlink()
        self.announcer = ad.announcer()
        self.vips = VipKeeper(self.rt, self.netlink, self.announcer)
        self.host_setup = HostSetup(self.rt, self.netlink, self.vips, ad.vmac_links())
        self.transitions = Transitions(self.rt, self.vips)
        self.tracking = TrackingDriver(self.rt, self.transitions)
        self.driver = Driver(self.rt, self.netlink, self.vips, self.transitions, self.tracking)
        self.transitions.io = self.driver
        self.driver.link_delays = link_delays
        link_delays.on_settled = self.driver.apply_link_events
        self.operations = Operations(self.rt, self.driver, self.transitions, self.tracking, self.vips)
        self.rt.instances = [self.transitions.new_instance(cfg) for cfg in config.instances]
        self.transitions.sync_groups_changed()
        self.alerts = StateAlerts(self.rt)
        self.stopping = asyncio.Event()
        self._notify = ad.systemd_notify or systemd.notify
        self.dumper = Dumper(self._instances_now, lambda: time.time() - self.rt.loop.time(),
                             lambda: render_table(self.status()), log)
        self._statics_added = False
        """static_*: removed at stop only once added (a failed start leaves the host's own)."""

    # ------------------------------------------------ the control API (commands.py)
    @property
    def instances(self) -> List[Instance]:
        return self.rt.instances

    @property
    def config(self) -> Config:
        return self.rt.config

    @property
    def bus(self) -> EventBus:
        return self.rt.bus

    def status(self) -> Dict[str, Any]:
        return self.operations.status()

    def set_override(self, names: List[str], kind: Optional[str]) -> Dict[str, Any]:
        return self.operations.set_override(names, kind)

    def with_groups(self, names: List[str]) -> List[str]:
        return self.operations.with_groups(names)

    async def stop_resources_first(self, instances: List[Instance]) -> None:
        await self.transitions.stop_resources_first(instances)

    async def reload(self) -> Dict[str, Any]:
        return await self.operations.reload()

    # --------------------------------------------------------------- lifecycle
    async def run(self) -> int:
        output = DeferredOutput.install(self.rt.loop)  # log lines after the adverts (logdefer.py)
        try:
            return await self._run()
        finally:
            output.remove()

    async def _run(self) -> int:
        loop = self.rt.loop
        # The netlink worker adds the VIPs and sends the gratuitous ARP while this
        # thread finishes the transition (events, hooks); with the default 5 ms
        # switch interval the worker can wait up to that long for the GIL. Measured
        # (v3 0.01 s, 8 runs each): takeover to first GARP, median 3.4 -> 2.8 ms.
        # No cost while the worker is idle (no GIL contention).
        sys.setswitchinterval(GIL_SWITCH_S)
        for sig in (SIGTERM, SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
            _at_once_when_idle(loop, sig, self.request_stop)
        loop.add_signal_handler(SIGHUP, self._on_sighup)
        for signum, dump in self.dumper.handlers().items():  # keepalived's DATA/STATS/JSON
            loop.add_signal_handler(signum, dump)
        self.driver.links = self.rt.adapters.link_watcher()
        loop.add_reader(self.driver.links.fileno(), self.driver.on_link_events)
        if self.rt.config.globals.umask is not None:
            self.rt.adapters.set_umask(self.rt.config.globals.umask)  # before the FIFOs are made
        await self._start_servers()
        self.alerts.start()
        if not await self.host_setup.start():  # vMACs, nftables, static_* (hostsetup.py)
            await self._shutdown()
            return 1
        await self.vips.release_leftovers(self.rt.instances)
        g = self.rt.config.globals
        self.rt.adapters.apply_scheduling(g.rt_priority, g.nice)  # netlink thread exists
        self.driver.wire.set_auto_priority(g)
        self.rt.adapters.apply_process_limits(*process_limits(g))
        overrides = self.operations.load_overrides()
        wait_s = startup_wait_s(g, self.rt.adapters.uptime())
        if wait_s > 0:
            which = "vrrp_startup_delay" if wait_s <= g.startup_delay_s else "vrrp_delay_after_boot"
            log.info("%s: waiting %.1f s before starting instances", which, wait_s)
            try:
                await asyncio.wait_for(self.stopping.wait(), wait_s)
            except asyncio.TimeoutError:
                pass
        tasks = []
        if not self.stopping.is_set():
            self.tracking.start()
            for inst in self.rt.instances:
                await self.driver.bind(inst)
            log.info("started %d instance(s)", len(self.rt.instances))
            if overrides:
                self.operations.restore_overrides(overrides)
            tasks.append(loop.create_task(self.driver.retry_unbound()))
            tasks.append(loop.create_task(self._watchdog()))
            self._notify("READY=1\nSTATUS=running %d instance(s)" % len(self.rt.instances))
            await self.stopping.wait()
        self._notify("STOPPING=1")
        for task in tasks:
            task.cancel()
        await self._shutdown()
        return 0

    async def _start_servers(self) -> None:
        from vrrp_agent import commands  # noqa: F401 - fills the command registry
        from vrrp_agent.control import ControlServer

        if self.control_socket:
            server = ControlServer(self, self.control_socket, self.control_group)
            await server.start()
            self.servers.append(server)
        if self.metrics_listen:
            from vrrp_agent.metrics import MetricsServer

            metrics = MetricsServer(self, self.metrics_listen)
            await metrics.start()
            self.servers.append(metrics)

    def _instances_now(self) -> List[Instance]:
        """The instances, their counters up to date (quiet.py reads what is queued)."""
        self.driver.quiet.drain_all()
        return self.rt.instances

    def request_stop(self) -> None:
        """SIGTERM/SIGINT: release every instance now (priority 0 first), then stop."""
        if not self.stopping.is_set() and not self.transitions.with_resources(self.rt.instances):
            self._release_all()
        self.stopping.set()

    def _release_all(self) -> None:
        """RFC 5798 §6.4.3: every master sends priority 0 and its VIPs' removal is queued."""
        now = self.rt.loop.time()
        for inst in self.rt.instances:
            self.transitions.apply(inst, inst.router.shutdown(now))
            self.driver.cancel_timer(inst)  # after the advert: a timerfd's is a syscall
        self.transitions.stopped = True

    async def _watchdog(self) -> None:
        interval = systemd.watchdog_interval_s()
        while interval:
            self._notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    async def _shutdown(self) -> None:
        log.info("stopping: releasing every master (priority 0) and its VIPs")
        await self.tracking.stop()
        await self.transitions.stop_resources_first(self.rt.instances)
        self._release_all()  # already done by request_stop unless resources had to stop first
        await self.vips.settled()  # queued VIP removals done and recorded
        await self.transitions.drain_hooks()
        await self.alerts.close()
        await self.host_setup.stop()
        for server in self.servers:  # last: event streams see the STOP transitions
            await server.close()
        self.driver.close()
        self.announcer.close()
        self.netlink.close()

    def _on_sighup(self) -> None:
        self.rt.loop.create_task(self.operations.reload_logged())


# asyncio's private loop turn: where it is missing (another Python), the handler never acts
_LOOP_TURN = getattr(getattr(asyncio.base_events.BaseEventLoop, "_run_once", None), "__code__", None)
_SELECT = selectors.DefaultSelector.select.__code__


def _at_once_when_idle(loop: asyncio.AbstractEventLoop, sig: int, stop: Callable[[], None]) -> None:
    """SIG's Python-level handler (asyncio's is a no-op; its wakeup still runs STOP
    after the callback the signal interrupted, STOP is idempotent): STOP at once
    when the signal finds the loop's own turn waiting in its selector, where no
    callback is half done (the selector's poll then returns at once: asyncio's
    wakeup byte is already written). Python runs the handler on the main
    thread, inside the interrupted poll (PEP 475); uvloop has no such frame.
    What STOP raises goes to the loop's exception handler, as from a callback
    (not out of the selector); system calls keep restarting (SA_RESTART)."""

    def handler(_signum: int, frame: Optional[FrameType]) -> None:
        if (frame is not None and frame.f_code is _SELECT and frame.f_back is not None
                and _LOOP_TURN is not None and frame.f_back.f_code is _LOOP_TURN):
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - reported as asyncio reports a callback's
                loop.call_exception_handler({"message": f"signal {sig} handler failed",
                                             "exception": exc})

    signal.signal(sig, handler)
    signal.siginterrupt(sig, False)
