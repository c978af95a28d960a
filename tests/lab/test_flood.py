"""A flood of foreign protocol-112 traffic does not turn the master into an amplifier.

The figures (10 s at 10,000 pkt/s, agent vs keepalived) are `make flood`'s, in
docs/reliability.md; these tests check the behaviour on a 3 s flood: the master
answers a bounded number of times, the backup keeps following it, the
lower-priority hook runs once per episode, and status shows socket drops.
"""

from __future__ import annotations

import pickle
import sys

import flood
from agentlab import Agent, agent_instance
from netlab import Lab, owned_only_by, wait_until

SECONDS, RATE = 3, 10000


def test_rfc5798_6_4_3_flood_is_answered_within_the_budget_and_the_backup_stays(lab: Lab):
    agents = flood.agent_pair(lab)
    result = flood.measure(lab, flood.agent_transitions(agents[2]), SECONDS, RATE)
    assert result["injected"] == SECONDS * RATE
    # 20,000 valid foreign adverts among them: keepalived (and the agent before the
    # budget) answer each one; one answer per interval is below 1 in 100
    assert result["master_adverts"] < result["injected"] / 100, result
    # one lower-priority episode per max(garp_lower_prio_delay 5 s, 1 s): one burst of
    # 5 GARPs at once (the delayed one falls after the flood)
    assert result["master_arps"] <= 10, result
    assert result["backup_transitions"] == 0 and result["master_kept_vip"], result
    master = agents[1].status()
    counters = master["instances"][0]["counters"]
    assert counters["answers_suppressed"] > 0 and counters["lower_priority_episodes"] == 1
    assert set(master["agent"]["socket_drops"]) == {"eth0/ipv4"}
    backup = agents[2].instance()["counters"]
    assert backup["foreign_priority_zero_ignored"] > 0, backup
    assert lab.owner_nodes(flood.VIP, timeout=0.15) == {1}


def test_notify_master_rx_lower_pri_runs_once_per_episode(lab: Lab):
    marks = lab.logdir / "rx-lower.txt"
    hook = f'    notify_master_rx_lower_pri "/bin/sh -c \'echo rx >> {marks}\'"\n'
    master = Agent(lab.node(1), agent_instance(priority=150, version=3, advert_int=0.1,
                                               extra=hook))
    wait_until(owned_only_by(lab, flood.VIP, 1), 20)
    pool = flood.flood_pool(lab, 30, seed=3)[1::3]  # lower priorities only
    pool_path = lab.logdir / "lower.pickle"
    pool_path.write_bytes(pickle.dumps(pool))
    lab.client.run([sys.executable, str(flood.HERE / "inject.py"), str(pool_path), "200",  # type: ignore[union-attr]
                    "1000"])
    wait_until(lambda: marks.exists(), 10, message="the hook ran")
    counters = master.instance()["counters"]
    assert counters["lower_priority_episodes"] == 1, counters
    wait_until(lambda: master.instance()["counters"]["notify_runs"] >= 1, 10)
    assert marks.read_text().splitlines() == ["rx"]
    assert master.state() == "MASTER"
