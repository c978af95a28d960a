"""`vrrp_instance NAME { ... }` -> InstanceConfig, with keepalived's defaults and ranges.

Each keyword has a handler that stores a raw value (with its statement, for
FILE:LINE); `build_instance` then applies the cross-keyword rules in one place.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any, Callable, Dict, List, Optional, Tuple

from vrrp_agent.config import decided, foreign, wire
from vrrp_agent.config.alerts import bool_arg
from vrrp_agent.config.announce import check_vips, parse_announce
from vrrp_agent.config.kernel import (
    apply_strict,
    build_vmac,
    parse_garp_extra_if,
    parse_strict_mode,
    parse_use_vmac,
    resolve_accept,
    vip_vmacs,
)
from vrrp_agent.config.model import GlobalDefs, InstanceConfig, NotifyConfig, VipSpec
from vrrp_agent.config.routes import parse_routes, parse_rules
from vrrp_agent.config.syntax import (
    Statement,
    bool_flag,
    float_arg,
    int_arg,
    need_block,
    no_args,
    no_block,
    one_arg,
    parse_address,
)
from vrrp_agent.config.tracking import (
    NOTIFY_KEYS,
    TRACK_KINDS,
    notify_config,
    parse_notify,
    parse_resource_group,
    parse_track_block,
)
from vrrp_agent.constants import AUTH_DATA_LEN
from vrrp_agent.errors import ConfigError

NOT_IMPLEMENTED = {
    "use_ipvlan", "vmac_garp_intvl",
}
VIP_OPTIONS_NOT_IMPLEMENTED = {
    "peer", "home", "mngtmpaddr", "autojoin", "track_group",
}
VIP_FLAGS = {"nodad", "-nodad", "noprefixroute", "no_track", "use_vmac"}
LFT_FOREVER = 0xFFFFFFFF
SCOPES = {"global", "site", "link", "host", "nowhere"}


def parse_vip(stmt: Statement, default_dev: str) -> VipSpec:
    words = (stmt.keyword,) + stmt.args
    no_block(stmt)
    try:
        iface = ipaddress.ip_interface(words[0])
    except ValueError:
        raise stmt.error(f"{words[0]!r} is not an IP address or ADDRESS/PREFIX") from None
    explicit = "/" in words[0]
    opts: Dict[str, str] = {}
    flags = set()
    i = 1
    while i < len(words):
        opt = words[i]
        if opt in VIP_OPTIONS_NOT_IMPLEMENTED:
            raise decided.not_yet(stmt, opt, "virtual_ipaddress option ")
        if opt in VIP_FLAGS:
            flags.add(opt)
            i += 1
            continue
        if opt not in ("dev", "label", "scope", "brd", "broadcast", "preferred_lft"):
            raise stmt.error(f"unknown virtual_ipaddress option '{opt}'")
        if i + 1 >= len(words):
            raise stmt.error(f"virtual_ipaddress option '{opt}' needs a value")
        opts["brd" if opt == "broadcast" else opt] = words[i + 1]
        i += 2
    scope = opts.get("scope")
    if scope is not None and scope not in SCOPES:
        raise stmt.error(f"scope {scope!r} is not one of {', '.join(sorted(SCOPES))}")
    brd = opts.get("brd")
    if brd is not None:
        if iface.version == 6:
            raise stmt.error("brd applies to IPv4 addresses only")
        if brd not in ("+", "-"):
            parse_address(stmt, brd, 4)
    if {"nodad", "-nodad"} <= flags:
        raise stmt.error("nodad and -nodad contradict each other")
    prefixlen = iface.network.prefixlen if explicit else iface.max_prefixlen
    return VipSpec(address=str(iface.ip), prefixlen=prefixlen, family=iface.version,
                   dev=opts.get("dev"), label=opts.get("label"), scope=scope, brd=brd,
                   nodad=False if "-nodad" in flags else None,
                   noprefixroute="noprefixroute" in flags,
                   preferred_lft=_lifetime(stmt, opts.get("preferred_lft")),
                   use_vmac="use_vmac" in flags, file=stmt.file, line=stmt.line)


def _lifetime(stmt: Statement, text: Optional[str]) -> Optional[int]:
    """`preferred_lft SECONDS|forever` (keepalived's VIP option)."""
    if text is None:
        return None
    if text == "forever":
        return LFT_FOREVER
    if not text.isdigit() or int(text) >= LFT_FOREVER:
        raise stmt.error(f"preferred_lft {text!r} must be a number of seconds or 'forever'")
    return int(text)


def parse_static_vips(stmt: Statement) -> Tuple[VipSpec, ...]:
    """`static_ipaddress { ADDR[/LEN] dev IF ... }`: every entry names its interface."""
    vips = []
    for line in need_block(stmt):
        vip = parse_vip(line, "")
        if vip.dev is None:
            raise line.error("static_ipaddress entries need 'dev IFNAME' "
                             "(the agent has no default interface)")
        for word in ("no_track", "use_vmac"):
            if word in line.args:
                raise line.error(f"{word} applies to virtual addresses, not static_ipaddress")
        vips.append(vip)
    return tuple(vips)


Raw = Dict[str, Tuple[Any, Statement]]


def _store(key: str, convert: Callable[[Statement], Any]) -> Callable[[Statement, Raw], None]:
    def handler(s: Statement, raw: Raw) -> None:
        if key in raw:
            first = raw[key][1]
            raise s.error(f"'{s.keyword}' appears twice (first at line {first.line})")
        raw[key] = (convert(s), s)
    return handler


def _debug_level(s: Statement) -> int:
    """keepalived's `debug [LEVEL]`, 0..4; no level means 1."""
    if s.args:
        return int_arg(s, 0, 4)
    no_args(s)
    return 1


def _flag(s: Statement) -> bool:
    no_args(s)
    return True


def _state(s: Statement) -> str:
    value = one_arg(s).upper()
    if value not in ("MASTER", "BACKUP"):
        raise s.error(f"state {one_arg(s)!r} must be MASTER or BACKUP")
    return value


def _auth(s: Statement) -> Tuple[str, str, Statement]:
    auth_type, auth_pass = None, None
    for inner in need_block(s):
        if inner.keyword == "auth_type":
            auth_type = one_arg(inner).upper()
            if auth_type not in ("PASS", "AH"):
                raise inner.error(f"auth_type {one_arg(inner)!r} must be PASS or AH")
        elif inner.keyword == "auth_pass":
            auth_pass = (one_arg(inner), inner)
        else:
            raise inner.error(f"unknown keyword '{inner.keyword}' in authentication")
    if auth_type is None:
        raise s.error("authentication needs an auth_type")
    if auth_pass is None:
        raise s.error("authentication needs an auth_pass")
    return auth_type, auth_pass[0], auth_pass[1]


def _vip_block(s: Statement) -> Tuple[Statement, ...]:
    return need_block(s)


def _peers(s: Statement) -> Tuple[Statement, ...]:
    return need_block(s)


def _track(s: Statement, raw: Raw) -> None:
    """track_* blocks accumulate (keepalived accepts several blocks of one kind)."""
    refs = list(raw.get("tracks", ((), s))[0])
    for ref in parse_track_block(s):
        if any(r.kind == ref.kind and r.name == ref.name for r in refs):
            raise ConfigError(f"{ref.name} is tracked twice in {s.keyword}", ref.file, ref.line)
        refs.append(ref)
    raw["tracks"] = (tuple(refs), s)


def _garp_extra_if(s: Statement, raw: Raw) -> None:
    if "g.extra_if_s" in raw:
        raise s.error(f"'garp_extra_if' appears twice (first at line {raw['g.extra_if_s'][1].line})")
    seconds, every = parse_garp_extra_if(s)
    raw["g.extra_if_s"], raw["g.extra_if_all"] = (float(seconds), s), (every, s)


HANDLERS: Dict[str, Callable[[Statement, Raw], None]] = {
    **{k: _track for k in TRACK_KINDS},
    **{k: _store("n." + k, parse_notify) for k in NOTIFY_KEYS},
    "state": _store("state", _state),
    "interface": _store("interface", one_arg),
    "virtual_router_id": _store("vrid", lambda s: int_arg(s, 1, 255)),
    "priority": _store("priority", lambda s: int_arg(s, 1, 255)),
    "advert_int": _store("advert_int", lambda s: float_arg(s, 0.01, 255)),
    "nopreempt": _store("nopreempt", _flag),
    "preempt_delay": _store("preempt_delay", lambda s: float_arg(s, 0, 1000)),
    "version": _store("version", lambda s: int_arg(s, 2, 3)),
    "authentication": _store("auth", _auth),
    "virtual_ipaddress": _store("vips", _vip_block),
    "virtual_ipaddress_excluded": _store("excluded", _vip_block),
    "unicast_src_ip": _store("unicast_src_ip", one_arg),
    "unicast_peer": _store("peers", _peers),
    "mcast_src_ip": _store("mcast_src_ip", one_arg),
    "garp_master_delay": _store("g.master_delay_s", lambda s: float_arg(s, 0, 1000)),
    "garp_master_repeat": _store("g.master_repeat", lambda s: int_arg(s, 0, 1000)),
    "garp_master_refresh": _store("g.master_refresh_s", lambda s: float_arg(s, 0, 86400)),
    "garp_master_refresh_repeat": _store("g.master_refresh_repeat", lambda s: int_arg(s, 1, 1000)),
    "garp_lower_prio_delay": _store("g.lower_prio_delay_s", lambda s: float_arg(s, 0, 1000)),
    "garp_lower_prio_repeat": _store("g.lower_prio_repeat", lambda s: int_arg(s, 0, 1000)),
    "v3_checksum_as_v2": _store("v3_checksum_as_v2", _flag),
    "notify_master_rx_lower_pri": _store("n.notify_master_rx_lower_pri", parse_notify),
    "lower_prio_no_advert": _store("lower_prio_no_advert", bool_flag),
    "higher_prio_send_advert": _store("higher_prio_send_advert", bool_flag),
    "dont_track_primary": _store("dont_track_primary", _flag),
    "resource_group": _store("resources", parse_resource_group),  # agent extension
    "preempt": lambda s, raw: no_args(s),  # keepalived no-op, kept for old configs
    "debug": _store("debug", _debug_level),
    "smtp_alert": _store("smtp_alert", bool_arg),
    "notify_priority_changes": _store("notify_priority_changes", bool_arg),
    "notify_deleted": _store("notify_deleted", lambda s: parse_notify(s) if s.args else None),
    "use_vmac": _store("use_vmac", parse_use_vmac),
    "vmac_xmit_base": _store("vmac_xmit_base", _flag),
    "use_vmac_addr": _store("use_vmac_addr", _flag),
    "promote_secondaries": _store("promote_secondaries", _flag),
    "strict_mode": _store("strict_mode", parse_strict_mode),
    "garp_extra_if": _garp_extra_if,
    "accept": _store("accept", _flag),
    "no_accept": _store("no_accept", _flag),
    "virtual_routes": _store("routes", parse_routes),
    "virtual_rules": _store("rules", parse_rules),
    **wire.HANDLERS,
    "announce": _store("announce", parse_announce),  # agent extension (config/announce.py)
}


def build_instance(stmt: Statement, gdefs: GlobalDefs, warnings: List[str]) -> InstanceConfig:
    if len(stmt.args) != 1:
        raise stmt.error("vrrp_instance needs exactly one name")
    name = stmt.args[0]
    raw: Raw = {}
    for s in need_block(stmt):
        handler = HANDLERS.get(s.keyword)
        if handler is not None:
            handler(s, raw)
        elif foreign.check(s, foreign.INSTANCE, foreign.NOOP_INSTANCE, warnings):
            continue
        elif s.keyword in wire.REFUSED:
            raise s.error(f"'{s.keyword}' {wire.REFUSED[s.keyword]}")
        elif s.keyword in decided.INSTANCE:
            decided.check(s, decided.INSTANCE)
        elif s.keyword in NOT_IMPLEMENTED:
            raise decided.not_yet(s, s.keyword)
        else:
            raise s.error(f"unknown keyword '{s.keyword}' in vrrp_instance")
    return _assemble(stmt, name, raw, gdefs, warnings)


def _get(raw: Raw, key: str, default: Any = None) -> Any:
    return raw[key][0] if key in raw else default


def _warn(warnings: List[str], s: Statement, text: str) -> None:
    warnings.append(f"{s.file}:{s.line}: {text}")


def _assemble(stmt: Statement, name: str, raw: Raw, gdefs: GlobalDefs,
              warnings: List[str]) -> InstanceConfig:
    if "interface" not in raw:
        raise stmt.error(f"vrrp_instance {name} needs an interface")
    if "vrid" not in raw:
        raise stmt.error(f"vrrp_instance {name} needs a virtual_router_id")
    interface = raw["interface"][0]
    strict = apply_strict(raw, name, stmt, gdefs.vrrp_strict, warnings)
    state = _get(raw, "state", "BACKUP")
    priority = _get(raw, "priority", 255 if state == "MASTER" else 100)
    vips = tuple(parse_vip(s, interface) for s in _get(raw, "vips", ()))
    excluded = tuple(parse_vip(s, interface) for s in _get(raw, "excluded", ()))
    families = {v.family for v in vips}
    if len(families) > 1:
        other = next(v for v in vips if v.family != vips[0].family)
        raise _vip_error(other, "virtual_ipaddress mixes IPv4 and IPv6 "
                                "(use one instance per family, or virtual_ipaddress_excluded)")
    family = vips[0].family if vips else None
    src = _get(raw, "unicast_src_ip")
    family = wire.native_family(raw, family)
    if family is None:
        family = 6 if src and ":" in src else 4
    version = _version(raw, gdefs, family)
    advert_int_cs = _interval(raw, version)
    nopreempt, preempt_delay = _preempt(raw, state, priority, warnings)
    auth_type, auth_pass = _auth_value(raw, version, warnings)
    if auth_type == "AH" and state == "MASTER" and priority != 255:
        # keepalived: an AH backup must hear a sequence number before it takes over
        _warn(warnings, raw["state"][1], "state MASTER with auth_type AH is set to BACKUP, as "
                                         "keepalived does (the AH sequence is learnt first)")
        state = "BACKUP"
    unicast_src = _unicast_src(raw, family)
    mcast_src = _get(raw, "mcast_src_ip")
    if mcast_src is not None:
        mcast_src = parse_address(raw["mcast_src_ip"][1], mcast_src, family)
    wire_cfg = wire.wire_fields(raw, family, _get(raw, "peers", ()),
                                bool(unicast_src or mcast_src), gdefs, warnings)
    peers = wire_cfg["unicast_peers"]
    for vip in vips:
        if vip.address == unicast_src or vip.address in peers:
            raise _vip_error(vip, f"virtual IP {vip.address} is also a unicast address of this instance")
    vmac = build_vmac(raw.get("use_vmac"), raw.get("vmac_xmit_base"), interface=interface,
                      vrid=raw["vrid"][0], family=family, unicast=bool(peers))
    announce = _get(raw, "announce")
    if announce is not None and announce.mode == "garp":
        announce = None
    if announce is not None:
        check_vips(announce, vips + excluded)
    promote = _get(raw, "promote_secondaries", False)
    if vmac is not None and promote:
        _warn(warnings, raw["promote_secondaries"][1], "promote_secondaries is set on every "
              "vMAC anyway: ignored for the instance interface, as keepalived does")
        promote = False
    garp = dataclasses.replace(gdefs.garp, **{k[2:]: v[0] for k, v in raw.items() if k.startswith("g.")})
    return InstanceConfig(
        name=name, interface=interface, vrid=raw["vrid"][0], priority=priority,
        initial_state=state, version=version, family=family, advert_int_cs=advert_int_cs,
        nopreempt=nopreempt, preempt_delay_s=preempt_delay, auth_type=auth_type,
        auth_pass=auth_pass, vips=vips, excluded_vips=excluded, unicast_src_ip=unicast_src,
        mcast_src_ip=mcast_src, garp=garp, **wire_cfg,
        v3_checksum_as_v2=_get(raw, "v3_checksum_as_v2", gdefs.v3_checksum_as_v2),
        dont_track_primary=_get(raw, "dont_track_primary", False),
        lower_prio_no_advert=_get(raw, "lower_prio_no_advert", gdefs.lower_prio_no_advert),
        higher_prio_send_advert=_get(raw, "higher_prio_send_advert", gdefs.higher_prio_send_advert),
        debug=_get(raw, "debug", 0),
        tracks=_get(raw, "tracks", ()),
        notify=_notify(raw),
        smtp_alert=_get(raw, "smtp_alert"),
        notify_priority_changes=_get(raw, "notify_priority_changes"),
        notify_deleted="notify_deleted" in raw,
        resources=_get(raw, "resources"), vmac=vmac,
        vip_vmacs=vip_vmacs(raw, vmac, interface, family, vips + excluded),
        routes=_get(raw, "routes", ()), rules=_get(raw, "rules", ()),
        promote_secondaries=promote, strict=strict,
        accept=_accept(raw, strict, version, priority, vips + excluded, warnings),
        file=stmt.file, line=stmt.line, announce=announce,
    )


def _notify(raw: Raw) -> NotifyConfig:
    hooks = notify_config({k[2:]: v[0] for k, v in raw.items() if k.startswith("n.")})
    return dataclasses.replace(hooks, deleted=_get(raw, "notify_deleted"))


def _accept(raw: Raw, strict: bool, version: int, priority: int, vips: Tuple[VipSpec, ...],
            warnings: List[str]) -> bool:
    accept = resolve_accept(raw, strict, version, priority, warnings)
    if not accept and priority != 255:
        for vip in vips:
            if vip.family == 6 and ipaddress.ip_address(vip.address).is_link_local:
                raise _vip_error(vip, f"no_accept cannot filter the link-local VIP {vip.address} "
                                      "(the agent builds no per-interface sets); use accept")
    return accept


def _vip_error(vip: VipSpec, message: str) -> Exception:
    from vrrp_agent.errors import ConfigError

    return ConfigError(message, vip.file, vip.line)


def _version(raw: Raw, gdefs: GlobalDefs, family: int) -> int:
    if "version" in raw:
        version, s = raw["version"]
        if version == 2 and family == 6:
            raise s.error("version 2 cannot carry IPv6 virtual addresses (IPv6 needs version 3)")
        return int(version)
    return 3 if family == 6 else gdefs.vrrp_version


def _interval(raw: Raw, version: int) -> int:
    if "advert_int" not in raw:
        return 100
    value, s = raw["advert_int"]
    if version == 2:
        if value != int(value) or value < 1:
            raise s.error(f"advert_int {s.args[0]}: VRRPv2 carries whole seconds (1..255); "
                          "use a whole number, or 'version 3' for sub-second adverts")
        return int(value) * 100
    if value > 40.95:
        raise s.error(f"advert_int {s.args[0]} is out of range 0.01..40.95 for VRRPv3")
    return max(1, round(value * 100))


def _preempt(raw: Raw, state: str, priority: int, warnings: List[str]) -> Tuple[bool, float]:
    nopreempt = bool(_get(raw, "nopreempt", False))
    delay = float(_get(raw, "preempt_delay", 0.0))
    if nopreempt and "preempt_delay" in raw:
        raise raw["preempt_delay"][1].error("preempt_delay cannot be combined with nopreempt")
    for key in ("nopreempt", "preempt_delay"):
        if key in raw and (state == "MASTER" or priority == 255):
            why = "state MASTER" if state == "MASTER" else "priority 255"
            _warn(warnings, raw[key][1], f"{key} is ignored with {why}, as keepalived does "
                                         "(use state BACKUP on every node for no-failback)")
            nopreempt, delay = False, 0.0
    return nopreempt, delay


def _auth_value(raw: Raw, version: int, warnings: List[str]) -> Tuple[Optional[str], Optional[bytes]]:
    if "auth" not in raw:
        return None, None
    (auth_type, secret, pass_stmt), s = raw["auth"]
    if version != 2:
        raise s.error("authentication is VRRPv2 only (RFC 5798 removed it from VRRPv3)")
    data = secret.encode()
    if len(data) > AUTH_DATA_LEN:
        _warn(warnings, pass_stmt, "auth_pass longer than 8 characters is truncated to 8, "
                                   "as keepalived does")
        data = data[:AUTH_DATA_LEN]
    return auth_type, data.ljust(AUTH_DATA_LEN, b"\0")


def _unicast_src(raw: Raw, family: int) -> Optional[str]:
    if "unicast_src_ip" not in raw:
        return None
    return parse_address(raw["unicast_src_ip"][1], raw["unicast_src_ip"][0], family)
