"""Log output written after the event-loop callback that logged it, not inside it.

Rules (issue 14):
- A state change logs its line before its adverts go out (router.py logs
  inside the transition, the driver sends what it returns). Formatting and
  writing that line took ~0.1-0.15 ms (measured in bench/timeline.py --event
  stop), on a graceful stop's priority-0 advert and on the new master's first
  advert alike. While the daemon runs, INFO and DEBUG records are queued and
  written, in order, by one callback scheduled on the loop (`call_soon`:
  after the callback that logged them, before the loop sleeps again).
- WARNING and above are written at once, after what is queued (a hang or a
  crash must not swallow them); so is every record while the loop is not
  running, and everything queued when `remove` puts the handlers back.
- A record keeps its creation time: asctime is when it was logged.
- An instance's lines (instance.InstanceLog, the router's `OLD -> NEW` among
  them) do not even build their record inside the callback: `later` queues
  the logger, level, message and arguments with the time, and the record is
  made when it is written. Building a LogRecord cost ~80 us on a cold cache,
  in front of a graceful stop's priority-0 advert and of a new master's
  first advert (time marks in a copy of the agent, during bench/timeline.py
  --event stop; docs/benchmarks.md, fourth pass). Such a line
  goes to the root logger's handlers as a record would: the agent's loggers
  have no handlers or filters of their own (a disabled logger writes nothing).
- Records carry no caller, thread or process fields meanwhile (the logging
  HOWTO's "Optimization" switches): the agent's formats use none of them,
  and finding the caller walks the stack on every line. `remove` restores them.
- Only the root logger's handlers are wrapped (cli.setup_logging's); their
  levels still apply.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from typing import Any, Deque, Dict, List, Optional, Tuple, Union

_Later = Tuple[float, logging.Logger, int, str, Tuple[Any, ...]]
_running_loop = asyncio._get_running_loop  # noqa: SLF001 - exported by asyncio (undocumented), C in CPython
_ACTIVE: Optional[DeferredOutput] = None

_SWITCHES = ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")


class DeferredOutput(logging.Handler):
    """Stands in for the root logger's handlers while the daemon runs (module rules)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, targets: List[logging.Handler]):
        super().__init__()
        self.loop = loop
        self.targets = targets
        self.pending: Deque[Union[logging.LogRecord, _Later]] = collections.deque()
        self.scheduled = False
        self.loop_thread = threading.get_ident()
        self.switches: Dict[str, Any] = {name: getattr(logging, name) for name in _SWITCHES}

    @classmethod
    def install(cls, loop: asyncio.AbstractEventLoop) -> DeferredOutput:
        global _ACTIVE
        root = logging.getLogger()
        output = cls(loop, list(root.handlers))
        root.handlers = [output]
        for name in _SWITCHES:
            setattr(logging, name, None if name == "_srcfile" else False)
        _ACTIVE = output
        return output

    def remove(self) -> None:
        """Write what is queued and put the root logger's handlers back."""
        global _ACTIVE
        if _ACTIVE is self:
            _ACTIVE = None
        self.flush()
        for name, value in self.switches.items():
            setattr(logging, name, value)
        root = logging.getLogger()
        if self in root.handlers:
            root.handlers = [h for h in root.handlers if h is not self] + self.targets

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING or self.loop.is_closed() or not self.loop.is_running():
            self.flush()
            self._write(record)
            return
        self.pending.append(record)
        self._schedule()

    def _schedule(self) -> None:
        if self.scheduled:
            return
        self.scheduled = True
        if threading.get_ident() == self.loop_thread:
            self.loop.call_soon(self.flush)
        else:
            try:
                self.loop.call_soon_threadsafe(self.flush)
            except RuntimeError:  # the loop closed meanwhile
                self.flush()

    def flush(self) -> None:
        self.scheduled = False
        while True:
            try:
                entry = self.pending.popleft()
            except IndexError:
                return
            if isinstance(entry, logging.LogRecord):
                self._write(entry)
            else:
                self._write_later(*entry)

    def _write_later(self, created: float, logger: logging.Logger, level: int, msg: str,
                     args: Tuple[Any, ...]) -> None:
        """The record of a line `later` queued, with the time it was logged."""
        record = logger.makeRecord(logger.name, level, "(unknown file)", 0, msg, args, None,
                                   "(unknown function)")
        shift = record.created - created
        record.created = created
        record.msecs = (created - int(created)) * 1000.0
        record.relativeCreated -= shift * 1000.0
        if not logger.disabled and logger.filter(record):
            self._write(record)

    def _write(self, record: logging.LogRecord) -> None:
        for handler in self.targets:
            if record.levelno >= handler.level:
                handler.handle(record)


def later(logger: logging.Logger, level: int, msg: str, args: Tuple[Any, ...]) -> bool:
    """Queue an INFO or DEBUG line of LOGGER (which the caller found enabled for LEVEL),
    its record made when it is written (module rules). False: not deferred now (log it
    the usual way)."""
    output = _ACTIVE
    # the loop running in this thread (C, one call): on the loop's thread, while it runs
    if output is None or level >= logging.WARNING or _running_loop() is not output.loop:
        return False
    output.pending.append((time.time(), logger, level, msg, args))
    if not output.scheduled:
        output.scheduled = True
        output.loop.call_soon(output.flush)
    return True
