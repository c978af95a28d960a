"""CPU per 1000 adverts and resident memory: the agent beside keepalived 2.2.7.

For N VRRPv3 instances at 0.1 s (N = 1, 100, 255), both engines run at the
same time, each on its own two-node lab (node 1 master, node 2 backup), and
are measured over the same window: load from other work on a shared machine
comes and goes, and hits both engines alike only when they are measured
together (the earlier alternation, one engine after the other, let
keepalived's small figures double from one run to the next). After both
elections settle, the time on CPU of every thread of every process of each
daemon (for keepalived the parent and its VRRP child) is read at both ends of
a --seconds window. Adverts in the window: for the agent its own counters
(adverts_sent on the master, adverts_received on the backup, summed over the
instances, read over the control socket at both ends); for keepalived window
x N / 0.1 s. Memory: VmRSS and VmHWM from /proc/PID/status at the end,
summed over the processes. Each point is measured --rounds times; the table
gives the median figure and the median ratio with its spread (min-max) over
the rounds.
"""

from __future__ import annotations

import statistics
import time
from contextlib import ExitStack
from typing import Callable, Dict, List

import common
from common import (
    ENGINES,
    Lab,
    cpu_seconds,
    cpu_seconds_precise,
    daemon_pids,
    memory_kib,
    start_engine,
    wait_until,
)

ADVERT_INT = 0.1
ROLES = {1: "master", 2: "backup"}
COUNTER = {"master": "adverts_sent", "backup": "adverts_received"}


def config(n: int, priority: int) -> str:
    return "".join(
        f"vrrp_instance VI_{vrid} {{\n    state BACKUP\n    interface eth0\n"
        f"    virtual_router_id {vrid}\n    priority {priority}\n    advert_int {ADVERT_INT}\n"
        f"    version 3\n    virtual_ipaddress {{\n        203.0.113.{vrid}/32\n    }}\n}}\n"
        for vrid in range(1, n + 1))


def _agent_adverts(daemon, role: str) -> int:
    return sum(i["counters"][COUNTER[role]] for i in daemon.status()["instances"])


def measure_window(n: int, seconds: float) -> Dict[str, Dict[str, dict]]:
    """{engine: {role: figures}}: both engines on their own labs, one shared window."""
    with ExitStack() as stack:
        labs = {engine: stack.enter_context(Lab(nodes=2, client=False)) for engine in ENGINES}
        daemons = {(engine, node): start_engine(labs[engine], engine, node, 0, {}, config(n, prio))
                   for engine in ENGINES for node, prio in ((1, 150), (2, 100))}
        for engine, lab in labs.items():
            wait_until(lambda lab=lab: all(lab.node(1).has_address(f"203.0.113.{v}")
                                           for v in (1, n)), 60, message=f"{engine} master")
        time.sleep(2.0)  # past the gratuitous ARP bursts of the elections
        pids = {key: daemon_pids(d) for key, d in daemons.items()}
        adverts0 = {key: _agent_adverts(d, ROLES[key[1]]) if key[0] == "agent" else 0
                    for key, d in daemons.items()}
        cpu0 = {key: cpu_seconds_precise(p) for key, p in pids.items()}
        ticks0 = {key: cpu_seconds(p) for key, p in pids.items()}
        t0 = time.monotonic()
        time.sleep(seconds)
        cpu1 = {key: cpu_seconds_precise(p) for key, p in pids.items()}
        ticks1 = {key: cpu_seconds(p) for key, p in pids.items()}
        window = time.monotonic() - t0
        out: Dict[str, Dict[str, dict]] = {engine: {} for engine in ENGINES}
        for key, daemon in daemons.items():
            engine, role = key[0], ROLES[key[1]]
            if engine == "agent":
                adverts = _agent_adverts(daemon, role) - adverts0[key]
            else:
                adverts = round(window * n / ADVERT_INT)
            mem = memory_kib(pids[key])
            per = max(adverts, 1) / 1000
            out[engine][role] = {"cpu_per_1000": (cpu1[key] - cpu0[key]) / per,
                                 "ticks_per_1000": (ticks1[key] - ticks0[key]) / per,
                                 "adverts": adverts, "rss_mib": mem["VmRSS"] / 1024,
                                 "hwm_mib": mem["VmHWM"] / 1024}
        return out


