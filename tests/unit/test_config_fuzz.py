"""Generated and mutated keepalived.conf text never makes the loader raise anything but ConfigError.

Two sources: a grammar-aware hypothesis strategy (the keywords the parser knows,
the ones it refuses, and unknown ones; arguments from a vocabulary of edge
values; nested blocks) and byte/line/token mutations of every fixture. What
check-config --offline, `run` (load_config) and `reload` (the same loader, then
the running daemon: tests/unit/test_daemon_fake.py) go through is
`validation.validate`; whatever it is given, it returns or raises ConfigError,
and a ConfigError always names FILE:LINE.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vrrp_agent.config.instance import HANDLERS, NOT_IMPLEMENTED
from vrrp_agent.config.parser import GLOBAL_HANDLERS, NOT_IMPLEMENTED_GLOBAL
from vrrp_agent.errors import ConfigError
from vrrp_agent.validation import validate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TOP = ["global_defs", "vrrp_instance", "vrrp_script", "vrrp_track_file", "vrrp_sync_group",
       "vrrp_track_process", "include", "virtual_server", "bogus_top"]
WORDS = ["0", "1", "-1", "255", "256", "3", "0.1", "1e9", "-0", "nan", "inf", "40.96", "0x10",
         "198.51.100.100", "198.51.100.100/24", "198.51.100.100/33", "2001:db8::1/64", "::",
         "224.0.0.18", "ff02::12", "eth0", "lo", "dev", "label", "scope", "brd", "+", "-",
         "MASTER", "BACKUP", "PASS", "AH", "weight", "reverse", "on", "off", "true", "maybe",
         "VI_1", "VI_2", '"/bin/true x"', '"unterminated', "'q'", "{", "}", "!", "#", "\\",
         "user", "root", "nobody", "é", "\x00", "a" * 300]


def _keyword() -> st.SearchStrategy[str]:
    known = sorted(HANDLERS) + sorted(NOT_IMPLEMENTED) + sorted(GLOBAL_HANDLERS)
    known += sorted(NOT_IMPLEMENTED_GLOBAL) + ["virtual_ipaddress", "track_script", "group"]
    return st.one_of(st.sampled_from(known), st.sampled_from(TOP),
                     st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12))


@st.composite
def statement(draw, depth: int = 0) -> str:
    words = [draw(_keyword())] + draw(st.lists(st.sampled_from(WORDS), max_size=4))
    line = " ".join(words)
    if depth < 2 and draw(st.booleans()):
        inner = draw(st.lists(statement(depth + 1), max_size=5))
        return line + " {\n" + "".join("    " + s for s in inner) + "}\n"
    return line + "\n"


@st.composite
def config_text(draw) -> str:
    blocks = draw(st.lists(statement(), min_size=1, max_size=6))
    return "".join(blocks)


def _check(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.conf"
    path.write_text(text, errors="surrogateescape")
    try:
        validate(str(path), None, interfaces_required=False)
    except ConfigError as exc:
        assert re.match(r".+:\d+: ", str(exc)) or "fuzz.conf" in str(exc), str(exc)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=config_text())
def test_generated_configs_load_or_raise_config_error_with_file_line(tmp_path, text):
    _check(tmp_path, text)


def _fixtures():
    return sorted(p for p in FIXTURES.rglob("*.conf") if p.is_file())


def _mutate(rng: random.Random, text: str) -> str:
    lines = text.splitlines(keepends=True) or [""]
    op = rng.randrange(8)
    i = rng.randrange(len(lines))
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(i, lines[rng.randrange(len(lines))])
    elif op == 2:
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == 3:
        lines[i] = re.sub(r"\d+", lambda m: str(rng.choice([0, -1, 256, 65536, 10**12])), lines[i])
    elif op == 4:
        words = lines[i].split()
        if words:
            words[rng.randrange(len(words))] = rng.choice(WORDS)
        lines[i] = " ".join(words) + "\n"
    elif op == 5:
        text = "".join(lines)
        cut = rng.randrange(len(text) + 1)
        return text[:cut]
    elif op == 6:
        pos = rng.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:pos] + rng.choice(["{", "}", '"', "\x00", "\udcff", "\t", "\\"]) + lines[i][pos:]
    else:
        lines[i] = lines[i].replace("{", "").replace("}", "")
    return "".join(lines)


def test_mutated_fixtures_load_or_raise_config_error(tmp_path):
    rng = random.Random(15)
    fixtures = _fixtures()
    assert len(fixtures) >= 50
    for path in fixtures:
        text = path.read_text()
        for _ in range(12):
            for _ in range(rng.randint(1, 3)):
                text = _mutate(rng, text)
            _check(tmp_path, text)
