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
from typing import Any, Dict, List, Optional, Set, Tuple

from vrrp_agent.packet import Advertisement
from vrrp_agent.router import (
    MASTER,
    AddVips,
    DelVips,
    Router,
    RouterParams,
    SendAdvert,
    StateChanged,
    WantMaster,
)

LOG = logging.getLogger("lansim")
LOG.setLevel(logging.WARNING)


class _VirtualTime:
    """The event loop both simulators share: routers' deadlines and queued packets,
    in time order. Subclasses give `_deadlines()`, `_step()`, `now` and `_queue`."""

    now: float
    _queue: list

    def run_until(self, end: float) -> None:
        while True:
            nxt = self._next_event()
            if nxt is None or nxt > end:
                self.now = end
                return
            self.now = nxt
            self._step()

    def _next_event(self) -> Optional[float]:
        times = [t for t in self._deadlines() if t is not None]
        if self._queue:
            times.append(self._queue[0][0])
        return min(times) if times else None

    def _deadlines(self) -> List[Optional[float]]:
        raise NotImplementedError

    def _step(self) -> None:
        raise NotImplementedError


class Lan(_VirtualTime):
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

    def _deadlines(self) -> List[Optional[float]]:
        return [r.next_deadline() for i, r in enumerate(self.routers) if self._alive(i)]

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


class SyncLan(_VirtualTime):
    """Nodes, each running one router per VRID in one sync group, with a Supervisor.

    VRID j lives on its own segment j: its adverts reach the VRID-j routers of
    the other nodes only, and a segment can be cut on its own. Each node drives
    its routers and its Supervisor the way the daemon does (one work queue:
    router actions, then the supervisor's commands on their routers), so the
    sync-group rules meet real elections here. Tracked faults are fed to the
    supervisor as the "tracking" fault source.
    """

    def __init__(self, priorities: List[int], members: int, *, adver_int_cs: int = 100,
                 delay: float = 0.001, loss: float = 0.0, seed: int = 0):
        from vrrp_agent.supervisor import Supervisor

        self.rng = random.Random(seed)
        self.delay = delay
        self.loss = loss
        self.now = 0.0
        self.members = members
        self.routers: List[List[Router]] = []
        self.supervisors = []
        for i, prio in enumerate(priorities):
            row = []
            for _j in range(members):
                r = Router(RouterParams(version=3, priority=prio, adver_int_cs=adver_int_cs,
                                        sync_member=True), LOG)
                r.primary_ip = bytes([198, 51, 100, 10 + i])
                row.append(r)
            self.routers.append(row)
            self.supervisors.append(Supervisor({"G": [self.name(j) for j in range(members)]}, LOG))
        self.cut: Dict[int, List[Set[int]]] = {}  # segment -> partitions
        self.owners: Dict[int, Set[int]] = {j: set() for j in range(members)}
        self._queue: List[Tuple[float, int, int, int, int, Advertisement]] = []
        self._seq = itertools.count()

    @staticmethod
    def name(j: int) -> str:
        return f"VI_{j}"

    # ---- control
    def start_all(self) -> None:
        for i, row in enumerate(self.routers):
            for j, r in enumerate(row):
                self._apply(i, j, r.start(self.now))

    def partition(self, segment: int, *groups: Set[int]) -> None:
        self.cut[segment] = [set(g) for g in groups]

    def heal(self, segment: Optional[int] = None) -> None:
        if segment is None:
            self.cut.clear()
        else:
            self.cut.pop(segment, None)

    def fault(self, i: int, j: int, failing: bool) -> None:
        """A weight-0 tracker of router (i, j) fails / recovers."""
        sup = self.supervisors[i]
        reason = "tracking: chk failed" if failing else None
        self._commands(i, sup.set_fault(self.name(j), "tracking", reason, self._view(i)))

    # ---- time

    def _deadlines(self) -> List[Optional[float]]:
        return [r.next_deadline() for row in self.routers for r in row]

    def _step(self) -> None:
        while self._queue and self._queue[0][0] <= self.now:
            _, _, seg, src, dst, adv = heapq.heappop(self._queue)
            r = self.routers[dst][seg]
            self._apply(dst, seg, r.on_advert(adv, self.routers[src][seg].primary_ip, self.now))
        for i, row in enumerate(self.routers):
            for j, r in enumerate(row):
                due = r.next_deadline()
                if due is not None and due <= self.now:
                    self._apply(i, j, r.on_timer(self.now))

    # ---- one node's driver (what the daemon does)
    def _view(self, i: int) -> Dict[str, Any]:
        from vrrp_agent.supervisor import MemberView

        row = self.routers[i]
        return {self.name(j): MemberView(r.state, r.wants_master, True) for j, r in enumerate(row)}

    def _apply(self, i: int, j: int, actions: list, propagate: bool = True) -> None:
        work = [(j, actions, propagate)]
        while work:
            j, todo, prop = work.pop(0)
            self._execute(i, j, todo)
            if any(isinstance(a, (StateChanged, WantMaster)) for a in todo):
                cmds = self.supervisors[i].on_output(self.name(j), todo, self._view(i), prop)
                work += self._run(i, cmds)

    def _commands(self, i: int, cmds: list) -> None:
        for j, todo, prop in self._run(i, cmds):
            self._apply(i, j, todo, prop)

    def _run(self, i: int, cmds: list) -> list:
        from vrrp_agent.supervisor import EnterFault, ForceBackup, ForceMaster, LeaveFault

        out = []
        for cmd in cmds:
            if not hasattr(cmd, "name"):
                continue  # GroupChanged: a notification
            j = int(cmd.name.split("_")[1])
            r = self.routers[i][j]
            if isinstance(cmd, EnterFault):
                out.append((j, r.enter_fault(self.now, cmd.reason), True))
            elif isinstance(cmd, LeaveFault):
                out.append((j, r.leave_fault(self.now), True))
            elif isinstance(cmd, ForceMaster):
                out.append((j, r.force_master(self.now, cmd.reason), cmd.propagate))
            elif isinstance(cmd, ForceBackup):
                out.append((j, r.force_backup(self.now, cmd.reason), False))
        return out

    def _connected(self, seg: int, a: int, b: int) -> bool:
        groups = self.cut.get(seg)
        return groups is None or any(a in g and b in g for g in groups)

    def _execute(self, i: int, j: int, actions: list) -> None:
        r = self.routers[i][j]
        for action in actions:
            if isinstance(action, SendAdvert):
                adv = Advertisement(3, 51 + j, action.priority, 1, r.params.adver_int_cs,
                                    0, b"", b"\0" * 4, "plain")
                for k in range(len(self.routers)):
                    if k == i or not self._connected(j, i, k) or self.rng.random() < self.loss:
                        continue
                    when = self.now + self.rng.uniform(0, self.delay)
                    heapq.heappush(self._queue, (when, next(self._seq), j, i, k, adv))
            elif isinstance(action, AddVips):
                self.owners[j].add(i)
            elif isinstance(action, DelVips):
                self.owners[j].discard(i)

    # ---- observations
    def masters(self, j: int) -> Set[int]:
        return {i for i, row in enumerate(self.routers) if row[j].state == MASTER}

    def states(self, i: int) -> List[str]:
        return [r.state for r in self.routers[i]]
