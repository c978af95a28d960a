"""What a backup of one instance can cost at least, beside keepalived (issue 14).

    sudo PYTHONPATH=files/agent python bench/wakeup_floor.py [--seconds 40] [--rounds 3]

One two-node lab: keepalived 2.2.7 master on node 1 (VRRPv3 0.1 s, one
instance). On node 2, at the same time, each its own process:
- keepalived as backup (priority 100): its cost per advert is the reference;
- the agent as backup (priority 100), quiet receive on; and again on Debian's
  python3 with python3-uvloop (`VRRP_AGENT_EVENT_LOOP=uvloop`) when installed;
- probes that wake every 0.3 s, the agent's rate (a quiet backup reads when
  its master-down timer fires: 3 x 0.1 s + Skew_Time, from the newest advert):
  `epoll`: a bare `select.epoll.poll(0.3)` loop, no asyncio, nothing read;
  `asyncio`: an asyncio timer re-armed with `call_at`, nothing read;
  `asyncio+read`: the same timer, reading what the raw VRRP socket queued as
  the agent does (recv and SIOCGSTAMPNS per datagram, the steady bytes
  compared), no protocol; `uvloop`, `uvloop+read`: the same on python3-uvloop;
  `asyncio+ebpf`: the same timer, on a raw socket whose eBPF filter
  (ebpf_stamp.py) stamps each steady advert in a memory-mapped map and drops
  it: each fire reads 16 bytes of shared memory, no syscall;
  `asyncio+ebpf+recv`: the same, and one non-blocking recv per fire (it
  prints what it ever finds queued). Both print, once before the window, what
  the map counted over their first five fires.

CPU is the time on CPU of every thread (schedstat), over one window shared by
all, per advert the master sent (window / 0.1 s), as bench/cpu.py counts
keepalived's. The probes say where the agent's cost comes from: the wakeup of
a Python process, asyncio's turn, the read; what is left is the driver and
the protocol. A developer tool: a ratio under the `asyncio+read` probe's is
out of reach of any asyncio program that reads at this rate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from typing import Dict, List

import cpu
from common import AGENT_ARGS, REPO, Agent, Lab, cpu_seconds_precise, daemon_pids, start_engine, wait_until
from vrrp_agent.cli import EVENT_LOOP_ENV

PROBE = r"""
import asyncio, select, sys, time
if sys.argv[1].startswith("uvloop"):
    import uvloop
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
from vrrp_agent import doorbell
from vrrp_agent.adapters.sockets import VrrpSockets

PERIOD = 0.3
kind, ifindex = sys.argv[1], int(sys.argv[2])
if kind == "epoll":
    poller = select.epoll()
    while True:
        poller.poll(PERIOD)
if "+ebpf" in kind:  # the filter stamps and drops the steady adverts (ebpf_stamp.py)
    import ebpf_stamp
    sock, stamp, vrid = ebpf_stamp.start("eth0")
    unpack_from, values, at = ebpf_stamp.VALUE.unpack_from, stamp.values, vrid * ebpf_stamp.VALUE.size
else:
    io = VrrpSockets("eth0", ifindex, 4, "224.0.0.18", None)
    io.open_doorbells(1, doorbell.silence_all())  # receive times, as in quiet mode
last = {}
seen = [0, 0, 0]  # fires, count, last_ns


def read():
    while True:
        try:
            data = io.rx_next()
        except BlockingIOError:
            return
        io.rx_stamp()
        if last.get(data[21]) != data[12:]:
            last[data[21]] = data[12:]


def read_map():
    last_ns, count = unpack_from(values, at)
    if count != seen[1]:
        seen[1:] = count, last_ns


def read_map_recv():
    read_map()
    try:
        sock.recv(4096)
    except BlockingIOError:
        return
    print(f"{kind}: a datagram was queued", file=sys.stderr, flush=True)


def proof():  # once, before the window: what the map said over the first 5 fires
    print(f"{kind}: VRID {vrid} counted {seen[1]}, newest {(time.monotonic_ns() - seen[2]) / 1e6:.1f} ms "
          "before time.monotonic_ns()", file=sys.stderr, flush=True)


