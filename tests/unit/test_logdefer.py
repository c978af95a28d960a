"""logdefer.DeferredOutput: INFO/DEBUG lines written after the loop callback that logged
them (a transition's line after its adverts), WARNING and above at once and in order,
everything written and the root handlers and logging switches restored at the end."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, List

import pytest
from fakehost import FakeLan, until
from test_daemon_fake import pair, run
from test_stop_and_takeover_order import instance
from vrrp_agent.logdefer import DeferredOutput
from vrrp_agent.router import BACKUP, MASTER


class _Lines(logging.Handler):
    def __init__(self, sink: List[Any]):
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(("log", record.getMessage()))


@pytest.fixture
def lines(caplog):
    caplog.set_level(logging.DEBUG, logger="vrrp_agent")
    sink: List[Any] = []
    handler = _Lines(sink)
    root = logging.getLogger()
    root.addHandler(handler)
    yield sink
    root.removeHandler(handler)


def test_info_waits_for_the_callback_a_warning_does_not(lines):
    log = logging.getLogger("vrrp_agent.test")
    srcfile = logging._srcfile  # type: ignore[attr-defined]

    async def scenario() -> None:
        output = DeferredOutput.install(asyncio.get_running_loop())
        assert logging._srcfile is None and not logging.logThreads  # type: ignore[attr-defined]
        log.info("one")
        log.debug("two")
        assert lines == []  # still inside this callback
        await asyncio.sleep(0)
        assert lines == [("log", "one"), ("log", "two")]
        log.info("three")
        log.warning("four")  # at once, after what was queued
        assert lines[2:] == [("log", "three"), ("log", "four")]
        log.info("five")
        output.remove()  # writes what is queued
        assert lines[-1] == ("log", "five")
        assert output not in logging.getLogger().handlers

    asyncio.run(scenario())
    assert logging._srcfile == srcfile  # type: ignore[attr-defined]
    DeferredOutput.install(asyncio.new_event_loop()).remove()  # loop not running: nothing queued


def test_a_transition_s_log_line_follows_its_advert(lines, tmp_path):
    lan = FakeLan()
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        a1.host.journal.clear()
        lines.clear()
        a1.daemon.request_stop()
        assert a1.host.journal[0] == ("advert", "0")
        assert not any("MASTER -> INIT" in text for _kind, text in lines)  # written after it
        await a1.task
        assert any("MASTER -> INIT" in text for _kind, text in lines)
        await a2.stop()

    run(scenario)
