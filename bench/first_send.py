"""What a node's first IPv4 advert costs in the kernel, by how its IP ID is made (issue 14).

    sudo PYTHONPATH=files/agent:tests/lab python bench/first_send.py [--rounds 12] [--idle 1.0]

A backup sends no advert until it takes over, so its first advert as master
is the first send after an idle spell, and the node's first to 224.0.0.18
(no neighbour entry for the group yet). This times that one `sendto` in a
two-node lab, three ways, alternating, each round in a fresh process after
`--idle` seconds and with the node's neighbour entries flushed:
- `want`: the kernel's default (IP_PMTUDISC_WANT): DF on the wire, the ID
  drawn from the kernel's random ID generator (the agent before issue 14's
  ninth pass);
- `probe`: IP_PMTUDISC_PROBE, DF and ID 0, no generator (the agent now,
  adapters/sockets.py);
- `hdrincl`: the IPv4 header built by the sender with its own ID, on an
  IP_HDRINCL socket (keepalived's way).
Then the same socket's second send, for the steady cost. Prints the median
and the spread of each, in microseconds, as Python's perf_counter reads them
around the call (the syscall, the kernel's path to the veth and the peer's
receive in its softirq: a veth send is synchronous). A developer tool; the
failover bench (timeline.py) is where this shows on the wire.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from typing import Dict, List

from common import Lab

PROBE = r"""
import socket, struct, sys, time
kind, idle, src = sys.argv[1], float(sys.argv[2]), sys.argv[3]
GROUP = "224.0.0.18"
ifindex = socket.if_nametoindex("eth0")
mreq = struct.pack("4s4si", socket.inet_aton(GROUP), b"\0" * 4, ifindex)
advert = bytes([0x31, 51, 100, 1, 0, 1]) + bytes(6)  # VRRPv3, one zero address (checksum not checked)
if kind == "hdrincl":
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    # IPv4 header: version/IHL, TOS, total length, ID, flags/fragment, TTL, protocol, checksum, src, dst
    header = struct.Struct("!BBHHHBBH4s4s")
    ids = iter(range(1, 65536))
    def send():
        packet = header.pack(0x45, 0xC0, 20 + len(advert), next(ids), 0, 255, 112, 0,
                             socket.inet_aton(src), socket.inet_aton(GROUP)) + advert
        sock.sendto(packet, (GROUP, 0))
else:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0xC0)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    sock.setsockopt(socket.IPPROTO_IP, 10, {"want": 1, "probe": 3}[kind])  # IP_MTU_DISCOVER
    sock.bind((src, 0))
    def send():
        sock.sendto(advert, (GROUP, 0))
sock.setsockopt(socket.SOL_SOCKET, 25, b"eth0")  # SO_BINDTODEVICE
sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreq)
time.sleep(idle)
times = []
for _ in range(2):
    started = time.perf_counter_ns()
    send()
    times.append((time.perf_counter_ns() - started) / 1000)
print(*times)
"""

KINDS = ("want", "probe", "hdrincl")


def measure(rounds: int, idle: float) -> Dict[str, List[List[float]]]:
    results: Dict[str, List[List[float]]] = {kind: [] for kind in KINDS}
    with Lab(nodes=2, client=False) as lab:
        node = lab.node(1)
        for _ in range(rounds):
            for kind in KINDS:
                node.run(["ip", "neigh", "flush", "dev", "eth0"], check=False)
                out = node.run([sys.executable, "-c", PROBE, kind, str(idle), node.ip4],
                               timeout=30 + idle).stdout.split()
                results[kind].append([float(value) for value in out])
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--idle", type=float, default=1.0)
    args = parser.parse_args()
    results = measure(args.rounds, args.idle)
    print(f"| socket | first send, µs: median (min-max) | second send | {args.rounds} rounds |")
    print("|---|---|---|---|")
    for kind, rows in results.items():
        firsts, seconds = [row[0] for row in rows], [row[1] for row in rows]
        print(f"| {kind} | {statistics.median(firsts):.0f} ({min(firsts):.0f}-{max(firsts):.0f}) "
              f"| {statistics.median(seconds):.0f} ({min(seconds):.0f}-{max(seconds):.0f}) "
              f"| {' '.join(f'{value:.0f}' for value in firsts)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
