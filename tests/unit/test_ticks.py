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
from vrrp_agent.router import MASTER, Router
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
    assert grids.sent(first, 1.0, 1.003) == pytest.approx(1.013)  # the tick went out 3 ms late
    assert grids.anchors[1] == pytest.approx(1.003)
    assert grids.sent(second, 1.0, 1.0032) == pytest.approx(1.013)  # same tick, after the first
    assert grids.anchors[1] == pytest.approx(1.003)  # moved once
    assert grids.sent(first, 1.013, 1.01301) == pytest.approx(1.023)  # on time on the new grid


def test_masters_sent_late_only_after_their_tick_mates_do_not_move_the_grid():
    grids = TickGrids(lambda: 1.0)
    routers = [_router() for _ in range(3)]
    grids.align(routers[0], 1.0)
    assert grids.sent(routers[0], 1.0, 1.00001) == pytest.approx(1.01)  # the tick woke on time
    for n, router in enumerate(routers[1:], 1):  # reached after the others' work
        assert grids.sent(router, 1.0, 1.0 + 0.002 * n) == pytest.approx(1.01)
    assert grids.anchors[1] == 1.0


def test_a_master_within_the_margin_of_a_tick_is_put_on_it_and_one_off_the_grid_is_left():
    grids = TickGrids(lambda: 1.0)
    grids.align(_router(), 1.0)
    assert grids.sent(_router(), 0.99995, 0.99996) == pytest.approx(1.01)  # sent just before it
    assert grids.sent(_router(), 1.00005, 1.00006) == pytest.approx(1.01)  # on the tick now
    assert grids.sent(_router(), 1.0143, 1.0163) is None  # joined between two ticks: `align`
    assert grids.anchors[1] == 1.0
    assert grids.sent(_router(), 1.02, 1.02001) == pytest.approx(1.03)
    assert grids.sent(_router(), 1.02, 1.0401) == pytest.approx(1.05)  # a mate sent 2 ticks late


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


def _running(agent: Agent, name: str) -> Router:
    return next(i.router for i in agent.daemon.instances if i.cfg.name == name)


def test_rfc5798_6_4_3_a_master_that_joined_off_a_tick_follows_it_when_it_moves(tmp_path):
    # VI_2 becomes master 0.5 ms after one of VI_1's ticks (within 1 % of 0.1 s: on it);
    # then a tick wakes 1.2 ms late, VI_1 moves the grid, VI_2 (0.7 ms late) must follow:
    # before, it kept its cadence and was then pulled onto the new tick, 0.7 ms later.
    lan = FakeLan()
    agent = Agent(lan.host("n1", "198.51.100.1"), instance(priority=255), tmp_path)
    sent = _adverts_sent(lan)
    late: List[float] = []

    async def scenario():
        loop = asyncio.get_running_loop()
        await agent.start()
        await until(lambda: agent.state() == MASTER)
        await asyncio.sleep(_running(agent, "VI_1").advert_due + 0.0005 - loop.time())
        agent.conf.write_text(instance(priority=255) + instance(name="VI_2", vrid=52, priority=255,
                                                                vips=("198.51.100.101/24",)))
        await agent.daemon.reload()
        await until(lambda: agent.state("VI_2") == MASTER)
        await asyncio.sleep(0.3)
        due = _running(agent, "VI_1").advert_due
        await asyncio.sleep(due - 0.01 - loop.time())
        late.append(due)
        loop.clock.now = due + 0.0012  # the loop woke 1.2 ms late (epoll rounding, slack)
        await asyncio.sleep(0.5)
        assert _running(agent, "VI_1").advert_due == _running(agent, "VI_2").advert_due
        await agent.stop()

    run(scenario)
    for vrid in (51, 52):
        times = [t for t, v in sent if v == vrid and t > late[0]][:-1]  # the last: priority 0
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert len(gaps) >= 4 and min(gaps) >= 0.1 - 1e-6, (vrid, gaps)


def test_masters_of_a_late_tick_sent_one_after_another_keep_one_deadline(tmp_path):
    lan = FakeLan()
    names = [f"VI_{n}" for n in range(1, 5)]
    conf = "".join(instance(name=name, vrid=50 + n, priority=255, vips=(f"198.51.100.{100 + n}/24",))
                   for n, name in enumerate(names, 1))
    agent = Agent(lan.host("n1", "198.51.100.1"), conf, tmp_path)
    deliver = lan.deliver
    dues: List[List[float]] = []

    def sending(sender: Any, payload: bytes, dst: str) -> None:  # each advert costs 0.3 ms
        asyncio.get_event_loop().clock.now += 0.0003  # type: ignore[attr-defined]
        deliver(sender, payload, dst)

    lan.deliver = sending  # type: ignore[method-assign]

    def deadlines() -> List[float]:
        return sorted({round(_running(agent, name).advert_due, 6) for name in names})

    async def scenario():
        loop = asyncio.get_running_loop()
        await agent.start()
        await until(lambda: all(agent.state(name) == MASTER for name in names))
        await asyncio.sleep(0.3)
        dues.append(deadlines())
        due = _running(agent, "VI_1").advert_due
        await asyncio.sleep(due - 0.01 - loop.time())
        loop.clock.now = due + 0.0012  # one tick 1.2 ms late
        await asyncio.sleep(0.05)
        dues.append(deadlines())
        await asyncio.sleep(0.5)
        dues.append(deadlines())
        await agent.stop()

    run(scenario)
    assert all(len(d) == 1 for d in dues), dues  # one tick, before and after the late one
    assert dues[1][0] - dues[0][0] == pytest.approx(0.1012, abs=1e-6)  # moved with the late send


def test_a_masters_periodic_advert_goes_out_before_the_router_books_it(tmp_path):
    # driver._fire: the advert first, then on_timer and the tick grid (the least work
    # between the wakeup and the wire); each advert once.
    lan = FakeLan()
    agent = Agent(lan.host("n1", "198.51.100.1"), instance(priority=255), tmp_path)
    deliver = lan.deliver
    seen: List[Tuple[float, float, int]] = []  # (loop time, the router's advert due, priority)

    def watching(sender: Any, payload: bytes, dst: str) -> None:
        router = _running(agent, "VI_1")
        seen.append((asyncio.get_event_loop().time(), router.advert_due or 0.0, payload[2]))
        deliver(sender, payload, dst)

    lan.deliver = watching  # type: ignore[method-assign]

    async def scenario():
        await agent.start()
        await until(lambda: agent.state() == MASTER)
        await asyncio.sleep(0.55)
        await agent.stop()

    run(scenario)
    periodic = [(t, due) for t, due, priority in seen if priority == 255][1:]  # [0]: the takeover's
    assert len(periodic) >= 5
    assert all(due <= t for t, due in periodic), periodic  # not yet moved to the next advert
    times = [t for t, _due in periodic]
    assert all(b - a == pytest.approx(0.1) for a, b in zip(times, times[1:])), times  # once each
