"""vrrp_info and vrrp_switchover run for real (AnsibleModule, exit/fail) against a
unix socket serving status documents of the agent's schema."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.linuxha.vrrp.plugins.modules import vrrp_info, vrrp_switchover


def status_doc(state="BACKUP", override=None, priority=10):
    return {"schema": 1, "agent": {"version": "0.1.0"},
            "instances": [{"name": "VI_1", "interface": "eth0", "vrid": 1, "family": "ipv4", "version": 2,
                           "state": state, "base_priority": 10, "effective_priority": priority,
                           "master_ip": "198.51.100.11", "master_priority": 100,
                           "vips": ["198.51.100.100/24"],
                           "advert_int_s": 1.0, "unicast_peers": [], "override": override}]}


def run_module(module, args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def test_info_returns_the_status_and_the_role_shape(agent_socket, capsys):
    server = agent_socket(lambda req: {"ok": True, "result": status_doc()})
    result = run_module(vrrp_info, {"control_socket": server.path}, capsys)
    assert result["running"] is True and result["changed"] is False
    assert result["status"]["instances"][0]["name"] == "VI_1"
    assert result["vrrp_instances"][0]["priority"] == 10 and result["vrrp_instances"][0]["state"] == "BACKUP"


def test_info_on_a_stopped_agent_is_not_a_failure(tmp_path, capsys):
    result = run_module(vrrp_info, {"control_socket": str(tmp_path / "none.sock")}, capsys)
    assert result["running"] is False and "not running" in result["msg"] and not result.get("failed")


def test_info_unknown_instance_fails_listing_the_known(agent_socket, capsys):
    server = agent_socket(lambda req: {"ok": True, "result": status_doc()})
    result = run_module(vrrp_info, {"control_socket": server.path, "instances": ["VI_9"]}, capsys)
    assert result["failed"] and result["msg"] == "no such instance: VI_9 (known: VI_1)"


def test_switchover_check_mode_predicts_without_asking(agent_socket, capsys):
    server = agent_socket(lambda req: {"ok": True, "result": status_doc()})
    result = run_module(vrrp_switchover, {"control_socket": server.path, "state": "master",
                                          "_ansible_check_mode": True}, capsys)
    assert result["changed"] is True
    assert result["before"][0]["override"] is None
    assert result["after"][0] == dict(result["before"][0], override="takeover", state="MASTER")
    assert [r["command"] for r in server.requests] == ["status"]


def test_switchover_sends_takeover_and_waits_for_master(agent_socket, capsys):
    state = {"taken": False}

    def handler(req):
        if req["command"] == "takeover":
            state["taken"] = True
            return {"ok": True, "result": None}
        if state["taken"]:
            return {"ok": True, "result": status_doc("MASTER", "takeover", 254)}
        return {"ok": True, "result": status_doc()}

    server = agent_socket(handler)
    result = run_module(vrrp_switchover, {"control_socket": server.path, "state": "master"}, capsys)
    assert result["changed"] is True and result["after"][0]["state"] == "MASTER"
    assert {"command": "takeover", "args": {"instances": ["VI_1"]}} in server.requests


def test_switchover_already_there_changes_nothing(agent_socket, capsys):
    server = agent_socket(lambda req: {"ok": True, "result": status_doc("MASTER", "takeover", 254)})
    result = run_module(vrrp_switchover, {"control_socket": server.path, "state": "master"}, capsys)
    assert result["changed"] is False
    assert "takeover" not in [r["command"] for r in server.requests]


def test_switchover_times_out_naming_the_instance(agent_socket, capsys):
    server = agent_socket(lambda req: {"ok": True, "result": status_doc("BACKUP", "takeover", 254)})
    result = run_module(vrrp_switchover, {"control_socket": server.path, "state": "master", "timeout": 0.3},
                        capsys)
    assert result["failed"]
    expected = "VI_1 is BACKUP (override takeover, priority 254, master 198.51.100.11), not MASTER"
    assert expected in result["msg"]


def test_switchover_unknown_instance_fails_before_any_change(agent_socket, capsys):
    server = agent_socket(lambda req: {"ok": True, "result": status_doc()})
    result = run_module(vrrp_switchover, {"control_socket": server.path, "state": "backup",
                                          "instances": ["VI_9"]}, capsys)
    assert result["failed"] and "no such instance: VI_9" in result["msg"]
    assert [r["command"] for r in server.requests] == ["status"]
