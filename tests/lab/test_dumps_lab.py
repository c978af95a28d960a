"""keepalived's signal dumps (dumps.py) beside keepalived 2.2.7: the same signals, the same files.

The agent (master) and keepalived (backup) each get SIGUSR2 (STATS) and SIGRTMIN+2 (JSON),
each with its own $TMPDIR (both daemons honour it). The stats files have the same lines;
the agent's JSON has keepalived's layout (its data keys are keepalived's, with the same types;
its stats keys are keepalived's), and the two views agree; SIGUSR1 writes a data file. The
agent survives all of them (without handlers these signals would terminate it).
"""

from __future__ import annotations

import json
import os
import re
import signal

from agentlab import Agent, agent_instance
from netlab import Keepalived, Lab, owned_only_by, wait_until

VIP4 = "198.51.100.100"
SIGJSON = signal.SIGRTMIN + 2


def _shape(text: str) -> str:
    return re.sub(r": \d+\n", ": N\n", text)


def test_stats_and_json_dumps_match_keepalived_s(lab: Lab, tmp_path, monkeypatch):
    ka_dir, agent_dir = tmp_path / "ka", tmp_path / "agent"
    ka_dir.mkdir()
    agent_dir.mkdir()
    instance = agent_instance(priority=100, advert_int=1, version=2)
    monkeypatch.setenv("TMPDIR", str(ka_dir))
    ka = Keepalived(lab.node(2), instance)
    monkeypatch.setenv("TMPDIR", str(agent_dir))
    agent = Agent(lab.node(1), agent_instance(priority=150, advert_int=1, version=2))
    wait_until(owned_only_by(lab, VIP4, 1), 15)
    wait_until(lambda: agent.instance()["counters"]["adverts_sent"] >= 4, 10)
    for signum in (signal.SIGUSR2, SIGJSON):
        agent.signal(signum)
        os.kill(ka.pid, signum)  # as `keepalived --signum=...` does: the parent passes it on
    for directory in (ka_dir, agent_dir):
        for name in ("keepalived.stats", "keepalived.json"):
            wait_until((directory / name).exists, 10, message=f"{directory.name}/{name}")
    ka_stats = (ka_dir / "keepalived.stats").read_text()
    assert _shape((agent_dir / "keepalived.stats").read_text()) == _shape(ka_stats)

    (ka_doc,), (agent_doc,) = (json.loads((d / "keepalived.json").read_text()) for d in (ka_dir, agent_dir))
    ka_data, agent_data = ka_doc["data"], agent_doc["data"]
    assert set(agent_data) <= set(ka_data), sorted(set(agent_data) - set(ka_data))
    for key in agent_data:
        assert type(agent_data[key]) is type(ka_data[key]), (key, agent_data[key], ka_data[key])
    assert set(agent_doc["stats"]) == set(ka_doc["stats"])
    assert (agent_data["state"], ka_data["state"]) == (2, 1)
    assert ka_data["master_priority"] == agent_data["effective_priority"] == 150
    assert agent_data["vips"] == ka_data["vips"]
    assert ka_doc["stats"]["advert_rcvd"] >= 3 and agent_doc["stats"]["advert_sent"] >= 3

    agent.signal(signal.SIGUSR1)
    wait_until((agent_dir / "keepalived.data").exists, 10)
    assert "VI_1" in (agent_dir / "keepalived.data").read_text()
    assert agent.running and lab.node(1).has_address(VIP4)
