#!/usr/bin/env python3
"""Stdlib-only helpers of the routed lab (routedlab.py), run inside a namespace.

  serve --name N [--port P]
      answer every UDP datagram on port P (any address, so also the VIP while
      this member holds it) with N: the client learns who answered.
  ask --dst VIP [--port P] [--interval S] [--duration D]
      send a query every S seconds (each with its sequence number) and print one
      JSON line per reply: {"t": CLOCK_REALTIME of reception, "seq", "who"};
      first a line {"ready": true}. Exits after D seconds or on SIGTERM.
  routes --dst VIP [--duration D]
      watch the routing table (rtnetlink, IPv4 routes) and print one JSON line
      per change of the route to VIP: {"t", "event": "new"|"del", "gw": nexthop
      or null, "multipath": n}; first {"ready": true}.
"""

from __future__ import annotations

import argparse
import json
import select
import signal
import socket
import struct
import sys
import time

RTMGRP_IPV4_ROUTE = 0x40
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RTA_DST, RTA_GATEWAY, RTA_MULTIPATH = 1, 5, 9
# struct nlmsghdr: len u32, type u16, flags u16, seq u32, pid u32
NLMSG = struct.Struct("=IHHII")
# struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type (u8 each), flags u32
RTMSG = struct.Struct("=BBBBBBBBI")
# struct rtattr: len u16, type u16
RTATTR = struct.Struct("=HH")


def _out(doc: dict) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def serve(args: argparse.Namespace) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", args.port))
    answer = args.name.encode()
    while True:
        data, peer = sock.recvfrom(512)
        sock.sendto(data[:8] + answer, peer)


def ask(args: argparse.Namespace) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    end = time.monotonic() + args.duration
    seq = 0
    next_at = time.monotonic()
    _out({"ready": True})
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_at:
            seq += 1
            try:
                sock.sendto(struct.pack("!Q", seq), (args.dst, args.port))
            except OSError:
                pass  # no route: nothing answers, as the client would see it
            next_at = now + args.interval
        ready, _, _ = select.select([sock], [], [], max(0.0, next_at - time.monotonic()))
        if ready:
            try:
                data = sock.recv(512)
            except OSError:
                continue
            if len(data) > 8:
                _out({"t": time.time(), "seq": struct.unpack("!Q", data[:8])[0],
                      "who": data[8:].decode(errors="replace")})


def _route_change(data: bytes, want: bytes) -> list:
    out = []
    offset = 0
    while offset + NLMSG.size <= len(data):
        length, kind, _flags, _seq, _pid = NLMSG.unpack_from(data, offset)
        if length < NLMSG.size:
            break
        if kind in (RTM_NEWROUTE, RTM_DELROUTE):
            body = offset + NLMSG.size
            family, dst_len = RTMSG.unpack_from(data, body)[:2]
            attrs = _attrs(data, body + RTMSG.size, offset + length)
            if family == socket.AF_INET and dst_len == 32 and attrs.get(RTA_DST) == want:
                gw = attrs.get(RTA_GATEWAY)
                hops = attrs.get(RTA_MULTIPATH)
                out.append({"t": time.time(), "event": "new" if kind == RTM_NEWROUTE else "del",
                            "gw": socket.inet_ntoa(gw) if gw else None,
                            "multipath": 0 if hops is None else len(hops) // 16})
        offset += (length + 3) & ~3
    return out


def _attrs(data: bytes, start: int, end: int) -> dict:
    attrs = {}
    while start + RTATTR.size <= end:
        length, kind = RTATTR.unpack_from(data, start)
        if length < RTATTR.size:
            break
        attrs[kind] = data[start + RTATTR.size:start + length]
        start += (length + 3) & ~3
    return attrs


def routes(args: argparse.Namespace) -> None:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
    sock.bind((0, RTMGRP_IPV4_ROUTE))
    want = socket.inet_aton(args.dst)
    end = time.monotonic() + args.duration
    _out({"ready": True})
    while time.monotonic() < end:
        ready, _, _ = select.select([sock], [], [], 0.2)
        if ready:
            for change in _route_change(sock.recv(65536), want):
                _out(change)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--name", required=True)
    p.add_argument("--port", type=int, default=7007)
    p = sub.add_parser("ask")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, default=7007)
    p.add_argument("--interval", type=float, default=0.01)
    p.add_argument("--duration", type=float, default=600.0)
    p = sub.add_parser("routes")
    p.add_argument("--dst", required=True)
    p.add_argument("--duration", type=float, default=600.0)
    args = parser.parse_args()
    {"serve": serve, "ask": ask, "routes": routes}[args.cmd](args)


if __name__ == "__main__":
    main()
