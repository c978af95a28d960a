"""Tick grids: the masters of one advert interval send from one tick (issue 14).

A part of driver.Driver (on the event loop), so that a backup of many
instances receives their adverts in a burst, read in few wakeups. Rules:
- One grid per advert interval (centiseconds): an anchor time, and its ticks
  anchor + k * interval. The anchor is the first master's next advert.
- `align`, when a master's timer is armed: its next advert is brought forward
  to the latest tick not later than it (router.advance_advert): a new master,
  or one restarted after a stall, joins the grid by sending one advert up to
  one interval early, which a backup takes as any advert (RFC 5798 §6.4.2).
  An advert due within ON_TICK_FRACTION of the interval after a tick is on
  it already; a tick already past is not used.
- `sent`, when a master's periodic advert goes out: the first master of a
  tick that sends it more than ON_TICK_FRACTION of the interval late (the
  loop was not scheduled in time) moves its grid's anchor to that send. Its
  router restarts its cadence there (timing.next_advert_s, RFC 5798
  §6.4.3) and the tick's other masters follow it, instead of catching up
  with an advert sooner than one interval after the late one. A master sent
  late only because the ones before it in the same tick took time moves
  nothing (their tick has been seen) and is brought back onto the grid.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict

from vrrp_agent.timing import ON_TICK_FRACTION

__all__ = ["TickGrids"]


class TickGrids:
    """The tick grid of each advert interval its masters use."""

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.anchors: Dict[int, float] = {}
        """Advert interval (cs) -> one time on the grid its masters send on."""
        self.seen: Dict[int, float] = {}
        """Advert interval (cs) -> the last tick a master sent from."""

    def align(self, router: Any, due: float) -> None:
        """Put a master's next advert DUE on its interval's tick grid (never later)."""
        period_cs = router.params.adver_int_cs
        anchor = self.anchors.setdefault(period_cs, due)
        period = period_cs / 100.0
        tick = anchor + math.floor((due - anchor) / period + 1e-9) * period  # float-safe floor
        if due - tick > period * ON_TICK_FRACTION and tick > self.clock():
            router.advance_advert(tick)

    def sent(self, router: Any, due: float, now: float) -> None:
        """A master's advert due at DUE goes out at NOW: a late tick moves its grid."""
        period_cs = router.params.adver_int_cs
        period = period_cs / 100.0
        margin = period * ON_TICK_FRACTION
        last = self.seen.get(period_cs)
        if last is not None and abs(due - last) <= margin:
            return  # a later master of a tick already seen
        self.seen[period_cs] = due
        anchor = self.anchors.get(period_cs)
        if anchor is None or now - due <= margin:
            return
        offset = (due - anchor) % period
        if min(offset, period - offset) <= margin:  # the tick was on the grid
            self.anchors[period_cs] = now
