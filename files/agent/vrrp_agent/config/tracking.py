"""Tracking, notify, resource and sync-group syntax -> model objects (keepalived semantics).

Rules:
- Commands are split like keepalived splits them: shell-like words with
  quotes (shlex, POSIX mode), never handed to a shell. An empty command,
  or an unbalanced quote, is an error at its line.
- Weights are -253..253 (keepalived's range); `reverse` / `noreverse` may
  follow a weight. rise/fall >= 1; interval > 0; timeout > 0.
- `resource_group` is an agent extension (heartbeat's model), not keepalived.
- Cross references (a track_script naming an undefined vrrp_script, a sync
  group naming an unknown instance) are checked in parser.py, which sees
  the whole file, and reported at the referring line.
"""

from __future__ import annotations

import shlex
from typing import Dict, List, Optional, Tuple

from vrrp_agent.config import foreign
from vrrp_agent.config.model import (
    NotifyCommand,
    NotifyConfig,
    ResourceConfig,
    ResourceGroupConfig,
    ScriptConfig,
    ScriptUser,
    SyncGroupConfig,
    TrackFileConfig,
    TrackProcessConfig,
    TrackRef,
)
from vrrp_agent.config.syntax import Statement, float_arg, int_arg, need_block, no_args, one_arg

WEIGHT_MIN, WEIGHT_MAX = -253, 253
TRACK_KINDS = {"track_script": "script", "track_interface": "interface",
               "track_file": "file", "track_process": "process"}
NOTIFY_KEYS = {"notify_master": "master", "notify_backup": "backup", "notify_fault": "fault",
               "notify_stop": "stop", "notify": "generic"}
UNIT_SUFFIXES = (".service", ".target", ".mount", ".socket", ".timer", ".path", ".scope",
                 ".slice", ".swap", ".device", ".automount")


def split_command(stmt: Statement, text: str) -> Tuple[str, ...]:
    """keepalived-style word splitting of a script string (no shell)."""
    try:
        argv = tuple(shlex.split(text, posix=True))
    except ValueError as exc:
        raise stmt.error(f"cannot split command {text!r}: {exc}") from None
    if not argv:
        raise stmt.error(f"'{stmt.keyword}' needs a command")
    return argv


def parse_user(stmt: Statement, words: Tuple[str, ...]) -> ScriptUser:
    if not 1 <= len(words) <= 2 or not all(words):
        raise stmt.error(f"'{stmt.keyword}' takes USER [GROUP]")
    user = words[0]
    group = words[1].lstrip(":") if len(words) == 2 else None
    if ":" in user:  # keepalived also accepts USER:GROUP
        user, _sep, grp = user.partition(":")
        if group is not None or not grp:
            raise stmt.error(f"'{stmt.keyword}' takes USER [GROUP]")
        group = grp
    return ScriptUser(user, group or None)


def parse_weight(stmt: Statement, words: Tuple[str, ...]) -> Tuple[int, Optional[bool]]:
    """`W [reverse|noreverse]` -> (weight, reverse or None when not said)."""
    if not 1 <= len(words) <= 2:
        raise stmt.error("weight takes W [reverse|noreverse]")
    try:
        weight = int(words[0])
    except ValueError:
        raise stmt.error(f"weight {words[0]!r} is not a whole number") from None
    if not WEIGHT_MIN <= weight <= WEIGHT_MAX:
        raise stmt.error(f"weight {weight} is out of range {WEIGHT_MIN}..{WEIGHT_MAX}")
    reverse: Optional[bool] = None
    if len(words) == 2:
        if words[1] not in ("reverse", "noreverse"):
            raise stmt.error(f"after the weight, expected reverse or noreverse, got {words[1]!r}")
        reverse = words[1] == "reverse"
    return weight, reverse


def _once(seen: Dict[str, Statement], s: Statement, where: str) -> None:
    if s.keyword in seen:
        raise s.error(f"'{s.keyword}' appears twice in {where} (first at line {seen[s.keyword].line})")
    seen[s.keyword] = s


