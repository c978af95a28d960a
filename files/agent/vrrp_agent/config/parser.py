"""keepalived.conf -> Config: keyword tables, keepalived's defaults, and the guards.

Rules:
- Every keyword is either handled, or a keyword of another keepalived
  subsystem (foreign.py: refused with what it is and what to do, or a
  documented no-op), or a known keepalived keyword the agent refuses by
  decision (error with the reason: config/decided.py), or unknown (error).
  Nothing is silently ignored, except `preempt` (a keepalived no-op).
- keepalived's defaults: priority 100, but `state MASTER` without a priority
  line means 255 (address owner); advert_int 1 s; version = vrrp_version
  (default 2); IPv6 VIPs force version 3; a bare VIP is /32 or /128.
- Where keepalived warns and fixes (auth_pass longer than 8 characters,
  nopreempt/preempt_delay with state MASTER or priority 255), the agent does
  the same and records a warning in Config.warnings.
- Where keepalived rounds silently (a fractional v2 advert_int) the agent
  refuses: v2 carries whole seconds on the wire.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from vrrp_agent.config import alerts, decided, foreign, process_globals
from vrrp_agent.config.instance import build_instance, parse_static_vips
from vrrp_agent.config.kernel import KERNEL_GLOBALS, assign_vmac_names
from vrrp_agent.config.lexer import lex
from vrrp_agent.config.model import (
    Config,
    GarpSettings,
    GlobalDefs,
    InstanceConfig,
    LinkDelay,
    SyncGroupConfig,
    TrackRef,
)
from vrrp_agent.config.routes import parse_routes, parse_rules
from vrrp_agent.config.syntax import (
    Statement,
    bool_flag,
    float_arg,
    int_arg,
    need_block,
    no_args,
    one_arg,
    parse_statements,
)
from vrrp_agent.config.tracking import (
    parse_sync_group,
    parse_track_file,
    parse_track_process,
    parse_user,
    parse_vrrp_script,
    sync_group_warnings,
)
from vrrp_agent.config.wire import check_unicast_ttls
from vrrp_agent.errors import ConfigError

OBJECT_PARSERS: Dict[str, Callable[[Statement], Any]] = {
    "vrrp_script": parse_vrrp_script,
    "vrrp_track_file": parse_track_file,
    "track_file": parse_track_file,  # keepalived accepts both spellings at top level
    "vrrp_track_process": parse_track_process,
    "vrrp_sync_group": parse_sync_group,
}
KIND_OF = {"vrrp_script": "script", "vrrp_track_file": "file", "track_file": "file",
           "vrrp_track_process": "process", "vrrp_sync_group": "sync_group"}

STATIC_BLOCKS = {  # kernel state present while the agent runs (config/routes.py)
    "static_ipaddress": parse_static_vips,
    "static_routes": lambda s: parse_routes(s, virtual=False),
    "static_rules": lambda s: parse_rules(s, virtual=False),
}
NOT_IMPLEMENTED_TOP = {
    "garp_group", "track_group",
}
NOT_IMPLEMENTED_GLOBAL = {
    "vmac_prefix", "vmac_addr_prefix", "vrrp_vmac_garp_intvl",
}


def load_config(path: str, config_id: Optional[str] = None) -> Config:
    """Read and validate a configuration file (and its includes).

    `config_id` selects the `@ID` lines (keepalived's -i); None = the host name up to its first dot.
    """
    lexed = lex(path, config_id=config_id)
    return _build(path, parse_statements(lexed.tokens), lexed.files, lexed.warnings, config_id)


def parse_text(text: str, path: str = "<string>", config_id: Optional[str] = None) -> Config:
    """Parse configuration text (tests, generated configs)."""
    lexed = lex(path, text, config_id)
    return _build(path, parse_statements(lexed.tokens), lexed.files, lexed.warnings, config_id)


def _build(path: str, stmts: List[Statement], files: List[str], lex_warnings: List[str],
           config_id: Optional[str]) -> Config:
    warnings: List[str] = list(lex_warnings)
    gdefs = GlobalDefs()
    seen_globals = False
    instance_stmts: List[Statement] = []
    link_delays: List[LinkDelay] = []
    objects: Dict[str, Dict[str, Any]] = {k: {} for k in ("script", "file", "process", "sync_group")}
    statics: Dict[str, Any] = {}
    for stmt in stmts:
        if stmt.keyword == "global_defs":
            if seen_globals:
                raise stmt.error("global_defs appears twice")
            seen_globals = True
            gdefs = _global_defs(stmt, warnings)
        elif stmt.keyword == "vrrp_instance":
            instance_stmts.append(stmt)
        elif stmt.keyword == "interface_up_down_delays":
            link_delays += process_globals.parse_link_delays(stmt, link_delays)
        elif stmt.keyword in OBJECT_PARSERS:
            obj = OBJECT_PARSERS[stmt.keyword](stmt)
            table = objects[KIND_OF[stmt.keyword]]
            if obj.name in table:
                first = table[obj.name]
                raise stmt.error(f"{stmt.keyword} {obj.name} is defined twice (first at "
                                 f"{first.file}:{first.line})")
            table[obj.name] = obj
            if stmt.keyword == "vrrp_sync_group":
                warnings += sync_group_warnings(stmt)
        elif foreign.check(stmt, foreign.TOP_LEVEL, foreign.NOOP_TOP_LEVEL, warnings):
            continue
        elif stmt.keyword in STATIC_BLOCKS:
            if stmt.keyword in statics:
                raise stmt.error(f"{stmt.keyword} appears twice")
            statics[stmt.keyword] = STATIC_BLOCKS[stmt.keyword](stmt)
        elif stmt.keyword in NOT_IMPLEMENTED_TOP:
            raise decided.not_yet(stmt, stmt.keyword)
        else:
            raise stmt.error(f"unknown keyword '{stmt.keyword}' at top level")
    instances = [build_instance(stmt, gdefs, warnings) for stmt in instance_stmts]
    _check_unique(instances)
    check_unicast_ttls(instances)
    instances = assign_vmac_names(instances)
    groups = objects["sync_group"]
    instances = _apply_sync_groups(instances, groups, warnings)
    instances, groups = alerts.resolve(instances, groups, gdefs, warnings)
    instances = [_resolve_tracks(inst, objects, warnings) for inst in instances]
    return Config(path=path, config_id=config_id, globals=gdefs, instances=tuple(instances),
                  files=tuple(files),
                  warnings=tuple(warnings), scripts=tuple(objects["script"].values()),
                  track_files=tuple(objects["file"].values()),
                  static_vips=statics.get("static_ipaddress", ()),
                  static_routes=statics.get("static_routes", ()),
                  static_rules=statics.get("static_rules", ()),
                  track_processes=tuple(objects["process"].values()),
                  sync_groups=tuple(groups.values()), link_delays=tuple(link_delays))


def _apply_sync_groups(instances: List[InstanceConfig], groups: Dict[str, SyncGroupConfig],
                       warnings: List[str]) -> List[InstanceConfig]:
    """Each member learns its group; group trackers are appended to every member."""
    by_name = {inst.name: inst for inst in instances}
    member_of: Dict[str, SyncGroupConfig] = {}
    for group in groups.values():
        for name in group.members:
            if name not in by_name:
                raise ConfigError(f"vrrp_sync_group {group.name}: no vrrp_instance named {name}",
                                  group.file, group.line)
            if name in member_of:
                raise ConfigError(f"vrrp_instance {name} is in two sync groups "
                                  f"({member_of[name].name} and {group.name})", group.file, group.line)
            member_of[name] = group
        if len(group.members) < 2:
            warnings.append(f"{group.file}:{group.line}: vrrp_sync_group {group.name} has a "
                            "single member (keepalived removes such groups)")
    out = []
    for inst in instances:
        mine = member_of.get(inst.name)
        if mine is not None:
            own = {(r.kind, r.name) for r in inst.tracks}
            extra = tuple(r for r in mine.tracks if (r.kind, r.name) not in own)
            inst = dataclasses.replace(inst, sync_group=mine.name, tracks=inst.tracks + extra)
        out.append(inst)
    return out


def _resolve_tracks(inst: InstanceConfig, objects: Dict[str, Dict[str, Any]],
                    warnings: List[str]) -> InstanceConfig:
    """Every TrackRef gets a concrete weight and reverse; unknown names are errors."""
    group = objects["sync_group"].get(inst.sync_group) if inst.sync_group else None
    refs: List[TrackRef] = []
    for ref in inst.tracks:
        weight, reverse = _default_weight(ref, objects)
        if ref.weight is not None:
            weight = ref.weight
        if ref.reverse is not None:
            reverse = ref.reverse
        if weight and group is not None and not group.tracking_weight and ref.kind != "file":
            warnings.append(f"{ref.file}:{ref.line}: weight of {ref.kind} {ref.name} ignored: "
                            f"{inst.name} is in sync group {group.name} (a failure puts the group in "
                            "FAULT; set sync_group_tracking_weight to keep weights), as keepalived does")
            weight = 0
        refs.append(dataclasses.replace(ref, weight=weight, reverse=reverse))
    if inst.priority == 255 and any(r.weight for r in refs):
        warnings.append(f"{inst.file}:{inst.line}: {inst.name} has priority 255 (address owner): "
                        "tracker weights do not change it (a weight-0 tracker can still FAULT it)")
    return dataclasses.replace(inst, tracks=tuple(refs))


def _default_weight(ref: TrackRef, objects: Dict[str, Dict[str, Any]]) -> Tuple[int, bool]:
    if ref.kind == "interface":
        return 0, False
    table = objects[ref.kind]
    obj = table.get(ref.name)
    if obj is None:
        what = {"script": "vrrp_script", "file": "vrrp_track_file",
                "process": "vrrp_track_process"}[ref.kind]
        raise ConfigError(f"track_{ref.kind} {ref.name}: no {what} {ref.name} is defined",
                          ref.file, ref.line)
    return obj.weight, obj.weight_reverse


def _check_unique(instances: List[Any]) -> None:
    names: Dict[str, Any] = {}
    keys: Dict[Any, Any] = {}
    for inst in instances:
        if inst.name in names:
            first = names[inst.name]
            raise ConfigError(f"vrrp_instance {inst.name} is defined twice (first at "
                              f"{first.file}:{first.line})", inst.file, inst.line)
        names[inst.name] = inst
        if inst.unicast:
            continue
        if inst.key in keys:
            first = keys[inst.key]
            raise ConfigError(
                f"vrrp_instance {inst.name} uses interface {inst.interface}, VRID {inst.vrid} and "
                f"IPv{inst.family} like {first.name} ({first.file}:{first.line})",
                inst.file, inst.line)
        keys[inst.key] = inst


# ---------------------------------------------------------------------- global_defs

def _global_defs(stmt: Statement, warnings: List[str]) -> GlobalDefs:
    values: Dict[str, Any] = {}
    garp: Dict[str, Any] = {}
    seen: Set[str] = set()
    for s in need_block(stmt):
        if s.keyword in seen and s.keyword != "router_id":
            raise s.error(f"'{s.keyword}' appears twice in global_defs")
        seen.add(s.keyword)
        handler = GLOBAL_HANDLERS.get(s.keyword)
        if handler is not None:
            handler(s, values, garp)
        elif foreign.check(s, foreign.GLOBAL, foreign.NOOP_GLOBAL, warnings):
            continue
        elif s.keyword in decided.GLOBAL:
            decided.check(s, decided.GLOBAL)
        elif s.keyword in NOT_IMPLEMENTED_GLOBAL:
            raise decided.not_yet(s, s.keyword)
        else:
            raise s.error(f"unknown keyword '{s.keyword}' in global_defs")
    alerts.finish_globals(stmt, values, warnings)
    process_globals.finish_globals(stmt, values, warnings)
    return GlobalDefs(garp=GarpSettings(**garp), **values)


def _script_user(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
    values["script_user"] = parse_user(s, s.args)


def _set(field: str, convert: Callable[[Statement], Any]) -> Callable[..., None]:
    def handler(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
        values[field] = convert(s)
    return handler


def _garp(field: str, convert: Callable[[Statement], Any]) -> Callable[..., None]:
    def handler(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
        garp[field] = convert(s)
    return handler


def _min_garp(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
    no_args(s)
    garp.update(master_repeat=1, master_delay_s=0.0)


def _down_timer(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
    if int_arg(s, 1, 255) != 3:
        raise s.error("vrrp_down_timer_adverts other than 3 is not implemented (the RFC value is 3)")


def _mcast4(s: Statement) -> str:
    from vrrp_agent.config.instance import parse_address

    addr = parse_address(s, one_arg(s), 4)
    if not ipaddress.ip_address(addr).is_multicast:  # 224.0.0.0/4
        raise s.error(f"vrrp_mcast_group4 {addr} is not a multicast address")
    return addr


def _mcast6(s: Statement) -> str:
    from vrrp_agent.config.instance import parse_address

    addr = parse_address(s, one_arg(s), 6)
    if not ipaddress.ip_address(addr).is_multicast:  # ff00::/8
        raise s.error(f"vrrp_mcast_group6 {addr} is not a multicast address")
    return addr


def _flag(s: Statement) -> bool:
    no_args(s)
    return True


GLOBAL_HANDLERS: Dict[str, Callable[..., None]] = {
    **KERNEL_GLOBALS,  # vrrp_strict, nftables* (config/kernel.py)
    "router_id": _set("router_id", one_arg),
    "vrrp_version": _set("vrrp_version", lambda s: int_arg(s, 2, 3)),
    "vrrp_startup_delay": _set("startup_delay_s", lambda s: float_arg(s, 0, 3600)),
    "vrrp_mcast_group4": _set("mcast_group4", _mcast4),
    "vrrp_mcast_group6": _set("mcast_group6", _mcast6),
    "v3_checksum_as_v2": _set("v3_checksum_as_v2", _flag),
    "vrrp_garp_master_delay": _garp("master_delay_s", lambda s: float_arg(s, 0, 1000)),
    "vrrp_garp_master_repeat": _garp("master_repeat", lambda s: int_arg(s, 0, 1000)),
    "vrrp_garp_master_refresh": _garp("master_refresh_s", lambda s: float_arg(s, 0, 86400)),
    "vrrp_garp_master_refresh_repeat": _garp("master_refresh_repeat", lambda s: int_arg(s, 1, 1000)),
    "vrrp_garp_lower_prio_delay": _garp("lower_prio_delay_s", lambda s: float_arg(s, 0, 1000)),
    "vrrp_garp_lower_prio_repeat": _garp("lower_prio_repeat", lambda s: int_arg(s, 0, 1000)),
    "vrrp_garp_interval": _garp("interval_s", lambda s: float_arg(s, 0, 1)),
    "vrrp_gna_interval": _garp("gna_interval_s", lambda s: float_arg(s, 0, 1)),
    "vrrp_min_garp": _min_garp,
    "vrrp_skip_check_adv_addr": _set("skip_check_adv_addr", _flag),
    "vrrp_check_unicast_src": _set("check_unicast_src", _flag),
    "max_auto_priority": _set("max_auto_priority", lambda s: max(0, int_arg(s, -1, 99))
                              if s.args else 99),
    "min_auto_priority_delay": _set("min_auto_priority_delay_s",
                                    lambda s: int_arg(s, 1, 10_000_000) / 1e6),
    "vrrp_down_timer_adverts": _down_timer,
    "enable_script_security": _set("enable_script_security", _flag),
    "script_user": _script_user,
    "vrrp_rt_priority": _set("rt_priority", lambda s: int_arg(s, 1, 99)),
    "vrrp_priority": _set("nice", lambda s: int_arg(s, -20, 19)),
    **alerts.GLOBAL_HANDLERS,
    "vrrp_lower_prio_no_advert": _set("lower_prio_no_advert", bool_flag),
    "vrrp_higher_prio_send_advert": _set("higher_prio_send_advert", bool_flag),
    **process_globals.GLOBAL_HANDLERS,
}
