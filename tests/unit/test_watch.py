"""The kernel watch (stamped.py, stamps.py, adapters/bpf.Watch): a steady backup's deadline
is a kernel timer that every steady advert restarts; the loop sleeps until it fires.

ebpfvm runs the watched filter as the kernel would, and its timers' callback when a
FakeWatch timer (on the virtual loop) fires; the real kernel's side is
tests/lab/test_quiet_lab.py's.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from typing import Any, Dict, Optional

import ebpfvm
import fakehost
import pytest
from fakehost import FakeLan, until
from test_daemon_fake import Agent, instance, run
from test_fastpath import GROUP4, MASTER4, advert, datagram
from test_quiet import KEY, steady
from test_stamped import _agents, _started_stamped, _tracked_pair
from vrrp_agent import packet, stamped, stamps
from vrrp_agent.quiet import QUIET_ENV
from vrrp_agent.router import BACKUP, MASTER
from vrrp_agent.stamped import WATCH_EARLY_S

DOWN_NS = 3_609_375_000  # 3 x 1 s + (256 - 100) / 256 s: a priority 100 backup of a 1 s master


def _watched_program(watch: ebpfvm.FakeWatch, stamp_map: ebpfvm.FakeStampMap) -> bytes:
    return stamps.program([steady(datagram(advert()))], stamp_map.fd,
                          stamps.Watching(watch.timers_fd, watch.ring_fd, {51: DOWN_NS}))


def _maps(watch: ebpfvm.FakeWatch, stamp_map: ebpfvm.FakeStampMap) -> Any:
    return {stamp_map.fd: stamp_map, watch.timers_fd: watch, watch.ring_fd: watch}


# ------------------------------------------------------------------ the filter
def test_a_steady_advert_starts_its_vrids_timer_and_the_callback_writes_the_vrid_to_the_ring():
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        watch, stamp_map = ebpfvm.FakeWatch(), ebpfvm.FakeStampMap()
        insns = _watched_program(watch, stamp_map)
        assert insns[-stamps.CALLBACK_INSNS * 8:][:1] == bytes([stamps.LD_IMM64])
        started = loop.time()
        assert ebpfvm.run(insns, datagram(advert()), _maps(watch, stamp_map), 7) == stamps.DROP
        assert stamp_map.read(51) == (1, 7) and watch.starts == 1
        assert watch.armed[51].when() == pytest.approx(started + DOWN_NS * 1e-9)
        other = datagram(advert(priority=0))
        assert ebpfvm.run(insns, other, _maps(watch, stamp_map), 8) == stamps.KEEP
        assert watch.starts == 1  # anything else starts nothing
        assert ebpfvm.run(insns, datagram(advert()), _maps(watch, stamp_map), 9) == stamps.DROP
        assert watch.starts == 2 and len(watch.armed) == 1  # restarted, not a second timer
        assert not watch.pending()
        await asyncio.sleep(DOWN_NS * 1e-9 + 0.01)
        assert watch.records == [(51).to_bytes(4, "little")] and watch.pending()
        assert watch.consume() and not watch.pending() and not watch.consume()
        watch.close()

    asyncio.run(scenario())


def test_a_steady_advert_whose_timer_does_not_start_is_kept_and_not_counted():
    async def scenario() -> None:
        watch, stamp_map = ebpfvm.FakeWatch(), ebpfvm.FakeStampMap()
        watch.start = lambda *args: -errno.ENOMEM  # type: ignore[method-assign]
        insns = _watched_program(watch, stamp_map)
        assert ebpfvm.run(insns, datagram(advert()), _maps(watch, stamp_map), 7) == stamps.KEEP
        assert stamp_map.read(51) == (0, 0)  # the full path and the loop's own timer, then
        watch.close()

    asyncio.run(scenario())


# ------------------------------------------------------------------ through the daemon
def _watched_agents(tmp_path: Any, text1: str, text2: str) -> Any:
    a1, a2 = _agents(FakeLan(), tmp_path, text1, text2)
    a2.host.ebpf_watch = True
    return a1, a2


def _pair(agent: Agent) -> Any:
    return agent.daemon.driver.quiet.pairs[KEY].stamped


async def _asleep(a1: Agent, a2: Agent) -> Any:
    """Master A1 and backup A2 started, A2 stamped and watched: its instance (no loop timer)."""
    await _started_stamped(a1, a2)
    inst = a2.daemon.instances[0]
    await until(lambda: inst.timer is None, timeout=5)
    return inst


def test_rfc5798_6_4_2_a_watched_backup_sleeps_and_takes_over_at_its_master_down_deadline(
        tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="vrrp_agent")
    a1, a2 = _watched_agents(tmp_path, instance(priority=150, advert_int=1),
                             instance(priority=100, advert_int=1))

    async def scenario():
        inst = await _asleep(a1, a2)  # the kernel's timer instead of the loop's
        watch = _pair(a2).watch
        starts = watch.starts
        await asyncio.sleep(4.2)
        assert inst.timer is None and a2.state() == BACKUP
        assert watch.starts >= starts + 4  # each steady advert restarted it
        assert "kernel watch timer fired" not in caplog.text
        a1.host.lan.cut.add("eth0")
        await until(lambda: a2.state() == MASTER, timeout=10)
        last_ns = a2.host.sockets[0].stamp_map.read(51)[1]
        assert "kernel watch timer fired" in caplog.text
        # the Master_Down_Interval after the last steady advert
        assert inst.router.last_transition == pytest.approx(last_ns * 1e-9 + DOWN_NS * 1e-9,
                                                            abs=1e-3)
        await a1.stop()
        await a2.stop()
        assert watch.closed

    run(scenario)


def test_a_kernel_timer_that_fired_is_never_trusted_again_and_a_stale_one_takes_nothing_over(
        tmp_path):
    a1, a2 = _watched_agents(tmp_path, instance(priority=150, advert_int=1),
                             instance(priority=100, advert_int=1))

    async def scenario():
        inst = await _asleep(a1, a2)
        pair = _pair(a2)
        pair.watch.output(b"\0\0\0\0")  # a record no live deadline stands for (a stale timer)
        await asyncio.sleep(0)
        await until(lambda: not pair.watch.pending())
        assert not pair.trusted and inst.timer is not None  # the loop's own timer, until a take
        await until(lambda: inst.timer is None, timeout=5)  # trusted again after its next take
        await asyncio.sleep(3.0)
        assert a2.state() == BACKUP and a1.state() == MASTER
        await a1.stop()
        await a2.stop()

    run(scenario)


def test_a_new_master_down_interval_builds_the_watched_filter_again(tmp_path):
    a1, a2, weight = _tracked_pair(tmp_path)
    a2.host.ebpf_watch = True

    async def scenario():
        await _started_stamped(a1, a2)
        pair = _pair(a2)
        router = a2.daemon.instances[0].router
        before = pair.watched_down[51]
        assert before == router.master_down_interval_s()
        weight.write_text("30\n")  # 130: still under 150, a shorter Skew_Time
        await until(lambda: pair.watched_down.get(51) == router.master_down_interval_s()
                    and pair.watched_down[51] < before, timeout=5)
        inst = a2.daemon.instances[0]
        await until(lambda: inst.timer is None, timeout=5)
        sock = a2.host.sockets[0]
        last_ns = sock.stamp_map.read(51)[1]
        armed = sock.watch.armed[51]  # restarted by the last steady advert, for the new interval
        assert armed.when() == pytest.approx(last_ns * 1e-9 + pair.watched_down[51] - WATCH_EARLY_S,
                                             abs=1e-6)
        await a1.stop()
        await a2.stop()

    run(scenario)


@pytest.mark.parametrize("why", ["no bpf_timer", "watched filter refused", "stamps asked"])
def test_without_the_kernel_watch_a_stamped_backup_keeps_its_loop_timer(tmp_path, caplog,
                                                                       monkeypatch, why):
    caplog.set_level(logging.INFO, logger="vrrp_agent")
    a1, a2 = _watched_agents(tmp_path, instance(priority=150), instance(priority=100))
    a2.host.ebpf_watch = why != "no bpf_timer"
    a2.host.watch_refuses = why == "watched filter refused"
    if why == "stamps asked":
        monkeypatch.setenv(QUIET_ENV, "stamps")

    async def scenario():
        await _started_stamped(a1, a2)
        inst = a2.daemon.instances[0]
        assert _pair(a2).watch is None
        await asyncio.sleep(1.0)
        assert inst.timer is not None and a2.state() == BACKUP
        await a1.stop()
        await until(lambda: a2.state() == MASTER, timeout=2)
        await a2.stop()

    run(scenario)
    said = "no kernel watch" in caplog.text
    assert said == (why != "stamps asked")


def test_rfc5798_6_4_2_a_watched_backup_preempts_one_interval_after_its_last_advert_taken_alike(
        tmp_path):
    """The adverts that came before a priority rise are taken as they were then (each
    reset the Master_Down_Timer); the ones after it are discarded: the backup preempts a
    Master_Down_Interval after the last one before the rise, not at once."""
    weight = tmp_path / "weight"
    weight.write_text("0\n")
    tracks = f"vrrp_track_file W {{\n    file {weight}\n    weight 1\n}}\n"
    extra = "    track_file {\n        W\n    }\n"
    a1, a2 = _watched_agents(tmp_path, instance(priority=150, advert_int=1),
                             tracks + instance(priority=100, advert_int=1, extra=extra))

    async def scenario():
        await _asleep(a1, a2)
        await asyncio.sleep(3.0)  # three steady adverts not read
        loop = asyncio.get_running_loop()
        raised = loop.time()
        weight.write_text("100\n")  # 200 > 150
        await until(lambda: a2.state() == MASTER, timeout=10)
        # Master_Down_Interval at 200: 3 x 1 + 56/256 s, from an advert at most 1 s before
        assert loop.time() - raised > 2.0
        await a1.stop()
        await a2.stop()

    run(scenario)


# ------------------------------------------------------------------ the watch going away
def _two_masters_lone_backup(tmp_path: Any) -> Agent:
    """VI_1 (VRID 51) and VI_2 (VRID 52), both priority 100 at 1 s, on a host whose
    kernel has the watch; the test plays their masters (`_Masters`)."""
    host = FakeLan().host("n2", "198.51.100.2")
    host.ebpf = host.ebpf_watch = True
    text = (instance("VI_1", vrid=51, priority=100, advert_int=1)
            + instance("VI_2", vrid=52, priority=100, advert_int=1, vips=("198.51.100.101/24",)))
    return Agent(host, text, tmp_path)


def _advert_1s(vrid: int, priority: int) -> bytes:
    """VRID's master's VRRPv3 advert at 1 s, from MASTER4 to the group."""
    encoder = packet.AdvertEncoder(version=3, vrid=vrid, family=4, addresses=b"\xc6\x33\x64\x64",
                                   count=1, src=MASTER4)
    return datagram(encoder.packet(priority, 100, GROUP4))


class _Masters:
    """Each VRID's master sends its advert every second at its priority (None: silent)."""

    def __init__(self, agent: Agent, priorities: Dict[int, Optional[int]]):
        self.agent, self.priorities = agent, priorities
        self.task = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        while True:
            for vrid, priority in list(self.priorities.items()):
                if priority is not None and self.agent.host.sockets:
                    self.agent.host.sockets[0].arrive(_advert_1s(vrid, priority))
            await asyncio.sleep(1.0)


