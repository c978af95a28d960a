"""Gratuitous ARP and unsolicited Neighbor Advertisement, over AF_PACKET.

Rules:
- IPv4 (RFC 5798 §6.4.2, keepalived): a broadcast ARP *request* whose sender and
  target protocol addresses are both the VIP, sender hardware = interface MAC.
- IPv6 (RFC 4861 §7.2.6): an unsolicited NA to ff02::1 from the VIP, hop limit
  255, Override flag set, Solicited clear, with a Target Link-Layer Address
  option. Router flag clear: the agent serves hosts, not routed next hops.
- Frames are built once per (interface, VIP) and cached; a burst is N sends.
  `sender` builds the frame and opens the socket ahead, and hands out a
  burst of one VIP that only sends (a backup's takeover plan: takeover.py).
"""

from __future__ import annotations

import socket
import struct
from typing import Callable, Dict, Tuple

from vrrp_agent.packet import checksum

ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
BROADCAST_MAC = b"\xff" * 6
ALL_NODES_MAC = b"\x33\x33\x00\x00\x00\x01"
ALL_NODES = socket.inet_pton(socket.AF_INET6, "ff02::1")
# Ethernet: dst(6) src(6) ethertype(2)
_ETH = struct.Struct("!6s6sH")
# ARP (RFC 826): htype(2) ptype(2) hlen(1) plen(1) oper(2) sha(6) spa(4) tha(6) tpa(4)
_ARP = struct.Struct("!HHBBH6s4s6s4s")
# IPv6 header: ver/tc/flow(4) payload_len(2) next_header(1) hop_limit(1) src(16) dst(16)
_IPV6 = struct.Struct("!IHBB16s16s")
# ICMPv6 NA: type(1) code(1) cksum(2) flags(4) target(16) + option TLLA: type(1) len(1) mac(6)
_NA = struct.Struct("!BBHI16sBB6s")
NA_FLAG_OVERRIDE = 0x20000000


def garp_frame(mac: bytes, vip: bytes) -> bytes:
    """A gratuitous ARP request for the 4-byte `vip`, from `mac`."""
    arp = _ARP.pack(1, 0x0800, 6, 4, 1, mac, vip, BROADCAST_MAC, vip)
    return _ETH.pack(BROADCAST_MAC, mac, ETH_P_ARP) + arp


def unsolicited_na_frame(mac: bytes, vip6: bytes) -> bytes:
    """An unsolicited Neighbor Advertisement for the 16-byte `vip6`, from `mac`."""
    length = _NA.size
    pseudo = vip6 + ALL_NODES + struct.pack("!I3xB", length, 58)
    body = _NA.pack(136, 0, 0, NA_FLAG_OVERRIDE, vip6, 2, 1, mac)
    body = body[:2] + struct.pack("!H", checksum(pseudo + body)) + body[4:]
    ip6 = _IPV6.pack(6 << 28, length, 58, 255, vip6, ALL_NODES)
    return _ETH.pack(ALL_NODES_MAC, mac, ETH_P_IPV6) + ip6 + body


class Announcer:
    """One AF_PACKET socket per interface; cached frames per VIP."""

    def __init__(self) -> None:
        self._socks: Dict[str, socket.socket] = {}
        self._frames: Dict[Tuple[str, bytes, str], bytes] = {}

    def send(self, ifname: str, mac: bytes, vip: str, family: int, repeat: int) -> None:
        self.sender(ifname, mac, vip, family)(repeat)

    def sender(self, ifname: str, mac: bytes, vip: str, family: int) -> Callable[[int], None]:
        """`send` for one VIP with its frame built and its socket open (takeover.py's
        plan): the call only sends. A socket `forget` closes fails it (OSError)."""
        frame, send = self._frame(ifname, mac, vip, family), self._sock(ifname).send

        def burst(repeat: int) -> None:
            for _attempt in range(repeat):
                send(frame)
        return burst

    def _frame(self, ifname: str, mac: bytes, vip: str, family: int) -> bytes:
        key = (ifname, mac, vip)
        frame = self._frames.get(key)
        if frame is None:
            if family == 4:
                frame = garp_frame(mac, socket.inet_pton(socket.AF_INET, vip))
            else:
                frame = unsolicited_na_frame(mac, socket.inet_pton(socket.AF_INET6, vip))
            self._frames[key] = frame
        return frame

    def _sock(self, ifname: str) -> socket.socket:
        sock = self._socks.get(ifname)
        if sock is None:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            sock.bind((ifname, 0))
            self._socks[ifname] = sock
        return sock

    def forget(self, ifname: str) -> None:
        """Drop the socket and frames of an interface (it went away or changed MAC)."""
        sock = self._socks.pop(ifname, None)
        if sock is not None:
            sock.close()
        for key in [k for k in self._frames if k[0] == ifname]:
            del self._frames[key]

    def close(self) -> None:
        for ifname in list(self._socks):
            self.forget(ifname)
