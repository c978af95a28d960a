"""RTM_NEWADDR built by hand and sent on a plain AF_NETLINK socket (no pyroute2).

Rules:
- Two users: the takeover's VIP add from the event-loop thread (vips.py: one
  sendmsg and its ACK instead of a hop to the netlink worker and pyroute2's
  encoding and parsing), and pyroute2 0.7.2's address lifetimes, which its
  `addr()` drops (netlink.py).
- The message carries what netlink.Netlink.add_vip decides (flags, scope,
  label, broadcast, lifetimes): `AddrFields` is that decision, made once in
  netlink.py, so both paths add the same address.
- The socket is bound to no multicast group: it receives only the answers to
  its own requests. rtnetlink handles a request inside sendmsg, so the ACK is
  queued when `send` returns; a timeout still bounds the wait.
- One request at a time, from one thread per `AddrSocket`.
"""

from __future__ import annotations

import errno
import socket
import struct
from typing import NamedTuple, Optional

from vrrp_agent.adapters.link import NLMSGHDR  # struct nlmsghdr: len, type, flags, seq, pid

RTM_NEWADDR = 20
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_REPLACE = 0x100
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3
IFA_BROADCAST = 4
IFA_CACHEINFO = 6
IFA_FLAGS = 8
LFT_FOREVER = 0xFFFFFFFF
ACK_TIMEOUT_S = 1.0
# struct ifaddrmsg: family(u8) prefixlen(u8) flags(u8) scope(u8) index(u32)
_IFADDRMSG = struct.Struct("=BBBBI")
# struct rtattr: len(u16) type(u16), then the payload padded to 4 bytes
_RTATTR = struct.Struct("=HH")
# struct ifa_cacheinfo: ifa_prefered(u32) ifa_valid(u32) cstamp(u32) tstamp(u32)
_CACHEINFO = struct.Struct("=IIII")
# NLMSG_ERROR payload: error(s32), then the request's nlmsghdr
_NLMSGERR = struct.Struct("=i")


class AddrFields(NamedTuple):
    """One address as the kernel gets it (netlink.addr_fields decides it from a VipSpec)."""

    family: int
    """4 or 6."""
    address: str
    prefixlen: int
    flags: int = 0
    """IFA_F_* (all 32 bits: IFA_FLAGS; the low 8 also in ifa_flags)."""
    scope: int = 0
    label: Optional[str] = None
    broadcast: Optional[str] = None
    preferred: Optional[int] = None
    """Seconds; None: forever (no IFA_CACHEINFO unless `valid` is set)."""
    valid: Optional[int] = None


def _attr(kind: int, payload: bytes) -> bytes:
    length = _RTATTR.size + len(payload)
    return _RTATTR.pack(length, kind) + payload + b"\0" * (-length % 4)


def newaddr_body(ifindex: int, fields: AddrFields) -> bytes:
    """ifaddrmsg and attributes of an RTM_NEWADDR (everything after the nlmsghdr)."""
    af = socket.AF_INET if fields.family == 4 else socket.AF_INET6
    packed = socket.inet_pton(af, fields.address)
    body = _IFADDRMSG.pack(af, fields.prefixlen, fields.flags & 0xFF, fields.scope, ifindex)
    body += _attr(IFA_ADDRESS, packed)
    if fields.family == 4:
        body += _attr(IFA_LOCAL, packed)
        if fields.label:
            body += _attr(IFA_LABEL, fields.label.encode() + b"\0")
        if fields.broadcast:
            body += _attr(IFA_BROADCAST, socket.inet_pton(af, fields.broadcast))
    body += _attr(IFA_FLAGS, struct.pack("=I", fields.flags))
    if fields.preferred is not None or fields.valid is not None:
        valid = LFT_FOREVER if fields.valid is None else fields.valid
        preferred = valid if fields.preferred is None else fields.preferred
        body += _attr(IFA_CACHEINFO, _CACHEINFO.pack(preferred, valid, 0, 0))
    return body


class AddrSocket:
    """A plain rtnetlink socket that sends RTM_NEWADDR requests and waits for the ACK."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self._sock.bind((0, 0))
        self._sock.settimeout(ACK_TIMEOUT_S)
        self._seq = 0

    def newaddr(self, body: bytes, replace: bool = False) -> int:
        """Send one RTM_NEWADDR (`newaddr_body`); 0 or the kernel's errno.

        Without `replace` an existing address answers EEXIST (the caller's "already
        there"); with it the address is updated in place (a lease renewed)."""
        self._seq = self._seq % 0x7FFFFFFF + 1
        flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (NLM_F_REPLACE if replace else NLM_F_EXCL)
        self._sock.send(NLMSGHDR.pack(NLMSGHDR.size + len(body), RTM_NEWADDR, flags, self._seq, 0) + body)
        while True:  # an ACK left over from a request that timed out is skipped
            reply = self._sock.recv(65536)
            offset = 0
            while offset + NLMSGHDR.size <= len(reply):
                length, kind, _flags, seq, _pid = NLMSGHDR.unpack_from(reply, offset)
                if kind == NLMSG_ERROR and seq == self._seq:
                    return -int(_NLMSGERR.unpack_from(reply, offset + NLMSGHDR.size)[0])
                offset += max(length + (-length % 4), NLMSGHDR.size)

    def close(self) -> None:
        self._sock.close()


def describe(code: int) -> str:
    """`17 EEXIST`: how netlink.py words a kernel error."""
    return f"{code} {errno.errorcode.get(code, '')}"
