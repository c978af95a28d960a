#!/usr/bin/env python3
"""Stdlib-only link-layer probe for the network-namespace lab.

Run inside a namespace (``ip netns exec NS python3 probe.py ...``); it starts
fast because it imports nothing beyond the standard library. Every subcommand
is bounded in time and prints JSON on stdout.

  arp  --ifname IF --vip A --src-ip S [--timeout T]
      send one broadcast ARP who-has A, collect the replies until T,
      print {"vip", "owners": [mac, ...], "replies": [{"t", "mac", "eth_src"}]}
  nd   --ifname IF --vip A6 --src-ip S6 [--timeout T]
      send one Neighbor Solicitation for A6 to its solicited-node multicast
      address, collect the (solicited) Neighbor Advertisements until T, print
      the same shape as ``arp``
  garp-watch --ifname IF --vip A [--vip B ...] [--duration D]
      print one JSON line {"ready": true} once listening, then one line per
      gratuitous ARP (sender IP == target IP == a vip, request or reply) or
      unsolicited NA (target == a vip, Solicited flag clear):
      {"t": <CLOCK_REALTIME of reception>, "mac", "eth_src", "kind": "garp"|"una",
       "op"|"flags", "ip"}; exits on SIGTERM/SIGINT or after D seconds.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = 35  # == SCM_TIMESTAMPNS on Linux
ICMPV6_NS = 135
ICMPV6_NA = 136
NA_FLAG_SOLICITED = 0x40
MAX_SECONDS = 3600.0


def mac_str(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def open_packet_socket(ifname: str, proto: int) -> socket.socket:
    # Created with protocol 0 so nothing is queued before bind() restricts the
    # socket to one interface; bind() (Python converts proto to network order)
    # then starts reception on IFNAME only.
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.bind((ifname, proto))
    return sock


def own_mac(sock: socket.socket) -> bytes:
    return sock.getsockname()[4]


def recv_frame(sock: socket.socket, timeout: float):
    """Return (realtime_ts, frame, pkttype) or None on timeout."""
    if timeout <= 0:
        return None
    ready, _, _ = select.select([sock], [], [], timeout)
    if not ready:
        return None
    data, ancdata, _flags, addr = sock.recvmsg(65535, socket.CMSG_SPACE(16))
    ts = None
    for level, ctype, cdata in ancdata:
        if level == socket.SOL_SOCKET and ctype == SO_TIMESTAMPNS and len(cdata) >= 16:
            sec, nsec = struct.unpack("qq", cdata[:16])
            ts = sec + nsec / 1e9
    if ts is None:
        ts = time.time()
    return ts, data, addr[2]


def icmp6_checksum(src: bytes, dst: bytes, payload: bytes) -> int:
    pseudo = src + dst + struct.pack("!I3xB", len(payload), 58)
    data = pseudo + payload
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


# ---------------------------------------------------------------- parsing


def parse_arp(frame: bytes):
    """Return (op, sha, spa, tha, tpa) for an Ethernet/IPv4 ARP frame, else None."""
    if len(frame) < 42 or struct.unpack("!H", frame[12:14])[0] != ETH_P_ARP:
        return None
    htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", frame[14:22])
    if htype != 1 or ptype != ETH_P_IP or hlen != 6 or plen != 4:
        return None
    sha = frame[22:28]
    spa = socket.inet_ntop(socket.AF_INET, frame[28:32])
    tha = frame[32:38]
    tpa = socket.inet_ntop(socket.AF_INET, frame[38:42])
    return op, sha, spa, tha, tpa


def parse_na(frame: bytes):
    """Return (flags, target, lladdr_or_None, ip_src, ip_dst) for a Neighbor Advertisement."""
    if len(frame) < 14 + 40 + 24 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IPV6:
        return None
    ip6 = frame[14:54]
    if ip6[6] != 58:  # no extension headers expected on ND
        return None
    icmp = frame[54:]
    if icmp[0] != ICMPV6_NA or len(icmp) < 24:
        return None
    flags = icmp[4]
    target = socket.inet_ntop(socket.AF_INET6, icmp[8:24])
    lladdr = None
    opts = icmp[24:]
    while len(opts) >= 8:
        otype, olen = opts[0], opts[1] * 8
        if olen == 0 or olen > len(opts):
            break
        if otype == 2 and olen >= 8:  # target link-layer address
            lladdr = opts[2:8]
        opts = opts[olen:]
    src = socket.inet_ntop(socket.AF_INET6, ip6[8:24])
    dst = socket.inet_ntop(socket.AF_INET6, ip6[24:40])
    return flags, target, lladdr, src, dst


# ---------------------------------------------------------------- commands


def cmd_arp(args) -> dict:
    vip = str(ipaddress.IPv4Address(args.vip))
    src_ip = str(ipaddress.IPv4Address(args.src_ip))
    sock = open_packet_socket(args.ifname, ETH_P_ARP)
    mac = own_mac(sock)
    arp = struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, 1)
    arp += mac + socket.inet_aton(src_ip) + b"\0" * 6 + socket.inet_aton(vip)
    frame = b"\xff" * 6 + mac + struct.pack("!H", ETH_P_ARP) + arp
    frame = frame.ljust(60, b"\0")
    deadline = time.monotonic() + args.timeout
    sock.send(frame)
    replies = []
    while True:
        got = recv_frame(sock, deadline - time.monotonic())
        if got is None:
            break
        ts, data, pkttype = got
        if pkttype == PACKET_OUTGOING:
            continue
        parsed = parse_arp(data)
        if parsed is None:
            continue
        op, sha, spa, _tha, tpa = parsed
        if op == 2 and spa == vip and tpa == src_ip:
            replies.append({"t": ts, "mac": mac_str(sha), "eth_src": mac_str(data[6:12])})
    return {"vip": vip, "owners": sorted({r["mac"] for r in replies}), "replies": replies}


def cmd_nd(args) -> dict:
    vip = ipaddress.IPv6Address(args.vip)
    src = ipaddress.IPv6Address(args.src_ip)
    sock = open_packet_socket(args.ifname, ETH_P_IPV6)
    mac = own_mac(sock)
    snm = ipaddress.IPv6Address("ff02::1:ff00:0").packed[:13] + vip.packed[13:]
    eth_dst = b"\x33\x33" + snm[12:16]
    icmp = struct.pack("!BBHI", ICMPV6_NS, 0, 0, 0) + vip.packed + bytes([1, 1]) + mac
    csum = icmp6_checksum(src.packed, snm, icmp)
    icmp = icmp[:2] + struct.pack("!H", csum) + icmp[4:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(icmp), 58, 255) + src.packed + snm
    frame = eth_dst + mac + struct.pack("!H", ETH_P_IPV6) + ip6 + icmp
    deadline = time.monotonic() + args.timeout
    sock.send(frame)
    replies = []
    vip_s = str(vip)
    while True:
        got = recv_frame(sock, deadline - time.monotonic())
        if got is None:
            break
        ts, data, pkttype = got
        if pkttype == PACKET_OUTGOING:
            continue
        parsed = parse_na(data)
        if parsed is None:
            continue
        flags, target, lladdr, _ipsrc, _ipdst = parsed
        if target == vip_s and flags & NA_FLAG_SOLICITED:
            owner = lladdr if lladdr is not None else data[6:12]
            replies.append({"t": ts, "mac": mac_str(owner), "eth_src": mac_str(data[6:12])})
    return {"vip": vip_s, "owners": sorted({r["mac"] for r in replies}), "replies": replies}


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop()


def cmd_garp_watch(args) -> int:
    vips4: set[str] = set()
    vips6: set[str] = set()
    for v in args.vip:
        addr = ipaddress.ip_address(v)
        (vips4 if addr.version == 4 else vips6).add(str(addr))
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    sock = open_packet_socket(args.ifname, ETH_P_ALL)
    out = sys.stdout
    out.write(json.dumps({"ready": True, "t": time.time()}) + "\n")
    out.flush()
    deadline = time.monotonic() + min(args.duration, MAX_SECONDS)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            got = recv_frame(sock, min(remaining, 1.0))
            if got is None:
                continue
            ts, data, pkttype = got
            if pkttype == PACKET_OUTGOING:
                continue
            event = None
            parsed = parse_arp(data) if vips4 else None
            if parsed is not None:
                op, sha, spa, _tha, tpa = parsed
                if spa == tpa and spa in vips4:
                    event = {"kind": "garp", "op": op, "ip": spa, "mac": mac_str(sha)}
            elif vips6:
                na = parse_na(data)
                if na is not None:
                    flags, target, lladdr, _src, dst = na
                    if target in vips6 and not flags & NA_FLAG_SOLICITED:
                        owner = lladdr if lladdr is not None else data[6:12]
                        event = {"kind": "una", "flags": flags, "ip": target,
                                 "mac": mac_str(owner), "dst": dst}
            if event is not None:
                event["t"] = ts
                event["eth_src"] = mac_str(data[6:12])
                out.write(json.dumps(event) + "\n")
                out.flush()
    except _Stop:
        pass
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("arp", "nd"):
        p = sub.add_parser(name)
        p.add_argument("--ifname", default="eth0")
        p.add_argument("--vip", required=True)
        p.add_argument("--src-ip", required=True)
        p.add_argument("--timeout", type=float, default=0.3)
    p = sub.add_parser("garp-watch")
    p.add_argument("--ifname", default="eth0")
    p.add_argument("--vip", action="append", required=True)
    p.add_argument("--duration", type=float, default=600.0)
    args = parser.parse_args(argv)
    if args.cmd == "garp-watch":
        return cmd_garp_watch(args)
    args.timeout = max(0.0, min(args.timeout, 60.0))
    result = cmd_arp(args) if args.cmd == "arp" else cmd_nd(args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
