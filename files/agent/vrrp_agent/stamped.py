"""Stamped quiet receive: the kernel counts a steady backup's adverts, the backup reads memory.

StampedPair holds one socket's map and filter and takes its counts;
StampedReads changes the filters and reads the sockets for quiet.Quiet.

The eBPF form of quiet receive (quiet.py), used where the kernel loads it
(adapters/bpf.py: CAP_BPF or unprivileged eBPF, Linux >= 5.5); the doorbells
are the fallback. Rules:
- One stamp map per (interface, IPv4) receive socket, and on that socket the
  stamp filter (stamps.py) for the steady set: each backup's last accepted
  advert, for the backups that would take it again as they took it
  (quiet._repeats_alike). A steady advert is counted and stamped in the map
  and dropped; anything else is queued on the receive socket, which the loop
  polls: it is read at once, each datagram at the time the kernel received
  it (as the doorbells' reads: a priority 0's Skew_Time counts from there).
- A backup's steady adverts are taken when its timer fires (its map entry
  only: a few reads of shared memory, no syscall), when anything else is
  read on the socket (every entry, in the order below), and when a control
  request reads everything (`drain_all`). They go to the router as
  the fast path hands them (`Instance.receive_same`), the last at its stamp
  (RFC 5798 §6.4.2: the timer counts from the receipt).
- The stamp is CLOCK_MONOTONIC, the loop's clock: no conversion, no twin
  race. Counts only grow; each take hands over the difference since the
  last, the newest at its stamp, never earlier than the stamp handed over
  before (a count can be seen before its stamp where stores are not ordered).
- Counts belong to the filter's entry for their VRID: when an entry joins or
  changes, its count is noted after the new filter is loaded and before it
  is attached, and what an earlier filter counted is never handed over.
- Order: what is queued is read with its kernel receipt time, and a VRID's
  stamps whose newest is older than its next queued datagram are handed over
  before it, the rest after the last (quiet.py). A backup's timer takes its
  own stamps without reading the socket when they put its deadline past now:
  on uvloop, whose timers run before its readers, a datagram queued in the
  same turn is then read after them.
- At most STAMPED_MOST steady adverts per socket (the verifier's time grows
  faster than the filter: 0.2 ms for one, 22 ms for 128, on the loop); beyond,
  the pair goes to the doorbells for good (logged at INFO).
- Stamps an instance would not take alike now (its accepted advert is no
  longer the entry's, a state or priority change) take the full path as the
  datagram their entry stands for (`datagram_of`), at their time, each (at
  most REPLAY_MOST); the filter is built again without them.
- The kernel watch (adapters/bpf.Watch, where the kernel has bpf_timer): each
  steady advert also starts its VRID's kernel timer for the backup's
  Master_Down_Interval less WATCH_EARLY_S (stamps.py), and the loop polls
  the ring buffer the timers' callback writes to. A backup's deadline is
  the watch's (`watches`: no loop timer at all) only while all of this
  holds: its last receipt is a stamp taken under the installed entry, for
  the Master_Down_Interval and the steady set the entry was built with, the
  stamp was counted after the last time a timer fired (`on_watch` notes
  each entry's count then: the loop's clock is not compared with the
  kernel's, uvloop's lags it by up to 1 ms), and no callback's record is
  unread. A record (any) makes the loop look at every instance on the
  socket and trust none until their next take: a timer that fired never
  stands for a deadline again. Whenever the watch goes (refused, the pair
  left to the doorbells), every instance on the socket is re-armed: their
  loop timers come back.
"""

from __future__ import annotations

import logging
import struct
from typing import Any, Callable, Dict, Iterator, Optional, Set, Tuple

from vrrp_agent import stamps
from vrrp_agent.constants import IPPROTO_VRRP
from vrrp_agent.doorbell import WIRE_AT, Steady
from vrrp_agent.fastpath import V4_VRID_AT
from vrrp_agent.precise import EPOLL_ROUNDING_S

