"""Fake OS edge for the real daemon: hosts on a fake LAN, on virtual time, without root.

- `VirtualLoop`: an asyncio loop whose clock is virtual. When nothing is
  ready, the selector jumps the clock to the next timer instead of sleeping,
  so a 3-second master-down interval takes no real time. `loop.real_time()`
  (a context manager) makes it wait in real time, for tests that run real
  processes or talk to the control socket from a thread.
- `FakeLan` / `FakeHost`: each host has interfaces, addresses and link state;
  `host.adapters()` is a runtime.Adapters whose sockets are socketpairs (real
  file descriptors for loop.add_reader) connected through the LAN: an advert
  sent by one host reaches the same interface segment of the others (unless
  the segment is cut), IPv4 with an IP header as a raw socket gives it.
- Netlink runs synchronously (no thread): VIPs land in `host.addresses`.
  Announcements and systemd notifications are recorded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import os
import selectors
import socket
import struct
import time
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import bpfvm
import ebpfvm
from vrrp_agent.adapters.netlink import _normalise
from vrrp_agent.constants import IPPROTO_VRRP
from vrrp_agent.errors import SystemFailure
from vrrp_agent.runtime import Adapters

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_V6_META = struct.Struct("!16s16sB")
_STAMP = struct.Struct("!d")  # the wall-clock receive time the fake kernel puts before each datagram
WALL_OFFSET = 1.7e9  # the fake wall clock: loop time + this (virtual time moves both)


def _monotonic_ns() -> int:
    """bpf_ktime_get_ns(): the loop's clock (virtual time) in ns."""
    try:
        return round(asyncio.get_running_loop().time() * 1e9)
    except RuntimeError:
        return time.monotonic_ns()


def fake_wall_clock() -> float:
    try:
        return asyncio.get_running_loop().time() + WALL_OFFSET
    except RuntimeError:
        return time.time()


# ------------------------------------------------------------------ virtual time
class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.real = 0


class _VirtualSelector(selectors.BaseSelector):
    def __init__(self, clock: _Clock):
        self._real = selectors.DefaultSelector()
        self._clock = clock

    def register(self, fileobj, events, data=None):  # type: ignore[no-untyped-def]
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj):  # type: ignore[no-untyped-def]
        return self._real.unregister(fileobj)

    def modify(self, fileobj, events, data=None):  # type: ignore[no-untyped-def]
        return self._real.modify(fileobj, events, data)

    def get_map(self):  # type: ignore[no-untyped-def]
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout=None):  # type: ignore[no-untyped-def]
        if self._clock.real or timeout is None:
            started = time.monotonic()
            ready = self._real.select(timeout)
            self._clock.now += time.monotonic() - started
            return ready
        ready = self._real.select(0)
        if not ready and timeout > 0:
            self._clock.now += timeout
        return ready


class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.clock = _Clock()
        super().__init__(_VirtualSelector(self.clock))

    def time(self) -> float:
        return self.clock.now

    @contextlib.contextmanager
    def real_time(self) -> Iterator[None]:
        self.clock.real += 1
        try:
            yield
        finally:
            self.clock.real -= 1


async def until(predicate: Any, timeout: float = 30.0, step: float = 0.01) -> float:
    """Wait (loop time) until predicate() is true; the loop time it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not predicate():
        if loop.time() - start > timeout:
            raise AssertionError(f"not true after {timeout} s (loop time)")
        await asyncio.sleep(step)
    return loop.time() - start


# ------------------------------------------------------------------ the LAN
class FakeLan:
    def __init__(self) -> None:
        self.hosts: List[FakeHost] = []
        self.cut: Set[str] = set()
        """Segments (interface names) that deliver nothing."""
        self.sent: List[Tuple[str, str, bytes]] = []

    def host(self, name: str, ip4: str, ip6: str = "", interfaces: Tuple[str, ...] = ("eth0",)) -> FakeHost:
        h = FakeHost(self, name, ip4, ip6, interfaces)
        self.hosts.append(h)
        return h

    def deliver(self, sender: FakeSockets, payload: bytes, dst: str, src: bytes = b"") -> None:
        """`src`: the packet's source (IP_PKTINFO), else the one the send socket is bound to."""
        self.sent.append((sender.host.name, dst, payload))
        if sender.ifname in self.cut:
            return
        for host in self.hosts:
            if host is sender.host:
                continue
            for sock in host.sockets:
                if sock.ifname == sender.ifname and sock.family == sender.family and not sock.closed:
                    sock.inject(payload, src or sender.src_packed, socket.inet_pton(sock.af, dst),
                                sender.ttl.get(dst, 255))


