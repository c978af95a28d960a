"""The routed announce mode (`announce bgp`): the VIP as a host route FRR announces.

One part of the daemon (daemon.py wires it). Rules:
- While MASTER, a routed instance's VIPs are /32 or /128 addresses on its
  announce device (`lo`, or a dummy interface); zebra sees them as connected routes
  and bgpd redistributes exactly those the role's prefix-list lets out. The
  address *is* the announcement: removing it is the withdrawal.
- Leaving MASTER (stop, fault, standby, a better master) withdraws first:
  `withdraw_first` moves the VIP removal ahead of the advert that lets the
  backup take over, and the driver sends that advert from the netlink
  worker after the removal (vips.py). Gratuitous ARP/NA is not sent: there
  is no layer-2 neighbour to teach on the announce device.
- Every VIP carries a lease (valid lifetime, `announce ... lease S`): a
  master renews it every third of the lease; a frozen or killed agent stops
  renewing and the kernel removes the address, so FRR withdraws it on its
  own. BFD (on the FRR side) covers a dead host or a cut link.
- Pure helpers plus one loop timer; no socket, no netlink call of its own.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Sequence

from vrrp_agent.instance import Instance
from vrrp_agent.router import MASTER, Action, DelVips
from vrrp_agent.runtime import Runtime

MIN_RENEW_S = 0.5


def is_routed(inst: Instance) -> bool:
    return inst.cfg.announce is not None


def withdraw_first(actions: List[Action]) -> List[Action]:
    """The actions with the VIP removal (the BGP withdrawal) moved to the front."""
    removals = [a for a in actions if isinstance(a, DelVips)]
    if not removals:
        return actions
    return removals + [a for a in actions if not isinstance(a, DelVips)]


def renew_period_s(instances: Sequence[Instance]) -> Optional[float]:
    """A third of the shortest lease of the routed instances (None: none routed)."""
    leases = [i.cfg.announce.lease_s for i in instances if i.cfg.announce is not None]
    return max(MIN_RENEW_S, min(leases) / 3.0) if leases else None


def announce_status(inst: Instance, held: Any) -> Dict[str, Any]:
    """The `announce` object of an instance's status (status.py schema, additive)."""
    cfg = inst.cfg.announce
    if cfg is None:
        return {"mode": "garp"}
    vips = [v for v in inst.all_vips if v.address in held] if inst.router.state == MASTER else []
    return {"mode": cfg.mode, "dev": cfg.dev, "lease_s": cfg.lease_s,
            "announced": [f"{v.address}/{v.prefixlen}" for v in vips]}


class LeaseRenewer:
    """Renews the VIP leases of routed masters on a loop timer.

    Armed when a routed instance becomes master (`ensure_running`); the timer
    stops re-arming once no routed instance is master, so an agent without
    routed instances never wakes for it."""

    def __init__(self, rt: Runtime, vips: Any):
        self.rt = rt
        self.vips = vips
        self._timer: Optional[asyncio.TimerHandle] = None

    def ensure_running(self) -> None:
        """A routed instance is (or stays) master: renew in time for the shortest lease.

        An armed timer is kept unless it would fire later than this set of
        masters needs (a shorter lease became master meanwhile)."""
        if self._timer is None:
            self._arm()
            return
        period = renew_period_s(self._masters())
        if period is not None and self._timer.when() > self.rt.loop.time() + period:
            self._timer.cancel()
            self._arm()

    def _masters(self) -> List[Instance]:
        return [i for i in self.rt.instances if is_routed(i) and i.router.state == MASTER]

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self) -> None:
        period = renew_period_s(self._masters())
        self._timer = None if period is None else self.rt.loop.call_later(period, self._renew)

    def _renew(self) -> None:
        for inst in self.rt.instances:
            if is_routed(inst) and inst.router.state == MASTER:
                self.vips.change_all(inst, True)
        self._arm()
