"""Precise timers: masters under 0.1 s wake on a timerfd, not on asyncio's heap.

A part of driver.Driver (on the event loop). Issue 14: asyncio's epoll sleeps
whole milliseconds, rounded up; armed a millisecond early and waited out
with a sleep, a master under 0.1 s woke twice per advert, and the second
wakeup came late under load (the advert jitter, docs/benchmarks.md). Rules:
- Only a MASTER whose advert interval is under PRECISE_BELOW_CS, only on
  asyncio's own loop (whose clock is CLOCK_MONOTONIC), only with an adapter
  (`Adapters.timer_fd`; the fakes have none: their loop runs virtual time).
- One timerfd per such instance (adapters/timerfd.py), in the loop's
  selector for good; it is the instance's timer handle (`cancel()`), so
  the driver cancels it as any other. Its deadline is the router's, exact.
- A timerfd that cannot be had or set (no libc function, out of descriptors)
  turns this off for good, with a warning: no new one; that instance on
  asyncio's timers as before (the others keep theirs).
- An expiry read after its timer was cancelled or moved does nothing.
- Without a timerfd, a master under 0.1 s (and any backup) is armed
  EPOLL_ROUNDING_S early and waits out the rest: a master sleeps
  (`wait_out`); a backup about to act has the router decide for the
  deadline, then spins (`spin_until`, ≤ 1 ms, once per takeover) and acts
  on the deadline (driver._fire).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, Optional

from vrrp_agent.instance import Instance
from vrrp_agent.router import MASTER

__all__ = ["PreciseTimers", "PRECISE_BELOW_CS", "EPOLL_ROUNDING_S", "due_soon", "spin_until",
           "wait_out", "wants_precise"]

log = logging.getLogger("vrrp_agent")
PRECISE_BELOW_CS = 10  # advert intervals under 0.1 s: masters send on time, not up to 1 ms late
EPOLL_ROUNDING_S = 0.001  # epoll sleeps whole milliseconds, rounded up


def due_soon(router: Any, now: float) -> Optional[float]:
    """The router's deadline when a timer armed EPOLL_ROUNDING_S early fired at NOW
    before it, else None."""
    due = router.next_deadline()
    if due is not None and now < due <= now + EPOLL_ROUNDING_S + 1e-6:
        return float(due)
    return None


def wait_out(router: Any, now: float, loop: Any) -> float:
    """A master's timer (no timerfd) fired at NOW, before its deadline: sleep it out."""
    due = due_soon(router, now)
    if due is None:
        return now
    time.sleep(due - now)
    return max(loop.time(), due)


def spin_until(end: float) -> None:
    """Spin until time.monotonic() reaches END (≤ 1 ms: no timer slack, no second wakeup)."""
    while time.monotonic() < end:
        pass


def wants_precise(inst: Instance) -> bool:
    router = inst.router
    return router.state == MASTER and router.params.adver_int_cs < PRECISE_BELOW_CS


class PreciseTimers:
    """The timerfds of the masters under 0.1 s."""

    def __init__(self, loop: Any, fire: Callable[[Instance], None],
                 factory: Optional[Callable[[], Any]]):
        self.loop = loop
        self.fire = fire
        self.factory = factory
        self.timers: Dict[Instance, Any] = {}

    @property
    def available(self) -> bool:
        return self.factory is not None

    def take(self, inst: Instance, deadline: Optional[float]) -> bool:
        """INST's timer on its timerfd at DEADLINE (None: disarmed); False: not available."""
        timer = self.timers.get(inst) or self._open(inst)
        if timer is None:
            return False
        if inst.timer is not None and inst.timer is not timer:
            inst.timer.cancel()  # asyncio's handle, from before it was a precise master
        try:
            if deadline is None:
                timer.cancel()
            else:
                timer.arm(deadline)
        except OSError as exc:  # this one on asyncio's timer (the caller arms it), no new ones
            self.discard(inst)
            self._give_up(exc)
            return False
        inst.timer, inst.timer_at = (None, None) if deadline is None else (timer, deadline)
        return True

    def _open(self, inst: Instance) -> Optional[Any]:
        if self.factory is None:
            return None
        try:
            timer = self.factory()
        except (OSError, AttributeError) as exc:  # AttributeError: no such libc function
            self._give_up(exc)
            return None
        self.loop.add_reader(timer.fileno(), self._expired, inst, timer)
        self.timers[inst] = timer
        return timer

    def _give_up(self, exc: BaseException) -> None:
        log.warning("no timerfd (%s): masters under 0.1 s wake on asyncio's timers", exc)
        self.factory = None

    def _expired(self, inst: Instance, timer: Any) -> None:
        if timer.consume() and inst.timer is timer:
            self.fire(inst)

    def discard(self, inst: Instance) -> None:
        timer = self.timers.pop(inst, None)
        if timer is not None:
            self.loop.remove_reader(timer.fileno())
            timer.close()
            if inst.timer is timer:
                inst.timer = inst.timer_at = None

    def close(self) -> None:
        for inst in list(self.timers):
            self.discard(inst)
