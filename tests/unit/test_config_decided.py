"""Every keyword of the VRRP half is decided: refused with its reason (config/decided.py), a
documented no-op with a warning, or parsed into the model with keepalived's ranges and warnings
(config/process_globals.py)."""

from __future__ import annotations

import os

import pytest
from vrrp_agent.config import decided, foreign, parse_text
from vrrp_agent.config.model import LinkDelay
from vrrp_agent.errors import ConfigError

INSTANCE = "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 5\n{body}}}\n"


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        parse_text(text, "k.conf")
    return err.value


def _globals(body: str):
    return parse_text(f"global_defs {{\n{body}}}\n" + INSTANCE.format(body=""), "k.conf")


# --------------------------------------------------------------- refused, with the reason
@pytest.mark.parametrize("keyword", sorted(decided.GLOBAL))
def test_refused_global_keyword_says_why_and_what_to_use(keyword):
    err = _error(f"global_defs {{\n router_id a\n {keyword} x\n}}\n" + INSTANCE.format(body=""))
    what, todo = decided.GLOBAL[keyword]
    assert (err.file, err.line, err.message) == ("k.conf", 3, f"'{keyword}' is {what}: {todo}")
    assert "remove the line" in todo or "instead of this line" in todo


@pytest.mark.parametrize("keyword", sorted(decided.INSTANCE))
def test_refused_instance_keyword_says_why_and_what_to_use(keyword):
    err = _error(INSTANCE.format(body=f" {keyword} blue\n"))
    what, todo = decided.INSTANCE[keyword]
    assert (err.file, err.line, err.message) == ("k.conf", 4, f"'{keyword}' is {what}: {todo}")


def test_iptables_refusal_names_nftables_and_json_version_names_the_status_command():
    assert "nftables" in _error("global_defs {\n vrrp_iptables\n}\n").message
    assert "nftables" in _error("global_defs {\n vrrp_ipsets keepalived\n}\n").message
    assert "SIGRTMIN+2 keepalived.json" in _error("global_defs {\n json_version 2\n}\n").message


def test_linkbeat_keywords_are_accepted_with_a_warning_that_netlink_follows_the_link():
    config = parse_text("linkbeat_interfaces {\n eth0\n}\n"
                        + INSTANCE.format(body=" linkbeat_use_polling\n"), "k.conf")
    top, inst = config.warnings
    assert top.startswith("k.conf:1: 'linkbeat_interfaces' has no effect in the agent:") and "netlink" in top
    assert inst.startswith("k.conf:7: 'linkbeat_use_polling' has no effect") and "deprecated" in inst
    assert set(foreign.NOOP_INSTANCE) >= {"linkbeat_use_polling"}


# --------------------------------------------------------------- process knobs
def test_process_knobs_reach_the_globals():
    top = os.sysconf("SC_NPROCESSORS_ONLN") - 1
    g = _globals(f" vrrp_no_swap\n vrrp_cpu_affinity {top} 0 {top}\n vrrp_rt_priority 10\n"
                 " vrrp_rlimit_rttime 1\n log_unknown_vrids\n default_interface bond0\n").globals
    assert (g.no_swap, g.cpu_affinity, g.rlimit_rttime_us) == (True, tuple(sorted({0, top})), 2)
    assert (g.log_unknown_vrids, g.default_interface) == (True, "bond0")
    plain = _globals(" router_id a\n").globals
    assert (plain.no_swap, plain.cpu_affinity, plain.rlimit_rttime_us, plain.log_unknown_vrids,
            plain.default_interface, plain.delay_after_boot_s) == (False, (), None, False, None, 0.0)


def test_rlimit_warnings_follow_keepalived():
    config = _globals(" vrrp_rlimit_rtime 20000\n")
    assert config.globals.rlimit_rttime_us == 20000
    assert config.warnings == (
        "k.conf:2: 'vrrp_rlimit_rtime' is deprecated - please use 'vrrp_rlimit_rttime' "
        "(keepalived says the same)",
        "k.conf:2: 'vrrp_rlimit_rtime' has no effect without vrrp_rt_priority (the limit is on real-time "
        "CPU time, as in keepalived)")
    assert _globals(" vrrp_rt_priority 5\n vrrp_rlimit_rttime 20000\n").warnings == ()