async def _vi1_asleep(agent: Agent) -> Any:
    """AGENT started, VI_1's master sending: (the masters, VI_1 watched, no loop timer)."""
    await agent.start()
    masters = _Masters(agent, {51: 200})
    vi1 = agent.daemon.instances[0]
    await until(lambda: vi1.router.state == BACKUP and vi1.timer is None, timeout=10)
    return masters, vi1


def test_a_refused_watched_filter_gives_every_watched_backup_its_loop_timer_back(tmp_path):
    agent = _two_masters_lone_backup(tmp_path)

    async def scenario():
        await agent.start()
        masters = _Masters(agent, {51: 200, 52: 200})
        vi1, vi2 = agent.daemon.instances
        await until(lambda: vi1.router.state == vi2.router.state == BACKUP
                    and vi1.timer is None and vi2.timer is None, timeout=10)
        agent.host.watch_refuses = True
        masters.priorities[52] = 180  # VI_2's entry changes: the filter is built again
        await until(lambda: _pair(agent).watch is None, timeout=5)
        assert vi1.timer is not None  # its loop timer is back
        masters.priorities[51] = None  # VI_1's master dies silently
        await until(lambda: vi1.router.state == MASTER, timeout=8)
        masters.task.cancel()
        await agent.stop()

    run(scenario)


