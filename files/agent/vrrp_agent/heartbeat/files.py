"""Parsers for heartbeat's ha.cf, haresources and authkeys. Pure, stdlib only.

Rules: every problem raises ConfigError with FILE:LINE. ha.cf directives are
checked against the set heartbeat knows: an unknown one is an error (a typo
would otherwise be dropped silently); known ones without a VRRP equivalent are
kept so the converter can name them. Times accept heartbeat's `ms` suffix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from vrrp_agent.errors import ConfigError

# ha.cf directives the converter maps.
MAPPED = {"keepalive", "deadtime", "warntime", "initdead", "udpport", "bcast", "mcast", "ucast",
          "auto_failback", "nice_failback", "node"}
# Known heartbeat directives with no VRRP equivalent (named in the output).
NO_EQUIVALENT = {
    "serial": "serial-line heartbeats: VRRP runs over IP only",
    "baud": "serial-line speed: VRRP runs over IP only",
    "ping": "ping nodes (with ipfail): use a vrrp_script that pings, tracked with a weight",
    "ping_group": "ping groups (with ipfail): use a vrrp_script that pings, tracked with a weight",
    "deadping": "ping node dead time: set the vrrp_script's fall/interval instead",
    "respawn": "the agent does not supervise programs (ipfail is replaced by tracking); use systemd units",
    "apiauth": "heartbeat API authorisation: the agent's control socket uses file permissions",
    "watchdog": "node self-fencing by watchdog: configure systemd's watchdog or a hardware one",
    "stonith": "fencing: VRRP has none; fence with your platform's tools",
    "stonith_host": "fencing: VRRP has none; fence with your platform's tools",
    "realtime": "the agent runs as a normal process",
    "rtprio": "the agent runs as a normal process",
    "debug": "use vrrp-agent run --log-level debug",
    "debugfile": "the agent logs to stderr (journald)",
    "logfile": "the agent logs to stderr (journald)",
    "logfacility": "the agent logs to stderr (journald)",
    "use_logd": "the agent logs to stderr (journald)",
    "autojoin": "VRRP has no membership: every router on the segment with the VRID takes part",
    "hbgenmethod": "heartbeat generation numbers: no VRRP equivalent",
    "compression": "message compression: no VRRP equivalent",
    "compression_threshold": "message compression: no VRRP equivalent",
    "traditional_compression": "message compression: no VRRP equivalent",
    "msgfmt": "message format: VRRP has one wire format",
    "coredumps": "core dumps are systemd's business",
    "conn_logd_time": "the agent logs to stderr (journald)",
    "uuidfrom": "node identity: VRRP routers are their addresses",
    "max_rexmit_delay": "retransmission: VRRP adverts are periodic",
    "mcast6": "multicast over IPv6 heartbeats: VRRPv3 over IPv6 uses ff02::12",
    "ucast6": "unicast IPv6 heartbeats: add unicast_peer entries by hand",
}
_PACEMAKER = "crm/pacemaker clusters ignore haresources: there is nothing for this converter to do"
REFUSED = {"crm": _PACEMAKER, "pacemaker": _PACEMAKER}
AUTH_METHODS = ("crc", "md5", "sha1")


@dataclass
class Directive:
    name: str
    args: List[str]
    line: int


@dataclass
class HaCf:
    path: str
    directives: List[Directive] = field(default_factory=list)

    def first(self, name: str) -> Optional[Directive]:
        return next((d for d in self.directives if d.name == name), None)

    def all(self, name: str) -> List[Directive]:
        return [d for d in self.directives if d.name == name]


@dataclass
class ResourceGroup:
    node: str
    resources: List[str]
    line: int
    path: str


@dataclass
class AuthKeys:
    path: str
    method: str
    key: Optional[str]
    line: int


def _read(path: str) -> List[Tuple[int, str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path) from None
    return [(n, line.split("#", 1)[0].strip()) for n, line in enumerate(text.splitlines(), 1)]


def parse_time(text: str, path: str, line: int) -> float:
    """heartbeat times: seconds, or milliseconds with an `ms` suffix."""
    try:
        if text.endswith("ms"):
            return float(text[:-2]) / 1000.0
        return float(text)
    except ValueError:
        raise ConfigError(f"{text!r} is not a time (seconds, or NNNms)", path, line) from None


def parse_ha_cf(path: str) -> HaCf:
    hacf = HaCf(path)
    for number, text in _read(path):
        if not text:
            continue
        name, *args = text.split()
        if name in REFUSED:
            if args and args[0].lower() in ("no", "off", "false", "n", "0"):
                continue
            raise ConfigError(f"{name}: {REFUSED[name]}", path, number)
        if name not in MAPPED and name not in NO_EQUIVALENT:
            raise ConfigError(f"unknown ha.cf directive {name!r}", path, number)
        if name in MAPPED and not args:
            raise ConfigError(f"{name} needs a value", path, number)
        hacf.directives.append(Directive(name, args, number))
    if not hacf.all("node"):
        raise ConfigError("no node lines: ha.cf must list every cluster node", path)
    return hacf


def parse_haresources(path: str) -> List[ResourceGroup]:
    groups: List[ResourceGroup] = []
    pending: List[str] = []
    start = 0
    with_lines = _read(path)
    for number, text in with_lines:
        if not text and not pending:
            continue
        continued = text.endswith("\\")
        words = (text[:-1] if continued else text).split()
        if not pending:
            start = number
        pending += words
        if continued:
            continue
        if pending:
            if len(pending) < 2:
                raise ConfigError("a resource group needs a node and at least one resource", path, start)
            groups.append(ResourceGroup(pending[0], pending[1:], start, path))
        pending = []
    if pending:
        raise ConfigError("the last line ends with '\\' (continuation with nothing after)", path, start)
    if not groups:
        raise ConfigError("no resource group: nothing to convert", path)
    return groups


def parse_authkeys(path: str) -> AuthKeys:
    keys: Dict[str, Tuple[str, Optional[str], int]] = {}
    selected: Optional[Tuple[str, int]] = None
    for number, text in _read(path):
        if not text:
            continue
        words = text.split()
        if words[0] == "auth":
            if len(words) != 2:
                raise ConfigError("auth takes one key number", path, number)
            selected = (words[1], number)
            continue
        if not words[0].isdigit() or not 1 <= int(words[0]) <= 15:
            raise ConfigError(f"{words[0]!r}: a key line starts with its number 1..15", path, number)
        if len(words) < 2 or words[1] not in AUTH_METHODS:
            method = words[1] if len(words) > 1 else "(none)"
            raise ConfigError(f"unknown authentication method {method!r} (heartbeat knows crc, md5, sha1)",
                              path, number)
        if words[1] != "crc" and len(words) != 3:
            raise ConfigError(f"{words[1]} needs a secret key", path, number)
        if words[0] in keys:
            raise ConfigError(f"key {words[0]} is defined twice", path, number)
        keys[words[0]] = (words[1], words[2] if len(words) > 2 else None, number)
    if selected is None:
        raise ConfigError("no 'auth N' line selects a key", path)
    if selected[0] not in keys:
        raise ConfigError(f"auth {selected[0]} selects a key that is not defined", path, selected[1])
    method, key, number = keys[selected[0]]
    return AuthKeys(path, method, key, number)
