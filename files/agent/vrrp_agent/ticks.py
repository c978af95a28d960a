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
- `sent`, when a master's periodic advert due on a tick goes out: its next
  advert is the grid's first tick more than ON_TICK_FRACTION of the interval
  after the send, whatever the master's own lateness, so the masters of a
  tick stay on one tick. When the first master of a tick sends it more than
  ON_TICK_FRACTION of the interval late (the loop was not scheduled in
  time), the grid first moves to that send (RFC 5798 §6.4.3: the Adver_Timer
  restarts at the send), and the tick's other masters, sent after it, follow
  (none of them catches up with the old grid by sending early). A master not
  on the grid: None, the router's own rule (timing.next_advert_s) and `align`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional

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

    def sent(self, router: Any, due: float, now: float) -> Optional[float]:
        """A master's advert due at DUE went out at NOW: when its next one is due (rules)."""
        period_cs = router.params.adver_int_cs
        anchor = self.anchors.get(period_cs)
        if anchor is None:
            return None
        period = period_cs / 100.0
        margin = period * ON_TICK_FRACTION
        last = self.seen.get(period_cs)
        if last is None or abs(due - last) > margin:  # the first master of its tick
            tick = anchor + round((due - anchor) / period) * period
            if abs(due - tick) > margin:
                return None  # not on the grid yet: `align` brings it there
            self.seen[period_cs] = tick
            if now - tick > margin:
                self.anchors[period_cs] = anchor = now  # a late tick: the grid follows it
        return anchor + (math.floor((now - anchor) / period + ON_TICK_FRACTION) + 1) * period