def _name(stmt: Statement) -> str:
    if len(stmt.args) != 1:
        raise stmt.error(f"{stmt.keyword} needs exactly one name")
    return stmt.args[0]


# ------------------------------------------------------------------ vrrp_script

def parse_vrrp_script(stmt: Statement) -> ScriptConfig:
    name = _name(stmt)
    seen: Dict[str, Statement] = {}
    values: Dict[str, object] = {}
    for s in need_block(stmt):
        _once(seen, s, f"vrrp_script {name}")
        if s.keyword == "script":
            if not s.args or s.block is not None:
                raise s.error("script needs a command")
            values["argv"] = split_command(s, " ".join(s.args))
        elif s.keyword == "interval":
            values["interval_s"] = float_arg(s, 0.001, 86400)
        elif s.keyword == "timeout":
            values["timeout_s"] = float_arg(s, 0.001, 86400)
        elif s.keyword == "weight":
            values["weight"], reverse = parse_weight(s, s.args)
            values["weight_reverse"] = bool(reverse)
        elif s.keyword in ("rise", "fall"):
            values[s.keyword] = int_arg(s, 1, 1000000)
        elif s.keyword == "user":
            values["user"] = parse_user(s, s.args)
        elif s.keyword == "init_fail":
            no_args(s)
            values["init_fail"] = True
        else:
            raise s.error(f"unknown keyword '{s.keyword}' in vrrp_script")
    if "argv" not in values:
        raise stmt.error(f"vrrp_script {name} needs a script line")
    return ScriptConfig(name=name, file=stmt.file, line=stmt.line, **values)  # type: ignore[arg-type]


# ------------------------------------------------------------------ track_file / track_process

def parse_track_file(stmt: Statement) -> TrackFileConfig:
    name = _name(stmt)
    seen: Dict[str, Statement] = {}
    values: Dict[str, object] = {}
    for s in need_block(stmt):
        _once(seen, s, f"{stmt.keyword} {name}")
        if s.keyword == "file":
            path = one_arg(s)
            if not path.startswith("/"):
                raise s.error(f"file {path!r} must be an absolute path")
            values["path"] = path
        elif s.keyword == "weight":
            values["weight"], reverse = parse_weight(s, s.args)
            values["weight_reverse"] = bool(reverse)
        elif s.keyword == "init_file":
            words = list(s.args)
            if words and words[-1] == "overwrite":
                values["init_overwrite"] = True
                words.pop()
            if len(words) > 1:
                raise s.error("init_file takes [VALUE] [overwrite]")
            try:
                values["init_value"] = int(words[0]) if words else 0
            except ValueError:
                raise s.error(f"init_file value {words[0]!r} is not a whole number") from None
        else:
            raise s.error(f"unknown keyword '{s.keyword}' in {stmt.keyword}")
    if "path" not in values:
        raise stmt.error(f"{stmt.keyword} {name} needs a file line")
    return TrackFileConfig(name=name, file=stmt.file, line=stmt.line, **values)  # type: ignore[arg-type]


PROCESS_DELAYS = {"delay": ("fork_delay_s", "terminate_delay_s"), "fork_delay": ("fork_delay_s",),
                  "terminate_delay": ("terminate_delay_s",)}
"""keepalived 2.2.7: `delay` sets both; the later line wins, as there."""


