"""A shortened reliability suite (the full one: `make reliability`, docs/reliability.md)."""

from __future__ import annotations

from pathlib import Path

import reliability
from netlab import Lab

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "invalid"


def test_garbage_on_the_wire_changes_nothing_but_counters(lab: Lab):
    agents = reliability.v2_cluster(lab)
    result = reliability.garbage(lab, agents, count=20000)
    assert result["sent"] == 20000
    assert result["crashes"] == 0 and result["state_changes"] == 0, result
    assert result["discards_counted"] > 0, result
    assert lab.owner_nodes(reliability.VIP, timeout=0.15) == {1}


def test_partition_heal_cycles_end_with_one_master(lab: Lab):
    agents = reliability.cluster(lab)
    result = reliability.partition(lab, agents, cycles=5)
    # every heal ends with the higher priority as the one master, reached by the
    # RFC rules: node 1 never left MASTER, node 2 took over once per cut and
    # yielded once per heal (no extra flap on either side)
    assert result["masters_after_heal"] == [[1]] * 5, result
    assert result["counter_deltas"][1]["transitions"] == 0, result
    assert result["counter_deltas"][2] == {"transitions": 10, "became_master": 5,
                                           "released_master": 5}, result


def test_sigkill_restart_cycles_single_owner(lab: Lab):
    agents = reliability.cluster(lab)
    result = reliability.sigkill(lab, agents, cycles=3)
    assert result["two_owners_after_convergence"] == 0, result


def test_invalid_config_corpus_each_rejected_with_file_line():
    result = reliability.invalid_configs(CORPUS)
    assert result["configs"] >= 50
    assert result["rejected"] == result["configs"] == result["with_file_line"], result
    assert result["tracebacks"] == 0


def test_reloads_under_ping_load_keep_the_vip(lab: Lab):
    agents = reliability.cluster(lab)
    result = reliability.reloads(lab, agents, count=10)
    assert result["failed"] == 0 and result["vip_held"], result
    # a reload never removes the address: not one 10 ms ping goes unanswered
    assert result["pings_lost"] == 0, result
