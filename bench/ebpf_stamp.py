"""An eBPF socket filter that stamps and drops a steady advert (a bench probe, issue 14).

    sudo python bench/ebpf_stamp.py [IFNAME]   # self-test, where a 0.1 s master is heard

The agent's own stamp filter (stamps.py) and map (adapters/bpf.py), on a raw
IPPROTO_VRRP socket of its own: the newest advert heard is taken as the
steady one; each later copy of it writes bpf_ktime_get_ns() (CLOCK_MONOTONIC)
to its VRID's entry, adds one to the count and is dropped; anything else is
queued. wakeup_floor.py's `asyncio+ebpf` probes read the map from memory.
"""

from __future__ import annotations

import socket
import struct
import sys
import time

from vrrp_agent import stamps
from vrrp_agent.adapters import bpf
from vrrp_agent.doorbell import Steady

VALUE = bpf.VALUE


class Stamp:
    """The map (mapped here) and, once `attach`ed, the filter on one raw socket."""

    def __init__(self) -> None:
        self.map = bpf.StampMap()
        self.values = self.map.values

    def attach(self, sock: socket.socket, advert: bytes) -> None:
        """Stamp and drop ADVERT (a whole IPv4 datagram) on SOCK from now on."""
        bpf.attach_program(sock, stamps.program([Steady(advert[21], advert[8], advert[12:])],
                                                self.map.fd))

    def read(self, vrid: int) -> tuple[int, int]:
        """(last_ns, count) of VRID: CLOCK_MONOTONIC ns of the newest steady advert, how many."""
        count, last_ns = self.map.read(vrid)
        return last_ns, count


def open_raw(ifname: str, ifindex: int, group: str = "224.0.0.18") -> socket.socket:
    """A raw IPPROTO_VRRP socket on IFNAME joined to GROUP (as adapters/sockets.py opens it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    sock.setsockopt(socket.IPPROTO_IP, 49, 0)  # IP_MULTICAST_ALL off
    mreqn = struct.pack("4s4si", socket.inet_aton(group), bytes(4), ifindex)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
    return sock


def _drain(sock: socket.socket) -> int:
    """Read what SOCK queued (non-blocking); how many datagrams."""
    count = 0
    while True:
        try:
            sock.recv(4096)
        except BlockingIOError:
            return count
        count += 1


def steady(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Wait for an advert, then empty the queue: the newest one read; SOCK left non-blocking."""
    sock.settimeout(timeout)
    data = sock.recv(4096)
    sock.setblocking(False)
    while True:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return data


def start(ifname: str) -> tuple[socket.socket, Stamp, int]:
    """The probe's set-up: socket, the newest advert taken as the steady one, filter; its VRID."""
    sock = open_raw(ifname, socket.if_nametoindex(ifname))
    advert = steady(sock)
    stamp = Stamp()
    stamp.attach(sock, advert)
    _drain(sock)  # what was queued before the filter
    return sock, stamp, advert[21]


def main() -> None:
    """Count and stamp a 0.1 s master's adverts for 3 s; a filter expecting other
    bytes (the last one flipped) beside it must count none and keep them all."""
    ifname = sys.argv[1] if len(sys.argv) > 1 else "eth0"
    sock, stamp, vrid = start(ifname)
    other = open_raw(ifname, socket.if_nametoindex(ifname))
    advert = steady(other)
    wrong = Stamp()
    wrong.attach(other, advert[:-1] + bytes([advert[-1] ^ 1]))
    _drain(other)
    _last, count0 = stamp.read(vrid)
    t0 = time.monotonic()
    ages = []
    for _ in range(10):
        time.sleep(0.317)
        last, count = stamp.read(vrid)
        ages.append((time.monotonic_ns() - last) / 1e6)
    rate = (count - count0) / (time.monotonic() - t0)
    print(f"VRID {vrid}: {rate:.2f} adverts/s counted, newest {min(ages):.1f}-{max(ages):.1f} ms "
          f"before time.monotonic_ns() (10 reads), {_drain(sock)} queued; filter expecting "
          f"other bytes: {wrong.read(vrid)[1]} counted, {_drain(other)} queued")


if __name__ == "__main__":
    main()
