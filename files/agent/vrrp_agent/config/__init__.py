"""keepalived.conf-syntax configuration: parse (parser.py) into frozen dataclasses (model.py)."""

from vrrp_agent.config.host import check_against_host
from vrrp_agent.config.model import Config, GarpSettings, GlobalDefs, InstanceConfig, VipSpec
from vrrp_agent.config.parser import load_config, parse_text

__all__ = [
    "Config", "GarpSettings", "GlobalDefs", "InstanceConfig", "VipSpec",
    "check_against_host", "load_config", "parse_text",
]
