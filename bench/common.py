"""Shared lab plumbing for the bench scripts: engines, timers, /proc readings, formatting.

Rules: every lab is a `netlab.Lab` context manager (namespaces, links and
processes removed on exit, also on error); both engines read the same
keepalived-syntax text; figures are measurements, never assertions.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence, Union

REPO = Path(__file__).resolve().parents[1]
for _p in (REPO / "tests" / "lab", REPO / "files" / "agent"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from agentlab import Agent, agent_instance  # noqa: E402
from netlab import Keepalived, Lab, keepalived_instance, wait_until  # noqa: E402

__all__ = ["Agent", "Keepalived", "Lab", "wait_until", "REPO", "VIP", "ENGINES", "TIMERS",
           "AGENT_ARGS", "start_engine", "keepalived_instance", "agent_instance", "daemon_pids",
           "cpu_seconds", "cpu_seconds_precise", "memory_kib", "fmt_ms", "ratio", "machine"]

VIP = "198.51.100.100"
ENGINES = ("keepalived", "agent")
TIMERS: Dict[str, dict] = {
    "v2 1 s": dict(version=2, advert_int=1),
    "v3 0.1 s": dict(version=3, advert_int=0.1),
    "v3 0.01 s": dict(version=3, advert_int=0.01),
}
# The agent logs at info in the bench (the lab default is debug).
AGENT_ARGS = ("--log-level", "info")
TICK = os.sysconf("SC_CLK_TCK")
# The interpreter the agent runs under (bench/cpu.py --agent-python: e.g. Debian's
# /usr/bin/python3, the one python3-uvloop is built for).
AGENT_PYTHON = sys.executable

Daemon = Union[Agent, Keepalived]


def start_engine(lab: Lab, engine: str, node: int, priority: int, timers: dict,
                 config: str = "") -> Daemon:
    """Start ENGINE on NODE with one VI_1 instance (TIMERS) or the given CONFIG text."""
    if engine == "agent":
        text = config or agent_instance(priority=priority, **timers)
        return Agent(lab.node(node), text, extra_args=AGENT_ARGS, python=AGENT_PYTHON)
    text = config or keepalived_instance(priority=priority, **timers)
    return Keepalived(lab.node(node), text)


def daemon_pids(daemon: Daemon) -> List[int]:
    """The daemon's process and its children (keepalived: parent + VRRP child)."""
    assert daemon.proc is not None
    root = daemon.proc.pid
    pids = [root]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == root:
            pids.append(int(entry))
    return pids


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of PIDS (all threads), in seconds."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / TICK


def cpu_seconds_precise(pids: Sequence[int]) -> float:
    """Time on CPU of every thread of PIDS from /proc/PID/task/TID/schedstat (ns resolution)."""
    total = 0
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task"):
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
    return total / 1e9


def memory_kib(pids: Sequence[int]) -> Dict[str, int]:
    """VmRSS and VmHWM summed over PIDS, in KiB."""
    out = {"VmRSS": 0, "VmHWM": 0}
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in out:
                out[key] += int(line.split()[1])
    return out


def fmt_ms(values: Sequence[float]) -> str:
    """Median (min-max) of seconds, in ms."""
    if not values:
        return "n/a"
    med = statistics.median(values) * 1000
    return f"{med:.1f} ms ({min(values) * 1000:.1f}-{max(values) * 1000:.1f})"


def ratio(agent: float, keepalived: float) -> str:
    return f"{agent / keepalived:.2f}" if keepalived else "n/a"


def machine() -> str:
    ka = subprocess.run(["keepalived", "--version"], capture_output=True, text=True)
    ka_version = (ka.stdout + ka.stderr).splitlines()[0] if ka.returncode == 0 else "?"
    load = os.getloadavg()
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return (f"- machine: {platform.machine()}, {os.cpu_count()} CPUs ({model}), "
            f"kernel {platform.release()}\n"
            f"- python {platform.python_version()}; {ka_version}\n"
            f"- load average at the end of the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n"
            f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