def _median_figures(rounds: List[Dict[str, dict]]) -> Dict[str, dict]:
    return {role: {key: statistics.median(r[role][key] for r in rounds) for key in rounds[0][role]}
            for role in rounds[0]}


def measure(instances: List[int], seconds: float, progress: Callable[[str], None],
            rounds: int = 3) -> dict:
    """{(n, engine): {role: median figures}} and {(n, "ratios"): {role: [ratio per round]}}."""
    results: dict = {}
    for n in instances:
        per_round = []
        for i in range(rounds):
            res = measure_window(n, seconds)
            per_round.append(res)
            for role in ("master", "backup"):
                k, a = res["keepalived"][role], res["agent"][role]
                progress(f"cpu {n:3} round {i + 1} {role}: keepalived {k['cpu_per_1000']:.4f}, "
                         f"agent {a['cpu_per_1000']:.4f} s/1000 adverts ({a['adverts']} adverts), "
                         f"ratio {a['cpu_per_1000'] / k['cpu_per_1000']:.2f}; RSS "
                         f"{k['rss_mib']:.1f} / {a['rss_mib']:.1f} MiB")
        for engine in ENGINES:
            results[(n, engine)] = _median_figures([r[engine] for r in per_round])
        results[(n, "ratios")] = {
            role: [r["agent"][role]["cpu_per_1000"] / r["keepalived"][role]["cpu_per_1000"]
                   for r in per_round] for role in ("master", "backup")}
    return results


def tables(results: dict, seconds: float) -> str:
    instances = sorted({k[0] for k in results})
    lines = ["| instances | role | keepalived CPU s / 1000 adverts | agent | ratio (min-max) | "
             "keepalived RSS (HWM) MiB | agent RSS (HWM) MiB |", "|---|---|---|---|---|---|---|"]
    rounds = 0
    for n in instances:
        ka, ag, ratios = results[(n, "keepalived")], results[(n, "agent")], results[(n, "ratios")]
        for role in ("master", "backup"):
            k, a, r = ka[role], ag[role], ratios[role]
            rounds = len(r)
            lines.append(f"| {n} | {role} | {k['cpu_per_1000']:.4f} | {a['cpu_per_1000']:.4f} | "
                         f"{statistics.median(r):.2f} ({min(r):.2f}-{max(r):.2f}) | "
                         f"{k['rss_mib']:.1f} ({k['hwm_mib']:.1f}) | "
                         f"{a['rss_mib']:.1f} ({a['hwm_mib']:.1f}) |")
    return "\n".join([
        *lines, "",
        f"VRRPv3 at {ADVERT_INT} s. Both engines run at the same time, each on its own two-node "
        f"lab, measured over the same {seconds:.0f} s window; {rounds} rounds per point: median "
        "figures, and the median ratio agent/keepalived with its spread over the rounds. CPU is "
        "the time on CPU of every thread of every process of the daemon, from "
        "/proc/PID/task/TID/schedstat (ns resolution). Adverts: the agent's own counters (sent "
        "on the master, received on the backup); keepalived: window x instances / advert_int. "
        "keepalived's memory is its parent plus its VRRP child."])


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", default="1,255", help="comma-separated instance counts")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--agent-python", default=common.AGENT_PYTHON,
                        help="interpreter for the agent (the event loop: VRRP_AGENT_EVENT_LOOP)")
    args = parser.parse_args()
    common.AGENT_PYTHON = args.agent_python
    counts = [int(x) for x in args.instances.split(",")]
    res = measure(counts, args.seconds, lambda line: print(line, flush=True), args.rounds)
    print()
    print(tables(res, args.seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