__all__ = ["StampedPair", "StampedReads", "datagram_of", "loop_time", "queued"]

log = logging.getLogger("vrrp_agent")

# struct iphdr up to the source address: version/IHL, TOS, total length, ID,
# flags/fragment offset, TTL, protocol, checksum
_V4_HEAD = struct.Struct("!BBHHHBBH")
REPLAY_MOST = 8  # stamps of one take that go through the full path, each
STAMPED_MOST = 8  # steady adverts a stamp filter takes: the verifier's time grows faster
SWITCH_FLOOR_S = 1.0  # the first quiet read: read loudly until now, nothing older than this
ORDER_TOLERANCE_S = 1e-5  # a queued datagram's wall-clock receipt time, made loop time, is this exact
WATCH_EARLY_S = EPOLL_ROUNDING_S  # a kernel timer fires this early: the driver's spin does the rest


class StampedPair:
    """The stamp map of one receive socket, the filter's steady set, the counts taken."""

    def __init__(self, io: Any, stamp_map: Any, repeats_alike: Callable[[Any], bool],
                 stale: Callable[[], None]):
        self.io = io
        self.map = stamp_map
        self.watch: Any = None
        """The kernel watch (adapters/bpf.Watch; StampedReads.watch), or None: loop timers."""
        self.repeats_alike = repeats_alike
        self.stale = stale
        """Called when stamps came for an instance that would not take them alike now."""
        self.installed: Dict[int, Steady] = {}  # VRID -> the entry the attached filter counts
        self.taken: Dict[int, int] = {}         # VRID -> the count handed over or set aside last
        self.last_at: Dict[int, float] = {}     # VRID -> the stamp handed over last (loop time)
        self.watched_down: Dict[int, float] = {}  # VRID -> the Master_Down_Interval its timer runs for
        self.trusted: Dict[int, float] = {}     # VRID -> a stamp taken alike since the last record
        self.fired: Dict[int, int] = {}         # VRID -> its count when a kernel timer fired last

    def entries(self, table: Dict[int, Any]) -> Tuple[Steady, ...]:
        return tuple(Steady(vrid, inst.accepted.ttl, inst.accepted.wire)
                     for vrid, inst in sorted(table.items())
                     if inst.accepted is not None and self.repeats_alike(inst))

    def downs(self, steady: Tuple[Steady, ...], table: Dict[int, Any]) -> Dict[int, float]:
        """The Master_Down_Interval of each STEADY entry's backup (watched; else none)."""
        if self.watch is None:
            return {}
        return {entry.vrid: table[entry.vrid].router.master_down_interval_s() for entry in steady}

    def install(self, steady: Tuple[Steady, ...], downs: Dict[int, float]) -> None:
        """The filter for STEADY (none: no filter), watched for DOWNS (VRID -> the
        Master_Down_Interval) when there is a watch; OSError when the kernel refuses it."""
        entries = {entry.vrid: entry for entry in steady}

        def baseline() -> None:  # loaded and verified: what is counted from here on is its own
            for vrid, entry in entries.items():
                if self.installed.get(vrid) != entry or self.watched_down.get(vrid) != downs.get(vrid):
                    self.taken[vrid] = self.map.read(vrid)[0]
                    self.last_at.pop(vrid, None)
                    self.trusted.pop(vrid, None)

        insns, watching = None, None
        if steady and self.watch is not None:
            watching = stamps.Watching(self.watch.timers_fd, self.watch.ring_fd, {
                vrid: max(0, int((down - WATCH_EARLY_S) * 1e9)) for vrid, down in downs.items()})
        if steady:
            insns = stamps.program(steady, self.map.fd, watching)
        self.io.stamp_filter(insns, baseline, None if watching is None else self.watch)
        self.installed = entries
        self.watched_down = dict(downs)

    def watches(self, inst: Any, deadline: float) -> bool:
        """Whether INST's DEADLINE is the kernel watch's (the rules above)."""
        vrid = inst.cfg.vrid
        at, down = self.trusted.get(vrid), self.watched_down.get(vrid)
        if at is None or down is None or inst.accepted is None:  # None: reconfigured
            return False
        if down != inst.router.master_down_interval_s() or not self.repeats_alike(inst):
            self.stale()  # a new priority (tracking, an override): the filter is built again
            return False
        return deadline == at + down and not self.watch.pending()

    def timer_fired(self) -> None:
        """A kernel timer fired: no deadline is the watch's until stamps counted from now on."""
        self.trusted.clear()
        for vrid in self.installed:
            self.fired[vrid] = self.map.read(vrid)[0]

    def close(self) -> None:
        self.map.close()
        if self.watch is not None:
            self.watch.close()

    def take(self, inst: Any, now: float,
             older_than: Optional[float] = None) -> Optional[Tuple[float, int, Steady, bool]]:
        """INST's steady adverts since the last take (only if the newest is older than
        OLDER_THAN, when given): (the newest's time, how many, the entry they matched,
        whether INST takes them alike), or None. The time is never before the one
        taken last, never after NOW."""
        vrid = inst.cfg.vrid
        entry, before = self.installed.get(vrid), self.taken.get(vrid)
        if entry is None or before is None:
            return None  # counted by an earlier filter: its baseline is reset when it is back
        count, last_ns = self.map.read(vrid)
        if count == before:
            return None
        at = max(last_ns * 1e-9, self.last_at.get(vrid, 0.0))
        if older_than is not None and at > older_than + ORDER_TOLERANCE_S:
            return None  # newer than the datagram about to be read: after it
        self.taken[vrid] = count
        at = at if at < now else now
        self.last_at[vrid] = at
        accepted = inst.accepted
        alike = accepted is not None and accepted.wire == entry.wire \
            and accepted.ttl == entry.ttl and self.repeats_alike(inst)
        if not alike:
            self.stale()  # the filter is built again without it
        elif self.watch is not None and count > self.fired.get(vrid, -1):
            self.trusted[vrid] = at  # counted after any timer fired: its own timer runs
        return at, count - before, entry, alike