def test_a_filter_refused_with_the_watch_is_replaced_by_one_without(tmp_path):
    """Only the Master_Down_Interval changed: the stamps-only filter is installed all the
    same (the watched one would keep adverts it can no longer time)."""
    a1, a2, weight = _tracked_pair(tmp_path)
    a2.host.ebpf_watch = True

    async def scenario():
        await _asleep(a1, a2)
        sock = a2.host.sockets[0]
        watched = sock.stamp_insns
        a2.host.watch_refuses = True
        weight.write_text("30\n")  # 130: the same steady entry, another interval
        await until(lambda: _pair(a2).watch is None, timeout=5)
        assert sock.stamp_insns is not None and sock.stamp_insns != watched
        assert stamps.HELPER_TIMER_START.to_bytes(4, "little") not in sock.stamp_insns
        await a1.stop()
        await a2.stop()

    run(scenario)


def test_a_watched_backup_whose_master_is_silent_takes_over_after_the_pair_goes_to_doorbells(
        tmp_path, monkeypatch):
    monkeypatch.setattr(stamped, "STAMPED_MOST", 1)  # a second steady advert stands for a ninth
    agent = _two_masters_lone_backup(tmp_path)

    async def scenario():
        masters, vi1 = await _vi1_asleep(agent)
        masters.priorities[51] = None  # VI_1's master dies
        await asyncio.sleep(1.0)  # within its Master_Down_Interval
        masters.priorities[52] = 200  # VI_2's master: more steady adverts than stamped
        await until(lambda: agent.daemon.driver.quiet.pairs[KEY].stamped is None, timeout=5)
        assert vi1.timer is not None
        await until(lambda: vi1.router.state == MASTER, timeout=5)
        masters.task.cancel()
        await agent.stop()

    run(scenario)