@pytest.mark.parametrize("body, says", [
    (" vrrp_cpu_affinity\n", "at least one CPU"),
    (f" vrrp_cpu_affinity 0 {os.sysconf('SC_NPROCESSORS_ONLN')}\n", "is not a CPU of this host"),
    (" vrrp_cpu_affinity -1\n", "is not a CPU of this host"),
    (" vrrp_rlimit_rttime 0\n", "microseconds 1..4294967295"),
    (" vrrp_rlimit_rttime 4294967296\n", "microseconds"),
    (" vrrp_rlimit_rttime 100\n vrrp_rlimit_rtime 100\n", "given twice"),
    (" vrrp_no_swap yes\n", "takes no argument"),
    (" log_unknown_vrids 1\n", "takes no argument"),
    (" default_interface\n", "takes one value"),
    (" default_interface a_very_long_ifname0\n", "is not an interface name"),
    (" vrrp_delay_after_boot 0\n", "out of range"),
    (" vrrp_delay_after_boot 5000\n", "out of range"),
])
def test_bad_process_knobs_are_refused_at_their_line(body, says):
    err = _error(f"global_defs {{\n{body}}}\n")
    assert err.line == body.count("\n") + 1 and says in err.message


# --------------------------------------------------------------- interface_up_down_delays
def test_interface_up_down_delays_parse_with_keepalived_defaults():
    config = parse_text("interface_up_down_delays {\n eth0 2 0.5\n eth1 3\n}\n"
                        "interface_up_down_delays {\n bond0 0 1\n}\n" + INSTANCE.format(body=""), "k.conf")
    assert config.link_delays == (LinkDelay("eth0", 2.0, 0.5, "k.conf", 2),
                                  LinkDelay("eth1", 3.0, 0.0, "k.conf", 3),
                                  LinkDelay("bond0", 0.0, 1.0, "k.conf", 6))


@pytest.mark.parametrize("body, line, says", [
    (" eth0\n", 2, "needs DOWN_DELAY [UP_DELAY]"),
    (" eth0 1 2 3\n", 2, "needs DOWN_DELAY [UP_DELAY]"),
    (" eth0 256\n", 2, "out of range 0..255"),
    (" eth0 1 soon\n", 2, "up delay 'soon' of eth0 is not a number"),
    (" eth0 1\n eth0 2\n", 3, "eth0 is listed twice (first at k.conf:2)"),
])
def test_bad_interface_up_down_delays_are_refused_at_their_line(body, line, says):
    err = _error(f"interface_up_down_delays {{\n{body}}}\n")
    assert err.line == line and says in err.message
    assert "needs a { block }" in _error("interface_up_down_delays\n").message


# --------------------------------------------------------------- umask
@pytest.mark.parametrize("words, mask", [("0077", 0o077), ("077", 0o077), ("18", 18), ("0x3f", 0o077),
                                         ("0", 0), ("IWGRP|IWOTH", 0o022), ("IWGRP | IWOTH", 0o022),
                                         ("IXUSR|IXGRP|IXOTH", 0o111)])
def test_umask_reads_keepalived_numbers_and_bits(words, mask):
    assert _globals(f" umask {words}\n").globals.umask == mask
    assert _globals(" router_id a\n").globals.umask is None


@pytest.mark.parametrize("words, says", [("", "needs a mask"), ("0778", "is not a number"),
                                         ("01000", "not within 0777"), ("0077 1", "takes one number"),
                                         ("IWGRP|", "unknown bit ''"), ("IWGRP IWOTH", "unknown bit"),
                                         ("IWGRP|IWXXX", "unknown bit 'IWXXX'")])
def test_bad_umask_is_refused_at_its_line(words, says):
    err = _error(f"global_defs {{\n umask {words}\n}}\n")
    assert err.line == 2 and says in err.message


# --------------------------------------------------------------- dynamic_interfaces
def test_dynamic_interfaces_is_what_the_agent_does_and_allow_if_changes_is_refused():
    assert _globals(" dynamic_interfaces\n").warnings == ()
    err = _error("global_defs {\n dynamic_interfaces allow_if_changes\n}\n")
    assert err.line == 2 and "new index" in err.message and "restart" in err.message
    unknown = _error("global_defs {\n dynamic_interfaces yes\n}\n")
    assert "unknown dynamic_interfaces option 'yes'" in unknown.message


# --------------------------------------------------------------- vrrp_sync_group global_tracking
def test_sync_group_global_tracking_is_the_deprecated_tracking_weight():
    two = (INSTANCE.format(body=" track_interface {\n  eth1 weight 10\n }\n")
           + INSTANCE.replace("VI_1", "VI_2").replace("5", "6").format(body=""))
    group = "vrrp_sync_group G {{\n group {{\n VI_1\n VI_2\n }}\n{body}}}\n"
    config = parse_text(two + group.format(body=" global_tracking\n"), "k.conf")
    assert config.sync_groups[0].tracking_weight
    (warning,) = config.warnings
    assert warning.startswith("k.conf:17: (G) global_tracking is deprecated")
    weight = {r.name: r.weight for r in config.instances[0].tracks}
    assert weight == {"eth1": 10}, "the weight is kept (without it the group would FAULT instead)"
    plain = parse_text(two + group.format(body=""), "k.conf")
    assert not plain.sync_groups[0].tracking_weight
    assert "eth1" in plain.warnings[0] and "ignored" in plain.warnings[0]
