"""One validation pipeline for `check-config`, `run` and `reload`.

Rules:
- The stages run in one order, for every caller: syntax and model
  (config.load_config: the first error, FILE:LINE), then, unless offline,
  the checks against this host (config.host: interfaces, no host address as
  a VIP unless the agent holds it) and the script checks (users, script
  security). Host and script errors are all collected.
- The caller gathers the host facts (adapters.netlink.host_facts, on the
  netlink worker in the daemon): this module does no I/O beyond reading the
  config files.
- `check-config` requires every interface to exist; `run` and `reload` do not
  (an instance waits in FAULT for its interface to appear).
- Nothing is applied here: a Config is used only when the error list is empty.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Set, Tuple

from vrrp_agent.config import Config, check_against_host, load_config
from vrrp_agent.config.routes import gateway_errors
from vrrp_agent.errors import ConfigError


class HostFacts(NamedTuple):
    """What the host checks compare a config with."""

    interfaces: Set[str]
    """Names of the interfaces on this host."""
    addresses: Set[str]
    """Every address on this host (normalised text)."""
    held: Set[str]
    """VIPs the agent holds (recorded in the state dir): not the host's own."""
    networks: Set[str] = set()
    """"ADDRESS/PREFIX" of every address (routes' gateway check); empty = not known."""


def validate(path: str, facts: Optional[HostFacts], interfaces_required: bool,
             config_id: Optional[str] = None) -> Tuple[Config, List[ConfigError]]:
    """Load `path` (raises ConfigError on syntax/model errors) and list the host errors.

    `facts` None is offline: syntax and model only. `config_id`: keepalived's -i (`@ID` lines).
    """
    config = load_config(path, config_id)
    if facts is None:
        return config, []
    return config, host_errors(config, facts, interfaces_required)


def host_errors(config: Config, facts: HostFacts, interfaces_required: bool) -> List[ConfigError]:
    from vrrp_agent.adapters.scripts import host_script_errors
    from vrrp_agent.adapters.vmac import parent_errors

    errors = check_against_host(config, facts.interfaces, facts.addresses, facts.held)
    errors += host_script_errors(config)
    errors += parent_errors(config)
    errors += gateway_errors(config, facts.networks)
    errors += _filter_errors(config)
    if not interfaces_required:
        errors = [e for e in errors if "does not exist" not in e.message]
    return errors


def _filter_errors(config: Config) -> List[ConfigError]:
    """no_accept needs libnftables on this host: refused here, never an open door."""
    filtering = [inst for inst in config.instances if inst.filters]
    if not filtering:
        return []
    from vrrp_agent.adapters.nft import missing_reason

    reason = missing_reason()
    if reason is None:
        return []
    return [ConfigError(f"vrrp_instance {inst.name} filters its VIPs (no_accept, or strict "
                        f"mode without accept): {reason}", inst.file, inst.line)
            for inst in filtering]
