"""The nemesis, short: 60 s of seeded, overlapping faults on two clusters, checked.

The long version (`make nemesis`, fresh seeds, the all-keepalived cluster under
the same schedules) writes its figures to docs/reliability.md. A failure prints
the seed, the window, the faults in force and the capture excerpt; replay it
with `bench/nemesis.py --seed SEED --spec N`.
"""

from __future__ import annotations

import pytest
from nemesis.runner import run
from nemesis.schedule import Spec
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
