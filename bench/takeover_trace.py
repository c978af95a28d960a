"""Where a takeover's first advert spends its time in the kernel (issue 14).

    sudo PYTHONPATH=files/agent:tests/lab python bench/takeover_trace.py \
        [--engine agent|keepalived|both] [--event freeze|kill|stop] [--runs 4]

Runs bench/timeline.py under `perf record -a -k CLOCK_MONOTONIC` with
tracepoints only (syscalls, kmem, neigh, net, sched), then reads `perf
script`: for each signal timeline.py sent (SIGSTOP, SIGKILL or SIGTERM to the
master), the new master's first advert, from its syscall's entry, in
microseconds:
- `buffer`: the datagram's buffer allocated (__alloc_skb);
- `neighbour`: the neighbour entry for the group created (a node's first
  advert creates it), or the first device queue when it existed;
- `queued`: the frame queued on the node's interface (net_dev_queue);
- `exit`: the syscall returned (the veth send is synchronous: it includes the
  bridge and the peers' receive);
and, for the agent, how long before the advert its staged VIP add went in.
The kernel cannot be traced by function here (no kprobes, no function
tracer): between two tracepoints the time is unattributed. A developer tool
that needs perf; the figures in docs/benchmarks.md "Issue 14, ninth pass"
came from it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional

HERE = Path(__file__).resolve().parent
EVENTS = ["syscalls:sys_enter_sendto", "syscalls:sys_exit_sendto", "syscalls:sys_enter_sendmsg",
          "syscalls:sys_exit_sendmsg", "kmem:kmem_cache_alloc", "neigh:neigh_create",
          "net:net_dev_queue", "signal:signal_generate", "sched:sched_switch"]
LINE = re.compile(r"\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)")
SIGNALS = {"freeze": 19, "kill": 9, "stop": 15}


class Event(NamedTuple):
    at: float
    comm: str
    tid: int
    name: str
    detail: str


def perf_record(events: List[str], data: Path, command: List[str]) -> None:
    """COMMAND under `perf record -a` with these tracepoints, on the monotonic clock."""
    argv = ["perf", "record", "-q", "-k", "CLOCK_MONOTONIC", "-a", "-o", str(data)]
    for name in events:
        argv += ["-e", name]
    subprocess.run(argv + ["--", *command], check=True, stdout=subprocess.DEVNULL)


def record(engine: str, event: str, runs: int, data: Path) -> None:
    perf_record(EVENTS, data, [sys.executable, str(HERE / "timeline.py"), "--engine", engine,
                               "--event", event, "--runs", str(runs)])


def parse(data: Path) -> List[Event]:
    out = subprocess.run(["perf", "script", "-i", str(data), "--ns", "-F",
                          "comm,tid,cpu,time,event,trace"], capture_output=True, text=True,
                         check=True).stdout
    events = []
    for line in out.splitlines():
        match = LINE.match(line)
        if match:
            events.append(Event(float(match.group(4)), match.group(1), int(match.group(2)),
                                match.group(5), match.group(6)))
    return events


def _is_advert_send(event: Event) -> bool:
    """A send that may be an advert: not a gratuitous ARP (a 42-byte frame on a packet socket)."""
    return event.name == "syscalls:sys_enter_sendmsg" or (
        event.name == "syscalls:sys_enter_sendto" and "len: 0x0000002a" not in event.detail)


def first_adverts(events: List[Event], event: str) -> List[Event]:
    """The new master's first send after each signal of EVENT (a daemon other than the target)."""
    number = SIGNALS.get(event)
    starts: List[Event] = []
    signals = [e for e in events if e.name == "signal:signal_generate" and number is not None
               and f"sig={number} " in e.detail
               and ("comm=python" in e.detail or "comm=keepalived" in e.detail)]
    seen: List[float] = []
    for signal in signals:
        if any(abs(signal.at - t) < 0.01 for t in seen):
            continue  # keepalived's parent and child are signalled together
        seen.append(signal.at)
        comm = signal.detail.split("comm=")[1].split()[0]
        targets = {int(t) for s in signals if abs(s.at - signal.at) < 0.01
                   for t in re.findall(r"pid=(\d+)", s.detail)}
        later = [e for e in events if signal.at < e.at < signal.at + 0.2 and e.comm == comm
                 and e.tid not in targets and _is_advert_send(e) and _vrrp_send(events, e)]
        if later:
            starts.append(later[0])
    return starts


def _vrrp_send(events: List[Event], enter: Event) -> bool:
    """A send whose frame is queued on a device before it returns: not netlink."""
    for e in _same_thread_after(events, enter, 0.005):
        if e.name == "net:net_dev_queue":
            return True
        if e.name.startswith("syscalls:sys_exit"):
            return False
    return False


def _same_thread_after(events: List[Event], start: Event, within: float) -> List[Event]:
    return [e for e in events if start.at <= e.at <= start.at + within and e.tid == start.tid]


def breakdown(events: List[Event], enter: Event) -> Dict[str, Optional[float]]:
    marks: Dict[str, Optional[float]] = dict(buffer=None, neighbour=None, queued=None, exit=None)
    for e in _same_thread_after(events, enter, 0.005)[1:]:
        us = (e.at - enter.at) * 1e6
        if e.name == "kmem:kmem_cache_alloc" and "__alloc_skb" in e.detail and marks["buffer"] is None:
            marks["buffer"] = us
        elif e.name == "neigh:neigh_create" and marks["neighbour"] is None:
            marks["neighbour"] = us
        elif e.name == "net:net_dev_queue" and marks["queued"] is None:
            marks["queued"] = us
        elif e.name.startswith("syscalls:sys_exit"):
            marks["exit"] = us
            break
    before = [e for e in events if enter.at - 0.002 < e.at < enter.at and e.tid == enter.tid and
              e.name == "syscalls:sys_enter_sendto" and not _vrrp_send(events, e)]
    marks["vip add before"] = (enter.at - before[-1].at) * 1e6 if before else None
    return marks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="both", choices=("agent", "keepalived", "both"))
    parser.add_argument("--event", default="freeze", choices=("freeze", "kill", "stop"))
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="takeover-trace-") as tmp:
        data = Path(tmp) / "perf.data"
        record(args.engine, args.event, args.runs, data)
        events = parse(data)
    columns = ("buffer", "neighbour", "queued", "exit", "vip add before")
    print("| engine | " + " | ".join(f"{c} (µs)" for c in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for enter in first_adverts(events, args.event):
        marks = breakdown(events, enter)
        cells = ["" if marks[c] is None else f"{marks[c]:.1f}" for c in columns]
        print(f"| {enter.comm} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
