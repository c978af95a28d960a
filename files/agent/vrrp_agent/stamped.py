"""Stamped quiet receive: the kernel counts a steady backup's adverts, the backup reads memory.

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
  only: two reads of shared memory, no syscall), when anything else is read
  on the socket (every entry, first: the order they came in), and when a
  control request reads everything (`drain_all`). They go to the router as
  the fast path hands them (`Instance.receive_same`), the last at its stamp
  (RFC 5798 §6.4.2: the timer counts from the receipt).
- The stamp is CLOCK_MONOTONIC, the loop's clock: no conversion, no twin
  race. Counts only grow, from 0 (the map is the socket's own): each take
  hands over the difference since the last, so no stamp is lost or taken twice.
- Stamps for an instance that would no longer take its advert alike (a
  state or priority change since) are not handed over, and the filter is
  built again without it: its adverts then take the full path.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

from vrrp_agent import stamps
from vrrp_agent.doorbell import Steady

__all__ = ["StampedPair"]


class StampedPair:
    """The stamp map of one receive socket, the filter's steady set, the counts taken."""

    def __init__(self, io: Any, stamp_map: Any, repeats_alike: Callable[[Any], bool],
                 stale: Callable[[], None]):
        self.io = io
        self.map = stamp_map
        self.repeats_alike = repeats_alike
        self.stale = stale
        """Called when stamps came for an instance that would not take them alike now."""
        self.steady: Tuple[Steady, ...] = ()
        self.taken: Dict[int, int] = {}  # VRID -> the count handed over (or noted) last

    def entries(self, table: Dict[int, Any]) -> Tuple[Steady, ...]:
        return tuple(Steady(vrid, inst.accepted.ttl, inst.accepted.wire)
                     for vrid, inst in sorted(table.items())
                     if inst.accepted is not None and self.repeats_alike(inst))

    def install(self, steady: Tuple[Steady, ...]) -> None:
        """The filter for STEADY (none: no filter); OSError when the kernel refuses it."""
        for entry in steady:
            self.taken.setdefault(entry.vrid, 0)  # the map is this socket's: it counts from 0
        self.io.stamp_filter(stamps.program(steady, self.map.fd) if steady else None)
        self.steady = steady

    def take(self, inst: Any, now: float) -> Optional[List[Any]]:
        """INST's steady adverts since the last take: None if none was handed over, else
        the router's actions (the newest at its stamp, at most NOW)."""
        vrid = inst.cfg.vrid
        before = self.taken.get(vrid)
        if before is None:
            return None
        count, last_ns = self.map.read(vrid)
        if count == before:
            return None
        self.taken[vrid] = count
        if inst.accepted is None or not self.repeats_alike(inst):
            self.stale()  # not alike any more: the filter is built again without it
            return None
        at = last_ns * 1e-9
        return inst.receive_same(at if at < now else now, count - before)

    def close(self) -> None:
        self.map.close()
