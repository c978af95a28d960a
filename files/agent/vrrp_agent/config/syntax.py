"""keepalived.conf statements: `keyword args... [{ block }]`, and argument guards.

A statement ends at the end of its line, or where a `{` opens its block (the
`{` may also stand alone on the next line). Blocks nest; a missing or stray
brace is an error naming the line. The guards below turn arguments into
values or raise ConfigError naming the file, the line and the offending text.
"""

from __future__ import annotations

import ipaddress
import math
from typing import List, NamedTuple, Optional, Tuple

from vrrp_agent.config.lexer import Token
from vrrp_agent.errors import ConfigError


class Statement(NamedTuple):
    keyword: str
    args: Tuple[str, ...]
    block: Optional[Tuple[Statement, ...]]
    file: str
    line: int

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, self.file, self.line)


def parse_statements(tokens: List[Token]) -> List[Statement]:
    stmts, i = _block(tokens, 0, None)
    return stmts


def _block(tokens: List[Token], i: int, opener: Optional[Token]) -> Tuple[List[Statement], int]:
    stmts: List[Statement] = []
    n = len(tokens)
    while True:
        while i < n and tokens[i].eol:
            i += 1
        if i >= n:
            if opener is not None:
                unclosed = "'{' is never closed (missing '}')"
                raise ConfigError(unclosed, opener.file, opener.line)
            return stmts, i
        tok = tokens[i]
        if tok.text == "}" and not tok.quoted:
            if opener is None:
                raise ConfigError("unexpected '}' (no block is open)", tok.file, tok.line)
            return stmts, i + 1
        if tok.text == "{" and not tok.quoted:
            raise ConfigError("unexpected '{' (a block needs a keyword before it)", tok.file, tok.line)
        words = [tok]
        i += 1
        while i < n and not tokens[i].eol and (tokens[i].quoted or tokens[i].text not in "{}"):
            words.append(tokens[i])
            i += 1
        block = None
        j = i
        while j < n and tokens[j].eol:
            j += 1
        if j < n and tokens[j].text == "{" and not tokens[j].quoted:
            inner, i = _block(tokens, j + 1, tokens[j])
            block = tuple(inner)
        stmts.append(Statement(tok.text, tuple(w.text for w in words[1:]), block, tok.file, tok.line))


# ------------------------------------------------------------------ argument guards

def no_args(stmt: Statement) -> None:
    if stmt.args:
        raise stmt.error(f"'{stmt.keyword}' takes no argument, got {' '.join(stmt.args)!r}")
    no_block(stmt)


def no_block(stmt: Statement) -> None:
    if stmt.block is not None:
        raise stmt.error(f"'{stmt.keyword}' takes no {{ block }}")


def one_arg(stmt: Statement) -> str:
    no_block(stmt)
    if len(stmt.args) != 1:
        got = "nothing" if not stmt.args else repr(" ".join(stmt.args))
        raise stmt.error(f"'{stmt.keyword}' takes one value, got {got}")
    return stmt.args[0]


def int_arg(stmt: Statement, lo: int, hi: int) -> int:
    text = one_arg(stmt)
    try:
        value = int(text)
    except ValueError:
        raise stmt.error(f"{stmt.keyword} {text!r} is not a whole number") from None
    if not lo <= value <= hi:
        raise stmt.error(f"{stmt.keyword} {value} is out of range {lo}..{hi}")
    return value


def float_arg(stmt: Statement, lo: float, hi: float) -> float:
    text = one_arg(stmt)
    try:
        value = float(text)
    except ValueError:
        raise stmt.error(f"{stmt.keyword} {text!r} is not a number") from None
    if math.isnan(value) or not lo <= value <= hi:
        raise stmt.error(f"{stmt.keyword} {text} is out of range {lo:g}..{hi:g}")
    return value


def need_block(stmt: Statement) -> Tuple[Statement, ...]:
    if stmt.block is None:
        raise stmt.error(f"'{stmt.keyword}' needs a {{ block }}")
    return stmt.block


TRUE_WORDS = ("true", "on", "yes")
FALSE_WORDS = ("false", "off", "no")


def bool_flag(stmt: Statement) -> bool:
    """`KEYWORD [true|on|yes|false|off|no]`: a bare keyword means true (keepalived's
    check_true_false, case as written)."""
    if not stmt.args:
        no_args(stmt)
        return True
    word = one_arg(stmt)
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise stmt.error(f"{stmt.keyword} {word!r} must be one of "
                     f"{', '.join(TRUE_WORDS + FALSE_WORDS)} (or nothing)")


def parse_address(stmt: Statement, text: str, family: Optional[int] = None) -> str:
    """An IP address (of FAMILY when given), normalised; a FILE:LINE error otherwise."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise stmt.error(f"{text!r} is not an IP address") from None
    if family is not None and addr.version != family:
        raise stmt.error(f"{text} is not an IPv{family} address")
    return str(addr)
