"""Kernel-side instance keywords: `use_vmac`, `vmac_xmit_base` (keepalived 2.2.7).

Rules:
- Parsing only: each guard raises ConfigError naming FILE:LINE; the host
  checks (can the parent carry a macvlan?) live in adapters/vmac.py.
- `use_vmac [NAME] [MAC]`: NAME defaults to keepalived's `vrrp.VRID`; MAC to
  the RFC 5798 §7.3 virtual router MAC 00:00:5e:00:01:VRID; a MAC of five
  octets gets the VRID as the sixth, as keepalived does.
- `vmac_xmit_base` needs `use_vmac`; unicast peers need `vmac_xmit_base`
  (keepalived's rule: a macvlan in private mode cannot reach unicast peers).
"""

from __future__ import annotations

import re
from typing import Optional, Tuple

from vrrp_agent.config.model import VmacConfig
from vrrp_agent.config.syntax import Statement, no_block

IFNAMSIZ = 16
_IFNAME = re.compile(r"^[^\s/:]{1,15}$")
_MAC = re.compile(r"^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){4,5}$")


def parse_use_vmac(stmt: Statement) -> Tuple[Optional[str], Optional[str]]:
    """(name or None, mac text or None) of `use_vmac [NAME] [MAC]`."""
    no_block(stmt)
    if len(stmt.args) > 2:
        raise stmt.error(f"use_vmac takes [NAME] [MAC], got {' '.join(stmt.args)!r}")
    name = mac = None
    for word in stmt.args:
        if _MAC.match(word) and mac is None:
            mac = word.lower()
        elif name is None and mac is None:
            if not _IFNAME.match(word):
                raise stmt.error(f"use_vmac interface name {word!r} is not a valid interface "
                                 f"name (1..{IFNAMSIZ - 1} characters, no '/', ':' or space)")
            name = word
        else:
            raise stmt.error(f"use_vmac: {word!r} is not a MAC address")
    return name, mac


def vmac_mac(mac: Optional[str], vrid: int, family: int) -> str:
    """The virtual MAC: RFC 5798 §7.3 (IPv4 00:00:5e:00:01:VRID, IPv6 00:00:5e:00:02:VRID)."""
    if mac is None:
        return f"00:00:5e:00:0{1 if family == 4 else 2}:{vrid:02x}"
    octets = [int(o, 16) for o in mac.split(":")]
    if len(octets) == 5:
        octets.append(vrid)
    return ":".join(f"{o:02x}" for o in octets)


def build_vmac(use_vmac: Optional[Tuple[Tuple[Optional[str], Optional[str]], Statement]],
               xmit_base: Optional[Tuple[bool, Statement]], *, interface: str, vrid: int,
               family: int, unicast: bool) -> Optional[VmacConfig]:
    """The instance's VmacConfig (None without use_vmac), cross-keyword rules applied."""
    if use_vmac is None:
        if xmit_base is not None:
            raise xmit_base[1].error("vmac_xmit_base needs use_vmac")
        return None
    (name, mac), s = use_vmac
    if family == 6:
        raise s.error("use_vmac on an IPv6 instance is not implemented by the agent yet "
                      "(IPv4 instances only)")
    if name is None:
        name = f"vrrp.{vrid}"
    if name == interface:
        raise s.error(f"use_vmac interface {name} is the instance interface itself")
    if unicast and xmit_base is None:
        raise s.error("use_vmac with unicast peers needs vmac_xmit_base (as in keepalived)")
    octets = vmac_mac(mac, vrid, family).split(":")
    if int(octets[0], 16) & 1:
        raise s.error(f"use_vmac MAC {mac} is a multicast address")
    return VmacConfig(name=name, mac=":".join(octets), xmit_base=xmit_base is not None,
                      file=s.file, line=s.line)