def parse_track_process(stmt: Statement) -> TrackProcessConfig:
    name = _name(stmt)
    seen: Dict[str, Statement] = {}
    values: Dict[str, object] = {}
    for s in need_block(stmt):
        _once(seen, s, f"vrrp_track_process {name}")
        if s.keyword == "process":
            if not s.args or s.block is not None:
                raise s.error("process needs a process name")
            values["process"] = s.args[0]
            values["params"] = tuple(s.args[1:])
        elif s.keyword == "param_match":
            value = one_arg(s)
            if value not in ("exact", "initial", "partial"):
                raise s.error(f"param_match {value!r} must be exact, initial or partial")
            values["param_match"] = value
        elif s.keyword == "full_command":
            no_args(s)
            values["full_command"] = True
        elif s.keyword == "weight":
            values["weight"], reverse = parse_weight(s, s.args)
            values["weight_reverse"] = bool(reverse)
        elif s.keyword == "quorum":
            values["quorum"] = int_arg(s, 1, 65535)
        elif s.keyword == "quorum_max":
            values["quorum_max"] = int_arg(s, 1, 65535)
        elif s.keyword in PROCESS_DELAYS:
            delay = float_arg(s, 0.000001, 3600)
            values.update(dict.fromkeys(PROCESS_DELAYS[s.keyword], delay))
        else:
            raise s.error(f"unknown keyword '{s.keyword}' in vrrp_track_process")
    if "process" not in values:
        raise stmt.error(f"vrrp_track_process {name} needs a process line")
    quorum_max = values.get("quorum_max")
    if quorum_max is not None and quorum_max < values.get("quorum", 1):  # type: ignore[operator]
        raise seen["quorum_max"].error("quorum_max is below quorum")
    return TrackProcessConfig(name=name, file=stmt.file, line=stmt.line, **values)  # type: ignore[arg-type]


# ------------------------------------------------------------------ track_* blocks in instances

def parse_track_block(stmt: Statement) -> Tuple[TrackRef, ...]:
    """`track_script { NAME [weight W [reverse]] ... }` (and the other three kinds)."""
    kind = TRACK_KINDS[stmt.keyword]
    refs: List[TrackRef] = []
    for s in need_block(stmt):
        if s.block is not None:
            raise s.error(f"an entry of {stmt.keyword} takes no {{ block }}")
        weight: Optional[int] = None
        reverse: Optional[bool] = None
        words = s.args
        if words:
            if words[0] != "weight":
                raise s.error(f"{stmt.keyword} entry: expected 'weight W [reverse]' after "
                              f"{s.keyword!r}, got {words[0]!r}")
            weight, reverse = parse_weight(s, words[1:])
        if any(r.name == s.keyword for r in refs):
            raise s.error(f"{s.keyword} appears twice in {stmt.keyword}")
        refs.append(TrackRef(kind, s.keyword, weight, reverse, s.file, s.line))
    return tuple(refs)


# ------------------------------------------------------------------ notify

def parse_notify(stmt: Statement) -> NotifyCommand:
    """`notify_master "CMD ARGS" [USER [GROUP]]`: one command string, then the user."""
    if not stmt.args or stmt.block is not None:
        raise stmt.error(f"'{stmt.keyword}' needs a command")
    argv = split_command(stmt, stmt.args[0])
    user = parse_user(stmt, stmt.args[1:]) if len(stmt.args) > 1 else None
    return NotifyCommand(argv, user, stmt.file, stmt.line)


INSTANCE_NOTIFY_KEYS = {**NOTIFY_KEYS, "notify_master_rx_lower_pri": "master_rx_lower_pri"}
"""An instance has one more hook than a sync group (keepalived: instances only)."""


def notify_config(hooks: Dict[str, NotifyCommand]) -> NotifyConfig:
    return NotifyConfig(**{INSTANCE_NOTIFY_KEYS[k]: v for k, v in hooks.items()})


# ------------------------------------------------------------------ resource_group (extension)

