"""A backup's takeover, prepared: each VIP's add and its GARP/NA burst back to back.

A part of the VIP keeper (vips.py), on the event loop. Issue 14: on a
takeover the first gratuitous ARP followed the new master's first advert by
0.12-0.17 ms, keepalived's by 0.06-0.09 ms; time marks in a copy of the agent
put about 0.06 ms of it in the Python between the two (the VIP keeper's
general path: job lists, look-ups, the burst's pacing rules). Rules:
- A plan is built when an instance becomes BACKUP (VipKeeper.prepare), for a
  takeover the loop may do alone: not routed (no lease, no announce device),
  no no_accept filter, `vrrp_garp_interval` and `vrrp_gna_interval` at 0 (a
  burst goes out back to back), no virtual_routes or virtual_rules (they go
  in before the GARP, keepalived's order: the general path keeps it), every
  VIP's interface known. A backup made while the worker has work (the VIPs
  of a demotion) is prepared once it has none left. One step per
  VIP, in the instance's order: its RTM_NEWADDR, built and on an open socket
  (netlink.add_request), and its burst, frame built and socket open
  (announcer.sender).
- Run for a router's AddVips followed by its Announce (a takeover, a
  preemption, a make-before-break switchover), when the worker is idle: for
  each VIP, the add (rtnetlink adds the address inside `send`; its ACK is
  read at once), then its burst when the address is on the interface (added,
  or already there). keepalived adds every VIP, then announces them all; here
  a VIP's burst does not wait for the next VIP's add.
- The first add that fails hands its VIP and every VIP after it to the
  worker (vips.py's fast-path rule): it adds them, announces them after, and
  counts and logs an error once. A burst that cannot be sent is logged.
- A plan holds for the config and the MACs it was built from: a reload
  (another config object) leaves it unused, a link event drops it (the
  driver prepares its backups again), a removal forgets it. Without a plan
  the general path runs.
"""

from __future__ import annotations

from typing import Any, Callable, List, NamedTuple, Sequence, Tuple

from vrrp_agent.config.model import VipSpec
from vrrp_agent.errors import SystemFailure

__all__ = ["Step", "Plan", "eligible", "run"]


class Step(NamedTuple):
    """One VIP of a takeover: its add (True: added, False: already there; raises
    SystemFailure), then its burst of N frames (raises OSError)."""

    vip: VipSpec
    add: Callable[[], bool]
    burst: Callable[[int], None]


class Plan(NamedTuple):
    cfg: Any                 # the InstanceConfig it was built from
    steps: Tuple[Step, ...]


def eligible(cfg: Any, filtered: bool) -> bool:
    """May the loop take this instance's VIPs over alone (module rules)?"""
    garp = cfg.garp
    return cfg.announce is None and not filtered and garp.interval_s <= 0 \
        and garp.gna_interval_s <= 0 and not cfg.routes and not cfg.rules


def run(steps: Sequence[Step], repeat: int) -> Tuple[List[Tuple[VipSpec, bool]], int, List[str]]:
    """Each step's add, then its burst of REPEAT frames.

    Returns the outcomes of the adds made, the index of the first step left
    undone (its add failed; len(steps) when none did) and the bursts' errors."""
    done: List[Tuple[VipSpec, bool]] = []
    errors: List[str] = []
    for index, (vip, add, burst) in enumerate(steps):
        try:
            changed = add()
        except SystemFailure:
            return done, index, errors
        try:
            burst(repeat)
        except OSError as exc:
            errors.append(f"gratuitous ARP/NA for {vip.address} not sent: {exc}")
        done.append((vip, changed))
    return done, len(steps), errors
