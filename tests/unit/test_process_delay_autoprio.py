"""vrrp_track_process fork_delay / terminate_delay / delay and global max_auto_priority
(keepalived 2.2.7 track_process.c, lib/scheduler.c), on virtual time: the pure
policies, then the real daemon on the fake host."""

from __future__ import annotations

import asyncio

import pytest
from fakehost import FakeLan, until
from test_daemon_fake import Agent, instance, run
from vrrp_agent.adapters import procscan
from vrrp_agent.adapters.scheduling import AutoPriority
from vrrp_agent.config import parse_text
from vrrp_agent.errors import ConfigError
from vrrp_agent.router import FAULT, MASTER
from vrrp_agent.track import ProcessDelay

PROCS = ("vrrp_track_process worker {{\n    process worker\n    weight 0\n{extra}}}\n")
TRACK = "    track_process {\n        worker\n    }\n"


def test_process_delay_counts_a_quorum_change_only_once_it_has_lasted():
    d = ProcessDelay(fork_delay_s=5, terminate_delay_s=3, quorum=1, quorum_max=None)
    assert d.update(1, 0.0) == 1            # the first scan counts at once
    assert d.update(2, 1.0) == 2            # no quorum change: at once
    assert d.update(0, 2.0) == 2            # lost: held for terminate_delay
    assert d.update(0, 4.9) == 2
    assert d.update(0, 5.0) == 0
    assert d.update(1, 6.0) == 0            # regained: held for fork_delay
    assert d.update(0, 7.0) == 0 and d.since is None  # back before the delay: nothing happened
    assert d.update(3, 8.0) == 0 and d.update(3, 13.0) == 3


def test_delay_keywords_parse_with_keepalived_ranges():
    cfg = parse_text(PROCS.format(extra="    delay 2\n    fork_delay 0.5\n")).track_processes[0]
    assert (cfg.fork_delay_s, cfg.terminate_delay_s) == (0.5, 2.0)
    with pytest.raises(ConfigError) as err:
        parse_text(PROCS.format(extra="    terminate_delay 3601\n"))
    assert ":4:" in str(err.value) and "out of range" in str(err.value)


def test_terminate_and_fork_delay_hold_the_fault_back(tmp_path, monkeypatch):
    running = {"n": 1}
    monkeypatch.setattr(procscan, "count", lambda procs: {p.name: running["n"] for p in procs})
    conf = PROCS.format(extra="    terminate_delay 3\n    fork_delay 5\n") + instance(extra=TRACK)
    a1 = Agent(FakeLan().host("n1", "198.51.100.1"), conf, tmp_path)

    async def scenario():
        loop = asyncio.get_running_loop()
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        transitions = a1.status()["counters"]["transitions"]
        running["n"] = 0                     # lost, back within terminate_delay: no FAULT
        await asyncio.sleep(2.0)
        running["n"] = 1
        await asyncio.sleep(4.0)
        assert a1.state() == MASTER and a1.status()["counters"]["transitions"] == transitions
        running["n"] = 0
        lost_at = loop.time()
        await until(lambda: a1.state() == FAULT)
        assert loop.time() - lost_at >= 3.0  # virtual time: the delay, never sooner
        running["n"] = 1
        back_at = loop.time()
        await until(lambda: a1.state() != FAULT)
        assert loop.time() - back_at >= 5.0
        await a1.stop()

    run(scenario)


def test_auto_priority_steps_up_after_late_timers_to_its_cap():
    auto = AutoPriority(maximum=3, min_delay_s=1.0, current=0)
    assert auto.on_late(0.5) is None
    assert [auto.on_late(2.0) for _ in range(4)] == [1, 2, 3, None]
    assert AutoPriority(maximum=0, min_delay_s=1.0, current=0).on_late(9) is None
    assert AutoPriority(maximum=50, min_delay_s=1.0, current=40).on_late(2) == 41


def test_max_auto_priority_parses_like_keepalived():
    g = parse_text("global_defs {\n    max_auto_priority\n    min_auto_priority_delay 500000\n}\n"
                   ).globals
    assert (g.max_auto_priority, g.min_auto_priority_delay_s) == (99, 0.5)
    assert parse_text("global_defs {\n    max_auto_priority -1\n}\n").globals.max_auto_priority == 0
    with pytest.raises(ConfigError):
        parse_text("global_defs {\n    max_auto_priority 100\n}\n")


def rt_steps(host):
    """The scheduling calls (real-time priority, nice), without the process-limit ones."""
    return [call for call in host.scheduling if call[0] != "process_limits"]


def test_a_late_timer_raises_the_real_time_priority(tmp_path):
    conf = "global_defs {\n    max_auto_priority 2\n}\n" + instance(priority=150)
    host = FakeLan().host("n1", "198.51.100.1")
    a1 = Agent(host, conf, tmp_path)

    async def scenario():
        loop = asyncio.get_running_loop()
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        assert rt_steps(host) == [(0, None)]
        for _ in range(3):
            loop.clock.now += 2.5  # the loop was not scheduled for 2.5 s
            await asyncio.sleep(0.2)
        assert rt_steps(host) == [(0, None), (1, None), (2, None)]
        await a1.stop()

    run(scenario)


def test_a_reload_resets_the_stepped_priority_and_the_policy_together(tmp_path):
    # The reload puts every thread back at vrrp_rt_priority; the policy must start from
    # there again, or (at its cap) it never steps up again and the agent stays low.
    conf = "global_defs {\n    vrrp_rt_priority 1\n    max_auto_priority 2\n}\n" + instance(priority=150)
    host = FakeLan().host("n1", "198.51.100.1")
    a1 = Agent(host, conf, tmp_path)

    async def scenario():
        loop = asyncio.get_running_loop()
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        loop.clock.now += 2.5
        await asyncio.sleep(0.2)
        assert rt_steps(host)[-1] == (2, None)  # stepped up to the cap
        await a1.daemon.reload()
        assert rt_steps(host)[-1][:2] == (1, None)  # back at vrrp_rt_priority
        loop.clock.now += 2.5
        await asyncio.sleep(0.2)
        assert rt_steps(host)[-1] == (2, None)  # and up again after a late timer
        await a1.stop()

    run(scenario)
