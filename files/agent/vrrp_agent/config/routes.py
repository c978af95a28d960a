"""`virtual_routes`, `virtual_rules`, `static_routes`, `static_rules` lines (keepalived 2.2.7).

Rules:
- Each block line is one route or rule, in `ip route` / `ip rule` words, as
  keepalived reads them. The agent applies a common subset fully; every
  other word is a FILE:LINE error naming it (nothing is parsed and dropped).
- Routes: [src ADDR] [blackhole|unreachable|prohibit] [to] DST
  [via|gw ADDR] [dev IF] [src ADDR] [scope S] [table T] [metric|priority|
  preference N] [proto|protocol P] [onlink] [no_track].
- Rules: [from NET|all] [to NET|all] table|lookup T [preference|priority|pref N]
  [fwmark V[/M]] [iif IF] [oif IF] [tos N] [no_track].
- `no_track` (virtual only): keepalived then leaves a route alone when it is
  deleted behind its back; the agent never watches routes or rules, so every
  entry behaves as no_track: accepted, documented in docs/config.md.
- Families never mix within one line; a gateway of the other family is an error.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from vrrp_agent.config.model import Config, RouteSpec, RuleSpec
from vrrp_agent.config.syntax import Statement, need_block, no_block, parse_address
from vrrp_agent.errors import ConfigError

TABLES = {"main": 254, "local": 255, "default": 253}
PROTOS = {"kernel": 2, "boot": 3, "static": 4, "ra": 9, "dhcp": 16, "keepalived": 18}
ROUTE_SCOPES = {"global", "universe", "site", "link", "host", "nowhere"}
ROUTE_KINDS = {"blackhole", "unreachable", "prohibit"}
ROUTE_VALUED = {"via", "gw", "dev", "src", "scope", "table", "metric", "priority", "preference",
                "proto", "protocol"}
RULE_VALUED = {"from", "to", "table", "lookup", "preference", "priority", "pref", "fwmark",
               "iif", "iifname", "oif", "oifname", "tos", "dsfield"}


def _number(s: Statement, word: str, text: str, hi: int) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise s.error(f"{word} {text!r} is not a number") from None
    if not 0 <= value <= hi:
        raise s.error(f"{word} {value} is out of range 0..{hi}")
    return value


def _table(s: Statement, text: str) -> int:
    if text in TABLES:
        return TABLES[text]
    if not text.isdigit():
        raise s.error(f"table {text!r}: use a number or main/local/default "
                      "(names from rt_tables are not read by the agent)")
    return _number(s, "table", text, 2**32 - 1)


def _network(s: Statement, text: str, family: Optional[int]) -> ipaddress._BaseNetwork:
    if text == "default":
        text = "::/0" if family == 6 else "0.0.0.0/0"
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise s.error(f"{text!r} is not an address or NETWORK/PREFIX") from None
    if family is not None and net.version != family:
        raise s.error(f"{text} is not an IPv{family} address (one family per line)")
    if "/" in text and net.network_address != ipaddress.ip_interface(text).ip:
        raise s.error(f"{text} has host bits set (did you mean {net}?)")
    return net


def _words(s: Statement, valued: set, flags: set, what: str) -> Tuple[Dict[str, str], set, list]:
    """(valued options, flags present, positional words) of one line, duplicates refused."""
    no_block(s)
    words = (s.keyword,) + s.args
    opts: Dict[str, str] = {}
    seen_flags: set = set()
    positional = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in valued:
            if i + 1 >= len(words):
                raise s.error(f"{what} option '{word}' needs a value")
            if word in opts:
                raise s.error(f"{what} option '{word}' appears twice")
            opts[word] = words[i + 1]
            i += 2
        elif word in flags:
            seen_flags.add(word)
            i += 1
        else:
            positional.append(word)
            i += 1
    return opts, seen_flags, positional


def parse_route(s: Statement, virtual: bool) -> RouteSpec:
    flags = ROUTE_KINDS | {"onlink"} | ({"no_track"} if virtual else set())
    opts, present, positional = _words(s, ROUTE_VALUED | {"to"}, flags, "route")
    if "track_group" in positional:
        raise s.error("route option 'track_group' is not implemented by the agent")
    if "to" in opts:
        positional.insert(0, opts.pop("to"))
    if len(positional) != 1:
        extra = positional[1] if len(positional) > 1 else None
        if extra is None:
            raise s.error("route needs a destination")
        raise s.error(f"route option '{extra}' is not implemented by the agent "
                      "(supported: via/gw, dev, src, scope, table, metric, proto, onlink, "
                      "blackhole/unreachable/prohibit, no_track)")
    kinds = present & ROUTE_KINDS
    if len(kinds) > 1:
        raise s.error(f"route has two types: {' '.join(sorted(kinds))}")
    kind = kinds.pop() if kinds else "unicast"
    hint = None
    for key in ("via", "gw", "src"):
        if key in opts and ":" in opts[key]:
            hint = 6
        elif key in opts:
            hint = 4
    dst = _network(s, positional[0], hint)
    family = dst.version
    via = opts.get("via", opts.get("gw"))
    if "via" in opts and "gw" in opts:
        raise s.error("route has both via and gw")
    if kind != "unicast" and (via or "dev" in opts):
        raise s.error(f"a {kind} route takes no via/gw or dev")
    if kind == "unicast" and via is None and "dev" not in opts:
        raise s.error("route needs via/gw or dev (or blackhole/unreachable/prohibit)")
    if "onlink" in present and (via is None or "dev" not in opts):
        raise s.error("onlink needs a gateway (via/gw) and a dev")
    scope = opts.get("scope")
    if scope is not None and scope not in ROUTE_SCOPES:
        raise s.error(f"scope {scope!r} is not one of {', '.join(sorted(ROUTE_SCOPES))}")
    proto_text = opts.get("proto", opts.get("protocol"))
    proto = None
    if proto_text is not None:
        proto = PROTOS.get(proto_text)
        if proto is None:
            proto = _number(s, "proto", proto_text, 255)
    metric_text = opts.get("metric", opts.get("priority", opts.get("preference")))
    return RouteSpec(
        dst=str(dst), family=family, kind=kind,
        via=parse_address(s, via, family) if via else None, dev=opts.get("dev"),
        src=parse_address(s, opts["src"], family) if "src" in opts else None,
        scope="global" if scope == "universe" else scope,
        table=_table(s, opts["table"]) if "table" in opts else 254,
        metric=None if metric_text is None else _number(s, "metric", metric_text, 2**32 - 1),
        proto=proto, onlink="onlink" in present, file=s.file, line=s.line)


def parse_rule(s: Statement, virtual: bool) -> RuleSpec:
    flags = {"no_track"} if virtual else set()
    opts, _present, positional = _words(s, RULE_VALUED, flags, "rule")
    if positional:
        raise s.error(f"rule option '{positional[0]}' is not implemented by the agent "
                      "(supported: from, to, table/lookup, preference, fwmark, iif, oif, tos, no_track)")
    family: Optional[int] = None
    nets: Dict[str, Optional[str]] = {"from": None, "to": None}
    for key in ("from", "to"):
        text = opts.get(key)
        if text is not None and text != "all":
            net = _network(s, text, family)
            family = net.version
            nets[key] = str(net)
    table_text = opts.get("table", opts.get("lookup"))
    if table_text is None:
        raise s.error("rule needs a table (the agent applies lookup rules only)")
    prio_text = opts.get("preference", opts.get("priority", opts.get("pref")))
    mark: Any = opts.get("fwmark")
    fwmark = fwmask = None
    if mark is not None:
        value, _slash, mask = mark.partition("/")
        fwmark = _number(s, "fwmark", value, 2**32 - 1)
        fwmask = _number(s, "fwmark mask", mask, 2**32 - 1) if mask else None
    tos_text = opts.get("tos", opts.get("dsfield"))
    return RuleSpec(
        family=family or 4, table=_table(s, table_text), src=nets["from"], dst=nets["to"],
        priority=None if prio_text is None else _number(s, "preference", prio_text, 2**32 - 1),
        fwmark=fwmark, fwmask=fwmask, iif=opts.get("iif", opts.get("iifname")),
        oif=opts.get("oif", opts.get("oifname")),
        tos=None if tos_text is None else _number(s, "tos", tos_text, 255),
        file=s.file, line=s.line)


def parse_routes(s: Statement, virtual: bool = True) -> Tuple[RouteSpec, ...]:
    return tuple(parse_route(line, virtual) for line in need_block(s))


def parse_rules(s: Statement, virtual: bool = True) -> Tuple[RuleSpec, ...]:
    return tuple(parse_rule(line, virtual) for line in need_block(s))


def gateway_errors(config: Config, host_networks: Set[str]) -> List[ConfigError]:
    """Routes whose gateway no connected network reaches (before anything changes).

    Reachable = inside a network of the host's addresses, of static_ipaddress,
    or (virtual_routes) of the instance's own VIPs, which are there whenever
    the route is; `onlink` and link-local gateways with a `dev` are taken as
    given. An empty `host_networks` means "unknown" (offline): no check.
    """
    if not host_networks:
        return []
    base = _networks(host_networks) + _networks(
        f"{v.address}/{v.prefixlen}" for v in config.static_vips)
    errors = []
    checks = [(r, base) for r in config.static_routes]
    for inst in config.instances:
        own = base + _networks(f"{v.address}/{v.prefixlen}" for v in inst.vips + inst.excluded_vips)
        checks += [(r, own) for r in inst.routes]
    for route, nets in checks:
        if route.via is None or route.onlink:
            continue
        gw = ipaddress.ip_address(route.via)
        if gw.is_link_local and route.dev:
            continue
        if not any(gw.version == n.version and gw in n for n in nets):
            errors.append(ConfigError(
                f"route {route.dst}: gateway {route.via} is unreachable (no address of this host, "
                "static_ipaddress or VIP of the instance is on its network; add 'onlink' if "
                "that is intended)", route.file, route.line))
    return errors


def _networks(texts: Iterable[str]) -> List[Any]:
    return [ipaddress.ip_interface(t.split("%")[0]).network for t in texts]