async def main():
    loop = asyncio.get_running_loop()
    work = {"read": read, "ebpf": read_map, "ebpf+recv": read_map_recv}.get(kind.partition("+")[2])

    def fire():
        if work is not None:
            work()
            seen[0] += 1
            if seen[0] == 5 and "+ebpf" in kind:
                proof()
        loop.call_at(loop.time() + PERIOD, fire)

    loop.call_at(loop.time() + PERIOD, fire)
    await asyncio.Event().wait()

asyncio.run(main())
"""
PROBES = ("epoll", "asyncio", "asyncio+read", "asyncio+ebpf", "asyncio+ebpf+recv")
UVLOOP_PROBES = ("uvloop", "uvloop+read")
SYSTEM_PYTHON = "/usr/bin/python3"  # python3-uvloop and python3-pyroute2, when Debian's
ADVERT_INT = 0.1


def system_uvloop() -> bool:
    """Debian's python3 has python3-uvloop and python3-pyroute2: measure the loop too."""
    probe = [SYSTEM_PYTHON, "-c", "import uvloop, pyroute2"]
    return os.path.exists(SYSTEM_PYTHON) and subprocess.run(probe, capture_output=True).returncode == 0


def measure_window(seconds: float) -> Dict[str, float]:
    """{what: CPU µs per advert} over one shared window."""
    with ExitStack() as stack:
        lab = stack.enter_context(Lab(nodes=2, client=False))
        start_engine(lab, "keepalived", 1, 0, {}, cpu.config(1, 150))
        wait_until(lambda: lab.node(1).has_address("203.0.113.1"), 60, message="master")
        pids: Dict[str, List[int]] = {
            "keepalived": daemon_pids(start_engine(lab, "keepalived", 2, 0, {}, cpu.config(1, 100))),
            "agent": daemon_pids(start_engine(lab, "agent", 2, 0, {}, cpu.config(1, 100))),
        }
        node = lab.node(2)
        path = os.pathsep.join([str(REPO / "files" / "agent"), str(REPO / "bench")])  # bench: ebpf_stamp
        env = dict(os.environ, PYTHONPATH=path)
        probes = {kind: sys.executable for kind in PROBES}
        if system_uvloop():
            probes.update(dict.fromkeys(UVLOOP_PROBES, SYSTEM_PYTHON))
            os.environ[EVENT_LOOP_ENV] = "uvloop"
            try:
                pids["agent (uvloop)"] = daemon_pids(Agent(node, cpu.config(1, 100), name="agent-uvloop",
                                                           extra_args=AGENT_ARGS, python=SYSTEM_PYTHON))
            finally:
                del os.environ[EVENT_LOOP_ENV]
        for kind, python in probes.items():
            proc = subprocess.Popen(["ip", "netns", "exec", node.ns, python, "-c", PROBE,
                                     kind, str(node.link("eth0")["ifindex"])], env=env)
            stack.callback(proc.wait)
            stack.callback(proc.kill)
            pids[kind] = [proc.pid]
        time.sleep(3.0)  # the probes' start, the elections' gratuitous ARP
        before = {what: cpu_seconds_precise(p) for what, p in pids.items()}
        time.sleep(seconds)
        after = {what: cpu_seconds_precise(p) for what, p in pids.items()}
        adverts = seconds / ADVERT_INT
        return {what: (after[what] - before[what]) / adverts * 1e6 for what in pids}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = []
    for index in range(args.rounds):
        rounds.append(measure_window(args.seconds))
        print(f"round {index + 1}: " + ", ".join(f"{what} {us:.1f}" for what, us in rounds[-1].items()),
              flush=True)
    print("\n| process on the backup node | CPU µs per advert (median) | ratio to keepalived (min-max) |")
    print("|---|---|---|")
    for what in rounds[0]:
        ratios = [r[what] / r["keepalived"] for r in rounds]
        print(f"| {what} | {statistics.median(r[what] for r in rounds):.1f} | "
              f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) |")


if __name__ == "__main__":
    main()
