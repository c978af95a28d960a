"""The packets around one event, to take a failover apart (bench/notes.md).

    PYTHONPATH=files/agent python bench/timeline.py [--engine agent|keepalived]
                                                    [--event stop|linkdown|switch] [--runs N]

Two nodes at VRRPv3 0.01 s (priorities 150 and 100); tcpdump on the lab's
bridge; prints every VRRP and ARP packet in the 50 ms after the event, in ms
from it, then the median time to the first gratuitous ARP over --runs runs.
stop: SIGTERM to the master (priority-0 advert, skew timer on the backup).
linkdown: the master's eth0 set down (the backup's master-down timer).
switch: the agent's `takeover` on the backup's control socket (agent only).
Run as root.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from typing import List, Tuple

from common import VIP, Lab, start_engine, wait_until
from netlab import owned_only_by
from vrrp_agent.control import request

TIMERS = dict(version=3, advert_int=0.01)


def one(engine: str, event: str, show: bool) -> float:
    with Lab(nodes=2) as lab:
        daemons = {n: start_engine(lab, engine, n, p, TIMERS) for n, p in ((1, 150), (2, 100))}
        wait_until(owned_only_by(lab, VIP, 1), 10, message="node 1 master")
        cap = lab.capture(lab.switch, f"{lab.prefix}b0", "ip proto 112 or arp", name="timeline")
        time.sleep(0.5)
        started = time.time()
        if event == "linkdown":
            lab.node(1).link_down("eth0")
        elif event == "stop":
            os.kill(daemons[1].proc.pid, signal.SIGTERM)  # type: ignore[union-attr]
        else:
            request(daemons[2].socket, "takeover")  # type: ignore[union-attr]
        time.sleep(0.5)
        cap.terminate()
        cap.wait(5)
        packets = _packets(str(cap.pcap_path), started)  # type: ignore[attr-defined]
    if show:
        for offset_ms, text in packets:
            print(f"{offset_ms:8.2f} ms  {text}")
    garps = [t for t, text in packets if "ARP" in text and f"tell {VIP}" in text]
    return garps[0] if garps else float("nan")


def _packets(pcap: str, started: float) -> List[Tuple[float, str]]:
    out = subprocess.run(["tcpdump", "-tt", "-n", "-e", "-r", pcap], capture_output=True, text=True,
                         check=True).stdout
    packets = []
    for line in out.splitlines():
        stamp, _, text = line.partition(" ")
        offset_ms = (float(stamp) - started) * 1000
        if -1 < offset_ms < 50:
            packets.append((offset_ms, text[:150]))
    return packets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=("agent", "keepalived"), default="agent")
    parser.add_argument("--event", choices=("stop", "linkdown", "switch"), default="stop")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("timeline needs root (network namespaces, tcpdump)", file=sys.stderr)
        return 2
    if args.event == "switch" and args.engine != "agent":
        parser.error("switch: keepalived has no takeover command (see bench/failover.py)")
    firsts = [one(args.engine, args.event, show=(i == 0)) for i in range(args.runs)]
    print(f"first gratuitous ARP after {args.event} ({args.engine}): median "
          f"{statistics.median(firsts):.2f} ms over {args.runs} run(s): "
          + " ".join(f"{v:.1f}" for v in firsts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
