"""Cost of one wakeup of a 1-instance master (issue 14), caches evicted before each.

    PYTHONPATH=files/agent python bench/wakeup_cost.py [--wakeups 400] [--evict-mib 48]

The real daemon on fake adapters (tests/unit/fakehost.py, virtual time) is
made master of one VRRPv3 0.1 s instance; then each `loop._run_once()` is one
timer wakeup (the loop's select, the timer, Driver._fire, the advert, the
re-arm), timed after writing one byte per cache line of --evict-mib MiB, as
the 100 ms between two adverts does to a real master's caches. The advert
goes out with one UDP sendto to 127.0.0.1:9. A developer tool: it says what
a change does to the Python work per advert; bench/cpu.py measures the
daemon beside keepalived.

Deterministic counts (instructions, cache lines missed), without the noise of
a shared machine: run it under callgrind with the cache simulation, where
only the wakeups are collected (they run inside itertools.starmap; so does
the eviction, which `--no-wakeups` measures alone, to subtract):

    PYTHONHASHSEED=0 PYTHONPATH=files/agent setarch -R valgrind --tool=callgrind \\
        --cache-sim=yes --LL=4194304,16,64 --toggle-collect=starmap_next \\
        python bench/wakeup_cost.py --wakeups 100 --evict-mib 8 [--no-wakeups]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
from collections import deque
from itertools import starmap
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "unit"))

from fakehost import FakeLan, VirtualLoop  # noqa: E402
from vrrp_agent.config import load_config  # noqa: E402
from vrrp_agent.daemon import Daemon  # noqa: E402
from vrrp_agent.router import MASTER  # noqa: E402

CONFIG = ("vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 1\n    priority 150\n"
          "    advert_int 0.1\n    version 3\n    virtual_ipaddress {\n        203.0.113.1/32\n"
          "    }\n}\n")


def measure(wakeups: int, evict_mib: int, run_wakeups: bool = True) -> List[int]:
    """Nanoseconds of each wakeup (after the election and its gratuitous ARP bursts)."""
    tmp = Path(tempfile.mkdtemp(prefix="wakeup-cost-"))
    (tmp / "state").mkdir()
    (tmp / "agent.conf").write_text(CONFIG)
    loop = VirtualLoop()
    asyncio.set_event_loop(loop)
    daemon = Daemon(load_config(str(tmp / "agent.conf")), state_dir=str(tmp / "state"),
                    control_socket=None, adapters=FakeLan().host("n1", "198.51.100.1").adapters())
    task = loop.create_task(daemon.run())

    async def settled() -> None:
        while not daemon.instances or daemon.instances[0].router.state != MASTER:
            await asyncio.sleep(0.05)
        await asyncio.sleep(2.0)

    loop.run_until_complete(settled())
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for io in daemon.driver.io.values():  # a real sendto instead of the fake LAN's bookkeeping
        io.send = lambda packet, dst, src=b"", sendto=udp.sendto: sendto(packet, ("127.0.0.1", 9))
    lines = bytearray(evict_mib << 20)
    ones = b"\1" * len(lines[::64])

    def evict() -> None:
        lines[::64] = ones

    times = []
    for _ in range(wakeups):
        deque(starmap(evict, ((),)), 0)
        start = time.perf_counter_ns()
        if run_wakeups:
            deque(starmap(loop._run_once, ((),)), 0)  # type: ignore[attr-defined]
        times.append(time.perf_counter_ns() - start)
    daemon.stopping.set()
    loop.run_until_complete(task)
    loop.close()
    udp.close()
    return times


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wakeups", type=int, default=400)
    parser.add_argument("--evict-mib", type=int, default=48)
    parser.add_argument("--no-wakeups", action="store_true", help="the eviction alone")
    args = parser.parse_args(argv)
    times = sorted(measure(args.wakeups, args.evict_mib, not args.no_wakeups))
    n = len(times)
    print(f"{n} wakeups, caches evicted ({args.evict_mib} MiB) before each: median "
          f"{statistics.median(times) / 1000:.1f} us, p10 {times[n // 10] / 1000:.1f}, "
          f"p90 {times[9 * n // 10] / 1000:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