class FakeSockets:
    """runtime.Adapters.sockets: the VrrpSockets interface over a socketpair."""

    def __init__(self, host: FakeHost, ifname: str, ifindex: int, family: int, group: str, src: str):
        self.host = host
        self.ifname = ifname
        self.ifindex = ifindex
        self.family = family
        self.group = group
        self.af = socket.AF_INET if family == 4 else socket.AF_INET6
        self.rx, self._wire = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.rx.setblocking(False)
        self.src = src
        self.src_packed = socket.inet_pton(self.af, src)
        self.closed = False
        self.ttl: Dict[str, int] = {}
        """Unicast TTL per destination (set_ttl), as the real send would put it on the wire."""
        self.groups = {group}
        self.rcvbuf = 0
        self.doorbells: List[socket.socket] = []
        self._bell_wires: List[socket.socket] = []
        self.bell_filters: List[bytes] = []
        """Each doorbell's classic BPF program, run by bpfvm as the kernel would."""
        self.filters_attached = 0
        self.filter_limit = 1 << 30
        """Longer filters (bytes) fail with filter_errno (ENOMEM: over net.core.optmem_max)."""
        self.filter_errno = errno.ENOMEM
        self._last_stamp = 0.0
        self.stamp_map: Optional[ebpfvm.FakeStampMap] = None
        self.stamp_insns: Optional[bytes] = None
        self.arrive_while_loading: List[bytes] = []
        self.watch: Optional[ebpfvm.FakeWatch] = None
        """Datagrams that arrive between a stamp filter's load and its attachment."""
        """The receive socket's eBPF stamp filter, run by ebpfvm as the kernel would."""
        host.sockets.append(self)

    def set_ttl(self, dst: str, ttl: Optional[int]) -> None:
        if ttl is None:
            self.ttl.pop(dst, None)
        else:
            self.ttl[dst] = ttl

    def join(self, group: str) -> None:
        self.groups.add(group)

    def set_rcvbuf(self, size: int) -> None:
        self.rcvbuf = max(self.rcvbuf, size)

    def inject(self, payload: bytes, src: bytes, dst: bytes, ttl: int) -> None:
        """A datagram arrives (as the kernel would hand it to a raw socket)."""
        if self.family == 4:
            header = _IPV4.pack(0x45, 0xC0, 20 + len(payload), 0, 0, ttl, IPPROTO_VRRP, 0, src, dst)
            self.arrive(header + payload)
        else:
            self.arrive(_V6_META.pack(src, dst, ttl) + payload)

    def arrive(self, datagram: bytes) -> None:
        """DATAGRAM (IPv4: with its header) is queued with its receive time; the
        doorbell gets a copy when its filter keeps it."""
        stamp = _STAMP.pack(fake_wall_clock())
        if self.stamp_insns is not None and self.stamp_map is not None and not ebpfvm.run(
                self.stamp_insns, datagram, self._bpf_maps(), _monotonic_ns()):
            return  # counted and dropped by the stamp filter
        if self.family == 4:
            for wire, insns in zip(self._bell_wires, self.bell_filters):
                if bpfvm.run(insns, datagram):
                    wire.send(stamp)
        self._wire.send(stamp + datagram)

    def receive(self) -> Tuple[bytes, bytes, bytes, int]:
        data = self.rx.recv(65536)[_STAMP.size:]  # BlockingIOError when empty, as a raw socket
        if self.family == 4:
            return data, b"", b"", -1
        src, dst, ttl = _V6_META.unpack_from(data)
        return data[_V6_META.size:], src, dst, ttl

    # the doorbells (adapters/sockets.py): IPv4 only, as the real ones
    def open_doorbells(self, count: int, silence: bytes) -> List[socket.socket]:
        assert self.family == 4
        while len(self.doorbells) < count:
            bell, wire = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            bell.setblocking(False)
            self.doorbells.append(bell)
            self._bell_wires.append(wire)
            self.bell_filters.append(silence)
        return self.doorbells

    def ring_filters(self, programs: List[bytes]) -> None:
        for i, insns in enumerate(programs[:len(self.doorbells)]):
            assert insns and len(insns) % 8 == 0
            if len(insns) > self.filter_limit:
                raise OSError(self.filter_errno, os.strerror(self.filter_errno))
            self.bell_filters[i] = insns
            self.filters_attached += 1

    # the stamp map and filter (adapters/sockets.py, stamped.py)
    def open_stamps(self) -> ebpfvm.FakeStampMap:
        if not self.host.ebpf:
            raise OSError(errno.EPERM, "Operation not permitted")
        self.stamp_map = ebpfvm.FakeStampMap()
        return self.stamp_map

    def open_watch(self) -> ebpfvm.FakeWatch:
        if not self.host.ebpf_watch:
            raise OSError(errno.EINVAL, "Invalid argument: no bpf_timer")
        self.watch = ebpfvm.FakeWatch()
        return self.watch

    def stamp_filter(self, insns: Optional[bytes], loaded: Optional[Any] = None,
                     watch: Optional[ebpfvm.FakeWatch] = None) -> None:
        assert watch is None or watch is self.watch
        if insns is not None and watch is not None and self.host.watch_refuses:
            raise OSError(errno.EINVAL, "Invalid argument: the verifier says no to the timers")
        if insns is not None and self.host.ebpf_refuses:
            raise OSError(errno.EACCES, "Permission denied: the verifier says no")
        if insns is not None and loaded is not None:
            loaded()
            for datagram in self.arrive_while_loading:  # the old filter still runs meanwhile
                self.arrive(datagram)
            self.arrive_while_loading = []
        self.stamp_insns = insns

    def doorbell_newest(self) -> float:
        newest = 0.0
        for bell in self.doorbells:
            while True:
                try:
                    newest = max(newest, _STAMP.unpack(bell.recv(64))[0])
                except BlockingIOError:
                    break
        return newest

    def rx_next(self) -> bytes:
        """The next datagram; its receive time for rx_stamp (SIOCGSTAMPNS)."""
        data = self.rx.recv(65536)
        self._last_stamp = _STAMP.unpack_from(data)[0]
        return data[_STAMP.size:]

    def rx_stamp(self) -> float:
        return self._last_stamp

    def _bpf_maps(self) -> Dict[int, Any]:
        maps: Dict[int, Any] = {self.stamp_map.fd: self.stamp_map} if self.stamp_map else {}
        if self.watch is not None:
            maps[self.watch.timers_fd] = maps[self.watch.ring_fd] = self.watch
        return maps

    def send(self, packet: bytes, dst: str, src: bytes = b"") -> None:
        if self.host.send_fails:
            raise OSError("fake send failure")
        self.host.journal.append(("advert", str(packet[2])))  # byte 2: the priority
        if src and src != self.src_packed:  # IP_PKTINFO: another source than the bound one
            self.host.lan.deliver(self, packet, dst, src)
        else:
            self.host.lan.deliver(self, packet, dst)

    def close(self) -> None:
        self.closed = True
        self.rx.close()
        self._wire.close()
        for sock in self.doorbells + self._bell_wires:
            sock.close()


