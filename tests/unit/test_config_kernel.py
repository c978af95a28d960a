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


def test_use_vmac_on_ipv6_uses_the_ipv6_virtual_mac():
    text = ("vrrp_instance V6 {\n interface eth0\n virtual_router_id 51\n use_vmac\n"
            " virtual_ipaddress {\n  2001:db8::100/64\n }\n}\n")
    vmac = parse_text(text, "t.conf").instances[0].vmac
    assert vmac is not None and (vmac.name, vmac.mac) == ("vrrp.51", "00:00:5e:00:02:33")


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


# ---------------------------------------------------------------- routes and rules
def _routes(lines: str, block: str = "virtual_routes"):
    return _one(f" {block} {{\n{lines} }}\n")


def test_virtual_routes_and_rules_parse_keepalived_words():
    inst = _one(" virtual_routes {\n"
                "  src 198.51.100.100 to 203.0.113.0/24 via 198.51.100.1 dev eth0 metric 5\n"
                "  blackhole 203.0.113.64/26 table 100\n"
                "  default gw 198.51.100.1 table main proto static no_track\n"
                " }\n virtual_rules {\n  from 198.51.100.100 table 100 priority 100\n"
                "  to 203.0.113.0/24 lookup 7 fwmark 0x7/0xff iif eth0 no_track\n }\n")
    r1, r2, r3 = inst.routes
    assert (r1.dst, r1.src, r1.via, r1.dev, r1.metric, r1.line) == (
        "203.0.113.0/24", "198.51.100.100", "198.51.100.1", "eth0", 5, 8)
    assert (r2.kind, r2.table, r2.via) == ("blackhole", 100, None)
    assert (r3.dst, r3.table, r3.proto) == ("0.0.0.0/0", 254, 4)
    rule1, rule2 = inst.rules
    assert (rule1.src, rule1.table, rule1.priority, rule1.family) == ("198.51.100.100/32", 100, 100, 4)
    assert (rule2.dst, rule2.fwmark, rule2.fwmask, rule2.iif) == ("203.0.113.0/24", 7, 255, "eth0")


@pytest.mark.parametrize("line, message", [
    ("203.0.113.0/24 via 198.51.100.1 mtu 1400", "t.conf:8: route option 'mtu' is not implemented"),
    ("203.0.113.0/24 via 198.51.100.1 or 198.51.100.2", "route option 'or' is not implemented"),
    ("203.0.113.0/24", "route needs via/gw or dev"),
    ("203.0.113.1/24 dev eth0", "has host bits set"),
    ("203.0.113.0/24 via 2001:db8::1", "is not an IPv6 address"),
    ("blackhole 203.0.113.0/24 dev eth0", "a blackhole route takes no via/gw or dev"),
    ("203.0.113.0/24 via 198.51.100.1 table private", "table 'private': use a number"),
    ("203.0.113.0/24 via 198.51.100.1 onlink", "onlink needs a gateway (via/gw) and a dev"),
    ("203.0.113.0/24 via 198.51.100.1 scope moon", "scope 'moon' is not one of"),
    ("203.0.113.0/24 dev eth0 dev eth1", "route option 'dev' appears twice"),
])
def test_bad_routes_name_file_and_line(line: str, message: str):
    with pytest.raises(ConfigError) as err:
        _routes(f"  {line}\n")
    assert message in str(err.value) and "t.conf:8:" in str(err.value)


@pytest.mark.parametrize("line, message", [
    ("from 198.51.100.0/24", "rule needs a table"),
    ("from 198.51.100.0/24 table 5 goto 7", "rule option 'goto' is not implemented"),
    ("from 198.51.100.0/24 to 2001:db8::/64 table 5", "is not an IPv4 address"),
])
def test_bad_rules_name_file_and_line(line: str, message: str):
    with pytest.raises(ConfigError) as err:
        _routes(f"  {line}\n", "virtual_rules")
    assert message in str(err.value) and "t.conf:8:" in str(err.value)


