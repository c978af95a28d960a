"""The real-world corpus (tests/fixtures/corpus): each file passes check-config or fails as EXPECTED says."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "fixtures" / "corpus"
sys.path.insert(0, str(REPO / "tools"))

import corpus  # noqa: E402

KINDS = {"mistake", "not-vrrp", "decision", "pending"}
FILES = [Path(p).name for p in corpus.corpus_files(str(CORPUS))]


def _table(name: str, columns: int) -> Dict[str, Tuple[str, ...]]:
    rows = {}
    for line in (CORPUS / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            fields = tuple(line.split("\t"))
            assert len(fields) == columns, f"{name}: {line!r} needs {columns} tab-separated fields"
            rows[fields[0]] = fields[1:]
    return rows


EXPECTED = _table("EXPECTED", 4)


def test_every_file_has_its_origin_and_the_corpus_is_large_enough():
    origins = _table("ORIGINS", 4)
    assert sorted(origins) == FILES
    assert all(len(commit.split()[0]) == 40 for _repo, _path, commit in origins.values())
    assert len(FILES) >= 50


@pytest.mark.parametrize("name", FILES)
def test_corpus_file_passes_or_fails_as_expected(name):
    ok, message = corpus.check_file(str(CORPUS / name))
    if name not in EXPECTED:
        assert ok, f"{name} should pass check-config, got: {message}"
        return
    kind, match, why = EXPECTED[name]
    assert kind in KINDS and why
    assert not ok, f"{name} passes now: remove its EXPECTED line ({kind}: {why})"
    assert match in message, f"{name}: expected an error with {match!r}, got {message!r}"
    if kind == "not-vrrp":
        assert "vrrp_engine: keepalived" in message


def test_no_expected_line_for_a_missing_file():
    assert sorted(set(EXPECTED) - set(FILES)) == []
