"""Quiet receive on the real kernel (quiet.py; doorbell.py, or stamped.py and its eBPF
filter): the agent as backup of keepalived 2.2.7 sleeps through steady adverts and is
woken by anything else.

Observed from outside: the filter is attached (the agent's debug log),
the agent's event-loop thread wakes fewer times than adverts arrive (its
voluntary context switches), the adverts are all counted when status is asked,
and keepalived's priority-0 advert rings: the agent takes over.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from agentlab import AGENT_DIR, Agent, agent_instance
from netlab import Keepalived, Lab, keepalived_instance, owned_only_by, wait_until
from vrrp_agent.adapters import bpf

pytestmark = pytest.mark.usefixtures("keepalived_bin")

VIP = "198.51.100.100"
SPEC = dict(version=3, advert_int=0.1, vips=[f"{VIP}/24"])


def _loop_thread_wakeups(pid: int) -> int:
    status = Path(f"/proc/{pid}/task/{pid}/status").read_text()
    return int(status.split("\nvoluntary_ctxt_switches:")[1].split()[0])


def _received(agent: Agent) -> int:
    return agent.instance()["counters"]["adverts_received"]


@pytest.mark.parametrize("mode, attached", [
    ("doorbell", "eth0/ipv4: quiet receive (1 steady adverts, 1 doorbells)"),
    ("1", "eth0/ipv4: quiet receive (1 steady adverts, stamped)"),
])
def test_a_steady_backup_sleeps_through_adverts_and_wakes_for_priority_zero(
        lab: Lab, monkeypatch: pytest.MonkeyPatch, mode: str, attached: str):
    if mode != "doorbell":
        try:
            bpf.StampMap().close()
        except OSError as exc:
            pytest.skip(f"this kernel refuses the agent's eBPF stamp map: {exc}")
    monkeypatch.setenv("VRRP_AGENT_QUIET", mode)
    keepalived = Keepalived(lab.node(1), keepalived_instance(priority=150, **SPEC))
    wait_until(owned_only_by(lab, VIP, 1), 20)
    agent = Agent(lab.node(2), agent_instance(priority=100, **SPEC))
    wait_until(lambda: agent.state() == "BACKUP", 10)
    wait_until(lambda: attached in agent.log_text(), 10, message="the filter is attached")
    assert agent.proc is not None
    pid = agent.proc.pid
    before, wakeups_before = _received(agent), _loop_thread_wakeups(pid)
    time.sleep(4.0)  # about 40 adverts at 0.1 s
    wakeups = _loop_thread_wakeups(pid) - wakeups_before
    adverts = _received(agent) - before  # status reads what is queued first
    assert adverts >= 30, adverts
    # one wakeup per Master_Down_Interval (3.6 adverts) plus the status request,
    # against one per advert when every advert wakes the loop
    assert wakeups < adverts / 2, (wakeups, adverts)
    assert agent.state() == "BACKUP" and lab.node(1).has_address(VIP)
    assert "quiet receive" in agent.log_text() and "loud receive" not in agent.log_text()

    keepalived.stop()  # priority 0: not a steady advert, the doorbell rings
    wait_until(owned_only_by(lab, VIP, 2), 10, message="the agent takes over")
    assert agent.instance()["counters"]["priority_zero_received"] == 1
    assert "loud receive" in agent.log_text()  # a master reads every advert at once


SYSTEM_PYTHON = "/usr/bin/python3"  # the one python3-uvloop is built for


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
def test_a_watched_backup_sleeps_until_its_kernel_timer_fires_then_takes_over(
        lab: Lab, monkeypatch: pytest.MonkeyPatch, event_loop: str):
    """The kernel watch (stamped.py): a steady backup's loop does not wake at all; when
    the master is frozen (no priority 0, nothing on the wire), the timer the last
    steady advert started fires and the agent takes over. On asyncio's loop and on
    uvloop's (the real loop on the real kernel; the lag of uvloop's clock behind the
    kernel's is made deterministic in test_watch.py)."""
    try:
        bpf.Watch().close()
    except OSError as exc:
        pytest.skip(f"this kernel refuses the agent's kernel watch (bpf_timer): {exc}")
    python = sys.executable
    if event_loop == "uvloop":
        probe = subprocess.run([SYSTEM_PYTHON, "-c", "import uvloop, pyroute2"],
                               capture_output=True, check=False)
        if probe.returncode != 0:
            pytest.skip(f"{SYSTEM_PYTHON} lacks python3-uvloop or python3-pyroute2")
        python = SYSTEM_PYTHON
        monkeypatch.setenv("VRRP_AGENT_EVENT_LOOP", "uvloop")
    keepalived = Keepalived(lab.node(1), keepalived_instance(priority=150, **SPEC))
    wait_until(owned_only_by(lab, VIP, 1), 20)
    agent = Agent(lab.node(2), agent_instance(priority=100, **SPEC), python=python)
    wait_until(lambda: agent.state() == "BACKUP", 10)
    wait_until(lambda: "quiet receive (1 steady adverts, stamped)" in agent.log_text(), 10)
    assert agent.proc is not None
    pid = agent.proc.pid
    time.sleep(1.0)  # the first steady adverts taken: the watch is trusted from then on
    before, wakeups_before = _received(agent), _loop_thread_wakeups(pid)
    time.sleep(3.0)  # about 30 adverts, none of which wakes the loop
    wakeups = _loop_thread_wakeups(pid) - wakeups_before
    adverts = _received(agent) - before
    assert adverts >= 25, adverts
    assert wakeups <= 3, (wakeups, adverts)  # against 8 or more with a timer per master-down
    assert "kernel watch timer fired" not in agent.log_text()

    keepalived.freeze()
    try:
        wait_until(lambda: agent.state() == "MASTER", 10, message="the agent takes over")
        assert lab.node(2).has_address(VIP)
        assert "kernel watch timer fired" in agent.log_text()
        assert agent.instance()["counters"]["priority_zero_received"] == 0
        if event_loop == "uvloop":
            assert "event loop: uvloop" in agent.log_text()
    finally:
        keepalived.thaw()


READ_QUEUE = """
import sys, time
from vrrp_agent import doorbell
from vrrp_agent.adapters.sockets import VrrpSockets
io = VrrpSockets("eth0", int(sys.argv[1]), 4, "224.0.0.18", None)
io.open_doorbells(1, doorbell.silence_all())  # receive times on the receive socket
time.sleep(0.45)  # about four adverts queue
read_at = time.time()
while True:
    try:
        data = io.rx_next()
    except BlockingIOError:
        break
    print(data[20], io.rx_stamp() - read_at)
"""


def test_each_queued_datagram_reads_back_with_the_time_the_kernel_received_it(lab: Lab):
    """SIOCGSTAMPNS after each read (quiet.py): the receive time, not the read time."""
    Keepalived(lab.node(1), keepalived_instance(priority=150, **SPEC))
    wait_until(owned_only_by(lab, VIP, 1), 20)
    node = lab.node(2)
    out = node.run(["env", f"PYTHONPATH={AGENT_DIR}", sys.executable, "-c", READ_QUEUE,
                    str(node.link("eth0")["ifindex"])]).stdout.split("\n")
    rows = [line.split() for line in out if line.strip()]
    assert len(rows) >= 3, rows
    assert {int(kind) for kind, _ in rows} == {0x31}  # VRRPv3 adverts
    ages = [float(age) for _, age in rows]
    assert all(age < 0 for age in ages), ages  # received before the read
    gaps = [later - earlier for earlier, later in zip(ages, ages[1:])]
    assert all(0.05 < gap < 0.15 for gap in gaps), gaps  # one advert interval apart
