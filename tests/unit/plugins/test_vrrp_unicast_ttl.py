"""The role's unicast TTL options (unicast_ttl, unicast_peer_ttl) from group vars to the
rendered keepalived.conf: validated by the cluster plan, read back by the agent's parser
and, where installed, by keepalived --config-test."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from ansible_collections.linuxha.vrrp.plugins.filter.vrrp import vrrp_cluster_plan
from test_vrrp_filter import VI_1, cluster, errors_of, render

TTL = dict(VI_1, unicast=True, unicast_ttl=64, unicast_peer_ttl={"min": 60, "max": 64})


def test_unicast_ttl_and_peer_range_render_for_both_engines_and_the_agent_reads_them(tmp_path):
    from vrrp_agent.config import parse_text

    hostvars, members = cluster(3, [TTL])
    plan = vrrp_cluster_plan(hostvars, members)
    assert plan["errors"] == []
    text = render(hostvars, members, "s2")
    assert "        198.51.100.11 min_ttl 60 max_ttl 64\n" in text and "    unicast_ttl 64\n" in text
    inst = parse_text(text).instances[0]
    assert inst.unicast_ttl == 64 and inst.check_unicast_src
    assert inst.unicast_peers == ("198.51.100.11", "198.51.100.13")
    assert inst.unicast_peer_ttl == ((60, 64), (60, 64))
    if shutil.which("keepalived") and os.geteuid() == 0:
        conf = tmp_path / "keepalived.conf"
        conf.write_text(text)
        cp = subprocess.run(["keepalived", "--config-test", "-f", str(conf)], capture_output=True,
                            text=True, check=False)
        assert cp.returncode == 0, cp.stderr


def test_without_the_options_nothing_changes():
    hostvars, members = cluster(2, [dict(VI_1, unicast=True)])
    text = render(hostvars, members, "s1")
    assert "unicast_ttl" not in text and "min_ttl" not in text and "        198.51.100.12\n" in text


@pytest.mark.parametrize("inst, message", [
    (dict(TTL, unicast_ttl=0), "s1: vrrp_instances[VI_1].unicast_ttl must be an integer 1..255, got 0"),
    (dict(TTL, unicast_peer_ttl={"min": 70, "max": 64}), "unicast_peer_ttl: min 70 > max 64"),
    (dict(TTL, unicast_peer_ttl={"low": 1}), "unicast_peer_ttl must be a dict with min and/or max"),
    (dict(TTL, unicast_peer_ttl={"max": 256}), "unicast_peer_ttl.max must be an integer 0..255"),
    (dict(TTL, unicast_peer_ttl={"min": 65}), "unicast_peer_ttl.min 65 is above unicast_ttl 64"),
    (dict(TTL, unicast=False), "s2: vrrp_instances[VI_1].unicast_ttl needs unicast"),
])
def test_bad_unicast_ttl_settings_are_named(inst, message):
    assert message in errors_of(*cluster(2, [inst]))
