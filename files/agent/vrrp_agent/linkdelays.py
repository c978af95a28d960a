"""interface_up_down_delays at run time: keepalived's debounce of link changes.

Rules (keepalived 2.2.7, update_interface_flags in keepalived_netlink.c):
- For an interface with a delay, the agent acts on a link state of its own
  (`acting`), which follows the link late: a change waits its delay (down
  delay for up -> down, up delay for down -> up), then takes effect.
- If the link returns to the acting state before the delay ends, the waiting
  change is cancelled (keepalived logs "Delay timer for IF cancelled") and
  nothing happened: no FAULT, no notify, no priority change.
- No delay until the interface has been seen up once (keepalived's
  `seen_up`): the first state, and the first up, are taken at once.
- A delay of 0 is at once.
- Every reader of link state sees the acting state: the instance's own
  interface (link events and the state read at bind) and track_interface
  (through the wrapped `link_is_up` adapter).
- The clock is the loop's (call_later); a reload replaces the delays and
  keeps the acting states and any waiting change.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Dict, List, Tuple

from vrrp_agent.config.model import LinkDelay

log = logging.getLogger("vrrp_agent")
Events = List[Tuple[int, bool]]


class LinkDelays:
    """Filters link events and link reads through interface_up_down_delays."""

    def __init__(self, loop: asyncio.AbstractEventLoop, raw_is_up: Callable[[str], bool],
                 ifindex: Callable[[str], int], delays: Tuple[LinkDelay, ...] = ()):
        self.loop = loop
        self.raw_is_up = raw_is_up
        self.ifindex = ifindex
        self.delays: Dict[str, LinkDelay] = {}
        self.acting: Dict[str, bool] = {}
        self.seen_up: Dict[str, bool] = {}
        self.pending: Dict[str, asyncio.TimerHandle] = {}
        self.on_settled: Callable[[Events], None] = lambda events: None
        self.configure(delays)

    def configure(self, delays: Tuple[LinkDelay, ...]) -> None:
        self.delays = {d.interface: d for d in delays}

    def is_up(self, name: str) -> bool:
        """The link state the agent acts on (the raw one for an interface without delays)."""
        if name not in self.delays:
            return self.raw_is_up(name)
        if name not in self.acting:
            self._take(name, self.raw_is_up(name))
        return self.acting[name]

    def filter(self, events: Events) -> Events:
        """The events to act on now; the others wait their delay (or are cancelled)."""
        names = self._delayed_indexes()
        out: Events = []
        for ifindex, up in events:
            name = names.get(ifindex)
            if name is None or self._changes_now(name, ifindex, up):
                out.append((ifindex, up))
        return out

    def _changes_now(self, name: str, ifindex: int, up: bool) -> bool:
        if name not in self.acting or not self.seen_up.get(name):
            self._take(name, up)
            return True
        waiting = self.pending.pop(name, None)
        if up == self.acting[name]:
            if waiting is not None:
                waiting.cancel()
                log.info("Delay timer for %s cancelled: the link came back within its delay", name)
            return False
        if waiting is not None:  # the same change is already waiting
            self.pending[name] = waiting
            return False
        entry = self.delays[name]
        delay_s = entry.up_s if up else entry.down_s
        if delay_s <= 0:
            self._take(name, up)
            return True
        log.info("%s: link %s, acted on after %g s unless it returns (interface_up_down_delays)",
                 name, "up" if up else "down", delay_s)
        self.pending[name] = self.loop.call_later(delay_s, self._settle, name, ifindex, up)
        return False

    def _settle(self, name: str, ifindex: int, up: bool) -> None:
        self.pending.pop(name, None)
        if name not in self.delays:  # a reload removed its delay meanwhile: the link as it is now
            up = self.raw_is_up(name)
        self._take(name, up)
        self.on_settled([(ifindex, up)])

    def _take(self, name: str, up: bool) -> None:
        self.acting[name] = up
        if up:
            self.seen_up[name] = True

    def _delayed_indexes(self) -> Dict[int, str]:
        out: Dict[int, str] = {}
        for name in self.delays:
            try:
                out[self.ifindex(name)] = name
            except OSError:
                continue  # not there (yet)
        return out

    def close(self) -> None:
        for handle in self.pending.values():
            handle.cancel()
        self.pending.clear()
