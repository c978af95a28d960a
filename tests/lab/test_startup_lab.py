"""Startup robustness, systemd notification and metrics, in the lab."""

from __future__ import annotations

import json
import os
import socket
import time

from agentlab import Agent, agent_instance
from netlab import Lab, wait_until

VIP4 = "198.51.100.100"
FAST = 10.0


def test_missing_interface_at_boot_is_waited_for_not_a_crash(lab: Lab):
    conf = agent_instance(interface="late0", priority=150, version=3, advert_int=0.1,
                          vips=["203.0.113.100/24"])
    agent = Agent(lab.node(1), conf)
    assert agent.state() == "FAULT"
    assert "interface late0 is not there yet: waiting" in agent.log_text()
    lab.node(1).ip("link", "add", "late0", "type", "veth", "peer", "name", "late0p")
    lab.node(1).ip("addr", "add", "203.0.113.11/24", "dev", "late0")
    lab.node(1).ip("link", "set", "late0p", "up")
    lab.node(1).ip("link", "set", "late0", "up")
    wait_until(lambda: agent.state() == "MASTER", FAST, message="instance starts once late0 exists")
    assert lab.node(1).has_address("203.0.113.100", ifname="late0")


def test_vrrp_startup_delay_is_honoured(lab: Lab):
    conf = "global_defs {\n    vrrp_startup_delay 2\n}\n" + agent_instance(priority=255, state="MASTER")
    started = time.monotonic()
    agent = Agent(lab.node(1), conf)
    assert agent.state() == "INIT"
    wait_until(lambda: agent.state() == "MASTER", FAST)
    assert time.monotonic() - started >= 2.0
    assert "vrrp_startup_delay: waiting 2.0 s" in agent.log_text()


def test_sd_notify_ready_and_stopping(lab: Lab, tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(15)
    os.environ["NOTIFY_SOCKET"] = path
    try:
        agent = Agent(lab.node(1), agent_instance(priority=150))
    finally:
        del os.environ["NOTIFY_SOCKET"]
    ready = sock.recv(1024).decode()
    assert ready.startswith("READY=1")
    agent.stop()
    assert sock.recv(1024).decode() == "STOPPING=1"
    sock.close()


def test_prometheus_metrics_exposition(lab: Lab):
    agent = Agent(lab.node(1), agent_instance(priority=255, state="MASTER", auth_pass="hidden1"),
                  extra_args=["--metrics-listen", "127.0.0.1:9650"])
    wait_until(lambda: agent.state() == "MASTER", FAST)
    fetch = ("import urllib.request;"
             "print(urllib.request.urlopen('http://127.0.0.1:9650/metrics').read().decode())")
    out = lab.node(1).run(["python3", "-c", fetch]).stdout
    labels = 'instance="VI_1",interface="eth0",vrid="51",family="ipv4"'
    assert f'vrrp_instance_state{{{labels},state="MASTER"}} 1' in out
    assert f"vrrp_instance_effective_priority{{{labels}}} 255" in out
    assert "vrrp_instance_adverts_sent_total" in out and "process_resident_memory_bytes" in out
    assert f'vrrp_instance_discards_total{{{labels},reason="checksum"}} 0' in out
    assert "hidden1" not in out
    assert json.loads(agent.cli("status", "--json").stdout)["instances"][0]["state"] == "MASTER"
