"""The driver: clock, timers, socket binding, router actions, link events (on the event loop).

Part of the daemon (daemon.py assembles it); the receive path is receive.py's,
the per-instance socket settings wiredriver.py's. Rules:
- One timer per router, armed at `router.next_deadline()` after every input
  (aioquic's shape); when it fires, `now = max(loop.time(), deadline)`. The
  handle that fired is armed again as it is when asyncio's own loop runs
  (rearm.py): a master's periodic advert builds no TimerHandle.
- Actions are executed in the order the router returned them. Adverts go out
  at once from the loop; a master's periodic advert goes out before the
  router's bookkeeping of it (`on_timer`, the tick grid), so that the least
  work lies between the wakeup and the wire (issue 14, docs/agent.md "Hot
  path"); VIP changes and announcements are queued, in order,
  on the single netlink worker thread (VipKeeper), so an announcement follows
  its VIPs. The worker performs calls and returns results; the loop owns
  every piece of state (counters, held VIPs, ifindex).
- One pair of raw sockets per (interface, family), shared by the instances on
  it, opened at the first bind; an instance that cannot bind yet (interface,
  source address missing) is FAULT and retried once a second.
- Masters with the same advert interval send from one tick (ticks.py): when
  a master's timer is armed, its next advert is brought forward to its
  interval's grid; a tick sent late moves the grid to where it was sent.
- A backup's timer is armed EPOLL_ROUNDING_S early: epoll sleeps whole
  milliseconds, rounded up, so a timer fires up to 1 ms late. When the
  master-down (or skew) time is then less than that away, the router decides
  for that deadline at once (its bookkeeping and log line while the loop
  waits anyway), the loop spins it out (≤ 1 ms, once per takeover) and the
  actions go out on the deadline. Masters under PRECISE_BELOW_CS wake on a
  timerfd at their deadline (precise.py's rules), slower ones on asyncio's timers.
- A steady backup is read quietly (quiet.py): its steady adverts when its timer
  fires, with their receipt times; anything else rings a doorbell at once.
  Where its deadline is a kernel timer's (stamped.py, the kernel watch), it
  has no timer on the loop: the kernel's wakes it WATCH_EARLY_S early, and
  its timer work runs then (`_watch_fired`).
- A timer that would move later (a backup's master-down timer, pushed back
  by every advert) is left where it is: it fires early, finds nothing due
  and is re-armed then, so a backup touches the timer heap about once per
  master-down interval instead of once per advert.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import socket
import time
from typing import Any, Dict, List, Optional, Tuple

from vrrp_agent.health import TrackingDriver
from vrrp_agent.instance import Instance
from vrrp_agent.linkdelays import LinkDelays
from vrrp_agent.precise import (
    EPOLL_ROUNDING_S,
    PRECISE_BELOW_CS,
    PreciseTimers,
    due_soon,
    spin_until,
    wait_out,
    wants_precise,
)
from vrrp_agent.quiet import Quiet
from vrrp_agent.rearm import again, timer_heap
from vrrp_agent.receive import Receiver
from vrrp_agent.routed import LeaseRenewer, withdraw_first
from vrrp_agent.router import (
    BACKUP,
    INIT,
    MASTER,
    Action,
    AddVips,
    Announce,
    DelVips,
    RxLowerPriority,
    SendAdvert,
    StateChanged,
)
from vrrp_agent.runtime import Runtime
from vrrp_agent.ticks import TickGrids
from vrrp_agent.transitions import Transitions
from vrrp_agent.vips import VipKeeper
from vrrp_agent.wiredriver import WireDriver

__all__ = ["Driver"]

log = logging.getLogger("vrrp_agent")
RETRY_S = 1.0


def _burst_after(actions: List[Action], index: int) -> Optional[Announce]:
    """The Announce right after actions[INDEX] (an AddVips: a takeover plan's burst)."""
    after = actions[index + 1] if index + 1 < len(actions) else None
    return after if isinstance(after, Announce) else None


def _unsent(actions: List[Action], sent: Optional[int]) -> List[Action]:
    """ACTIONS without the periodic advert at priority SENT that _fire sent before them."""
    if sent is None:
        return actions
    for index, action in enumerate(actions):
        if isinstance(action, SendAdvert) and action.priority == sent:
            return actions[:index] + actions[index + 1:]
    return actions


def _takes_over(actions: List[Action]) -> bool:
    """An AddVips followed by its Announce: what execute runs as a takeover plan."""
    return any(isinstance(action, AddVips) and _burst_after(actions, index) is not None
               for index, action in enumerate(actions))


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
        self.receiver = Receiver(rt, transitions, self.arm)
        """The receive path (receive.py); its tables and counters are the driver's too."""
        self.by_vrid = self.receiver.by_vrid
        self.discards = self.receiver.discards
        self.on_readable = self.receiver.on_readable
        self.quiet = Quiet(rt, self.receiver)
        """Steady backups: the doorbell instead of a wakeup per advert (quiet.py)."""
        self.receiver.full_path = self.quiet.changed
        self.quiet.stamped_reads.watch_fired = self._watch_fired
        self.drain_all = self.quiet.drain_all
        self.ticks = TickGrids(rt.loop.time)
        """The grids the masters of each advert interval send on (ticks.py)."""
        self.unbound = asyncio.Event()
        """Set when a bind failed: retry_unbound wakes only then (no idle wakeups)."""
        self.leases = LeaseRenewer(rt, vips)
        """Routed instances (`announce bgp`): renews their VIP leases while master."""
        self.wire = WireDriver(self)
        self._fire_cb = self._fire  # bound once: every advert re-arms the timer with it
        self._context = contextvars.copy_context()
        """The timers' context, copied once instead of per call_at (nothing here sets a contextvar)."""
        self._heap = timer_heap(rt.loop)
        """asyncio's timer heap, where a fired timer is re-armed as it is (rearm.py); None: uvloop."""
        self.precise = PreciseTimers(rt.loop, self._fire,
                                     None if self._heap is None else rt.adapters.timer_fd)
        """Masters under 0.1 s: a timerfd each (precise.py), on asyncio's own loop."""
        self._firing: Tuple[Optional[Instance], Any] = (None, None)
        """(instance, its timer handle) while that handle's callback runs: arm() may reuse it."""

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
        self.quiet.changed((ifname, cfg.family))
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
        self.quiet.attach(key, io)

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
        self.precise.discard(inst)
        key = (inst.cfg.socket_interface, inst.cfg.family)
        self.by_vrid.get(key, {}).pop(inst.cfg.vrid, None)
        self.quiet.changed(key)

    # ------------------------------------------------------------------ timers
    def arm(self, inst: Instance) -> None:
        router = inst.router
        due = router.advert_due
        if due is not None:
            self.ticks.align(router, due)
        deadline = router.next_deadline()
        if router.state == BACKUP and deadline is not None and self.quiet.watches(inst, deadline):
            if inst.timer is not None:  # the kernel's timer wakes the loop first (stamped.py)
                self.cancel_timer(inst)
            return
        precise = wants_precise(inst)
        if deadline is not None and (router.state == BACKUP or (
                precise and not self.precise.available)):
            deadline -= EPOLL_ROUNDING_S  # _fire waits out the rest precisely
        at = inst.timer_at
        if deadline == at or (deadline is not None and at is not None and at < deadline):
            return  # unchanged, or later: the armed timer fires early and re-arms (rule above)
        if precise and self.precise.take(inst, deadline):
            return  # a timerfd (precise.py)
        if inst.timer is not None:
            self.cancel_timer(inst)
        if deadline is None:
            return
        instance, handle = self._firing
        if instance is inst and handle is not None and self._heap is not None and again(
                self._heap, handle, deadline):
            self._firing = (None, None)  # the handle that just fired, pushed back (rearm.py)
        else:
            handle = self.rt.loop.call_at(deadline, self._fire_cb, inst, context=self._context)
        inst.timer = handle
        inst.timer_at = deadline

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
        timer = inst.timer
        self._firing = (inst, None if timer is self.precise.timers.get(inst) else timer)
        inst.timer = None
        inst.timer_at = None
        if inst.router.state == MASTER:  # nothing to read first
            now = clock if armed_at is None or clock >= armed_at else armed_at
            if inst.router.params.adver_int_cs < PRECISE_BELOW_CS and not self.precise.available:
                now = wait_out(inst.router, now, self.rt.loop)
            due = inst.router.advert_due
            sent = None
            on_tick = None
            if due is not None and now >= due:  # the advert first, the bookkeeping after
                sent = inst.router.effective_priority
                self._send(inst, sent)
                on_tick = self.ticks.sent(inst.router, due, now)
            actions = inst.router.on_timer(now)
            if on_tick is not None:
                inst.router.retime_advert(on_tick)  # its grid's next tick (ticks.py)
            self._act(inst, _unsent(actions, sent))
            return
        if inst.router.state == BACKUP:
            due = inst.router.next_deadline()
            if due is not None and due - EPOLL_ROUNDING_S > clock + 1e-6:
                self.arm(inst)  # moved later since it was armed (rule above): nothing to read yet
                self._firing = (None, None)
                return
            if self._drained_past(inst, due):
                return
        now = max(self.rt.loop.time(), armed_at or 0.0)
        due = due_soon(inst.router, now) if inst.router.state == BACKUP else None
        if due is not None:  # a backup about to act: decided for its deadline, acting on it
            end = time.monotonic() + (due - now)
            actions = inst.router.on_timer(due)
            if _takes_over(actions) and inst.cfg.announce is None:
                self.vips.plans.stage(inst)  # its VIPs' adds meanwhile (takeover.py)
            spin_until(end)
            self._act(inst, actions)  # execute's takeover bursts what was staged
            return
        self._run_timer(inst, now)

    def _watch_fired(self, inst: Instance) -> None:
        """A kernel timer of INST's socket fired (stamped.py): INST's timer work, as
        if its own timer had fired, when it has none armed (a watched deadline)."""
        if inst.timer is None and inst.router.state == BACKUP and \
                inst.router.next_deadline() is not None:
            self._fire(inst)

    def _run_timer(self, inst: Instance, now: float) -> None:
        """The router's timer work at `now`, its actions, and the timer re-armed."""
        self._act(inst, inst.router.on_timer(now))

    def _act(self, inst: Instance, actions: List[Action]) -> None:
        """Run the router's timer ACTIONS, then re-arm its timer (a master's periodic
        advert is not among them: _fire sent it)."""
        if actions:
            self.transitions.apply(inst, actions)
        self.arm(inst)
        self._firing = (None, None)

    def _drained_past(self, inst: Instance, before: Optional[float]) -> bool:
        """A backup's timer fired: first read what is queued (RFC 5798 §6.4.2). True if
        that moved the deadline (BEFORE: before the read) past now (and re-armed it).

        After a stall (SIGSTOP) the timer can run before the adverts that came meanwhile:
        deciding "master down" without them made a thawed backup take over, then yield
        to a queued advert and leave nobody with the VIP (nemesis seed 1617314694).
        """
        key = (inst.cfg.socket_interface, inst.cfg.family)
        io = self.io.get(key)
        if io is None:
            return False
        self.quiet.drain(key, io, inst)  # quiet: each advert counts from its receipt
        deadline = inst.router.next_deadline()
        if deadline != before and deadline is not None and deadline > self.rt.loop.time():
            if inst.timer is None:
                self.arm(inst)  # moved by what was queued (a timer armed early keeps its own wait)
            return True
        return False

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
            announced = -1  # the index of the Announce a takeover plan sent with its VIPs (takeover.py)
            for index, action in enumerate(actions):
                kind = type(action)
                if kind is SendAdvert:
                    priority = action.priority  # type: ignore[union-attr]
                    if netlink_queued:
                        self.vips.advert_after(inst, self._packets(inst, priority))
                    else:
                        self._send(inst, priority)
                elif kind is AddVips:  # added at once when the worker is idle (vips.py)
                    burst = _burst_after(actions, index)
                    queued = None
                    if burst is not None and not routed:
                        queued = self.vips.takeover(inst, burst.repeat)
                    if queued is None:
                        queued = self.vips.change_all(inst, True)
                    else:
                        announced = index + 1
                    netlink_queued = queued or netlink_queued
                    if routed:
                        self.leases.ensure_running()
                elif kind is DelVips:
                    self.vips.change_all(inst, False)
                    netlink_queued = True
                elif index == announced:
                    continue
                elif kind is Announce and not routed:
                    repeat = action.repeat  # type: ignore[union-attr]
                    netlink_queued = self.vips.announce(inst, repeat) or netlink_queued
                elif kind is StateChanged:
                    self.quiet.changed((inst.cfg.socket_interface, inst.cfg.family))
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
        for packet, dst, src in inst.encoder.sends(priority, inst.cfg.advert_int_cs, inst.destinations):
            try:
                io.send(packet, dst, src)
            except OSError as exc:
                inst.counters["send_errors"] += 1
                inst.log.debug("advert to %s not sent: %s", dst, exc)

    # ---------------------------------------------------------------- links
    def on_link_events(self) -> None:
        self.vips.forget_macs()  # an event, or an overflow that lost some: a MAC may have changed
        events = self.links.read() if self.links is not None else []
        self.apply_link_events(self.link_delays.filter(events) if self.link_delays else events)
        for inst in self.rt.instances:  # their takeover plans went with the MACs
            if inst.router.state == BACKUP:
                self.vips.plans.prepare(inst)

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
        self.quiet.close()
        self.precise.close()
        if self.links is not None:
            loop.remove_reader(self.links.fileno())
            self.links.close()
        if self.link_delays is not None:
            self.link_delays.close()
        for io in self.io.values():
            loop.remove_reader(io.rx.fileno())  # no-op when quiet (quiet.close: the doorbell)
            if getattr(io, "ah_rx", None) is not None:
                loop.remove_reader(io.ah_rx.fileno())
            io.close()
