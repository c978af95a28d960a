"""A simulated LAN of Router objects on virtual time (no sockets, no clock).

Adverts are delivered to every other router after a per-link delay, may be
lost, and do not cross partitions. A frozen router (SIGSTOP) neither hears
nor fires; on thaw it runs its overdue timer. VIP owners are tracked from the
AddVips / DelVips actions (a frozen master keeps its VIPs, like a real one).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
from typing import Dict, List, Optional, Set, Tuple

from vrrp_agent.packet import Advertisement
from vrrp_agent.router import MASTER, AddVips, DelVips, Router, RouterParams, SendAdvert

LOG = logging.getLogger("lansim")
LOG.setLevel(logging.WARNING)


class Lan:
    def __init__(self, params: List[RouterParams], *, delay: float = 0.001, loss: float = 0.0,
                 seed: int = 0):
        self.rng = random.Random(seed)
        self.delay = delay
        self.loss = loss
        self.now = 0.0
        self.routers: List[Router] = []
        for i, p in enumerate(params):
            r = Router(p, LOG)
            r.primary_ip = bytes([198, 51, 100, 10 + i])
            self.routers.append(r)
        self.frozen: Set[int] = set()
        self.stopped: Set[int] = set()
        self.groups: Optional[List[Set[int]]] = None  # partitions; None = all connected
        self.owners: Set[int] = set()
        self._queue: List[Tuple[float, int, int, int, Advertisement]] = []
        self._seq = itertools.count()

    # ---- control
    def start(self, i: int) -> None:
        self.stopped.discard(i)
        self._apply(i, self.routers[i].start(self.now))

    def start_all(self) -> None:
        for i in range(len(self.routers)):
            self.start(i)

    def stop(self, i: int) -> None:
        self._apply(i, self.routers[i].shutdown(self.now))
        self.stopped.add(i)

    def freeze(self, i: int) -> None:
        self.frozen.add(i)

    def thaw(self, i: int) -> None:
        self.frozen.discard(i)

    def partition(self, *groups: Set[int]) -> None:
        self.groups = [set(g) for g in groups]

    def heal(self) -> None:
        self.groups = None

    # ---- time
    def run_until(self, end: float) -> None:
        while True:
            nxt = self._next_event()
            if nxt is None or nxt > end:
                self.now = end
                return
            self.now = nxt
            self._step()

    def _next_event(self) -> Optional[float]:
        times = [r.next_deadline() for i, r in enumerate(self.routers) if self._alive(i)]
        times = [t for t in times if t is not None]
        if self._queue:
            times.append(self._queue[0][0])
        return min(times) if times else None

    def _alive(self, i: int) -> bool:
        return i not in self.frozen and i not in self.stopped

    def _step(self) -> None:
        while self._queue and self._queue[0][0] <= self.now:
            _, _, src, dst, adv = heapq.heappop(self._queue)
            if self._alive(dst):
                self._apply(dst, self.routers[dst].on_advert(adv, self.routers[src].primary_ip,
                                                             self.now))
        for i, r in enumerate(self.routers):
            due = r.next_deadline()
            if self._alive(i) and due is not None and due <= self.now:
                self._apply(i, r.on_timer(self.now))

    def _connected(self, a: int, b: int) -> bool:
        return self.groups is None or any(a in g and b in g for g in self.groups)

    def _apply(self, i: int, actions: list) -> None:
        r = self.routers[i]
        for action in actions:
            if isinstance(action, SendAdvert):
                adv = Advertisement(r.params.version, 51, action.priority, 1, r.params.adver_int_cs,
                                    0, b"", b"\0" * 4, "plain")
                for j in range(len(self.routers)):
                    if j == i or not self._connected(i, j) or self.rng.random() < self.loss:
                        continue
                    when = self.now + self.rng.uniform(0, self.delay)
                    heapq.heappush(self._queue, (when, next(self._seq), i, j, adv))
            elif isinstance(action, AddVips):
                self.owners.add(i)
            elif isinstance(action, DelVips):
                self.owners.discard(i)

    # ---- observations
    def masters(self) -> Set[int]:
        return {i for i, r in enumerate(self.routers) if r.state == MASTER and i not in self.stopped}

    def master_down_max(self) -> float:
        return max(r.master_down_interval_s() for r in self.routers)

    def states(self) -> Dict[int, str]:
        return {i: r.state for i, r in enumerate(self.routers)}
