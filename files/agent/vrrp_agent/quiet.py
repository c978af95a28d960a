"""Quiet receive: a steady backup wakes once per master-down interval, not once per advert.

A part of driver.Driver (on the event loop). Issue 14: on a lightly loaded
backup the cost of an advert is the wakeup it causes, not the work it takes.
Rules:
- Per (interface, family) socket pair, two modes. Loud: the loop polls the
  receive socket and reads every advert when it comes (receive.py). Quiet:
  the loop polls the doorbell instead (adapters/sockets.py), whose filter
  (doorbell.py) drops the copy of every steady advert, the one each backup
  accepted last (fastpath.py); the receive socket still queues every
  datagram, in order, with the time the kernel received it.
- An interface is quiet while at least one of its instances is a BACKUP with
  an accepted IPv4 advert and the doorbell filters cover every such advert
  (one that rings wakes the agent every interval anyway); IPv6, AH and every
  other state stay loud (`VRRP_AGENT_QUIET=0` turns the mode off). Where
  the kernel loads eBPF, the pair is stamped instead (stamped.py: the
  kernel counts steady adverts in shared memory, no doorbell, nothing
  queued; with the kernel watch, no wakeup at all until the master is
  silent; `VRRP_AGENT_QUIET=doorbell` keeps the doorbells, `=stamps` the
  stamps without the watch). The
  kernel caps a socket filter's memory (net.core.optmem_max), so the steady
  set is split over up to 8 doorbells by VRID range (doorbell.py); a filter
  the kernel still refuses for its size halves the split's size.
- Nothing is processed later than it must be: anything that is not a steady
  advert (a priority-0 advert, another master, a changed priority or
  interval, any malformed datagram, an advert for a master or a VRID no
  backup watches) rings and is read at once; steady adverts only push a
  master-down timer back, so they are read when a backup's timer fires
  (driver._drained_past), at the latest at its master-down deadline, and
  any control request reads them first (`drain_all`).
- A queued advert counts from when the kernel received it, not from when it
  is read (RFC 5798 §6.4.2: the Master_Down_Timer is reset on receipt): its
  wall-clock stamp is turned into loop time and kept between the previous
  drain and now.
- A doorbell copy can be read before its twin reaches the receive socket (the
  kernel delivers to raw sockets one after the other): when the newest ring
  is later than the newest datagram read, the receive socket is read again
  shortly (RETRY_S, at most RETRIES times).
- The steady set is recomputed (one refresh per loop iteration) after
  anything that can change it: a datagram on the full path, a state change, a
  bind, an unbind, a reload. A new filter replaces the old one in one step.
"""

from __future__ import annotations

import errno
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

from vrrp_agent import doorbell, fastpath
from vrrp_agent.constants import PRIORITY_STOP
from vrrp_agent.receive import Receiver
from vrrp_agent.router import BACKUP
from vrrp_agent.runtime import Runtime
from vrrp_agent.stamped import SWITCH_FLOOR_S, StampedPair, StampedReads, loop_time, queued

__all__ = ["Quiet", "QUIET_ENV"]

log = logging.getLogger("vrrp_agent")
QUIET_ENV = "VRRP_AGENT_QUIET"
RETRY_S = 0.0002
RETRIES = 5
MIN_CHUNK_INSNS = 64


@dataclass
class _Pair:
    """The quiet state of one socket pair."""

    quiet: bool = False
    steady: Tuple[doorbell.Steady, ...] = ()   # the set the last refresh saw
    covered: Tuple[doorbell.Steady, ...] = ()
    dirty: bool = False
    floor: float = 0.0          # loop time of the previous drain: no stamp goes below it
    newest_stamp: float = 0.0   # wall-clock stamp of the newest datagram read
    rang: float = 0.0           # wall-clock stamp of the newest doorbell copy
    chunk_insns: int = doorbell.CHUNK_INSNS  # halved when the kernel refuses a filter (ENOMEM)
    bells: int = 0              # doorbells the loop polls
    retries: int = 0
    retry: Optional[Any] = field(default=None, repr=False)
    stamped: Optional[StampedPair] = None  # the eBPF form (stamped.py), where the kernel loads it


