"""metrics.render: tracker and resource families from the status document."""

from __future__ import annotations

from vrrp_agent.metrics import render


def test_tracker_and_resource_metrics():
    inst = {"name": "VI_1", "interface": "eth0", "vrid": 51, "family": "ipv4", "state": "BACKUP",
            "base_priority": 150, "effective_priority": 90, "counters": {"discards": {}},
            "tracking": {"fault": False, "priority": 90, "faults": {}, "trackers": [
                {"kind": "script", "name": "chk", "state": "failed", "weight": -60, "reverse": False,
                 "effect": -60, "fault": False, "runs": 9, "failures": 4},
                {"kind": "interface", "name": "eth1", "state": "down", "weight": 0, "reverse": False,
                 "effect": 0, "fault": True}]},
            "resources": [{"name": "httpd.service", "kind": "service", "state": "started",
                           "last_error": None}]}
    text = render({"agent": {"discards": {}}, "instances": [inst]})
    base = 'instance="VI_1",interface="eth0",vrid="51",family="ipv4"'
    assert f'vrrp_tracker_effect{{{base},kind="script",tracker="chk"}} -60' in text
    assert f'vrrp_tracker_fault{{{base},kind="interface",tracker="eth1"}} 1' in text
    assert f'vrrp_script_failures_total{{{base},script="chk"}} 4' in text
    assert f'vrrp_resource_started{{{base},resource="httpd.service",kind="service"}} 1' in text