def test_a_reload_that_changes_a_watched_backup_reconfigures_it(tmp_path):
    """Reconfigured, it has no accepted advert: not watched until it takes one again."""
    agent = _two_masters_lone_backup(tmp_path)

    async def scenario():
        masters, vi1 = await _vi1_asleep(agent)
        agent.conf.write_text(instance("VI_1", vrid=51, priority=100, advert_int=1,
                                       vips=("198.51.100.100/24", "198.51.100.102/24")))
        await agent.daemon.reload()
        assert len(agent.daemon.instances) == 1  # the reload ran to its end
        assert vi1.timer is not None  # no accepted advert: the loop's own timer meanwhile
        await until(lambda: vi1.timer is None, timeout=5)  # watched again
        masters.task.cancel()
        await agent.stop()

    run(scenario)


@pytest.mark.parametrize("lag_s", [0.0, 0.0008])
def test_a_watched_backup_takes_over_when_the_loop_clock_lags_the_kernels(tmp_path, monkeypatch,
                                                                         lag_s):
    """uvloop's loop.time() is CLOCK_MONOTONIC in whole milliseconds: up to 1 ms behind
    the stamps. The stamps taken when a timer fired must not make the watch trusted."""
    real = fakehost._monotonic_ns
    monkeypatch.setattr(fakehost, "_monotonic_ns", lambda: real() + round(lag_s * 1e9))
    a1, a2 = _watched_agents(tmp_path, instance(priority=150, advert_int=1),
                             instance(priority=100, advert_int=1))

    async def scenario():
        await _asleep(a1, a2)
        await asyncio.sleep(2.5)
        a1.host.lan.cut.add("eth0")
        await until(lambda: a2.state() == MASTER, timeout=8)
        await a1.stop()
        await a2.stop()

    run(scenario)


@pytest.mark.parametrize("change", ["override released", "reload"])
def test_rfc5798_6_4_2_unread_adverts_are_judged_by_the_priority_they_came_under(tmp_path, change):
    """A release of standby, or a reload, raises a watched backup over its master: what
    came before is read first, so it preempts a Master_Down_Interval after the last of
    those adverts (as without the watch), not at once on a deadline left long ago."""
    before = 200 if change == "override released" else 100
    a1, a2 = _watched_agents(tmp_path, instance(priority=150, advert_int=1),
                             instance(priority=before, advert_int=1))
    if change == "override released":
        (a2.dir / "state" / "overrides.json").write_text('{"VI_1": "standby"}')

    async def scenario():
        inst = await _asleep(a1, a2)
        await asyncio.sleep(3.0)  # three steady adverts not read
        loop = asyncio.get_running_loop()
        raised = loop.time()
        if change == "override released":
            a2.daemon.set_override(["VI_1"], None)  # back to 200 > 150
        else:
            a2.conf.write_text(instance(priority=200, advert_int=1))
            await a2.daemon.reload()
        assert inst.router.effective_priority == 200
        await until(lambda: a2.state() == MASTER, timeout=10)
        assert loop.time() - raised > 2.0  # 3 x 1 + 56/256 s after an advert under 1 s old
        await a1.stop()
        await a2.stop()

    run(scenario)
