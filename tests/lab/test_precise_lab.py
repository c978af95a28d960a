"""A master under 0.1 s wakes on a timerfd (precise.py, adapters/timerfd.py), on the
real kernel beside keepalived 2.2.7 as its backup.

Observed from outside: the agent holds a timerfd once it is master at 0.01 s
(none at 1 s), sends its adverts at the interval (its counter over a window),
and keepalived, whose Master_Down_Interval is 36 ms, never takes over.
"""

from __future__ import annotations

import os
import time

import pytest
from agentlab import Agent, agent_instance
from netlab import Keepalived, Lab, keepalived_instance, owned_only_by, wait_until

pytestmark = pytest.mark.usefixtures("keepalived_bin")

VIP = "198.51.100.100"


def _timerfds(pid: int) -> int:
    fds = f"/proc/{pid}/fd"
    links = []
    for fd in os.listdir(fds):
        try:
            links.append(os.readlink(f"{fds}/{fd}"))
        except OSError:
            continue  # closed meanwhile
    return links.count("anon_inode:[timerfd]")


def _sent(agent: Agent) -> int:
    return agent.instance()["counters"]["adverts_sent"]


def test_a_master_at_0_01_s_sends_from_a_timerfd_and_its_backup_stays_backup(lab: Lab):
    spec = dict(version=3, advert_int=0.01, vips=[f"{VIP}/24"])
    agent = Agent(lab.node(1), agent_instance(priority=150, **spec))
    wait_until(owned_only_by(lab, VIP, 1), 20)
    keepalived = Keepalived(lab.node(2), keepalived_instance(priority=100, **spec))
    assert agent.proc is not None
    assert _timerfds(agent.proc.pid) == 1
    time.sleep(1.0)  # keepalived settles as backup
    before, started = _sent(agent), time.monotonic()
    time.sleep(2.0)
    sent, window = _sent(agent) - before, time.monotonic() - started
    assert 0.9 * window / 0.01 <= sent <= 1.1 * window / 0.01, (sent, window)
    assert owned_only_by(lab, VIP, 1)() and agent.state() == "MASTER"
    assert "Entering MASTER" not in keepalived.log_text()
    keepalived.stop()


def test_a_master_at_1_s_keeps_asyncio_timers(lab: Lab):
    agent = Agent(lab.node(1), agent_instance(priority=150, version=3, advert_int=1,
                                              vips=[f"{VIP}/24"]))
    wait_until(owned_only_by(lab, VIP, 1), 20)
    assert agent.proc is not None and _timerfds(agent.proc.pid) == 0
