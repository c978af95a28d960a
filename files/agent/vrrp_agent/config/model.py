"""The validated configuration: frozen dataclasses, no I/O.

The parser (parser.py) builds these from keepalived.conf syntax; everything
downstream (router, daemon, status) reads only these. Units are in the name:
`_cs` centiseconds (RFC 5798 unit), `_s` seconds (float).

Every object remembers where it was defined (`file`, `line`) so that later
checks (against the host, on reload) can still say FILE:LINE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

from vrrp_agent import constants as c


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
class VipSpec:
    """One `virtual_ipaddress` entry."""

    address: str
    """Normalised address text, without prefix ("198.51.100.100", "2001:db8::100")."""
    prefixlen: int
    """Prefix length; a bare address is /32 (IPv4) or /128 (IPv6) as in keepalived."""
    family: int
    """4 or 6."""
    dev: Optional[str] = None
    """Interface to put it on; None = the instance interface."""
    label: Optional[str] = None
    scope: Optional[str] = None
    """global | site | link | host | nowhere (None = kernel default)."""
    brd: Optional[str] = None
    """Broadcast: an address, "+" or "-" (IPv4 only)."""
    nodad: Optional[bool] = None
    """IPv6 duplicate address detection off: None = the default (off, as keepalived);
    False = `-nodad` (DAD done)."""
    noprefixroute: bool = False
    preferred_lft: Optional[int] = None
    """Seconds (0xFFFFFFFF = forever); None = keepalived's default: 0 (deprecated)
    for an IPv6 /128, forever otherwise."""
    use_vmac: bool = False
    """VIP option `use_vmac`: on a vMAC of its own interface and family (needs the
    instance's use_vmac)."""
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class AnnounceConfig:
    """`announce bgp [dev NAME] [lease SECONDS]` (agent extension, see docs/bgp.md).

    While MASTER the VIPs are host routes (/32, /128) on `dev` (`lo` by
    default, or a dummy interface the agent creates), which FRR redistributes; they carry a valid lifetime of
    `lease_s` seconds, refreshed while MASTER, so that a frozen or killed
    agent's announcement lapses on its own.
    """

    mode: str = "bgp"
    dev: str = "lo"
    lease_s: int = 3
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class ScriptUser:
    """`user USER [GROUP]` / `script_user USER [GROUP]`: who a script runs as."""

    user: str
    group: Optional[str] = None


@dataclass(frozen=True)
class ScriptConfig:
    """`vrrp_script NAME { ... }`: a periodic health check."""

    name: str
    argv: Tuple[str, ...]
    """The command, split like keepalived does (shell-like words and quotes); never a shell."""
    interval_s: float = 1.0
    timeout_s: Optional[float] = None
    """None = the interval (keepalived)."""
    weight: int = 0
    weight_reverse: bool = False
    rise: int = 1
    fall: int = 1
    user: Optional[ScriptUser] = None
    init_fail: bool = False
    file: str = ""
    line: int = 0

    @property
    def run_timeout_s(self) -> float:
        return self.interval_s if self.timeout_s is None else self.timeout_s


@dataclass(frozen=True)
class TrackFileConfig:
    """`vrrp_track_file NAME { file PATH; weight W [reverse]; init_file [V] [overwrite] }`."""

    name: str
    path: str
    weight: int = 1
    weight_reverse: bool = False
    init_value: Optional[int] = None
    """init_file: write this value at start if the file is missing (or always with overwrite)."""
    init_overwrite: bool = False
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class TrackProcessConfig:
    """`vrrp_track_process NAME { process P [ARGS]; param_match; weight; quorum; ... }`."""

    name: str
    process: str
    params: Tuple[str, ...] = ()
    param_match: str = "exact"
    """exact | initial | partial (keepalived's param_match)."""
    full_command: bool = False
    weight: int = 0
    weight_reverse: bool = False
    quorum: int = 1
    quorum_max: Optional[int] = None
    fork_delay_s: float = 0.0
    """A gain of quorum counts once it has lasted this long (fork_delay / delay)."""
    terminate_delay_s: float = 0.0
    """A loss of quorum counts once it has lasted this long (terminate_delay / delay)."""
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class TrackRef:
    """One entry of track_script / track_interface / track_file / track_process."""

    kind: str
    """"script" | "interface" | "file" | "process"."""
    name: str
    weight: Optional[int] = None
    """None = the tracked object's own weight (interfaces: 0 = FAULT while down)."""
    reverse: Optional[bool] = None
    """None = the tracked object's own setting."""
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class NotifyCommand:
    """A notify hook: argv (split like keepalived does) and an optional user."""

    argv: Tuple[str, ...]
    user: Optional[ScriptUser] = None
    file: str = ""
    line: int = 0


RX_LOWER_PRI = "MASTER_RX_LOWER_PRI"
"""keepalived's event name; its hook gets only its configured words, no generic `notify`."""


@dataclass(frozen=True)
class FifoConfig:
    """`notify_fifo PATH [USER [GROUP]]` (+ `notify_fifo_script CMD`): state lines written to a FIFO."""

    path: str
    user: Optional[ScriptUser] = None
    """Owner given to the FIFO when the agent creates it (None: the script user's default)."""
    script: Optional[NotifyCommand] = None
    """Started with the FIFO path appended, when the FIFO is opened; SIGTERM at close."""
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class NotifyConfig:
    """notify_master / notify_backup / notify_fault / notify_stop / notify (generic)."""

    master: Optional[NotifyCommand] = None
    backup: Optional[NotifyCommand] = None
    fault: Optional[NotifyCommand] = None
    stop: Optional[NotifyCommand] = None
    deleted: Optional[NotifyCommand] = None
    """notify_deleted CMD: run when the instance leaves the configuration at a reload."""
    generic: Optional[NotifyCommand] = None
    """Run after the specific hook with TYPE NAME STATE PRIORITY appended."""
    master_rx_lower_pri: Optional[NotifyCommand] = None
    """Instances only: a master heard a lower priority (once per episode, answers.py)."""

    def for_state(self, state: str) -> Optional[NotifyCommand]:
        return {"MASTER": self.master, "BACKUP": self.backup, "FAULT": self.fault,
                "STOP": self.stop, "DELETED": self.deleted,
                RX_LOWER_PRI: self.master_rx_lower_pri}.get(state)

    @property
    def any(self) -> bool:
        return any((self.master, self.backup, self.fault, self.stop, self.deleted, self.generic,
                    self.master_rx_lower_pri))


@dataclass(frozen=True)
class ResourceConfig:
    """One resource of a resource_group (agent extension)."""

    kind: str
    """"service" (systemctl start|stop UNIT) or "script" (PATH ARGS... start|stop)."""
    name: str
    """The unit name (with suffix) or the script path."""
    argv: Tuple[str, ...]
    """service: ("systemctl", UNIT); script: (PATH, ARGS...). The verb is appended."""
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class ResourceGroupConfig:
    """`resource_group { service S; script PATH ARGS; timeout S; stop_retries N }` (extension)."""

    resources: Tuple[ResourceConfig, ...] = ()
    timeout_s: float = 30.0
    stop_retries: int = 3
    fault_hold_s: float = 60.0
    """After a failed start, FAULT is held this long (0 = until `vrrp-agent release`)."""
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class SyncGroupConfig:
    """`vrrp_sync_group NAME { group { VI_1 VI_2 } notify_*; track_* }`."""

    name: str
    members: Tuple[str, ...]
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    tracks: Tuple[TrackRef, ...] = ()
    tracking_weight: bool = False
    """sync_group_tracking_weight: keep weighted trackers of members."""
    smtp_alert: Optional[bool] = None
    """Mail on group state changes; None = the global smtp_alert_vrrp / smtp_alert (parser resolves)."""
    notify_priority_changes: Optional[bool] = None
    """Default for members without their own; None = the global vrrp_notify_priority_changes."""
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class RouteSpec:
    """One line of virtual_routes / static_routes (the `ip route` subset the agent applies)."""

    dst: str
    """Destination network with its prefix ("198.51.100.0/24", "0.0.0.0/0")."""
    family: int
    kind: str = "unicast"
    """unicast | blackhole | unreachable | prohibit."""
    via: Optional[str] = None
    dev: Optional[str] = None
    src: Optional[str] = None
    """Preferred source (RTA_PREFSRC)."""
    scope: Optional[str] = None
    """None = global (as keepalived)."""
    table: int = 254
    metric: Optional[int] = None
    proto: Optional[int] = None
    """None = keepalived (18), as keepalived."""
    onlink: bool = False
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class RuleSpec:
    """One line of virtual_rules / static_rules (the `ip rule` subset the agent applies)."""

    family: int
    table: int
    src: Optional[str] = None
    """from NETWORK (None = all)."""
    dst: Optional[str] = None
    """to NETWORK (None = all)."""
    priority: Optional[int] = None
    fwmark: Optional[int] = None
    fwmask: Optional[int] = None
    iif: Optional[str] = None
    oif: Optional[str] = None
    tos: Optional[int] = None
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class VmacConfig:
    """`use_vmac [NAME] [MAC]` + `vmac_xmit_base`: a macvlan with the VRRP virtual MAC."""

    name: str
    """Interface name (keepalived's default: vrrp.VRID)."""
    mac: str
    """00:00:5e:00:01:VRID (RFC 5798 §7.3) unless configured."""
    xmit_base: bool = False
    """Adverts on the parent interface instead of the macvlan."""
    auto_name: bool = False
    """No name configured: keepalived's vrrp.VRID, or the next free vrrpN.VRID."""
    parent: str = ""
    """A per-VIP vMAC's interface ("" = the instance interface)."""
    family: int = 0
    """A per-VIP vMAC's family (0 = the instance's)."""
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class InstanceConfig:
    """One `vrrp_instance NAME { ... }`."""

    name: str
    interface: str
    vrid: int
    priority: int
    """Base priority, 1..255. `state MASTER` without a priority line gives 255."""
    initial_state: str
    """"MASTER" or "BACKUP" (the configured wish)."""
    version: int
    """2 or 3 (IPv6 instances are always 3)."""
    family: int
    """4 or 6: the family of the (non-excluded) VIPs."""
    advert_int_cs: int
    """Advertisement interval, centiseconds (v2: a multiple of 100)."""
    nopreempt: bool = False
    preempt_delay_s: float = 0.0
    auth_type: Optional[str] = None
    """None, "PASS" or "AH" (v2 only, IPv4 only)."""
    auth_pass: Optional[bytes] = None
    """The PASS secret / AH key, zero-padded to 8 bytes. Never logged, never in status."""
    vips: Tuple[VipSpec, ...] = ()
    """virtual_ipaddress: carried in adverts."""
    excluded_vips: Tuple[VipSpec, ...] = ()
    """virtual_ipaddress_excluded: moved with the instance, not carried in adverts."""
    unicast_src_ip: Optional[str] = None
    unicast_peers: Tuple[str, ...] = ()
    """Non-empty = unicast mode (TTL checked only against unicast_peer_ttl, adverts sent to
    each peer)."""
    mcast_src_ip: Optional[str] = None
    unicast_ttl: Optional[int] = None
    """`unicast_ttl`: TTL / hop limit of unicast adverts; None = 255."""
    unicast_peer_ttl: Tuple[Tuple[int, int], ...] = ()
    """(min_ttl, max_ttl) of each unicast peer, in `unicast_peers` order (default 0, 255)."""
    check_unicast_src: bool = False
    """Unicast: drop adverts whose source is not a peer, or whose TTL is out of its range."""
    unicast_fault_no_peer: bool = False
    """`unicast_fault_no_peer` with no peer: FAULT instead of falling back to multicast."""
    mcast_dst_ip: Optional[str] = None
    """`mcast_dst_ip`: this instance's multicast group; None = vrrp_mcast_group4/6."""
    track_src_ip: bool = False
    """FAULT while the configured unicast_src_ip / mcast_src_ip is not on the host."""
    skip_check_adv_addr: bool = False
    """Do not compare the VIP list of adverts from the master already known."""
    down_timer_adverts: int = 3
    """Master_Down_Interval = down_timer_adverts x Master_Adver_Interval + Skew_Time."""
    kernel_rx_buf_size: Optional[int] = None
    """SO_RCVBUF of the receive socket (None = the agent's 1 MiB)."""
    old_unicast_checksum: str = "auto"
    """v3/IPv4 unicast, the keepalived < 1.3.6 checksum (224.0.0.18 in the pseudo-header):
    "auto" (send it once a peer does), "config" (always send it), "never" (refuse it)."""
    garp: GarpSettings = field(default_factory=GarpSettings)
    v3_checksum_as_v2: bool = False
    """Send the RFC 9568 form of the v3/IPv4 checksum (no pseudo-header)."""
    dont_track_primary: bool = False
    """Ignore link down of `interface` (no FAULT)."""
    lower_prio_no_advert: bool = False
    """A master does not answer a lower-priority advert with an advert (keepalived)."""
    higher_prio_send_advert: bool = False
    """A master sends one advert before yielding to a higher priority (keepalived)."""
    debug: int = 0
    """keepalived's `debug [LEVEL]` (0..4): above 0 this instance logs at debug level."""
    tracks: Tuple[TrackRef, ...] = ()
    """Every tracker, instance ones first, then those of its sync group."""
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    resources: Optional[ResourceGroupConfig] = None
    sync_group: Optional[str] = None
    smtp_alert: Optional[bool] = None
    """Mail on state changes (keepalived's subject and body); the parser resolves None from globals."""
    notify_priority_changes: Optional[bool] = None
    """FIFO line MASTER_PRIORITY / BACKUP_PRIORITY on each effective priority change."""
    notify_deleted: bool = False
    """At a reload that removes the instance: DELETED (hooks, FIFO, mail) instead of keepalived's FAULT."""
    vmac: Optional[VmacConfig] = None
    """use_vmac: the macvlan carrying the VIPs (and the adverts unless xmit_base)."""
    promote_secondaries: bool = False
    """Set net.ipv4.conf.IF.promote_secondaries while running (restored at stop)."""
    strict: bool = False
    """strict_mode (or vrrp_strict): keepalived's RFC checks and resets, applied by the parser."""
    accept: bool = True
    """Accept mode (RFC 5798 §6.1): False = no_accept, packets to the VIPs are dropped
    through nftables while MASTER (never for the address owner, priority 255)."""
    vip_vmacs: Tuple[VmacConfig, ...] = ()
    """Per-VIP vMACs (VIP option use_vmac, use_vmac_addr): one per (interface, family)."""
    routes: Tuple[RouteSpec, ...] = ()
    """virtual_routes: added after the VIPs on MASTER, removed before them on leaving."""
    rules: Tuple[RuleSpec, ...] = ()
    """virtual_rules: as virtual_routes."""
    file: str = ""
    line: int = 0
    announce: Optional[AnnounceConfig] = None
    """None: VIPs on the interface with gratuitous ARP/NA (VRRP's way); else routed (BGP)."""

    @property
    def vip_interface(self) -> str:
        """Where VIPs of the instance's family without a `dev` go: the vMAC, or the interface."""
        return self.vmac.name if self.vmac else self.interface

    def vip_dev(self, vip: VipSpec) -> str:
        """The interface of one VIP: its per-VIP vMAC, else its `dev`, else the vMAC for the
        instance's family, else the instance interface (an eVIP of the other family stays
        off the vMAC, as keepalived does)."""
        parent = vip.dev or self.interface
        for vmac in self.vip_vmacs:
            if vmac.parent == parent and vmac.family == vip.family:
                return vmac.name
        if vip.dev:
            return vip.dev
        return self.vip_interface if vip.family == self.family else self.interface

    @property
    def all_vips_config(self) -> Tuple[VipSpec, ...]:
        return self.vips + self.excluded_vips

    @property
    def all_vmacs(self) -> Tuple[Tuple[VmacConfig, str, int], ...]:
        """(vMAC, parent, family) of the instance's vMAC and its per-VIP ones."""
        own = ((self.vmac, self.interface, self.family),) if self.vmac else ()
        return own + tuple((v, v.parent, v.family) for v in self.vip_vmacs)

    @property
    def socket_interface(self) -> str:
        """Where adverts are sent and received: the vMAC unless vmac_xmit_base."""
        return self.vmac.name if self.vmac and not self.vmac.xmit_base else self.interface

    @property
    def filters(self) -> bool:
        """no_accept in effect: the VIPs are filtered while MASTER (not for an owner)."""
        return not self.accept and self.priority != 255

    @property
    def unicast(self) -> bool:
        return bool(self.unicast_peers)

    @property
    def key(self) -> Tuple[str, int, int]:
        """Reload identity: interface + VRID + family (as keepalived matches)."""
        return (self.interface, self.vrid, self.family)


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


@dataclass(frozen=True)
class Config:
    """A whole configuration, as loaded from one top file and its includes."""

    path: str
    globals: GlobalDefs
    instances: Tuple[InstanceConfig, ...]
    config_id: Optional[str] = None
    """keepalived's -i/--config-id given at load (selects `@ID` lines); None = the host name."""
    files: Tuple[str, ...] = ()
    """Every file read (the top file and its includes), in order."""
    warnings: Tuple[str, ...] = ()
    """Accepted-but-suspicious input, as "FILE:LINE: message" (keepalived warns on these too)."""
    scripts: Tuple[ScriptConfig, ...] = ()
    track_files: Tuple[TrackFileConfig, ...] = ()
    track_processes: Tuple[TrackProcessConfig, ...] = ()
    sync_groups: Tuple[SyncGroupConfig, ...] = ()
    static_vips: Tuple[VipSpec, ...] = ()
    """static_ipaddress: present while the agent runs (added at start, removed at stop)."""
    static_routes: Tuple[RouteSpec, ...] = ()
    static_rules: Tuple[RuleSpec, ...] = ()
    link_delays: Tuple[LinkDelay, ...] = ()
    """interface_up_down_delays { IFNAME DOWN [UP] }, one entry per interface."""
