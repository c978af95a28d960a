"""global_defs keywords of SMTP alerts and notify FIFOs, and their defaults (keepalived 2.2.7).

Rules:
- `notification_email { ADDR ... }`: the recipients, one or more per line, in
  order; an empty block is accepted (keepalived warns: no mail is sent).
- `smtp_server HOST [PORT]`: an address or a name, port 25 by default.
  `smtp_connect_timeout S`: whole seconds; 0 becomes 1 with a warning.
- `smtp_alert [BOOL]`, `smtp_alert_vrrp [BOOL]`: BOOL is true/on/yes or
  false/off/no, none = true. An instance or sync group without its own
  smtp_alert takes smtp_alert_vrrp, else smtp_alert, else no (keepalived).
- `notify_fifo PATH [USER [GROUP]]`, `vrrp_notify_fifo ...` and their
  `*_script "CMD" [USER [GROUP]]`: PATH absolute. The two FIFOs on one path
  would get every line twice: refused.
- `vrrp_notify_priority_changes [BOOL]`: default of instances' and groups'
  `notify_priority_changes`; an instance without its own takes its group's,
  else the global one.
- Asking for mail without a server or a recipient is accepted with a
  warning (keepalived sends nothing either).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Optional, Tuple

from vrrp_agent.config.model import FifoConfig, GlobalDefs, InstanceConfig, SyncGroupConfig
from vrrp_agent.config.syntax import Statement, bool_flag, int_arg, need_block, no_args, one_arg
from vrrp_agent.config.tracking import parse_notify, parse_user

bool_arg = bool_flag  # keepalived's optional BOOL (config/syntax.py)


def _emails(s: Statement) -> Tuple[str, ...]:
    if s.args:
        raise s.error("notification_email takes its addresses in a { block }, one per line")
    return tuple(w for e in need_block(s) for w in (e.keyword,) + e.args)


def _server(s: Statement) -> Tuple[str, int]:
    if s.block is not None or not 1 <= len(s.args) <= 2:
        raise s.error("smtp_server takes HOST [PORT]")
    port = 25
    if len(s.args) == 2:
        try:
            port = int(s.args[1])
        except ValueError:
            raise s.error(f"smtp_server port {s.args[1]!r} is not a whole number") from None
        if not 1 <= port <= 65535:
            raise s.error(f"smtp_server port {port} is out of range 1..65535")
    return s.args[0], port


def _fifo(s: Statement) -> FifoConfig:
    if not s.args or s.block is not None:
        raise s.error(f"{s.keyword} takes PATH [USER [GROUP]]")
    path = s.args[0]
    if not path.startswith("/"):
        raise s.error(f"{s.keyword} {path!r} must be an absolute path")
    user = parse_user(s, s.args[1:]) if len(s.args) > 1 else None
    return FifoConfig(path, user, None, s.file, s.line)


Handler = Callable[[Statement, Dict[str, Any], Dict[str, Any]], None]


def _set(field: str, convert: Callable[[Statement], Any]) -> Handler:
    def handler(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
        values[field] = convert(s)
    return handler


def _timeout(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
    seconds = int_arg(s, 0, 4294967)
    if seconds == 0:
        values.setdefault("_warnings", []).append(
            f"{s.file}:{s.line}: smtp_connect_timeout 0 is taken as 1 s, as keepalived does")
        seconds = 1
    values["smtp_connect_timeout_s"] = float(seconds)


def _fifo_script(field: str) -> Handler:
    def handler(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
        values.setdefault("_fifo_scripts", {})[field] = parse_notify(s)
    return handler


def _flag(s: Statement) -> bool:
    no_args(s)
    return True


GLOBAL_HANDLERS: Dict[str, Handler] = {
    "notification_email": _set("email_to", _emails),
    "notification_email_from": _set("email_from", one_arg),
    "smtp_server": _set("smtp_server", _server),
    "smtp_helo_name": _set("smtp_helo_name", one_arg),
    "smtp_connect_timeout": _timeout,
    "smtp_alert": _set("smtp_alert", bool_arg),
    "smtp_alert_vrrp": _set("smtp_alert_vrrp", bool_arg),
    "no_email_faults": _set("no_email_faults", _flag),
    "notify_fifo": _set("notify_fifo", _fifo),
    "vrrp_notify_fifo": _set("vrrp_notify_fifo", _fifo),
    "notify_fifo_script": _fifo_script("notify_fifo"),
    "vrrp_notify_fifo_script": _fifo_script("vrrp_notify_fifo"),
    "vrrp_notify_priority_changes": _set("notify_priority_changes", bool_arg),
    "fifo_write_vrrp_states_on_reload": _set("fifo_write_vrrp_states_on_reload", _flag),
}


def finish_globals(stmt: Statement, values: Dict[str, Any], warnings: List[str]) -> None:
    """Attach FIFO scripts to their FIFOs and check the two FIFOs (in place, before GlobalDefs)."""
    warnings.extend(values.pop("_warnings", []))
    for field, script in values.pop("_fifo_scripts", {}).items():
        fifo: Optional[FifoConfig] = values.get(field)
        if fifo is None:
            raise stmt.error(f"{field}_script needs a {field} (the FIFO it reads) in global_defs")
        values[field] = dataclasses.replace(fifo, script=script)
    both = values.get("notify_fifo"), values.get("vrrp_notify_fifo")
    if both[0] is not None and both[1] is not None and both[0].path == both[1].path:
        raise stmt.error(f"notify_fifo and vrrp_notify_fifo are the same FIFO {both[0].path} "
                         "(every line would be written twice)")


def resolve(instances: List[InstanceConfig], groups: Dict[str, SyncGroupConfig], gdefs: GlobalDefs,
            warnings: List[str]) -> Tuple[List[InstanceConfig], Dict[str, SyncGroupConfig]]:
    """Every instance and group gets a concrete smtp_alert and notify_priority_changes."""
    default = gdefs.smtp_alert_vrrp if gdefs.smtp_alert_vrrp is not None else bool(gdefs.smtp_alert)
    out_groups = {name: dataclasses.replace(g, smtp_alert=default if g.smtp_alert is None else g.smtp_alert)
                  for name, g in groups.items()}
    out = []
    for inst in instances:
        group = out_groups.get(inst.sync_group) if inst.sync_group else None
        npc = inst.notify_priority_changes
        if npc is None:
            npc = group.notify_priority_changes if group is not None else None
        if npc is None:
            npc = gdefs.notify_priority_changes
        smtp = default if inst.smtp_alert is None else inst.smtp_alert
        out.append(dataclasses.replace(inst, smtp_alert=smtp, notify_priority_changes=npc))
    wants_mail = [o for o in list(out) + list(out_groups.values()) if o.smtp_alert]
    if wants_mail and (gdefs.smtp_server is None or not gdefs.email_to):
        first = wants_mail[0]
        missing = "smtp_server" if gdefs.smtp_server is None else "notification_email"
        warnings.append(f"{first.file}:{first.line}: smtp_alert is on but global_defs has no "
                        f"{missing}: no mail will be sent (as keepalived)")
    return out, out_groups
