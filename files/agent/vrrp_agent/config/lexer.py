"""keepalived.conf lexing: tokens with FILE and LINE, includes expanded.

Rules:
- `!` and `#` start a comment that runs to the end of the line, unless inside
  a double-quoted string. A quoted string is one token (quotes removed).
- `{` and `}` are tokens of their own even when glued to a word (`VI_1{`).
- `include PATTERN` is a statement of its own: the pattern is a glob, relative
  to the directory of the file that holds it, expanded in sorted order. No
  match, a cycle, or nesting deeper than MAX_DEPTH is an error at that line.
- Every token remembers its file and line, also inside included files.
- Before tokens, each line goes through keepalived's line language
  (preprocess.py: CRLF, encoding, `@id`, `$NAME`, `~SEQ`); definitions made
  in a file hold in the files it includes and after them, as in keepalived.
"""

from __future__ import annotations

import glob
import os
from typing import List, NamedTuple, Optional, Tuple

from vrrp_agent.config.preprocess import LineSource, decode, default_config_id
from vrrp_agent.errors import ConfigError

MAX_DEPTH = 8


class Lexed(NamedTuple):
    tokens: List[Token]
    files: List[str]
    """Every file read, the top one first."""
    warnings: List[str]
    """"FILE:LINE: message" for what was read but looks wrong (a non-UTF-8 file)."""


class Token(NamedTuple):
    text: str
    file: str
    line: int
    quoted: bool = False
    eol: bool = False
    """True for the synthetic end-of-line marker."""


def read_file(path: str, where: Optional[Tuple[str, int]] = None,
              warnings: Optional[List[str]] = None) -> str:
    try:
        with open(path, "rb") as fh:
            return decode(fh.read(), path, [] if warnings is None else warnings)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if where is None:
            raise ConfigError(f"cannot read configuration {path}: {reason}") from None
        raise ConfigError(f"cannot read included file {path}: {reason}", *where) from None


def tokenize_line(text: str, file: str, line: int) -> List[Token]:
    tokens: List[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\f\v":
            i += 1
        elif ch in "!#":
            break
        elif ch in "{}":
            tokens.append(Token(ch, file, line))
            i += 1
        elif ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise ConfigError("unterminated quoted string", file, line)
            tokens.append(Token(text[i + 1:end], file, line, quoted=True))
            i = end + 1
        else:
            j = i
            while j < n and text[j] not in ' \t\r\f\v{}"!#':
                j += 1
            tokens.append(Token(text[i:j], file, line))
            i = j
    return tokens


def lex(path: str, text: Optional[str] = None, config_id: Optional[str] = None) -> Lexed:
    """All tokens of `path` (and its includes); `config_id` None = keepalived's default."""
    source = LineSource(default_config_id() if config_id is None else config_id)
    if text is None:
        text = read_file(path, warnings=source.warnings)
    tokens, files = _tokenize(path, text, 0, (), source)
    return Lexed(tokens, files, source.warnings)


def tokenize(path: str, text: Optional[str] = None) -> Tuple[List[Token], List[str]]:
    lexed = lex(path, text)
    return lexed.tokens, lexed.files


def _tokenize(path: str, text: str, depth: int, stack: Tuple[str, ...],
              source: LineSource) -> Tuple[List[Token], List[str]]:
    """Each logical line's tokens, ended by an EOL token; includes expanded in place."""
    real = os.path.realpath(path)
    tokens: List[Token] = []
    files = [path]
    for number, logical in source.lines(path, text):
        line_tokens = tokenize_line(logical, path, number)
        if line_tokens and line_tokens[0].text == "include" and not line_tokens[0].quoted:
            if len(line_tokens) != 2:
                raise ConfigError("include takes exactly one file pattern", path, number)
            more, more_files = _include(line_tokens[1].text, path, number, depth,
                                        stack + (real,), source)
            tokens.extend(more)
            files.extend(more_files)
            continue
        tokens.extend(line_tokens)
        if line_tokens:
            tokens.append(Token("\n", path, number, eol=True))
    return tokens, files


def _include(pattern: str, path: str, line: int, depth: int,
             stack: Tuple[str, ...], source: LineSource) -> Tuple[List[Token], List[str]]:
    if depth + 1 > MAX_DEPTH:
        raise ConfigError(f"includes nested deeper than {MAX_DEPTH}", path, line)
    if not os.path.isabs(pattern):
        pattern = os.path.join(os.path.dirname(path) or ".", pattern)
    matches = sorted(glob.glob(pattern))
    if not matches:
        raise ConfigError(f"include {pattern}: no file matches", path, line)
    tokens: List[Token] = []
    files: List[str] = []
    for match in matches:
        if os.path.realpath(match) in stack:
            raise ConfigError(f"include cycle: {match} includes itself", path, line)
        text = read_file(match, (path, line), source.warnings)
        more, more_files = _tokenize(match, text, depth + 1, stack, source)
        tokens.extend(more)
        files.extend(more_files)
    return tokens, files
