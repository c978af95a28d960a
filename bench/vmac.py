"""use_vmac failover: the agent beside keepalived 2.2.7, both with a virtual MAC.

For each engine, event and run, a fresh two-node lab (node 1 prio 150 master,
node 2 prio 100 backup, both `use_vmac`): the client namespace times the event
-> the first gratuitous ARP for the VIP from the virtual MAC 00:00:5e:00:01:33
(kernel receive timestamps), and counts the failed HTTP requests to the VIP
(bench/outage.py). Events: freeze (SIGSTOP of the master's VRRP process) and
stop (SIGTERM: priority 0). The old master is frozen or gone, so every vMAC
GARP after the event is the new master's.

Also "first GARP at start": a lone node started as state MASTER priority 255
(the address owner, no master-down wait), from the process start to its first
vMAC GARP: the cost of creating the macvlan and its sysctls at start.
"""

from __future__ import annotations

import signal
import statistics
import time
from typing import Callable, Dict, List, Tuple

from common import (
    ENGINES,
    TIMERS,
    VIP,
    Lab,
    agent_instance,
    fmt_ms,
    keepalived_instance,
    ratio,
    start_engine,
    wait_until,
)
from outage import Outage

VMAC = "00:00:5e:00:01:33"  # VRID 51
EVENTS = ("freeze", "stop", "start", "start-plain")
LABELS = {"freeze": "master frozen (SIGSTOP)", "stop": "graceful stop (SIGTERM)",
          "start": "first GARP at start (owner)",
          "start-plain": "the same without use_vmac (baseline)"}
EXTRA = "    use_vmac\n"
Key = Tuple[str, str, str]
Sample = Tuple[float, dict]


def _config(engine: str, priority: int, timers: dict, state: str = "BACKUP",
            extra: str = EXTRA) -> str:
    make = agent_instance if engine == "agent" else keepalived_instance
    return make(priority=priority, state=state, extra=extra, **timers)


def _first_vmac_garp(watcher, t0: float, timeout: float, mac: str = VMAC) -> float:
    found: List[float] = []

    def seen() -> bool:
        found[:] = [t for t, m in watcher.events() if m == mac and t >= t0]
        return bool(found)

    wait_until(seen, timeout, message="gratuitous ARP from the vMAC")
    return min(found) - t0


def one_failover(engine: str, timers: dict, event: str) -> Sample:
    with Lab(nodes=2) as lab:
        master = start_engine(lab, engine, 1, 150, timers, _config(engine, 150, timers))
        start_engine(lab, engine, 2, 100, timers, _config(engine, 100, timers))
        wait_until(lambda: lab.owners(VIP, timeout=0.1) == {VMAC}, 30)
        time.sleep(max(0.5, 3 * timers["advert_int"]))  # steady state, GARP bursts over
        outage = Outage(lab)
        watcher = lab.watch_garp(VIP)
        time.sleep(0.3)
        t0 = time.time()
        if event == "freeze":
            master.freeze()
        else:
            assert master.proc is not None
            master.proc.send_signal(signal.SIGTERM)
        elapsed = _first_vmac_garp(watcher, t0, 30)
        time.sleep(0.5 + timers["advert_int"])
        http = outage.result()
        watcher.close()
        if event == "freeze":
            master.thaw()
        return elapsed, http


def one_start(engine: str, timers: dict, use_vmac: bool = True) -> Sample:
    with Lab(nodes=1) as lab:
        watcher = lab.watch_garp(VIP)
        t0 = time.time()
        text = _config(engine, 255, timers, "MASTER", EXTRA if use_vmac else "")
        start_engine(lab, engine, 1, 255, timers, text)
        elapsed = _first_vmac_garp(watcher, t0, 30, VMAC if use_vmac else lab.node(1).mac)
        watcher.close()
        return elapsed, {}


def measure(runs: int, timer_names: List[str], progress: Callable[[str], None]) -> Dict[Key, List[Sample]]:
    results: Dict[Key, List[Sample]] = {}
    for tname in timer_names:
        for event in EVENTS:
            for engine in ENGINES:
                key = (tname, event, engine)
                results[key] = []
                for i in range(runs):
                    if event.startswith("start"):
                        sample = one_start(engine, TIMERS[tname], event == "start")
                    else:
                        sample = one_failover(engine, TIMERS[tname], event)
                    results[key].append(sample)
                    http = sample[1]
                    progress(f"vmac {tname:9} {event:7} {engine:10} run {i + 1}: "
                             f"{sample[0] * 1000:8.1f} ms"
                             + (f", http {http['failed']}/{http['requests']} failed" if http else ""))
    return results


def tables(results: Dict[Key, List[Sample]], runs: int) -> str:
    timer_names = list(dict.fromkeys(k[0] for k in results))
    lines = ["| timers | event | keepalived 2.2.7 | agent | ratio agent/keepalived |",
             "|---|---|---|---|---|"]
    for tname in timer_names:
        for event in EVENTS:
            ka = [s[0] for s in results[(tname, event, "keepalived")]]
            ag = [s[0] for s in results[(tname, event, "agent")]]
            lines.append(f"| {tname} | {LABELS[event]} | {fmt_ms(ka)} | {fmt_ms(ag)} | "
                         f"{ratio(statistics.median(ag), statistics.median(ka))} |")
    http = []
    for tname in timer_names:
        for event in ("freeze", "stop"):
            for engine in ENGINES:
                failed = [s[1]["failed"] for s in results[(tname, event, engine)]]
                http.append(f"{engine} {event} {statistics.median(failed):.0f}")
    return "\n".join([
        *lines, "",
        f"Both nodes run `use_vmac` (the macvlan vrrp.51, MAC {VMAC}). Median of {runs} runs "
        "(min-max): from the event to the first gratuitous ARP from the virtual MAC, seen by a "
        "client namespace (kernel timestamps); \"first GARP at start\": a lone owner (state "
        "MASTER, priority 255) from the process start, which includes creating the macvlan "
        "(and, for the agent, starting Python: compare with the baseline row).",
        "", "Failed HTTP requests to the VIP during the failovers (median): " + ", ".join(http) + "."])
