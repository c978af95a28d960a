"""track.py: keepalived's rise/fall counter and the priority/FAULT verdict, on explicit input."""

from __future__ import annotations

import pytest
from vrrp_agent.config.model import TrackRef
from vrrp_agent.track import FAILED, INIT, OK, Facts, ScriptHealth, evaluate


def feed(health: ScriptHealth, results: str) -> list:
    """'+' success, '-' failure; returns the state after each run."""
    return [(health.feed(r == "+", float(i)), health.state)[1] for i, r in enumerate(results)]


def test_one_success_makes_a_new_script_ok_and_one_failure_fails_it():
    assert feed(ScriptHealth("a", rise=3, fall=3), "+") == [OK]
    assert feed(ScriptHealth("a", rise=3, fall=3), "-") == [FAILED]


def test_fall_consecutive_failures_then_rise_consecutive_successes():
    h = ScriptHealth("a", rise=2, fall=3)
    assert feed(h, "+--+---") == [OK, OK, OK, OK, OK, OK, FAILED]
    assert feed(h, "+-++") == [FAILED, FAILED, FAILED, OK]
    assert h.failures == 6 and h.runs == 11


def test_init_fail_starts_failed_and_needs_rise_successes():
    h = ScriptHealth("a", rise=2, fall=1, init_fail=True)
    assert h.state == FAILED
    assert feed(h, "++") == [FAILED, OK]


def test_feed_reports_changes_only():
    h = ScriptHealth("a", rise=1, fall=2)
    assert h.feed(True, 0) is True
    assert h.feed(False, 1) is False
    assert h.feed(False, 2) is True


def ref(kind: str, name: str, weight: int = 0, reverse: bool = False) -> TrackRef:
    return TrackRef(kind, name, weight, reverse)


def facts(**scripts: str) -> Facts:
    f = Facts()
    for name, results in scripts.items():
        f.scripts[name] = ScriptHealth(name)
        feed(f.scripts[name], results)
    return f


@pytest.mark.parametrize("weight,reverse,results,priority,fault", [
    (0, False, "+", 100, False),
    (0, False, "-", 100, True),
    (0, True, "+", 100, True),       # reverse: FAULT while the script succeeds
    (-30, False, "-", 70, False),
    (-30, False, "+", 100, False),
    (20, False, "+", 120, False),
    (20, False, "-", 100, False),
    (20, True, "-", 120, False),     # reverse: the bonus applies while failing
    (-200, False, "-", 1, False),    # clamped to 1
    (200, False, "+", 254, False),   # trackers never reach 255
])
def test_script_weights(weight, reverse, results, priority, fault):
    verdict = evaluate(100, [ref("script", "s", weight, reverse)], facts(s=results))
    assert (verdict.priority, verdict.fault) == (priority, fault)


def test_a_script_without_result_yet_neither_faults_nor_weighs():
    verdict = evaluate(100, [ref("script", "s", 0), ref("script", "t", 50)], facts())
    assert (verdict.priority, verdict.fault) == (100, False)
    assert {c.state for c in verdict.contributions} == {INIT}


def test_interfaces_missing_is_down():
    f = Facts()
    f.interfaces.update(eth1=True, eth2=False)
    assert evaluate(100, [ref("interface", "eth1")], f).fault is False
    v = evaluate(100, [ref("interface", "eth2")], f)
    assert v.fault and v.reasons == ["interface eth2 down"]
    assert evaluate(100, [ref("interface", "eth9", -10)], f).priority == 90
    assert evaluate(100, [ref("interface", "eth1", 10)], f).priority == 110


def test_files_multiply_and_fault_rules():
    f = Facts()
    f.files.update(a=3, zero=0, big=100)
    assert evaluate(100, [ref("file", "a", -10)], f).priority == 70
    assert evaluate(100, [ref("file", "a", -10, True)], f).priority == 130
    assert evaluate(100, [ref("file", "a", 0)], f).fault is True
    assert evaluate(100, [ref("file", "zero", 0)], f).fault is False
    assert evaluate(100, [ref("file", "zero", 0, True)], f).fault is True
    assert evaluate(100, [ref("file", "big", -3)], f).fault is True   # -300 <= -254


def test_process_quorum():
    f = Facts()
    f.processes.update(p=2)
    f.quorum["p"] = (1, None)
    assert evaluate(100, [ref("process", "p")], f).fault is False
    f.quorum["p"] = (3, None)
    assert evaluate(100, [ref("process", "p")], f).fault is True
    f.quorum["p"] = (1, 1)
    assert evaluate(100, [ref("process", "p", -5)], f).priority == 95


def test_owner_keeps_255_but_can_fault():
    f = facts(s="-")
    assert evaluate(255, [ref("script", "s", -50)], f) .priority == 255
    verdict = evaluate(255, [ref("script", "s", 0)], f)
    assert verdict.priority == 255 and verdict.fault


def test_sum_of_several_trackers():
    f = facts(a="-", b="+")
    f.interfaces["eth1"] = False
    v = evaluate(150, [ref("script", "a", -20), ref("script", "b", 5), ref("interface", "eth1", -30)], f)
    assert v.priority == 105 and not v.fault
    assert [c.effect for c in v.contributions] == [-20, 5, -30]
