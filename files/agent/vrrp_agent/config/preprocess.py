"""keepalived's line language, applied before tokens: `@id`, `$NAME=`, `$NAME`, `~SEQ`.

What keepalived 2.2.7 (lib/parser.c, read_line) does to each line, in its order:
- Line ends: "\\n" and "\\r\\n" (CRLF) alike. Bytes: UTF-8 (a BOM is skipped);
  a file that is not valid UTF-8 is read as latin-1 with a warning naming it
  (keepalived reads bytes; latin-1 keeps every byte, so nothing is lost).
- Leading blanks, comments (`!` or `#` outside double quotes) and trailing
  blanks go first.
- `@ID rest` keeps `rest` only when ID is the config id; `@^ID rest` only when
  it is not. The config id is keepalived's `-i/--config-id`, by default the
  host name up to its first dot (not the router_id).
- `$NAME=value` defines NAME (letters, digits, `_`; not starting with a digit).
  A value ending in `\\` continues on the next lines (a multi-line definition),
  up to a line without `\\` or an empty line.
- `$NAME` (followed by a blank, `,`, `)` or the line end) and `${NAME}` are
  replaced by the value, again and again while the line changes; an unknown
  name is left as written (a `$` in a script or a password stays). A multi-line
  definition expands only where it ends the line, into several lines.
- Built-ins: `$_INSTANCE` (the config id), `$_PWD` (the directory of the file
  being read), `$_HASH` (#), `$_BANG` (!), `${_RANDOM [MIN MAX]}`.
- `~SEQ(VAR, [START,] [STEP,] END) rest` repeats `rest` with VAR set to each
  value (`~SEQx`: in hex); the one-value form counts from 1 (or -1).
- Refused with FILE:LINE: `~LST` and other `~` forms, a bad `~SEQ`, a line
  whose substitutions do not settle (a definition that names itself).
"""

from __future__ import annotations

import os
import random
import re
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

from vrrp_agent.errors import ConfigError

_DEF = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_USE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)((?: +[0-9]+)*)\}|([A-Za-z_][A-Za-z0-9_]*)(?=[ \t,)]|$))")
_SEQ = re.compile(r"~SEQ(x?)\s*\(\s*([^\s,)]+)\s*,([^)]*)\)\s*(.*)$")
MAX_ROUNDS = 64
MAX_SEQ_LINES = 100000


