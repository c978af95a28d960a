"""global_defs vrrp_no_swap / vrrp_cpu_affinity / vrrp_rlimit_rttime (adapters/process_limits.py).

A running agent is locked in memory, every one of its threads is pinned to the
CPUs named, and its real-time CPU limit is keepalived's (soft = half, hard =
the value); a reload that drops the knobs undoes them.
"""

from __future__ import annotations

import os
import re

import pytest
from agentlab import Agent, agent_instance
from netlab import Lab, owned_only_by, wait_until

VIP4 = "198.51.100.100"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mlockall beyond RLIMIT_MEMLOCK needs root")


def status_field(path: str, field: str) -> str:
    with open(path) as f:
        return next(line.split(":", 1)[1].strip() for line in f if line.startswith(field + ":"))


def locked_kb(pid: int) -> int:
    return int(status_field(f"/proc/{pid}/status", "VmLck").split()[0])


def cpus_of_threads(pid: int) -> set:
    return {status_field(f"/proc/{pid}/task/{tid}/status", "Cpus_allowed_list")
            for tid in os.listdir(f"/proc/{pid}/task")}


def rttime_limits(pid: int) -> tuple:
    with open(f"/proc/{pid}/limits") as f:
        line = next(line for line in f if line.startswith("Max realtime timeout"))
    return tuple(re.split(r"\s{2,}", line.strip())[1:3])


def has_cap_sys_resource(pid: int) -> bool:
    return bool(int(status_field(f"/proc/{pid}/status", "CapEff"), 16) & (1 << 24))


def test_memory_locked_threads_pinned_and_rttime_limited_then_undone_by_reload(lab: Lab):
    knobs = ("global_defs {\n    vrrp_rt_priority 20\n    vrrp_no_swap\n    vrrp_cpu_affinity 0\n"
             "    vrrp_rlimit_rttime 400000\n}\n")
    instance = agent_instance(priority=150, version=3, advert_int=0.1)
    agent = Agent(lab.node(1), knobs + instance)
    wait_until(owned_only_by(lab, VIP4, 1), 10)
    pid = agent.proc.pid
    all_cpus = status_field(f"/proc/{os.getpid()}/status", "Cpus_allowed_list")
    before_limits = rttime_limits(os.getpid())
    assert len(os.listdir(f"/proc/{pid}/task")) >= 2, "the netlink worker exists"
    assert locked_kb(pid) > 0, "vrrp_no_swap: pages locked"
    assert cpus_of_threads(pid) == {"0"}, "every thread on CPU 0"
    assert rttime_limits(pid) == ("200000", "400000"), "soft = half, hard = the value (microseconds)"

    agent.conf_path.write_text(instance)
    assert agent.cli("reload").returncode == 0
    assert locked_kb(pid) == 0
    assert cpus_of_threads(pid) == {all_cpus}
    if has_cap_sys_resource(pid):
        assert rttime_limits(pid) == before_limits
    else:  # a hard limit cannot be raised back without CAP_SYS_RESOURCE: said, kept till restart
        assert rttime_limits(pid) == ("200000", "400000")
        assert "the real-time CPU limit stays until the agent restarts" in agent.log_text()
    assert lab.node(1).has_address(VIP4), "still master after the reload"
