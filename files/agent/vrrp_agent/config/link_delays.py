"""`interface_up_down_delays { IFNAME DOWN_DELAY [UP_DELAY] ... }` -> LinkDelay entries.

Rules (keepalived 2.2.7's debounce of link changes):
- One line per interface: the seconds a link going down, then coming up,
  must last before the agent acts on it; each 0..255 s, fractions allowed;
  UP_DELAY defaults to 0. Several blocks may be written; an interface appears once.
- Where keepalived logs and skips a bad line (no delay, a third delay, a bad
  number) the agent refuses it at its FILE:LINE: a skipped line would be a
  delay silently not applied.
- The interface need not exist yet (the agent waits for missing interfaces).
"""

from __future__ import annotations

import math
from typing import Iterable, List

from vrrp_agent.config.model import LinkDelay
from vrrp_agent.config.syntax import Statement, need_block, no_block

IFNAMSIZ = 16
MAX_DELAY_S = 255.0


def _delay(s: Statement, text: str, which: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise s.error(f"interface_up_down_delays: {which} delay {text!r} of {s.keyword} "
                      "is not a number") from None
    if math.isnan(value) or not 0 <= value <= MAX_DELAY_S:
        raise s.error(f"interface_up_down_delays: {which} delay {text} of {s.keyword} "
                      "is out of range 0..255")
    return value


def parse_link_delays(stmt: Statement, earlier: Iterable[LinkDelay]) -> List[LinkDelay]:
    """The entries of one block; `earlier` are those of the blocks before it."""
    seen = {d.interface: d for d in earlier}
    out: List[LinkDelay] = []
    for s in need_block(stmt):
        no_block(s)
        name = s.keyword
        if len(name) >= IFNAMSIZ or "/" in name:
            raise s.error(f"interface_up_down_delays: {name!r} is not an interface name")
        if not 1 <= len(s.args) <= 2:
            raise s.error(f"interface_up_down_delays: {name} needs DOWN_DELAY [UP_DELAY] (seconds), "
                          f"got {len(s.args)} value(s)")
        if name in seen:
            first = seen[name]
            raise s.error(f"interface_up_down_delays: {name} is listed twice "
                          f"(first at {first.file}:{first.line})")
        down = _delay(s, s.args[0], "down")
        up = _delay(s, s.args[1], "up") if len(s.args) == 2 else 0.0
        entry = LinkDelay(interface=name, down_s=down, up_s=up, file=s.file, line=s.line)
        seen[name] = entry
        out.append(entry)
    return out
