"""The asyncio driver: owns the clock, the sockets, netlink and signals.

Rules:
- One timer per router, armed at `router.next_deadline()` after every input
  (aioquic's shape); when it fires, `now = max(loop.time(), deadline)`.
- Actions are executed in the order the router returned them. Adverts go out
  at once from the loop; VIP changes and announcements are queued, in order,
  on the single netlink worker thread, so an announcement follows its VIPs.
- One pair of raw sockets per (interface, family), shared by the instances on
  it; received adverts are dispatched by VRID. Anything undecodable is
  counted and dropped; nothing from the wire can raise out of the loop.
- SIGTERM/SIGINT: every master sends priority 0 and drops its VIPs; exit 0.
- At startup leftover VIPs are removed (keepalived does the same), and the
  VIPs the agent holds are recorded in the state dir so that a restart after
  a crash can tell them from the host's own addresses.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
import time
from typing import Any, Dict, List, Optional, Set, Tuple

from vrrp_agent import packet
from vrrp_agent.adapters import systemd
from vrrp_agent.adapters.announce import Announcer
from vrrp_agent.adapters.link import LinkWatcher, hw_address, link_is_up
from vrrp_agent.adapters.netlink import Netlink
from vrrp_agent.adapters.scheduling import apply_scheduling
from vrrp_agent.adapters.sockets import VrrpSockets
from vrrp_agent.config.model import Config, VipSpec
from vrrp_agent.errors import PacketError, SystemFailure
from vrrp_agent.events import EventBus
from vrrp_agent.health import Health
from vrrp_agent.instance import Instance
from vrrp_agent.operations import Operations
from vrrp_agent.router import MASTER, Action, AddVips, Announce, DelVips, SendAdvert, StateChanged
from vrrp_agent.transitions import Transitions

log = logging.getLogger("vrrp_agent")
RETRY_S = 1.0
GIL_SWITCH_S = 0.0005


class Daemon(Operations, Health, Transitions):
    def __init__(self, config: Config, state_dir: Optional[str] = None,
                 control_socket: Optional[str] = None, control_group: Optional[str] = None,
                 metrics_listen: Optional[str] = None):
        self.config = config
        self.state_dir = state_dir
        self.control_socket = control_socket
        self.control_group = control_group
        self.metrics_listen = metrics_listen
        self.servers: List[Any] = []
        self.started_wall = time.time()
        self.loop = asyncio.get_event_loop()
        self.bus = EventBus()
        self._init_health()
        self._init_transitions()
        self.instances = [self._new_instance(cfg) for cfg in config.instances]
        self._sync_groups_changed()
        self.netlink = Netlink()
        self.announcer = Announcer()
        self.links: Optional[LinkWatcher] = None
        self.io: Dict[Tuple[str, int], VrrpSockets] = {}
        self.by_vrid: Dict[Tuple[str, int], Dict[int, Instance]] = {}
        self.discards: Dict[str, int] = dict.fromkeys(packet.DISCARD_REASONS, 0)
        self.discards["vrid"] = 0
        self.held: Set[str] = read_held_vips(state_dir)
        self.stopping = asyncio.Event()
        self.announce_free: Dict[Tuple[str, int], float] = {}
        """Per (interface, family): the loop time before which no GARP/NA may go out."""

    # --------------------------------------------------------------- lifecycle
    async def run(self) -> int:
        loop = self.loop
        # The netlink worker adds the VIPs and sends the gratuitous ARP while this
        # thread finishes the transition (events, hooks); with the default 5 ms
        # switch interval the worker can wait up to that long for the GIL. Measured
        # (v3 0.01 s, 8 runs each): takeover to first GARP, median 3.4 -> 2.8 ms.
        # No cost while the worker is idle (no GIL contention).
        sys.setswitchinterval(GIL_SWITCH_S)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        self.links = LinkWatcher()
        loop.add_reader(self.links.fileno(), self._on_link_events)
        await self._start_servers()
        await self._on_netlink(self._release_leftovers)
        apply_scheduling(self.config.globals.rt_priority, self.config.globals.nice)  # netlink thread exists
        overrides = self._load_overrides()
        delay = self.config.globals.startup_delay_s
        if delay > 0:
            log.info("vrrp_startup_delay: waiting %.1f s before starting instances", delay)
            try:
                await asyncio.wait_for(self.stopping.wait(), delay)
            except asyncio.TimeoutError:
                pass
        tasks = []
        if not self.stopping.is_set():
            self.start_health()
            for inst in self.instances:
                await self._bind(inst)
            log.info("started %d instance(s)", len(self.instances))
            if overrides:
                self._restore_overrides(overrides)
            tasks.append(loop.create_task(self._retry_unbound()))
            tasks.append(loop.create_task(self._watchdog()))
            systemd.notify("READY=1\nSTATUS=running %d instance(s)" % len(self.instances))
            await self.stopping.wait()
        systemd.notify("STOPPING=1")
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
            systemd.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    async def _shutdown(self) -> None:
        log.info("stopping: releasing every master (priority 0) and its VIPs")
        await self.stop_health()
        await self._stop_resources_first(self.instances)
        now = self.loop.time()
        for inst in self.instances:
            self._cancel_timer(inst)
            self._apply(inst, inst.router.shutdown(now))
        await self._on_netlink(lambda: None)  # drain queued VIP removals
        await self._drain_hooks()
        for server in self.servers:  # last: event streams see the STOP transitions
            await server.close()
        if self.links is not None:
            self.loop.remove_reader(self.links.fileno())
            self.links.close()
        for io in self.io.values():
            self.loop.remove_reader(io.rx.fileno())
            io.close()
        self.announcer.close()
        self.netlink.close()

    def _on_sighup(self) -> None:
        self.loop.create_task(self.reload_logged())

    async def _on_netlink(self, fn: Any, *args: Any) -> Any:
        return await asyncio.wrap_future(self.netlink.submit(fn, *args))

    # ---------------------------------------------------------------- binding
    async def _bind(self, inst: Instance) -> bool:
        """Attach an instance to its interface sockets and start it (or FAULT)."""
        cfg = inst.cfg
        try:
            ifindex = socket.if_nametoindex(cfg.interface)
        except OSError:
            if inst.router.state == "INIT":
                inst.log.warning("interface %s is not there yet: waiting for it", cfg.interface)
                self._set_fault(inst, "link", f"interface {cfg.interface} missing")
            return False
        src = cfg.unicast_src_ip or cfg.mcast_src_ip
        if src is None:
            src = await self._on_netlink(self.netlink.primary_address, ifindex, cfg.family)
        if src is None:
            if inst.router.state == "INIT":
                inst.log.warning("no IPv%d source address on %s yet: waiting", cfg.family, cfg.interface)
                self._set_fault(inst, "link", f"no IPv{cfg.family} address on {cfg.interface}")
            return False
        key = (cfg.interface, cfg.family)
        io = self.io.get(key)
        if io is None:
            group = self.config.globals.mcast_group4 if cfg.family == 4 else self.config.globals.mcast_group6
            io = VrrpSockets(cfg.interface, ifindex, cfg.family, group, src)
            self.io[key] = io
            self.by_vrid[key] = {}
            self.loop.add_reader(io.rx.fileno(), self._on_readable, io)
        self.by_vrid[key][cfg.vrid] = inst
        inst.ifindex = ifindex
        inst.set_source(socket.inet_pton(inst.af, src))
        inst.link_up = link_is_up(cfg.interface) or cfg.dont_track_primary
        if not inst.link_up:
            inst.log.warning("link of %s is down: FAULT until it comes back", cfg.interface)
        faults = self.supervisor.faults.get(cfg.name, {})
        if inst.link_up and not (faults.keys() - {"link"}) and inst.router.state == "INIT":
            self._apply(inst, inst.router.start(self.loop.time()))
            self._arm(inst)
        self._set_fault(inst, "link", None if inst.link_up else "interface down")
        self._settle(inst)
        return True

    async def _retry_unbound(self) -> None:
        while True:
            await asyncio.sleep(RETRY_S)
            for inst in self.instances:
                if inst.ifindex is None and await self._bind(inst):
                    inst.log.info("interface %s and its address are there now", inst.cfg.interface)

    # ------------------------------------------------------------------ timers
    def _arm(self, inst: Instance) -> None:
        deadline = inst.router.next_deadline()
        if deadline == inst.timer_at:
            return
        self._cancel_timer(inst)
        if deadline is not None:
            inst.timer = self.loop.call_at(deadline, self._fire, inst)
            inst.timer_at = deadline

    def _cancel_timer(self, inst: Instance) -> None:
        if inst.timer is not None:
            inst.timer.cancel()
        inst.timer = None
        inst.timer_at = None

    def _fire(self, inst: Instance) -> None:
        now = max(self.loop.time(), inst.timer_at or 0.0)
        inst.timer = None
        inst.timer_at = None
        self._apply(inst, inst.router.on_timer(now))
        self._arm(inst)

    # ----------------------------------------------------------------- receive
    def _on_readable(self, io: VrrpSockets) -> None:
        key = (io.ifname, io.family)
        table = self.by_vrid[key]
        while True:
            try:
                data, src, dst, ttl = io.receive()
            except BlockingIOError:
                return
            except OSError as exc:
                log.warning("receive on %s failed: %s", io.ifname, exc)
                return
            self._dispatch(io, table, data, src, dst, ttl)

    def _dispatch(self, io: VrrpSockets, table: Dict[int, Instance], data: bytes,
                  src: bytes, dst: bytes, ttl: int) -> None:
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
            return
        if src == io.src_packed:
            return  # our own advert looped back
        self._apply(inst, inst.receive(adv, src, ttl, self.loop.time()))
        self._arm(inst)

    # ----------------------------------------------------------------- actions
    def _execute(self, inst: Instance, actions: List[Action]) -> None:
        """Run a router's actions in order (the supervisor's part: transitions.py `_apply`)."""
        for action in actions:
            kind = type(action)
            if kind is SendAdvert:
                self._send(inst, action.priority)  # type: ignore[union-attr]
            elif kind is AddVips:
                self.netlink.submit(self._change_vips, inst, True)
            elif kind is DelVips:
                self.netlink.submit(self._change_vips, inst, False)
            elif kind is Announce:
                self._announce_spaced(inst, action.repeat)  # type: ignore[union-attr]
            elif kind is StateChanged:
                self._on_transition(inst, action)  # type: ignore[arg-type]

    def _send(self, inst: Instance, priority: int) -> None:
        io = self.io.get((inst.cfg.interface, inst.cfg.family))
        if io is None:
            return
        adver_int_cs = inst.cfg.advert_int_cs
        for dst, dst_packed in inst.destinations:
            try:
                io.send(inst.encoder.packet(priority, adver_int_cs, dst_packed), dst)
            except OSError as exc:
                inst.counters["send_errors"] += 1
                inst.log.debug("advert to %s not sent: %s", dst, exc)

    def _announce_spaced(self, inst: Instance, repeat: int, vips: Any = None) -> None:
        """Queue a GARP/NA burst, spaced as keepalived spaces it.

        keepalived: every gratuitous ARP sent on an interface is at least
        vrrp_garp_interval after the previous one there (each unsolicited NA
        vrrp_gna_interval after the previous NA), across repeats, VIPs and
        instances. With both at 0 (the
        default) the burst goes out back to back in one worker call.
        """
        vips = tuple(inst.all_vips if vips is None else vips)
        garp = inst.cfg.garp
        if garp.interval_s <= 0 and garp.gna_interval_s <= 0:
            self.netlink.submit(self._announce, inst, repeat, vips)
            return
        now = self.loop.time()
        for _ in range(repeat):
            for vip in vips:
                key = (vip.dev or inst.cfg.interface, vip.family)
                at = max(now, self.announce_free.get(key, now))
                gap = garp.interval_s if vip.family == 4 else garp.gna_interval_s
                self.announce_free[key] = at + gap
                if at <= now:
                    self.netlink.submit(self._announce, inst, 1, (vip,))
                else:
                    self.loop.call_at(at, self._announce_later, inst, vip)

    def _announce_later(self, inst: Instance, vip: VipSpec) -> None:
        if inst.router.state == MASTER:  # a burst stops with the mastership
            self.netlink.submit(self._announce, inst, 1, (vip,))

    # ------------------------------------------- netlink worker thread (ordered)
    def _vip_ifindex(self, inst: Instance, vip: VipSpec) -> Optional[int]:
        if vip.dev is None or vip.dev == inst.cfg.interface:
            return inst.ifindex
        try:
            return socket.if_nametoindex(vip.dev)
        except OSError:
            return None

    def _change_vips(self, inst: Instance, add: bool) -> None:
        self._change_vip_list(inst, inst.all_vips, add)

    def _change_vip_list(self, inst: Instance, vips: Any, add: bool) -> None:
        verb = "added" if add else "removed"
        for vip in vips:
            ifindex = self._vip_ifindex(inst, vip)
            if ifindex is None:
                inst.counters["vip_errors"] += 1
                inst.log.error("VIP %s: interface %s not found", vip.address, vip.dev)
                continue
            try:
                if add:
                    changed = self.netlink.add_vip(ifindex, vip)
                    self._record_held(vip.address, True)  # only once it is there
                else:
                    changed = self.netlink.del_vip(ifindex, vip)
                    self._record_held(vip.address, False)
            except SystemFailure as exc:
                inst.counters["vip_errors"] += 1
                inst.log.error("%s", exc)
                continue
            if changed:
                inst.log.info("%s VIP %s/%d", verb, vip.address, vip.prefixlen)

    def _announce(self, inst: Instance, repeat: int, vips: Any = None) -> None:
        for vip in inst.all_vips if vips is None else vips:
            ifname = vip.dev or inst.cfg.interface
            try:
                self.announcer.send(ifname, hw_address(ifname), vip.address, vip.family, repeat)
            except OSError as exc:
                inst.log.warning("gratuitous ARP/NA for %s not sent: %s", vip.address, exc)

    def _release_leftovers(self) -> None:
        """Startup: remove VIPs left by a previous run (keepalived does the same)."""
        for inst in self.instances:
            try:
                inst.ifindex = socket.if_nametoindex(inst.cfg.interface)
            except OSError:
                continue
            self._change_vips(inst, False)
            inst.ifindex = None

    def _record_held(self, address: str, held: bool) -> None:
        if held == (address in self.held):
            return
        (self.held.add if held else self.held.discard)(address)
        if self.state_dir is None:
            return
        path = os.path.join(self.state_dir, "held-vips.json")
        try:
            with open(path + ".tmp", "w") as fh:
                json.dump(sorted(self.held), fh)
            os.replace(path + ".tmp", path)
        except OSError as exc:
            log.warning("cannot record held VIPs in %s: %s", path, exc)

    # ---------------------------------------------------------------- links
    def _on_link_events(self) -> None:
        assert self.links is not None
        events = self.links.read()
        if not events:
            return
        for inst in self.instances:
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
                self._set_fault(inst, "link", None if up else "interface down")
        self._refresh_interfaces()


def read_held_vips(state_dir: Optional[str]) -> Set[str]:
    """The VIPs a previous run recorded as held (empty if none or unreadable)."""
    if state_dir is None:
        return set()
    try:
        with open(os.path.join(state_dir, "held-vips.json")) as fh:
            return set(json.load(fh))
    except (OSError, ValueError):
        return set()
