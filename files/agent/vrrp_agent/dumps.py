"""keepalived's signal dumps, so that its signals inform instead of killing the agent.

Rules:
- Without a handler SIGUSR1, SIGUSR2 and SIGRTMIN+2 terminate a process: an
  operator's habitual `kill -USR1` (keepalived --signum=DATA) would stop the
  agent without its priority-0 advert. The agent handles the four signals
  keepalived 2.2.7's VRRP process handles (lib/signals.h):
    SIGUSR1         DATA         keepalived.data   the agent's `vrrp-agent status` table
                                                   (keepalived's own layout is declared
                                                   unstable and carries the password)
    SIGUSR2         STATS        keepalived.stats  keepalived 2.2.7's layout, line for line
    SIGRTMAX-1      STATS_CLEAR  keepalived.stats  then the counters start again from 0
                                                   (in this file only: status/metrics keep
                                                   counting, they are monotonic)
    SIGRTMIN+2      JSON         keepalived.json   keepalived's json_version 1 layout: an array
                                                   of {"data": {...}, "stats": {...}}
- The directory is $TMPDIR when absolute, else /tmp (keepalived 2.2.7's set_tmp_dir).
  Under the role's unit (PrivateTmp=yes) that is the unit's private /tmp.
- JSON "data" holds the fields of keepalived's dump the agent has a value for;
  `auth_data` (the password) is never written. States are keepalived's numbers
  (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT).
- Each file is written to a new name (O_EXCL | O_NOFOLLOW, mode 0600 as
  keepalived's fopen_safe) and renamed over the old one: a reader never sees
  half a dump, and a planted symlink is never followed.
- The counter mapping (the agent's discard reasons -> keepalived's fields) is
  STATS_FIELDS; keepalived's "Invalid Type" of authentication has no agent
  counter (the agent checks the type against its own: "Type Mismatch").
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from typing import Any, Callable, Dict, List, Sequence, Tuple

STATE_NUMBER = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3}
SIGJSON = signal.SIGRTMIN + 2
SIGSTATS_CLEAR = signal.SIGRTMAX - 1

# keepalived stats field -> (router counters, per-instance discard reasons) summed into it
STATS_FIELDS: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    "advert_rcvd": (("adverts_received",), ()),
    "advert_sent": (("adverts_sent",), ()),
    "become_master": (("became_master",), ()),
    "release_master": (("released_master",), ()),
    "packet_len_err": ((), ("too_short", "length", "ip_header")),
    "advert_interval_err": ((), ("interval",)),
    "ip_ttl_err": ((), ("ttl",)),
    "invalid_type_rcvd": ((), ("type",)),
    "addr_list_err": (("address_list_mismatch",), ()),
    "invalid_authtype": ((), ()),
    "authtype_mismatch": ((), ("auth_type",)),
    "auth_failure": ((), ("auth",)),
    "pri_zero_rcvd": (("priority_zero_received",), ()),
    "pri_zero_sent": (("priority_zero_sent",), ()),
}
STATS_TEXT = (
    "VRRP Instance: {iname}\n  Advertisements:\n    Received: {advert_rcvd}\n    Sent: {advert_sent}\n"
    "  Became master: {become_master}\n  Released master: {release_master}\n  Packet Errors:\n"
    "    Length: {packet_len_err}\n    TTL: {ip_ttl_err}\n    Invalid Type: {invalid_type_rcvd}\n"
    "    Advertisement Interval: {advert_interval_err}\n    Address List: {addr_list_err}\n"
    "  Authentication Errors:\n    Invalid Type: {invalid_authtype}\n"
    "    Type Mismatch: {authtype_mismatch}\n    Failure: {auth_failure}\n"
    "  Priority Zero:\n    Received: {pri_zero_rcvd}\n    Sent: {pri_zero_sent}\n")


def dump_dir() -> str:
    """keepalived's set_tmp_dir: $TMPDIR when it is an absolute path, else /tmp."""
    tmp = os.environ.get("TMPDIR", "")
    return tmp if tmp.startswith("/") else "/tmp"


def write_file(name: str, text: str) -> str:
    """Write `text` as dump_dir()/name (new file, then rename); return the path."""
    path = os.path.join(dump_dir(), name)
    tmp = f"{path}.{os.getpid()}.new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


class StatsBase:
    """What STATS_CLEAR has cleared: counts below these are not shown again."""

    def __init__(self) -> None:
        self.base: Dict[Tuple[str, int, int, str], int] = {}

    def stats(self, inst: Any) -> Dict[str, int]:
        key = (inst.cfg.interface, inst.cfg.family, inst.cfg.vrid)
        counters, discards = inst.router.counters, inst.discards
        out = {}
        for field, (from_counters, from_discards) in STATS_FIELDS.items():
            total = sum(counters.get(c, 0) for c in from_counters)
            total += sum(discards.get(d, 0) for d in from_discards)
            out[field] = total - self.base.get(key + (field,), 0)
        return out

    def clear(self, inst: Any) -> None:
        key = (inst.cfg.interface, inst.cfg.family, inst.cfg.vrid)
        for field, value in self.stats(inst).items():
            self.base[key + (field,)] = self.base.get(key + (field,), 0) + value