def parse_resource_group(stmt: Statement) -> ResourceGroupConfig:
    if stmt.args:
        raise stmt.error("resource_group takes no argument, only a { block }")
    resources: List[ResourceConfig] = []
    seen: Dict[str, Statement] = {}
    values: Dict[str, object] = {}
    for s in need_block(stmt):
        if s.keyword == "service":
            unit = one_arg(s)
            if unit.startswith("-") or "/" in unit:
                raise s.error(f"service {unit!r} is not a systemd unit name")
            if not unit.endswith(UNIT_SUFFIXES):
                unit += ".service"
            resources.append(ResourceConfig("service", unit, ("systemctl", unit), s.file, s.line))
        elif s.keyword == "script":
            if not s.args or s.block is not None:
                raise s.error("script needs PATH [ARGS...]")
            if not s.args[0].startswith("/"):
                raise s.error(f"resource script {s.args[0]!r} must be an absolute path")
            resources.append(ResourceConfig("script", s.args[0], tuple(s.args), s.file, s.line))
        elif s.keyword == "timeout":
            _once(seen, s, "resource_group")
            values["timeout_s"] = float_arg(s, 0.1, 86400)
        elif s.keyword == "stop_retries":
            _once(seen, s, "resource_group")
            values["stop_retries"] = int_arg(s, 0, 100)
        elif s.keyword == "fault_hold":
            _once(seen, s, "resource_group")
            values["fault_hold_s"] = float_arg(s, 0, 86400)
        else:
            raise s.error(f"unknown keyword '{s.keyword}' in resource_group "
                          "(service, script, timeout, stop_retries, fault_hold)")
    if not resources:
        raise stmt.error("resource_group needs at least one service or script")
    return ResourceGroupConfig(resources=tuple(resources), file=stmt.file, line=stmt.line,
                               **values)  # type: ignore[arg-type]


# ------------------------------------------------------------------ vrrp_sync_group

def sync_group_warnings(stmt: Statement) -> List[str]:
    """keepalived's warning for the deprecated `global_tracking` (sync_group_tracking_weight)."""
    return [f"{s.file}:{s.line}: ({_name(stmt)}) global_tracking is deprecated: it means "
            "sync_group_tracking_weight (keepalived says the same; use track_interface/script/file "
            "on the sync group)" for s in stmt.block or () if s.keyword == "global_tracking"]


def parse_sync_group(stmt: Statement) -> SyncGroupConfig:
    name = _name(stmt)
    seen: Dict[str, Statement] = {}
    members: Tuple[str, ...] = ()
    hooks: Dict[str, NotifyCommand] = {}
    tracks: List[TrackRef] = []
    tracking_weight = False
    options: Dict[str, bool] = {}
    for s in need_block(stmt):
        _once(seen, s, f"vrrp_sync_group {name}")
        if s.keyword == "group":
            block = need_block(s)
            for m in block:
                if m.block is not None:
                    raise m.error("group lists instance names, not blocks")
            members = tuple(w for m in block for w in (m.keyword,) + m.args)
            if len(set(members)) != len(members):
                raise s.error("an instance appears twice in the group")
        elif s.keyword in NOTIFY_KEYS:
            hooks[s.keyword] = parse_notify(s)
        elif s.keyword in TRACK_KINDS:
            tracks.extend(parse_track_block(s))
        elif s.keyword == "sync_group_tracking_weight":
            no_args(s)
            tracking_weight = True
        elif s.keyword in foreign.SYNC_GROUP:
            raise foreign.refusal(s, foreign.SYNC_GROUP)  # type: ignore[misc]
        elif s.keyword in ("smtp_alert", "notify_priority_changes"):
            options[s.keyword] = _bool(s)
        elif s.keyword == "global_tracking":  # keepalived 2.2.7: deprecated, the same switch
            no_args(s)
            tracking_weight = True
        else:
            raise s.error(f"unknown keyword '{s.keyword}' in vrrp_sync_group")
    if not members:
        raise stmt.error(f"vrrp_sync_group {name} needs a group {{ ... }} of instances")
    return SyncGroupConfig(name, members, notify_config(hooks), tuple(tracks), tracking_weight,
                           file=stmt.file, line=stmt.line, **options)


def _bool(s: Statement) -> bool:
    from vrrp_agent.config.alerts import bool_arg

    return bool_arg(s)
