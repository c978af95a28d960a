"""`make flood`: what a master sends back under a flood of foreign protocol-112 traffic.

A v3 0.1 s pair (priorities 150 / 100); the client sends SECONDS x RATE
datagrams (tests/lab/flood.py: a third malformed, a third valid lower-priority
adverts, a third valid priority-0 adverts). Counted: the master's adverts and
ARPs on the wire, the kernel's socket drops in both namespaces, the backup's
state changes. For the agent of this checkout, for the agent as it was at
--before (a git commit, default the merge base with main, when given) and for
keepalived. Figures, never assertions. Run as root.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))

import agentlab  # noqa: E402
import docsection  # noqa: E402
import flood  # noqa: E402
from netlab import Lab  # noqa: E402


def one(engine: str, seconds: float, rate: int, agent_dir: Optional[Path] = None) -> Dict[str, Any]:
    saved = agentlab.AGENT_DIR
    if agent_dir is not None:
        agentlab.AGENT_DIR = agent_dir
    try:
        with Lab(nodes=2) as lab:
            if engine == "keepalived":
                daemons = flood.keepalived_pair(lab)
                transitions = flood.keepalived_transitions(daemons[2])
            else:
                daemons = flood.agent_pair(lab)
                transitions = flood.agent_transitions(daemons[2])
            result = flood.measure(lab, transitions, seconds, rate)
            if engine != "keepalived" and agent_dir is None:
                result["agent_status_socket_drops"] = daemons[1].status()["agent"]["socket_drops"]
            return result
    finally:
        agentlab.AGENT_DIR = saved


def checkout(commit: str, into: Path) -> Path:
    """files/agent of `commit`, extracted under `into` (git archive)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "files/agent"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "files" / "agent"


def markdown(rows: Dict[str, Dict[str, Any]], seconds: float, rate: int) -> str:
    out: List[str] = [
        "## Floods: the master is not an amplifier",
        "",
        f"Produced by `make flood` (bench/flood.py) on {time.strftime('%Y-%m-%d', time.gmtime())}: "
        f"a v3 0.1 s pair, {rate:,} pkt/s for {seconds:g} s from a foreign source "
        "(a third malformed, a third valid lower-priority adverts, a third valid priority-0 "
        "adverts). Counted on the master's eth0 (its own adverts and ARPs only) and in "
        "/proc/net/raw of each namespace.",
        "",
        "| engine | adverts sent | ARPs sent | master socket drops | backup socket drops | "
        "backup state changes | master kept the VIP |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        out.append(f"| {name} | {r['master_adverts']:,} | {r['master_arps']:,} | "
                   f"{r['master_socket_drops']:,} | {r['backup_socket_drops']:,} | "
                   f"{r['backup_transitions']} | {r['master_kept_vip']} |")
    out += [
        "",
        "Without a flood the master sends 10 adverts a second. The bounds (files/agent/"
        "vrrp_agent/answers.py): at most one answer advert per advert interval on top of "
        "the periodic one, whether the foreign advert had a lower priority or priority 0 "
        "(RFC 5798 §6.4.3 asks for an answer and a reset Adver_Timer; the budget keeps the "
        "answer, not one per packet); one lower-priority episode per "
        "max(`garp_lower_prio_delay`, 1 s): one GARP burst of `garp_lower_prio_repeat` at "
        "once, the delayed one, one `notify_master_rx_lower_pri` run, one log line "
        "(keepalived does all of it for every packet). A backup honours a priority 0 only "
        "from the best master it heard within the last Master_Down_Interval (RFC 5798 "
        "§6.4.2 says any; under such a stream a backup would otherwise take over every "
        "Skew_Time once the master stops answering each packet).",
        "",
        "```json",
        json.dumps(rows, indent=2),
        "```",
    ]
    return "\n".join(out)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=10000)
    parser.add_argument("--before", metavar="COMMIT", help="also measure the agent of COMMIT")
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("the flood bench needs root (network namespaces)", file=sys.stderr)
        return 2
    rows: Dict[str, Dict[str, Any]] = {}
    if args.before:
        with tempfile.TemporaryDirectory(prefix="vrrp-flood-") as tmp:
            rows[f"agent before ({args.before[:12]})"] = one(
                "agent", args.seconds, args.rate, checkout(args.before, Path(tmp)))
    rows["agent"] = one("agent", args.seconds, args.rate)
    rows["keepalived 2.2.7"] = one("keepalived", args.seconds, args.rate)
    text = markdown(rows, args.seconds, args.rate)
    print(text)
    if args.write:
        docsection.replace_section(Path(args.write), "flood", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
