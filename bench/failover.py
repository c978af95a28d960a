"""Side-by-side failover figures: the agent and keepalived 2.2.7 in the same namespace lab.

For each engine and timer set, on a fresh two-node lab per run (node 1 prio 150
master, node 2 prio 100 backup), the client times the event -> the first
gratuitous ARP from node 2 (kernel receive timestamps):

- freeze:   SIGSTOP of the master (hung master: 3 x advert + skew by the RFC)
- stop:     SIGTERM of the master (priority 0: skew time)
- switch:   planned switchover on node 2. Agent: `vrrp-agent takeover`.
            keepalived has no such command; its best equivalent on one node is
            raising node 2's priority to 254 and reloading (SIGHUP).

Prints a markdown table (median, min-max, ratio agent/keepalived) and, with
--write FILE, writes it with the machine description. Run as root:
    make bench    (= PYTHONPATH=files/agent python bench/failover.py --write docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))

from agentlab import Agent, agent_instance  # noqa: E402
from netlab import Keepalived, Lab, keepalived_instance, wait_until  # noqa: E402
from vrrp_agent.control import request  # noqa: E402

VIP = "198.51.100.100"
SCENARIOS = ("freeze", "stop", "switch", "switch-cli")
TIMERS = {"v2 1 s": dict(version=2, advert_int=1), "v3 0.1 s": dict(version=3, advert_int=0.1)}


def _start(lab: Lab, engine: str, node: int, priority: int, timers: dict):
    if engine == "agent":
        return Agent(lab.node(node), agent_instance(priority=priority, **timers))
    return Keepalived(lab.node(node), keepalived_instance(priority=priority, **timers))


def _first_garp_after(watcher, mac: str, t0: float, timeout: float) -> float:
    found: List[float] = []

    def seen() -> bool:
        found[:] = [t for t, m in watcher.events() if m == mac and t >= t0]
        return bool(found)

    wait_until(seen, timeout, message="gratuitous ARP from the new master")
    return min(found) - t0


def one_run(engine: str, timers: dict, scenario: str) -> float:
    with Lab(nodes=2) as lab:
        master = _start(lab, engine, 1, 150, timers)
        backup = _start(lab, engine, 2, 100, timers)
        wait_until(lambda: lab.owner_nodes(VIP, timeout=0.1) == {1}, 30)
        time.sleep(max(0.5, 3 * timers["advert_int"]))  # steady state, GARP bursts over
        watcher = lab.watch_garp(VIP)
        t0 = time.time()
        if scenario == "freeze":
            master.freeze()
        elif scenario == "stop":
            master.proc.send_signal(15)  # type: ignore[union-attr]
        elif engine == "agent" and scenario == "switch-cli":
            subprocess.run(backup.cli_argv("takeover"), check=True, capture_output=True,
                           env=dict(os.environ, PYTHONPATH=str(REPO / "files" / "agent")))
        elif engine == "agent":
            request(backup.socket, "takeover")  # what the Ansible module does
        else:
            backup.conf_path.write_text(keepalived_instance(priority=254, **timers))
            os.kill(backup.pid, 1)
        elapsed = _first_garp_after(watcher, lab.node(2).mac, t0, 30)
        watcher.close()
        if scenario == "freeze":
            master.thaw()
        return elapsed


def measure(runs: int, progress: Callable[[str], None]) -> Dict[Tuple[str, str, str], List[float]]:
    results: Dict[Tuple[str, str, str], List[float]] = {}
    for tname, timers in TIMERS.items():
        for scenario in SCENARIOS:
            for engine in ("keepalived", "agent"):
                if scenario == "switch-cli" and engine == "keepalived":
                    continue
                key = (tname, scenario, engine)
                results[key] = []
                for i in range(runs):
                    value = one_run(engine, timers, scenario)
                    results[key].append(value)
                    progress(f"{tname:9} {scenario:7} {engine:10} run {i + 1}: {value * 1000:8.1f} ms")
    return results


def _fmt(values: List[float]) -> str:
    med = statistics.median(values) * 1000
    return f"{med:.1f} ms ({min(values) * 1000:.1f}-{max(values) * 1000:.1f})"


def table(results: Dict[Tuple[str, str, str], List[float]], runs: int) -> str:
    label = {"freeze": "master frozen (SIGSTOP)", "stop": "graceful stop (SIGTERM)",
             "switch": "planned switchover", "switch-cli": "planned switchover, CLI"}
    lines = ["| timers | event | keepalived 2.2.7 | agent | ratio agent/keepalived |",
             "|---|---|---|---|---|"]
    for tname in TIMERS:
        for scenario in SCENARIOS:
            ka = results[(tname, "switch" if scenario == "switch-cli" else scenario, "keepalived")]
            ag = results[(tname, scenario, "agent")]
            ratio = statistics.median(ag) / statistics.median(ka)
            lines.append(f"| {tname} | {label[scenario]} | {_fmt(ka)} | {_fmt(ag)} | {ratio:.2f} |")
    lines.append("")
    lines.append(f"Median of {runs} runs (min-max). Time from the event to the first gratuitous "
                 "ARP of the new master, seen by a client namespace (kernel timestamps).")
    lines.append("")
    lines.append("Planned switchover: the agent's `takeover` request on its control socket (what "
                 "the Ansible module sends); \"CLI\" also counts starting the `vrrp-agent` Python "
                 "process. keepalived has no switchover command: its best one-node equivalent is "
                 "raising the backup's priority to 254 and reloading, after which the backup still "
                 "waits out the master-down interval (it ignores the lower-priority master).")
    return "\n".join(lines)


def machine() -> str:
    ka = subprocess.run(["keepalived", "--version"], capture_output=True, text=True)
    ka_version = (ka.stdout + ka.stderr).splitlines()[0] if ka.returncode == 0 else "?"
    return (f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, kernel {platform.release()}\n"
            f"- python {platform.python_version()}; {ka_version}\n"
            f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", metavar="FILE", help="also write the results to FILE")
    args = parser.parse_args(argv)
    if os.geteuid() != 0 or shutil.which("keepalived") is None:
        print("bench needs root and keepalived (apt-get install keepalived)", file=sys.stderr)
        return 2
    results = measure(args.runs, lambda line: print(line, flush=True))
    text = table(results, args.runs)
    print()
    print(text)
    if args.write:
        doc = ("# Benchmarks: the agent beside keepalived\n\n"
               "Produced by `make bench` (bench/failover.py); both daemons run in the same "
               "network-namespace lab in the same run. Figures are measurements, not "
               "assertions: the machine is shared.\n\n"
               f"{machine()}\n\n## Failover and switchover\n\n{text}\n")
        Path(args.write).write_text(doc)
        print(f"\nwritten to {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
