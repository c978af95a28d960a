"""`make reliability`: the full reliability suite, counts written to docs/reliability.md.

A million bad packets on the wire, 100 partition/heal cycles, 100 SIGKILL/restart
cycles of the master, 100 reloads under ping load, and the invalid-config
corpus. The shortened version runs in `make test` (tests/lab/test_reliability.py).
Run as root.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))

import docsection  # noqa: E402
import reliability  # noqa: E402
from netlab import Lab  # noqa: E402


def run(counts: Dict[str, int]) -> Dict[str, Any]:
    results: Dict[str, Any] = {}
    with Lab(nodes=2) as lab:
        agents = reliability.v2_cluster(lab)
        results["garbage"] = reliability.garbage(lab, agents, counts["packets"])
        print("garbage", results["garbage"], flush=True)
    with Lab(nodes=2) as lab:
        agents = reliability.cluster(lab)
        results["partition"] = reliability.partition(lab, agents, counts["partitions"])
        print("partition", results["partition"], flush=True)
    with Lab(nodes=2) as lab:
        agents = reliability.cluster(lab)
        results["sigkill"] = reliability.sigkill(lab, agents, counts["kills"])
        print("sigkill", results["sigkill"], flush=True)
    with Lab(nodes=2) as lab:
        agents = reliability.cluster(lab)
        results["reloads"] = reliability.reloads(lab, agents, counts["reloads"])
        print("reloads", results["reloads"], flush=True)
    results["invalid_configs"] = reliability.invalid_configs(REPO / "tests" / "fixtures" / "invalid")
    print("invalid_configs", results["invalid_configs"], flush=True)
    return results


def markdown(results: Dict[str, Any]) -> str:
    g, p, k, r, c = (results[x] for x in ("garbage", "partition", "sigkill", "reloads",
                                          "invalid_configs"))
    rows: List[str] = [
        "| check | result |", "|---|---|",
        f"| {g['sent']:,} malformed/foreign protocol-112 packets at a running v2 pair | "
        f"{g['crashes']} crashes, {g['state_changes']} state changes, "
        f"{g['discards_counted']:,} discards counted by the two agents together (each receives "
        f"every packet; what is missing of 2 x {g['sent']:,} was dropped by the kernel's socket queue) |",
        f"| {p['cycles']} partition/heal cycles (v3, 0.1 s) | exactly one master after every heal; "
        f"slowest {p['worst_s']} s (master-down {p['master_down_s']} s); "
        f"{p['over_master_down']} over master-down |",
        f"| {k['cycles']} SIGKILL/restart cycles of the master (v3, 0.1 s) | longest client ping gap "
        f"{k['worst_gap_s']} s (bound: master-down + 50 ms = {k['bound_s']} s); "
        f"{k['two_owners_after_convergence']} times two owners after convergence |",
        f"| {r['reloads']} reloads under ping load (10 ms) | {r['failed']} failed; "
        f"{r['pings_lost']} pings lost; longest ping gap {r['longest_ping_gap_s']} s; "
        f"VIP held: {r['vip_held']} |",
        f"| {c['configs']} invalid configs | {c['rejected']} rejected, {c['with_file_line']} with "
        f"FILE:LINE, {c['tracebacks']} tracebacks |",
    ]
    return "\n".join(rows)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--reloads", type=int, default=100)
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("the reliability suite needs root (network namespaces)", file=sys.stderr)
        return 2
    results = run(vars(args))
    text = markdown(results)
    print(text)
    if args.write:
        kept = docsection.sections(Path(args.write).read_text()) if Path(args.write).exists() else {}
        Path(args.write).write_text(
            "# Reliability\n\nProduced by `make reliability` (bench/reliability.py) on "
            f"{time.strftime('%Y-%m-%d', time.gmtime())}; a shortened version runs in "
            "`make test`.\n\n" + text + "\n\nRaw counts:\n\n```json\n"
            + json.dumps(results, indent=2) + "\n```\n"
            + "".join(f"\n{block}\n" for block in kept.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
