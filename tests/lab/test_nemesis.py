"""The nemesis, short: 60 s of seeded, overlapping faults on two clusters, checked.

The long version (`make nemesis`, fresh seeds, the all-keepalived cluster under
the same schedules) writes its figures to docs/reliability.md. A failure prints
the seed, the window, the faults in force and the capture excerpt; replay it
with `bench/nemesis.py --seed SEED --spec N`.
"""

from __future__ import annotations

import pytest
from nemesis.runner import run
from nemesis.schedule import Spec, make_schedule
from netlab import lab_unavailable_reason

CASES = [
    pytest.param(2, Spec(("agent", "agent", "keepalived"), version=3, advert_int=0.1),
                 id="mixed-v3-0.1s-multicast"),
    pytest.param(5, Spec(("agent", "agent", "agent"), version=2, advert_int=1.0, unicast=True),
                 id="agents-v2-1s-unicast"),
]


@pytest.mark.parametrize("seed, spec", CASES)
def test_nemesis_60s_no_interval_beyond_the_protocol_bounds(seed, spec, keepalived_bin):
    reason = lab_unavailable_reason()
    if reason:
        pytest.skip(reason)
    result = run(seed, spec, 60.0)
    assert result["errors"] == [], result["errors"]
    assert sum(result["faults"].values()) >= 10, result["faults"]
    assert result["violations"] == [], result["violations"]
    assert result["converged"], result


def test_nemesis_seed_1617314694_thawed_backup_reads_its_queue_before_master_down(keepalived_bin):
    """Regression (make nemesis, 2026-11-30): a backup frozen while a takeover came and
    went was thawed, its master-down timer ran before the adverts queued meanwhile, it
    became master, then yielded to a queued takeover advert from before the freeze:
    nobody held the VIP for a master-down interval. Replays the seed's first 25 s."""
    reason = lab_unavailable_reason()
    if reason:
        pytest.skip(reason)
    spec = Spec(("agent",) * 5, version=3, advert_int=0.1, unicast=True)
    faults = [f for f in make_schedule(1617314694, spec, 60.0) if f.end <= 24.5]
    assert any(f.kind == "freeze" for f in faults) and any(f.kind == "takeover" for f in faults)
    result = run(1617314694, spec, 25.0, faults)
    assert result["errors"] == [] and result["violations"] == [], result["violations"]
    assert result["converged"], result