def test_static_blocks_are_top_level_and_refuse_no_track():
    config = parse_text("static_ipaddress {\n 203.0.113.5/24 dev eth0\n}\n"
                        "static_routes {\n 203.0.113.128/25 via 203.0.113.1\n}\n"
                        "static_rules {\n from 203.0.113.0/24 table 9\n}\n", "t.conf")
    assert [v.address for v in config.static_vips] == ["203.0.113.5"]
    assert config.static_routes[0].via == "203.0.113.1" and config.static_rules[0].table == 9
    with pytest.raises(ConfigError, match="t.conf:2: static_ipaddress entries need 'dev"):
        parse_text("static_ipaddress {\n 203.0.113.5/24\n}\n", "t.conf")
    with pytest.raises(ConfigError, match="t.conf:2: route option 'no_track'"):
        parse_text("static_routes {\n 203.0.113.0/24 dev eth0 no_track\n}\n", "t.conf")


def test_gateway_must_be_on_a_connected_network():
    from vrrp_agent.config.routes import gateway_errors

    config = parse_text(
        "static_ipaddress {\n 203.0.113.5/25 dev eth0\n}\n"
        "static_routes {\n 0.0.0.0/0 via 203.0.113.1 table 9\n"
        " 203.0.113.128/28 via 203.0.113.200\n}\n"
        + BASE.format(body=" virtual_routes {\n  0.0.0.0/0 via 198.51.100.1 table 7\n"
                           "  0.0.0.0/0 via 203.0.113.250 dev eth0 table 8 onlink\n }\n"), "t.conf")
    errors = [str(e) for e in gateway_errors(config, {"2001:db8::10/64"})]
    assert errors == ["t.conf:6: route 203.0.113.128/28: gateway 203.0.113.200 is unreachable (no address "
                      "of this host, static_ipaddress or VIP of the instance is on its network; "
                      "add 'onlink' if that is intended)"]
    assert gateway_errors(config, set()) == []  # offline: unknown, not checked


# ---------------------------------------------------------------- VIP options
def test_vip_options_nodad_noprefixroute_preferred_lft_no_track():
    inst = _one(" virtual_ipaddress_excluded {\n"
                "  2001:db8::1/64 -nodad preferred_lft 30 noprefixroute\n"
                "  2001:db8::2 nodad no_track preferred_lft forever\n }\n promote_secondaries\n")
    a, b = inst.excluded_vips
    assert (a.nodad, a.preferred_lft, a.noprefixroute) == (False, 30, True)
    assert (b.nodad, b.preferred_lft, b.noprefixroute, b.prefixlen) == (None, 0xFFFFFFFF, False, 128)
    assert inst.promote_secondaries


@pytest.mark.parametrize("option, message", [
    ("nodad -nodad", "nodad and -nodad contradict each other"),
    ("preferred_lft soon", "preferred_lft 'soon' must be a number of seconds or 'forever'"),
    ("preferred_lft", "virtual_ipaddress option 'preferred_lft' needs a value"),
    ("track_group G", "virtual_ipaddress option 'track_group' is refused"),
])
def test_bad_vip_options_name_file_and_line(option: str, message: str):
    with pytest.raises(ConfigError) as err:
        _one(f" virtual_ipaddress_excluded {{\n  2001:db8::1 {option}\n }}\n")
    assert "t.conf:8:" in str(err.value) and message in str(err.value)


# ---------------------------------------------------------------- strict and accept mode
STRICT = "global_defs {\n vrrp_strict\n}\n"


def _strict(body: str, head: str = STRICT):
    config = parse_text(head + BASE.format(body=body), "t.conf")
    return config.instances[0], list(config.warnings)


def test_accept_mode_defaults_and_no_accept():
    assert _one("").accept and not _one("").filters
    assert not _one(" no_accept\n").accept and _one(" no_accept\n").filters
    owner = _one(" no_accept\n priority 255\n")
    assert not owner.accept and not owner.filters  # the owner is never filtered
    assert "accept and no_accept contradict" in _error(" accept\n no_accept\n")


def test_vrrp_strict_resets_like_keepalived_and_warns_with_file_line():
    inst, warnings = _strict(" state MASTER\n priority 100\n preempt_delay 5\n"
                             " authentication {\n  auth_type PASS\n  auth_pass secret\n }\n"
                             " accept\n use_vmac\n vmac_xmit_base\n")
    assert inst.strict and inst.initial_state == "BACKUP" and inst.priority == 100
    assert inst.auth_type is None and inst.preempt_delay_s == 0
    assert inst.vmac is not None and not inst.vmac.xmit_base
    assert not inst.accept  # v2: accept reset
    text = "\n".join(warnings)
    for line, what in ((10, "state MASTER must match"), (12, "preempt_delay is incompatible"),
                       (13, "authentication is not supported"), (17, "accept mode for VRRP version 2"),
                       (19, "vmac_xmit_base is incompatible")):
        assert f"t.conf:{line}: {what}" in text, text


