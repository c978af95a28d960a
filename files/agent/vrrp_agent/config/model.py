"""The validated configuration: frozen dataclasses, no I/O.

The parser (parser.py) builds these from keepalived.conf syntax; everything
downstream (router, daemon, status) reads only these. Units are in the name:
`_cs` centiseconds (RFC 5798 unit), `_s` seconds (float).

Every object remembers where it was defined (`file`, `line`) so that later
checks (against the host, on reload) can still say FILE:LINE.

Cut by concern (this module keeps the instance, its sync group and the root):
  specs.py        VIPs, routes, rules, vMACs, `announce bgp`
  hooks.py        vrrp_script/track_file/track_process, notify hooks, FIFOs, resources
  global_defs.py  global_defs, the GARP schedule, interface_up_down_delays
Every name stays importable from here (`from vrrp_agent.config.model import X`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

from vrrp_agent.config.global_defs import GarpSettings, GlobalDefs, LinkDelay
from vrrp_agent.config.hooks import (
    RX_LOWER_PRI,
    FifoConfig,
    NotifyCommand,
    NotifyConfig,
    ResourceConfig,
    ResourceGroupConfig,
    ScriptConfig,
    ScriptUser,
    TrackFileConfig,
    TrackProcessConfig,
    TrackRef,
)
from vrrp_agent.config.specs import AnnounceConfig, RouteSpec, RuleSpec, VipSpec, VmacConfig

__all__ = [
    "RX_LOWER_PRI", "AnnounceConfig", "Config", "FifoConfig", "GarpSettings", "GlobalDefs",
    "InstanceConfig", "LinkDelay", "NotifyCommand", "NotifyConfig", "ResourceConfig",
    "ResourceGroupConfig", "RouteSpec", "RuleSpec", "ScriptConfig", "ScriptUser",
    "SyncGroupConfig", "TrackFileConfig", "TrackProcessConfig", "TrackRef", "VipSpec",
    "VmacConfig",
]


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
