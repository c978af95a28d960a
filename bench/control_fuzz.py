"""`make control-fuzz`: the master's advert gaps while hostile clients hit its control socket.

A v3 0.1 s agent pair; for SECONDS the master's control socket gets malformed,
oversized, slow and concurrent clients all at once (tests/lab/ctlfuzz.py), then
the same time without them; the master's adverts are captured on its eth0 and
the gaps between them compared with the interval. Figures, never assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))

import ctlfuzz  # noqa: E402
import docsection  # noqa: E402
import flood  # noqa: E402
from netlab import Lab  # noqa: E402


def _gaps(lab: Lab, seconds: float, hostile: Optional[str]) -> Dict[str, Any]:
    node = lab.node(1)
    cap = lab.capture(node, "eth0", f"ip proto 112 and src host {node.ip4}", name=f"gaps-{bool(hostile)}")
    counts: Dict[str, int] = {}
    if hostile:
        counts = ctlfuzz.hammer(hostile, seconds)
    else:
        time.sleep(seconds)
    cap.terminate()
    cap.wait(10)
    lines = subprocess.run(["tcpdump", "-n", "-tt", "-r", str(cap.pcap_path)], capture_output=True,  # type: ignore[attr-defined]
                           text=True, timeout=60).stdout.splitlines()
    gaps = ctlfuzz.advert_gaps(lines)
    return {"adverts": len(gaps) + 1, "worst_gap_s": round(max(gaps, default=0.0), 3),
            "median_gap_s": round(statistics.median(gaps), 3) if gaps else None,
            "gaps_over_interval": sum(g > 0.1 * 1.5 for g in gaps), "clients": counts}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    with Lab(nodes=2) as lab:
        agents = flood.agent_pair(lab)
        before = agents[2].instance()["counters"]["transitions"]
        idle = _gaps(lab, args.seconds, None)
        hostile = _gaps(lab, args.seconds, agents[1].socket)
        hostile["backup_transitions"] = agents[2].instance()["counters"]["transitions"] - before
        hostile["master_alive"] = agents[1].running
    text = "\n".join([
        "## Control socket under fuzz",
        "",
        "Produced by `make control-fuzz` (bench/control_fuzz.py) on "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}: "
        f"a v3 0.1 s agent pair; {args.seconds:g} s of malformed, oversized (70-300 KB lines), slow "
        "(40 half-open connections sending a byte a second) and concurrent (8 clients asking "
        "`status` back to back) clients on the master's control socket, against the same time "
        "without them. Gaps between the master's adverts on its eth0.",
        "",
        "| clients | adverts | median gap (s) | worst gap (s) | gaps over 1.5 x interval "
        "| backup took over |",
        "|---|---|---|---|---|---|",
        f"| none | {idle['adverts']} | {idle['median_gap_s']} | {idle['worst_gap_s']} | "
        f"{idle['gaps_over_interval']} | - |",
        f"| hostile | {hostile['adverts']} | {hostile['median_gap_s']} | {hostile['worst_gap_s']} | "
        f"{hostile['gaps_over_interval']} | {hostile['backup_transitions']} times |",
        "",
        f"Client work done meanwhile: `{json.dumps(hostile['clients'])}`; the master was "
        f"{'running' if hostile['master_alive'] else 'DEAD'} afterwards. The fuzz found one bug, "
        "fixed: a request of 60,000 nested arrays made json.loads raise RecursionError, which "
        "killed that client's task without an answer (now: \"request is nested too deeply\").",
    ])
    print(text)
    if args.write:
        docsection.replace_section(Path(args.write), "control-fuzz", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
