"""`announce bgp [dev NAME] [lease SECONDS]` in a vrrp_instance (agent extension).

keepalived has no such keyword (it would refuse the file); the agent reads it
so that one instance can be announced over a routed network (docs/bgp.md).
Rules, checked here with FILE:LINE before anything runs:
- the mode is `bgp` (`garp`, VRRP's own way, is the default and needs no line);
- `dev` (default `lo`) is a Linux interface name (1..15 characters, no '/')
  the agent creates as a dummy interface if it is missing (a kernel without
  the dummy driver: use `lo`); `lease` is 2..3600 s;
- every VIP of the instance is a host route (IPv4 /32, IPv6 /128) and has no
  `dev` of its own: it goes on the announce device, and only host routes are
  what FRR's prefix-list lets out.
"""

from __future__ import annotations

from typing import Dict, Iterable, Optional

from vrrp_agent.config.model import AnnounceConfig, VipSpec
from vrrp_agent.config.syntax import Statement, no_block
from vrrp_agent.errors import ConfigError

MODES = ("garp", "bgp")
LEASE_RANGE_S = (2, 3600)


def parse_announce(s: Statement) -> AnnounceConfig:
    """The statement -> AnnounceConfig (mode "garp" is returned too: the caller drops it)."""
    no_block(s)
    if not s.args or s.args[0] not in MODES:
        raise s.error(f"announce needs a mode, one of {', '.join(MODES)} "
                      "(usage: announce bgp [dev NAME] [lease SECONDS])")
    mode, words = s.args[0], s.args[1:]
    if mode == "garp" and words:
        raise s.error("announce garp takes no options")
    opts: Dict[str, str] = {}
    for i in range(0, len(words), 2):
        opt = words[i]
        if opt not in ("dev", "lease"):
            raise s.error(f"unknown announce option '{opt}' (dev NAME, lease SECONDS)")
        if opt in opts:
            raise s.error(f"announce option '{opt}' appears twice")
        if i + 1 >= len(words):
            raise s.error(f"announce option '{opt}' needs a value")
        opts[opt] = words[i + 1]
    dev = opts.get("dev", AnnounceConfig.dev)
    if not 0 < len(dev) <= 15 or "/" in dev or dev in (".", ".."):
        raise s.error(f"announce dev {dev!r} is not a valid interface name (1..15 characters, no '/')")
    return AnnounceConfig(mode=mode, dev=dev, lease_s=_lease(s, opts.get("lease")),
                          file=s.file, line=s.line)


def _lease(s: Statement, text: Optional[str]) -> int:
    if text is None:
        return AnnounceConfig.lease_s
    try:
        value = int(text)
    except ValueError:
        raise s.error(f"announce lease {text!r} is not a whole number of seconds") from None
    lo, hi = LEASE_RANGE_S
    if not lo <= value <= hi:
        raise s.error(f"announce lease {value} is out of range {lo}..{hi} (seconds)")
    return value


def check_vips(announce: AnnounceConfig, vips: Iterable[VipSpec]) -> None:
    """Every VIP of a routed instance is a host route without a `dev` of its own."""
    for vip in vips:
        host = 32 if vip.family == 4 else 128
        if vip.prefixlen != host:
            raise ConfigError(f"virtual IP {vip.address}/{vip.prefixlen}: with 'announce bgp' "
                              f"(line {announce.line}) a VIP is a host route: write "
                              f"{vip.address} or {vip.address}/{host}", vip.file, vip.line)
        if vip.dev is not None:
            raise ConfigError(f"virtual IP {vip.address}: with 'announce bgp' (line {announce.line}) "
                              f"every VIP goes on the announce device {announce.dev}; "
                              f"drop 'dev {vip.dev}'", vip.file, vip.line)
