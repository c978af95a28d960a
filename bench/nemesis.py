"""`make nemesis`: seeded, overlapping faults on mixed clusters for MINUTES, checked; table in docs.

Each round draws a fresh seed (printed), takes the next cluster spec in turn,
plays the schedule on it (agents, or agents mixed with keepalived 2.2.7), then
the same schedule on an all-keepalived cluster of the same size (agent-only
faults dropped), and checks both histories (tests/lab/nemesis/checker.py).
`--seed N --spec K` replays one round. Figures, never assertions. Run as root.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))

import docsection  # noqa: E402
from nemesis.checker import SLACK_S  # noqa: E402
from nemesis.runner import run  # noqa: E402
from nemesis.schedule import Spec, for_keepalived, make_schedule  # noqa: E402

SPECS = [
    Spec(("agent", "agent", "keepalived"), version=3, advert_int=0.1),
    Spec(("agent", "agent", "agent"), version=2, advert_int=1.0, unicast=True),
    Spec(("agent", "keepalived", "agent", "keepalived"), version=3, advert_int=1.0),
    Spec(("agent",) * 5, version=3, advert_int=0.1, unicast=True),
    Spec(("keepalived", "agent", "agent"), version=2, advert_int=1.0),
]


def one_round(seed: int, spec: Spec, duration: float) -> Dict[str, Any]:
    faults = make_schedule(seed, spec, duration)
    ours = run(seed, spec, duration, faults)
    keep_spec = Spec(("keepalived",) * spec.nodes, spec.version, spec.advert_int, spec.unicast)
    theirs = run(seed, keep_spec, duration, for_keepalived(faults))
    return {"seed": seed, "spec": spec.label(), "agent": ours, "keepalived": theirs}


def _aggregate(rounds: List[Dict[str, Any]], side: str) -> Dict[str, Any]:
    runs = [r[side] for r in rounds]
    kinds: Dict[str, int] = {}
    for r in runs:
        for k, n in r["faults"].items():
            kinds[k] = kinds.get(k, 0) + n
    return {
        "runs": len(runs), "faults": kinds,
        "none_total_s": round(sum(r["none_total_s"] for r in runs), 3),
        "none_worst_s": max((r["none_worst_s"] for r in runs), default=0.0),
        "dual_total_s": round(sum(r["dual_total_s"] for r in runs), 3),
        "dual_worst_s": max((r["dual_worst_s"] for r in runs), default=0.0),
        "http_total_s": round(sum(r.get("http_unanswered_total_s", 0.0) for r in runs), 3),
        "http_worst_s": max((r.get("http_unanswered_worst_s", 0.0) for r in runs), default=0.0),
        "violations": sum(len(r["violations"]) for r in runs),
        "not_converged": sum(not r["converged"] for r in runs),
        "skipped": sum(len(r.get("skipped", [])) for r in runs),
    }


def markdown(rounds: List[Dict[str, Any]], minutes: float, duration: float) -> str:
    ours, theirs = _aggregate(rounds, "agent"), _aggregate(rounds, "keepalived")
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(ours["faults"].items()))
    netem = all(r["agent"].get("netem", True) for r in rounds)
    out = [
        "## Nemesis: overlapping faults, checked against the protocol's bounds",
        "",
        f"Produced by `make nemesis` (bench/nemesis.py) on {time.strftime('%Y-%m-%d', time.gmtime())}: "
        f"{len(rounds)} rounds of {duration:g} s in {minutes:g} minutes, fresh seeds, the cluster "
        "specs in turn (3-5 nodes, agents alone or mixed with keepalived 2.2.7, v2/v3, "
        "multicast/unicast, 0.1 s and 1 s adverts), each schedule played on that cluster and "
        "again on an all-keepalived cluster of the same size (agent-only faults dropped). "
        "History: the client's ARP probe every 10 ms; bounds and licences: "
        "tests/lab/nemesis/checker.py (master-down after a silent master, skew time after a "
        "priority 0, nothing during a reload or a garbage burst, two owners only while a "
        "partition, loss, freeze or kill separates them and healed within one advert + "
        f"{SLACK_S:g} s slack after).",
        "",
        "| cluster | runs | no owner total / worst (s) | two owners total / worst (s) | "
        "HTTP unanswered total / worst (s) | violations | not converged |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, a in (("agent (alone or mixed)", ours), ("all keepalived, same schedules", theirs)):
        out.append(f"| {name} | {a['runs']} | {a['none_total_s']} / {a['none_worst_s']} | "
                   f"{a['dual_total_s']} / {a['dual_worst_s']} | "
                   f"{a['http_total_s']} / {a['http_worst_s']} | {a['violations']} | "
                   f"{a['not_converged']} |")
    out += ["", f"Faults injected (agent clusters): {kinds}. HTTP: the client's GET to the VIP "
            "every 10 ms (50 ms timeout), a figure only (it also depends on the client's ARP "
            "cache and TCP)."]
    if not netem:
        out.append("This kernel has no sch_netem: netem loss was emulated with iptables "
                   "(random drop of the node's adverts); the delay, jitter, reorder and duplicate "
                   f"shapes were skipped ({ours['skipped']} faults).")
    out += ["", "| seed | spec | master-down (s) | agent: no owner / two owners worst (s), "
            "violations | keepalived: same |", "|---|---|---|---|---|"]
    for r in rounds:
        a, k = r["agent"], r["keepalived"]
        out.append(f"| {r['seed']} | {r['spec']} | {a['bounds']['master_down_s']} | "
                   f"{a['none_worst_s']} / {a['dual_worst_s']}, {len(a['violations'])} | "
                   f"{k['none_worst_s']} / {k['dual_worst_s']}, {len(k['violations'])} |")
    bad = [(r["seed"], side, v) for r in rounds for side in ("agent", "keepalived")
           for v in r[side]["violations"]]
    if bad:
        out += ["", "Violations (replay: `bench/nemesis.py --seed SEED --spec K`):", ""]
        for seed, side, v in bad:
            out.append(f"- seed {seed} {side}: {v['kind']} {v['window_s']} s, "
                       f"{v['unlicensed_s']} s unlicensed; in force: "
                       f"{'; '.join(v['faults_in_force']) or 'nothing'}")
    return "\n".join(out)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--seed", type=int, help="replay one round with this seed")
    parser.add_argument("--spec", type=int, default=0, help=f"spec index 0..{len(SPECS) - 1}")
    parser.add_argument("--write", metavar="FILE")
    parser.add_argument("--json", metavar="FILE", help="also dump every round")
    parser.add_argument("--section", default="nemesis", help="docs section name (markers)")
    parser.add_argument("--title", default="", help="heading suffix, e.g. 'after the fix'")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("the nemesis needs root (network namespaces)", file=sys.stderr)
        return 2
    rounds: List[Dict[str, Any]] = []
    if args.seed is not None:
        rounds.append(one_round(args.seed, SPECS[args.spec], args.duration))
    else:
        end = time.monotonic() + args.minutes * 60
        k = 0
        while time.monotonic() < end:
            seed = random.SystemRandom().randrange(1, 2**31)
            rounds.append(one_round(seed, SPECS[k % len(SPECS)], args.duration))
            k += 1
    text = markdown(rounds, args.minutes, args.duration)
    if args.title:
        first, rest = text.split("\n", 1)
        text = f"{first} ({args.title})\n{rest}"
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(rounds, indent=2))
    if args.write:
        docsection.replace_section(Path(args.write), args.section, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
