"""virtual_routes / virtual_rules follow the VIP, static_* stay while the agent runs:
the kernel state the agent leaves is compared with real keepalived 2.2.7's on the
same topology (same config text). Unreachable gateways are refused before
anything changes.
"""

from __future__ import annotations

import json
import sys

import pytest
from agentlab import AGENT_DIR, Agent, agent_instance
from netlab import Host, Keepalived, Lab, keepalived_instance, wait_until

pytestmark = pytest.mark.usefixtures("keepalived_bin")

VIP = "198.51.100.100"
ROUTES = """    virtual_routes {
        203.0.113.0/25 via 198.51.100.1 dev eth0 metric 7
        src 198.51.100.100 to 203.0.113.128/25 dev eth0 table 100
        blackhole 203.0.113.64/26 table 100
        default via 203.0.113.1 dev eth0 table 101 onlink
    }
    virtual_rules {
        from 198.51.100.100 table 100 priority 100
        to 203.0.113.0/24 table 101 fwmark 7/255 preference 101
    }
"""
STATICS = """static_ipaddress {
    203.0.113.250/28 dev eth0
}
static_routes {
    203.0.113.16/28 via 203.0.113.241 table 102
}
static_rules {
    from 203.0.113.240/28 table 102 preference 102
}
"""
DEFAULT_RULES = {"local", "main", "default"}


def routes(node: Host) -> list:
    """Our test routes (tables 100-102 and 203.0.113.x in main), normalised for comparison."""
    out = []
    for r in json.loads(node.ip("-j", "route", "show", "table", "all").stdout):
        table = str(r.get("table", "main"))
        if table in ("100", "101", "102") or r["dst"].startswith("203.0.113."):
            if r.get("protocol") == "kernel":
                continue  # the connected route of a static address
            out.append({k: v for k, v in r.items() if k not in ("flags",)} | {
                "flags": sorted(r.get("flags", []))})
    return sorted(out, key=json.dumps)


def rules(node: Host) -> list:
    found = json.loads(node.ip("-j", "rule", "show").stdout)
    return sorted((r for r in found if r.get("table") not in DEFAULT_RULES), key=json.dumps)


def state(node: Host) -> tuple:
    return routes(node), rules(node)


def test_virtual_routes_and_rules_follow_the_vip_like_keepalived(lab: Lab):
    n1, n2 = lab.node(1), lab.node(2)
    keepalived_conf = keepalived_instance(state="MASTER", priority=150, extra=ROUTES)
    keepalived = Keepalived(n1, keepalived_conf)
    wait_until(lambda: n1.has_address(VIP) and routes(n1), 15, message="keepalived master")
    agent = Agent(n2, agent_instance(priority=100, extra=ROUTES))
    wait_until(lambda: agent.state() == "BACKUP", 15, message="agent backup")
    by_keepalived = state(n1)
    assert len(by_keepalived[0]) == 4 and len(by_keepalived[1]) == 2, by_keepalived
    assert state(n2) == ([], [])  # a backup holds none of them

    keepalived.stop()  # the agent takes over: the same routes and rules as keepalived's
    wait_until(lambda: agent.state() == "MASTER", 15, message="agent master")
    wait_until(lambda: len(routes(n2)) == 4, 10, message="the agent's routes")
    assert state(n2) == by_keepalived
    assert state(n1) == ([], [])  # keepalived removed its own at stop

    keepalived = Keepalived(n1, keepalived_conf)  # preempts: the agent leaves MASTER
    wait_until(lambda: agent.state() == "BACKUP", 15, message="agent back to backup")
    wait_until(lambda: state(n2) == ([], []), 10, message="routes and rules removed on leaving")
    assert agent.stop() == 0
    keepalived.stop()


