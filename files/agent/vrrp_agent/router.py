"""One virtual router (one vrrp_instance): the VRRP state machine, sans I/O.

Rules this module keeps:

1. No clock, no socket. Every entry point takes `now` (float seconds on any
   monotonic scale) and returns a list of actions for the driver to execute
   *in order*. `next_deadline()` says when `on_timer(now)` is due next.
2. States are INIT, BACKUP, MASTER, FAULT (RFC 5798 §6.4 plus keepalived's
   FAULT). Every change goes through `_change_state(new, now, reason, event)`,
   which checks the TRANSITIONS table (fsm.py: state -> cause -> targets),
   logs "OLD -> NEW", counts, and emits StateChanged. A pair the table does
   not hold is refused (logged as a bug, nothing changes).
3. Becoming master sends the advert *first*, then adds the VIPs and
   announces them (RFC 5798 §6.4.2 (ii), keepalived's order), so the old
   master yields before we answer ARP. Except when the old master is known
   alive: a takeover, or a preemption of a lower-priority master this backup
   still hears. Then the VIPs and their announcement go first and the advert
   after them (make-before-break: clients are moved before the old master
   lets go; for that moment both hold the VIPs).
4. Timers follow RFC 5798 §6.1 / RFC 3768 §6.1 (see timing.py); a backup
   learns Master_Adver_Interval from v3 adverts only.
5. Priorities: the Router is their one owner. It holds the base (config),
   the tracked (base + tracker weights, fed by the driver) and the operator
   override (takeover: 254, standby: 1) and computes `effective_priority`,
   what it advertises and compares with: the override if any, else the
   tracked, else the base. Takeover, standby, release, tracking and reload
   all go through it and return actions. 0 is only ever *sent* on stop/fault.
"""

from __future__ import annotations

import logging
from typing import Dict, List, Optional, Tuple, Union

from vrrp_agent.answers import AnswerBudget
from vrrp_agent.constants import PRIORITY_OWNER, PRIORITY_STOP
from vrrp_agent.fsm import (  # the vocabulary, re-exported: callers import it from here
    BACKUP,
    COUNTER_NAMES,
    FAULT,
    FAULTED,
    INIT,
    MASTER,
    MASTER_DOWN,
    PREEMPTED,
    SHUTDOWN,
    STANDBY,
    STANDBY_PRIORITY,
    STARTUP,
    SYNC,
    TAKEOVER,
    TAKEOVER_PRIORITY,
    TRANSITIONS,
    Action,
    AddVips,
    Announce,
    DelVips,
    RouterParams,
    RxLowerPriority,
    SendAdvert,
    StateChanged,
    WantMaster,
)
from vrrp_agent.packet import Advertisement
from vrrp_agent.timing import master_down_interval_s, next_advert_s, skew_time_s

__all__ = [
    "INIT", "BACKUP", "MASTER", "FAULT", "STARTUP", "MASTER_DOWN", "PREEMPTED", "SHUTDOWN",
    "FAULTED", "TAKEOVER", "STANDBY", "SYNC", "TRANSITIONS", "SendAdvert", "AddVips", "DelVips",
    "Announce", "StateChanged", "WantMaster", "RxLowerPriority", "Action", "COUNTER_NAMES", "RouterParams",
    "TAKEOVER_PRIORITY", "STANDBY_PRIORITY", "Router",
]

_SEND_ADVERT: Dict[int, SendAdvert] = {p: SendAdvert(p) for p in range(256)}
"""One immutable SendAdvert per priority: a master's periodic advert allocates none."""
_ADD_VIPS, _DEL_VIPS = AddVips(), DelVips()  # no fields: one of each (a takeover builds none)
_ANNOUNCE: Dict[int, Announce] = {}
"""One Announce per burst size (the config's few repeat counts)."""


