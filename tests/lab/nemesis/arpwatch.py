"""Who answers ARP (and HTTP) for a VIP, every PERIOD seconds, for SECONDS: the nemesis history.

`arpwatch.py IFNAME MY_IP VIP SECONDS PERIOD OUT.json [HTTP_PORT]` runs in the
client namespace: a broadcast who-has VIP every PERIOD, every reply recorded
with its kernel receive time (SO_TIMESTAMPNS, wall clock); with HTTP_PORT, a
thread also GETs http://VIP:HTTP_PORT/ every PERIOD (timeout 50 ms) and records
who answered (the body names the node) or "" for no answer. Writes
{"requests": [t...], "replies": [[t, mac]...], "http": [[t, answer]...]} to
OUT.json at the end or on SIGTERM. Stdlib only; bounded by SECONDS.
"""

from __future__ import annotations

import json
import select
import signal
import socket
import struct
import sys
import threading
import time

ETH_P_ARP = 0x0806
SO_TIMESTAMPNS = 35


class Stop(Exception):
    pass


def _stop(signum, frame):
    raise Stop()


def request_frame(my_mac: bytes, my_ip: str, vip: str) -> bytes:
    # Ethernet: dst ff:ff:ff:ff:ff:ff, src, type 0x0806; ARP: htype 1, ptype 0x0800,
    # hlen 6, plen 4, op 1 (request), sha, spa, tha 0, tpa
    return (b"\xff" * 6 + my_mac + struct.pack("!H", ETH_P_ARP)
            + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + my_mac + socket.inet_aton(my_ip)
            + b"\0" * 6 + socket.inet_aton(vip))


def _http_get(vip: str, port: int) -> str:
    try:
        with socket.create_connection((vip, port), timeout=0.05) as conn:
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
        return data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
    except OSError:
        return ""


def _http_loop(vip: str, port: int, period: float, end: float, out: list) -> None:
    while time.monotonic() < end:
        began = time.monotonic()
        out.append([time.time(), _http_get(vip, port)])
        time.sleep(max(0.0, period - (time.monotonic() - began)))


def main() -> int:
    ifname, my_ip, vip, seconds, period, out = sys.argv[1:7]
    http_port = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    seconds_f, period_f = min(float(seconds), 7200.0), float(period)
    signal.signal(signal.SIGTERM, _stop)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    sock.bind((ifname, ETH_P_ARP))
    my_mac = sock.getsockname()[4]
    frame = request_frame(my_mac, my_ip, vip)
    vip_packed = socket.inet_aton(vip)
    requests, replies = [], []
    end = time.monotonic() + seconds_f
    next_send = time.monotonic()
    http: list = []
    if http_port:
        threading.Thread(target=_http_loop, args=(vip, http_port, period_f, end, http),
                         daemon=True).start()
    try:
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_send:
                sock.send(frame)
                requests.append(time.time())
                next_send = max(next_send + period_f, now)
            ready, _, _ = select.select([sock], [], [], max(0.0, next_send - time.monotonic()))
            if not ready:
                continue
            data, anc, _flags, _addr = sock.recvmsg(2048, socket.CMSG_SPACE(16))
            # ARP reply (op 2) whose sender protocol address is the VIP
            if len(data) < 42 or data[20:22] != b"\x00\x02" or data[28:32] != vip_packed:
                continue
            ts = time.time()
            for level, ctype, cdata in anc:
                if level == socket.SOL_SOCKET and ctype == SO_TIMESTAMPNS and len(cdata) >= 16:
                    sec, nsec = struct.unpack("qq", cdata[:16])
                    ts = sec + nsec / 1e9
            replies.append([ts, ":".join(f"{b:02x}" for b in data[22:28])])
    except Stop:
        pass
    with open(out, "w") as fh:
        json.dump({"requests": requests, "replies": replies, "http": list(http)}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
