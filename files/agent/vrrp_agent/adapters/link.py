"""Interface facts and link events, stdlib only (no pyroute2 on this path).

- `link_is_up(ifname)`: IFF_UP and IFF_RUNNING (operational, carrier present)
  through the SIOCGIFFLAGS ioctl, which works in any network namespace.
- `hw_address(ifname)`: the MAC through SIOCGIFHWADDR.
- `LinkWatcher`: an rtnetlink socket subscribed to RTMGRP_LINK; `read()`
  returns (ifindex, up) for every RTM_NEWLINK / RTM_DELLINK it holds.
"""

from __future__ import annotations

import fcntl
import socket
import struct
from typing import List, Tuple

SIOCGIFFLAGS = 0x8913
SIOCGIFHWADDR = 0x8927
IFF_UP = 0x1
IFF_RUNNING = 0x40
RTMGRP_LINK = 0x1
RTM_NEWLINK = 16
RTM_DELLINK = 17
# struct ifreq { char ifr_name[16]; union { short ifr_flags; struct sockaddr ifr_hwaddr; ... } }
_IFREQ = struct.Struct("16s16s")
# struct nlmsghdr { u32 nlmsg_len; u16 nlmsg_type; u16 nlmsg_flags; u32 nlmsg_seq; u32 nlmsg_pid; }
NLMSGHDR = struct.Struct("=IHHII")
# struct ifinfomsg { u8 ifi_family; u8 pad; u16 ifi_type; i32 ifi_index; u32 ifi_flags; u32 ifi_change; }
_IFINFOMSG = struct.Struct("=BxHiII")


def _ifreq(ifname: str, request: int) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        return fcntl.ioctl(sock.fileno(), request, _IFREQ.pack(ifname.encode(), b""))


def link_is_up(ifname: str) -> bool:
    """True when the interface is administratively up and has carrier."""
    try:
        flags = struct.unpack_from("H", _ifreq(ifname, SIOCGIFFLAGS), 16)[0]
    except OSError:
        return False
    return bool(flags & IFF_UP) and bool(flags & IFF_RUNNING)


def hw_address(ifname: str) -> bytes:
    """The 6-byte hardware address of the interface."""
    return _ifreq(ifname, SIOCGIFHWADDR)[18:24]


class LinkWatcher:
    """rtnetlink link events, read from the event loop."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.bind((0, RTMGRP_LINK))
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> List[Tuple[int, bool]]:
        """Drain the socket: [(ifindex, up)] in arrival order."""
        events: List[Tuple[int, bool]] = []
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return events
            events.extend(parse_link_messages(data))

    def close(self) -> None:
        self.sock.close()


def parse_link_messages(data: bytes) -> List[Tuple[int, bool]]:
    """(ifindex, up) for each RTM_NEWLINK / RTM_DELLINK message in a netlink datagram."""
    events = []
    offset = 0
    while offset + NLMSGHDR.size <= len(data):
        length, msg_type, _flags, _seq, _pid = NLMSGHDR.unpack_from(data, offset)
        if length < NLMSGHDR.size:
            break
        body = offset + NLMSGHDR.size
        if msg_type in (RTM_NEWLINK, RTM_DELLINK) and body + _IFINFOMSG.size <= len(data):
            _fam, _type, index, flags, _change = _IFINFOMSG.unpack_from(data, body)
            up = msg_type == RTM_NEWLINK and bool(flags & IFF_UP) and bool(flags & IFF_RUNNING)
            events.append((index, up))
        offset += (length + 3) & ~3
    return events
