"""Keywords of the agent's process, start and links (keepalived 2.2.7 semantics).

global_defs rules:
- vrrp_no_swap: mlockall of current and future pages (keepalived: MCL_CURRENT |
  MCL_FUTURE | MCL_ONFAULT), at start and at every reload.
- vrrp_cpu_affinity CPU...: whole CPU numbers 0..(online CPUs - 1), as
  keepalived checks them; every thread of the agent is pinned.
- vrrp_rlimit_rttime US (old spelling vrrp_rlimit_rtime, with keepalived's
  deprecation warning): 1..2^32-1, 1 counts as 2. Like keepalived it applies
  only to a real-time agent (vrrp_rt_priority): soft limit US/2 (the agent logs
  SIGXCPU as keepalived does), hard limit US. Without vrrp_rt_priority it has
  no effect, and the agent says so. Unlike keepalived, the agent sets no limit
  when the keyword is absent (keepalived's default 10 ms would kill a Python
  process in a long garbage collection).
- vrrp_delay_after_boot S (a keepalived 2.4 keyword): the instances start no
  earlier than S seconds after the host booted; with vrrp_startup_delay the
  longer wait wins (keepalived: "allow use of both").
- log_unknown_vrids: log each advert whose VRID no instance on its interface
  has, in keepalived's words.
- umask MASK: a number as C's strtol reads it (0NNN octal, 0xNN hex, else
  decimal) or bits IRUSR|IWGRP|... (keepalived's two forms), within 0777. The
  agent's umask from start (before its notify FIFOs are made: keepalived
  creates them 0644 less the mask) and for the scripts it runs, set again on
  reload; removing the line keeps the current mask (keepalived too).
- dynamic_interfaces: what the agent always does (an instance whose interface
  is missing waits in FAULT until it appears), so accepted quietly.
  `dynamic_interfaces allow_if_changes` (follow an interface deleted and made
  again under a new index) is refused: the agent's sockets stay on the index
  it bound, so the instance would stay in FAULT until a restart.
- default_interface IFNAME: keepalived uses it only for static addresses
  written without `dev`; it is stored for them (a vrrp_instance still needs
  its `interface`, as in keepalived).

interface_up_down_delays { IFNAME DOWN_DELAY [UP_DELAY] ... } (top level) rules:
- One line per interface: the seconds a link going down, then coming up,
  must last before the agent acts on it (linkdelays.py); each 0..255 s,
  fractions allowed; UP_DELAY defaults to 0. Several blocks may be written;
  an interface appears once.
- Where keepalived logs and skips a bad line (no delay, a third delay, a bad
  number) the agent refuses it at its FILE:LINE: a skipped line would be a
  delay silently not applied.
- The interface need not exist yet (the agent waits for missing interfaces).
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from vrrp_agent.config.model import LinkDelay
from vrrp_agent.config.syntax import Statement, float_arg, need_block, no_args, no_block, one_arg

IFNAMSIZ = 16
UINT32_MAX = 2**32 - 1


def _flag(field: str) -> Callable[..., None]:
    def handler(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
        no_args(s)
        values[field] = True
    return handler


def online_cpus() -> int:
    return int(os.sysconf("SC_NPROCESSORS_ONLN"))


def _cpu_affinity(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
    no_block(s)
    if not s.args:
        raise s.error("vrrp_cpu_affinity needs at least one CPU number")
    top = online_cpus() - 1
    cpus = []
    for word in s.args:
        if not word.isdigit() or int(word) > top:
            raise s.error(f"vrrp_cpu_affinity: {word!r} is not a CPU of this host (0..{top})")
        cpus.append(int(word))
    values["cpu_affinity"] = tuple(sorted(set(cpus)))


def _rlimit_rttime(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
    text = one_arg(s)
    if not text.isdigit() or not 1 <= int(text) <= UINT32_MAX:
        raise s.error(f"{s.keyword} {text!r} is not a number of microseconds 1..{UINT32_MAX}")
    if "rlimit_rttime_us" in values:
        raise s.error("vrrp_rlimit_rttime is given twice (once as vrrp_rlimit_rtime)")
    values["rlimit_rttime_us"] = max(2, int(text))  # keepalived: halved for the soft limit, never 0


def _delay_after_boot(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
    values["delay_after_boot_s"] = float_arg(s, 0.001, UINT32_MAX / 1e6)


def _default_interface(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
    name = one_arg(s)
    if len(name) >= IFNAMSIZ or "/" in name or name in (".", ".."):
        raise s.error(f"default_interface {name!r} is not an interface name")
    values["default_interface"] = name


def _dynamic_interfaces(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
    no_block(s)
    if not s.args:
        return  # the agent always waits for a missing interface
    if s.args == ("allow_if_changes",):
        raise s.error("'dynamic_interfaces allow_if_changes' is not supported: the agent does not "
                      "follow an interface deleted and made again under a new index (restart the "
                      "agent after re-creating it); plain `dynamic_interfaces` is what it always does")
    raise s.error(f"unknown dynamic_interfaces option {' '.join(s.args)!r} (keepalived knows "
                  "allow_if_changes)")


UMASK_BITS = {"IRUSR": 0o400, "IWUSR": 0o200, "IXUSR": 0o100, "IRGRP": 0o040, "IWGRP": 0o020,
              "IXGRP": 0o010, "IROTH": 0o004, "IWOTH": 0o002, "IXOTH": 0o001}


def _strtol0(text: str) -> int:
    """C's strtol(text, &end, 0) with the whole text consumed; ValueError otherwise."""
    if text[:2].lower() == "0x":
        return int(text[2:], 16)
    if len(text) > 1 and text[0] == "0":
        return int(text[1:], 8)
    return int(text, 10)


