"""Why a master's advert goes out late under the CPU hog: the scheduler or the daemon (issue 14).

    sudo PYTHONPATH=files/agent:tests/lab python bench/sched_trace.py [--seconds 20]

The lab and load of bench/jitter.py (keepalived and the agent, each a master
and a backup at VRRPv3 0.01 s, one busy loop pinned to each CPU), traced for
--seconds with `perf record -a -k CLOCK_MONOTONIC` (tracepoints only:
sched_waking, sched_switch, the send syscalls). For each master's thread and
each advert it sent (a sendto/sendmsg entry):
- `wake -> run`: from the last wakeup of the thread before the send to the
  thread running (the scheduler's part: the hog in front of it);
- `run -> send`: from running to the send's syscall (the daemon's part, and
  any preemption in between, counted apart);
- `interval dev.`: |interval between two sends - 0.01 s| at the syscall.
Prints their p50 / p99 / max per engine, and for the sends whose interval
deviates by more than 0.5 ms how much of the excess each part holds, so a
late advert is put down to the scheduler or to the daemon. A developer tool
that needs perf; its lab is jitter.py's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional

from common import Lab, start_engine, wait_until
from jitter import ADVERT_INT, SETUP, TIMERS, _config, _percentile
from takeover_trace import Event, parse, perf_record

EVENTS = ["sched:sched_waking", "sched:sched_switch", "syscalls:sys_enter_sendto",
          "syscalls:sys_enter_sendmsg"]
LATE_S = 0.0005


class Send(NamedTuple):
    at: float
    wake_to_run: float
    run_to_send: float
    preempted: int


def _master_tids(lab: Lab, daemons: Dict[int, object]) -> Dict[str, int]:
    """{engine: the thread that sends the master's adverts} (keepalived: its VRRP child)."""
    tids = {}
    for engine, (master, _b, _v, _vip) in SETUP.items():
        pids = [int(p) for p in subprocess.run(
            ["pgrep", "-f", str(lab.logdir / f"n{master}-")], capture_output=True,
            text=True).stdout.split()]
        if engine == "keepalived":  # the VRRP child is the parent's child
            children = [p for p in pids if _ppid(p) in pids]
            tids[engine] = children[0] if children else pids[-1]
        else:
            tids[engine] = min(pids)
    return tids


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def record(seconds: float, data: Path) -> Dict[str, int]:
    with Lab(nodes=4, client=False) as lab:
        daemons = {}
        for engine, (m, b, vrid, vip) in SETUP.items():
            for node, prio in ((m, 150), (b, 100)):
                daemons[node] = start_engine(lab, engine, node, prio, TIMERS,
                                             _config(engine, vrid, prio, vip, 0))
        for engine, (m, _b, _v, vip) in SETUP.items():
            address = vip.split("/")[0]
            wait_until(lambda n=m, a=address: lab.node(n).has_address(a), 30,
                       message=f"{engine} master")
        tids = _master_tids(lab, daemons)
        for cpu in range(os.cpu_count() or 1):
            lab.switch.popen(["taskset", "-c", str(cpu), sys.executable, "-c", "while True: pass"],
                             name=f"hog{cpu}")
        time.sleep(1.0)
        perf_record(EVENTS, data, ["sleep", str(seconds)])
    return tids


def sends(events: List[Event], tid: int) -> List[Send]:
    woke: Optional[float] = None
    ran: Optional[float] = None
    preempted = 0
    result: List[Send] = []
    for at, _comm, event_tid, name, detail in events:
        if name == "sched:sched_waking" and f" pid={tid} " in detail + " ":
            woke, ran, preempted = at, None, 0
        elif name == "sched:sched_switch" and f"next_pid={tid} " in detail + " ":
            if ran is None:
                ran = at
        elif name == "sched:sched_switch" and f"prev_pid={tid} " in detail and \
                "prev_state=R" in detail:
            preempted += 1
        elif name.startswith("syscalls:sys_enter_send") and event_tid == tid and \
                woke is not None and ran is not None:
            result.append(Send(at, ran - woke, at - ran, preempted))
            woke = ran = None
    return result


def _row(values: List[float]) -> str:
    return " / ".join(f"{v * 1e3:.3f}" for v in (_percentile(values, 0.5),
                                                  _percentile(values, 0.99), max(values)))


def report(per_engine: Dict[str, List[Send]]) -> str:
    lines = ["| engine | sends | wake -> run, ms p50 / p99 / max | run -> send | interval dev. "
             "| sends > 0.5 ms late: count, excess in wake -> run / run -> send, preempted |",
             "|---|---|---|---|---|---|"]
    for engine, rows in per_engine.items():
        if len(rows) < 3:
            lines.append(f"| {engine} | {len(rows)} | | | | |")
            continue
        devs = [abs(b.at - a.at - ADVERT_INT) for a, b in zip(rows, rows[1:])]
        late = [(a, b) for a, b in zip(rows, rows[1:]) if b.at - a.at - ADVERT_INT > LATE_S]
        wake_excess = sum(max(0.0, b.wake_to_run - a.wake_to_run) for a, b in late)
        run_excess = sum(max(0.0, b.run_to_send - a.run_to_send) for a, b in late)
        total = sum(b.at - a.at - ADVERT_INT for a, b in late) or 1.0
        lines.append(
            f"| {engine} | {len(rows)} | {_row([r.wake_to_run for r in rows])} "
            f"| {_row([r.run_to_send for r in rows])} | {_row(devs)} "
            f"| {len(late)}: {wake_excess / total:.0%} / {run_excess / total:.0%}, "
            f"{sum(1 for _a, b in late if b.preempted)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sched-trace-") as tmp:
        data = Path(tmp) / "perf.data"
        tids = record(args.seconds, data)
        events = parse(data)
        print(report({engine: sends(events, tid) for engine, tid in tids.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
