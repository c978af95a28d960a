"""What an instance puts on the host: VIPs, routes, rules, vMACs, routed announcements.

Frozen dataclasses, no I/O (the rules of model.py); parsed by instance.py,
announce.py, routes.py and kernel.py, applied by vips.py and the adapters.
Every object remembers its `file` and `line` for later FILE:LINE errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


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
