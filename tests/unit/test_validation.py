"""One validation pipeline (validation.py) for check-config, run and reload."""

from __future__ import annotations

import logging

import pytest
from vrrp_agent.config import load_config, parse_text
from vrrp_agent.errors import ConfigError
from vrrp_agent.instance import Instance
from vrrp_agent.validation import HostFacts, validate

CONF = """vrrp_instance VI_1 {
    interface eth9
    virtual_router_id 5
    virtual_ipaddress {
        198.51.100.10/24
    }
}
"""


def _write(tmp_path, text=CONF):
    path = tmp_path / "agent.conf"
    path.write_text(text)
    return str(path)


def test_offline_is_syntax_and_model_only(tmp_path):
    config, errors = validate(_write(tmp_path), None, interfaces_required=True)
    assert errors == [] and config.instances[0].name == "VI_1"


def test_a_syntax_error_raises_with_file_line(tmp_path):
    path = _write(tmp_path, CONF.replace("virtual_router_id 5", "virtual_router_id 500"))
    with pytest.raises(ConfigError) as err:
        validate(path, HostFacts(set(), set(), set()), interfaces_required=False)
    assert str(err.value).startswith(f"{path}:3:")


def test_a_host_address_as_vip_is_refused_with_file_line(tmp_path):
    path = _write(tmp_path)
    facts = HostFacts({"eth9"}, {"198.51.100.10"}, set())
    _config, errors = validate(path, facts, interfaces_required=False)
    assert [str(e) for e in errors] == [
        f"{path}:5: virtual IP 198.51.100.10 is an address of this host; a VIP must be an "
        "extra address that moves between nodes"]


def test_a_vip_the_agent_holds_is_not_a_host_address(tmp_path):
    facts = HostFacts({"eth9"}, {"198.51.100.10"}, {"198.51.100.10"})
    assert validate(_write(tmp_path), facts, interfaces_required=True)[1] == []


def test_a_missing_interface_is_an_error_for_check_config_only(tmp_path):
    facts = HostFacts({"lo"}, set(), set())
    path = _write(tmp_path)
    assert validate(path, facts, interfaces_required=False)[1] == []
    (err,) = validate(path, facts, interfaces_required=True)[1]
    assert str(err) == f"{path}:1: vrrp_instance VI_1: interface 'eth9' does not exist on this host"


@pytest.mark.parametrize("group,ok", [("224.0.0.18", True), ("239.255.0.1", True),
                                      ("23.1.2.3", False), ("230.0.0.1", True), ("240.0.0.1", False)])
def test_mcast_group4_must_be_multicast(group, ok):
    text = f"global_defs {{\n vrrp_mcast_group4 {group}\n}}\n"
    if ok:
        assert parse_text(text, "t.conf").globals.mcast_group4 == group
    else:
        with pytest.raises(ConfigError, match=r"^t.conf:2: .* is not a multicast address"):
            parse_text(text, "t.conf")


def test_debug_is_acted_on_per_instance(tmp_path):
    config = load_config(_write(tmp_path, CONF.replace("    interface", "    debug 2\n    interface")))
    cfg = config.instances[0]
    assert cfg.debug == 2
    log = logging.getLogger("vrrp_agent.test")
    inst = Instance(cfg, config.globals, log)
    assert inst.log.isEnabledFor(logging.DEBUG)
    plain = load_config(_write(tmp_path)).instances[0]
    assert plain.debug == 0
    inst.reconfigure(plain, config.globals, 0.0)  # reload without `debug`: back to the agent's level
    log.setLevel(logging.INFO)
    try:
        assert not inst.log.isEnabledFor(logging.DEBUG)
    finally:
        log.setLevel(logging.NOTSET)


def test_debug_without_level_is_level_1():
    text = CONF.replace("    interface", "    debug\n    interface")
    assert parse_text(text, "t.conf").instances[0].debug == 1
