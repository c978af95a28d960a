"""Checks of a Config against this host. Pure: the caller gathers the facts.

- Every instance interface and VIP `dev` must exist ("does not exist").
- No VIP may be one of the host's own addresses, unless it is one the agent
  itself holds (recorded in the state dir): a VIP is an extra address, and
  the agent removes VIPs at startup and on release.
"""

from __future__ import annotations

from typing import List, Set

from vrrp_agent.config.model import Config
from vrrp_agent.errors import ConfigError


def check_against_host(config: Config, interfaces: Set[str], host_addresses: Set[str],
                       held_vips: Set[str]) -> List[ConfigError]:
    errors: List[ConfigError] = []
    for inst in config.instances:
        if inst.interface not in interfaces:
            errors.append(ConfigError(
                f"vrrp_instance {inst.name}: interface '{inst.interface}' does not exist on this host",
                inst.file, inst.line))
        for vip in inst.vips + inst.excluded_vips:
            if vip.dev is not None and vip.dev not in interfaces:
                errors.append(ConfigError(
                    f"virtual IP {vip.address}: interface '{vip.dev}' does not exist on this host",
                    vip.file, vip.line))
            if vip.address in host_addresses and vip.address not in held_vips:
                errors.append(ConfigError(
                    f"virtual IP {vip.address} is an address of this host; a VIP must be an "
                    "extra address that moves between nodes", vip.file, vip.line))
    return errors
