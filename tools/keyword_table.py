#!/usr/bin/env python3
"""Print the keyword table of docs/config.md from tests/unit/keyword_registry.py (--write: update it).

Usage: PYTHONPATH=files/agent python3 tools/keyword_table.py [--write]

One row per keyword of the agent's tables: where it goes, and supported /
accepted as a no-op / refused, with the reason. The rows are between the
BEGIN/END markers of docs/config.md; tests/unit/test_keyword_registry.py
fails when they differ from what this prints.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, List, Optional

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
DOC = os.path.join(ROOT, "docs", "config.md")
BEGIN, END = "<!-- keyword table: BEGIN (tools/keyword_table.py --write) -->", "<!-- keyword table: END -->"
SCOPES = {"top": "top level", "global": "global_defs", "instance": "vrrp_instance",
          "vip": "virtual_ipaddress option", "track_process": "vrrp_track_process"}


def _foreign(scope: str, keyword: str) -> Optional[str]:
    from vrrp_agent.config import decided, foreign

    table: Dict[str, object] = {"top": foreign.TOP_LEVEL, "global": {**foreign.GLOBAL, **decided.GLOBAL},
                                "instance": {**foreign.INSTANCE, **decided.INSTANCE}}.get(scope, {})
    noops: Dict[str, object] = {"top": foreign.NOOP_TOP_LEVEL, "global": foreign.NOOP_GLOBAL,
                                "instance": foreign.NOOP_INSTANCE}.get(scope, {})
    if keyword in table:
        what, todo = table[keyword]  # type: ignore[misc]
        return f"refused: {what}; {todo}"
    if keyword in noops:
        reason, _warn = noops[keyword]  # type: ignore[misc]
        return f"accepted, no effect: {reason}"
    return None


def status(scope: str, keyword: str, entry: str) -> str:
    named = _foreign(scope, keyword)
    if named is not None:
        return named
    if entry.startswith("noop: "):
        return "accepted, no effect: " + entry[len("noop: "):]
    if entry.startswith("refused: "):
        return entry
    if entry.startswith("pending: "):
        return "refused for now (being implemented, issue 13)"
    return "supported"


def rows() -> List[str]:
    sys.path.insert(0, os.path.join(ROOT, "tests", "unit"))
    from keyword_registry import REGISTRY

    out = ["| keyword | where | status |", "|---|---|---|"]
    for key in sorted(REGISTRY, key=lambda k: (list(SCOPES).index(k.split(":")[0]), k.split(":")[1])):
        scope, keyword = key.split(":", 1)
        text = status(scope, keyword, REGISTRY[key]).replace("|", "\\|")
        out.append(f"| `{keyword}` | {SCOPES[scope]} | {text} |")
    return out


def current_doc_rows() -> List[str]:
    with open(DOC) as fh:
        text = fh.read()
    if BEGIN not in text or END not in text:
        return []
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip().splitlines()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/config.md")
    args = parser.parse_args(argv)
    table = "\n".join(rows())
    if not args.write:
        print(table)
        return 0
    with open(DOC) as fh:
        text = fh.read()
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(DOC, "w") as fh:
        fh.write(f"{head}{BEGIN}\n{table}\n{END}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
