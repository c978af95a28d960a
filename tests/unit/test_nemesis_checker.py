"""The nemesis schedule replays from its seed; the checker licenses by RFC 5798 §6.1 bounds.

Pure: no lab, no root (tests/lab/nemesis/schedule.py and checker.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))

from nemesis import checker  # noqa: E402
from nemesis.schedule import AGENT_ONLY, NODE_KINDS, Spec, for_keepalived, make_schedule  # noqa: E402

MIXED = Spec(("agent", "agent", "keepalived"), version=3, advert_int=0.1)


def test_the_same_seed_replays_the_same_schedule():
    assert make_schedule(7, MIXED, 120) == make_schedule(7, MIXED, 120)
    assert make_schedule(7, MIXED, 120) != make_schedule(8, MIXED, 120)


def test_faults_overlap_but_leave_one_node_free_and_end_in_time():
    for seed in range(40):
        faults = make_schedule(seed, MIXED, 120)
        assert all(f.end <= 119.0 for f in faults)
        overlapping = sum(1 for a, b in zip(faults, faults[1:]) if b.start < a.end)
        assert overlapping > 0 or len(faults) < 3
        for t in [f.start for f in faults]:
            busy = {n for g in faults if g.kind in NODE_KINDS and g.start <= t < g.end
                    for n in g.nodes}
            assert len(busy) <= MIXED.nodes - 1, (seed, t)


def test_agent_only_faults_never_hit_keepalived_nodes():
    for seed in range(40):
        for f in make_schedule(seed, MIXED, 120):
            if f.kind in AGENT_ONLY:
                assert f.nodes == (1,) or f.nodes == (2,), f
    keep = Spec(("keepalived",) * 3)
    assert not [f for f in for_keepalived(make_schedule(3, MIXED, 120)) if f.kind in AGENT_ONLY]
    assert not [f for f in make_schedule(3, keep, 120) if f.kind in AGENT_ONLY]


def test_rfc5798_6_1_bounds_v3_scale_with_the_interval_and_v2_in_seconds():
    b3 = checker.bounds_for(3, 0.1, 100)
    assert b3.master_down_s == pytest.approx(0.3 + 156 / 256 * 0.1)
    b2 = checker.bounds_for(2, 1.0, 100)
    assert b2.skew_s == pytest.approx(156 / 256)


def node_of(mac):
    return {"m1": 1, "m2": 2}.get(mac)


def history(pattern, t0=100.0, period=0.01):
    """pattern: a string per sample: '1', '2', 'b' (both), '.' (none)."""
    requests = [t0 + k * period for k in range(len(pattern) + 1)]
    replies = []
    for k, c in enumerate(pattern):
        for node in ("1", "2") if c == "b" else (c,) if c in "12" else ():
            replies.append((requests[k] + 0.001, f"m{node}"))
    return checker.samples(requests, replies, node_of)


def test_intervals_merge_runs_of_no_owner_and_two_owners():
    found = checker.intervals(history("11...11bb2"))
    assert [(k, round(b - a, 3)) for k, a, b in found] == [("none", 0.03), ("dual", 0.02)]


B = checker.Bounds(advert_s=0.1, master_down_s=0.36, skew_s=0.06, slack_s=0.1)


def test_rfc5798_6_4_2_no_owner_after_a_link_down_is_licensed_for_master_down():
    link = checker.Applied("link", (1,), 100.0, 105.0, "link(n1)")
    lic = checker.licenses([link], B)
    ok = checker.intervals(history("1" * 5 + "." * 40 + "2" * 5))  # 0.4 s < MD + S
    assert checker.violations(ok, lic) == []
    late = checker.intervals(history("1" * 5 + "." * 60 + "2" * 5))  # 0.6 s > MD + S
    bad = checker.violations(late, lic)
    assert len(bad) == 1 and bad[0]["kind"] == "none" and bad[0]["unlicensed_s"] > 0.1


def test_a_reload_licenses_nothing_at_all():
    reload = checker.Applied("reload", (1,), 100.0, 100.5, "reload(n1)")
    found = checker.intervals(history("1" * 10 + "." * 5 + "1" * 10))
    assert len(checker.violations(found, checker.licenses([reload], B))) == 1


def test_two_owners_after_a_heal_must_end_within_one_advert():
    cut = checker.Applied("partition", (2,), 100.0, 100.2, "partition(n2)")
    lic = checker.licenses([cut], B)
    # both owners from 100.0 to 100.35: heal at 100.2 + I + S = 100.4
    assert checker.violations(checker.intervals(history("b" * 35 + "1" * 5)), lic) == []
    # still two at 100.6: 0.2 s beyond the bound
    bad = checker.violations(checker.intervals(history("b" * 60 + "1" * 5)), lic)
    assert bad and bad[0]["kind"] == "dual"


def test_short_blips_below_the_probe_resolution_are_not_violations():
    found = checker.intervals(history("111.111b111"))
    assert checker.violations(found, []) == []


def test_http_outages_are_the_unanswered_stretches():
    records = [[0.0, "n1"], [0.01, ""], [0.02, ""], [0.05, "n2"], [0.06, ""], [0.07, "n2"]]
    out = checker.http_outages(records)
    assert out["http_unanswered_worst_s"] == pytest.approx(0.04)
    assert out["http_unanswered_total_s"] == pytest.approx(0.05)