def datagram_of(entry: Steady) -> bytes:
    """The IPv4 datagram ENTRY stands for, the fields no check reads (TOS, ID, flags,
    checksum: fastpath.py) as zero, to take the full path."""
    return _V4_HEAD.pack(0x45, 0, WIRE_AT + len(entry.wire), 0, 0, entry.ttl, IPPROTO_VRRP,
                         0) + entry.wire


def queued(io: Any) -> Iterator[Tuple[bytes, float]]:
    """Each datagram IO's receive socket holds, with its wall-clock receive time (0: none)."""
    next_datagram, stamp_of_last = io.rx_next, io.rx_stamp
    while True:
        try:
            data = next_datagram()
        except BlockingIOError:
            return
        except OSError as exc:
            log.warning("receive on %s failed: %s", io.ifname, exc)
            return
        try:
            stamp = stamp_of_last()
        except OSError as exc:  # not expected: every read records its time
            log.warning("no receive time on %s (%s): taken as read now", io.ifname, exc)
            stamp = 0.0
        yield data, stamp


def loop_time(stamp: float, wall_offset: float, floor: float, now: float) -> float:
    """A receive time (wall clock; 0: none) in loop time, between FLOOR and NOW."""
    if not stamp:
        return now
    at = stamp - wall_offset
    return floor if at < floor else now if at > now else at