def _repeats_alike(inst: Any) -> bool:
    """Would INST take its steady advert again exactly as before, whenever it comes?

    A backup (with an interface) that accepts it whatever the time: its
    priority is not 0 and is at least ours, or we do not preempt. Not with a
    lower priority (preempt_delay's countdown starts at the first one).
    """
    router = inst.router
    if router.state != BACKUP or inst.ifindex is None:
        return False
    priority = inst.accepted.adv.priority
    return priority != PRIORITY_STOP and (
        router.params.nopreempt or priority >= router.effective_priority)


class Quiet:
    """Switches socket pairs between loud and quiet, and reads quiet ones."""

    def __init__(self, rt: Runtime, receiver: Receiver, enabled: Optional[bool] = None):
        self.rt = rt
        self.receiver = receiver
        mode = os.environ.get(QUIET_ENV, "1")
        self.enabled = mode != "0" if enabled is None else enabled
        self.stamps_wanted = mode != "doorbell"
        self.watch_wanted = mode not in ("doorbell", "stamps")
        self._no_stamps_said = False
        self._no_watch_said = False
        self.pairs: Dict[Tuple[str, int], _Pair] = {}
        self.ios: Dict[Tuple[str, int], Any] = {}
        self._refresh_queued = False
        self.stamped_reads = StampedReads(rt, receiver, self.read_quiet, self.refresh)
        """The stamped pairs' filter changes and reads (stamped.py)."""

    def attach(self, key: Tuple[str, int], io: Any) -> None:
        if self.enabled and key[1] == 4 and hasattr(io, "open_doorbells"):
            self.ios[key] = io
            pair = self.pairs[key] = _Pair()
            if self.stamps_wanted and hasattr(io, "open_stamps"):
                try:
                    pair.stamped = StampedPair(io, io.open_stamps(), _repeats_alike,
                                               lambda: self.changed(key))
                except OSError as exc:
                    if not self._no_stamps_said:
                        self._no_stamps_said = True
                        log.info("no eBPF stamp map (%s): quiet receive uses doorbells", exc)
            if pair.stamped is not None and self.watch_wanted:
                self._watch(key, io, pair.stamped)

    def _watch(self, key: Tuple[str, int], io: Any, stamped: StampedPair) -> None:
        try:
            watch = io.open_watch()
        except OSError as exc:
            if not self._no_watch_said:
                self._no_watch_said = True
                log.info("no kernel watch (%s): a steady backup wakes once per "
                         "master-down interval", exc)
            return
        self.stamped_reads.watch(key, stamped, watch)

    def watches(self, inst: Any, deadline: float) -> bool:
        """Whether a backup's DEADLINE is its kernel watch's (stamped.py): no loop timer."""
        pair = self.pairs.get((inst.cfg.socket_interface, inst.cfg.family))
        if pair is None or pair.stamped is None or pair.stamped.watch is None or not pair.quiet:
            return False
        return pair.stamped.watches(inst, deadline)

    def is_quiet(self, key: Tuple[str, int]) -> bool:
        pair = self.pairs.get(key)
        return pair is not None and pair.quiet

    # ------------------------------------------------------------ the steady set
    def changed(self, key: Tuple[str, int]) -> None:
        """Something that can change KEY's steady set happened: refresh once, soon."""
        pair = self.pairs.get(key)
        if pair is None:
            return
        pair.dirty = True
        if not self._refresh_queued:
            self._refresh_queued = True
            self.rt.loop.call_soon(self._refresh_dirty)

    def changed_all(self) -> None:
        for key in self.pairs:
            self.changed(key)

    def _refresh_dirty(self) -> None:
        self._refresh_queued = False
        for key, pair in list(self.pairs.items()):  # a refused filter drops its pair
            if pair.dirty:
                pair.dirty = False
                self.refresh(key)

    def steady(self, key: Tuple[str, int]) -> List[doorbell.Steady]:
        out = []
        for vrid, inst in self.receiver.by_vrid.get(key, {}).items():
            last = inst.accepted
            if last is not None and inst.router.state == BACKUP and inst.ifindex is not None:
                out.append(doorbell.Steady(vrid, last.ttl, last.wire))
        return out

    def refresh(self, key: Tuple[str, int]) -> None:
        pair, io = self.pairs.get(key), self.ios.get(key)
        if pair is None or io is None:
            return
        if pair.stamped is not None:
            self.stamped_reads.refresh(key, io, pair, pair.stamped)
            return
        steady = self.steady(key)
        if tuple(steady) == pair.steady and (pair.quiet or not pair.covered):
            return  # the same set as last time (a flood of adverts that are not steady)
        pair.steady = tuple(steady)
        filters, covered = doorbell.programs(steady, pair.chunk_insns)
        if len(covered) < len(steady):
            covered = []  # a steady advert that rings wakes every interval: loud is cheaper
        if tuple(covered) == pair.covered and (pair.quiet or not covered):
            return
        try:
            if covered:
                io.open_doorbells(len(filters), doorbell.silence_all())
                io.ring_filters(filters + [doorbell.silence_all()] * (len(io.doorbells) - len(filters)))
            else:
                io.ring_filters([doorbell.silence_all()] * len(io.doorbells))
        except OSError as exc:
            self._refused(key, io, pair, exc, max(len(f) for f in filters) // doorbell.INSN.size)
            return
        pair.covered = tuple(covered)
        if covered:
            self._quiet(key, io, pair)
        elif pair.quiet:
            self._loud(key, io, pair)

    def read_quiet(self, key: Tuple[str, int]) -> None:
        """Read a quiet pair: a stamped one's socket with its stamps (also its reader),
        else the doorbells' receive socket."""
        pair = self.pairs[key]
        if pair.stamped is None:
            self._read(key, self.ios[key], pair)
        else:
            self.stamped_reads.read(key, self.ios[key], pair, pair.stamped)

    def _refused(self, key: Tuple[str, int], io: Any, pair: _Pair, exc: OSError,
                 size: int) -> None:
        """The kernel refused a filter: loud. Too big for net.core.optmem_max (ENOMEM):
        smaller filters, on more doorbells, at the next change; anything else: loud
        for good."""
        pair.steady = ()  # not installed: the next refresh builds again
        if exc.errno == errno.ENOMEM and size > MIN_CHUNK_INSNS:
            pair.chunk_insns = max(MIN_CHUNK_INSNS, size // 2)
            log.info("%s/ipv%d: a doorbell filter of %d instructions is over "
                     "net.core.optmem_max: %d at most from now on",
                     key[0], key[1], size, pair.chunk_insns)
            self.changed(key)
        else:
            log.warning("%s/ipv%d: no quiet receive (%s): every advert wakes the agent",
                        key[0], key[1], exc)
            self.pairs.pop(key)
        try:
            io.ring_filters([doorbell.silence_all()] * len(io.doorbells))  # no stale filter
        except OSError:
            pass
        if pair.quiet:
            self._loud(key, io, pair)

    def _quiet(self, key: Tuple[str, int], io: Any, pair: _Pair) -> None:
        """Poll the doorbells (new ones too) instead of the receive socket."""
        loop = self.rt.loop
        for sock in io.doorbells[pair.bells:]:
            loop.add_reader(sock.fileno(), self.on_ring, key)
        pair.bells = len(io.doorbells)
        if pair.quiet:
            return
        loop.remove_reader(io.rx.fileno())
        pair.quiet = True
        pair.floor = loop.time() - SWITCH_FLOOR_S
        log.debug("%s/ipv%d: quiet receive (%d steady adverts, %d doorbells)",
                  key[0], key[1], len(pair.covered), pair.bells)
        self._read(key, io, pair)  # what came before the switch

    def _loud(self, key: Tuple[str, int], io: Any, pair: _Pair) -> None:
        loop = self.rt.loop
        if pair.quiet:
            for sock in io.doorbells[:pair.bells]:
                loop.remove_reader(sock.fileno())
            pair.bells = 0
            self._read(key, io, pair)  # what is queued counts from its receipt
            log.debug("%s/ipv%d: loud receive", key[0], key[1])
        pair.quiet = False
        pair.covered = ()
        if pair.retry is not None:
            pair.retry.cancel()
            pair.retry = None
        loop.add_reader(io.rx.fileno(), self.receiver.on_readable, io)

    # ------------------------------------------------------------------ reading
    def drain(self, key: Tuple[str, int], io: Any, inst: Any = None) -> None:
        """Read what KEY's receive socket IO holds (quiet: with receipt times). Stamped,
        for INST's timer: its stamps, and the socket only when they did not put its
        deadline past now (the read before a decision: driver._drained_past)."""
        pair = self.pairs.get(key)
        if pair is None or not pair.quiet:
            self.receiver.on_readable(io)
        elif pair.stamped is None or inst is None:
            self.read_quiet(key)
        else:
            self.stamped_reads.drain_for(key, io, pair, pair.stamped, inst)

    def drain_all(self) -> None:
        for key, pair in self.pairs.items():
            if pair.quiet:
                self.read_quiet(key)

    def _read(self, key: Tuple[str, int], io: Any, pair: _Pair) -> None:
        """Everything KEY's receive socket holds, each datagram at its receipt time.

        Steady adverts (fastpath.match4) that a backup would take exactly as it
        took the last one (`_repeats_alike`) are held, per instance, and handed
        over at once as the last of them (`Instance.receive_same`): the same
        checks, counters and state, the timer from the last receipt. Anything
        else hands the held ones over first, then takes the full path.
        """
        loop = self.rt.loop
        now = loop.time()
        wall_offset = self.rt.adapters.wall_clock() - now
        floor = pair.floor
        pair.floor = now
        table = self.receiver.by_vrid[key]
        held: Dict[Any, Tuple[float, int]] = {}  # instance -> (last stamp, count)
        touched: Set[Any] = set()
        stamp = 0.0
        for data, stamp in queued(io):
            inst = fastpath.match4(table, data)
            if inst is not None:
                before = held.get(inst)
                if before is not None:
                    held[inst] = (stamp, before[1] + 1)
                    continue
                if _repeats_alike(inst):
                    held[inst] = (stamp, 1)
                    continue
            if held:
                self._hand_over(held, touched, wall_offset, floor, now)
                held = {}
            inst = self.receiver.handle(io, table, data, b"", b"", -1,
                                        loop_time(stamp, wall_offset, floor, now), False)
            if inst is not None:
                touched.add(inst)
        if held:
            self._hand_over(held, touched, wall_offset, floor, now)
        for inst in touched:  # once, at the last advert's deadline (driver.arm)
            self.receiver.arm(inst)
        if stamp > pair.newest_stamp:
            pair.newest_stamp = stamp

    def _hand_over(self, held: Dict[Any, Tuple[float, int]], touched: Set[Any],
                   wall_offset: float, floor: float, now: float) -> None:
        """Each held instance takes its steady advert, as many times as it came."""
        apply = self.receiver.transitions.apply
        for inst, (stamp, count) in held.items():
            actions = inst.receive_same(loop_time(stamp, wall_offset, floor, now), count)
            if actions:
                apply(inst, actions)
            touched.add(inst)

    def on_ring(self, key: Tuple[str, int]) -> None:
        io, pair = self.ios[key], self.pairs[key]
        pair.rang = max(pair.rang, io.doorbell_newest())
        pair.retries = 0
        self._read(key, io, pair)
        self._check_twin(key, pair)

    def _check_twin(self, key: Tuple[str, int], pair: _Pair) -> None:
        """Read again shortly while the newest ring is later than the newest datagram read."""
        if pair.rang > pair.newest_stamp and pair.retries < RETRIES and pair.retry is None:
            pair.retries += 1
            pair.retry = self.rt.loop.call_later(RETRY_S, self._retry, key)

    def _retry(self, key: Tuple[str, int]) -> None:
        pair = self.pairs.get(key)
        if pair is None:
            return
        pair.retry = None
        if pair.quiet:
            self._read(key, self.ios[key], pair)
            self._check_twin(key, pair)

    def close(self) -> None:
        for key, pair in self.pairs.items():
            if pair.retry is not None:
                pair.retry.cancel()
            if pair.stamped is not None:
                if pair.stamped.watch is not None:
                    self.rt.loop.remove_reader(pair.stamped.watch.fileno())
                pair.stamped.close()
            for sock in self.ios[key].doorbells[:pair.bells]:
                self.rt.loop.remove_reader(sock.fileno())
        self.pairs.clear()
        self.ios.clear()
