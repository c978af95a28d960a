"""Advert interval jitter and spurious failovers at 0.01 s under a CPU hog.

One four-node lab: keepalived on nodes 1 (prio 150) and 2 (prio 100), VRID 51;
the agent on nodes 3 (prio 150) and 4 (prio 100), VRID 52; the same VRRPv3
0.01 s timers, the same load: one busy loop pinned (taskset) to each CPU of
the machine, so the daemons share their cores with a hog. tcpdump on the
switch's bridge records every advert for --seconds. Per engine: the master's
inter-advert intervals minus advert_int (p50, p99 of |deviation|, max), and
spurious failovers: the backup's episodes as master while the master is alive
(runs of adverts sent by the backup, seen on the wire; a gap over 1 s starts a
new episode), cross-checked with the agent's became_master counter.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List

from common import Lab, agent_instance, keepalived_instance, start_engine, wait_until

ADVERT_INT = 0.01
TIMERS = dict(version=3, advert_int=ADVERT_INT)
SETUP = {"keepalived": (1, 2, 51, "198.51.100.100/24"), "agent": (3, 4, 52, "198.51.100.101/24")}


def _percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _wire(pcap: str) -> Dict[str, List[float]]:
    """{source IP: [timestamps]} of the VRRP packets in PCAP."""
    out = subprocess.run(["tcpdump", "-tt", "-n", "-r", pcap, "ip proto 112"],
                         capture_output=True, text=True, check=True).stdout
    times: Dict[str, List[float]] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[1] == "IP":
            times.setdefault(parts[2], []).append(float(parts[0]))
    return times


def _episodes(stamps: List[float]) -> int:
    return sum(1 for i, t in enumerate(stamps) if i == 0 or t - stamps[i - 1] > 1.0)


def measure(seconds: float, progress: Callable[[str], None]) -> Dict[str, dict]:
    with Lab(nodes=4, client=False) as lab:
        daemons = {}
        for engine, (m, b, vrid, vip) in SETUP.items():
            make = agent_instance if engine == "agent" else keepalived_instance
            for node, prio in ((m, 150), (b, 100)):
                daemons[node] = start_engine(lab, engine, node, prio, TIMERS,
                                             make(vrid=vrid, priority=prio, vips=(vip,), **TIMERS))
        for engine, (m, _b, _v, vip) in SETUP.items():
            addr = vip.split("/")[0]
            wait_until(lambda n=m, a=addr: lab.node(n).has_address(a), 30,
                       message=f"{engine} master")
        time.sleep(1.0)
        became0 = daemons[4].instance()["counters"]["became_master"]
        for cpu in range(os.cpu_count() or 1):
            lab.switch.popen(["taskset", "-c", str(cpu), sys.executable, "-c", "while True: pass"],
                             name=f"hog{cpu}")
        cap = lab.capture(lab.switch, f"{lab.prefix}b0", "ip proto 112", name="vrrp")
        progress(f"jitter: capturing {seconds:.0f} s of 0.01 s adverts under {os.cpu_count()} hogs")
        time.sleep(seconds)
        cap.terminate()
        cap.wait(5)
        became = daemons[4].instance()["counters"]["became_master"] - became0
        wire = _wire(str(cap.pcap_path))  # type: ignore[attr-defined]
    results = {}
    for engine, (m, b, _v, _vip) in SETUP.items():
        stamps = wire.get(lab.node(m).ip4, [])
        dev = [abs(stamps[i] - stamps[i - 1] - ADVERT_INT) for i in range(1, len(stamps))]
        results[engine] = {
            "adverts": len(stamps),
            "interval_p50": statistics.median([stamps[i] - stamps[i - 1]
                                               for i in range(1, len(stamps))]) if dev else 0.0,
            "p50": _percentile(dev, 0.5) if dev else 0.0,
            "p99": _percentile(dev, 0.99) if dev else 0.0, "max": max(dev, default=0.0),
            "spurious": _episodes(wire.get(lab.node(b).ip4, [])),
        }
        if engine == "agent":
            results[engine]["became_master"] = became
        progress(f"jitter {engine}: {results[engine]}")
    return results


def tables(results: Dict[str, dict], seconds: float) -> str:
    ka, ag = results["keepalived"], results["agent"]

    def row(label: str, key: str, scale: float = 1000, unit: str = " ms", digits: int = 2) -> str:
        return (f"| {label} | {ka[key] * scale:.{digits}f}{unit} | "
                f"{ag[key] * scale:.{digits}f}{unit} |")

    return "\n".join([
        "| VRRPv3 0.01 s, CPU hog on every core | keepalived 2.2.7 | agent |", "|---|---|---|",
        f"| adverts captured from the master | {ka['adverts']} | {ag['adverts']} |",
        row("median interval", "interval_p50"),
        row("interval deviation p50", "p50"), row("interval deviation p99", "p99"),
        row("interval deviation max", "max"),
        f"| spurious failovers (backup's episodes as master) | {ka['spurious']} | "
        f"{ag['spurious']} (became_master counter: {ag.get('became_master', '?')}) |", "",
        f"One {seconds:.0f} s capture (tcpdump on the lab's bridge), both pairs in the same lab "
        "at the same time, one `while True: pass` Python loop pinned with taskset to each CPU. "
        "Deviation = |interval between two adverts of the master - 0.01 s|."])