def stats_text(instances: Sequence[Any], base: StatsBase) -> str:
    return "".join(STATS_TEXT.format(iname=i.cfg.name, **base.stats(i)) for i in instances)


def _vip_text(vip: Any, interface: str) -> str:
    """keepalived's format_ipaddress: ADDR[/LEN unless a host route] [brd B] dev DEV scope S [label L]."""
    host_len = 32 if vip.family == 4 else 128
    text = vip.address if vip.prefixlen == host_len else f"{vip.address}/{vip.prefixlen}"
    if vip.brd:
        text += f" brd {vip.brd}"
    text += f" dev {vip.dev or interface} scope {vip.scope or 'global'}"
    return text + (f" label {vip.label}" if vip.label else "")


def _command(cmd: Any) -> Any:
    return None if cmd is None else " ".join(cmd.argv)


def _g(value: float) -> Any:
    """keepalived's jsonw_float_field prints "%g": a whole number comes out as an integer."""
    return int(value) if float(value).is_integer() else value


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def json_data(inst: Any, wall_offset: float) -> Dict[str, Any]:
    cfg, router, garp = inst.cfg, inst.router, inst.cfg.garp
    last = router.last_transition
    data: Dict[str, Any] = {
        "iname": cfg.name, "dont_track_primary": int(cfg.dont_track_primary),
        "ifp_ifname": cfg.interface, "master_priority": router.master_priority or 0,
        "last_transition": 0.0 if last is None else round(last + wall_offset, 6),
        "garp_delay": _g(garp.master_delay_s), "garp_refresh": int(garp.master_refresh_s),
        "garp_rep": garp.master_repeat, "garp_refresh_rep": garp.master_refresh_repeat,
        "garp_lower_prio_delay": int(_or(garp.lower_prio_delay_s, garp.master_delay_s)),
        "garp_lower_prio_rep": _or(garp.lower_prio_repeat, garp.master_repeat),
        "vrid": cfg.vrid, "base_priority": cfg.priority, "effective_priority": router.effective_priority,
        "vipset": router.state == "MASTER", "adver_int": _g(cfg.advert_int_cs / 100.0),
        "master_adver_int": _g(router.master_adver_int_cs / 100.0), "nopreempt": cfg.nopreempt,
        "preempt_delay": int(cfg.preempt_delay_s), "state": STATE_NUMBER.get(router.state, 0),
        "wantstate": STATE_NUMBER.get(router.state, 0), "version": cfg.version,
        "smtp_alert": bool(cfg.smtp_alert), "notify_deleted": cfg.notify_deleted,
    }
    for key, cmd in (("script_backup", cfg.notify.backup), ("script_master", cfg.notify.master),
                     ("script_fault", cfg.notify.fault), ("script_stop", cfg.notify.stop),
                     ("script_deleted", cfg.notify.deleted), ("script", cfg.notify.generic)):
        if cmd is not None:
            data[key] = _command(cmd)
    for key, vips in (("vips", cfg.vips), ("evips", cfg.excluded_vips)):
        if vips:
            data[key] = [_vip_text(v, cfg.interface) for v in vips]
    ifaces = [r.name for r in cfg.tracks if r.kind == "interface"]
    if ifaces:
        data["track_ifp"] = ifaces
    data["auth_type"] = {None: 0, "PASS": 1, "AH": 2}.get(cfg.auth_type, 0)
    return data


def json_text(instances: Sequence[Any], base: StatsBase, wall_offset: float) -> str:
    doc = [{"data": json_data(i, wall_offset), "stats": base.stats(i)} for i in instances]
    return json.dumps(doc)


class Dumper:
    """Signal -> file; the daemon installs `handlers()` on its loop."""

    def __init__(self, instances: Callable[[], List[Any]], wall_offset: Callable[[], float],
                 status_table: Callable[[], str], log: Any):
        self.instances = instances
        self.wall_offset = wall_offset
        self.status_table = status_table
        self.log = log
        self.base = StatsBase()

    def handlers(self) -> Dict[int, Callable[[], None]]:
        return {signal.SIGUSR1: self.data, signal.SIGUSR2: self.stats,
                SIGSTATS_CLEAR: self.stats_clear, SIGJSON: self.json}

    def _write(self, name: str, text: str) -> None:
        try:
            self.log.info("wrote %s", write_file(name, text))
        except OSError as exc:
            self.log.warning("cannot write %s in %s: %s", name, dump_dir(), exc)

    def data(self) -> None:
        self._write("keepalived.data", self.status_table())

    def stats(self) -> None:
        self._write("keepalived.stats", stats_text(self.instances(), self.base))

    def stats_clear(self) -> None:
        self.stats()
        for inst in self.instances():
            self.base.clear(inst)

    def json(self) -> None:
        self._write("keepalived.json", json_text(self.instances(), self.base, self.wall_offset()))
