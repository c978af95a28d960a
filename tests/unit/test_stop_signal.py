"""daemon._at_once_when_idle: SIGTERM/SIGINT release at once from the Python-level
handler when the loop's own turn waits in its selector (no callback half done), and
only through asyncio's wakeup, after the interrupted callback, otherwise. On a real
loop with a real signal (SIGUSR2 here, so that pytest's own signals are left alone)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from typing import Any, Callable, List

from vrrp_agent.daemon import _at_once_when_idle

SIG = signal.SIGUSR2


def _handlers(loop: asyncio.AbstractEventLoop, calls: List[str], stop: Callable[[], None]) -> Any:
    """asyncio's handler (recorded, and a future it sets) and ours with STOP."""
    woken = loop.create_future()

    def wakeup() -> None:
        calls.append("asyncio's wakeup")
        woken.set_result(None)

    loop.add_signal_handler(SIG, wakeup)
    _at_once_when_idle(loop, SIG, stop)
    return woken


def _run(scenario: Callable[[], Any]) -> None:
    try:
        asyncio.run(scenario())
    finally:
        signal.signal(SIG, signal.SIG_DFL)


def test_a_signal_that_finds_the_loop_waiting_acts_inside_the_wait():
    calls: List[str] = []

    async def scenario() -> None:
        woken = _handlers(asyncio.get_running_loop(), calls, lambda: calls.append("at once"))
        threading.Timer(0.05, signal.pthread_kill, (threading.get_ident(), SIG)).start()
        await asyncio.wait_for(woken, 10)  # the loop waits in epoll when the signal comes
        assert calls == ["at once", "asyncio's wakeup"]

    _run(scenario)


def test_a_signal_that_interrupts_a_callback_waits_for_asyncio_s_wakeup():
    calls: List[str] = []

    async def scenario() -> None:
        woken = _handlers(asyncio.get_running_loop(), calls, lambda: calls.append("at once"))
        os.kill(os.getpid(), SIG)  # handled at the next instruction, inside this coroutine
        for _ in range(1000):
            pass
        assert calls == []  # not in the middle of this callback
        await asyncio.wait_for(woken, 10)
        assert calls == ["asyncio's wakeup"]

    _run(scenario)


def test_a_failing_release_is_reported_as_a_callback_s_would_be():
    errors: List[str] = []

    def fail() -> None:
        raise OSError("netlink gone")

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: errors.append(str(context["exception"])))
        woken = _handlers(loop, [], fail)
        threading.Timer(0.05, signal.pthread_kill, (threading.get_ident(), SIG)).start()
        await asyncio.wait_for(woken, 10)  # the loop ran on: nothing escaped from its poll
        assert errors == ["netlink gone"]

    _run(scenario)
