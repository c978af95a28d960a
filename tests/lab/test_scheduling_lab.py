"""global_defs vrrp_rt_priority / vrrp_priority (adapters/scheduling.py).

Every thread of a running agent gets SCHED_RR and the nice value; the scripts it
starts run with normal scheduling; a reload that drops the knobs puts normal
scheduling back (with the short slice: SCHED_OTHER with reset-on-fork); a non-root
agent started at that priority keeps it, and without the right it warns and runs on.
"""

from __future__ import annotations

import ctypes
import os
import platform
import shutil
import struct
import subprocess
import sys
import time

import pytest
from agentlab import AGENT_DIR, Agent, agent_instance
from netlab import Lab, owned_only_by, wait_until
from vrrp_agent.adapters.scheduling import sched_setattr_number

VIP4 = "198.51.100.100"
RR_RESET = os.SCHED_RR | os.SCHED_RESET_ON_FORK
OTHER_RESET = os.SCHED_OTHER | os.SCHED_RESET_ON_FORK  # the short slice's (VRRP_AGENT_SLICE_US)
LIBC = ctypes.CDLL(None, use_errno=True)
CUSTOM_SLICES = tuple(int(p) for p in platform.release().split(".")[:2]) >= (6, 12)
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable


def slice_ns(tid: int) -> int:
    """A thread's slice: sched_getattr's sched_runtime for a fair task (Linux >= 6.12)."""
    out = ctypes.create_string_buffer(56)
    number = sched_setattr_number()
    assert number is not None, "no sched_setattr number for this ABI"
    assert LIBC.syscall(number + 1, tid, out, 56, 0) == 0  # sched_getattr
    return struct.unpack_from("=IIQiIQ", out.raw)[5]


def threads(pid: int) -> list:
    return [int(t) for t in os.listdir(f"/proc/{pid}/task")]


def scheduling(pid: int) -> set:
    return {(os.sched_getscheduler(t), os.sched_getparam(t).sched_priority,
             os.getpriority(os.PRIO_PROCESS, t)) for t in threads(pid)}


def test_every_thread_is_realtime_and_scripts_are_not(lab: Lab, tmp_path):
    out = tmp_path / "hook.out"
    hook = tmp_path / "hook.sh"
    # /proc/PID/stat: field 19 is the nice value, field 41 the policy (0 = SCHED_OTHER)
    hook.write_text(f"#!/bin/sh\ncut -d' ' -f19,41 /proc/$$/stat > {out}\n")
    hook.chmod(0o755)
    knobs = "global_defs {\n    vrrp_rt_priority 20\n    vrrp_priority -5\n}\n"
    instance = agent_instance(priority=150, version=3, advert_int=0.1,
                              extra=f"    notify_master {hook}\n")
    agent = Agent(lab.node(1), knobs + instance)
    wait_until(owned_only_by(lab, VIP4, 1), 10)
    pid = agent.proc.pid
    assert len(threads(pid)) >= 2, "the netlink worker exists"
    assert scheduling(pid) == {(RR_RESET, 20, -5)}
    wait_until(out.exists, 10, message="notify_master ran")
    wait_until(lambda: out.read_text().strip() != "", 5)
    assert out.read_text().split() == ["0", "0"], "scripts run with SCHED_OTHER, nice 0"

    agent.conf_path.write_text(instance)
    assert agent.cli("reload").returncode == 0
    assert scheduling(pid) == {(OTHER_RESET, 0, 0)}
    assert lab.node(1).has_address(VIP4)


def _apply_as_nobody(started_rt: int, wanted_rt: int) -> subprocess.CompletedProcess:
    """Started in SCHED_RR (chrt, CPUSchedulingPolicy=) and then made nobody, or just nobody."""
    def drop() -> None:
        if started_rt:
            os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(started_rt))
        os.setgroups([])
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)

    code = (f"import os; from vrrp_agent.adapters.scheduling import apply_scheduling as a; "
            f"print(a({wanted_rt}, None)); "
            f"print(os.sched_getscheduler(0) == os.SCHED_RR | os.SCHED_RESET_ON_FORK, "
            f"os.sched_getparam(0).sched_priority)")
    # the distro's python: nobody may not be able to read the test's interpreter
    return subprocess.run([SYSTEM_PYTHON, "-c", code], capture_output=True, text=True, timeout=30,
                          check=False, env={"PYTHONPATH": str(AGENT_DIR)}, preexec_fn=drop)


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to nobody needs root")
def test_non_root_keeps_the_priority_it_was_started_with_and_warns_beyond():
    refused = _apply_as_nobody(0, 20)
    assert refused.returncode == 0, refused.stderr
    problems, outcome = refused.stdout.splitlines()
    assert "vrrp_rt_priority 20: not permitted" in problems and "CAP_SYS_NICE" in problems
    assert "not permitted" in refused.stderr, "logged as a warning"
    assert outcome == "False 0"

    started = _apply_as_nobody(20, 20)  # e.g. a unit's CPUSchedulingPriority=20
    assert started.returncode == 0, started.stderr
    assert started.stdout.splitlines() == ["[]", "True 20"], "reset-on-fork added without privilege"

    higher = _apply_as_nobody(20, 30)
    assert "vrrp_rt_priority 30: not permitted" in higher.stdout
    assert higher.stdout.splitlines()[1] == "False 20", "left as started"


def test_max_auto_priority_steps_up_after_the_agent_was_not_scheduled(lab: Lab):
    """keepalived's max_auto_priority: a timer that fires over 1 s late (here the agent was
    stopped for 2 s) makes every thread SCHED_RR 1, the next late one 2, never above the cap."""
    knobs = "global_defs {\n    max_auto_priority 2\n}\n"
    agent = Agent(lab.node(1), knobs + agent_instance(priority=150, version=3, advert_int=0.1))
    wait_until(owned_only_by(lab, VIP4, 1), 10)
    pid = agent.proc.pid
    assert {s[0] for s in scheduling(pid)} == {OTHER_RESET}
    for level in (1, 2, 2):
        late = agent.log_text().count("s late: real-time priority")
        agent.freeze()
        try:
            time.sleep(2.0)
        finally:
            agent.thaw()
        if level == 2 and late == 2:  # at the cap: nothing more is logged or changed
            time.sleep(1.0)
            assert agent.log_text().count("s late: real-time priority") == 2
        wait_until(lambda lv=level: scheduling(pid) == {(RR_RESET, lv, 0)}, 10,
                   message=f"every thread SCHED_RR {level}")
    assert "(max_auto_priority 2)" in agent.log_text()


def test_a_running_agent_asks_for_a_short_slice(lab: Lab, monkeypatch):
    """VRRP_AGENT_SLICE_US (default 100 us): every thread of the agent, SCHED_OTHER with
    reset-on-fork; 0 leaves the kernel's slice and scheduling alone."""
    agent = Agent(lab.node(1), agent_instance(priority=150, version=3, advert_int=0.1))
    monkeypatch.setenv("VRRP_AGENT_SLICE_US", "0")
    plain = Agent(lab.node(2), agent_instance(priority=100, version=3, advert_int=0.1))
    wait_until(owned_only_by(lab, VIP4, 1), 10)
    assert {s[0] for s in scheduling(agent.proc.pid)} == {OTHER_RESET}
    assert {s[0] for s in scheduling(plain.proc.pid)} == {os.SCHED_OTHER}
    if CUSTOM_SLICES and sched_setattr_number() is not None:
        assert {slice_ns(t) for t in threads(agent.proc.pid)} == {100_000}
        assert 100_000 not in {slice_ns(t) for t in threads(plain.proc.pid)}
