"""rearm.py: the timer that just fired, pushed back into asyncio's heap as it is (issue 14),
and the driver's use of it for a master's periodic advert (fake host, virtual time)."""

from __future__ import annotations

import asyncio
from typing import Any, List

from fakehost import FakeLan
from test_daemon_fake import Agent, instance, run
from vrrp_agent.rearm import again, timer_heap
from vrrp_agent.router import MASTER


def test_a_fired_handle_fires_again_at_its_new_time_and_cancels_as_any_other():
    loop = asyncio.new_event_loop()
    heap = timer_heap(loop)
    assert heap is not None
    fired: List[float] = []
    handles: List[Any] = []
    done = loop.create_future()

    def tick() -> None:
        fired.append(loop.time())
        handle = handles[-1]
        if len(fired) == 3 or not again(heap, handle, loop.time() + 0.01):
            done.set_result(None)
            return
        handles.append(handle)

    try:
        handles.append(loop.call_at(loop.time() + 0.01, tick))
        first = handles[0]
        assert again(heap, first, loop.time() + 0.01) is False  # scheduled: refused
        loop.run_until_complete(asyncio.wait_for(done, 5))
        assert len(fired) == 3 and fired == sorted(fired)
        assert all(h is first for h in handles)
        # pushed back once more, then cancelled: it never runs, and the loop forgets it
        assert again(heap, first, loop.time() + 0.01)
        first.cancel()
        assert not again(heap, first, loop.time() + 0.01)  # cancelled: its callback is gone
        loop.run_until_complete(asyncio.sleep(0.05))
        assert len(fired) == 3
        assert first not in heap
    finally:
        loop.close()


def test_a_loop_that_is_not_asyncios_gets_no_heap():
    class OtherLoop(asyncio.AbstractEventLoop):  # uvloop is not a BaseEventLoop either
        _scheduled: List[Any] = []

    assert timer_heap(OtherLoop()) is None


def test_a_masters_timer_is_one_handle_for_every_periodic_advert(tmp_path):
    agent = Agent(FakeLan().host("n1", "198.51.100.1"), instance(priority=150), tmp_path)

    async def scenario() -> None:
        await agent.start()
        while agent.state() != MASTER:
            await asyncio.sleep(0.05)
        inst = agent.daemon.instances[0]  # type: ignore[union-attr]
        await asyncio.sleep(0.25)
        handle, sent = inst.timer, inst.counters["adverts_sent"]
        await asyncio.sleep(1.0)
        assert inst.counters["adverts_sent"] - sent in (9, 10, 11)  # every 0.1 s, as ever
        assert inst.timer is handle and inst.timer_at == handle.when()
        await agent.stop()
        assert inst.timer is None and handle.cancelled()

    run(scenario)


def test_a_fast_master_is_armed_early_and_sends_on_its_tick_a_slow_one_keeps_asyncio_timing(
        tmp_path):
    lan = FakeLan()
    fast = Agent(lan.host("n1", "198.51.100.1"), instance(priority=200, advert_int=0.01), tmp_path)
    slow = Agent(lan.host("n2", "198.51.100.2"), instance(priority=200, vrid=52, advert_int=0.1),
                 tmp_path)

    async def scenario():
        await fast.start()
        await slow.start()
        for agent in (fast, slow):
            while agent.state() != MASTER:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        early = {}
        for agent in (fast, slow):
            inst = agent.daemon.instances[0]
            early[agent] = round(inst.router.next_deadline() - inst.timer_at, 6)
        assert early == {fast: 0.001, slow: 0.0}  # driver.py: PRECISE_BELOW_CS
        await fast.stop()
        await slow.stop()

    run(scenario)
