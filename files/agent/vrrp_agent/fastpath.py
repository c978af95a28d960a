"""The receive path's fast path: an advert with the bytes of the last accepted one.

A backup hears the same bytes from the same master every interval (issue 14).
Rules:
- "The same" covers every byte a check reads: for IPv4 the IP version and
  header length (20 bytes, no options), total length, TTL, protocol, source,
  destination and the whole VRRP message; for IPv6 the VRRP message and the
  source, destination and hop limit the kernel reported. The IPv4 ID, TOS,
  flags and header checksum are read by no check (the kernel verified the
  header checksum) and may change: keepalived numbers its IP IDs.
- Such an advert would pass every guard of packet.py and instance.py again
  with the same result, so it goes straight to the router as the
  Advertisement decoded then (Instance.receive_same). Anything else, by one
  byte, takes the full path: split_ipv4, decode, check_for_instance, every
  drop counted by reason. The guard functions stay the one place checks live.
- So every check must be a function of those bytes and the instance config
  (TTL bounds, unicast source and peers included). A check that also reads
  run-time state or the clock must not be skipped: run it before the fast
  path, or clear `Instance.accepted` when that state changes.
- One entry per instance: the last advert it accepted, whatever its source.
  Instance.receive sets it when every check passed; a reconfigure drops it.
- A hit costs a comparison of bytes (one slice for IPv4): no decode, no
  Advertisement, no check.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

from vrrp_agent.constants import IPPROTO_VRRP
from vrrp_agent.packet import Advertisement

V4_FIXED = 0x45  # version 4, IHL 5 (20 bytes): the only header the fast path knows
V4_WIRE_AT = 12  # source, destination, then the VRRP message
V4_VRID_AT = 21  # the VRID byte of the VRRP header after a 20-byte IP header


class Accepted(NamedTuple):
    """The last advert an instance accepted, as its bytes and as decoded then."""

    wire: bytes             # IPv4: datagram[12:total]; IPv6: the VRRP message
    ttl: int
    src: bytes
    dst: bytes
    adv: Advertisement
    address_mismatch: bool  # its VIP list differs from ours (skip_check_adv_addr: per advert)


def wire_key(family: int, datagram: bytes) -> bytes:
    """The bytes an Accepted entry keeps for DATAGRAM (b"": not cacheable)."""
    if family != 4:
        return datagram
    if len(datagram) < V4_WIRE_AT or datagram[0] != V4_FIXED \
            or (datagram[2] << 8 | datagram[3]) != len(datagram):
        return b""
    return datagram[V4_WIRE_AT:]


def match4(table: Any, datagram: bytes) -> Optional[Any]:
    """The instance whose last accepted IPv4 advert has DATAGRAM's bytes, or None."""
    if len(datagram) <= V4_VRID_AT or datagram[0] != V4_FIXED or datagram[9] != IPPROTO_VRRP \
            or (datagram[2] << 8 | datagram[3]) != len(datagram):
        return None
    inst = table.get(datagram[V4_VRID_AT])
    if inst is None:
        return None
    last = inst.accepted
    if last is None or datagram[8] != last.ttl or datagram[V4_WIRE_AT:] != last.wire:
        return None
    return inst


def match6(table: Any, payload: bytes, src: bytes, dst: bytes, ttl: int) -> Optional[Any]:
    """The instance whose last accepted IPv6 advert is PAYLOAD from SRC to DST with TTL."""
    if len(payload) < 2:
        return None
    inst = table.get(payload[1])
    if inst is None:
        return None
    last = inst.accepted
    if last is None or payload != last.wire or ttl != last.ttl or src != last.src \
            or dst != last.dst:
        return None
    return inst
