"""Raw VRRP sockets for one (interface, family). No protocol decisions here.

Rules (RFC 5798 §5.1, keepalived's socket set-up):
- Receive: one raw IPPROTO_VRRP socket bound to the device (SO_BINDTODEVICE),
  joined to 224.0.0.18 / ff02::12 on that interface. IPv4 raw sockets return
  the IP header (TTL, addresses are read from it); IPv6 sockets give the hop
  limit and destination through IPV6_HOPLIMIT / IPV6_PKTINFO ancillary data.
  The kernel does not verify the VRRP checksum: the codec does, so bad
  checksums are counted.
- Send: a second raw socket, bound to the source address (it fixes the
  source, which the v3 checksum's pseudo-header covers), TTL / hop limit 255,
  TOS 0xC0 (IPv4), multicast loop off, multicast out of the interface.
  IPv4: Don't Fragment set by the socket (IP_PMTUDISC_PROBE: DF, the device's
  MTU), so the kernel writes IP ID 0. Under the default (DF set, but the
  kernel free to fragment) it draws each datagram's ID from its random ID
  generator, which in a backup's first advert as master took 80-95 us
  (buffer to neighbour entry, against 6-10 us) in 3 of 5 traced takeovers
  (issue 14; docs/agent.md "The advert's IP header"). An advert larger than the
  device's MTU fails with EMSGSIZE, as keepalived's IP_HDRINCL send does.
- Per instance settings on the shared pair: `join(group)` adds a multicast
  group (mcast_dst_ip) to the receive socket; `set_ttl(dst, ttl)` sends to a
  unicast peer with that TTL / hop limit (unicast_ttl), as an IP_TTL /
  IPV6_HOPLIMIT control message on each send; `set_rcvbuf(n)` raises the
  receive buffer (kernel_rx_buf_size; the largest asked for wins).
- The send socket is bound to the first instance's source; an instance with
  another source (its own unicast_src_ip / mcast_src_ip) passes it to
  `send()`, which sets it per packet (IP_PKTINFO / IPV6_PKTINFO).
- auth_type AH (IPv4): `open_ah()` adds a raw IPPROTO_AH receive socket (same
  device and groups), and `send()` hands a packet that starts with an IPv4
  header (never a VRRP message: those start with 0x21 or 0x31) to a third,
  IP_HDRINCL socket, as the datagram is built whole (ah.py).
- The doorbells (quiet.py, doorbell.py): `open_doorbells(n)` adds IPv4
  receive sockets, same device and groups, whose classic BPF filters
  (`ring_filters`) keep only the datagrams that are not a steady advert, and
  turns on receive timestamps on the receive socket, which still queues
  everything: `rx_next()` returns its next datagram (no address, no
  ancillary data: Python's recvmsg costs a formatted source address and a
  list per datagram), `rx_stamp()` the wall-clock time (s) the kernel received
  that datagram (SIOCGSTAMPNS: the socket's last receive time, which is
  only written while SO_TIMESTAMPNS is off);
  `doorbell_newest()` empties the doorbells and returns the newest of their
  times.
- Both non-blocking; the driver reads them from the event loop.
"""

from __future__ import annotations

import array
import fcntl
import functools
import os
import socket
import struct
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from vrrp_agent import stamps
from vrrp_agent.adapters import bpf
from vrrp_agent.constants import IPPROTO_VRRP, TOS_VRRP, TTL_VRRP

IPPROTO_AH = 51

SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
IP_MULTICAST_ALL = 49
IPV6_MULTICAST_ALL = 29
IP_PKTINFO = 8  # linux/in.h (not in Python's socket module)
IP_MTU_DISCOVER = 10  # linux/in.h
IP_PMTUDISC_PROBE = 3  # DF set, the device's MTU, no path MTU (linux/in.h)
_CMSG_SPACE = socket.CMSG_SPACE(20) + socket.CMSG_SPACE(4)
# struct in6_pktinfo { struct in6_addr ipi6_addr; int ipi6_ifindex; }
_IN6_PKTINFO = struct.Struct("16si")
# struct in_pktinfo { int ipi_ifindex; struct in_addr ipi_spec_dst; struct in_addr ipi_addr; }
_IN_PKTINFO = struct.Struct("i4s4s")
# struct ip_mreqn { struct in_addr imr_multiaddr; struct in_addr imr_address; int imr_ifindex; }
_IP_MREQN = struct.Struct("4s4si")
# struct ipv6_mreq { struct in6_addr ipv6mr_multiaddr; unsigned int ipv6mr_interface; }
_IPV6_MREQ = struct.Struct("16sI")
_INT = struct.Struct("i")
RCVBUF_DEFAULT = 1 << 20
SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # SCM_TIMESTAMPNS: the same number
# struct timespec { long tv_sec; long tv_nsec; }  (SO_TIMESTAMPNS's control message, SIOCGSTAMPNS)
TIMESPEC = struct.Struct("@ll")
_STAMP_SPACE = socket.CMSG_SPACE(TIMESPEC.size)
# struct sock_fprog { unsigned short len; struct sock_filter *filter; }
_FPROG = struct.Struct("@HP")
DOORBELL_RCVBUF = 1 << 16
SIOCGSTAMPNS = 0x8907  # asm-generic/sockios.h: struct timespec of the last datagram read


