"""Nothing parsed and ignored: every keyword of the agent's tables has a proof or a stated reason."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Dict, Set

from keyword_registry import REGISTRY
from vrrp_agent.config import decided, foreign, instance, parser, tracking, wire

REPO = Path(__file__).resolve().parents[2]
KINDS = ("noop: ", "refused: ", "pending: owned elsewhere (")


def table_keywords() -> Set[str]:
    """Every keyword the agent's tables know, as "SCOPE:KEYWORD"."""
    scopes: Dict[str, Set[str]] = {
        "top": ({"global_defs", "vrrp_instance", "include", "interface_up_down_delays"}
                | set(parser.OBJECT_PARSERS)
                | set(parser.STATIC_BLOCKS) | parser.NOT_IMPLEMENTED_TOP | set(foreign.TOP_LEVEL)
                | set(foreign.NOOP_TOP_LEVEL)),
        "global": (set(parser.GLOBAL_HANDLERS) | parser.NOT_IMPLEMENTED_GLOBAL | set(foreign.GLOBAL)
                   | set(foreign.NOOP_GLOBAL) | set(decided.GLOBAL)),
        "instance": (set(instance.HANDLERS) | instance.NOT_IMPLEMENTED | set(foreign.INSTANCE)
                     | set(foreign.NOOP_INSTANCE) | set(decided.INSTANCE) | set(wire.REFUSED)),
        "vip": ({"dev", "label", "scope", "brd", "broadcast", "preferred_lft"} | instance.VIP_FLAGS
                | instance.VIP_OPTIONS_NOT_IMPLEMENTED),
        "track_process": set(tracking.PROCESS_DELAYS),
    }
    return {f"{scope}:{kw}" for scope, kws in scopes.items() for kw in kws}


def _test_functions(path: Path) -> Dict[str, str]:
    source = path.read_text()
    return {node.name: ast.get_source_segment(source, node) or ""
            for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_every_table_keyword_has_a_registry_entry_and_no_entry_is_stale():
    known = table_keywords()
    assert sorted(known - set(REGISTRY)) == [], "keywords with no proof and no reason"
    assert sorted(set(REGISTRY) - known) == [], "registry entries for keywords no table has"


def test_every_referenced_test_exists_and_every_reason_is_said():
    cache: Dict[Path, Dict[str, str]] = {}
    for key, value in REGISTRY.items():
        if value.startswith(KINDS):
            reason = value.split(": ", 1)[1] if ": " in value else ""
            assert len(reason) > 10, f"{key}: a reason of a few words, please ({value!r})"
            continue
        path_text, _sep, name = value.partition("::")
        path = REPO / path_text
        assert path.is_file() and name.startswith("test_"), f"{key}: {value} is not a test reference"
        functions = cache.setdefault(path, _test_functions(path))
        assert name in functions, f"{key}: {path_text} has no {name}"


def _handled(scope: str, kw: str) -> bool:
    tables = {"top": parser.OBJECT_PARSERS, "global": parser.GLOBAL_HANDLERS, "instance": instance.HANDLERS}
    return kw in tables.get(scope, {})


def test_refused_and_pending_entries_are_not_handled_and_noops_are():
    for key, value in REGISTRY.items():
        scope, kw = key.split(":", 1)
        if value.startswith(("pending:", "refused:")):
            assert not _handled(scope, kw), f"{key} is handled now: point its entry to the test proving it"
        if value.startswith("noop:"):
            assert _handled(scope, kw), f"{key}: a no-op keyword still needs its (argument-checking) handler"


def test_docs_keyword_table_is_the_registry():
    sys.path.insert(0, str(REPO / "tools"))
    import keyword_table

    assert keyword_table.current_doc_rows() == keyword_table.rows(), \
        "docs/config.md is stale: run tools/keyword_table.py --write"
