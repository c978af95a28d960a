"""A master's advert cadence (timing.next_advert_s, RFC 5798 §6.4.3) and the tick grids
its masters share (ticks.py): on time the cadence is kept, a late advert restarts it from
its send with no catch-up advert, and the masters of one tick stay on one tick."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, List, Tuple

import pytest
from fakehost import FakeLan, until
from test_daemon_fake import Agent, instance, run
from vrrp_agent.router import MASTER
from vrrp_agent.ticks import TickGrids
from vrrp_agent.timing import next_advert_s


def test_rfc5798_6_4_3_an_advert_sent_on_time_keeps_the_cadence():
    assert next_advert_s(1.0, 0.01, 1.0) == pytest.approx(1.01)
    assert next_advert_s(1.0, 0.01, 1.00004) == pytest.approx(1.01)  # wakeup latency: not piled up
    assert next_advert_s(1.0, 1.0, 1.009) == pytest.approx(2.0)  # within 1 % of 1 s


def test_rfc5798_6_4_3_a_late_advert_restarts_the_adver_timer_at_its_send():
    assert next_advert_s(1.0, 0.01, 1.0015) == pytest.approx(1.0115)  # not 1.01: no catch-up
    assert next_advert_s(1.0, 1.0, 1.5) == pytest.approx(2.5)
    assert next_advert_s(1.0, 0.01, 1.05) == pytest.approx(1.06)  # a stall of several intervals


def _router(period_cs: int = 1) -> Any:
    moved: List[float] = []
    return SimpleNamespace(params=SimpleNamespace(adver_int_cs=period_cs),
                           advance_advert=moved.append, moved=moved)


def test_a_late_tick_moves_its_grid_once_and_its_other_masters_follow():
    grids = TickGrids(lambda: 1.0)
    first, second = _router(), _router()
    grids.align(first, 1.0)
    grids.sent(first, 1.0, 1.003)  # the tick at 1.0 went out 3 ms late
    assert grids.anchors[1] == pytest.approx(1.003)
    grids.sent(second, 1.0, 1.0032)  # the same tick, sent after the first: moves nothing
    assert grids.anchors[1] == pytest.approx(1.003)
    grids.clock = lambda: 1.0033
    grids.align(second, 1.0132)  # its router restarted from its own send: back onto the grid
    assert second.moved == [pytest.approx(1.013)]


def test_masters_sent_late_only_after_their_tick_mates_do_not_move_the_grid():
    grids = TickGrids(lambda: 1.0)
    routers = [_router() for _ in range(3)]
    grids.align(routers[0], 1.0)
    grids.sent(routers[0], 1.0, 1.00001)  # the tick woke on time
    for n, router in enumerate(routers[1:], 1):
        grids.sent(router, 1.0, 1.0 + 0.002 * n)  # reached after the others' work
    assert grids.anchors[1] == 1.0
    grids.clock = lambda: 1.005
    grids.align(routers[2], 1.014)
    assert routers[2].moved == [pytest.approx(1.01)]  # the next tick of the same grid


def test_a_master_off_the_grid_that_is_late_does_not_move_it():
    grids = TickGrids(lambda: 1.0)
    grids.align(_router(), 1.0)
    grids.sent(_router(), 1.0043, 1.0063)  # not yet aligned (joined between two ticks)
    assert grids.anchors[1] == 1.0


def _adverts_sent(lan: FakeLan) -> List[Tuple[float, int]]:
    """(loop time, VRID) of each advert put on LAN from now on."""
    sent: List[Tuple[float, int]] = []
    deliver = lan.deliver

    def watching(sender: Any, payload: bytes, dst: str) -> None:
        sent.append((asyncio.get_event_loop().time(), payload[1]))
        deliver(sender, payload, dst)

    lan.deliver = watching  # type: ignore[method-assign]
    return sent


def test_rfc5798_6_4_3_masters_of_one_interval_send_on_one_tick_never_later(tmp_path):
    lan = FakeLan()
    agent = Agent(lan.host("n1", "198.51.100.1"), instance(priority=255), tmp_path)
    sent = _adverts_sent(lan)

    async def scenario():
        await agent.start()
        await asyncio.sleep(0.537)  # the second instance starts out of phase
        agent.conf.write_text(instance(priority=255) + instance(name="VI_2", vrid=52, priority=255,
                                                                vips=("198.51.100.101/24",)))
        await agent.daemon.reload()
        await asyncio.sleep(1.0)
        await agent.stop()

    run(scenario)
    times = {vrid: [t for t, v in sent if v == vrid] for vrid in (51, 52)}
    assert len(times[52]) >= 8
    gaps = [b - a for a, b in zip(times[52], times[52][1:-1])]  # the last one: priority 0
    assert all(gap <= 0.1 + 1e-6 for gap in gaps), gaps  # never later than the interval
    assert any(gap < 0.1 - 1e-3 for gap in gaps), gaps  # it joined the tick early, once
    on_tick = {round(t, 6) for t in times[51]}
    assert all(round(t, 6) in on_tick for t in times[52][2:-1]), (times[51], times[52])


def test_rfc5798_6_4_3_after_a_stall_no_advert_comes_sooner_than_the_interval(tmp_path):
    lan = FakeLan()
    conf = instance(priority=255) + instance(name="VI_2", vrid=52, priority=255,
                                             vips=("198.51.100.101/24",))
    agent = Agent(lan.host("n1", "198.51.100.1"), conf, tmp_path)
    sent = _adverts_sent(lan)
    stalled: List[float] = []

    async def scenario():
        loop = asyncio.get_running_loop()
        await agent.start()
        await until(lambda: agent.state() == MASTER and agent.state("VI_2") == MASTER)
        await asyncio.sleep(0.55)
        due = max(t for t, _v in sent) + 0.1
        stalled.append(due)
        loop.clock.now = due + 0.037  # the loop was not scheduled in time: 37 ms late
        await asyncio.sleep(0.6)
        await agent.stop()

    run(scenario)
    for vrid in (51, 52):
        times = [t for t, v in sent if v == vrid][:-1]  # the last one: priority 0
        after = [t for t in times if t > stalled[0]]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert len(after) >= 5
        assert min(gaps) >= 0.1 - 0.001, gaps  # no catch-up advert after the late one
        late = [b - a for a, b in zip(times, times[1:]) if b > stalled[0]][0]
        assert late == pytest.approx(0.137, abs=1e-6)  # the late advert itself
    tick51 = {round(t, 6) for t, v in sent if v == 51 and t > stalled[0]}
    tick52 = [round(t, 6) for t, v in sent if v == 52 and t > stalled[0]][:-1]
    assert all(t in tick51 for t in tick52), (tick51, tick52)  # still one tick
