"""Hostile control-socket clients for a while, and the agent's advert gaps meanwhile.

Shared by tests/lab/test_control_fuzz.py (short, behaviour) and bench/control_fuzz.py
(the gap figures in docs/reliability.md). The clients, all at once, each bounded
by the deadline:
- malformed: random bytes, invalid JSON, JSON that is not an object, unknown
  commands, wrong argument types, 60,000-deep nesting, half lines;
- oversized: lines above the 64 KiB limit;
- slow: connections that send one byte a second and never finish a line;
- concurrent: many clients asking `status` as fast as the agent answers.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from typing import Callable, Dict, List

MALFORMED = [b"\x00\xff\xfe garbage\n", b"{not json\n", b"[]\n", b"42\n", b'"status"\n',
             b'{"command": 5}\n', b'{"command": "nope"}\n', b'{"command": "status", "args": [1]}\n',
             b'{"command": "takeover", "args": {"instances": 7}}\n',
             b'{"command": "standby", "args": {"instances": ["NO_SUCH"]}}\n',
             b'{"command": "events", "args": {"backlog": "x"}}\n',
             b"[" * 60000 + b"\n", b'{"command": "status"', b"\n\n\n"]


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(2.0)
    sock.connect(path)
    return sock


def _malformed(path: str, until: float, rng: random.Random, counts: Dict[str, int]) -> None:
    while time.monotonic() < until:
        try:
            with _connect(path) as sock:
                payload = rng.choice(MALFORMED)
                if rng.random() < 0.3:
                    payload = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))) + b"\n"
                sock.sendall(payload)
                if payload.endswith(b"\n"):
                    sock.recv(65536)
                counts["malformed"] += 1
        except OSError:
            counts["client_errors"] += 1


def _oversized(path: str, until: float, rng: random.Random, counts: Dict[str, int]) -> None:
    while time.monotonic() < until:
        try:
            with _connect(path) as sock:
                sock.sendall(b'{"command": "status", "x": "' + b"A" * rng.randint(70000, 300000) + b'"}\n')
                sock.recv(65536)
                counts["oversized"] += 1
        except OSError:
            counts["client_errors"] += 1


def _slow(path: str, until: float, rng: random.Random, counts: Dict[str, int]) -> None:
    socks: List[socket.socket] = []
    try:
        for _ in range(40):
            try:
                socks.append(_connect(path))
            except OSError:
                counts["client_errors"] += 1
        counts["slow"] += len(socks)
        while time.monotonic() < until:
            for s in socks:
                try:
                    s.send(b"{")
                except OSError:
                    pass
            time.sleep(1.0)
    finally:
        for s in socks:
            s.close()


def _concurrent(path: str, until: float, rng: random.Random, counts: Dict[str, int]) -> None:
    while time.monotonic() < until:
        try:
            with _connect(path) as sock:
                fh = sock.makefile("rwb")
                for _ in range(20):
                    fh.write(json.dumps({"command": "status"}).encode() + b"\n")
                    fh.flush()
                    json.loads(fh.readline())
                    counts["status"] += 1
        except (OSError, ValueError):
            counts["client_errors"] += 1


WORKERS: Dict[str, Callable[..., None]] = {"malformed": _malformed, "oversized": _oversized,
                                           "slow": _slow, "concurrent": _concurrent}


def hammer(path: str, seconds: float, seed: int = 15, concurrency: int = 8) -> Dict[str, int]:
    """Every kind of client at once for `seconds`; what each managed to do."""
    counts = dict.fromkeys(("malformed", "oversized", "slow", "status", "client_errors"), 0)
    until = time.monotonic() + seconds
    threads = []
    for k, (name, fn) in enumerate(WORKERS.items()):
        for j in range(concurrency if name == "concurrent" else 2):
            rng = random.Random(seed * 100 + k * 10 + j)
            threads.append(threading.Thread(target=fn, args=(path, until, rng, counts), daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 30)
    return counts


def advert_gaps(pcap_lines: List[str]) -> List[float]:
    """Gaps between consecutive adverts in `tcpdump -tt` lines."""
    stamps = [float(line.split()[0]) for line in pcap_lines if "VRRP" in line]
    return [b - a for a, b in zip(stamps, stamps[1:])]
