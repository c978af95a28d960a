"""Replay a pool of raw IPv4 datagrams (pickled list of bytes) COUNT times in total.

Usage: inject.py POOL COUNT [RATE [DESTINATION]]

RATE paces the stream at RATE packets a second (batches every 10 ms); without
it, or 0, it goes as fast as it can. DESTINATION (default 224.0.0.18) is the
route the datagrams take; their IP header says where they claim to go.

Runs inside the client namespace; the datagrams carry their own IP header
(IP_HDRINCL). Prints the number sent. Bounded by COUNT; stdlib only.
"""

import pickle
import socket
import sys
import time


def main() -> int:
    with open(sys.argv[1], "rb") as fh:
        pool = pickle.load(fh)
    count = int(sys.argv[2])
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    batch = max(1, int(rate / 100)) if rate else count
    start = time.monotonic()
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
    sock.setsockopt(socket.SOL_SOCKET, 25, b"eth0")  # SO_BINDTODEVICE: the lab segment
    sent = 0
    n = len(pool)
    address = (sys.argv[4] if len(sys.argv) > 4 else "224.0.0.18", 0)
    while sent < count:
        try:
            sock.sendto(pool[sent % n], address)
        except (BlockingIOError, OSError):
            pass
        sent += 1
        if rate and sent % batch == 0:
            delay = start + sent / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    print(sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
