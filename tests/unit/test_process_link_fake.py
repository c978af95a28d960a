"""The daemon on fake adapters (virtual time) with the process and link keywords of global_defs
and interface_up_down_delays: vrrp_delay_after_boot, log_unknown_vrids, vrrp_no_swap /
vrrp_cpu_affinity / vrrp_rlimit_rttime reaching the adapter, and keepalived's link debounce."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import stat

import pytest
from fakehost import FakeLan, until
from test_daemon_fake import Agent, instance, run
from vrrp_agent.router import BACKUP, FAULT, INIT, MASTER


@pytest.fixture
def lan() -> FakeLan:
    return FakeLan()


def _ready(agent: Agent) -> bool:
    return any("READY=1" in m for m in agent.host.notified)


# ------------------------------------------------------------ vrrp_delay_after_boot
@pytest.mark.parametrize("uptime, startup_delay, waits", [
    (10.0, 0, 20.0),     # booted 10 s ago, delay 30 s after boot: 20 s left
    (10.0, 25, 25.0),    # vrrp_startup_delay is longer: it wins (keepalived: "allow use of both")
    (100.0, 0, 0.0),     # booted long ago: a restart is not delayed
])
def test_vrrp_delay_after_boot_counts_from_the_boot(lan, tmp_path, uptime, startup_delay, waits):
    host = lan.host("n1", "198.51.100.1")
    host.uptime_s = uptime
    extra = f"    vrrp_startup_delay {startup_delay}\n" if startup_delay else ""
    a1 = Agent(host, "global_defs {\n    vrrp_delay_after_boot 30\n" + extra + "}\n" + instance(priority=255),
               tmp_path)

    async def scenario():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await a1.start()
        assert round(loop.time() - t0, 1) == waits, "READY (instances started) after the wait"
        assert a1.state() == MASTER
        await a1.stop()

    run(scenario)


def test_instances_stay_in_init_while_the_boot_delay_runs(lan, tmp_path):
    host = lan.host("n1", "198.51.100.1")
    host.uptime_s = 5.0
    a1 = Agent(host, "global_defs {\n    vrrp_delay_after_boot 60\n}\n" + instance(priority=255), tmp_path)

    async def scenario():
        from vrrp_agent.config import load_config
        from vrrp_agent.daemon import Daemon

        a1.daemon = Daemon(load_config(str(a1.conf)), state_dir=str(a1.dir / "state"),
                           adapters=host.adapters())
        a1.task = asyncio.get_running_loop().create_task(a1.daemon.run())
        await asyncio.sleep(54.0)
        assert not _ready(a1) and a1.state() == INIT and not host.has("198.51.100.100")
        await until(lambda: _ready(a1), timeout=2.0)
        await until(lambda: a1.state() == MASTER)
        await a1.stop()

    run(scenario)


# ------------------------------------------------------------ log_unknown_vrids
@pytest.mark.parametrize("log_them", [True, False])
def test_log_unknown_vrids_logs_each_foreign_advert_in_keepalived_words(lan, tmp_path, caplog, log_them):
    knob = "global_defs {\n    log_unknown_vrids\n}\n" if log_them else ""
    a1 = Agent(lan.host("n1", "198.51.100.1"), knob + instance(vrid=51, priority=200), tmp_path)
    a2 = Agent(lan.host("n2", "198.51.100.2"), instance(vrid=77, priority=200), tmp_path)

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.daemon.status()["agent"]["discards"]["vrid"] >= 3)
        await a1.stop()
        await a2.stop()

    with caplog.at_level(logging.INFO, logger="vrrp_agent"):
        run(scenario)
    line = "Unknown VRID(77) received on interface(eth0) from 198.51.100.2. ignoring..."
    logged = [r.getMessage() for r in caplog.records if "Unknown VRID" in r.getMessage()]
    assert (len(logged) >= 3 and set(logged) == {line}) if log_them else logged == []


# ------------------------------------------------------------ the process knobs
def test_process_knobs_reach_the_adapter_at_start_and_on_reload(lan, tmp_path):
    knobs = ("global_defs {\n    vrrp_rt_priority 10\n    vrrp_no_swap\n    vrrp_cpu_affinity 0\n"
             "    vrrp_rlimit_rttime 50000\n}\n")
    a1 = Agent(lan.host("n1", "198.51.100.1"), knobs + instance(priority=255), tmp_path)

    async def scenario():
        await a1.start()
        assert ("process_limits", True, (0,), 50000) in a1.host.scheduling
        a1.conf.write_text("global_defs {\n    vrrp_rlimit_rttime 50000\n}\n" + instance(priority=255))
        await a1.daemon.reload()
        assert a1.host.scheduling[-1] == ("process_limits", False, (), None), \
            "no real-time priority: no real-time limit; dropped knobs are undone"
        await a1.stop()

    run(scenario)


# ------------------------------------------------------------ interface_up_down_delays
def test_a_link_blip_shorter_than_the_down_delay_changes_nothing(lan, tmp_path):
    delays = "interface_up_down_delays {\n    eth0 2 1\n}\n"
    a1 = Agent(lan.host("n1", "198.51.100.1"), delays + instance(priority=150), tmp_path)
    a2 = Agent(lan.host("n2", "198.51.100.2"), instance(priority=100), tmp_path)

    async def scenario():
        loop = asyncio.get_running_loop()
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        transitions = len(a1.daemon.bus.recent("transition"))
        a1.host.set_link("eth0", False)
        await asyncio.sleep(1.5)
        a1.host.set_link("eth0", True)  # back within the 2 s down delay: cancelled
        await asyncio.sleep(3.0)
        assert a1.state() == MASTER and a1.status()["tracking"]["faults"] == {}
        assert len(a1.daemon.bus.recent("transition")) == transitions, "no transition at all"
        # a longer outage: FAULT only once the down delay has passed
        a1.host.set_link("eth0", False)
        t_down = loop.time()
        await until(lambda: a1.state() == FAULT, timeout=5.0)
        assert round(loop.time() - t_down, 1) >= 2.0
        assert a1.status()["tracking"]["faults"] == {"link": "interface down"}
        await until(lambda: a2.state() == MASTER)
        # and back: acted on after the 1 s up delay
        a1.host.set_link("eth0", True)
        t_up = loop.time()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP, timeout=10.0)
        assert loop.time() - t_up >= 1.0
        await a1.stop()
        await a2.stop()

    run(scenario)


def test_a_tracked_interface_is_debounced_too_and_others_are_not(lan, tmp_path):
    host = lan.host("n1", "198.51.100.1", interfaces=("eth0", "eth1", "eth2"))
    delays = "interface_up_down_delays {\n    eth1 3\n}\n"
    tracks = "    track_interface {\n        eth1\n        eth2\n    }\n"
    a1 = Agent(host, delays + instance(priority=255, extra=tracks), tmp_path)

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        host.set_link("eth1", False)
        await asyncio.sleep(2.5)
        assert a1.state() == MASTER, "eth1 down for less than its 3 s delay"
        await until(lambda: a1.state() == FAULT, timeout=1.0)
        host.set_link("eth1", True)  # up delay 0: at once
        await until(lambda: a1.state() == MASTER, timeout=0.5)
        host.set_link("eth2", False)  # no delay for eth2
        await until(lambda: a1.state() == FAULT, timeout=0.2)
        await a1.stop()

    run(scenario)


# ------------------------------------------------------------ umask
@pytest.mark.parametrize("mask, fifo_mode, script_umask", [("0077", 0o600, "0077"),
                                                           ("IWGRP|IWOTH", 0o644, "0022"),
                                                           (None, 0o644, "0022")])
def test_umask_shapes_the_fifo_and_the_scripts(lan, tmp_path, mask, fifo_mode, script_umask):
    host = lan.host("n1", "198.51.100.1")
    fifo, out = tmp_path / "notify.fifo", tmp_path / "umask.out"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\numask > {out}\n")
    hook.chmod(0o755)
    knob = f"    umask {mask}\n" if mask else ""
    text = (f"global_defs {{\n{knob}    notify_fifo {fifo}\n}}\n"
            + instance(priority=255, extra=f"    notify_master {hook}\n"))
    a1 = Agent(host, text, tmp_path)
    started_with = os.umask(0o022)
    real = dataclasses.replace(host.adapters(), set_umask=os.umask)
    modes = []

    async def scenario():
        from vrrp_agent.config import load_config
        from vrrp_agent.daemon import Daemon

        a1.daemon = Daemon(load_config(str(a1.conf)), state_dir=str(a1.dir / "state"), adapters=real)
        a1.task = asyncio.get_running_loop().create_task(a1.daemon.run())
        await until(lambda: _ready(a1) and a1.state() == MASTER)
        with asyncio.get_running_loop().real_time():  # the hook is a real process
            await until(lambda: out.exists() and out.read_text().strip() != "", timeout=10)
        modes.append(stat.S_IMODE(os.stat(fifo).st_mode))  # removed at stop (made by the agent)
        await a1.stop()

    try:
        run(scenario)
    finally:
        os.umask(started_with)
    assert modes == [fifo_mode]
    assert out.read_text().strip() == script_umask
