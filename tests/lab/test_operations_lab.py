"""Operating the agent in the lab: takeover/standby/release (also against keepalived),
overrides kept across a restart, reloads under ping load, invalid reloads refused,
status schema, control-socket permissions.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from agentlab import Agent, agent_env, agent_instance
from netlab import Keepalived, Lab, keepalived_instance, owned_only_by, wait_until

VIP4 = "198.51.100.100"
SLOW = 20.0
FAST = 10.0
FAST_V3 = dict(version=3, advert_int=0.1)




def pair(lab: Lab, **kw) -> dict:
    agents = {i: Agent(lab.node(i), agent_instance(priority=p, **kw))
              for i, p in ((1, 150), (2, 100))}
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    return agents


def test_takeover_release_and_standby_both_ways(lab: Lab):
    agents = pair(lab, **FAST_V3)
    cp = agents[2].cli("takeover")
    assert cp.returncode == 0, cp.stderr
    # make-before-break: the status says MASTER as soon as the command returns
    assert agents[2].state() == "MASTER"
    assert agents[2].instance()["effective_priority"] == 254
    assert agents[2].instance()["override"] == "takeover"
    wait_until(lambda: agents[1].state() == "BACKUP", FAST)
    wait_until(owned_only_by(lab, VIP4, 2), FAST)
    time.sleep(1.0)  # held: node 1 (150) does not preempt a 254 master
    assert lab.owner_nodes(VIP4, timeout=0.15) == {2}

    assert agents[2].cli("release").returncode == 0
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)  # node 1 preempts the 100 master

    assert agents[1].cli("standby", "VI_1").returncode == 0
    assert agents[1].state() == "BACKUP"
    assert agents[1].instance()["effective_priority"] == 1
    wait_until(owned_only_by(lab, VIP4, 2), FAST)
    time.sleep(1.0)
    assert agents[1].state() == "BACKUP", "standby holds until release"
    assert agents[1].cli("release").returncode == 0
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)


@pytest.mark.usefixtures("keepalived_bin")
def test_takeover_and_standby_against_keepalived(lab: Lab):
    ka = Keepalived(lab.node(1), keepalived_instance(priority=150, version=3, advert_int=0.1))
    agent = Agent(lab.node(2), agent_instance(priority=100, **FAST_V3))
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    assert agent.cli("takeover").returncode == 0
    wait_until(owned_only_by(lab, VIP4, 2), FAST)
    wait_until(lambda: not lab.node(1).has_address(VIP4), FAST, message="keepalived yields")
    assert agent.cli("standby").returncode == 0
    wait_until(owned_only_by(lab, VIP4, 1), FAST)
    assert ka.running


def test_restart_keeps_the_override(lab: Lab):
    agents = pair(lab, **FAST_V3)
    assert agents[2].cli("takeover").returncode == 0
    wait_until(owned_only_by(lab, VIP4, 2), FAST)
    assert agents[2].stop() == 0
    agents[2].start()
    wait_until(lambda: agents[2].instance()["override"] == "takeover", FAST)
    wait_until(owned_only_by(lab, VIP4, 2), SLOW)
    saved = json.loads((agents[2].state_dir / "overrides.json").read_text())
    assert saved == {"VI_1": "takeover"}


def test_50_reloads_under_ping_load_lose_no_vip(lab: Lab):
    agents = pair(lab, **FAST_V3)
    ping = lab.client.popen(["ping", "-n", "-i", "0.01", "-w", "30", VIP4], name="ping")
    time.sleep(0.5)
    conf = agents[1].conf_path
    text = conf.read_text()
    for n in range(50):
        # alternate between the same config and one with a comment changed
        conf.write_text(text + f"! reload {n % 2}\n")
        cp = agents[1].cli("reload")
        assert cp.returncode == 0, cp.stderr
        assert lab.node(1).has_address(VIP4), f"VIP gone after reload {n}"
    assert agents[1].state() == "MASTER"
    assert agents[1].instance()["counters"]["transitions"] == 2  # INIT->BACKUP->MASTER
    ping.send_signal(2)
    ping.wait(10)
    out = ping.log_path.read_text()  # type: ignore[attr-defined]
    assert " 0% packet loss" in out, out[-400:]
    # SIGHUP reloads too: a changed config takes effect, the state is kept
    conf.write_text(text.replace("198.51.100.100/24", "198.51.100.100/24\n        198.51.100.102/24"))
    agents[1].signal(1)
    wait_until(lambda: lab.node(1).has_address("198.51.100.102"), FAST, message="SIGHUP adds the VIP")
    conf.write_text(text)
    agents[1].signal(1)
    wait_until(lambda: not lab.node(1).has_address("198.51.100.102"), FAST, message="SIGHUP removes it")
    assert agents[1].state() == "MASTER" and lab.node(1).has_address(VIP4)
    assert agents[1].instance()["counters"]["transitions"] == 2


def test_reload_applies_vip_changes_and_refuses_invalid_config(lab: Lab):
    agents = pair(lab, **FAST_V3)
    conf = agents[1].conf_path
    good = conf.read_text()
    conf.write_text(good.replace("198.51.100.100/24", "198.51.100.100/24\n        198.51.100.101/24"))
    assert agents[1].cli("reload").returncode == 0
    wait_until(lambda: lab.node(1).has_address("198.51.100.101"), FAST)
    assert lab.node(1).has_address(VIP4)

    conf.write_text(good.replace("virtual_router_id 51", "virtual_router_id 300"))
    cp = agents[1].cli("reload")
    assert cp.returncode == 1
    assert f"{conf}:" in cp.stderr and "300" in cp.stderr, cp.stderr
    assert "running configuration kept" in cp.stderr
    assert agents[1].state() == "MASTER"
    assert lab.node(1).has_address("198.51.100.101"), "the running config is kept"

    conf.write_text(good)
    assert agents[1].cli("reload").returncode == 0
    wait_until(lambda: not lab.node(1).has_address("198.51.100.101"), FAST)
    assert lab.node(1).has_address(VIP4)


def test_reload_refuses_a_multicast_group_change_and_applies_global_scheduling(lab: Lab):
    agents = pair(lab, **FAST_V3)
    conf = agents[1].conf_path
    good = conf.read_text()
    conf.write_text("global_defs {\n    vrrp_mcast_group4 224.0.0.99\n}\n" + good)
    cp = agents[1].cli("reload")
    assert cp.returncode == 1
    assert f"{conf}: vrrp_mcast_group4 changed from 224.0.0.18 to 224.0.0.99" in cp.stderr, cp.stderr
    assert "restart" in cp.stderr and "running configuration kept" in cp.stderr
    assert agents[1].state() == "MASTER" and lab.node(1).has_address(VIP4)
    # a global_defs-only change that a reload can apply: every thread's nice value
    conf.write_text("global_defs {\n    vrrp_priority 5\n}\n" + good)
    assert agents[1].cli("reload").returncode == 0
    pid = agents[1].proc.pid
    assert {os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir(f"/proc/{pid}/task")} == {5}
    assert agents[1].state() == "MASTER"


def test_status_json_schema_and_no_secret(lab: Lab):
    agents = pair(lab, version=2, advert_int=1, auth_pass="t0ps3cr3")
    cp = agents[1].cli("status", "--json")
    assert cp.returncode == 0, cp.stderr
    assert "t0ps3cr3" not in cp.stdout
    doc = json.loads(cp.stdout)
    assert doc["schema"] == 1
    assert {"version", "pid", "config", "started_at", "uptime_s", "discards"} <= set(doc["agent"])
    (inst,) = doc["instances"]
    assert {"name", "interface", "vrid", "family", "version", "state", "base_priority",
            "effective_priority", "master_ip", "master_priority", "vips", "override",
            "last_transition", "counters"} <= set(inst)
    assert inst["state"] == "MASTER" and inst["vips"] == ["198.51.100.100/24"]
    for key in ("adverts_sent", "adverts_received", "transitions", "became_master",
                "priority_zero_sent", "priority_zero_received", "dual_master_seen", "discards"):
        assert key in inst["counters"]
    assert inst["counters"]["adverts_sent"] >= 1
    table = agents[2].cli("status")
    assert table.returncode == 0
    assert "VI_1" in table.stdout and "BACKUP" in table.stdout
    assert "t0ps3cr3" not in agents[1].log_text()


def test_control_socket_permissions(lab: Lab):
    agents = pair(lab, **FAST_V3)
    mode = os.stat(agents[1].socket).st_mode & 0o777
    assert mode == 0o660
    # an unprivileged user is refused by the file system, with a clear message
    cp = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         *agents[1].cli_argv("status")],
        capture_output=True, text=True, timeout=30, env=agent_env())
    assert cp.returncode == 1
    assert "permission denied" in cp.stderr
    stopped = agents[2]
    stopped.stop()
    cp = stopped.cli("status")
    assert cp.returncode == 1 and "not running" in cp.stderr


def test_reload_refuses_a_host_address_as_vip(lab: Lab):
    """reload runs the host checks of check-config and run: a host's own address is no VIP
    (it would be recorded as held and deleted on release)."""
    agents = pair(lab, **FAST_V3)
    conf = agents[1].conf_path
    good = conf.read_text()
    own = lab.node(1).ip4
    conf.write_text(good.replace("198.51.100.100/24", f"198.51.100.100/24\n        {own}/24"))
    cp = agents[1].cli("reload")
    assert cp.returncode == 1
    assert f"{conf}:" in cp.stderr and f"virtual IP {own} is an address of this host" in cp.stderr, cp.stderr
    assert "running configuration kept" in cp.stderr
    assert agents[1].state() == "MASTER"
    assert lab.node(1).has_address(own) and lab.node(1).has_address(VIP4)
    assert own not in str(agents[1].instance()["vips"])
