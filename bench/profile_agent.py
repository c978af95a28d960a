"""Profile the agent (cProfile) as master and backup of N instances at 0.1 s.

    PYTHONPATH=files/agent python bench/profile_agent.py [--instances 255] [--seconds 20]

Starts the agent on two lab nodes under `python -m cProfile`, lets them run,
stops them with SIGTERM (cProfile writes on exit) and prints the top functions
by internal time for each role. A developer tool: what bench/cpu.py measures,
this explains.
"""

from __future__ import annotations

import argparse
import pstats
import sys
import time
from typing import List, Optional

from common import AGENT_ARGS, Agent, Lab, wait_until
from cpu import config


class ProfiledAgent(Agent):
    def argv(self) -> list:
        out = str(self.lab.logdir / f"{self.node.label}.prof")
        self.profile_path = out
        base = super().argv()
        return [base[0], "-m", "cProfile", "-o", out, *base[1:]]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=255)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    n = args.instances
    with Lab(nodes=2, client=False) as lab:
        agents = {role: ProfiledAgent(lab.node(node), config(n, prio), extra_args=AGENT_ARGS)
                  for role, node, prio in (("master", 1, 150), ("backup", 2, 100))}
        wait_until(lambda: lab.node(1).has_address(f"203.0.113.{n}"), 60)
        time.sleep(args.seconds)
        for role, agent in agents.items():
            agent.stop(30)
            print(f"==== {role} ({n} instances, {args.seconds:.0f} s + start-up)")
            pstats.Stats(agent.profile_path).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