class VrrpSockets:
    """The receive and send sockets of one interface and address family."""

    def __init__(self, ifname: str, ifindex: int, family: int, group: str, src: Optional[str]):
        self.ifname = ifname
        self.ifindex = ifindex
        self.family = family
        self.group = group
        self.af = socket.AF_INET if family == 4 else socket.AF_INET6
        self.group_packed = socket.inet_pton(self.af, group)
        self.groups = {self.group_packed}
        self.rx = self._open_rx()
        self.rx_next = functools.partial(self.rx.recv, 4096)
        """The next datagram (IPv4: IP header included); BlockingIOError when none."""
        self._rx_fd = self.rx.fileno()
        self._stamp_buf = bytearray(TIMESPEC.size)
        self.rcvbuf = RCVBUF_DEFAULT
        self._ttl_cmsg: Dict[str, List[Tuple[int, int, bytes]]] = {}
        self.tx: Optional[socket.socket] = None
        self.ah_rx: Optional[socket.socket] = None
        self.doorbells: List[socket.socket] = []
        self._hdrincl: Optional[socket.socket] = None
        self.src: Optional[str] = None
        self.src_packed = b""
        if src is not None:
            self.set_source(src)

    # ------------------------------------------------------------------ rx
    def _open_rx(self, rcvbuf: int = RCVBUF_DEFAULT) -> socket.socket:
        sock = socket.socket(self.af, socket.SOCK_RAW, IPPROTO_VRRP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.ifname.encode())
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if self.family == 4:
                sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
            self._join(sock, self.group_packed)
            if self.family == 6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def _join(self, sock: socket.socket, group_packed: bytes) -> None:
        if self.family == 4:
            mreq = _IP_MREQN.pack(group_packed, b"\0" * 4, self.ifindex)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        else:
            mreq6 = _IPV6_MREQ.pack(group_packed, self.ifindex)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq6)

    def join(self, group: str) -> None:
        """Also receive adverts sent to `group` (an instance's mcast_dst_ip)."""
        packed = socket.inet_pton(self.af, group)
        if packed not in self.groups:
            for sock in (self.rx, self.ah_rx, *self.doorbells):
                if sock is not None:
                    self._join(sock, packed)
            self.groups.add(packed)

    def open_ah(self) -> socket.socket:
        """The IPPROTO_AH receive socket (auth_type AH), joined to the same groups."""
        if self.ah_rx is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_AH)
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.ifname.encode())
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
                sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
                for group in self.groups:
                    self._join(sock, group)
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
            self.ah_rx = sock
        return self.ah_rx

    def open_doorbells(self, count: int, silence: bytes) -> List[socket.socket]:
        """At least COUNT doorbell sockets (IPv4), each filtered with SILENCE from the
        start; receive timestamps on the receive socket from the first one on."""
        while len(self.doorbells) < count:
            sock = self._open_rx(DOORBELL_RCVBUF)
            try:
                attach_filter(sock, silence)
                for group in self.groups - {self.group_packed}:
                    self._join(sock, group)
                sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                if not self.doorbells:  # receipt times on the receive socket, once
                    _stamp_reads(self.rx)
            except OSError:
                sock.close()
                raise
            self.doorbells.append(sock)
            self.doorbell_newest()  # what came before the filter
        return self.doorbells

    def open_stamps(self) -> bpf.StampMap:
        """A stamp map for this receive socket (stamped.py); OSError where eBPF is refused.
        Receive times on the receive socket from then on (what is queued is read with them)."""
        stamp_map = bpf.StampMap()
        try:
            _stamp_reads(self.rx)
        except OSError:
            stamp_map.close()
            raise
        return stamp_map

    def open_watch(self) -> bpf.Watch:
        """The kernel watch for this socket's stamps (stamped.py); OSError where the
        kernel has no bpf_timer or refuses it."""
        return bpf.Watch()

    def stamp_filter(self, insns: Optional[bytes], loaded: Optional[Callable[[], None]] = None,
                     watch: Optional[bpf.Watch] = None) -> None:
        """The receive socket's eBPF program from now on (stamps.py), LOADED called
        between its load and its attachment, its timers WATCH's; None: no filter."""
        if insns is None:
            bpf.detach(self.rx)
        else:
            bpf.attach_program(self.rx, insns, loaded, watch,
                               0 if watch is None else stamps.callback_at(insns))

    def ring_filters(self, programs: List[bytes]) -> None:
        """Doorbell i takes programs[i] (doorbell.py), each in one step."""
        for sock, insns in zip(self.doorbells, programs):
            attach_filter(sock, insns)

    def doorbell_newest(self) -> float:
        """Empty the doorbells; the newest kernel receive time in them (wall clock, s), or 0."""
        newest = 0.0
        for sock in self.doorbells:
            while True:
                try:
                    _data, ancdata, _flags, _addr = sock.recvmsg(1, _STAMP_SPACE)
                except BlockingIOError:
                    break
                newest = max(newest, _stamp(ancdata))
        return newest

    def rx_stamp(self) -> float:
        """The wall-clock receive time (s) of the datagram rx_next() returned last."""
        buf = self._stamp_buf  # writable: fcntl parses it at once (bytes: after a failed try)
        fcntl.ioctl(self._rx_fd, SIOCGSTAMPNS, buf, True)
        sec, nsec = TIMESPEC.unpack(buf)
        return sec + nsec * 1e-9

    def receive_ah(self) -> bytes:
        """One IPv4 + AH datagram; BlockingIOError when the queue is empty."""
        assert self.ah_rx is not None
        return self.ah_rx.recv(4096)

    def _hdrincl_socket(self) -> socket.socket:
        if self._hdrincl is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.ifname.encode())
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
                mreq = _IP_MREQN.pack(self.group_packed, b"\0" * 4, self.ifindex)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreq)
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
            self._hdrincl = sock
        return self._hdrincl

    def set_rcvbuf(self, size: int) -> None:
        """kernel_rx_buf_size: the receive buffer is the largest one asked for."""
        if size > self.rcvbuf:
            for sock in (self.rx, self.ah_rx):
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            self.rcvbuf = size

    def set_ttl(self, dst: str, ttl: Optional[int]) -> None:
        """Adverts to unicast `dst` leave with this TTL / hop limit (None: 255)."""
        if ttl is None or ttl == TTL_VRRP:
            self._ttl_cmsg.pop(dst, None)
        elif self.family == 4:
            self._ttl_cmsg[dst] = [(socket.IPPROTO_IP, socket.IP_TTL, _INT.pack(ttl))]
        else:
            self._ttl_cmsg[dst] = [(socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT, _INT.pack(ttl))]

    def receive(self) -> Tuple[bytes, bytes, bytes, int]:
        """One datagram as (data, src, dst, ttl); IPv4 data still holds the IP header.

        Raises BlockingIOError when the queue is empty.
        """
        if self.family == 4:
            return self.rx.recv(4096), b"", b"", -1
        data, ancdata, _flags, addr = self.rx.recvmsg(4096, _CMSG_SPACE)
        dst = b""
        hops = -1
        for level, ctype, cdata in ancdata:
            if level != socket.IPPROTO_IPV6:
                continue
            if ctype == socket.IPV6_PKTINFO and len(cdata) >= _IN6_PKTINFO.size:
                dst = cdata[:16]
            elif ctype == socket.IPV6_HOPLIMIT and len(cdata) >= 4:
                hops = _INT.unpack_from(cdata)[0]
        src = socket.inet_pton(socket.AF_INET6, addr[0].split("%")[0])
        return data, src, dst, hops

    # ------------------------------------------------------------------ tx
    def set_source(self, src: str) -> None:
        """(Re)open the send socket bound to `src` (the interface primary / link-local)."""
        if self.tx is not None and src == self.src:
            return
        self.close_tx()
        sock = socket.socket(self.af, socket.SOCK_RAW, IPPROTO_VRRP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.ifname.encode())
            if self.family == 4:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, TOS_VRRP)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, TTL_VRRP)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, TTL_VRRP)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
                sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE)  # IP ID 0 (rules)
                mreq = _IP_MREQN.pack(self.group_packed, b"\0" * 4, self.ifindex)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreq)
                sock.bind((src, 0))
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, TOS_VRRP)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, TTL_VRRP)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, TTL_VRRP)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
                sock.bind((src, 0, 0, self.ifindex))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.tx = sock
        self.src = src
        self.src_packed = socket.inet_pton(self.af, src)

    def send(self, packet: bytes, dst: str, src: bytes = b"") -> None:
        """Send one advert; an error is the caller's to count (link down, no route).

        `src` (packed): the instance's source when it is not the one the send
        socket is bound to (two instances on one interface with their own
        unicast_src_ip / mcast_src_ip), as an IP_PKTINFO / IPV6_PKTINFO control
        message: the checksum was computed over it.
        """
        if self.tx is None:
            raise OSError("no source address on %s yet" % self.ifname)
        if packet[0] == 0x45 and self.family == 4:  # a whole IPv4 datagram (AH)
            self._hdrincl_socket().sendto(packet, (dst, 0))
            return
        address = (dst, 0) if self.family == 4 else (dst, 0, 0, self.ifindex)
        cmsg = self._ttl_cmsg.get(dst)
        if src and src != self.src_packed:
            cmsg = (cmsg or []) + [self._pktinfo(src)]
        if cmsg is None:
            self.tx.sendto(packet, address)
        else:
            self.tx.sendmsg([packet], cmsg, 0, address)

    def _pktinfo(self, src: bytes) -> Tuple[int, int, bytes]:
        if self.family == 4:
            return socket.IPPROTO_IP, IP_PKTINFO, _IN_PKTINFO.pack(self.ifindex, src, b"\0" * 4)
        return socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, _IN6_PKTINFO.pack(src, self.ifindex)

    def close_tx(self) -> None:
        if self.tx is not None:
            self.tx.close()
            self.tx = None

    def close(self) -> None:
        self.close_tx()
        self.rx.close()
        for sock in (self.ah_rx, self._hdrincl, *self.doorbells):
            if sock is not None:
                sock.close()