def _umask(s: Statement, values: Dict[str, Any], garp: Dict[str, Any]) -> None:
    no_block(s)
    if not s.args:
        raise s.error("umask needs a mask: a number (e.g. 0077) or bits such as IWGRP|IWOTH")
    if s.args[0][:1].isdigit():
        if len(s.args) != 1:
            raise s.error(f"umask takes one number, got {' '.join(s.args)!r}")
        try:
            mask = _strtol0(s.args[0])
        except ValueError:
            raise s.error(f"umask {s.args[0]!r} is not a number") from None
        if not 0 <= mask <= 0o777:
            raise s.error(f"umask {s.args[0]} is not within 0777")
    else:
        words = "".join(s.args).split("|")
        unknown = [w for w in words if w not in UMASK_BITS]
        if unknown:
            raise s.error(f"umask: unknown bit {unknown[0]!r} (IRUSR, IWUSR, IXUSR, IRGRP, IWGRP, "
                          "IXGRP, IROTH, IWOTH, IXOTH, joined by |)")
        mask = sum({UMASK_BITS[w] for w in words})
    values["umask"] = mask


GLOBAL_HANDLERS: Dict[str, Callable[..., None]] = {
    "vrrp_no_swap": _flag("no_swap"),
    "vrrp_cpu_affinity": _cpu_affinity,
    "vrrp_rlimit_rttime": _rlimit_rttime,
    "vrrp_rlimit_rtime": _rlimit_rttime,
    "vrrp_delay_after_boot": _delay_after_boot,
    "log_unknown_vrids": _flag("log_unknown_vrids"),
    "default_interface": _default_interface,
    "umask": _umask,
    "dynamic_interfaces": _dynamic_interfaces,
}


def finish_globals(stmt: Statement, values: Dict[str, Any], warnings: List[str]) -> None:
    """keepalived's warnings: the deprecated spelling, a real-time limit without real time."""
    for s in stmt.block or ():
        if s.keyword == "vrrp_rlimit_rtime":
            warnings.append(f"{s.file}:{s.line}: 'vrrp_rlimit_rtime' is deprecated - please use "
                            "'vrrp_rlimit_rttime' (keepalived says the same)")
        if s.keyword in ("vrrp_rlimit_rttime", "vrrp_rlimit_rtime") and not values.get("rt_priority"):
            warnings.append(f"{s.file}:{s.line}: '{s.keyword}' has no effect without "
                            "vrrp_rt_priority (the limit is on real-time CPU time, as in keepalived)")


def process_limits(g: Any) -> Tuple[bool, Tuple[int, ...], Optional[int]]:
    """(no_swap, cpus, rttime_us) for adapters.apply_process_limits; the limit only when real-time."""
    return g.no_swap, g.cpu_affinity, (g.rlimit_rttime_us if g.rt_priority else None)


def startup_wait_s(g: Any, uptime_s: float) -> float:
    """vrrp_startup_delay, or what is left of vrrp_delay_after_boot, whichever is longer."""
    return max(g.startup_delay_s, g.delay_after_boot_s - uptime_s)


# ------------------------------------------------------------ interface_up_down_delays

MAX_DELAY_S = 255.0


def _delay(s: Statement, text: str, which: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise s.error(f"interface_up_down_delays: {which} delay {text!r} of {s.keyword} "
                      "is not a number") from None
    if math.isnan(value) or not 0 <= value <= MAX_DELAY_S:
        raise s.error(f"interface_up_down_delays: {which} delay {text} of {s.keyword} "
                      "is out of range 0..255")
    return value


def parse_link_delays(stmt: Statement, earlier: Iterable[LinkDelay]) -> List[LinkDelay]:
    """The entries of one block; `earlier` are those of the blocks before it."""
    seen = {d.interface: d for d in earlier}
    out: List[LinkDelay] = []
    for s in need_block(stmt):
        no_block(s)
        name = s.keyword
        if len(name) >= IFNAMSIZ or "/" in name:
            raise s.error(f"interface_up_down_delays: {name!r} is not an interface name")
        if not 1 <= len(s.args) <= 2:
            raise s.error(f"interface_up_down_delays: {name} needs DOWN_DELAY [UP_DELAY] (seconds), "
                          f"got {len(s.args)} value(s)")
        if name in seen:
            first = seen[name]
            raise s.error(f"interface_up_down_delays: {name} is listed twice "
                          f"(first at {first.file}:{first.line})")
        down = _delay(s, s.args[0], "down")
        up = _delay(s, s.args[1], "up") if len(s.args) == 2 else 0.0
        entry = LinkDelay(interface=name, down_s=down, up_s=up, file=s.file, line=s.line)
        seen[name] = entry
        out.append(entry)
    return out
