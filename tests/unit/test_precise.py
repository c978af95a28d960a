"""precise.py and adapters/timerfd.py: a master under 0.1 s wakes on a timerfd, on a real
asyncio loop and the real kernel timer (no root needed)."""

from __future__ import annotations

import asyncio
from typing import Any, List

import pytest
from vrrp_agent.adapters.timerfd import TimerFd, available
from vrrp_agent.precise import PreciseTimers

pytestmark = pytest.mark.skipif(not available(), reason="no timerfd_create in this libc")


def _timers(loop: asyncio.AbstractEventLoop, fired: List[Any]) -> PreciseTimers:
    def fire(inst: Any) -> None:
        fired.append((inst, loop.time()))
        inst.timer = inst.timer_at = None  # as driver._fire does

    return PreciseTimers(loop, fire, TimerFd)


class _Inst:
    """What precise.py uses of an Instance: its timer handle and the time it is armed at."""

    timer: Any = None
    timer_at: Any = None


def _inst() -> Any:
    return _Inst()


def test_it_fires_once_and_never_before_its_deadline_in_loop_time():
    loop = asyncio.new_event_loop()
    fired: List[Any] = []
    timers = _timers(loop, fired)
    inst = _inst()
    try:
        deadline = loop.time() + 0.02
        assert timers.take(inst, deadline)
        assert inst.timer is timers.timers[inst] and inst.timer_at == deadline
        loop.run_until_complete(asyncio.sleep(0.1))
        assert len(fired) == 1
        assert fired[0][0] is inst and fired[0][1] >= deadline  # CLOCK_MONOTONIC is loop time
    finally:
        timers.close()
        loop.close()


def test_cancelled_or_moved_it_does_not_fire_for_the_old_time():
    loop = asyncio.new_event_loop()
    fired: List[Any] = []
    timers = _timers(loop, fired)
    stopped, moved = _inst(), _inst()
    try:
        timers.take(stopped, loop.time() + 0.01)
        stopped.timer.cancel()  # the driver's cancel_timer
        stopped.timer = None
        timers.take(moved, loop.time())  # expired at once: readable when the loop looks
        # moved later by a callback that runs before the timerfd's, in the same turn
        loop.call_soon(timers.take, moved, loop.time() + 60)
        loop.run_until_complete(asyncio.sleep(0.05))
        assert fired == []
    finally:
        timers.close()
        loop.close()
    assert timers.timers == {} and moved.timer is None  # closed: descriptors released


def test_without_a_timerfd_the_driver_keeps_asyncio_timers():
    loop = asyncio.new_event_loop()

    def refused() -> Any:
        raise OSError(24, "Too many open files")

    try:
        timers = PreciseTimers(loop, lambda inst: None, refused)
        assert timers.available and not timers.take(_inst(), loop.time() + 1)
        assert not timers.available  # for good, with a warning
        assert not PreciseTimers(loop, lambda inst: None, None).take(_inst(), 1.0)
    finally:
        loop.close()


def test_a_timerfd_that_cannot_be_set_leaves_that_master_to_asyncio(monkeypatch):
    loop = asyncio.new_event_loop()
    fired: List[Any] = []
    timers = _timers(loop, fired)
    kept, refused = _inst(), _inst()
    try:
        assert timers.take(kept, loop.time() + 60)
        assert timers.take(refused, loop.time() + 60)

        def fails(self: Any) -> None:
            raise OSError(9, "Bad file descriptor")

        monkeypatch.setattr(TimerFd, "_set", fails)
        assert not timers.take(refused, loop.time() + 1)  # the driver arms asyncio's timer
        assert refused.timer is None and refused not in timers.timers
        assert not timers.available and kept.timer is timers.timers[kept]
    finally:
        timers.close()
        loop.close()
