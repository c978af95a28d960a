"""Advert interval jitter and spurious failovers at 0.01 s under a CPU hog.

One four-node lab: keepalived on nodes 1 (prio 150) and 2 (prio 100), VRID 51;
the agent on nodes 3 (prio 150) and 4 (prio 100), VRID 52; the same VRRPv3
0.01 s timers, the same load: one busy loop pinned (taskset) to each CPU of
the machine, so the daemons share their cores with a hog. tcpdump on the
switch's bridge records every advert for --seconds. Per engine: the master's
inter-advert intervals minus advert_int (p50, p99 of |deviation|, max), and
spurious failovers: the backup's episodes as master while the master is alive
(runs of adverts sent by the backup, seen on the wire; a gap over 1 s starts a
new episode), cross-checked with the agent's became_master counter. Each
episode is also told apart by its cause, on the wire: the master's adverts
had stopped for a Master_Down_Interval before it (the master was not
scheduled: a backup that takes over then does what RFC 5798 §6.4.2 asks), or
they had not (the backup's own fault).

Measured twice: with normal scheduling, and with `vrrp_rt_priority 50` in both
daemons' global_defs (SCHED_RR, keepalived's knob against late adverts, which
the agent implements too); the hogs stay at normal priority.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List

from common import Lab, agent_instance, keepalived_instance, start_engine, wait_until
from vrrp_agent.timing import master_down_interval_s

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


def _episodes(stamps: List[float]) -> List[float]:
    """When each run of adverts in STAMPS started (a gap over 1 s starts a new one)."""
    return [t for i, t in enumerate(stamps) if i == 0 or t - stamps[i - 1] > 1.0]


MASTER_DOWN_S = master_down_interval_s(3, 100, round(ADVERT_INT * 100))  # the backups' (prio 100)


def _context(episode: float, master: List[float]) -> str:
    """What the wire showed of the master before the backup's EPISODE: the time since
    its last advert and its longest gap in the 0.2 s before (ms)."""
    before = [t for t in master if episode - 0.2 <= t < episode]
    if not before:
        return "no advert from the master in the 0.2 s before"
    gaps = [b - a for a, b in zip(before, before[1:])] + [episode - before[-1]]
    return (f"{(episode - before[-1]) * 1e3:.1f} ms after the master's last advert, "
            f"its longest gap in the 0.2 s before {max(gaps) * 1e3:.1f} ms")


def _after_silence(episode: float, master: List[float]) -> bool:
    """The backup's EPISODE began after the master had sent nothing for a
    Master_Down_Interval (a silence on the wire)."""
    before = [t for t in master if t < episode]
    return not before or episode - before[-1] >= MASTER_DOWN_S - 0.001


RT_PRIORITY = 50
VARIANTS = {"normal scheduling": 0, f"vrrp_rt_priority {RT_PRIORITY}": RT_PRIORITY}


def _config(engine: str, vrid: int, prio: int, vip: str, rt_priority: int) -> str:
    knob = f"    vrrp_rt_priority {rt_priority}\n" if rt_priority else ""
    if engine == "keepalived":
        return keepalived_instance(vrid=vrid, priority=prio, vips=(vip,), global_defs=knob, **TIMERS)
    head = f"global_defs {{\n{knob}}}\n" if knob else ""
    return head + agent_instance(vrid=vrid, priority=prio, vips=(vip,), **TIMERS)


def measure(seconds: float, progress: Callable[[str], None]) -> Dict[str, Dict[str, dict]]:
    """{variant: {engine: figures}} for each scheduling variant."""
    return {variant: measure_one(seconds, progress, rt) for variant, rt in VARIANTS.items()}


def measure_one(seconds: float, progress: Callable[[str], None], rt_priority: int) -> Dict[str, dict]:
    with Lab(nodes=4, client=False) as lab:
        daemons = {}
        for engine, (m, b, vrid, vip) in SETUP.items():
            for node, prio in ((m, 150), (b, 100)):
                daemons[node] = start_engine(lab, engine, node, prio, TIMERS,
                                             _config(engine, vrid, prio, vip, rt_priority))
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
        progress(f"jitter: capturing {seconds:.0f} s of 0.01 s adverts under {os.cpu_count()} hogs"
                 f" (vrrp_rt_priority {rt_priority or 'unset'})")
        time.sleep(seconds)
        cap.terminate()
        cap.wait(5)
        became = daemons[4].instance()["counters"]["became_master"] - became0
        for line in daemons[4].log_text().splitlines():
            if "MASTER" in line and "->" in line:
                progress(f"jitter agent backup: {line}")
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
        }
        episodes = _episodes(wire.get(lab.node(b).ip4, []))
        results[engine]["spurious"] = len(episodes)
        results[engine]["after_silence"] = sum(_after_silence(e, stamps) for e in episodes)
        results[engine]["episodes"] = [_context(e, stamps) for e in episodes]
        results[engine]["silences"] = sum(1 for i in range(1, len(stamps))
                                          if stamps[i] - stamps[i - 1] >= MASTER_DOWN_S)
        if engine == "agent":
            results[engine]["became_master"] = became
        progress(f"jitter {engine}: {results[engine]}")
    return results


def tables(variants: Dict[str, Dict[str, dict]], seconds: float) -> str:
    names = list(variants)
    head = "| VRRPv3 0.01 s, CPU hog on every core | " + " | ".join(
        f"keepalived 2.2.7, {v} | agent, {v}" for v in names) + " |"

    def cells(fmt: Callable[[dict], str]) -> str:
        return " | ".join(f"{fmt(variants[v]['keepalived'])} | {fmt(variants[v]['agent'])}" for v in names)

    def ms(key: str) -> Callable[[dict], str]:
        return lambda r: f"{r[key] * 1000:.2f} ms"

    def spurious(r: dict) -> str:
        extra = f" (became_master counter: {r['became_master']})" if "became_master" in r else ""
        return f"{r['spurious']}{extra}, {r.get('after_silence', 0)} after a silence"

    rows = [head, "|---|" + "---|" * (2 * len(names)),
            f"| adverts captured from the master | {cells(lambda r: str(r['adverts']))} |",
            f"| median interval | {cells(ms('interval_p50'))} |",
            f"| interval deviation p50 | {cells(ms('p50'))} |",
            f"| interval deviation p99 | {cells(ms('p99'))} |",
            f"| interval deviation max | {cells(ms('max'))} |",
            f"| master's silences of a Master_Down_Interval or more ({MASTER_DOWN_S * 1e3:.1f} ms) | "
            f"{cells(lambda r: str(r.get('silences', 0)))} |",
            f"| spurious failovers (backup's episodes as master) | {cells(spurious)} |", "",
            f"One {seconds:.0f} s capture per variant (tcpdump on the lab's bridge), both pairs in the "
            "same lab at the same time, one `while True: pass` Python loop pinned with taskset to each "
            "CPU. Deviation = |interval between two adverts of the master - 0.01 s|. A spurious failover "
            "\"after a silence\" followed a silence of the master's adverts on the wire as long as the "
            "backup's Master_Down_Interval (the master was not scheduled for that long; the backup did "
            "what RFC 5798 §6.4.2 asks). The second "
            f"variant sets `vrrp_rt_priority {RT_PRIORITY}` in both daemons' global_defs."]
    return "\n".join(rows)
