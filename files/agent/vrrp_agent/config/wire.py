"""The wire and unicast keywords of a vrrp_instance (keepalived 2.2.7 semantics).

Rules:
- Handlers store raw values under "w.<field>" (with their statement, for
  FILE:LINE); `wire_fields()` then applies the cross-keyword rules in one
  place and returns InstanceConfig fields. Every refusal is a ConfigError
  naming the line; every accepted-but-changed combination is a warning.
- keepalived 2.2.7 rules kept (vrrp_parser.c, vrrp_data.c, vrrp.c):
  `unicast_peer { ADDR [min_ttl N] [max_ttl N] }` (0..255, default 0 / 255)
  turns the source check on for that instance; `check_unicast_src` /
  global `vrrp_check_unicast_src` turn it on for every peer; the check and
  the TTL range apply to unicast instances only. `unicast_fault_no_peer`
  with no peer is FAULT (not a fall-back to multicast). `mcast_dst_ip` must
  be multicast (IPv6: link-local scope) and of the instance's family, and is
  ignored with a warning on a unicast instance. `native_ipv6` makes the
  instance IPv6 / VRRPv3.
- Where the agent differs it says so: `unicast_ttl` applies to unicast
  adverts only (keepalived 2.2.7 also puts it in IPv4 multicast adverts,
  which every RFC 5798 §7.1 receiver then drops); TTL 0 is refused.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable, Dict, List, Optional, Tuple

from vrrp_agent.config.syntax import Statement, bool_flag, int_arg, no_args, no_block, one_arg
from vrrp_agent.errors import ConfigError

Raw = Dict[str, Tuple[Any, Statement]]
PEER_TTL_DEFAULT = (0, 255)


def _flag(s: Statement) -> bool:
    no_args(s)
    return True


def _ttl(s: Statement) -> int:
    value = int_arg(s, 0, 255)
    if value == 0:
        raise s.error("unicast_ttl 0: a packet with TTL 0 is dropped by every receiver; use 1..255")
    return value


def _rx_buf(s: Statement) -> int:
    return int_arg(s, 0, 2**31 - 1)


def _old_checksum(s: Statement) -> str:
    """`old_unicast_checksum [never]`: "config" (send and expect the pre-1.3.6 form) or "never"."""
    if not s.args:
        no_block(s)
        return "config"
    if one_arg(s) != "never":
        raise s.error(f"old_unicast_checksum {one_arg(s)!r}: the only option is 'never'")
    return "never"


def _store(field: str, convert: Callable[[Statement], Any]) -> Callable[[Statement, Raw], None]:
    def handler(s: Statement, raw: Raw) -> None:
        key = "w." + field
        if key in raw:
            raise s.error(f"'{s.keyword}' appears twice (first at line {raw[key][1].line})")
        raw[key] = (convert(s), s)
    return handler


HANDLERS: Dict[str, Callable[[Statement, Raw], None]] = {
    "unicast_ttl": _store("unicast_ttl", _ttl),
    "check_unicast_src": _store("check_unicast_src", _flag),
    "unicast_fault_no_peer": _store("unicast_fault_no_peer", _flag),
    "mcast_dst_ip": _store("mcast_dst_ip", one_arg),
    "track_src_ip": _store("track_src_ip", _flag),
    "skip_check_adv_addr": _store("skip_check_adv_addr", bool_flag),
    "native_ipv6": _store("native_ipv6", _flag),
    "down_timer_adverts": _store("down_timer_adverts", lambda s: int_arg(s, 1, 100)),
    "kernel_rx_buf_size": _store("kernel_rx_buf_size", _rx_buf),
    "old_unicast_checksum": _store("old_unicast_checksum", _old_checksum),
}

_LATER = "is not a keepalived 2.2.7 keyword (added in keepalived {}); the agent follows 2.2.7"
REFUSED = {
    "timer_expired_backup": _LATER.format("2.2.8"),
    "no_virtual_ipaddress": _LATER.format("2.2.8") + ": give at least one virtual_ipaddress",
    "owner_ignore_adverts": _LATER.format("2.3.3"),
    "auth_hmac": _LATER.format("2.4.0") + "; for authenticated adverts use auth_type PASS",
}
"""Instance keywords refused with their reason (config/instance.py asks here first)."""


def native_family(raw: Raw, family: Optional[int]) -> Optional[int]:
    """`native_ipv6`: IPv6 (and so VRRPv3); an error when the addresses are IPv4."""
    if "w.native_ipv6" not in raw:
        return family
    if family == 4:
        raise raw["w.native_ipv6"][1].error("native_ipv6 cannot be used with IPv4 addresses")
    return 6


def _address(s: Statement, text: str, family: int) -> str:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise s.error(f"{text!r} is not an IP address") from None
    if addr.version != family:
        raise s.error(f"{text} is not an IPv{family} address (the instance is IPv{family})")
    return str(addr)


def parse_peers(stmts: Tuple[Statement, ...], family: int
                ) -> Tuple[Tuple[str, ...], Tuple[Tuple[int, int], ...], bool]:
    """unicast_peer entries -> (addresses, (min_ttl, max_ttl) each, any TTL option given)."""
    peers: List[str] = []
    bounds: List[Tuple[int, int]] = []
    options = False
    for s in stmts:
        no_block(s)
        peer = _address(s, s.keyword, family)
        if peer in peers:
            raise s.error(f"unicast peer {peer} is listed twice")
        lo, hi = PEER_TTL_DEFAULT
        words = list(s.args)
        seen = set()
        while words:
            opt = words.pop(0)
            if opt not in ("min_ttl", "max_ttl"):
                raise s.error(f"unknown unicast_peer option {opt!r} (min_ttl N, max_ttl N)")
            if opt in seen:
                raise s.error(f"unicast_peer {peer}: {opt} given twice")
            seen.add(opt)
            if not words:
                raise s.error(f"unicast_peer {peer}: {opt} needs a value 0..255")
            text = words.pop(0)
            if not text.isdigit() or int(text) > 255:
                raise s.error(f"unicast_peer {peer}: {opt} {text!r} is not a whole number 0..255")
            if opt == "min_ttl":
                lo = int(text)
            else:
                hi = int(text)
            options = True
        if lo > hi:
            raise s.error(f"unicast_peer {peer}: min_ttl {lo} > max_ttl {hi} would drop every advert")
        peers.append(peer)
        bounds.append((lo, hi))
    return tuple(peers), tuple(bounds), options


def _mcast_dst(raw: Raw, family: int, unicast: bool, warnings: List[str]) -> Optional[str]:
    if "w.mcast_dst_ip" not in raw:
        return None
    text, s = raw["w.mcast_dst_ip"]
    addr = ipaddress.ip_address(_address(s, text, family))
    if family == 4 and not addr.is_multicast:
        raise s.error(f"mcast_dst_ip {addr} is not a multicast address (224.0.0.0/4)")
    if family == 6 and not (addr.is_multicast and (addr.packed[1] & 0x0F) == 2):
        raise s.error(f"mcast_dst_ip {addr} is not a link-local multicast address (ff02::/16)")
    if unicast:
        warnings.append(f"{s.file}:{s.line}: mcast_dst_ip is ignored with unicast_peer, "
                        "as keepalived does")
        return None
    return str(addr)


def _get(raw: Raw, key: str, default: Any = None) -> Any:
    return raw["w." + key][0] if "w." + key in raw else default


def _warn(warnings: List[str], raw: Raw, key: str, text: str) -> None:
    s = raw["w." + key][1]
    warnings.append(f"{s.file}:{s.line}: {text}")


def wire_fields(raw: Raw, family: int, peer_stmts: Tuple[Statement, ...], src_configured: bool,
                gdefs: Any, warnings: List[str]) -> Dict[str, Any]:
    """The InstanceConfig fields of the wire and unicast keywords."""
    peers, bounds, ttl_options = parse_peers(peer_stmts, family)
    unicast = bool(peers)
    ttl = _get(raw, "unicast_ttl")
    if ttl is not None and not unicast:
        _warn(warnings, raw, "unicast_ttl", "unicast_ttl applies to unicast adverts only; this "
              "instance has no unicast_peer, its multicast adverts keep TTL 255 (RFC 5798 §5.1.1.3)")
        ttl = None
    if "w.check_unicast_src" in raw and not unicast:
        _warn(warnings, raw, "check_unicast_src", "check_unicast_src without unicast_peer: this "
              "instance is multicast, there is no peer list to check")
    track_src = bool(_get(raw, "track_src_ip", False))
    if track_src and not src_configured:
        _warn(warnings, raw, "track_src_ip", "track_src_ip without unicast_src_ip or mcast_src_ip "
              "is ignored, as keepalived does (the source then follows the interface)")
        track_src = False
    return dict(
        unicast_peers=peers,
        unicast_peer_ttl=bounds,
        unicast_ttl=ttl,
        check_unicast_src=unicast and (gdefs.check_unicast_src or ttl_options
                                       or bool(_get(raw, "check_unicast_src", False))),
        unicast_fault_no_peer=bool(_get(raw, "unicast_fault_no_peer", False)),
        mcast_dst_ip=_mcast_dst(raw, family, unicast, warnings),
        track_src_ip=track_src,
        skip_check_adv_addr=bool(_get(raw, "skip_check_adv_addr", gdefs.skip_check_adv_addr)),
        down_timer_adverts=int(_get(raw, "down_timer_adverts", 3)),
        kernel_rx_buf_size=_get(raw, "kernel_rx_buf_size") or None,
        old_unicast_checksum=_get(raw, "old_unicast_checksum", "auto"),
    )


def check_unicast_ttls(instances: List[Any]) -> None:
    """One TTL per (interface, family, peer): the send socket is shared by the instances."""
    seen: Dict[Tuple[str, int, str], Any] = {}
    for inst in instances:
        ttl = inst.unicast_ttl or 255
        for peer in inst.unicast_peers:
            key = (inst.interface, inst.family, peer)
            first = seen.setdefault(key, inst)
            if (first.unicast_ttl or 255) != ttl:
                raise ConfigError(
                    f"vrrp_instance {inst.name} sends to {peer} on {inst.interface} with TTL "
                    f"{ttl}, {first.name} ({first.file}:{first.line}) with TTL "
                    f"{first.unicast_ttl or 255}: use one unicast_ttl per peer and interface",
                    inst.file, inst.line)
