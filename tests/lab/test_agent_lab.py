"""Our agent in the namespace lab: elections, failover, preemption, IPv6, unicast, FAULT.

A client namespace asks who answers ARP/ND for the VIP: after convergence
exactly one node, never two. Bounds are generous "eventually" limits, never
timing assertions (the figures live in bench/).
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from agentlab import Agent, agent_instance
from netlab import Lab, assert_single_owner, owned_only_by, wait_until

VIP4 = "198.51.100.100"
VIP6 = "2001:db8:100::100"
SLOW = 20.0
FAST = 10.0
SEED = Path(__file__).resolve().parents[1] / "fixtures" / "seed"






def test_rfc3768_election_freeze_failover_and_preempt_back(lab: Lab):
    agents = {i: Agent(lab.node(i), agent_instance(priority=p, auth_pass="s3cret"))
              for i, p in ((1, 150), (2, 100))}
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    assert_single_owner(lab, VIP4, 1)
    assert agents[1].state() == "MASTER" and agents[2].state() == "BACKUP"
    assert agents[2].instance()["master_ip"] == lab.node(1).ip4

    garp = lab.watch_garp(VIP4)
    frozen_at = time.time()
    agents[1].freeze()
    wait_until(lambda: lab.node(2).has_address(VIP4), SLOW, message="node 2 takes the VIP")
    wait_until(lambda: any(mac == lab.node(2).mac and t >= frozen_at
                           for t, mac in garp.events()), FAST, message="GARP from node 2")
    agents[1].thaw()  # still believes it is master at 150: node 2 yields on its advert
    wait_until(lambda: not lab.node(2).has_address(VIP4), SLOW, message="node 2 yields")
    wait_until(owned_only_by(lab, VIP4, 1), FAST)
    assert_single_owner(lab, VIP4, 1)
    assert agents[1].instance()["counters"]["dual_master_seen"] >= 1


def test_rfc5798_6_4_3_sigterm_sends_priority_zero_and_exits_0(lab: Lab):
    agents = {i: Agent(lab.node(i), agent_instance(priority=p)) for i, p in ((1, 150), (2, 100))}
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    assert agents[1].stop() == 0
    assert not lab.node(1).has_address(VIP4)
    # priority 0: the backup waits only its skew time (RFC 5798 §6.4.2); how fast that is
    # is a benchmark (bench/), not an assertion here
    wait_until(lambda: lab.node(2).has_address(VIP4), FAST)
    inst = agents[2].instance()
    assert inst["counters"]["priority_zero_received"] >= 1
    assert inst["state"] == "MASTER" and inst["counters"]["became_master"] == 1
    wait_until(owned_only_by(lab, VIP4, 2), FAST)


def test_nopreempt_keeps_the_running_master(lab: Lab):
    a2 = Agent(lab.node(2), agent_instance(priority=100))
    wait_until(owned_only_by(lab, VIP4, 2), SLOW)
    a1 = Agent(lab.node(1), agent_instance(priority=150, extra="    nopreempt\n"))
    time.sleep(5)  # longer than a master-down interval (3.4 s)
    assert a1.state() == "BACKUP" and a2.state() == "MASTER"
    assert_single_owner(lab, VIP4, 2)


def test_state_master_without_priority_is_owner_255(lab: Lab):
    a1 = Agent(lab.node(1), agent_instance(priority=None, state="MASTER"))
    wait_until(lambda: a1.state() == "MASTER", FAST)
    inst = a1.instance()
    assert inst["base_priority"] == 255 and inst["effective_priority"] == 255
    wait_until(owned_only_by(lab, VIP4, 1), FAST)


def test_rfc5798_ipv6_v3_fast_adverts_failover(lab: Lab):
    conf = {i: agent_instance(priority=p, version=3, advert_int=0.1, vips=[f"{VIP6}/64"])
            for i, p in ((1, 150), (2, 100))}
    agents = {i: Agent(lab.node(i), conf[i]) for i in (1, 2)}
    wait_until(owned_only_by(lab, VIP6, 1), SLOW)
    assert agents[1].instance()["family"] == "ipv6"
    watcher = lab.watch_garp(VIP6)
    killed_at = time.time()
    agents[1].freeze()
    wait_until(lambda: lab.node(2).has_address(VIP6), FAST)
    wait_until(lambda: any(mac == lab.node(2).mac and t >= killed_at
                           for t, mac in watcher.events()), FAST, message="unsolicited NA")
    agents[1].stop()
    wait_until(owned_only_by(lab, VIP6, 2), FAST)


def test_unicast_peers_three_nodes(make_lab):
    lab = make_lab(nodes=3)
    ips = {i: lab.node(i).ip4 for i in (1, 2, 3)}
    agents = {}
    for i, prio in ((1, 150), (2, 120), (3, 100)):
        peers = "".join(f"        {ips[j]}\n" for j in ips if j != i)
        extra = f"    unicast_src_ip {ips[i]}\n    unicast_peer {{\n{peers}    }}\n"
        agents[i] = Agent(lab.node(i), agent_instance(priority=prio, version=3,
                                                      advert_int=0.2, extra=extra))
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    agents[1].kill()  # SIGKILL: nothing sent; VIP stays in node 1's kernel
    lab.node(1).ip("addr", "del", f"{VIP4}/24", "dev", "eth0")
    wait_until(owned_only_by(lab, VIP4, 2), SLOW)
    assert agents[3].state() == "BACKUP"
    assert agents[3].instance()["master_ip"] == ips[2]


def test_link_down_goes_fault_and_backup_takes_over(lab: Lab):
    agents = {i: Agent(lab.node(i), agent_instance(priority=p, version=3, advert_int=0.2))
              for i, p in ((1, 150), (2, 100))}
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    lab.node(1).link_down()
    wait_until(lambda: agents[1].state() == "FAULT", FAST)
    assert not lab.node(1).has_address(VIP4), "a FAULT node releases its VIPs"
    wait_until(owned_only_by(lab, VIP4, 2), FAST)
    lab.node(1).link_up()
    wait_until(lambda: agents[1].state() in ("BACKUP", "MASTER"), FAST)
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)  # preempts back after master-down


def test_three_agents_never_two_owners_after_convergence(make_lab):
    lab = make_lab(nodes=3)
    agents = {i: Agent(lab.node(i), agent_instance(priority=p, version=3, advert_int=0.1))
              for i, p in ((1, 100), (2, 200), (3, 150))}
    wait_until(owned_only_by(lab, VIP4, 2), SLOW)
    agents[2].signal(signal.SIGTERM)
    wait_until(owned_only_by(lab, VIP4, 3), FAST)
    assert_single_owner(lab, VIP4, 3)
    assert agents[1].state() == "BACKUP"


def test_seed_keepalived_configs_run_unchanged(lab: Lab):
    """The seed's master/backup pair; only its VIP moves into the lab's range (lab rules)."""
    texts = {}
    for i, name in ((1, "keepalived-master.conf"), (2, "keepalived-backup.conf")):
        texts[i] = (SEED / name).read_text().replace("192.168.100.254", "198.51.100.254")
    agents = {i: Agent(lab.node(i), texts[i]) for i in (1, 2)}
    wait_until(owned_only_by(lab, "198.51.100.254", 1), SLOW)
    assert agents[2].instance()["master_priority"] == 100
    assert agents[1].stop() == 0
    wait_until(owned_only_by(lab, "198.51.100.254", 2), FAST)


DEBIAN_PYTHON = "/usr/bin/python3"


def _debian_pyroute2() -> str:
    probe = subprocess.run([DEBIAN_PYTHON, "-c", "import importlib.metadata as m; "
                            "import pyroute2; print(m.version('pyroute2'))"],
                           capture_output=True, text=True)
    return probe.stdout.strip() if probe.returncode == 0 else ""


def test_runs_on_debian_12_pyroute2_0_7(lab: Lab):
    """The same failover with Debian's python3 and its pyroute2 0.7.2 (thread-based netlink)."""
    version = _debian_pyroute2()
    if not version.startswith("0.7"):
        pytest.skip("needs Debian's python3-pyroute2 0.7.x (apt-get install python3-pyroute2)")
    conf = {i: agent_instance(priority=p, version=3, advert_int=0.1) for i, p in ((1, 150), (2, 100))}
    agents = {i: Agent(lab.node(i), conf[i], python=DEBIAN_PYTHON) for i in (1, 2)}
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    assert agents[1].stop() == 0
    assert not lab.node(1).has_address(VIP4)
    wait_until(owned_only_by(lab, VIP4, 2), FAST)
    assert_single_owner(lab, VIP4, 2)


