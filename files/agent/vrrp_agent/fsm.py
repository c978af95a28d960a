"""The vocabulary of the VRRP state machine (router.py): states, causes, the
transition table, the actions a Router returns, its parameters and counters.

Rules: data only, no behaviour. `TRANSITIONS` is the whole list of state
changes (RFC 5798 §6.4 plus keepalived's FAULT), keyed by state and cause;
Router._change_state refuses anything it does not hold.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, NamedTuple, Union

INIT = "INIT"
BACKUP = "BACKUP"
MASTER = "MASTER"
FAULT = "FAULT"

# What causes a state change (the second key of TRANSITIONS).
STARTUP = "startup"
"""RFC 5798 §6.4.1: Startup event (also: every fault source cleared, keepalived)."""
MASTER_DOWN = "master_down"
"""RFC 5798 §6.4.2: Master_Down_Timer fires in Backup."""
PREEMPTED = "preempted"
"""RFC 5798 §6.4.3: a Master hears a higher priority (or equal, greater address)."""
SHUTDOWN = "shutdown"
"""RFC 5798 §6.4.2 / §6.4.3: Shutdown event."""
FAULTED = "fault"
"""keepalived: a fault source holds (link, tracking, resources, sync group)."""
TAKEOVER = "takeover"
"""Operator takeover: a Backup advertises 254 and is master at once."""
STANDBY = "standby"
"""Operator standby: a Master sends priority 0 and stays Backup."""
SYNC = "sync"
"""keepalived sync group: a member follows the others to MASTER or BACKUP."""

TRANSITIONS: Dict[str, Dict[str, FrozenSet[str]]] = {
    INIT: {STARTUP: frozenset({BACKUP, MASTER}), FAULTED: frozenset({FAULT})},
    BACKUP: {
        MASTER_DOWN: frozenset({MASTER}),
        SHUTDOWN: frozenset({INIT}),
        FAULTED: frozenset({FAULT}),
        TAKEOVER: frozenset({MASTER}),
        SYNC: frozenset({MASTER}),
    },
    MASTER: {
        PREEMPTED: frozenset({BACKUP}),
        SHUTDOWN: frozenset({INIT}),
        FAULTED: frozenset({FAULT}),
        STANDBY: frozenset({BACKUP}),
        SYNC: frozenset({BACKUP}),
    },
    FAULT: {STARTUP: frozenset({BACKUP, MASTER}), SHUTDOWN: frozenset({INIT})},
}
"""state -> cause -> the states it may lead to. Nothing else is a transition."""


class SendAdvert(NamedTuple):
    """Send one advertisement with this priority (to the group or every unicast peer)."""

    priority: int


class AddVips(NamedTuple):
    """Add every VIP of the instance (idempotent)."""


class DelVips(NamedTuple):
    """Remove every VIP of the instance (idempotent)."""


class Announce(NamedTuple):
    """Gratuitous ARP / unsolicited NA for every VIP, `repeat` times each."""

    repeat: int


class StateChanged(NamedTuple):
    old: str
    new: str
    reason: str


class WantMaster(NamedTuple):
    """Sync-group member: the master-down timer expired; the driver decides (keepalived)."""

    reason: str


class RxLowerPriority(NamedTuple):
    """A master opened a lower-priority episode: run notify_master_rx_lower_pri (keepalived)."""

    priority: int
    src: bytes


Action = Union[SendAdvert, AddVips, DelVips, Announce, StateChanged, WantMaster, RxLowerPriority]

COUNTER_NAMES = (
    "adverts_sent",
    "adverts_received",
    "priority_zero_sent",
    "priority_zero_received",
    "transitions",
    "became_master",
    "released_master",
    "lower_priority_ignored",
    "dual_master_seen",
    "garp_bursts",
    "answers_suppressed",
    "lower_priority_episodes",
    "foreign_priority_zero_ignored",
)


class RouterParams(NamedTuple):
    """What the state machine needs from the config (see config.model.InstanceConfig)."""

    version: int
    priority: int
    adver_int_cs: int
    nopreempt: bool = False
    preempt_delay_s: float = 0.0
    garp_master_delay_s: float = 5.0
    garp_master_repeat: int = 5
    garp_master_refresh_s: float = 0.0
    garp_master_refresh_repeat: int = 1
    garp_lower_prio_delay_s: float = 5.0
    garp_lower_prio_repeat: int = 5
    lower_prio_no_advert: bool = False
    """Do not answer a lower-priority advert with an advert (GARPs and hook still run)."""
    higher_prio_send_advert: bool = False
    """Send one advert before yielding to a higher priority, so the winner re-announces."""
    sync_member: bool = False
    """In a vrrp_sync_group: become master only when the driver says every member wants to."""
    down_timer_adverts: int = 3
    """Master_Down_Interval = down_timer_adverts x Master_Adver_Interval + Skew_Time."""


TAKEOVER_PRIORITY = 254
"""Above any non-owner master; 255 stays the address owner's."""
STANDBY_PRIORITY = 1
"""A standby node still takes over when nobody else can."""
