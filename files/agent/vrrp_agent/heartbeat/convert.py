"""heartbeat v1 -> agent configuration (keepalived.conf syntax). Pure.

Rules (docs/heartbeat.md):
- one vrrp_instance per haresources group (identical groups listed under
  several preferred nodes are one group); VRIDs from --vrid upwards;
- the preferred node gets priority 100, the other nodes 10, 9, ... in ha.cf
  order (the seed's keepalived pair); no failback (auto_failback off,
  nice_failback on) -> every node `state BACKUP` + `nopreempt`;
- advert_int = deadtime / 3 (whole seconds, VRRPv2; below 1 s, VRRPv3), so
  that VRRP's master-down interval matches heartbeat's deadtime; initdead ->
  vrrp_startup_delay for the rest of the start-up wait; the arithmetic is
  written into the output;
- IPaddr/IPaddr2/bare IPs -> VIPs, bare names -> `service`, other
  resource.d scripts -> `script` in the resource_group extension;
- authkeys md5/sha1 -> PASS with the key's first 8 characters, crc -> none,
  both with a warning: VRRP has no keyed authentication.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from vrrp_agent.errors import ConfigError
from vrrp_agent.heartbeat.files import NO_EQUIVALENT, AuthKeys, HaCf, ResourceGroup, parse_time

MASTER_PRIORITY = 100
BACKUP_PRIORITY = 10
RESOURCE_D = "/etc/ha.d/resource.d"
FALSE = ("off", "no", "false", "n", "0")


@dataclass
class Conversion:
    text: str
    warnings: List[str] = field(default_factory=list)


@dataclass
class Timers:
    version: int
    advert_int: float
    comments: List[str]
    startup_delay: float


def _bool(text: str) -> bool:
    return text.lower() not in FALSE


def _failback(hacf: HaCf, warnings: List[str]) -> bool:
    failback = True
    for d in hacf.directives:
        if d.name == "nice_failback":
            failback = not _bool(d.args[0])
        elif d.name == "auto_failback":
            if d.args[0].lower() == "legacy":
                warnings.append(f"{hacf.path}:{d.line}: auto_failback legacy taken as on (failback)")
                failback = True
            else:
                failback = _bool(d.args[0])
    return failback


def _timers(hacf: HaCf, backup_priority: int) -> Timers:
    def seconds(name: str, default: float) -> float:
        d = hacf.first(name)
        return parse_time(d.args[0], hacf.path, d.line) if d else default

    keepalive, deadtime = seconds("keepalive", 2.0), seconds("deadtime", 30.0)
    initdead = seconds("initdead", 2 * deadtime)
    whole = math.floor(deadtime / 3)
    if whole >= 1:
        version, advert = 2, float(min(whole, 255))
        skew = (256 - backup_priority) / 256
    else:
        version, advert = 3, max(0.01, round(deadtime / 3, 2))
        skew = (256 - backup_priority) * advert / 256
    master_down = 3 * advert + skew
    delay = max(0.0, round(initdead - master_down, 1))
    comments = [
        f"deadtime {deadtime:g} s: a VRRP backup declares the master down after 3 x advert_int + skew,",
        f"  skew = (256 - priority) / 256 {'s' if version == 2 else 'x advert_int'}: advert_int {advert:g}"
        f" gives 3 x {advert:g} + {skew:.2f} = {master_down:.2f} s",
        f"  on the first backup (priority {backup_priority}).",
        f"keepalive {keepalive:g} s: no separate equivalent (the VRRP advert is both heartbeat and timer).",
        f"initdead {initdead:g} s: a starting backup already waits master-down ({master_down:.2f} s);",
        f"  vrrp_startup_delay {delay:g} makes the whole start-up wait {initdead:g} s.",
    ]
    if version == 3:
        comments.append("deadtime under 3 s needs sub-second adverts: VRRPv3 (no authentication).")
    return Timers(version, advert, comments, delay)


def _medium(hacf: HaCf) -> Tuple[str, List[str], bool]:
    """(interface, unicast peers, unicast?) from bcast/mcast/ucast."""
    for d in hacf.directives:
        if d.name in ("bcast", "mcast"):
            return d.args[0], [], False
    peers = []
    interface = None
    for d in hacf.all("ucast"):
        if len(d.args) != 2:
            raise ConfigError("ucast takes an interface and a peer address", hacf.path, d.line)
        interface = interface or d.args[0]
        peers.append(d.args[1])
    if interface:
        return interface, peers, True
    raise ConfigError("no heartbeat medium (bcast, mcast or ucast): nothing tells the interface", hacf.path)


def _vip(spec: str, prefix_len: Optional[int], group: ResourceGroup, path: str,
         warnings: List[str]) -> Tuple[str, Optional[str]]:
    """IPaddr/IPaddr2 argument ip[/bits[/iface[/bcast]]] -> ("ip/bits", iface)."""
    parts = spec.split("/")
    try:
        address = ipaddress.ip_address(parts[0])
    except ValueError:
        raise ConfigError(f"{parts[0]!r} is not an IP address", path, group.line) from None
    if len(parts) > 1 and parts[1]:
        bits = parts[1]
    elif prefix_len is not None:
        bits = str(prefix_len)
    else:
        bits = "24" if address.version == 4 else "64"
        warnings.append(f"{path}:{group.line}: {address} has no prefix length (heartbeat took it from a "
                        f"route); /{bits} assumed: check it or pass --prefix-len")
    iface = parts[2].split(":")[0] if len(parts) > 2 and parts[2] else None
    return f"{address}/{bits}", iface


def _resources(group: ResourceGroup, prefix_len: Optional[int], path: str, warnings: List[str]):
    vips, ifaces, items = [], [], []
    for token in group.resources:
        name, _sep, rest = token.partition("::")
        args = rest.split("::") if rest else []
        if not rest and _is_ip(name):
            name, args = "IPaddr", [token]
        if name in ("IPaddr", "IPaddr2"):
            if len(args) != 1:
                raise ConfigError(f"{token}: {name} takes one argument ip[/bits[/iface]]", path, group.line)
            vip, iface = _vip(args[0], prefix_len, group, path, warnings)
            vips.append(vip)
            ifaces.append(iface)
        elif args:
            items.append(("script", " ".join([f"{RESOURCE_D}/{name}", *args])))
        else:
            items.append(("service", name))
    if not vips:
        raise ConfigError("this resource group has no IP address: a VRRP instance needs one",
                          path, group.line)
    return vips, next((i for i in ifaces if i), None), items


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("/")[0])
        return True
    except ValueError:
        return False


def _auth(auth: AuthKeys, version: int, warnings: List[str]) -> Optional[str]:
    where = f"{auth.path}:{auth.line}"
    if version == 3:
        warnings.append(f"{where}: VRRPv3 has no authentication: authkeys not converted")
        return None
    if auth.method == "crc" or not auth.key:
        warnings.append(f"{where}: crc is a checksum with no secret; VRRP has no equivalent: "
                        "no authentication")
        return None
    warnings.append(f"{where}: {auth.method} signs heartbeat packets with a key; VRRP has no keyed "
                    f"authentication: converted to PASS (a clear-text password, no integrity)"
                    + (", truncated to its first 8 characters" if len(auth.key) > 8 else ""))
    return auth.key[:8]


def _groups(groups: List[ResourceGroup], nodes: List[str], path: str, warnings: List[str]):
    unique: List[ResourceGroup] = []
    for group in groups:
        if group.node.lower() not in [n.lower() for n in nodes]:
            raise ConfigError(f"preferred node {group.node!r} is not a node of ha.cf ({', '.join(nodes)})",
                              path, group.line)
        same = next((g for g in unique if g.resources == group.resources), None)
        if same:
            warnings.append(f"{path}:{group.line}: the same resources as line {same.line}, preferred by "
                            f"{group.node}: one group has one preferred node, {same.node} kept")
            continue
        unique.append(group)
    return unique


def convert(hacf: HaCf, groups: List[ResourceGroup], auth: AuthKeys, node: str, vrid: int = 51,
            prefix_len: Optional[int] = None, unicast_src: Optional[str] = None) -> Conversion:
    warnings: List[str] = []
    nodes = [n for d in hacf.all("node") for n in d.args]
    local = next((n for n in nodes if n.lower() == node.lower()), None)
    if local is None:
        raise ConfigError(f"node {node!r} is not in ha.cf's node lines ({', '.join(nodes)}); pass --node",
                          hacf.path)
    failback = _failback(hacf, warnings)
    timers = _timers(hacf, BACKUP_PRIORITY)
    interface, peers, unicast = _medium(hacf)
    if unicast_src:
        peers = [p for p in peers if p != unicast_src]
    elif unicast:
        warnings.append(f"{hacf.path}: ucast peers are all listed; heartbeat ignored the one that is this "
                        "node: remove it from unicast_peer or pass --unicast-src")
    secret = _auth(auth, timers.version, warnings)
    lines = _header(hacf, groups, auth, local, timers)
    for index, group in enumerate(_groups(groups, nodes, _path_of(groups), warnings)):
        if vrid + index > 255:
            raise ConfigError(f"--vrid {vrid} leaves no VRID for group {index + 1}", _path_of(groups))
        lines += _instance(index, group, nodes, local, failback, timers, interface, unicast, peers,
                           unicast_src, secret, vrid + index, prefix_len, warnings)
    at = len(_header_intro(hacf, groups, auth, local))
    lines[at:at] = [f"! warning: {warning}" for warning in warnings]
    return Conversion("\n".join(lines) + "\n", warnings)


def _path_of(groups: List[ResourceGroup]) -> str:
    return groups[0].path


def _header_intro(hacf: HaCf, groups: List[ResourceGroup], auth: AuthKeys, local: str) -> List[str]:
    return [f"! Converted by vrrp-agent import-heartbeat for node {local}",
            f"! from {hacf.path}, {_path_of(groups)} and {auth.path}."]


def _header(hacf: HaCf, groups: List[ResourceGroup], auth: AuthKeys, local: str, timers: Timers) -> List[str]:
    lines = _header_intro(hacf, groups, auth, local) + ["!", "! Timers:"]
    lines += [f"!   {c}" for c in timers.comments]
    skipped = [d for d in hacf.directives if d.name in NO_EQUIVALENT]
    extra = [d for d in hacf.directives if d.name in ("udpport", "warntime")]
    if skipped or extra:
        lines += ["! Not converted (no VRRP equivalent):"]
        for d in extra:
            why = ("VRRP is IP protocol 112, not UDP" if d.name == "udpport"
                   else "the agent does not log late adverts; its counters show them")
            lines.append(f"!   {hacf.path}:{d.line} {d.name}: {why}")
        lines += [f"!   {hacf.path}:{d.line} {d.name}: {NO_EQUIVALENT[d.name]}" for d in skipped]
    router_id = local.split(".")[0]
    lines += ["", "global_defs {", f"    router_id {router_id}"]
    if timers.startup_delay > 0:
        lines.append(f"    vrrp_startup_delay {timers.startup_delay:g}")
    return lines + ["}"]


def _instance(index, group, nodes, local, failback, timers, interface, unicast, peers, unicast_src,
              secret, vrid, prefix_len, warnings) -> List[str]:
    vips, vip_iface, items = _resources(group, prefix_len, group.path, warnings)
    preferred = group.node.lower() == local.lower()
    others = [n for n in nodes if n.lower() != group.node.lower()]
    rank = [n.lower() for n in others].index(local.lower()) if not preferred else 0
    priority = MASTER_PRIORITY if preferred else BACKUP_PRIORITY - rank
    state = "MASTER" if preferred and failback else "BACKUP"
    out = ["", f"# haresources line {group.line}: {group.node} {' '.join(group.resources)}",
           f"vrrp_instance VI_{index + 1} {{", f"    state {state}",
           f"    interface {vip_iface or interface}", f"    virtual_router_id {vrid}",
           f"    priority {priority}", f"    advert_int {timers.advert_int:g}"]
    if timers.version == 3:
        out.append("    version 3")
    if not failback:
        out.append("    nopreempt            # auto_failback off / nice_failback on")
    if secret:
        out += ["    authentication {", "        auth_type PASS", f"        auth_pass {secret}", "    }"]
    if unicast:
        if unicast_src:
            out.append(f"    unicast_src_ip {unicast_src}")
        out += ["    unicast_peer {", *[f"        {p}" for p in peers], "    }"]
    out += ["    virtual_ipaddress {", *[f"        {v}" for v in vips], "    }"]
    if items:
        out += ["    resource_group {     # agent extension: heartbeat's resources, in order"]
        for kind, value in items:
            note = "   # heartbeat looked in resource.d, then /etc/init.d" if kind == "service" else ""
            out.append(f"        {kind} {value}{note}")
        out.append("    }")
    return out + ["}"]