def attach_filter(sock: socket.socket, insns: bytes) -> None:
    """SO_ATTACH_FILTER with classic BPF INSNS (8-byte struct sock_filter each)."""
    buf = array.array("B", insns)  # the kernel copies the program during the call
    address, _count = buf.buffer_info()
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, _FPROG.pack(len(insns) // 8, address))


def _stamp_reads(sock: socket.socket) -> None:
    """Every datagram read from SOCK records its receive time for SIOCGSTAMPNS (the
    first call turns it on; the kernel then stamps every datagram it receives)."""
    try:
        fcntl.ioctl(sock.fileno(), SIOCGSTAMPNS, bytes(TIMESPEC.size))
    except FileNotFoundError:
        pass  # ENOENT: nothing read yet, as expected


def _stamp(ancdata: List[Tuple[int, int, bytes]]) -> float:
    for level, ctype, cdata in ancdata:
        if level == socket.SOL_SOCKET and ctype == SO_TIMESTAMPNS and len(cdata) >= TIMESPEC.size:
            sec, nsec = TIMESPEC.unpack_from(cdata)
            return sec + nsec * 1e-9
    return 0.0


def _proc_raw_drops(family: int) -> Dict[int, int]:
    """inode -> drops of every raw socket of this network namespace (/proc/net/raw{,6})."""
    path = "/proc/net/raw" if family == 4 else "/proc/net/raw6"
    drops: Dict[int, int] = {}
    try:
        with open(path, encoding="ascii") as fh:
            next(fh, None)  # header: sl local rem st tx:rx tr:when retr uid timeout inode ref ptr drops
            for line in fh:
                cols = line.split()
                if len(cols) >= 13 and cols[9].isdigit() and cols[-1].isdigit():
                    drops[int(cols[9])] = int(cols[-1])
    except OSError:
        return {}
    return drops


def receive_drops(sockets: Iterable[VrrpSockets]) -> Dict[str, int]:
    """{"IFNAME/ipv4": n}: datagrams the kernel dropped on each receive socket (queue full).

    Read when asked (status, metrics), never on the receive path.
    """
    tables: Dict[int, Dict[int, int]] = {}
    out: Dict[str, int] = {}
    for io in sockets:
        rx = getattr(io, "rx", None)
        if not isinstance(rx, socket.socket):
            continue  # a test double
        try:
            inode = os.fstat(rx.fileno()).st_ino
        except (OSError, ValueError):
            continue
        if io.family not in tables:
            tables[io.family] = _proc_raw_drops(io.family)
        table = tables[io.family]
        out[f"{io.ifname}/ipv{io.family}"] = table.get(inode, 0)
    return out