def test_garp_and_gna_intervals_space_the_burst(lab: Lab):
    """vrrp_garp_interval / vrrp_gna_interval: each GARP (NA) on an interface follows the
    previous one by at least the interval, as keepalived sends them (kernel receive stamps)."""
    garp = lab.watch_garp(VIP4, VIP6)
    conf = ("global_defs {\n    vrrp_garp_interval 0.1\n    vrrp_gna_interval 0.2\n"
            "    vrrp_garp_master_repeat 4\n    vrrp_garp_master_delay 0\n}\n"
            + agent_instance("VI_4", version=3, advert_int=0.1)
            + agent_instance("VI_6", vrid=52, version=3, advert_int=0.1, vips=[f"{VIP6}/64"]))
    agent = Agent(lab.node(1), conf)
    wait_until(lambda: len([r for r in garp.records() if r["kind"] == "garp"]) >= 4
               and len([r for r in garp.records() if r["kind"] == "una"]) >= 4, FAST,
               message="four GARPs and four NAs")
    time.sleep(1.0)  # nothing more comes: master_delay 0 is no second burst
    for kind, interval in (("garp", 0.1), ("una", 0.2)):
        stamps = sorted(r["t"] for r in garp.records() if r["kind"] == kind)
        assert len(stamps) == 4, (kind, stamps)
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        # a lower bound only: a busy machine can stretch a gap, never shorten it
        assert min(gaps) >= interval * 0.9, (kind, gaps)
    assert agent.state("VI_4") == "MASTER" and agent.state("VI_6") == "MASTER"
