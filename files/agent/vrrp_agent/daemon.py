"""The daemon: the asyncio driver, and the assembly of the parts around it.

Parts (each module's header states its rules), wired here, no mixins:
  Driver (this module)        clock, timers, sockets, receive, link events, actions
  Transitions (transitions)   runs the supervisor's decisions, events, hooks, resources
  Supervisor (supervisor)     fault sources, sync groups, arbitration: pure
  TrackingDriver (health)     scripts, polled trackers, re-evaluation
  Operations (operations)     status, takeover/standby/release, reload
  VipKeeper (vips)            VIPs and announcements on the netlink worker; held VIPs
  WireDriver (wiredriver)     per-instance socket settings, AH receive, track_src_ip, late timers
  HostSetup (hostsetup)       vMACs, nftables tables, static_* for the daemon's lifetime
Every OS call goes through runtime.Adapters, so tests can drive all of it
with fakes.

Driver rules:
- One timer per router, armed at `router.next_deadline()` after every input
  (aioquic's shape); when it fires, `now = max(loop.time(), deadline)`.
- Actions are executed in the order the router returned them. Adverts go out
  at once from the loop; VIP changes and announcements are queued, in order,
  on the single netlink worker thread (VipKeeper), so an announcement follows
  its VIPs. The worker performs calls and returns results; the loop owns
  every piece of state (counters, held VIPs, ifindex).
- One pair of raw sockets per (interface, family), shared by the instances on
  it; received adverts are dispatched by VRID. Anything undecodable is
  counted and dropped; nothing from the wire can raise out of the loop.
  Every pending datagram is read per wakeup. An advert with the bytes of the
  last one its instance accepted skips decoding and checks (fastpath.py).
- Masters with the same advert interval send from one tick: when a master's
  timer is armed, its next advert is brought forward to the latest tick of
  its interval's grid that is not later (router.advance_advert), so a
  backup of many instances receives them in a burst, read in few wakeups.
- A backup's timer is armed EPOLL_ROUNDING_S early: epoll sleeps whole
  milliseconds, rounded up, so a timer fires up to 1 ms late. When the
  master-down (or skew) time is then less than that away, the loop waits it
  out with a precise sleep (≤ 1 ms, only when a backup is about to act).
- A timer that would move later (a backup's master-down timer, pushed back
  by every advert) is left where it is: it fires early, finds nothing due
  and is re-armed then, so a backup touches the timer heap about once per
  master-down interval instead of once per advert.
- SIGTERM/SIGINT: every master sends priority 0 and drops its VIPs; exit 0.
  SIGUSR1/SIGUSR2/SIGRTMIN+2/SIGRTMAX-1: keepalived's dumps (dumps.py).
- At startup leftover VIPs are removed (keepalived does the same).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import socket
import sys
import time
from signal import SIGHUP, SIGINT, SIGTERM
from typing import Any, Dict, List, Optional, Tuple

from vrrp_agent import fastpath, packet
from vrrp_agent.adapters import systemd
from vrrp_agent.alerts import StateAlerts
from vrrp_agent.config.model import Config
from vrrp_agent.config.process_globals import process_limits, startup_wait_s
from vrrp_agent.dumps import Dumper
from vrrp_agent.errors import PacketError
from vrrp_agent.events import EventBus
from vrrp_agent.health import TrackingDriver
from vrrp_agent.hostsetup import HostSetup
from vrrp_agent.instance import Instance
from vrrp_agent.linkdelays import LinkDelays
from vrrp_agent.operations import Operations
from vrrp_agent.routed import LeaseRenewer, withdraw_first
from vrrp_agent.router import (
    BACKUP,
    INIT,
    Action,
    AddVips,
    Announce,
    DelVips,
    RxLowerPriority,
    SendAdvert,
    StateChanged,
)
from vrrp_agent.runtime import Adapters, Runtime
from vrrp_agent.status import render_table
from vrrp_agent.transitions import Transitions
from vrrp_agent.vips import VipKeeper, read_held_vips
from vrrp_agent.wiredriver import WireDriver

__all__ = ["Daemon", "Driver", "read_held_vips"]

log = logging.getLogger("vrrp_agent")
RETRY_S = 1.0
GIL_SWITCH_S = 0.0005
EPOLL_ROUNDING_S = 0.001


class Driver:
    """Timers, sockets, receive path, link events and the execution of router actions."""

    def __init__(self, rt: Runtime, netlink: Any, vips: VipKeeper, transitions: Transitions,
                 tracking: TrackingDriver):
        self.rt = rt
        self.netlink = netlink
        self.vips = vips
        self.transitions = transitions
        self.tracking = tracking
        self.links: Any = None
        self.link_delays: Optional[LinkDelays] = None
        self.io: Dict[Tuple[str, int], Any] = {}
        self.by_vrid: Dict[Tuple[str, int], Dict[int, Instance]] = {}
        self.discards: Dict[str, int] = dict.fromkeys(packet.DISCARD_REASONS, 0)
        self.discards["vrid"] = 0
        self.ticks: Dict[int, float] = {}
        """Advert interval (cs) -> one time on the grid its masters send on."""
        self.unbound = asyncio.Event()
        """Set when a bind failed: retry_unbound wakes only then (no idle wakeups)."""
        self.leases = LeaseRenewer(rt, vips)
        """Routed instances (`announce bgp`): renews their VIP leases while master."""
        self.wire = WireDriver(self)

    async def on_netlink(self, fn: Any, *args: Any) -> Any:
        return await asyncio.wrap_future(self.netlink.submit(fn, *args))

    # ---------------------------------------------------------------- binding
    async def bind(self, inst: Instance) -> bool:
        """Attach an instance to its interface sockets and start it (or FAULT)."""
        cfg, ad = inst.cfg, self.rt.adapters
        ifname = cfg.socket_interface  # the vMAC with use_vmac (not vmac_xmit_base)
        try:
            ifindex = ad.ifindex(ifname)
            base = ifindex if ifname == cfg.interface else ad.ifindex(cfg.interface)
        except OSError:
            if inst.router.state == INIT:
                inst.log.warning("interface %s is not there yet: waiting for it", cfg.interface)
                self.transitions.set_fault(inst, "link", f"interface {cfg.interface} missing")
            self.unbound.set()
            return False
        src = cfg.unicast_src_ip or cfg.mcast_src_ip
        if src is None:
            src = await self.on_netlink(self.netlink.primary_address, base, cfg.family)
        if src is None:
            if inst.router.state == INIT:
                inst.log.warning("no IPv%d source address on %s yet: waiting", cfg.family, cfg.interface)
                self.transitions.set_fault(inst, "link", f"no IPv{cfg.family} address on {cfg.interface}")
            self.unbound.set()
            return False
        try:
            self._open(ifname, ifindex, cfg.family, src)
        except OSError as exc:  # a configured source that is not (yet) on the host
            if inst.router.state == INIT:
                inst.log.warning("cannot send from %s (%s): FAULT until it is there", src, exc)
            self.transitions.set_fault(inst, "src_ip", f"source address {src}: {exc.strerror or exc}")
            self.unbound.set()
            return False
        if "src_ip" in self.transitions.faults_of(inst) and not cfg.track_src_ip:
            self.transitions.set_fault(inst, "src_ip", None)
        self.wire.attach(inst)
        self.by_vrid[(ifname, cfg.family)][cfg.vrid] = inst
        inst.ifindex = ifindex
        inst.set_source(socket.inet_pton(inst.af, src))
        inst.link_up = ad.link_is_up(ifname) or cfg.dont_track_primary
        if not inst.link_up:
            inst.log.warning("link of %s is down: FAULT until it comes back", cfg.interface)
        faults = self.transitions.faults_of(inst)
        if inst.link_up and not (faults.keys() - {"link"}) and inst.router.state == INIT:
            self.transitions.apply(inst, inst.router.start(self.rt.loop.time()))
            self.arm(inst)
        self.transitions.set_fault(inst, "link", None if inst.link_up else "interface down")
        self.transitions.settle(inst)
        return True

    def _open(self, ifname: str, ifindex: int, family: int, src: str) -> None:
        key = (ifname, family)
        if key in self.io:
            return
        g = self.rt.config.globals
        group = g.mcast_group4 if family == 4 else g.mcast_group6
        io = self.rt.adapters.sockets(ifname, ifindex, family, group, src)
        self.io[key] = io
        self.by_vrid[key] = {}
        self.rt.loop.add_reader(io.rx.fileno(), self.on_readable, io)

    async def retry_unbound(self) -> None:
        while True:
            if not any(i.cfg.track_src_ip for i in self.rt.instances):
                await self.unbound.wait()  # nothing to poll: wake only after a failed bind
            await asyncio.sleep(RETRY_S)
            self.unbound.clear()  # a bind that fails again sets it again
            for inst in self.rt.instances:
                if inst.ifindex is None and await self.bind(inst):
                    inst.log.info("interface %s and its address are there now", inst.cfg.interface)
            await self.wire.check_source_addresses()

    def unbind(self, inst: Instance) -> None:
        self.by_vrid.get((inst.cfg.socket_interface, inst.cfg.family), {}).pop(inst.cfg.vrid, None)

    # ------------------------------------------------------------------ timers
    def arm(self, inst: Instance) -> None:
        router = inst.router
        due = router.advert_due
        if due is not None:
            self._align(router, due)
        deadline = router.next_deadline()
        if deadline is not None and router.state == BACKUP:
            deadline -= EPOLL_ROUNDING_S  # _fire waits out the rest precisely
        at = inst.timer_at
        if deadline == at or (deadline is not None and at is not None and at < deadline):
            return  # unchanged, or later: the armed timer fires early and re-arms (rule above)
        self.cancel_timer(inst)
        if deadline is not None:
            inst.timer = self.rt.loop.call_at(deadline, self._fire, inst)
            inst.timer_at = deadline

    def _align(self, router: Any, due: float) -> None:
        """Put a master's next advert on its interval's tick grid (never later)."""
        period_cs = router.params.adver_int_cs
        anchor = self.ticks.setdefault(period_cs, due)
        period = period_cs / 100.0
        tick = anchor + math.floor((due - anchor) / period + 1e-9) * period  # float-safe floor
        if due - tick > period / 100 and tick > self.rt.loop.time():  # on the grid: leave it
            router.advance_advert(tick)

    def cancel_timer(self, inst: Instance) -> None:
        if inst.timer is not None:
            inst.timer.cancel()
        inst.timer = None
        inst.timer_at = None

    def _fire(self, inst: Instance) -> None:
        clock = self.rt.loop.time()
        armed_at = inst.timer_at
        if self.wire.auto_priority is not None and armed_at is not None:
            self.wire.late(clock - armed_at)
        inst.timer = None
        inst.timer_at = None
        if inst.router.state == BACKUP and self._drained_past(inst):
            return
        now = max(self.rt.loop.time(), armed_at or 0.0)
        due = inst.router.next_deadline()
        if inst.router.state == BACKUP and due is not None and now < due <= now + EPOLL_ROUNDING_S + 1e-6:
            time.sleep(due - now)  # a backup about to act: on time, not up to 1 ms late
            now = max(self.rt.loop.time(), due)
        actions = inst.router.on_timer(now)
        if len(actions) == 1 and isinstance(actions[0], SendAdvert):
            self._send(inst, actions[0].priority)  # a master's periodic advert: nothing else
        elif actions:
            self.transitions.apply(inst, actions)
        self.arm(inst)

    def _drained_past(self, inst: Instance) -> bool:
        """A backup's timer fired: first read what is already queued (RFC 5798 §6.4.2).

        After a stall (SIGSTOP, a long pause) the timer can run before the adverts
        that arrived meanwhile; deciding "master down" without them made a thawed
        backup take over, then yield to a queued advert from before its stall and
        leave nobody with the VIP for a master-down interval (nemesis seed
        1617314694). True if the queued adverts moved the deadline past now (re-armed).
        """
        io = self.io.get((inst.cfg.socket_interface, inst.cfg.family))
        if io is None:
            return False
        before = inst.router.next_deadline()
        self.on_readable(io)
        deadline = inst.router.next_deadline()
        if deadline != before and deadline is not None and deadline > self.rt.loop.time():
            self.arm(inst)  # moved by what was queued (a timer armed early keeps its own wait)
            return True
        return False

    # ----------------------------------------------------------------- receive
    def on_readable(self, io: Any) -> None:
        table = self.by_vrid[(io.ifname, io.family)]
        v4 = io.family == 4
        while True:
            try:
                data, src, dst, ttl = io.receive()
            except BlockingIOError:
                return
            except OSError as exc:
                log.warning("receive on %s failed: %s", io.ifname, exc)
                return
            inst = fastpath.match4(table, data) if v4 else fastpath.match6(table, data, src, dst, ttl)
            if inst is not None and inst.ifindex is not None:
                actions = inst.receive_same(self.rt.loop.time())
                if actions:
                    self.transitions.apply(inst, actions)
                self.arm(inst)
            else:
                self.dispatch(io, table, data, src, dst, ttl)

    def dispatch(self, io: Any, table: Dict[int, Instance], data: bytes,
                 src: bytes, dst: bytes, ttl: int) -> None:
        """The full path: every guard of the codec and the instance, drops counted."""
        wire = fastpath.wire_key(io.family, data)
        if io.family == 4:
            try:
                src, dst, ttl, data = packet.split_ipv4(data)
            except PacketError as exc:
                self.discards[exc.reason] += 1
                return
        try:
            adv = packet.decode(data, io.family, src, dst)
        except PacketError as exc:
            # charge the instance whose VRID the packet names, if any
            owner = table.get(data[1]) if len(data) > 1 else None
            (owner.discards if owner else self.discards)[exc.reason] += 1
            return
        inst = table.get(adv.vrid)
        if inst is None or inst.ifindex is None:
            self.discards["vrid"] += 1
            if inst is None and self.rt.config.globals.log_unknown_vrids:
                log.info("Unknown VRID(%d) received on interface(%s) from %s. ignoring...",
                         adv.vrid, io.ifname, socket.inet_ntop(socket.AF_INET6 if io.family == 6
                                                               else socket.AF_INET, src))
            return
        if src == io.src_packed:
            return  # our own advert looped back
        self.transitions.apply(inst, inst.receive(adv, src, ttl, self.rt.loop.time(), wire, dst))
        self.arm(inst)

    # ----------------------------------------------------------------- actions
    def execute(self, inst: Instance, actions: List[Action]) -> None:
        """Run a router's actions in order (the supervisor's part: Transitions.apply).

        The netlink work of one call (VIPs, then their announcement) is one worker job.
        An advert that follows netlink work (a make-before-break takeover or
        preemption: VIPs and GARP first) goes out from that job, after it.
        """
        routed = inst.cfg.announce is not None
        if routed:  # routed.py: the withdrawal before anything else, no GARP
            actions = withdraw_first(actions)
        with self.vips.batched():
            netlink_queued = False
            for action in actions:
                kind = type(action)
                if kind is SendAdvert:
                    priority = action.priority  # type: ignore[union-attr]
                    if netlink_queued:
                        self.vips.advert_after(inst, self._packets(inst, priority))
                    else:
                        self._send(inst, priority)
                elif kind is AddVips:
                    self.vips.change_all(inst, True)
                    netlink_queued = True
                    if routed:
                        self.leases.ensure_running()
                elif kind is DelVips:
                    self.vips.change_all(inst, False)
                    netlink_queued = True
                elif kind is Announce and not routed:
                    self.vips.announce(inst, action.repeat)  # type: ignore[union-attr]
                    netlink_queued = True
                elif kind is StateChanged:
                    self.vips.flush()  # the worker adds the VIPs while the loop publishes
                    self.transitions.on_transition(inst, action)  # type: ignore[arg-type]
                elif kind is RxLowerPriority:
                    self.transitions.on_rx_lower_priority(inst, action)  # type: ignore[arg-type]

    def _packets(self, inst: Instance, priority: int) -> List[Tuple[Any, bytes, Any, bytes]]:
        """(io, packet, destination) for each destination of `inst`'s advert, for the
        worker to send after the VIPs (make-before-break); `_send` is the loop's path."""
        io = self.io.get((inst.cfg.socket_interface, inst.cfg.family))
        if io is None:
            return []
        adver_int_cs = inst.cfg.advert_int_cs
        return [(io, inst.encoder.packet(priority, adver_int_cs, dst_packed), dst, inst.encoder.src)
                for dst, dst_packed in inst.destinations]

    def _send(self, inst: Instance, priority: int) -> None:
        """The periodic path: send straight from the loop, no list built."""
        io = self.io.get((inst.cfg.socket_interface, inst.cfg.family))
        if io is None:
            return
        adver_int_cs = inst.cfg.advert_int_cs
        for dst, dst_packed in inst.destinations:
            try:
                io.send(inst.encoder.packet(priority, adver_int_cs, dst_packed), dst, inst.encoder.src)
            except OSError as exc:
                inst.counters["send_errors"] += 1
                inst.log.debug("advert to %s not sent: %s", dst, exc)

    # ---------------------------------------------------------------- links
    def on_link_events(self) -> None:
        events = self.links.read() if self.links is not None else []
        self.apply_link_events(self.link_delays.filter(events) if self.link_delays else events)

    def apply_link_events(self, events: List[Tuple[int, bool]]) -> None:
        if not events:
            return
        for inst in self.rt.instances:
            if inst.ifindex is None or inst.cfg.dont_track_primary:
                continue
            for ifindex, up in events:
                if ifindex != inst.ifindex or up == inst.link_up:
                    continue
                inst.link_up = up
                if up:
                    inst.log.info("link of %s is up", inst.cfg.interface)
                else:
                    inst.log.warning("link of %s is down", inst.cfg.interface)
                self.transitions.set_fault(inst, "link", None if up else "interface down")
        self.tracking.refresh_interfaces()

    def close(self) -> None:
        loop = self.rt.loop
        self.leases.stop()
        if self.links is not None:
            loop.remove_reader(self.links.fileno())
            self.links.close()
        if self.link_delays is not None:
            self.link_delays.close()
        for io in self.io.values():
            loop.remove_reader(io.rx.fileno())
            if getattr(io, "ah_rx", None) is not None:
                loop.remove_reader(io.ah_rx.fileno())
            io.close()


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
        self.dumper = Dumper(lambda: self.rt.instances, lambda: time.time() - self.rt.loop.time(),
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
        loop = self.rt.loop
        # The netlink worker adds the VIPs and sends the gratuitous ARP while this
        # thread finishes the transition (events, hooks); with the default 5 ms
        # switch interval the worker can wait up to that long for the GIL. Measured
        # (v3 0.01 s, 8 runs each): takeover to first GARP, median 3.4 -> 2.8 ms.
        # No cost while the worker is idle (no GIL contention).
        sys.setswitchinterval(GIL_SWITCH_S)
        for sig in (SIGTERM, SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
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

    async def _watchdog(self) -> None:
        interval = systemd.watchdog_interval_s()
        while interval:
            self._notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    async def _shutdown(self) -> None:
        log.info("stopping: releasing every master (priority 0) and its VIPs")
        await self.tracking.stop()
        await self.transitions.stop_resources_first(self.rt.instances)
        now = self.rt.loop.time()
        for inst in self.rt.instances:
            self.driver.cancel_timer(inst)
            self.transitions.apply(inst, inst.router.shutdown(now))
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
