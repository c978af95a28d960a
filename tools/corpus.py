#!/usr/bin/env python3
"""Run the agent's `check-config --offline` on every file of the real-world corpus.

Usage: PYTHONPATH=files/agent python3 tools/corpus.py [--dir tests/fixtures/corpus] [--verbose]

Prints how many files pass and, for the rest, the first error grouped by the
keyword it names (the first quoted word of the message, else "other"). The
corpus and its ORIGINS / EXPECTED files are described in tests/fixtures/corpus/ORIGINS;
tests/unit/test_corpus.py holds every file to its line in EXPECTED.

Rules:
- The check is the agent's own command (vrrp_agent.cli.main), run in-process
  with --offline: the corpus comes from other hosts, whose interfaces are not ours.
- Exit status 0 always: this is a report, the unit test is the gate.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

CORPUS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                                      "tests", "fixtures", "corpus"))
SIDE_FILES = {"ORIGINS", "EXPECTED"}
_QUOTED = re.compile(r"'([^'\s]+)'")


def corpus_files(directory: str = CORPUS) -> List[str]:
    return sorted(os.path.join(directory, name) for name in os.listdir(directory)
                  if name not in SIDE_FILES and not name.startswith("."))


def check_file(path: str) -> Tuple[bool, Optional[str]]:
    """(passed, first error line without the FILE: prefix, or None)."""
    from vrrp_agent.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["check-config", "--offline", "-f", path])
    errors = [line for line in err.getvalue().splitlines() if line and not line.startswith("warning:")]
    if code == 0:
        return True, None
    first = errors[0] if errors else f"exit status {code} without a message"
    return False, first.split(": ", 1)[1] if first.startswith(path) else first


def keyword_of(message: str) -> str:
    found = _QUOTED.search(message)
    return found.group(1) if found else "other"


def report(directory: str, verbose: bool) -> str:
    files = corpus_files(directory)
    groups: Dict[str, List[Tuple[str, str]]] = defaultdict(list)
    passed = 0
    for path in files:
        ok, message = check_file(path)
        if ok:
            passed += 1
            continue
        assert message is not None
        groups[keyword_of(message)].append((os.path.basename(path), message))
    lines = [f"corpus: {passed}/{len(files)} files pass check-config "
             f"({100.0 * passed / max(1, len(files)):.0f}%)"]
    for keyword, hits in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        lines.append(f"  {len(hits):3d}  {keyword}")
        for name, message in hits if verbose else hits[:1]:
            lines.append(f"         {name}: {message}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=CORPUS)
    parser.add_argument("--verbose", "-v", action="store_true", help="every file, not one per keyword")
    args = parser.parse_args(argv)
    print(report(args.dir, args.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
