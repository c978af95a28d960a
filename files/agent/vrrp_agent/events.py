"""The ordered event stream (`vrrp-agent events`): one bus, many subscribers.

Rules:
- Every event is a JSON-able dict with "seq" (1, 2, ... in publication
  order), "time" (ISO-8601 UTC), "type" and type-specific fields. Types:
  transition, priority, tracker, script, notify, resource, group, reload.
  A transition's "state" is the state notified (STOP for INIT; FAULT or
  DELETED for an instance a reload removed); a reload carries its summary
  (kept, changed, started, stopped). alerts.py reads these for mail and FIFOs.
- Publishing never blocks and never fails: each subscriber has a bounded
  queue; a subscriber that falls behind loses its oldest events and is told
  so by a "lost" event carrying the count.
- The bus keeps the last HISTORY events; a new subscriber may ask for them
  (`backlog`), so a client that connects right after a change still sees it.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any, Deque, Dict, List, Optional

from vrrp_agent.status import iso_utc

QUEUE_MAX = 1000
HISTORY = 200


class Subscription:
    def __init__(self, bus: EventBus):
        self.bus = bus
        self.queue: asyncio.Queue[Dict[str, Any]] = asyncio.Queue(QUEUE_MAX)
        self.lost = 0

    def offer(self, event: Dict[str, Any]) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.lost += 1
        self.queue.put_nowait(event)

    async def next(self) -> Dict[str, Any]:
        if self.lost:
            lost, self.lost = self.lost, 0
            return {"type": "lost", "count": lost}
        return await self.queue.get()

    def close(self) -> None:
        self.bus.subscribers.discard(self)


class EventBus:
    def __init__(self) -> None:
        self.seq = 0
        self.subscribers: set[Subscription] = set()
        self.history: Deque[Dict[str, Any]] = collections.deque(maxlen=HISTORY)

    def publish(self, event_type: str, /, **fields: Any) -> Dict[str, Any]:
        self.seq += 1
        event = {"seq": self.seq, "time": iso_utc(time.time()), "type": event_type, **fields}
        self.history.append(event)
        for sub in list(self.subscribers):
            sub.offer(event)
        return event

    def subscribe(self, backlog: int = 0) -> Subscription:
        sub = Subscription(self)
        for event in list(self.history)[-backlog:] if backlog > 0 else []:
            sub.offer(event)
        self.subscribers.add(sub)
        return sub

    def recent(self, kind: Optional[str] = None) -> List[Dict[str, Any]]:
        return [e for e in self.history if kind is None or e["type"] == kind]
