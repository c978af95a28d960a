"""The packets around one event, to take a failover apart (bench/notes.md).

    PYTHONPATH=files/agent python bench/timeline.py [--engine agent|keepalived|both]
                                                    [--event stop|linkdown|freeze|kill|switch]
                                                    [--runs N]

Two nodes at VRRPv3 0.01 s (priorities 150 and 100); tcpdump on the lab's
bridge; prints every VRRP and ARP packet from 30 ms before the event to 80 ms
after it, in ms from it, then the median times to the new master's first
advert and to its first gratuitous ARP over --runs runs.
stop: SIGTERM to the master (priority-0 advert, skew timer on the backup);
  the time is counted from the signal.
linkdown, freeze (SIGSTOP), kill (SIGKILL): the backup's master-down timer;
  the time is counted from the master's last advert on the wire, not from the
  event: an event comes anywhere in the advert interval, which spreads the
  time from it over that whole interval (10 ms) and hides differences of
  tenths of a millisecond between engines.
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
from typing import Dict, List, Tuple

from common import VIP, Lab, daemon_pids, start_engine, wait_until
from netlab import owned_only_by
from vrrp_agent.control import request

TIMERS = dict(version=3, advert_int=0.01)
SIGNALS = {"freeze": signal.SIGSTOP, "kill": signal.SIGKILL}
FROM_LAST_ADVERT = ("linkdown", "freeze", "kill")


def one(engine: str, event: str, show: bool) -> Tuple[float, float]:
    """(the new master's first advert, its first gratuitous ARP), in ms from the reference."""
    with Lab(nodes=2) as lab:
        new_master = f"{lab.node(2).ip4} > "
        daemons = {n: start_engine(lab, engine, n, p, TIMERS) for n, p in ((1, 150), (2, 100))}
        wait_until(owned_only_by(lab, VIP, 1), 10, message="node 1 master")
        cap = lab.capture(lab.switch, f"{lab.prefix}b0", "ip proto 112 or arp", name="timeline")
        time.sleep(0.5)
        started = time.time()
        if event == "linkdown":
            lab.node(1).link_down("eth0")
        elif event == "stop":
            os.kill(daemons[1].proc.pid, signal.SIGTERM)  # type: ignore[union-attr]
        elif event in SIGNALS:
            for pid in daemon_pids(daemons[1]):  # keepalived: its VRRP child too
                os.kill(pid, SIGNALS[event])
        else:
            request(daemons[2].socket, "takeover")  # type: ignore[union-attr]
        try:
            time.sleep(0.5)
            cap.terminate()
            cap.wait(5)
        finally:
            if event == "freeze":
                for pid in daemon_pids(daemons[1]):
                    os.kill(pid, signal.SIGCONT)  # the lab stops it as usual
        packets = _packets(str(cap.pcap_path), started)  # type: ignore[attr-defined]
    if show:
        for offset_ms, text in packets:
            print(f"{offset_ms:8.2f} ms  {text}")
    garps = [t for t, text in packets if "ARP" in text and f"tell {VIP}" in text]
    adverts = [t for t, text in packets if new_master in text and "VRRP" in text and t > 0]
    if not garps or not adverts:
        return float("nan"), float("nan")
    reference = 0.0
    if event in FROM_LAST_ADVERT:
        last = [t for t, text in packets if "prio 150" in text and t < adverts[0]]
        reference = last[-1] if last else float("nan")
    return adverts[0] - reference, garps[0] - reference


def _packets(pcap: str, started: float) -> List[Tuple[float, str]]:
    out = subprocess.run(["tcpdump", "-tt", "-n", "-e", "-r", pcap], capture_output=True, text=True,
                         check=True).stdout
    packets = []
    for line in out.splitlines():
        stamp, _, text = line.partition(" ")
        offset_ms = (float(stamp) - started) * 1000
        if -30 < offset_ms < 80:
            packets.append((offset_ms, text[:150]))
    return packets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=("agent", "keepalived", "both"), default="agent",
                        help="both: the engines alternate run by run, and their ratio is printed")
    parser.add_argument("--event", choices=("stop", "linkdown", "freeze", "kill", "switch"), default="stop")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("timeline needs root (network namespaces, tcpdump)", file=sys.stderr)
        return 2
    if args.event == "switch" and args.engine != "agent":
        parser.error("switch: keepalived has no takeover command (see bench/failover.py)")
    engines = ("agent", "keepalived") if args.engine == "both" else (args.engine,)
    firsts: Dict[str, List[Tuple[float, float]]] = {engine: [] for engine in engines}
    for run in range(args.runs):
        for engine in engines:
            firsts[engine].append(one(engine, args.event, show=(run == 0)))
    since = "the master's last advert" if args.event in FROM_LAST_ADVERT else args.event
    for engine, pairs in firsts.items():
        for index, what in enumerate(("advert", "gratuitous ARP")):
            values = sorted(pair[index] for pair in pairs)
            print(f"new master's first {what} after {since} ({engine}): median "
                  f"{statistics.median(values):.2f} ms over {args.runs} run(s): "
                  + " ".join(f"{v:.2f}" for v in values))
    if len(engines) == 2:
        agent, keepalived = (statistics.median(p[1] for p in firsts[e]) for e in engines)
        print(f"ratio agent/keepalived (first gratuitous ARP): {agent / keepalived:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
