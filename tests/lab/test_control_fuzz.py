"""Hostile control-socket clients never crash the agent nor make its backup take over.

The advert gaps measured meanwhile are `make flood`'s figures (bench/control_fuzz.py,
docs/reliability.md); here: the behaviour.
"""

from __future__ import annotations

import ctlfuzz
import flood
from netlab import Lab


def test_malformed_oversized_slow_and_concurrent_clients_change_nothing(lab: Lab):
    agents = flood.agent_pair(lab)
    before = agents[2].instance()["counters"]["transitions"]
    counts = ctlfuzz.hammer(agents[1].socket, seconds=6)
    assert all(counts[k] > 0 for k in ("malformed", "oversized", "slow", "status")), counts
    assert agents[1].running and agents[1].state() == "MASTER"
    # the backup kept hearing the master: its adverts were never late by a master-down
    assert agents[2].instance()["counters"]["transitions"] == before
    log = agents[1].log_text()
    assert "Traceback" not in log and "this is a bug" not in log, log[-3000:]
    assert "Task exception was never retrieved" not in log
