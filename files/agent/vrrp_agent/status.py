"""The status document (stable JSON schema) and its table rendering. Pure.

Schema (ARCHITECTURE.md "status --json"), version 1:
  {"schema": 1,
   "agent": {"version", "pid", "config", "router_id", "started_at", "uptime_s",
             "discards": {reason: n},           # packets no instance could claim
             "socket_drops": {"IF/ipv4": n}},   # dropped by the kernel: receive queue full
   "instances": [{"name", "interface", "vrid", "family" ("ipv4"|"ipv6"), "version",
                  "state" (INIT|BACKUP|MASTER|FAULT), "base_priority",
                  "effective_priority", "master_ip", "master_priority",
                  "vips": ["addr/len", ...], "excluded_vips": [...],
                  "advert_int_s", "master_advert_int_s", "unicast_peers": [...],
                  "override": null|"takeover"|"standby",
                  "last_transition": ISO-8601 UTC or null, "since_transition_s",
                  "counters": {name: n, ..., "discards": {reason: n}},
                  "sync_group": null|NAME,
                  "tracking": {"fault": bool, "priority": n, "faults": {source: why},
                               "trackers": [{"kind", "name", "state", "weight", "reverse",
                                             "effect", "fault", (scripts:) "runs", "failures",
                                             "last_result", "last_detail"}]},
                  "resources": [{"name", "kind", "state"
                                 (stopped|starting|started|stopping|failed), "last_error"}],
                  "announce": {"mode": "garp"} | {"mode": "bgp", "dev", "lease_s",
                               "announced": ["addr/len", ...]}}]}
(sync_group, tracking, resources and announce are added by operations.py; still
schema 1: only keys were added.)
Never anything secret: auth_pass is not part of it by construction.
"""

from __future__ import annotations

import datetime
import socket
from typing import Any, Dict, List, Optional

SCHEMA_VERSION = 1


def iso_utc(wall: Optional[float]) -> Optional[str]:
    if wall is None:
        return None
    moment = datetime.datetime.fromtimestamp(wall, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ip(packed: Optional[bytes]) -> Optional[str]:
    if not packed:
        return None
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)


def instance_status(inst: Any, now: float, wall_offset: float) -> Dict[str, Any]:
    """One instance; `now` is the loop clock, wall = loop clock + wall_offset."""
    cfg, router = inst.cfg, inst.router
    last = router.last_transition
    counters: Dict[str, Any] = dict(router.counters)
    counters["discards"] = dict(inst.discards)
    return {
        "name": cfg.name,
        "interface": cfg.interface,
        "vrid": cfg.vrid,
        "family": "ipv4" if cfg.family == 4 else "ipv6",
        "version": cfg.version,
        "state": router.state,
        "base_priority": cfg.priority,
        "effective_priority": router.effective_priority,
        "master_ip": _ip(router.master_ip) if router.master_priority is not None else None,
        "master_priority": router.master_priority,
        "vips": [f"{v.address}/{v.prefixlen}" for v in cfg.vips],
        "excluded_vips": [f"{v.address}/{v.prefixlen}" for v in cfg.excluded_vips],
        "advert_int_s": cfg.advert_int_cs / 100.0,
        "master_advert_int_s": router.master_adver_int_cs / 100.0,
        "unicast_peers": list(cfg.unicast_peers),
        "override": inst.override,
        "last_transition": iso_utc(None if last is None else last + wall_offset),
        "since_transition_s": None if last is None else round(now - last, 3),
        "counters": counters,
    }


def _ago(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _resource_text(resource: Dict[str, Any]) -> str:
    error = f" ({resource['last_error']})" if resource["last_error"] else ""
    return f"{resource['name']} {resource['state']}{error}"


def render_table(doc: Dict[str, Any]) -> str:
    """The human table of `vrrp-agent status`."""
    header = ["INSTANCE", "IFACE", "VRID", "FAM", "STATE", "PRIO", "MASTER", "VIPS",
              "OVERRIDE", "SINCE"]
    rows: List[List[str]] = [header]
    for i in doc["instances"]:
        master = "-"
        if i["master_ip"]:
            master = f"{i['master_ip']} ({i['master_priority']})"
        prio = f"{i['base_priority']}/{i['effective_priority']}"
        rows.append([
            i["name"], i["interface"], str(i["vrid"]), "v4" if i["family"] == "ipv4" else "v6",
            i["state"], prio, master, ",".join(i["vips"] + i["excluded_vips"]) or "-",
            i["override"] or "-", _ago(i["since_transition_s"]),
        ])
    widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    for i in doc["instances"]:
        tracking = i.get("tracking") or {}
        trackers = ", ".join(f"{t['kind']} {t['name']} {t['state']}"
                             + (f" ({t['effect']:+d})" if t["effect"] else "")
                             + (" FAULT" if t["fault"] else "") for t in tracking.get("trackers", []))
        if trackers:
            lines.append(f"{i['name']} tracking: {trackers}")
        for why in (tracking.get("faults") or {}).values():
            lines.append(f"{i['name']} fault: {why}")
        resources = ", ".join(_resource_text(r) for r in i.get("resources") or [])
        if resources:
            lines.append(f"{i['name']} resources: {resources}")
        announce = i.get("announce") or {}
        if announce.get("mode") == "bgp":
            routes = ", ".join(announce["announced"]) or "nothing (not master)"
            lines.append(f"{i['name']} announce: bgp on {announce['dev']}: {routes}")
    agent = doc["agent"]
    lines.append("")
    lines.append(f"agent {agent['version']} pid {agent['pid']} up {_ago(agent['uptime_s'])}"
                 f" config {agent['config']}")
    return "\n".join(lines)


def render_event(event: Dict[str, Any]) -> str:
    """One human line for `vrrp-agent events`."""
    rest = " ".join(f"{k}={v}" for k, v in event.items() if k not in ("seq", "time", "type"))
    return f"{event.get('time', '-')} #{event.get('seq', '-')} {event.get('type')} {rest}"