def test_strict_defaults_accept_to_the_owner_and_needs_a_vip():
    owner, _ = _strict(" priority 255\n version 3\n")
    assert owner.initial_state == "MASTER" and owner.accept
    backup, _ = _strict(" version 3\n")
    assert not backup.accept and backup.filters
    v3_accept, _ = _strict(" version 3\n accept\n")
    assert v3_accept.accept
    off, _ = _strict(" strict_mode off\n")
    assert not off.strict and off.accept
    on, _ = _strict(" strict_mode\n", head="")
    assert on.strict and not on.accept
    with pytest.raises(ConfigError, match="t.conf:4: vrrp_instance V: strict mode needs at least"):
        parse_text(STRICT + "vrrp_instance V {\n interface eth0\n virtual_router_id 5\n}\n", "t.conf")
    with pytest.raises(ConfigError, match="t.conf:7: strict_mode 'maybe' must be"):
        _strict(" strict_mode maybe\n", head="")


def test_nftables_globals():
    config = parse_text("global_defs {\n nftables vrrp_tab\n nftables_priority -5\n"
                        " nftables_counters\n nftables_ifindex\n}\n", "t.conf")
    g = config.globals
    assert (g.nft_table, g.nft_priority, g.nft_counters) == ("vrrp_tab", -5, True)
    with pytest.raises(ConfigError, match="t.conf:2: nftables table name"):
        parse_text("global_defs {\n nftables bad-name!\n}\n", "t.conf")


def test_no_accept_with_a_link_local_vip_is_refused():
    with pytest.raises(ConfigError, match="no_accept cannot filter the link-local VIP fe80::1"):
        parse_text("vrrp_instance V {\n interface eth0\n virtual_router_id 5\n no_accept\n"
                   " virtual_ipaddress {\n  fe80::1\n }\n}\n", "t.conf")


def test_a_host_without_nftables_is_refused_before_anything_changes(monkeypatch, tmp_path):
    import sys

    from vrrp_agent.adapters import nft
    from vrrp_agent.validation import HostFacts, host_errors

    monkeypatch.delitem(sys.modules, "nftables", raising=False)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "dist-packages" not in p])
    monkeypatch.setattr(nft, "DEBIAN_MODULE", str(tmp_path / "nftables" / "__init__.py"))
    config = parse_text(BASE.format(body=" no_accept\n"), "t.conf")
    (error,) = host_errors(config, HostFacts({"eth0"}, set(), set()), False)
    assert str(error).startswith("t.conf:1: vrrp_instance VI_1 filters its VIPs (no_accept")
    assert "install Debian's python3-nftables" in str(error)
    assert host_errors(parse_text(BASE.format(body=""), "t.conf"),
                       HostFacts({"eth0"}, set(), set()), False) == []


def test_a_reload_adding_a_filtered_vip_of_a_new_family_takes_a_restart():
    # The nftables tables are set up at start for the families of the filtered VIPs;
    # a reload bringing an IPv6 VIP to a no_accept instance would add it unfiltered.
    from types import SimpleNamespace

    from vrrp_agent.operations import Operations

    v4_only = parse_text(BASE.format(body=" no_accept\n"), "t.conf")
    with_v6 = parse_text(BASE.format(body=" no_accept\n virtual_ipaddress_excluded {\n"
                                          "  2001:db8::7\n }\n"), "t.conf")
    ops = SimpleNamespace(rt=SimpleNamespace(config=v4_only))
    with pytest.raises(ConfigError, match="takes a restart"):
        Operations._refuse_restart_only(ops, with_v6)  # type: ignore[arg-type]
    ops.rt.config = with_v6
    Operations._refuse_restart_only(ops, v4_only)  # fewer families: the table stays, fine


