"""RFC timer arithmetic. Pure; no clock.

Intervals are integer centiseconds inside (the RFC 5798 unit); results that
the driver feeds to the loop clock are float seconds and say `_s`.

- RFC 3768 §6.1 (v2): Skew_Time = (256 - Priority) / 256 seconds, using the
  *locally configured* Advertisement_Interval for Master_Down_Interval.
- RFC 5798 §6.1 (v3): Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256
  with Master_Adver_Interval learned from the master's adverts.
- Both: Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time.
- RFC 5798 §6.4.3: a master resets its Adver_Timer when it sends. An advert
  sent within ON_TICK_FRACTION of the interval after it was due keeps the
  cadence (the next is due one interval after this one was due: the wakeup's
  own latency does not pile up); one sent later restarts it (the next is one
  interval after this send, never sooner: no catch-up advert).
"""

from __future__ import annotations

from vrrp_agent.constants import DOWN_TIMER_ADVERTS

ON_TICK_FRACTION = 0.01
"""An advert sent up to this fraction of its interval after its due time is on time."""


def skew_time_s(version: int, priority: int, master_adver_int_cs: int) -> float:
    """Skew_Time in seconds (RFC 3768 §6.1 for v2, RFC 5798 §6.1 for v3)."""
    if version == 2:
        return (256 - priority) / 256.0
    return (256 - priority) * master_adver_int_cs / 25600.0


def master_down_interval_s(version: int, priority: int, master_adver_int_cs: int,
                           adverts: int = DOWN_TIMER_ADVERTS) -> float:
    """Master_Down_Interval in seconds: 3 (keepalived's down_timer_adverts) *
    Master_Adver_Interval + Skew_Time."""
    adver_s = master_adver_int_cs / 100.0
    return adverts * adver_s + skew_time_s(version, priority, master_adver_int_cs)


def next_advert_s(due_s: float, adver_int_s: float, now: float) -> float:
    """When the advert after the one due at DUE_S and sent at NOW is due (RFC 5798 §6.4.3)."""
    if now - due_s <= adver_int_s * ON_TICK_FRACTION:
        return due_s + adver_int_s
    return now + adver_int_s
