"""`make bench`: every measurement family, the agent beside keepalived 2.2.7, one run.

    PYTHONPATH=files/agent python bench/run.py [--quick] [--only failover,cpu,jitter]
                                               [--write docs/benchmarks.md]

Families: failover (bench/failover.py: failover, switchover, client-visible
outage), cpu (bench/cpu.py: CPU per 1000 adverts, RSS), jitter (bench/jitter.py:
advert jitter and spurious failovers at 0.01 s under a CPU hog), site
(bench/site_timing.py: site.yml on the podman lab, cold and rerun), routed
(bench/routed.py: event -> router route change -> client reply over BGP), vmac
(bench/vmac.py: failover and first GARP with use_vmac). --quick: one
run per point, v3 timers only, short windows (minutes instead of ~20). Prints
markdown; --write FILE writes it with the machine description. Run as root.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import List, Optional

import common
import cpu
import failover
import jitter
import routed
import site_timing
import targets
import vmac

FAMILIES = ("failover", "cpu", "jitter", "site", "routed", "vmac")
NOTES = Path(__file__).resolve().with_name("notes.md")


def run(families: List[str], quick: bool) -> List[str]:
    def progress(line: str) -> None:
        print(line, flush=True)

    sections = []
    fail = cpu_res = jit = None
    if "failover" in families:
        runs = 1 if quick else 3
        timers = [t for t in common.TIMERS if not quick or not t.startswith("v2")]
        fail = failover.measure(runs, timers, progress)
        sections.append("## Failover and switchover\n\n" + failover.tables(fail, runs))
    if "cpu" in families:
        seconds = 5.0 if quick else 15.0
        cpu_res = cpu.measure([1, 100, 255], seconds, progress, rounds=1 if quick else 3)
        sections.append("## CPU and memory\n\n" + cpu.tables(cpu_res, seconds))
    if "jitter" in families:
        seconds = 20.0 if quick else 300.0
        jit = jitter.measure(seconds, progress)
        sections.append("## Advert jitter and spurious failovers under load\n\n"
                        + jitter.tables(jit, seconds))
    if "routed" in families:
        runs = 1 if quick else 3
        sections.append("## Routed failover (announce bgp through FRR)\n\n"
                        + routed.tables(routed.measure(runs, progress), runs))
    if "site" in families:
        sections.append("## Deploying with site.yml\n\n" + site_timing.tables(site_timing.measure(progress)))
    if "vmac" in families:
        runs = 3 if quick else 5
        timers = ["v3 0.1 s"] if quick else list(common.TIMERS)
        sections.append("## Failover with use_vmac\n\n"
                        + vmac.tables(vmac.measure(runs, timers, progress), runs))
    sections.append("## Against the targets (issue 7)\n\n" + targets.table(fail, cpu_res, jit))
    return sections


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run per point, short windows")
    parser.add_argument("--only", default=",".join(FAMILIES),
                        help=f"comma-separated subset of {','.join(FAMILIES)}")
    parser.add_argument("--write", metavar="FILE", help="also write the results to FILE")
    args = parser.parse_args(argv)
    families = [f for f in args.only.split(",") if f]
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown families: {', '.join(unknown)} (choose from {', '.join(FAMILIES)})")
    if os.geteuid() != 0 or shutil.which("keepalived") is None or shutil.which("tcpdump") is None:
        print("bench needs root, keepalived and tcpdump (apt-get install keepalived tcpdump)",
              file=sys.stderr)
        return 2
    started = time.monotonic()
    sections = run(families, args.quick)
    body = "\n\n".join(sections)
    print()
    print(body)
    if args.write:
        notes = NOTES.read_text() if NOTES.exists() else ""
        doc = ("# Benchmarks: the agent beside keepalived\n\n"
               "Produced by `make bench` (bench/run.py"
               f"{' --quick' if args.quick else ''}, families: {', '.join(families)}); both "
               "daemons run in the same network-namespace lab in the same run. Figures are "
               "measurements, not assertions.\n\n"
               f"{common.machine()}\n- duration: {(time.monotonic() - started) / 60:.1f} min\n\n"
               f"{body}\n\n{notes}")
        Path(args.write).write_text(doc)
        print(f"\nwritten to {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
