"""Routed failover (announce bgp): event -> the router's route change -> the client's reply.

One routed lab per engine (tests/lab/routedlab.py: two members in different
/26s behind an FRR bgpd + bfdd router, BFD 100 ms x 3, a client behind the
router; node 1 prio 150, node 2 prio 100, VRRPv3 0.1 s unicast). For each
event and run, timed from the event (CLOCK_REALTIME, all namespaces on one
host): the router's kernel route to the VIP moving to node 2 (rtnetlink
watcher in the router namespace), the client's first reply from node 2 (UDP
query every 5 ms), and the moment the router holds one BGP path only (polled
every 50 ms). keepalived 2.2.7 runs beside it the way operators do it today:
the VIP as `198.51.100.200/32 dev lo`, FRR redistributing it the same way.

Events: freeze (SIGSTOP), kill (SIGKILL), linkdown (the router's port to node
1), stop (SIGTERM), switch (agent `takeover` on node 2; keepalived has none).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

from common import AGENT_ARGS, Agent, Keepalived, wait_until
from routedlab import VIP, RoutedLab, member_config

SCENARIOS = ("freeze", "kill", "linkdown", "stop", "switch")
LABELS = {"freeze": "master frozen (SIGSTOP)", "kill": "master killed (SIGKILL)",
          "linkdown": "master link down", "stop": "graceful stop (SIGTERM)",
          "switch": "planned switchover"}
WINDOW_S = 15.0
METRICS = ("route", "reply", "one_path")
Result = Dict[Tuple[str, str, str], List[Optional[float]]]


def keepalived_config(lab: RoutedLab, member, priority: int) -> str:
    """The same instance for keepalived: the VIP as a host route on lo, no lease."""
    text = member_config(lab, member, priority)
    return text.replace(f"        {VIP}/32\n", f"        {VIP}/32 dev lo\n").replace(
        "    announce bgp lease 3\n", "")


class Lines:
    """JSON lines of a routedprobe watcher, collected on a thread."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.items: List[dict] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.items.append(json.loads(line))
            except ValueError:
                continue

    def first(self, t0: float, match: Callable[[dict], bool]) -> Optional[float]:
        found = [i["t"] for i in list(self.items) if i.get("t", 0) >= t0 and match(i)]
        return min(found) - t0 if found else None

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def _start(lab: RoutedLab, engine: str, member, priority: int):
    if engine == "agent":
        return Agent(member, member_config(lab, member, priority), extra_args=AGENT_ARGS)
    return Keepalived(member, keepalived_config(lab, member, priority))


def _converged(lab: RoutedLab, member) -> bool:
    return lab.vip_paths() == [member.ip4] and lab.vip_route() == member.ip4


def _event(lab: RoutedLab, engine: str, scenario: str, n1, n2) -> None:
    if scenario == "freeze":
        n1.engine.freeze()
    elif scenario == "kill":
        n1.engine.kill()
    elif scenario == "linkdown":
        lab.link_down(n1)
    elif scenario == "stop":
        n1.engine.stop()
    elif scenario == "switch":
        n2.engine.cli("takeover", check=True)


def _restore(lab: RoutedLab, engine: str, scenario: str, n1, n2) -> None:
    if scenario == "freeze":
        n1.engine.thaw()
    elif scenario in ("kill", "stop"):
        n1.run(["ip", "addr", "del", f"{VIP}/32", "dev", "lo"], check=False)  # keepalived's leftover
        n1.engine = _start(lab, engine, n1, 150)
    elif scenario == "linkdown":
        lab.link_up(n1)
    elif scenario == "switch":
        n2.engine.cli("release", check=True)
    wait_until(lambda: _converged(lab, n1), 60, interval=0.1, message="back on node 1")


def _one(lab: RoutedLab, engine: str, scenario: str, n1, n2) -> Dict[str, Optional[float]]:
    routes = Lines(lab.watch(lab.router, "routes", "--dst", VIP))
    replies = Lines(lab.watch(lab.client, "ask", "--dst", VIP, "--interval", "0.005"))
    try:
        time.sleep(0.3)
        t0 = time.time()
        _event(lab, engine, scenario, n1, n2)
        one_path: Optional[float] = None
        end = time.monotonic() + WINDOW_S
        while time.monotonic() < end:
            if one_path is None and _converged(lab, n2):
                one_path = time.time() - t0
            got_route = routes.first(t0, lambda i: i["event"] == "new" and i["gw"] == n2.ip4)
            got_reply = replies.first(t0, lambda i: i["who"] == n2.label)
            if one_path is not None and got_route is not None and got_reply is not None:
                break
            time.sleep(0.05)
        return {"route": routes.first(t0, lambda i: i["event"] == "new" and i["gw"] == n2.ip4),
                "reply": replies.first(t0, lambda i: i["who"] == n2.label), "one_path": one_path}
    finally:
        routes.close()
        replies.close()


def measure(runs: int, progress: Callable[[str], None]) -> Result:
    results: Result = {}
    for engine in ("keepalived", "agent"):
        with RoutedLab(2) as lab:
            wait_until(lab.established, 30, message="BGP sessions established")
            n1, n2 = lab.members
            n1.engine = _start(lab, engine, n1, 150)
            n2.engine = _start(lab, engine, n2, 100)
            wait_until(lambda n1=n1: _converged(lab, n1), 30, interval=0.1, message="node 1 announced")
            for scenario in SCENARIOS:
                if scenario == "switch" and engine == "keepalived":
                    continue
                for run in range(runs):
                    got = _one(lab, engine, scenario, n1, n2)
                    for metric in METRICS:
                        results.setdefault((engine, scenario, metric), []).append(got[metric])
                    progress(f"routed {engine} {scenario} run {run + 1}: "
                             + ", ".join(f"{m} {_ms(got[m])}" for m in METRICS))
                    _restore(lab, engine, scenario, n1, n2)
    return results


def _ms(value: Optional[float]) -> str:
    return "none" if value is None else f"{value * 1000:.0f} ms"


def _cell(values: List[Optional[float]]) -> str:
    if not values:
        return "n/a"
    done = [v for v in values if v is not None]
    if not done:
        return f"never within {WINDOW_S:g} s"
    text = f"{statistics.median(done) * 1000:.0f} ms ({min(done) * 1000:.0f}-{max(done) * 1000:.0f})"
    return text if len(done) == len(values) else f"{text}; {len(values) - len(done)} never"


def tables(results: Result, runs: int) -> str:
    head = (f"Median (min-max) of {runs} run(s), from the event: the router's kernel route "
            "moves to the new master (**route**), the client's first reply from it (**reply**), "
            "the router holds one BGP path only (**one path**). BFD 100 ms x 3, VRRPv3 0.1 s "
            "unicast, announce lease 3 s.\n\n")
    rows = ["| event | engine | route | reply | one path |", "|---|---|---|---|---|"]
    for scenario in SCENARIOS:
        for engine in ("agent", "keepalived"):
            cells = [_cell(results.get((engine, scenario, m), [])) for m in METRICS]
            if all(c == "n/a" for c in cells):
                cells = ["n/a (no takeover command)"] + ["n/a"] * 2
            rows.append(f"| {LABELS[scenario]} | {engine} | " + " | ".join(cells) + " |")
    return head + "\n".join(rows)
