"""The nemesis checker: no-owner and two-owner intervals against the protocol's bounds. Pure.

Rules:
- History: the client's ARP probes (arpwatch.py). Sample k spans request k
  to request k+1; its owners are the nodes whose replies arrived in it.
  Consecutive samples with no owner, or with two or more, make one interval.
- Each fault licenses intervals for a while, from the bounds of RFC 5798
  (I = advert interval, MD = Master_Down_Interval and SK = Skew_Time of the
  lowest configured priority, S = measurement slack):
    kill      both kinds from the kill to restart + MD + I + S (the dead
              node's VIP stays on its interface; the restarted node preempts)
    freeze    two owners until thaw + I + S (the kernel still answers ARP)
    link      none for MD + S after down; both for MD + I + S after up
    partition, split
              two owners until heal + I + S ("healed within one advert")
    standby   none for SK + S (priority 0); both for MD + I + S after release
    takeover  two owners for I + S (make-before-break); both after release
    track     as standby, plus the 1 s file poll
    netem     both kinds until removal + MD + I + S (loss and jitter separate
              the nodes and hide the replies)
    reload, reload_invalid, garbage
              nothing at all.
- An interval is a violation when more than RESOLUTION_S of it is licensed
  by no fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

RESOLUTION_S = 0.03
"""Shorter unlicensed stretches are the probe's own resolution (3 samples of 10 ms)."""
SLACK_S = 0.15
"""Scheduling and netlink latency of two daemons and the probe on a loaded host."""
TRACK_POLL_S = 1.0


@dataclass(frozen=True)
class Applied:
    """A fault as it happened: wall-clock start and end."""

    kind: str
    nodes: Tuple[int, ...]
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Bounds:
    advert_s: float
    master_down_s: float
    skew_s: float
    slack_s: float = SLACK_S


def bounds_for(version: int, advert_s: float, lowest_priority: int) -> Bounds:
    """RFC 5798 §6.1 (v3: skew scales with the interval) / RFC 3768 §6.1 (v2: seconds)."""
    skew = (256 - lowest_priority) / 256 * (advert_s if version == 3 else 1.0)
    return Bounds(advert_s, 3 * advert_s + skew, skew)


Sample = Tuple[float, float, FrozenSet[Optional[int]]]
Interval = Tuple[str, float, float]
License = Tuple[str, float, float, Applied]


def samples(requests: Sequence[float], replies: Sequence[Tuple[float, str]],
            node_of: Callable[[str], Optional[int]]) -> List[Sample]:
    out: List[Sample] = []
    replies = sorted(replies)
    j = 0
    for k in range(len(requests) - 1):
        lo, hi = requests[k], requests[k + 1]
        owners = set()
        while j < len(replies) and replies[j][0] < hi:
            if replies[j][0] >= lo:
                owners.add(node_of(replies[j][1]))
            j += 1
        out.append((lo, hi, frozenset(owners)))
    return out


def intervals(history: Sequence[Sample]) -> List[Interval]:
    """("none" | "dual", start, end) for every maximal run of such samples."""
    out: List[Interval] = []
    for lo, hi, owners in history:
        kind = "none" if not owners else "dual" if len(owners) > 1 else ""
        if kind and out and out[-1][0] == kind and abs(out[-1][2] - lo) < 1e-9:
            out[-1] = (kind, out[-1][1], hi)
        elif kind:
            out.append((kind, lo, hi))
    return out


def licenses(faults: Sequence[Applied], b: Bounds) -> List[License]:
    adv, MD, SK, S = b.advert_s, b.master_down_s, b.skew_s, b.slack_s
    out: List[License] = []
    for f in faults:
        s, e = f.start, f.end

        def lic(kinds: str, lo: float, hi: float, f: Applied = f) -> None:
            for kind in kinds.split():
                out.append((kind, lo, hi, f))

        after = MD + adv + S
        if f.kind == "kill":
            lic("none dual", s, e + after)
        elif f.kind == "freeze":
            lic("dual", s, e + adv + S)
            lic("none", e, e + adv + S)
        elif f.kind == "link":
            lic("none", s, s + MD + S)
            lic("none dual", e, e + after)
        elif f.kind in ("partition", "split"):
            lic("dual", s, e + adv + S)
            lic("none", e, e + adv + S)
        elif f.kind == "standby":
            lic("none", s, s + SK + S)
            lic("none dual", e, e + after)
        elif f.kind == "takeover":
            lic("dual", s, s + adv + S)
            lic("none dual", e, e + after)
        elif f.kind == "track":
            lic("none", s, s + TRACK_POLL_S + SK + S)
            lic("none dual", e, e + TRACK_POLL_S + after)
        elif f.kind == "netem":
            lic("none dual", s, e + after)
    return out


def _uncovered(lo: float, hi: float, spans: List[Tuple[float, float]]) -> float:
    """Length of [lo, hi) that no span covers."""
    left, cur = 0.0, lo
    for a, z in sorted(spans):
        if z <= cur:
            continue
        if a > cur:
            left += min(a, hi) - cur
        cur = max(cur, z)
        if cur >= hi:
            break
    return left + max(0.0, hi - cur)


def violations(found: Sequence[Interval], lic: Sequence[License]) -> List[Dict[str, object]]:
    out: List[Dict[str, object]] = []
    for kind, lo, hi in found:
        spans = [(a, z) for k, a, z, _f in lic if k == kind and z > lo and a < hi]
        left = _uncovered(lo, hi, spans)
        if left > RESOLUTION_S:
            out.append({"kind": kind, "start": lo, "end": hi, "unlicensed_s": round(left, 3)})
    return out


def in_force(faults: Sequence[Applied], lo: float, hi: float, margin: float) -> List[str]:
    return [f.text for f in faults if f.start < hi + margin and f.end + margin > lo]


def summary(found: Sequence[Interval]) -> Dict[str, float]:
    out: Dict[str, float] = {}
    for kind in ("none", "dual"):
        durations = [hi - lo for k, lo, hi in found if k == kind]
        out[f"{kind}_total_s"] = round(sum(durations), 3)
        out[f"{kind}_worst_s"] = round(max(durations, default=0.0), 3)
    return out


def http_outages(records: Sequence[Sequence[object]]) -> Dict[str, float]:
    """The client's HTTP GETs to the VIP ([t, answer], "" = none): unanswered stretches.

    A figure, not checked against a bound: what a client sees also depends on
    its ARP cache, the GARPs and TCP's own retries.
    """
    stretches: List[float] = []
    began: Optional[float] = None
    for t, answer in records:
        if not answer and began is None:
            began = float(t)  # type: ignore[arg-type]
        elif answer and began is not None:
            stretches.append(float(t) - began)  # type: ignore[arg-type]
            began = None
    return {"http_requests": len(records),
            "http_unanswered_total_s": round(sum(stretches), 3),
            "http_unanswered_worst_s": round(max(stretches, default=0.0), 3)}
