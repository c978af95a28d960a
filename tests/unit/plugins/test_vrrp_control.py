"""The module_utils client against a real unix socket speaking the protocol."""

from __future__ import annotations

import pytest
from ansible_collections.linuxha.vrrp.plugins.module_utils import vrrp_control as client


def test_a_reply_returns_its_result(agent_socket):
    server = agent_socket(lambda req: {"ok": True, "result": {"echo": req["command"]}})
    assert client.request("status", path=server.path) == {"echo": "status"}
    assert server.requests == [{"command": "status", "args": {}}]


def test_args_are_sent_as_given(agent_socket):
    server = agent_socket(lambda req: {"ok": True, "result": None})
    client.request("takeover", {"instances": ["VI_1"]}, path=server.path)
    assert server.requests[0]["args"] == {"instances": ["VI_1"]}


def test_a_refusal_carries_the_agents_sentence(agent_socket):
    server = agent_socket(lambda req: {"ok": False, "error": "no such instance: VI_9 (known: VI_1)"})
    with pytest.raises(client.VrrpControlError, match=r"refused takeover: no such instance: VI_9"):
        client.request("takeover", path=server.path)


def test_no_socket_means_not_running(tmp_path):
    with pytest.raises(client.VrrpControlError) as err:
        client.request("status", path=str(tmp_path / "absent.sock"))
    assert err.value.not_running and "not running" in str(err.value)


def test_garbage_reply_is_reported(agent_socket):
    server = agent_socket(lambda req: b"<html>\n")
    with pytest.raises(client.VrrpControlError, match="not JSON"):
        client.request("status", path=server.path)


def test_closed_connection_is_reported(agent_socket):
    server = agent_socket(lambda req: None)
    with pytest.raises(client.VrrpControlError, match="closed the connection"):
        client.request("status", path=server.path, timeout=2)


def test_role_shape_keeps_the_roles_keys():
    shaped = client.role_shape({"name": "VI_1", "interface": "eth0", "vrid": 1, "family": "ipv4",
                                "version": 2,
                                "advert_int_s": 1.0, "vips": ["198.51.100.100/24"], "base_priority": 100,
                                "unicast_peers": [], "state": "MASTER", "effective_priority": 100,
                                "master_ip": "198.51.100.11", "override": None})
    assert shaped["advert_int"] == 1 and shaped["priority"] == 100 and shaped["vips"] == ["198.51.100.100/24"]
    assert shaped["announce"] == {"mode": "garp"}
    routed = client.role_shape({"announce": {"mode": "bgp", "dev": "lo", "lease_s": 3, "announced": []}})
    assert routed["announce"]["mode"] == "bgp"
