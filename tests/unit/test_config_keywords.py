"""Handled keywords without a behaviour test of their own: each lands in the model with keepalived's value.

Wire and kernel behaviour of these values is tested where it acts (router, daemon,
lab); this file proves the keyword is read, not ignored (tests/unit/keyword_registry.py).
"""

from __future__ import annotations

import pytest
from vrrp_agent.config import parse_text
from vrrp_agent.errors import ConfigError

INST = ("vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 5\n{body}"
        " virtual_ipaddress {{\n{vips} }}\n}}\n")


def _inst(globals_: str = "", body: str = "", vips: str = "  198.51.100.100/24\n"):
    text = (f"global_defs {{\n{globals_}}}\n" if globals_ else "") + INST.format(body=body, vips=vips)
    return parse_text(text, "k.conf").instances[0]


@pytest.mark.parametrize("line, read, value", [
    ("v3_checksum_as_v2", lambda i: i.v3_checksum_as_v2, True),
    ("vrrp_down_timer_adverts 3", lambda i: i.advert_int_cs, 100),
    ("vrrp_garp_lower_prio_delay 2", lambda i: i.garp.lower_prio_delay_s, 2.0),
    ("vrrp_garp_lower_prio_repeat 4", lambda i: i.garp.lower_prio_repeat, 4),
    ("vrrp_garp_master_refresh_repeat 3", lambda i: i.garp.master_refresh_repeat, 3),
    ("vrrp_min_garp", lambda i: (i.garp.master_repeat, i.garp.master_delay_s), (1, 0.0)),
    ("vrrp_skip_check_adv_addr", lambda i: i.name, "VI_1"),
    ("vrrp_version 3", lambda i: i.version, 3),
])
def test_global_keyword_reaches_the_instance(line, read, value):
    assert read(_inst(f" {line}\n")) == value


def test_vrrp_mcast_group6_and_down_timer_guard():
    text = "global_defs {\n vrrp_mcast_group6 ff02::19\n}\n" + INST.format(body="", vips="  2001:db8::1\n")
    assert parse_text(text, "k.conf").globals.mcast_group6 == "ff02::19"
    with pytest.raises(ConfigError, match="vrrp_down_timer_adverts other than 3"):
        _inst(" vrrp_down_timer_adverts 4\n")


@pytest.mark.parametrize("line, read, value", [
    ("dont_track_primary", lambda i: i.dont_track_primary, True),
    ("garp_lower_prio_delay 3", lambda i: i.garp.lower_prio_delay_s, 3.0),
    ("garp_lower_prio_repeat 2", lambda i: i.garp.lower_prio_repeat, 2),
    ("garp_master_delay 7", lambda i: i.garp.master_delay_s, 7.0),
    ("garp_master_refresh 60", lambda i: i.garp.master_refresh_s, 60.0),
    ("mcast_src_ip 198.51.100.5", lambda i: i.mcast_src_ip, "198.51.100.5"),
    ('notify_stop "/usr/local/bin/down now"', lambda i: i.notify.stop.argv, ("/usr/local/bin/down", "now")),
    ("preempt_delay 5", lambda i: i.preempt_delay_s, 5.0),
    ("v3_checksum_as_v2", lambda i: i.v3_checksum_as_v2, True),
])
def test_instance_keyword_reaches_the_model(line, read, value):
    assert read(_inst(body=f" {line}\n")) == value


def test_vip_broadcast_is_brd():
    vip = _inst(vips="  198.51.100.100/24 broadcast 198.51.100.255\n").vips[0]
    assert vip.brd == "198.51.100.255"
