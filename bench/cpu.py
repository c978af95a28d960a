"""CPU per 1000 adverts and resident memory: the agent beside keepalived 2.2.7.

For N VRRPv3 instances at 0.1 s (N = 1, 100, 255) on a two-node lab (node 1
master, node 2 backup), each engine runs alone; after the election settles,
utime + stime is read from /proc/PID/stat (every process of the daemon: for
keepalived the parent and its VRRP child) at both ends of a --seconds window.
Adverts in the window: for the agent its own counters (adverts_sent on the
master, adverts_received on the backup, summed over the instances, read over
the control socket at both ends); for keepalived window x N / 0.1 s. Memory:
VmRSS and VmHWM from /proc/PID/status at the end, summed over the processes.
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List

from common import (
    ENGINES,
    Lab,
    cpu_seconds,
    cpu_seconds_precise,
    daemon_pids,
    memory_kib,
    ratio,
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


def measure_one(engine: str, n: int, seconds: float) -> Dict[str, dict]:
    with Lab(nodes=2, client=False) as lab:
        daemons = {node: start_engine(lab, engine, node, 0, {}, config(n, prio))
                   for node, prio in ((1, 150), (2, 100))}
        wait_until(lambda: all(lab.node(1).has_address(f"203.0.113.{v}") for v in (1, n)), 60)
        time.sleep(2.0)  # past the gratuitous ARP bursts of the election
        pids = {node: daemon_pids(d) for node, d in daemons.items()}
        adverts0 = {node: _agent_adverts(d, ROLES[node]) if engine == "agent" else 0
                    for node, d in daemons.items()}
        cpu0 = {node: (cpu_seconds(p), cpu_seconds_precise(p)) for node, p in pids.items()}
        t0 = time.monotonic()
        time.sleep(seconds)
        cpu1 = {node: (cpu_seconds(p), cpu_seconds_precise(p)) for node, p in pids.items()}
        window = time.monotonic() - t0
        out = {}
        for node, daemon in daemons.items():
            role = ROLES[node]
            if engine == "agent":
                adverts = _agent_adverts(daemon, role) - adverts0[node]
            else:
                adverts = round(window * n / ADVERT_INT)
            mem = memory_kib(pids[node])
            per_1000 = [(cpu1[node][k] - cpu0[node][k]) / max(adverts, 1) * 1000 for k in (0, 1)]
            out[role] = {"cpu_per_1000": per_1000[1], "ticks_per_1000": per_1000[0],
                         "adverts": adverts, "rss_mib": mem["VmRSS"] / 1024,
                         "hwm_mib": mem["VmHWM"] / 1024}
        return out


def measure(instances: List[int], seconds: float, progress: Callable[[str], None]) -> dict:
    results = {}
    for n in instances:
        for engine in ENGINES:
            results[(n, engine)] = measure_one(engine, n, seconds)
            for role, r in results[(n, engine)].items():
                progress(f"cpu {n:3} {engine:10} {role}: {r['cpu_per_1000']:.4f} s/1000 adverts "
                         f"(stat ticks {r['ticks_per_1000']:.4f}) "
                         f"({r['adverts']} adverts), RSS {r['rss_mib']:.1f} MiB, "
                         f"HWM {r['hwm_mib']:.1f} MiB")
    return results


def tables(results: dict, seconds: float) -> str:
    instances = sorted({k[0] for k in results})
    lines = ["| instances | role | keepalived CPU s / 1000 adverts | agent | ratio | "
             "keepalived RSS (HWM) MiB | agent RSS (HWM) MiB |", "|---|---|---|---|---|---|---|"]
    for n in instances:
        ka, ag = results[(n, "keepalived")], results[(n, "agent")]
        for role in ("master", "backup"):
            k, a = ka[role], ag[role]
            lines.append(f"| {n} | {role} | {k['cpu_per_1000']:.4f} | {a['cpu_per_1000']:.4f} | "
                         f"{ratio(a['cpu_per_1000'], k['cpu_per_1000'])} | "
                         f"{k['rss_mib']:.1f} ({k['hwm_mib']:.1f}) | "
                         f"{a['rss_mib']:.1f} ({a['hwm_mib']:.1f}) |")
    return "\n".join([
        *lines, "",
        f"VRRPv3 at {ADVERT_INT} s, one {seconds:.0f} s window per point, each engine alone on "
        "the lab. CPU is the time on CPU of every thread of every process of the daemon, from "
        "/proc/PID/task/TID/schedstat (ns resolution); utime + stime from /proc/PID/stat (10 ms "
        "ticks) agrees with it within a tick but reads 0 for one keepalived instance. "
        "Adverts: the "
        "agent's own counters (sent on the master, received on the backup); keepalived: "
        "window x instances / advert_int. keepalived's memory is its parent plus its VRRP "
        "child."])
