"""Kernel-side keywords: `use_vmac`, `vmac_xmit_base`, strict mode, accept mode, nftables.

Rules:
- Parsing only: each guard raises ConfigError naming FILE:LINE; the host
  checks (can the parent carry a macvlan?) live in adapters/vmac.py.
- `use_vmac [NAME] [MAC]`: NAME defaults to keepalived's `vrrp.VRID`; MAC to
  the RFC 5798 §7.3 virtual router MAC 00:00:5e:00:01:VRID; a MAC of five
  octets gets the VRID as the sixth, as keepalived does.
- `vmac_xmit_base` needs `use_vmac`; unicast peers need `vmac_xmit_base`
  (keepalived's rule: a macvlan in private mode cannot reach unicast peers).
- Strict mode (`strict_mode`, default `vrrp_strict`) does what keepalived
  2.2.7 does, checked in tests/lab: no VIP is an error; authentication,
  preempt_delay, vmac_xmit_base and v2 `accept` are dropped with a FILE:LINE
  warning; `state` is made to match priority 255 (owner = MASTER) with a
  warning; without accept/no_accept, accept = owner. Unicast peers are
  accepted: keepalived 2.2.7 runs them in strict mode (its manual says otherwise).
- Accept mode default (not strict): accept. `accept` and `no_accept` together
  are an error.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Dict, List, Optional, Tuple

from vrrp_agent.config.model import InstanceConfig, VipSpec, VmacConfig
from vrrp_agent.config.syntax import Statement, int_arg, no_args, no_block, one_arg
from vrrp_agent.errors import ConfigError

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
    auto_name = name is None
    if name is None:
        name = f"vrrp.{vrid}"  # assign_vmac_names() makes it unique across instances
    if name == interface:
        raise s.error(f"use_vmac interface {name} is the instance interface itself")
    if unicast and xmit_base is None:
        raise s.error("use_vmac with unicast peers needs vmac_xmit_base (as in keepalived)")
    octets = vmac_mac(mac, vrid, family).split(":")
    if int(octets[0], 16) & 1:
        raise s.error(f"use_vmac MAC {mac} is a multicast address")
    return VmacConfig(name=name, mac=":".join(octets), xmit_base=xmit_base is not None,
                      auto_name=auto_name, file=s.file, line=s.line)


def vip_vmacs(raw: Any, vmac: Optional[VmacConfig], interface: str, family: int,
              vips: Tuple[VipSpec, ...]) -> Tuple[VmacConfig, ...]:
    """Per-VIP vMACs, one per (interface, family) other than the instance's own: for VIPs
    with the `use_vmac` option, or every such VIP with `use_vmac_addr` (keepalived)."""
    every = "use_vmac_addr" in raw
    asked = [v for v in vips if v.use_vmac]
    if vmac is None:
        where = raw["use_vmac_addr"][1] if every else (asked[0] if asked else None)
        if where is not None:
            raise ConfigError("use_vmac_addr and the VIP option use_vmac need the instance's "
                              "use_vmac", where.file, where.line)
        return ()
    out: Dict[Tuple[str, int], VmacConfig] = {}
    for vip in vips:
        parent = vip.dev or interface
        if (parent, vip.family) == (interface, family) or not (every or vip.use_vmac):
            continue
        if (parent, vip.family) not in out:  # the instance's MAC; the other family's own
            mac = vmac.mac if vip.family == family else vmac_mac(None, raw["vrid"][0], vip.family)
            out[(parent, vip.family)] = VmacConfig(
                name="", mac=mac, auto_name=True, parent=parent, family=vip.family,
                file=vip.file, line=vip.line)
    return tuple(out.values())


def assign_vmac_names(instances: List[InstanceConfig]) -> List[InstanceConfig]:
    """keepalived's vMAC naming: a configured name is used as is (twice is an error);
    an unnamed vMAC gets vrrp.VRID, else vrrpN.VRID with N = 1, 2, ... (IPv6: 6 first)."""
    taken: Dict[str, InstanceConfig] = {}
    for inst in instances:
        if inst.vmac is not None and not inst.vmac.auto_name:
            other = taken.get(inst.vmac.name)
            if other is not None:
                raise ConfigError(f"use_vmac {inst.vmac.name} is also the vMAC of vrrp_instance "
                                  f"{other.name}", inst.vmac.file, inst.vmac.line)
            taken[inst.vmac.name] = inst
    out = []
    for inst in instances:
        vmac = inst.vmac
        if vmac is not None and vmac.auto_name:
            name = _free_name(taken, inst.vrid, inst.family)
            taken[name] = inst
            inst = dataclasses.replace(inst, vmac=dataclasses.replace(vmac, name=name))
        extra = []
        for per_vip in inst.vip_vmacs:
            name = _free_name(taken, inst.vrid, per_vip.family)
            taken[name] = inst
            extra.append(dataclasses.replace(per_vip, name=name))
        out.append(dataclasses.replace(inst, vip_vmacs=tuple(extra)) if extra else inst)
    return out


def _free_name(taken: Dict[str, Any], vrid: int, family: int) -> str:
    """vrrp.VRID, else vrrpN.VRID, N = 1, 2, ... (IPv6: 6 first), as keepalived."""
    numbers = ([6] if family == 6 else []) + [n for n in range(1, 100) if n != 6 or family == 4]
    name = f"vrrp.{vrid}"
    for number in numbers:
        if name not in taken:
            break
        name = f"vrrp{number}.{vrid}"
    return name


# ------------------------------------------------------------------ garp_extra_if
def parse_garp_extra_if(s: Statement) -> Tuple[int, bool]:
    """`garp_extra_if [all] SECONDS` / `vrrp_garp_extra_if [all] SECONDS` (0..86400, 0 = off)."""
    no_block(s)
    words = list(s.args)
    every = bool(words) and words[0] == "all"
    if every:
        words.pop(0)
    if len(words) != 1 or not words[0].isdigit() or int(words[0]) > 86400:
        raise s.error(f"{s.keyword} takes [all] SECONDS (0..86400), got {' '.join(s.args)!r}")
    return int(words[0]), every


def _global_extra_if(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
    garp["extra_if_s"], garp["extra_if_all"] = parse_garp_extra_if(s)


# ------------------------------------------------------------------ strict and accept mode
_BOOL = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}
_NFT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
Raw = Dict[str, Tuple[Any, Statement]]


def parse_strict_mode(s: Statement) -> bool:
    """`strict_mode [on|off|true|false|yes|no]`; no value = on."""
    if not s.args:
        no_args(s)
        return True
    value = one_arg(s).lower()
    if value not in _BOOL:
        raise s.error(f"strict_mode {s.args[0]!r} must be on/off, true/false or yes/no")
    return _BOOL[value]


def apply_strict(raw: Raw, name: str, stmt: Statement, vrrp_strict: bool,
                 warnings: List[str]) -> bool:
    """Strict mode's checks and resets on the raw keywords (module rules); True if strict."""
    strict = raw["strict_mode"][0] if "strict_mode" in raw else vrrp_strict
    if not strict:
        return False

    def reset(key: str, text: str) -> None:
        s = raw.pop(key)[1]
        warnings.append(f"{s.file}:{s.line}: {text} (strict mode, as keepalived)")

    if not raw.get("vips", ((), stmt))[0]:
        raise stmt.error(f"vrrp_instance {name}: strict mode needs at least one virtual_ipaddress")
    if "auth" in raw:
        reset("auth", "authentication is not supported in strict mode: ignored")
    if "preempt_delay" in raw:
        reset("preempt_delay", "preempt_delay is incompatible with strict mode: reset")
    if "vmac_xmit_base" in raw:
        reset("vmac_xmit_base", "vmac_xmit_base is incompatible with strict mode: reset")
    state = raw["state"][0] if "state" in raw else "BACKUP"
    priority = raw["priority"][0] if "priority" in raw else (255 if state == "MASTER" else 100)
    if (state == "MASTER") != (priority == 255):
        where = raw["state"][1] if "state" in raw else raw["priority"][1]
        want = "MASTER" if priority == 255 else "BACKUP"
        warnings.append(f"{where.file}:{where.line}: state MASTER must match being the address "
                        f"owner (priority 255) in strict mode: state {want} used, as keepalived")
        raw["state"] = (want, where)
        raw["priority"] = (priority, raw.get("priority", (priority, where))[1])
    return True


