"""Failover and switchover: the agent beside keepalived 2.2.7 in the same namespace lab.

For each engine, timer set and event, on a fresh two-node lab per run (node 1
prio 150 master, node 2 prio 100 backup, an HTTP server on each node and a
client GETting the VIP every 10 ms), the client namespace times the event -> the
first gratuitous ARP from node 2 (kernel receive timestamps), and counts the
failed HTTP requests and the longest gap between two successful replies.

Events: freeze (SIGSTOP of the master's VRRP process), kill (SIGKILL of the
master's process group), linkdown (the master's eth0 set down), stop (SIGTERM:
priority 0), switch (agent: `takeover` on the control socket; keepalived has
no such command, its one-node equivalent is priority 254 + reload), switch-cli
(agent: the `vrrp-agent takeover` CLI, counting the Python start).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import time
from typing import Callable, Dict, List, Tuple

from common import (
    ENGINES,
    REPO,
    TIMERS,
    VIP,
    Lab,
    fmt_ms,
    keepalived_instance,
    ratio,
    start_engine,
    wait_until,
)
from outage import Outage
from vrrp_agent.control import request

SCENARIOS = ("freeze", "kill", "linkdown", "stop", "switch", "switch-cli")
LABELS = {"freeze": "master frozen (SIGSTOP)", "kill": "master killed (SIGKILL)",
          "linkdown": "master link down", "stop": "graceful stop (SIGTERM)",
          "switch": "planned switchover", "switch-cli": "planned switchover, CLI"}
Key = Tuple[str, str, str]
Sample = Tuple[float, dict]


def _first_garp_after(watcher, mac: str, t0: float, timeout: float) -> float:
    found: List[float] = []

    def seen() -> bool:
        found[:] = [t for t, m in watcher.events() if m == mac and t >= t0]
        return bool(found)

    wait_until(seen, timeout, message="gratuitous ARP from the new master")
    return min(found) - t0


def _event(lab: Lab, engine: str, scenario: str, master, backup, timers: dict) -> None:
    if scenario == "freeze":
        master.freeze()
    elif scenario == "kill":
        master.kill()
    elif scenario == "linkdown":
        lab.node(1).link_down("eth0")
    elif scenario == "stop":
        master.proc.send_signal(signal.SIGTERM)
    elif engine == "agent" and scenario == "switch-cli":
        subprocess.run(backup.cli_argv("takeover"), check=True, capture_output=True,
                       env=dict(os.environ, PYTHONPATH=str(REPO / "files" / "agent")))
    elif engine == "agent":
        request(backup.socket, "takeover")  # what the Ansible module does
    else:
        backup.conf_path.write_text(keepalived_instance(priority=254, **timers))
        os.kill(backup.pid, signal.SIGHUP)


def one_run(engine: str, timers: dict, scenario: str) -> Sample:
    with Lab(nodes=2) as lab:
        master = start_engine(lab, engine, 1, 150, timers)
        backup = start_engine(lab, engine, 2, 100, timers)
        wait_until(lambda: lab.owner_nodes(VIP, timeout=0.1) == {1}, 30)
        time.sleep(max(0.5, 3 * timers["advert_int"]))  # steady state, GARP bursts over
        outage = Outage(lab)
        watcher = lab.watch_garp(VIP)
        time.sleep(0.3)  # the client's baseline
        t0 = time.time()
        _event(lab, engine, scenario, master, backup, timers)
        elapsed = _first_garp_after(watcher, lab.node(2).mac, t0, 30)
        time.sleep(0.5 + timers["advert_int"])  # let the client see the new master
        http = outage.result()
        watcher.close()
        if scenario == "freeze":
            master.thaw()
        return elapsed, http


def measure(runs: int, timer_names: List[str], progress: Callable[[str], None]) -> Dict[Key, List[Sample]]:
    results: Dict[Key, List[Sample]] = {}
    for tname in timer_names:
        for scenario in SCENARIOS:
            for engine in ENGINES:
                if scenario == "switch-cli" and engine == "keepalived":
                    continue
                key = (tname, scenario, engine)
                results[key] = []
                for i in range(runs):
                    elapsed, http = one_run(engine, TIMERS[tname], scenario)
                    results[key].append((elapsed, http))
                    progress(f"{tname:9} {scenario:10} {engine:10} run {i + 1}: "
                             f"{elapsed * 1000:8.1f} ms, http {http['failed']}/{http['requests']} "
                             f"failed, gap {http['longest_gap'] * 1000:.0f} ms")
    return results


def _http(samples: List[Sample]) -> str:
    failed = statistics.median(h["failed"] for _, h in samples)
    gap = [h["longest_gap"] for _, h in samples]
    return f"{failed:.0f} failed, gap {fmt_ms(gap)}"


def tables(results: Dict[Key, List[Sample]], runs: int) -> str:
    timer_names = list(dict.fromkeys(k[0] for k in results))
    lines = ["| timers | event | keepalived 2.2.7 | agent | ratio agent/keepalived |",
             "|---|---|---|---|---|"]
    http = ["| timers | event | keepalived 2.2.7 | agent |", "|---|---|---|---|"]
    for tname in timer_names:
        for scenario in SCENARIOS:
            ka = results[(tname, "switch" if scenario == "switch-cli" else scenario, "keepalived")]
            ag = results[(tname, scenario, "agent")]
            ka_t, ag_t = [s[0] for s in ka], [s[0] for s in ag]
            lines.append(f"| {tname} | {LABELS[scenario]} | {fmt_ms(ka_t)} | {fmt_ms(ag_t)} | "
                         f"{ratio(statistics.median(ag_t), statistics.median(ka_t))} |")
            http.append(f"| {tname} | {LABELS[scenario]} | {_http(ka)} | {_http(ag)} |")
    return "\n".join([
        *lines, "",
        f"Median of {runs} runs (min-max). Time from the event to the first gratuitous ARP "
        "of the new master, seen by a client namespace (kernel timestamps).", "",
        "Planned switchover: the agent's `takeover` request on its control socket (what the "
        "Ansible module sends); \"CLI\" also counts starting the `vrrp-agent` Python process. "
        "keepalived has no switchover command: its best one-node equivalent is raising the "
        "backup's priority to 254 and reloading, after which the backup still waits out the "
        "master-down interval (it ignores the lower-priority master).", "",
        "### Client-visible outage", "",
        "An HTTP server (`python -m http.server`) on each node, a client GETting the VIP every "
        "10 ms (new connection, 100 ms timeout) during the same runs: median failed requests, "
        "and the longest gap between two successful replies, median (min-max).", "",
        *http])
