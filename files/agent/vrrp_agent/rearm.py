"""Re-arming the timer that just fired, without a new asyncio TimerHandle (issue 14).

A master of one instance wakes once per advert. On a cold cache, building a
TimerHandle in `loop.call_at` (and freeing the one that fired) is about a
fifth of what that wakeup costs (docs/benchmarks.md, the 1-instance master).
Rules:
- Only on asyncio's own loop (`asyncio.BaseEventLoop`, whose timers are a
  heap of TimerHandles in `_scheduled`); any other loop (uvloop) gets None
  from `timer_heap` and the caller uses `loop.call_at`.
- Only a handle that has fired is pushed back (the driver passes the one
  whose callback is running): the loop popped it from its heap (`_scheduled`
  False) and from its ready queue before running it, so putting it back in
  the heap with a new time is what `call_at` does with a new handle. A
  cancelled handle (its callback dropped) or one still scheduled is refused.
- What comes back is the same ordinary TimerHandle: `cancel()` works as ever.
"""

from __future__ import annotations

import asyncio
import heapq
from typing import Any, List, Optional

__all__ = ["timer_heap", "again"]


def timer_heap(loop: asyncio.AbstractEventLoop) -> Optional[List[Any]]:
    """The loop's timer heap when `again` may use it, else None."""
    heap = getattr(loop, "_scheduled", None)
    return heap if isinstance(loop, asyncio.BaseEventLoop) and isinstance(heap, list) else None


def again(heap: List[Any], handle: Any, when: float) -> bool:
    """Schedule `handle` (it fired; its callback runs now) again at `when`; False if it cannot be."""
    if handle._cancelled or handle._scheduled:
        return False
    handle._when = when
    heapq.heappush(heap, handle)
    handle._scheduled = True
    return True