class FakeNetlink:
    """runtime.Adapters.netlink: synchronous, addresses kept on the host."""

    def __init__(self, host: FakeHost):
        self.host = host
        self.closed = False

    def submit(self, fn: Any, *args: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed over as a worker would
            future.set_exception(exc)
        return future

    def call(self, fn: Any, *args: Any) -> Any:
        return fn(*args)

    def close(self) -> None:
        self.closed = True

    def add_vip(self, ifindex: int, vip: Any, lease_s: int = 0) -> bool:
        if vip.address in self.host.fail_vips:
            raise SystemFailure(f"netlink addr add {vip.address}/{vip.prefixlen}: 99 EFAKE")
        have = self.host.addresses.setdefault(ifindex, set())
        if lease_s:
            self.host.leases[vip.address] = lease_s
        self.host.journal.append(("add", vip.address))
        if vip.address in have:
            return False
        have.add(vip.address)
        return True

    def add_now(self, ifindex: int, vip: Any) -> bool:
        """Netlink.add_now: the loop's own add (a takeover while the worker is idle)."""
        self.host.journal.append(("add_now", vip.address))
        return self.add_vip(ifindex, vip)

    def prepare_add(self, ifindex: int, vip: Any) -> None:
        self.host.journal.append(("prepare", vip.address))

    def add_request(self, ifindex: int, vip: Any) -> Any:
        """Netlink.add_request: add_now for one VIP, prepared (takeover.py's plan)."""
        self.prepare_add(ifindex, vip)

        def add() -> bool:
            self.host.journal.append(("plan_add", vip.address))
            return self.add_vip(ifindex, vip)
        return add

    def del_vip(self, ifindex: int, vip: Any) -> bool:
        have = self.host.addresses.setdefault(ifindex, set())
        self.host.journal.append(("del", vip.address))
        if vip.address not in have:
            return False
        have.discard(vip.address)
        return True

    def ensure_dummy(self, name: str) -> int:
        """The routed announce device: created without addresses (a dummy interface)."""
        if name not in self.host.interfaces:
            self.host.interfaces[name] = max(self.host.interfaces.values(), default=1) + 1
            self.host.up[name] = True
            self.host.addresses[self.host.interfaces[name]] = set()
        return self.host.interfaces[name]

    def addresses(self, ifindex: Optional[int] = None) -> List[Tuple[int, str, int, int]]:
        return [(i, a, 24, 0) for i, addrs in self.host.addresses.items() for a in sorted(addrs)
                if ifindex is None or i == ifindex]

    def primary_address(self, ifindex: int, family: int) -> Optional[str]:
        if ifindex not in self.host.addresses:
            return None
        return self.host.ip4 if family == 4 else self.host.ip6


class FakeAnnouncer:
    def __init__(self, host: FakeHost):
        self.host = host

    def send(self, ifname: str, mac: bytes, vip: str, family: int, repeat: int) -> None:
        loop = asyncio.get_event_loop()
        self.host.announced_macs.append(mac)
        self.host.journal.append(("garp", vip))
        for _ in range(repeat):
            self.host.announced.append((loop.time(), ifname, vip))

    def sender(self, ifname: str, mac: bytes, vip: str, family: int) -> Any:
        """Announcer.sender: one VIP's burst, prepared (takeover.py's plan)."""
        return lambda repeat: self.send(ifname, mac, vip, family, repeat)

    def close(self) -> None:
        pass


class FakeLinks:
    """runtime.Adapters.link_watcher: events written by the test."""

    def __init__(self, host: FakeHost):
        self.host = host
        self._r, self._w = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._r.setblocking(False)
        self.events: List[Tuple[int, bool]] = []
        host.watchers.append(self)

    def fileno(self) -> int:
        return self._r.fileno()

    def push(self, ifindex: int, up: bool) -> None:
        self.events.append((ifindex, up))
        self._w.send(b"x")

    def read(self) -> List[Tuple[int, bool]]:
        with contextlib.suppress(BlockingIOError):
            while True:
                self._r.recv(16)
        events, self.events = self.events, []
        return events

    def close(self) -> None:
        self._r.close()
        self._w.close()


class FakeHost:
    def __init__(self, lan: FakeLan, name: str, ip4: str, ip6: str, interfaces: Tuple[str, ...]):
        self.lan = lan
        self.name = name
        self.ip4 = ip4
        self.ip6 = ip6 or "fe80::" + ip4.rsplit(".", 1)[1]
        self.interfaces: Dict[str, int] = {n: i + 2 for i, n in enumerate(interfaces)}
        self.up: Dict[str, bool] = dict.fromkeys(interfaces, True)
        self.addresses: Dict[int, Set[str]] = {i: {ip4} for i in self.interfaces.values()}
        self.sockets: List[FakeSockets] = []
        self.watchers: List[FakeLinks] = []
        self.announced: List[Tuple[float, str, str]] = []
        self.announced_macs: List[bytes] = []
        """The MAC of each announcement (a GARP/NA burst), in order."""
        self.macs: Dict[str, bytes] = {}
        """Interface MACs other than the default one (hw_address)."""
        self.mac_reads: List[str] = []
        self.notified: List[str] = []
        self.scheduling: List[Tuple[Any, ...]] = []
        self.fail_vips: Set[str] = set()
        self.journal: List[Tuple[str, str]] = []
        """In order: ("add"|"del", VIP) netlink calls and ("advert", priority) sends."""
        self.leases: Dict[str, int] = {}
        """Routed VIPs: the lease of the last add (a renewal)."""
        self.send_fails = False
        self.ebpf = False
        """Whether a stamp map can be created (stamped quiet receive), and filters loaded."""
        self.ebpf_refuses = False
        self.ebpf_watch = False
        """Whether the kernel watch (bpf_timer, a ring buffer) can be made."""
        self.watch_refuses = False
        self.uptime_s = 3600.0
        self.umasks: List[int] = []

    def adapters(self) -> Adapters:
        def ifindex(name: str) -> int:
            if name not in self.interfaces:
                raise OSError(19, "No such device")
            return self.interfaces[name]

        def host_facts(netlink: Any) -> Tuple[Set[str], Set[str]]:
            return set(self.interfaces), {_normalise(a[1]) for a in netlink.addresses()}

        return Adapters(
            netlink=lambda: FakeNetlink(self),
            announcer=lambda: FakeAnnouncer(self),
            link_watcher=lambda: FakeLinks(self),
            sockets=lambda *a: FakeSockets(self, *a),
            link_is_up=lambda name: self.up.get(name, False),
            hw_address=self.hw_address,
            ifindex=ifindex,
            apply_scheduling=lambda *a: self.scheduling.append(a),
            apply_process_limits=lambda *a: self.scheduling.append(("process_limits",) + a),
            uptime=lambda: self.uptime_s,
            set_umask=lambda mask: self.umasks.append(mask) or 0o022,
            host_facts=host_facts,
            wall_clock=fake_wall_clock,
            timer_fd=None,
            systemd_notify=lambda msg: bool(self.notified.append(msg)),
        )

    def hw_address(self, ifname: str) -> bytes:
        self.mac_reads.append(ifname)
        return self.macs.get(ifname, b"\x02\x00\x00\x00\x00\x01")

    def has(self, address: str) -> bool:
        return any(address in addrs for addrs in self.addresses.values())

    def set_link(self, ifname: str, up: bool) -> None:
        self.up[ifname] = up
        for watcher in self.watchers:
            watcher.push(self.interfaces[ifname], up)

    def add_interface(self, ifname: str) -> None:
        self.interfaces[ifname] = max(self.interfaces.values(), default=1) + 1
        self.up[ifname] = True
        self.addresses[self.interfaces[ifname]] = {self.ip4}
