"""Process-wide settings: `global_defs`, the GARP schedule, interface_up_down_delays.

Frozen dataclasses, no I/O (the rules of model.py); parsed by parser.py and
process_globals.py. GarpSettings is also each instance's own schedule
(the globals are its defaults). Units are in the name (`_s`, `_us`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

from vrrp_agent import constants as c
from vrrp_agent.config.hooks import FifoConfig, ScriptUser


@dataclass(frozen=True)
class GarpSettings:
    """Gratuitous ARP / unsolicited NA schedule (keepalived's garp_* keywords)."""

    master_delay_s: float = c.GARP_MASTER_DELAY_S
    """Delay before the second burst after becoming master; 0 = no second burst."""
    master_repeat: int = c.GARP_MASTER_REPEAT
    """Packets per VIP in each burst."""
    master_refresh_s: float = c.GARP_MASTER_REFRESH_S
    """Periodic refresh while master; 0 = off."""
    master_refresh_repeat: int = c.GARP_MASTER_REFRESH_REPEAT
    """Packets per VIP in each refresh."""
    interval_s: float = 0.0
    """Gap between two gratuitous ARPs (vrrp_garp_interval)."""
    gna_interval_s: float = 0.0
    """Gap between two unsolicited NAs (vrrp_gna_interval)."""
    lower_prio_delay_s: Optional[float] = None
    """Delay of the second burst sent when a master hears a lower priority (None = master_delay)."""
    lower_prio_repeat: Optional[int] = None
    """Burst size sent when a master hears a lower priority (None = master_repeat)."""
    extra_if_s: float = 0.0
    """garp_extra_if: while master, one GARP/NA per VIP every this many seconds on the
    VIP interfaces other than the instance's (0 = off)."""
    extra_if_all: bool = False
    """garp_extra_if `all`: on every such interface; without it only on vMACs of
    individual VIPs (use_vmac_addr, VIP use_vmac), which the agent does not create."""


@dataclass(frozen=True)
class GlobalDefs:
    """`global_defs { ... }` (the VRRP-relevant part)."""

    router_id: Optional[str] = None
    vrrp_version: int = 2
    garp: GarpSettings = field(default_factory=GarpSettings)
    startup_delay_s: float = 0.0
    mcast_group4: str = c.MCAST_GROUP4
    mcast_group6: str = c.MCAST_GROUP6
    v3_checksum_as_v2: bool = False
    enable_script_security: bool = False
    script_user: Optional[ScriptUser] = None
    """None = `keepalived_script` if that user exists, else root (keepalived)."""
    rt_priority: int = 0
    """`vrrp_rt_priority`: SCHED_RR priority 1..99 for the agent's threads; 0 = leave as started."""
    nice: Optional[int] = None
    """`vrrp_priority`: nice value -20..19; None = leave as started."""
    email_to: Tuple[str, ...] = ()
    """notification_email { ... }: the recipients of SMTP alerts."""
    email_from: Optional[str] = None
    """notification_email_from; None = USER@HOSTNAME (keepalived)."""
    smtp_server: Optional[Tuple[str, int]] = None
    """smtp_server HOST [PORT] (port 25 by default); None = no mail."""
    smtp_helo_name: Optional[str] = None
    """smtp_helo_name; None = the host name."""
    smtp_connect_timeout_s: float = 30.0
    smtp_alert: Optional[bool] = None
    """Global default of every smtp_alert (None: not said)."""
    smtp_alert_vrrp: Optional[bool] = None
    """Global default of VRRP smtp_alerts, before smtp_alert (None: not said)."""
    no_email_faults: bool = False
    """No mail for FAULT."""
    notify_fifo: Optional[FifoConfig] = None
    vrrp_notify_fifo: Optional[FifoConfig] = None
    notify_priority_changes: bool = False
    """vrrp_notify_priority_changes: default of every instance's notify_priority_changes."""
    vrrp_strict: bool = False
    """keepalived's strict RFC mode, the default of each instance's strict_mode."""
    nft_table: str = "keepalived"
    """`nftables [TABLENAME]`: the table no_accept filtering uses (ip and ip6 families)."""
    nft_priority: int = -1
    """`nftables_priority`: the base chains' hook priority."""
    nft_counters: bool = False
    """`nftables_counters`: a counter on each rule."""
    max_auto_priority: int = 0
    """`max_auto_priority`: cap of the SCHED_RR steps taken after late timers; 0 = off."""
    min_auto_priority_delay_s: float = 1.0
    """`min_auto_priority_delay` (given in microseconds): how late a timer must be to step up."""
    check_unicast_src: bool = False
    """`vrrp_check_unicast_src`: every unicast instance drops adverts from non-peers."""
    skip_check_adv_addr: bool = False
    """`vrrp_skip_check_adv_addr`: the default of the instances' skip_check_adv_addr."""
    lower_prio_no_advert: bool = False
    """`vrrp_lower_prio_no_advert`: the instances' default."""
    higher_prio_send_advert: bool = False
    """`vrrp_higher_prio_send_advert`: the instances' default."""
    fifo_write_vrrp_states_on_reload: bool = False
    """After a reload, write every kept instance's (and group's) state line to the FIFOs."""
    no_swap: bool = False
    """vrrp_no_swap: lock the agent's memory (mlockall) so that it is never swapped out."""
    cpu_affinity: Tuple[int, ...] = ()
    """vrrp_cpu_affinity: the CPUs every thread of the agent may run on; () = leave as started."""
    rlimit_rttime_us: Optional[int] = None
    """vrrp_rlimit_rttime: RLIMIT_RTTIME hard limit (soft = half) while vrrp_rt_priority is set."""
    delay_after_boot_s: float = 0.0
    """vrrp_delay_after_boot: start the instances no earlier than this long after the host booted."""
    log_unknown_vrids: bool = False
    """Log every advert whose VRID no instance on that interface has."""
    umask: Optional[int] = None
    """umask: the agent's file-creation mask (notify FIFOs, scripts); None = as started."""
    default_interface: Optional[str] = None
    """default_interface: the device of static addresses written without `dev` (keepalived)."""


@dataclass(frozen=True)
class LinkDelay:
    """interface_up_down_delays: a link change of `interface` takes effect after its delay."""

    interface: str
    down_s: float
    up_s: float
    file: str = "<string>"
    line: int = 0