class StampedReads:
    """The stamped pairs' filter changes and reads, for quiet.Quiet (on the event loop)."""

    def __init__(self, rt: Any, receiver: Any, on_readable: Callable[[Tuple[str, int]], None],
                 fallback: Callable[[Tuple[str, int]], None]):
        self.rt = rt
        self.receiver = receiver
        self.on_readable = on_readable
        """The reader of a quiet stamped pair's receive socket (quiet.Quiet.read_quiet)."""
        self.fallback = fallback
        """Builds a pair's doorbells once it is no longer stamped (quiet.Quiet.refresh)."""
        self.watch_fired: Callable[[Any], None] = lambda inst: None
        """Called for each instance of a socket whose kernel timer fired (the driver's)."""

    def refresh(self, key: Tuple[str, int], io: Any, pair: Any, stamped: StampedPair) -> None:
        """The stamp filter for KEY's steady set (stamped.py); doorbells if refused."""
        table = self.receiver.by_vrid.get(key, {})
        steady = stamped.entries(table)
        if steady == tuple(stamped.installed.values()) and \
                stamped.downs(steady, table) == stamped.watched_down:
            return
        self.take_all(key, stamped)  # what the filter being replaced counted
        steady = stamped.entries(table)  # as those left it
        if len(steady) > STAMPED_MOST:
            log.info("%s/ipv%d: %d steady adverts: quiet receive uses doorbells from now on "
                     "(the kernel checks a stamp filter in time that grows with it)",
                     key[0], key[1], len(steady))
            self._unstamp(key, io, pair, stamped)
            return
        try:
            try:
                stamped.install(steady, stamped.downs(steady, table))
            except OSError as exc:
                if stamped.watch is None:
                    raise
                self.unwatch(key, stamped, exc)  # stamps without it, then
                stamped.install(steady, {})
        except OSError as exc:
            log.warning("%s/ipv%d: no stamp filter (%s): quiet receive uses doorbells",
                        key[0], key[1], exc)
            self._unstamp(key, io, pair, stamped)
            return
        if bool(steady) != pair.quiet:
            self.switch_reader(key, io, pair, bool(steady))
            log.debug("%s/ipv%d: %s", key[0], key[1],
                      f"quiet receive ({len(steady)} steady adverts, stamped)" if steady
                      else "loud receive")

    def watch(self, key: Tuple[str, int], stamped: StampedPair, watch: Any) -> None:
        """KEY's stamps are watched by WATCH's kernel timers from the next filter on."""
        stamped.watch = watch
        self.rt.loop.add_reader(watch.fileno(), self.on_watch, key, stamped)

    def unwatch(self, key: Tuple[str, int], stamped: StampedPair, why: Any) -> None:
        """No kernel watch on KEY any more (WHY: the kernel refused a watched filter)."""
        log.info("%s/ipv%d: no kernel watch (%s): a steady backup wakes once per "
                 "master-down interval", key[0], key[1], why)
        self.rt.loop.remove_reader(stamped.watch.fileno())
        stamped.watch.close()
        stamped.watch = None
        stamped.watched_down = {}
        stamped.trusted.clear()
        self._rearm(key)

    def _rearm(self, key: Tuple[str, int]) -> None:
        """Every instance on KEY armed again: a watched one gets its loop timer back."""
        for inst in list(self.receiver.by_vrid.get(key, {}).values()):
            self.receiver.arm(inst)

    def on_watch(self, key: Tuple[str, int], stamped: StampedPair) -> None:
        """A kernel timer fired (the ring buffer is readable): no watched deadline is
        trusted any more, and every instance on KEY is looked at (watch_fired)."""
        if stamped.watch is None or not stamped.watch.consume():
            return
        log.debug("%s/ipv%d: a kernel watch timer fired", key[0], key[1])
        stamped.timer_fired()
        for inst in list(self.receiver.by_vrid.get(key, {}).values()):
            try:
                self.watch_fired(inst)
            except Exception:  # the others are looked at all the same: none left without a timer
                log.exception("%s: the timer work after a kernel watch timer failed", inst.cfg.name)
                self.receiver.arm(inst)

    def _unstamp(self, key: Tuple[str, int], io: Any, pair: Any, stamped: StampedPair) -> None:
        """KEY uses the doorbells from now on (what the filter counted handed over first)."""
        try:
            io.stamp_filter(None)
        except OSError:
            pass
        self.take_all(key, stamped)
        if stamped.watch is not None:
            self.rt.loop.remove_reader(stamped.watch.fileno())
        stamped.close()
        pair.stamped = None
        self.switch_reader(key, io, pair, False)
        self._rearm(key)
        self.fallback(key)

    def switch_reader(self, key: Tuple[str, int], io: Any, pair: Any, quiet: bool) -> None:
        """A stamped pair's receive socket: read through read_quiet (QUIET) or as loud."""
        loop = self.rt.loop
        loop.remove_reader(io.rx.fileno())
        if quiet:
            loop.add_reader(io.rx.fileno(), self.on_readable, key)
            pair.floor = loop.time() - SWITCH_FLOOR_S
        else:
            loop.add_reader(io.rx.fileno(), self.receiver.on_readable, io)
        pair.quiet = quiet

    def read(self, key: Tuple[str, int], io: Any, pair: Any, stamped: StampedPair) -> None:
        """Everything KEY's receive socket holds, each datagram at its receipt time, a
        VRID's stamps before its datagram when older (stamped.py's order), then the rest."""
        loop = self.rt.loop
        now = loop.time()
        wall_offset = self.rt.adapters.wall_clock() - now
        floor, pair.floor = pair.floor, now
        table = self.receiver.by_vrid[key]
        touched: Set[Any] = set()
        for data, stamp in queued(io):
            at = loop_time(stamp, wall_offset, floor, now)
            inst = table.get(data[V4_VRID_AT]) if len(data) > V4_VRID_AT else None
            if inst is not None:
                self.hand(stamped, inst, now, touched, older_than=at)
            inst = self.receiver.handle(io, table, data, b"", b"", -1, at, False)
            if inst is not None:
                touched.add(inst)
        self.take_all(key, stamped, touched)
        for inst in touched:
            self.receiver.arm(inst)

    def take_all(self, key: Tuple[str, int], stamped: StampedPair,
                 touched: Optional[Set[Any]] = None) -> None:
        """Every entry's stamps; the instances they went to added to TOUCHED, or re-armed
        here when none is given."""
        now = self.rt.loop.time()
        table = self.receiver.by_vrid.get(key, {})
        mine: Set[Any] = set() if touched is None else touched
        for vrid in list(stamped.installed):
            inst = table.get(vrid)
            if inst is not None:
                self.hand(stamped, inst, now, mine)
        if touched is None:
            for inst in mine:
                self.receiver.arm(inst)

    def hand(self, stamped: StampedPair, inst: Any, now: float, touched: Set[Any],
             older_than: Optional[float] = None) -> None:
        """INST's stamps (stamped.take): to the router as the fast path would hand them,
        or, not alike, each on the full path as the datagram they matched."""
        taken = stamped.take(inst, now, older_than)
        if taken is None:
            return
        at, count, entry, alike = taken
        if alike:
            actions = inst.receive_same(at, count)
            if actions:
                self.receiver.transitions.apply(inst, actions)
            touched.add(inst)
            return
        io = stamped.io
        table = self.receiver.by_vrid[(io.ifname, io.family)]
        data = datagram_of(entry)
        for _replay in range(min(count, REPLAY_MOST)):
            got = self.receiver.handle(io, table, data, b"", b"", -1, at, False)
            if got is not None:
                touched.add(got)

    def drain_for(self, key: Tuple[str, int], io: Any, pair: Any, stamped: StampedPair,
                  inst: Any) -> None:
        """INST's timer fired (driver._drained_past): its stamps, and the socket only when
        they did not put its deadline past now (the read before a decision)."""
        now = self.rt.loop.time()
        touched: Set[Any] = set()
        self.hand(stamped, inst, now, touched)
        due = inst.router.next_deadline()
        if inst not in touched or due is None or due <= now:
            self.read(key, io, pair, stamped)
