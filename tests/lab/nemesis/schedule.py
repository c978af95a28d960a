"""The nemesis schedule: a seeded, replayable list of overlapping faults. Pure.

Rules:
- `make_schedule(seed, spec, duration_s)` depends on nothing but its
  arguments: the same seed and spec give the same faults, to the
  microsecond (random.Random(seed), no clock, no environment).
- A fault starts a few seconds after the previous one (1.5-4 s) and lasts
  0.5-6 s, so faults overlap. At most `nodes - 1` nodes are under a
  node-level fault (kill, freeze, link, partition, standby, track) at any
  moment, so some node can always hold the VIP; wire-level faults (netem,
  garbage bursts) and reloads overlap freely.
- Operator commands (takeover/standby/release) and invalid reloads are
  agent-only; on a keepalived node the scheduler picks another kind.
- Everything is healed by `duration_s`; the run then settles.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence, Tuple

NODE_KINDS = ("kill", "freeze", "link", "partition", "standby", "track", "takeover")
WIRE_KINDS = ("netem", "garbage", "reload", "reload_invalid", "split")
AGENT_ONLY = ("standby", "takeover", "reload_invalid")
NETEM_SHAPES = ("loss", "delay", "jitter", "reorder", "duplicate")


@dataclass(frozen=True)
class Spec:
    """The cluster a schedule is for (also what the runner builds)."""

    engines: Tuple[str, ...]
    """Per node, "agent" or "keepalived"; node i+1 has priority PRIORITIES[i]."""
    version: int = 3
    advert_int: float = 0.1
    unicast: bool = False

    @property
    def nodes(self) -> int:
        return len(self.engines)

    def label(self) -> str:
        mix = "+".join(f"{self.engines.count(e)}{e[0]}" for e in ("agent", "keepalived")
                       if e in self.engines)
        return (f"{self.nodes} nodes ({mix}) v{self.version} {self.advert_int:g} s "
                f"{'unicast' if self.unicast else 'multicast'}")


PRIORITIES = (200, 150, 120, 100, 90)


@dataclass(frozen=True)
class Fault:
    kind: str
    start: float
    end: float
    nodes: Tuple[int, ...] = ()
    """The nodes it acts on (1-based); `split`: the first group."""
    params: Dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        extra = " ".join(f"{k}={v:g}" for k, v in sorted(self.params.items()))
        who = ",".join(f"n{n}" for n in self.nodes)
        return f"{self.kind}({who}{' ' + extra if extra else ''}) {self.start:.2f}-{self.end:.2f}s"


def _netem(rng: random.Random) -> Dict[str, float]:
    shape = rng.choice(NETEM_SHAPES)
    if shape == "loss":
        return {"loss_pct": float(rng.randint(5, 50))}
    if shape == "delay":
        return {"delay_ms": float(rng.randint(5, 150))}
    if shape == "jitter":
        return {"delay_ms": float(rng.randint(20, 100)), "jitter_ms": float(rng.randint(5, 60))}
    if shape == "reorder":
        return {"delay_ms": float(rng.randint(10, 50)), "reorder_pct": float(rng.randint(10, 50))}
    return {"duplicate_pct": float(rng.randint(10, 50))}


def _busy(faults: List[Fault], at: float, until: float) -> set:
    """Nodes under a node-level fault at some moment of [at, until]."""
    return {n for f in faults if f.kind in NODE_KINDS and f.start < until and at < f.end
            for n in f.nodes}


def make_schedule(seed: int, spec: Spec, duration_s: float) -> List[Fault]:
    rng = random.Random(seed)
    faults: List[Fault] = []
    t = rng.uniform(1.5, 3.0)
    agents = [i + 1 for i, e in enumerate(spec.engines) if e == "agent"]
    while t < duration_s - 2.0:
        length = min(rng.uniform(0.5, 6.0), duration_s - 1.0 - t)
        kind = rng.choice(NODE_KINDS + WIRE_KINDS)
        if kind in AGENT_ONLY and not agents:
            kind = rng.choice(("kill", "freeze", "link", "reload"))
        fault = _make(rng, kind, t, t + length, spec, agents, faults)
        if fault is not None:
            faults.append(fault)
        t += rng.uniform(1.5, 4.0)
    return faults


def _make(rng: random.Random, kind: str, start: float, end: float, spec: Spec,
          agents: List[int], faults: List[Fault]) -> Fault | None:
    all_nodes = list(range(1, spec.nodes + 1))
    if kind in NODE_KINDS:
        busy = _busy(faults, start, end)
        pool = [n for n in (agents if kind in AGENT_ONLY else all_nodes) if n not in busy]
        if not pool or len(busy) + 1 > spec.nodes - 1:
            return None
        node = rng.choice(pool)
        return Fault(kind, start, end, (node,))
    if kind == "split":
        if _busy(faults, start, end):
            return None
        group = tuple(sorted(rng.sample(all_nodes, rng.randint(1, spec.nodes - 1))))
        return Fault(kind, start, end, group)
    if kind == "netem":
        return Fault(kind, start, end, (rng.choice(all_nodes),), _netem(rng))
    if kind == "garbage":
        return Fault(kind, start, start + 0.5, (), {"packets": float(rng.randint(500, 5000))})
    if kind == "reload_invalid":
        return Fault(kind, start, start + 0.5, (rng.choice(agents),))
    return Fault(kind, start, start + 0.5, (rng.choice(all_nodes),))  # reload


def count_by_kind(faults: Sequence[Any]) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for f in faults:
        out[f.kind] = out.get(f.kind, 0) + 1
    return out


def for_keepalived(faults: List[Fault]) -> List[Fault]:
    """The same schedule for an all-keepalived cluster: agent-only faults dropped."""
    return [f for f in faults if f.kind not in AGENT_ONLY]