def test_static_addresses_routes_rules_stay_while_running_like_keepalived(lab: Lab):
    n1, n2 = lab.node(1), lab.node(2)
    text = keepalived_instance(state="MASTER", priority=150)
    keepalived = Keepalived(n1, STATICS + text)
    wait_until(lambda: rules(n1), 15, message="keepalived's statics")
    agent = Agent(n2, STATICS + agent_instance(priority=100))
    wait_until(lambda: rules(n2), 15, message="the agent's statics")
    assert n1.has_address("203.0.113.250") and n2.has_address("203.0.113.250")
    assert state(n2) == state(n1) and len(routes(n1)) == 1
    assert agent.state() == "BACKUP"  # statics do not depend on the state
    assert agent.stop() == 0
    keepalived.stop()
    for n in (n1, n2):
        assert state(n) == ([], []) and not n.has_address("203.0.113.250")


def test_unreachable_gateway_is_refused_before_anything_changes(make_lab):
    lab = make_lab(nodes=1, client=False)
    n1 = lab.node(1)
    conf = STATICS.replace("via 203.0.113.241", "via 203.0.113.99") + agent_instance(
        extra="    virtual_routes {\n        203.0.113.0/25 via 203.0.114.1\n    }\n")
    path = lab.logdir / "bad.conf"
    path.write_text(conf)
    lines = conf.splitlines()
    static_line = next(i for i, t in enumerate(lines, 1) if "203.0.113.99" in t)
    virtual_line = next(i for i, t in enumerate(lines, 1) if "203.0.114.1" in t)
    agent = ["env", f"PYTHONPATH={AGENT_DIR}", sys.executable, "-m", "vrrp_agent"]
    cp = n1.run([*agent, "check-config", "-f", str(path)], check=False)
    assert cp.returncode == 1
    assert f"{path}:{static_line}: route 203.0.113.16/28: gateway 203.0.113.99 is unreachable" \
        in cp.stderr, cp.stderr
    assert f"{path}:{virtual_line}: route 203.0.113.0/25: gateway 203.0.114.1 is unreachable" \
        in cp.stderr, cp.stderr
    run = n1.run([*agent, "run", "-f", str(path), "--state-dir", str(lab.logdir / "st")],
                 check=False, timeout=20)
    assert run.returncode != 0 and "unreachable" in run.stderr
    assert state(n1) == ([], []) and not n1.has_address("203.0.113.250")
    # a virtual route through a VIP's own network is reachable (the VIP is there with it)
    ok = agent_instance(vips=["203.0.113.100/24"],
                        extra="    virtual_routes {\n        0.0.0.0/0 via 203.0.113.1 table 5\n    }\n")
    path.write_text(ok)
    assert n1.run([*agent, "check-config", "-f", str(path)], check=False).returncode == 0


def test_reload_applies_the_virtual_route_delta_and_refuses_static_changes(make_lab):
    """While MASTER a reload removes the dropped routes/rules and adds the new ones; a
    static block change needs a restart (refused, the running configuration kept)."""
    lab = make_lab(nodes=1, client=False)
    n1 = lab.node(1)
    before = ("    virtual_routes {\n        203.0.113.0/25 via 198.51.100.1\n"
              "        blackhole 203.0.113.128/25 table 100\n    }\n")
    after = ("    virtual_routes {\n        203.0.113.0/25 via 198.51.100.1\n"
             "        unreachable 203.0.113.192/26 table 100\n    }\n"
             "    virtual_rules {\n        from 198.51.100.100 table 100\n    }\n")
    agent = Agent(n1, STATICS + agent_instance(state="MASTER", priority=150, extra=before))
    wait_until(lambda: len(routes(n1)) == 3, 15, message="master with its routes")
    agent.conf_path.write_text(STATICS + agent_instance(state="MASTER", priority=150, extra=after))
    assert agent.cli("reload").returncode == 0
    wait_until(lambda: len(rules(n1)) == 2, 10, message="the new rule")
    dsts = sorted(r["dst"] for r in routes(n1))
    assert dsts == ["203.0.113.0/25", "203.0.113.16/28", "203.0.113.192/26"]
    agent.conf_path.write_text(agent_instance(state="MASTER", priority=150, extra=after))
    cp = agent.cli("reload")
    assert cp.returncode != 0 and "static_ipaddress / static_routes / static_rules changed" in \
        cp.stdout + cp.stderr
    assert n1.has_address("203.0.113.250")  # the running configuration is kept
    assert agent.stop() == 0
    assert state(n1) == ([], [])
