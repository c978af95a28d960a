"""Kernel-side keywords of keepalived 2.2.7 (config side): use_vmac, vmac_xmit_base, ..."""

from __future__ import annotations

import pytest
from vrrp_agent.adapters.vmac import parent_errors
from vrrp_agent.config import parse_text
from vrrp_agent.errors import ConfigError

BASE = ("vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n"
        " virtual_ipaddress {{\n  198.51.100.100/24\n }}\n{body}}}\n")


def _one(body: str):
    return parse_text(BASE.format(body=body), "t.conf").instances[0]


def _error(body: str) -> str:
    with pytest.raises(ConfigError) as err:
        _one(body)
    return str(err.value)


def test_use_vmac_defaults_to_vrrp_vrid_and_the_rfc5798_7_3_mac():
    inst = _one(" use_vmac\n")
    assert inst.vmac is not None
    assert (inst.vmac.name, inst.vmac.mac, inst.vmac.xmit_base) == ("vrrp.51", "00:00:5e:00:01:33", False)
    assert (inst.vip_interface, inst.socket_interface) == ("vrrp.51", "vrrp.51")
    assert _one("").vmac is None and _one("").socket_interface == "eth0"


def test_use_vmac_name_mac_and_xmit_base():
    inst = _one(" use_vmac vmac51 02:00:00:00:00:07\n vmac_xmit_base\n")
    assert inst.vmac is not None
    assert (inst.vmac.name, inst.vmac.mac, inst.vmac.xmit_base) == ("vmac51", "02:00:00:00:00:07", True)
    assert (inst.vip_interface, inst.socket_interface) == ("vmac51", "eth0")
    # five octets: the VRID is the sixth, as in keepalived
    five = _one(" use_vmac 02:00:00:00:0\n").vmac
    assert five is not None and five.mac == "02:00:00:00:00:33"


@pytest.mark.parametrize("body, message", [
    (" vmac_xmit_base\n", "t.conf:7: vmac_xmit_base needs use_vmac"),
    (" use_vmac a-name-far-too-long\n", "t.conf:7: use_vmac interface name"),
    (" use_vmac eth0\n", "is the instance interface itself"),
    (" use_vmac v 01:00:5e:00:00:01\n", "is a multicast address"),
    (" use_vmac a b c\n", "use_vmac takes [NAME] [MAC]"),
    (" use_vmac\n unicast_peer {\n  198.51.100.12\n }\n",
     "t.conf:7: use_vmac with unicast peers needs vmac_xmit_base"),
    (" use_vmac\n use_vmac\n", "appears twice"),
])
def test_use_vmac_bad_input_names_file_and_line(body: str, message: str):
    assert message in _error(body)


def test_use_vmac_on_ipv6_is_refused_with_the_reason():
    text = ("vrrp_instance V6 {\n interface eth0\n virtual_router_id 51\n use_vmac\n"
            " virtual_ipaddress {\n  2001:db8::100/64\n }\n}\n")
    with pytest.raises(ConfigError, match="t.conf:4: use_vmac on an IPv6 instance"):
        parse_text(text, "t.conf")


def _sys_net(tmp_path, name: str, hw_type: int, *markers: str):
    d = tmp_path / name
    d.mkdir()
    (d / "type").write_text(f"{hw_type}\n")
    for m in markers:
        (d / m).mkdir()


@pytest.mark.parametrize("setup, message", [
    (("eth0", 1), None),
    (("eth0", 772), "eth0 is not an Ethernet interface (link type 772)"),
    (("eth0", 1, "brport"), "eth0 is a bridge port"),
    (("eth0", 1, "bonding_slave"), "eth0 is a bond slave"),
])
def test_vmac_parent_must_carry_a_macvlan(tmp_path, setup, message):
    _sys_net(tmp_path, *setup)
    config = parse_text(BASE.format(body=" use_vmac\n"), "t.conf")
    errors = [str(e) for e in parent_errors(config, str(tmp_path))]
    if message is None:
        assert errors == []
    else:
        assert len(errors) == 1 and errors[0].startswith(f"t.conf:7: use_vmac: {message}"), errors


def test_vmac_name_taken_by_another_interface_is_refused(tmp_path):
    _sys_net(tmp_path, "eth0", 1)
    _sys_net(tmp_path, "vrrp.51", 1)
    config = parse_text(BASE.format(body=" use_vmac\n"), "t.conf")
    (error,) = parent_errors(config, str(tmp_path))
    assert "interface vrrp.51 already exists and is not a macvlan on eth0" in str(error)
    (tmp_path / "vrrp.51" / "lower_eth0").mkdir()  # our own vMAC from a previous run
    assert parent_errors(config, str(tmp_path)) == []
