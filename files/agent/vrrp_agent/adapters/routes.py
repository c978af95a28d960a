"""Routes and rules through pyroute2 (virtual_routes/rules, static_*), on the netlink worker.

Rules:
- Worker thread only: every function takes the worker's IPRoute.
- Idempotent like VIPs: adding a present route/rule (EEXIST) or deleting
  an absent one (ESRCH, ENOENT) is success, reported as "nothing to do".
- A route is built as keepalived 2.2.7 builds it (compared in tests/lab):
  proto keepalived (18) unless configured, scope global unless configured;
  `onlink` sets RTNH_F_ONLINK. A rule is a lookup rule (FR_ACT_TO_TBL),
  proto keepalived too.
- Errors come back as text ("route 203.0.113.0/24 via ...: 101 ENETUNREACH"),
  for the caller to log and count; nothing raises out of here but bugs.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any, Dict, List, Sequence, Tuple, Union

from vrrp_agent.config.model import RouteSpec, RuleSpec, VipSpec

RTN_TYPES = {"unicast": 1, "blackhole": 6, "unreachable": 7, "prohibit": 8}
SCOPES = {"global": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
RTPROT_KEEPALIVED = 18
RTNH_F_ONLINK = 4
FR_ACT_TO_TBL = 1
_IDEMPOTENT_ADD = {errno.EEXIST}
_IDEMPOTENT_DEL = {errno.ESRCH, errno.ENOENT, errno.EADDRNOTAVAIL, errno.ENODEV}
Spec = Union[RouteSpec, RuleSpec]
Outcome = Tuple[str, Any]
"""(description, True: changed / False: nothing to do / str: error)."""


def describe(spec: Spec) -> str:
    if isinstance(spec, RouteSpec):
        words = [spec.kind] if spec.kind != "unicast" else []
        words.append(spec.dst)
        for key in ("via", "dev", "src"):
            if getattr(spec, key):
                words += [key, str(getattr(spec, key))]
        if spec.table != 254:
            words += ["table", str(spec.table)]
        return "route " + " ".join(words)
    words = ["from", spec.src or "all"]
    if spec.dst:
        words += ["to", spec.dst]
    return "rule " + " ".join(words + ["table", str(spec.table)])


def route_args(spec: RouteSpec) -> Dict[str, Any]:
    net = ipaddress.ip_network(spec.dst)
    args: Dict[str, Any] = {
        "family": socket.AF_INET if spec.family == 4 else socket.AF_INET6,
        "dst_len": net.prefixlen, "table": spec.table, "type": RTN_TYPES[spec.kind],
        "proto": RTPROT_KEEPALIVED if spec.proto is None else spec.proto,
        "scope": SCOPES[spec.scope or "global"],
    }
    if net.prefixlen:
        args["dst"] = str(net.network_address)
    if spec.via:
        args["gateway"] = spec.via
    if spec.dev:
        args["oif"] = socket.if_nametoindex(spec.dev)
    if spec.src:
        args["prefsrc"] = spec.src
    if spec.metric is not None:
        args["priority"] = spec.metric
    if spec.onlink:
        args["flags"] = RTNH_F_ONLINK
    return args


def rule_args(spec: RuleSpec) -> Dict[str, Any]:
    args: Dict[str, Any] = {
        "family": socket.AF_INET if spec.family == 4 else socket.AF_INET6,
        "table": spec.table, "action": FR_ACT_TO_TBL, "protocol": RTPROT_KEEPALIVED,
    }
    for key, text in (("src", spec.src), ("dst", spec.dst)):
        if text:
            net = ipaddress.ip_network(text)
            args[key] = str(net.network_address)
            args[key + "_len"] = net.prefixlen
    for key, value in (("priority", spec.priority), ("fwmark", spec.fwmark),
                       ("fwmask", spec.fwmask), ("iifname", spec.iif), ("oifname", spec.oif),
                       ("tos", spec.tos)):
        if value is not None:
            args[key] = value
    return args


def apply(ipr: Any, specs: Sequence[Spec], add: bool) -> List[Outcome]:
    """Add (or delete) each route/rule in order; one outcome each."""
    from pyroute2.netlink.exceptions import NetlinkError

    out: List[Outcome] = []
    command = "add" if add else "del"
    for spec in specs:
        what = describe(spec)
        try:
            if isinstance(spec, RouteSpec):
                ipr.route(command, **route_args(spec))
            else:
                ipr.rule(command, **rule_args(spec))
        except NetlinkError as exc:
            if exc.code in (_IDEMPOTENT_ADD if add else _IDEMPOTENT_DEL):
                out.append((what, False))
            else:
                out.append((what, f"{what}: {command} failed: {exc.code} "
                                  f"{errno.errorcode.get(exc.code, '')}"))
            continue
        except OSError as exc:  # if_nametoindex: the dev is gone
            out.append((what, f"{what}: {exc}"))
            continue
        out.append((what, True))
    return out


def apply_statics(netlink: Any, vips: Sequence[VipSpec], routes: Sequence[RouteSpec],
                  rules: Sequence[RuleSpec], add: bool) -> List[Outcome]:
    """static_ipaddress, static_routes, static_rules: added in that order, removed in reverse."""
    from vrrp_agent.errors import SystemFailure

    out: List[Outcome] = []

    def addresses() -> None:
        for vip in vips:
            what = f"static address {vip.address}/{vip.prefixlen} dev {vip.dev}"
            try:
                index = socket.if_nametoindex(vip.dev or "")
                changed = netlink.add_vip(index, vip) if add else netlink.del_vip(index, vip)
            except (OSError, SystemFailure) as exc:
                out.append((what, f"{what}: {exc}"))
                continue
            out.append((what, changed))

    ipr = netlink.ipr()
    if add:
        addresses()
        out += apply(ipr, list(routes) + list(rules), True)
    else:
        out += apply(ipr, list(rules) + list(routes), False)
        addresses()
    return out
