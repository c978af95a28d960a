"""logdefer.DeferredOutput: INFO/DEBUG lines written after the loop callback that logged
them (a transition's line after its adverts), WARNING and above at once and in order,
everything written and the root handlers and logging switches restored at the end."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, List

import pytest
from fakehost import FakeLan, until
from test_daemon_fake import pair, run
from test_stop_and_takeover_order import instance
from vrrp_agent.instance import InstanceLog
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


def test_an_instance_line_is_built_when_written_at_the_time_it_was_logged(lines, monkeypatch):
    child = logging.getLogger("vrrp_agent.instance.VI_T")
    ilog = InstanceLog(child, {"prefix": "[VI_T eth0 vrid 9 v4]"})
    built: List[str] = []
    real = logging.Logger.makeRecord

    def spy(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
        built.append(args[4] % args[5] if args[5] else args[4])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(logging.Logger, "makeRecord", spy)
    records: List[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep(logging.DEBUG)
    logging.getLogger().addHandler(keep)

    async def scenario() -> None:
        output = DeferredOutput.install(asyncio.get_running_loop())
        before = time.time()
        ilog.info("%s -> %s (%s)", "BACKUP", "MASTER", "master down timer expired")
        after = time.time()
        ilog.debug("not enabled for this instance")  # the child is at INFO
        assert built == [] and lines == []  # no record yet, inside the callback
        await asyncio.sleep(0.05)
        assert lines == [("log", "[VI_T eth0 vrid 9 v4] BACKUP -> MASTER (master down timer expired)")]
        assert before <= records[-1].created <= after  # when it was logged, not written
        assert records[-1].name == "vrrp_agent.instance.VI_T" and records[-1].levelno == logging.INFO
        child.setLevel(logging.DEBUG)  # `vrrp-agent debug VI_T`: this instance's DEBUG lines too
        ilog.debug("now %d", 1)
        ilog.warning("at once")  # after what was queued
        assert lines[1:] == [("log", "[VI_T eth0 vrid 9 v4] now 1"), ("log", "[VI_T eth0 vrid 9 v4] at once")]
        ilog.info("last")
        output.remove()  # writes what is queued, and later() is off again
        assert lines[-1] == ("log", "[VI_T eth0 vrid 9 v4] last")
        built.clear()
        ilog.info("after")
        assert built == ["[VI_T eth0 vrid 9 v4] after"]  # the usual way

    try:
        child.setLevel(logging.INFO)
        asyncio.run(scenario())
    finally:
        child.setLevel(logging.NOTSET)
        logging.getLogger().removeHandler(keep)
