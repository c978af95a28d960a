"""The receive path: per-interface VRID tables, discard counters, socket readers.

A part of driver.Driver (on the event loop; the driver opens the sockets and
fills the tables at bind). Rules:
- One pair of raw sockets per (interface, family), shared by the instances on
  it; received adverts are dispatched by VRID (`by_vrid`). Anything
  undecodable is counted and dropped (`discards`: the driver's own, or the
  instance's whose VRID the packet names); nothing from the wire can raise
  out of the loop. Every pending datagram is read per wakeup.
- An advert with the bytes of the last one its instance accepted skips
  decoding and checks (fastpath.py).
- AH datagrams (auth_type AH) are split (ah.py) and decoded here; every
  check that needs the instance (ICV, anti-replay, then the usual ones) is
  Instance.receive's.
- Every accepted input re-arms its instance's timer (the driver's `arm`).
- `handle` takes the time the datagram was received: now for a socket read
  when it becomes readable; quiet.py reads later, with the kernel's receipt
  times.
"""

from __future__ import annotations

import logging
import socket
from typing import Any, Callable, Dict, Optional, Tuple

from vrrp_agent import ah, fastpath, packet
from vrrp_agent.errors import PacketError
from vrrp_agent.instance import Instance
from vrrp_agent.runtime import Runtime
from vrrp_agent.transitions import Transitions

__all__ = ["Receiver"]

log = logging.getLogger("vrrp_agent")


class Receiver:
    """The driver's readers: VRID tables per (interface, family) and the discards of no instance."""

    def __init__(self, rt: Runtime, transitions: Transitions, arm: Callable[[Instance], None]):
        self.rt = rt
        self.transitions = transitions
        self.arm = arm
        self.by_vrid: Dict[Tuple[str, int], Dict[int, Instance]] = {}
        self.discards: Dict[str, int] = dict.fromkeys(packet.DISCARD_REASONS, 0)
        self.discards["vrid"] = 0
        self.full_path: Callable[[Tuple[str, int]], None] = lambda key: None
        """Called after a datagram took the full path (quiet.py: the steady set may change)."""

    def on_readable(self, io: Any) -> None:
        table = self.by_vrid[(io.ifname, io.family)]
        handle = self.handle
        while True:
            try:
                data, src, dst, ttl = io.receive()
            except BlockingIOError:
                return
            except OSError as exc:
                log.warning("receive on %s failed: %s", io.ifname, exc)
                return
            handle(io, table, data, src, dst, ttl, self.rt.loop.time())

    def handle(self, io: Any, table: Dict[int, Instance], data: bytes, src: bytes, dst: bytes,
               ttl: int, now: float, arm: bool = True) -> Optional[Instance]:
        """One datagram received at NOW (loop time): the fast path, else the full one.

        The instance it went to, if any, its timer re-armed unless ARM is false
        (quiet.py reads a batch later and arms each instance once, after it).
        """
        inst = fastpath.match4(table, data) if io.family == 4 else \
            fastpath.match6(table, data, src, dst, ttl)
        if inst is not None and inst.ifindex is not None:
            actions = inst.receive_same(now)
            if actions:
                self.transitions.apply(inst, actions)
        else:
            inst = self.dispatch(io, table, data, src, dst, ttl, now)
            self.full_path((io.ifname, io.family))
        if arm and inst is not None:
            self.arm(inst)
        return inst

    def dispatch(self, io: Any, table: Dict[int, Instance], data: bytes,
                 src: bytes, dst: bytes, ttl: int, now: float) -> Optional[Instance]:
        """The full path: every guard of the codec and the instance, drops counted.

        The instance the advert went to (its timer to re-arm), or None.
        """
        wire = fastpath.wire_key(io.family, data)
        if io.family == 4:
            try:
                src, dst, ttl, data = packet.split_ipv4(data)
            except PacketError as exc:
                self.discards[exc.reason] += 1
                return None
        try:
            adv = packet.decode(data, io.family, src, dst)
        except PacketError as exc:
            # charge the instance whose VRID the packet names, if any
            owner = table.get(data[1]) if len(data) > 1 else None
            (owner.discards if owner else self.discards)[exc.reason] += 1
            return None
        inst = table.get(adv.vrid)
        if inst is None or inst.ifindex is None:
            self.discards["vrid"] += 1
            if inst is None and self.rt.config.globals.log_unknown_vrids:
                log.info("Unknown VRID(%d) received on interface(%s) from %s. ignoring...",
                         adv.vrid, io.ifname, socket.inet_ntop(socket.AF_INET6 if io.family == 6
                                                               else socket.AF_INET, src))
            return None
        if src == io.src_packed:
            return None  # our own advert looped back
        self.transitions.apply(inst, inst.receive(adv, src, ttl, now, wire, dst))
        return inst

    def on_readable_ah(self, io: Any) -> None:
        table = self.by_vrid[(io.ifname, io.family)]
        while True:
            try:
                data = io.receive_ah()
            except BlockingIOError:
                return
            except OSError as exc:
                log.warning("AH receive on %s failed: %s", io.ifname, exc)
                return
            try:
                src, dst, ttl, message, ip_header, ah_header = ah.split(data)
                adv = packet.decode(message, 4, src, dst)
            except PacketError as exc:
                self.discards[exc.reason] += 1
                continue
            inst = table.get(adv.vrid)
            if inst is None or inst.ifindex is None:
                self.discards["vrid"] += 1
                continue
            if src == io.src_packed:
                continue  # our own advert looped back
            now = self.rt.loop.time()
            self.transitions.apply(inst, inst.receive(
                adv, src, ttl, now, dst=dst, ah_parts=(ip_header, ah_header, message)))
            self.arm(inst)