class Router:
    """The state machine of one virtual router."""

    def __init__(self, params: RouterParams, log: Union[logging.Logger, logging.LoggerAdapter]):
        self.params = params
        self.log = log
        self.state = INIT
        self.tracked_priority: Optional[int] = None
        """Base + tracker weights (track.evaluate); None until tracking reports."""
        self.override: Optional[str] = None
        """None, "takeover" or "standby" (operator overrides)."""
        self.effective_priority = params.priority
        self.master_adver_int_cs = params.adver_int_cs
        self.primary_ip = b""  # our source address, packed: the tie-break (RFC 5798 §6.4.3)
        self.master_ip: Optional[bytes] = None
        self.master_priority: Optional[int] = None
        self.last_transition: Optional[float] = None
        self.counters: Dict[str, int] = dict.fromkeys(COUNTER_NAMES, 0)
        self._master_down_at: Optional[float] = None
        self._adver_at: Optional[float] = None
        self._garp_burst_at: Optional[float] = None
        self._garp_burst_repeat = 0
        self._garp_refresh_at: Optional[float] = None
        self._preempt_until: Optional[float] = None
        self._preempting = False
        """The last advert heard came from a live lower-priority master we will preempt."""
        self.wants_master = False
        """Sync member whose master-down timer expired while the group held it back."""
        self._answers = AnswerBudget()
        """Rate limits of the answers to foreign adverts (answers.py)."""
        self._live_master: Optional[Tuple[bytes, int, float]] = None
        """(source, priority, until): the best master a backup heard lately (answers.py)."""

    # ----------------------------------------------------------------- timers
    def next_deadline(self) -> Optional[float]:
        """The earliest time `on_timer` must run, or None if nothing is armed."""
        due = self._adver_at  # unrolled: a master's every wakeup asks (issue 14)
        at = self._master_down_at
        if at is not None and (due is None or at < due):
            due = at
        at = self._garp_burst_at
        if at is not None and (due is None or at < due):
            due = at
        at = self._garp_refresh_at
        if at is not None and (due is None or at < due):
            due = at
        return due

    @property
    def advert_due(self) -> Optional[float]:
        """When a master's next periodic advert is due (None unless master)."""
        return self._adver_at if self.state == MASTER else None

    def advance_advert(self, at: float) -> None:
        """Bring the next periodic advert forward to AT, never later (issue 14).

        The driver sends the masters of one interval from one tick: a new master
        (or one restarted after a stall) joins it by sending one advert up to one
        interval early, which a backup takes as any advert (RFC 5798 §6.4.2).
        """
        if self._adver_at is not None and at < self._adver_at:
            self._adver_at = at

    def retime_advert(self, at: float) -> None:
        """Put the next periodic advert at AT: the driver's tick grid (ticks.py), which
        puts it about one interval after the advert just sent, never later than that by
        more than timing.ON_TICK_FRACTION of it."""
        if self._adver_at is not None and self.state == MASTER:
            self._adver_at = at

    def skew_time_s(self) -> float:
        return skew_time_s(self.params.version, self.effective_priority, self.master_adver_int_cs)

    def master_down_interval_s(self) -> float:
        return master_down_interval_s(
            self.params.version, self.effective_priority, self.master_adver_int_cs,
            self.params.down_timer_adverts,
        )

    @property
    def adver_int_s(self) -> float:
        return self.params.adver_int_cs / 100.0

    # ------------------------------------------------------------- lifecycle
    def start(self, now: float) -> List[Action]:
        """RFC 5798 §6.4.1: Startup event in Initialize (also: leaving FAULT)."""
        if self.effective_priority == PRIORITY_OWNER:
            return self._become_master(now, "address owner (priority 255)", STARTUP)
        self.master_adver_int_cs = self.params.adver_int_cs
        self._master_down_at = now + self.master_down_interval_s()
        return self._change_state(BACKUP, now, "startup", STARTUP)

    def shutdown(self, now: float) -> List[Action]:
        """RFC 5798 §6.4.3 (Shutdown): a master sends priority 0 and releases the VIPs."""
        actions: List[Action] = []
        if self.state == MASTER:
            actions += self._release_master(PRIORITY_STOP)
        self._cancel_timers()
        return actions + self._change_state(INIT, now, "stop", SHUTDOWN)

    def link_down(self, now: float) -> List[Action]:
        """The instance interface lost its link: FAULT (keepalived), prio 0 first if master."""
        return self.enter_fault(now, "interface down")

    def link_up(self, now: float) -> List[Action]:
        """Link back: leave FAULT as if starting up (BACKUP, or MASTER for the owner)."""
        return self.leave_fault(now)

    def enter_fault(self, now: float, reason: str) -> List[Action]:
        """FAULT (link, failing weight-0 tracker, resource failure, sync group): prio 0 first."""
        if self.state == FAULT:
            return []
        actions: List[Action] = []
        if self.state == MASTER:
            actions += self._release_master(PRIORITY_STOP)
        self._cancel_timers()
        self.master_priority = None
        return actions + self._change_state(FAULT, now, reason, FAULTED)

    def leave_fault(self, now: float) -> List[Action]:
        """Every fault cleared: start again (BACKUP, or MASTER for the owner), RFC §6.4.1."""
        if self.state != FAULT:
            return []
        return self.start(now)

    def force_master(self, now: float, reason: str) -> List[Action]:
        """Sync group: a member became master, so does this backup (keepalived)."""
        if self.state != BACKUP:
            return []
        return self._become_master(now, reason, SYNC)

    def force_backup(self, now: float, reason: str) -> List[Action]:
        """Sync group: a member left master; this master follows (priority 0, VIPs dropped)."""
        if self.state != MASTER:
            return []
        actions = self._release_master(PRIORITY_STOP)
        self._cancel_timers()
        self.master_priority = None
        self._master_down_at = now + self.master_down_interval_s()
        return actions + self._change_state(BACKUP, now, reason, SYNC)

    # ----------------------------------------------------------------- input
    def on_timer(self, now: float) -> List[Action]:
        actions: List[Action] = []
        if self._master_down_at is not None and now >= self._master_down_at:
            if self.state == BACKUP and self.params.sync_member:
                self._master_down_at = None
                self.wants_master = True
                actions.append(WantMaster("master down timer expired"))
            elif self.state == BACKUP:
                actions += self._become_master(now, "master down timer expired", MASTER_DOWN)
            else:
                self._master_down_at = None
        adver_at = self._adver_at
        if adver_at is not None and now >= adver_at and self.state == MASTER:
            actions.append(self._advert(self.effective_priority))
            self._adver_at = next_advert_s(adver_at, self.params.adver_int_cs / 100.0, now)
        if self._garp_burst_at is not None and now >= self._garp_burst_at:
            self._garp_burst_at = None
            if self.state == MASTER and self._garp_burst_repeat > 0:
                actions.append(self._announce(self._garp_burst_repeat))
        if self._garp_refresh_at is not None and now >= self._garp_refresh_at:
            period = self.params.garp_master_refresh_s
            self._garp_refresh_at = self._next_tick(self._garp_refresh_at, period, now)
            if self.state == MASTER:
                actions.append(self._announce(self.params.garp_master_refresh_repeat))
        return actions

    def on_advert(self, adv: Advertisement, src: bytes, now: float) -> List[Action]:
        """An advert that passed every packet and instance check."""
        self.counters["adverts_received"] += 1
        if adv.priority == PRIORITY_STOP:
            self.counters["priority_zero_received"] += 1
        if self.state == BACKUP:
            return self._backup_rx(adv, src, now)
        if self.state == MASTER:
            return self._master_rx(adv, src, now)
        return []

    # ------------------------------------------------------------ priority
    @property
    def base_priority(self) -> int:
        return self.params.priority

    def set_priority(self, priority: int, now: float) -> List[Action]:
        """Tracking: the tracked priority; it is advertised unless an override holds."""
        self.tracked_priority = priority
        return self._recompute(now)

    def _recompute(self, now: float) -> List[Action]:
        """Effective = override, else tracked, else base. The next advert carries it."""
        if self.override == "takeover":
            priority = TAKEOVER_PRIORITY
        elif self.override == "standby":
            priority = STANDBY_PRIORITY
        elif self.tracked_priority is not None:
            priority = self.tracked_priority
        else:
            priority = self.params.priority
        self._set_effective(priority)
        return []

    def _set_effective(self, priority: int) -> None:
        """A master is its own master: what it advertises is master_priority too."""
        self.effective_priority = priority
        if self.state == MASTER:
            self.master_priority = priority

    # ------------------------------------------------------------ operator
    def takeover(self, now: float) -> List[Action]:
        """Make-before-break switchover: advertise TAKEOVER_PRIORITY and be master now."""
        self.override = "takeover"
        actions = self._recompute(now)
        if self.state == BACKUP:
            return actions + self._become_master(now, "takeover requested", TAKEOVER)
        return actions

    def standby(self, now: float) -> List[Action]:
        """Give mastership up now (priority 0 advert) and stay backup at STANDBY_PRIORITY."""
        self.override = "standby"
        actions = self._recompute(now)
        if self.state != MASTER:
            return actions
        actions += self._release_master(PRIORITY_STOP)
        self._cancel_timers()
        self.master_priority = None
        self._master_down_at = now + self.master_down_interval_s()
        return actions + self._change_state(BACKUP, now, "standby requested", STANDBY)

    def release(self, now: float) -> List[Action]:
        """Drop the override: back to the tracked (or configured) priority; RFC rules follow."""
        self.override = None
        return self._recompute(now)

    def reconfigure(self, params: RouterParams, now: float) -> List[Action]:
        """Reload: new settings, same state and override. Timers re-derive from them as they run."""
        old = self.params
        self.params = params
        if params.priority != old.priority:
            self.tracked_priority = None  # tracking reports again for the new base
        actions = self._recompute(now)
        if params.adver_int_cs != old.adver_int_cs and self.state != BACKUP:
            self.master_adver_int_cs = params.adver_int_cs
        if self.state == MASTER and self._adver_at is not None:
            self._adver_at = min(self._adver_at, self._adver_at - old.adver_int_cs / 100.0
                                 + params.adver_int_cs / 100.0)
        return actions

    # -------------------------------------------------------------- backup
    def _backup_rx(self, adv: Advertisement, src: bytes, now: float) -> List[Action]:
        if adv.priority == PRIORITY_STOP and self._foreign_stop(src, now):
            # the master we follow is alive: another router's priority 0 is not its leaving
            self.counters["foreign_priority_zero_ignored"] += 1
            return []
        if adv.priority == PRIORITY_STOP:
            # RFC 5798 §6.4.2 (655): Master_Down_Timer = Skew_Time
            self._master_down_at = now + self.skew_time_s()
            self.master_priority = PRIORITY_STOP
            self._live_master = None
            self._preempting = False  # the master is leaving: nothing to make before break
            return []
        self._preempting = False
        if self._accepts_master(adv.priority, now):
            # RFC 5798 §6.4.2 (660-670): learn the interval, reset the down timer
            if self.params.version == 3:
                self.master_adver_int_cs = adv.adver_int_cs or self.params.adver_int_cs
            down_interval_s = self.master_down_interval_s()
            self._master_down_at = now + down_interval_s
            self.master_ip = src
            self.master_priority = adv.priority
            self.wants_master = False
            self._note_live_master(src, adv.priority, now, down_interval_s)
            return []
        # RFC 5798 §6.4.2 (675): discard; the down timer keeps running, so we preempt
        self.counters["lower_priority_ignored"] += 1
        self._preempting = True  # the master is alive: preempt make-before-break
        return []

    def _note_live_master(self, src: bytes, priority: int, now: float,
                          down_interval_s: Optional[float] = None) -> None:
        """The best master heard within a Master_Down_Interval (answers.py, rule 4)."""
        live = self._live_master
        if live is None or now >= live[2] or src == live[0] or priority > live[1]:
            if down_interval_s is None:
                down_interval_s = self.master_down_interval_s()
            self._live_master = (src, priority, now + down_interval_s)

    def _foreign_stop(self, src: bytes, now: float) -> bool:
        """A priority 0 from a router other than the best live master (answers.py, rule 4)."""
        live = self._live_master
        return live is not None and now < live[2] and src != live[0]

    def _accepts_master(self, adv_priority: int, now: float) -> bool:
        """Preempt_Mode False, or priority >= ours, or preempt_delay still running."""
        if self.params.nopreempt or adv_priority >= self.effective_priority:
            self._preempt_until = None
            return True
        if self.params.preempt_delay_s > 0:
            if self._preempt_until is None:
                self._preempt_until = now + self.params.preempt_delay_s
            return now < self._preempt_until
        return False

    # -------------------------------------------------------------- master
    def _master_rx(self, adv: Advertisement, src: bytes, now: float) -> List[Action]:
        if adv.priority == PRIORITY_STOP:
            # RFC 5798 §6.4.3 (720): send an advert at once, reset Adver_Timer (budgeted)
            return self._answer(now)
        self.counters["dual_master_seen"] += 1
        ours = self.effective_priority
        if adv.priority > ours or (adv.priority == ours and src > self.primary_ip):
            # RFC 5798 §6.4.3 (730-745): yield to the better master
            self.log.info(
                "higher priority %d (ours %d) from %s: yielding", adv.priority, ours, _ip_text(src)
            )
            last: List[Action] = [self._advert(ours)] if self.params.higher_prio_send_advert else []
            return last + self._yield_to(adv, src, now)
        return self._lower_rx(adv, src, now)

    def _answer(self, now: float) -> List[Action]:
        """One answer advert per Advertisement_Interval at most (answers.py, rule 2)."""
        if not self._answers.advert_due(now, self.adver_int_s):
            self.counters["answers_suppressed"] += 1
            return []
        self._adver_at = now + self.adver_int_s
        return [self._advert(self.effective_priority)]

    def _lower_rx(self, adv: Advertisement, src: bytes, now: float) -> List[Action]:
        """RFC 9568 §6.4.3 / keepalived: answer a lower priority, re-announce (budgeted)."""
        p = self.params
        actions: List[Action] = [] if p.lower_prio_no_advert else self._answer(now)
        if not self._answers.episode_opens(now, p.garp_lower_prio_delay_s):
            return actions
        self.counters["lower_priority_episodes"] += 1
        self.log.info("lower priority %d advert from %s: asserting master", adv.priority, _ip_text(src))
        if p.garp_lower_prio_repeat > 0:
            actions.append(self._announce(p.garp_lower_prio_repeat))
            self._arm_garp_burst(now, p.garp_lower_prio_delay_s, p.garp_lower_prio_repeat)
        actions.append(RxLowerPriority(adv.priority, src))
        return actions

    def _yield_to(self, adv: Advertisement, src: bytes, now: float) -> List[Action]:
        if self.params.version == 3:
            self.master_adver_int_cs = adv.adver_int_cs or self.params.adver_int_cs
        self.master_ip = src
        self.master_priority = adv.priority
        self._cancel_timers()
        self._master_down_at = now + self.master_down_interval_s()
        self._note_live_master(src, adv.priority, now)
        self.counters["released_master"] += 1
        return [_DEL_VIPS] + self._change_state(BACKUP, now, "higher priority master", PREEMPTED)

    def _become_master(self, now: float, reason: str, cause: str) -> List[Action]:
        if not self._allowed(MASTER, cause, reason):
            return []  # refused before any side effect: no advert, no VIPs
        make_before_break = cause == TAKEOVER or (cause == MASTER_DOWN and self._preempting)
        self._cancel_timers()
        self.wants_master = False
        self.master_ip = self.primary_ip
        self.master_priority = self.effective_priority
        self.master_adver_int_cs = self.params.adver_int_cs
        self._adver_at = now + self.adver_int_s
        p = self.params
        self._arm_garp_burst(now, p.garp_master_delay_s, p.garp_master_repeat)
        if p.garp_master_refresh_s > 0:
            self._garp_refresh_at = now + p.garp_master_refresh_s
        self.counters["became_master"] += 1
        actions: List[Action] = [_ADD_VIPS]
        if p.garp_master_repeat > 0:
            actions.append(self._announce(p.garp_master_repeat))
        advert = self._advert(self.effective_priority)
        actions = actions + [advert] if make_before_break else [advert] + actions
        return actions + self._change_state(MASTER, now, reason, cause)

    def _release_master(self, priority: int) -> List[Action]:
        self.counters["released_master"] += 1
        return [self._advert(priority), _DEL_VIPS]

    # ------------------------------------------------------------- helpers
    def _change_state(self, new: str, now: float, reason: str, cause: str) -> List[Action]:
        old = self.state
        if new == old:
            return []
        if not self._allowed(new, cause, reason):
            return []
        if new != BACKUP:
            self.wants_master = False
        self.state = new
        self.last_transition = now
        self.counters["transitions"] += 1
        self.log.info("%s -> %s (%s)", old, new, reason)
        return [StateChanged(old, new, reason)]

    def _allowed(self, new: str, cause: str, reason: str) -> bool:
        if new in TRANSITIONS[self.state].get(cause, ()):
            return True
        self.log.error("this is a bug: no transition %s -> %s on %s (%s)", self.state, new, cause, reason)
        return False

    def _advert(self, priority: int) -> SendAdvert:
        self.counters["adverts_sent"] += 1
        if priority == PRIORITY_STOP:
            self.counters["priority_zero_sent"] += 1
        return _SEND_ADVERT.get(priority) or SendAdvert(priority)

    def _announce(self, repeat: int) -> Announce:
        self.counters["garp_bursts"] += 1
        announce = _ANNOUNCE.get(repeat)
        if announce is None:
            announce = _ANNOUNCE[repeat] = Announce(repeat)
        return announce

    def _arm_garp_burst(self, now: float, delay_s: float, repeat: int) -> None:
        if delay_s > 0 and repeat > 0:
            self._garp_burst_at = now + delay_s
            self._garp_burst_repeat = repeat

    def _cancel_timers(self) -> None:
        self._master_down_at = None
        self._adver_at = None
        self._garp_burst_at = None
        self._garp_refresh_at = None
        self._preempt_until = None
        self._preempting = False

    @staticmethod
    def _next_tick(previous: float, period: float, now: float) -> float:
        """Keep a steady cadence; after a stall, restart from now instead of bursting."""
        nxt = previous + period
        return nxt if nxt > now else now + period


def _ip_text(packed: bytes) -> str:
    import socket

    family = socket.AF_INET if len(packed) == 4 else socket.AF_INET6
    try:
        return socket.inet_ntop(family, packed)
    except ValueError:
        return packed.hex()
