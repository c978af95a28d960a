"""How often a master answers foreign adverts: the amplification bounds, sans I/O.

Rules this module keeps (docs/reliability.md, "Floods"):

1. No clock, no socket: every call takes `now` (monotonic seconds).
2. Answer adverts. RFC 5798 §6.4.3 has a master answer a priority-0 advert
   with an advert at once, and RFC 9568 §6.4.3 / keepalived answer a
   lower-priority advert the same way. Both answers share one budget: at
   most one answer per Advertisement_Interval, on top of the periodic
   advert. A stream of foreign adverts therefore costs at most twice the
   master's normal advert rate, never one advert per packet received.
3. Lower-priority episodes. keepalived sends garp_lower_prio_repeat GARPs
   per VIP for every lower-priority advert, plus a second burst
   garp_lower_prio_delay later, and runs notify_master_rx_lower_pri each
   time. Here the first lower-priority advert opens an episode of
   max(garp_lower_prio_delay, EPISODE_MIN_S): one immediate burst, the
   delayed burst, the hook and one INFO log line. Adverts heard while the
   episode lasts get none of them.
4. Backups. RFC 5798 §6.4.2 has a backup cut its Master_Down_Timer to
   Skew_Time on any priority-0 advert. A backup remembers the best master
   it heard within the last Master_Down_Interval (highest priority, or the
   same source again) and only does so for a priority 0 from that source:
   another router's priority 0 says nothing about the live master, and a
   stream of forged lower-priority and priority-0 adverts would otherwise
   make it take over every Skew_Time (router.py `_foreign_stop`).
"""

from __future__ import annotations

from typing import Optional

_SLACK_S = 1e-6
"""Timer jitter and float rounding: an answer exactly one interval later is due."""
EPISODE_MIN_S = 1.0
"""The shortest lower-priority episode (garp_lower_prio_delay 0 would allow one per packet)."""


class AnswerBudget:
    """The two rate limits of one master's answers (rules 2 and 3)."""

    def __init__(self) -> None:
        self._last_answer: Optional[float] = None
        self._episode_until: Optional[float] = None

    def advert_due(self, now: float, interval_s: float) -> bool:
        """True (and the budget is spent) if no answer went out in the last interval."""
        if self._last_answer is not None and now - self._last_answer < interval_s - _SLACK_S:
            return False
        self._last_answer = now
        return True

    def episode_opens(self, now: float, garp_delay_s: float) -> bool:
        """True if a new lower-priority episode starts now (GARPs, hook, log line)."""
        if self._episode_until is not None and now < self._episode_until - _SLACK_S:
            return False
        self._episode_until = now + max(garp_delay_s, EPISODE_MIN_S)
        return True