def test_a_reload_under_vrrp_strict_may_add_and_remove_instances():
    # The nftables tables exist while some instance filters: an instance that comes or
    # goes only adds or takes out its own VIPs. A kept instance that starts or stops
    # filtering would leave its VIPs on the wrong side of the set: a restart.
    from types import SimpleNamespace

    from vrrp_agent.operations import Operations

    second = BASE.format(body="").replace("VI_1", "VI_2").replace("51", "52").replace(".100/", ".102/")
    one = parse_text(STRICT + BASE.format(body=""), "t.conf")
    two = parse_text(STRICT + BASE.format(body="") + second, "t.conf")
    ops = SimpleNamespace(rt=SimpleNamespace(config=one))
    Operations._refuse_restart_only(ops, two)  # type: ignore[arg-type]
    ops.rt.config = two
    Operations._refuse_restart_only(ops, one)  # type: ignore[arg-type]
    accepting = parse_text(BASE.format(body="") + second.replace(" interface", " no_accept\n interface"),
                           "t.conf")  # VI_2 still filters, VI_1 (kept) no longer does
    assert [c.filters for c in accepting.instances] == [False, True]
    with pytest.raises(ConfigError, match="takes a restart"):
        Operations._refuse_restart_only(ops, accepting)  # type: ignore[arg-type]


def test_garp_extra_if_instance_and_global():
    inst = parse_text("global_defs {\n vrrp_garp_extra_if all 100\n}\n" + BASE.format(body=""),
                      "t.conf").instances[0]
    assert (inst.garp.extra_if_s, inst.garp.extra_if_all) == (100, True)
    own = _one(" garp_extra_if 30\n")
    assert (own.garp.extra_if_s, own.garp.extra_if_all) == (30, False)
    for bad in ("all", "all x", "86401", "all 1 2"):
        assert "t.conf:7: garp_extra_if takes [all] SECONDS" in _error(f" garp_extra_if {bad}\n")


def test_vmac_names_follow_keepalived_when_two_instances_share_a_vrid():
    v4 = ("vrrp_instance A {{\n interface eth0\n virtual_router_id 51\n use_vmac{name}\n"
          " virtual_ipaddress {{\n  198.51.100.100/24\n }}\n}}\n")
    v6 = ("vrrp_instance B {\n interface eth0\n virtual_router_id 51\n use_vmac\n"
          " virtual_ipaddress {\n  2001:db8::100/64\n }\n}\n")
    v4b = v4.replace("A {", "C {").replace("eth0", "eth1")
    config = parse_text(v4.format(name="") + v6 + v4b.format(name=""), "t.conf")
    assert [i.vmac.name for i in config.instances if i.vmac] == ["vrrp.51", "vrrp6.51", "vrrp1.51"]
    # a configured name is kept and skipped by the automatic ones
    config = parse_text(v4.format(name=" vrrp.51") + v4b.format(name=""), "t.conf")
    assert [i.vmac.name for i in config.instances if i.vmac] == ["vrrp.51", "vrrp1.51"]
    with pytest.raises(ConfigError, match="t.conf:12: use_vmac v51 is also the vMAC of vrrp_instance A"):
        parse_text(v4.format(name=" v51") + v4b.format(name=" v51"), "t.conf")


def test_promote_secondaries_with_use_vmac_is_ignored_with_a_warning():
    config = parse_text(BASE.format(body=" use_vmac\n promote_secondaries\n"), "t.conf")
    assert not config.instances[0].promote_secondaries
    assert any(w.startswith("t.conf:8: promote_secondaries is set on every vMAC") for w in config.warnings)


def test_per_vip_vmacs_one_per_interface_and_family():
    inst = _one(" use_vmac\n use_vmac_addr\n virtual_ipaddress_excluded {\n"
                "  203.0.113.100/24 dev eth1\n  203.0.113.101/24 dev eth1\n  2001:db8::1/64\n"
                "  198.51.100.101/24\n }\n")
    got = [(v.name, v.mac, v.parent, v.family) for v in inst.vip_vmacs]
    assert got == [("vrrp1.51", "00:00:5e:00:01:33", "eth1", 4),
                   ("vrrp6.51", "00:00:5e:00:02:33", "eth0", 6)]
    by_address = {v.address: inst.vip_dev(v) for v in inst.excluded_vips}
    assert by_address == {"203.0.113.100": "vrrp1.51", "203.0.113.101": "vrrp1.51",
                          "2001:db8::1": "vrrp6.51", "198.51.100.101": "vrrp.51"}
    only = _one(" use_vmac\n virtual_ipaddress_excluded {\n  203.0.113.100/24 dev eth1 use_vmac\n"
                "  2001:db8::1/64\n }\n")
    assert [v.name for v in only.vip_vmacs] == ["vrrp1.51"]
    assert only.vip_dev(only.excluded_vips[1]) == "eth0"
    assert "t.conf:7: use_vmac_addr and the VIP option use_vmac need the instance's use_vmac" in \
        _error(" use_vmac_addr\n")