def resolve_accept(raw: Raw, strict: bool, version: int, priority: int,
                   warnings: List[str]) -> bool:
    """Accept mode: explicit accept/no_accept, else accept (strict: only the owner)."""
    if "accept" in raw and "no_accept" in raw:
        raise raw["no_accept"][1].error("accept and no_accept contradict each other")
    if "accept" in raw:
        s = raw["accept"][1]
        if strict and version == 2:
            warnings.append(f"{s.file}:{s.line}: accept mode for VRRP version 2 does not comply "
                            "with RFC 3768 in strict mode: reset to no_accept, as keepalived")
            return False
        return True
    if "no_accept" in raw:
        return False
    return priority == 255 if strict else True


def _nft_table(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
    if s.args:
        name = one_arg(s)
        if not _NFT_NAME.match(name):
            raise s.error(f"nftables table name {name!r}: letters, digits and _ only")
        values["nft_table"] = name
    else:
        no_args(s)


def _nft_priority(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
    values["nft_priority"] = int_arg(s, -2**31, 2**31 - 1)


def _flag_to(field: str) -> Any:
    def handler(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
        no_args(s)
        values[field] = True
    return handler


def _nft_ifindex(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
    """nftables_ifindex only shapes keepalived's link-local sets: the agent builds none
    (no_accept refuses link-local VIPs), so it changes nothing (docs/config.md)."""
    no_args(s)


KERNEL_GLOBALS = {
    "vrrp_strict": _flag_to("vrrp_strict"),
    "nftables": _nft_table,
    "nftables_priority": _nft_priority,
    "nftables_counters": _flag_to("nft_counters"),
    "nftables_ifindex": _nft_ifindex,
    "vrrp_garp_extra_if": _global_extra_if,
}