def decode(data: bytes, path: str, warnings: List[str]) -> str:
    """UTF-8 (BOM skipped), else latin-1 with a warning naming the file and the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        warnings.append(f"{path}:{line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); "
                        "the file is read as latin-1")
        return data.decode("latin-1")


def decomment(text: str) -> str:
    """Leading blanks, an unquoted `!`/`#` comment and trailing blanks removed."""
    text = text.lstrip(" \t")
    quote = False
    for i, ch in enumerate(text):
        if ch == '"':
            quote = not quote
        elif ch in "!#" and not quote:
            text = text[:i]
            break
    return text.rstrip(" \t")


class _Definition(NamedTuple):
    lines: Tuple[str, ...]
    """One entry for a plain definition, several for a multi-line one."""

    @property
    def multiline(self) -> bool:
        return len(self.lines) > 1


class LineSource:
    """The definitions and the config id of one load (shared by every included file)."""

    def __init__(self, config_id: str):
        self.config_id = config_id
        self.defs: Dict[str, _Definition] = {}
        self.warnings: List[str] = []
        self._rng = random.Random()

    def lines(self, path: str, text: str) -> Iterator[Tuple[int, str]]:
        """(line number, logical line) for every line of `text` that carries something."""
        pending: Optional[Tuple[str, List[str]]] = None
        for number, raw in enumerate(text.split("\n"), 1):
            raw = raw.rstrip("\r")
            if pending is not None:
                pending = self._continue_definition(pending, raw)
                continue
            body = decomment(raw)
            if not body:
                continue
            for line in self._process(body, path, number, 0):
                if isinstance(line, tuple):  # a multi-line definition starts here
                    pending = line
                elif isinstance(line, str) and line:
                    yield number, line
        if pending is not None:
            self._end_definition(pending)

    # ------------------------------------------------------------ definitions

    def _continue_definition(self, pending: Tuple[str, List[str]],
                             raw: str) -> Optional[Tuple[str, List[str]]]:
        name, parts = pending
        body = decomment(raw)
        if not raw.strip():
            self._end_definition(pending)
            return None
        if body.endswith("\\"):
            parts.append(body[:-1].rstrip(" \t"))
            return pending
        parts.append(body)
        self._end_definition(pending)
        return None

    def _end_definition(self, pending: Tuple[str, List[str]]) -> None:
        name, parts = pending
        self.defs[name] = _Definition(tuple(p for p in parts if p))

    def _define(self, match: re.Match[str]) -> Optional[Tuple[str, List[str]]]:
        name, value = match.group(1), match.group(2)
        if value.endswith("\\"):
            first = value[:-1].rstrip(" \t")
            return name, [first] if first else []
        self.defs[name] = _Definition((value,))
        return None

    # ------------------------------------------------------------ one logical line

    def _process(self, text: str, path: str, number: int, depth: int) -> Iterator[object]:
        if depth > MAX_ROUNDS:
            raise ConfigError("substitutions do not settle (does a $definition name itself?)",
                              path, number)
        kept = self._config_id_filter(text)
        if kept is None:
            return
        text = kept
        match = _DEF.match(text) if text.startswith("$") else None
        if match is not None:
            started = self._define(match)
            if started is not None:
                yield started
            return
        if text.startswith("~"):
            yield from self._sequence(text, path, number, depth)
            return
        if "$" not in text:
            yield text
            return
        first, extra, changed = self._substitute(text, path)
        if not changed:
            yield text
            return
        for line in (first,) + extra:
            line = decomment(line)
            if line:
                yield from self._process(line, path, number, depth + 1)

    def _config_id_filter(self, text: str) -> Optional[str]:
        if not text.startswith("@"):
            return text
        reverse = text.startswith("@^")
        body = text[2:] if reverse else text[1:]
        parts = re.split(r"[ \t]+", body, maxsplit=1)
        if len(parts) < 2:
            return None  # `@id` with nothing after it: keepalived drops the line
        ident, rest = parts
        if (ident == self.config_id) == reverse:
            return None
        return rest

    def _substitute(self, text: str, path: str) -> Tuple[str, Tuple[str, ...], bool]:
        """Replace every known $NAME / ${NAME}; a multi-line one only where it ends the text."""
        out: List[str] = []
        extra: Tuple[str, ...] = ()
        pos, changed = 0, False
        for match in _USE.finditer(text):
            name = match.group(1) or match.group(3)
            params = (match.group(2) or "").split()
            value = self._value(name, params, path)
            if value is None:
                continue
            if len(value) > 1:
                if match.end() != len(text):
                    continue  # keepalived expands a multi-line definition only at the line end
                extra = value[1:]
            out.append(text[pos:match.start()])
            out.append(value[0] if value else "")
            pos, changed = match.end(), True
        out.append(text[pos:])
        return "".join(out), extra, changed

    def _value(self, name: str, params: List[str], path: str) -> Optional[Tuple[str, ...]]:
        if name in self.defs:
            if params:
                return None  # only built-ins take parameters
            return self.defs[name].lines
        if name == "_INSTANCE" and not params:
            return (self.config_id,)
        if name == "_PWD" and not params:
            return (os.path.dirname(os.path.abspath(path)),)
        if name == "_HASH" and not params:
            return ("#",)
        if name == "_BANG" and not params:
            return ("!",)
        if name == "_RANDOM" and len(params) <= 2:
            lo, hi = (int(params[0]), int(params[1])) if len(params) == 2 else \
                (0, int(params[0])) if params else (0, 2**31 - 1)
            return (str(self._rng.randint(min(lo, hi), max(lo, hi))),)
        return None

    # ------------------------------------------------------------ ~SEQ

    def _sequence(self, text: str, path: str, number: int, depth: int) -> Iterator[object]:
        if not text.startswith("~SEQ"):
            word = text.split()[0]
            raise ConfigError(f"'{word}' is not supported by the agent (only ~SEQ is); "
                              "write the lines out", path, number)
        match = _SEQ.match(text)
        if match is None:
            raise ConfigError(f"invalid ~SEQ: {text!r} (expected ~SEQ(VAR, [START,] [STEP,] END) TEXT)",
                              path, number)
        hexa, var, numbers, rest = match.groups()
        args, _x, _c = self._substitute(numbers, path)
        start, step, end = _seq_values(args, text, path, number)
        if hexa and (start < 0 or end < 0):
            raise ConfigError(f"~SEQx takes positive numbers only: {text!r}", path, number)
        count = (end - start) // step + 1
        if count > MAX_SEQ_LINES:
            raise ConfigError(f"~SEQ would produce {count} lines (at most {MAX_SEQ_LINES})", path, number)
        for value in range(start, end + (1 if step > 0 else -1), step):
            self.defs[var] = _Definition((format(value, "x") if hexa else str(value),))
            yield from self._process(rest, path, number, depth + 1)


def _seq_values(args: str, text: str, path: str, number: int) -> Tuple[int, int, int]:
    try:
        values = [int(word.strip(), 0) for word in args.split(",")]
    except ValueError:
        raise ConfigError(f"invalid ~SEQ values in {text!r}", path, number) from None
    if len(values) == 1:
        end = values[0]
        start, step = (-1 if end < 0 else 1), (-1 if end < 1 else 1)
    elif len(values) == 2:
        start, end = values
        step = 1 if start <= end else -1
    elif len(values) == 3:
        start, step, end = values
        if step == 0 or (start < end and step < 0) or (start > end and step > 0):
            raise ConfigError(f"invalid ~SEQ values in {text!r} (the step never reaches the end)",
                              path, number)
    else:
        raise ConfigError(f"invalid ~SEQ: {text!r} takes 1 to 3 numbers", path, number)
    return start, step, end


def default_config_id() -> str:
    """keepalived's default config id: the node name up to its first dot."""
    return os.uname().nodename.split(".", 1)[0]
