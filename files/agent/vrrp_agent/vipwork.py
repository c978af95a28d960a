"""The netlink worker's side of the VIP keeper (vips.py): calls, no state.

Rules (vips.py's module rules apply): these functions run a job's steps in
order and return a result per step, errors as text; they never touch
counters, logs or the held set. `announce_calls` also runs on the event loop
when the worker is idle (vips.py's fast path).
"""

from __future__ import annotations

from typing import Any, List, Tuple

from vrrp_agent.adapters import routes
from vrrp_agent.config.model import VipSpec
from vrrp_agent.errors import SystemFailure

# (VIP, ifindex / announce device to create / None, lease s) in;
# (VIP, True: changed / False: nothing to do / str: error) out
Job = Tuple[VipSpec, Any, int]
Outcome = Tuple[VipSpec, Any]


def run_steps(netlink: Any, announcer: Any, hw_address: Any,
              steps: List[Tuple[str, Any, Any]]) -> List[Any]:
    """Worker: one job's steps in order; a result per step."""
    out: List[Any] = []
    for kind, jobs, arg in steps:
        if kind == "vips":
            out.append(vip_calls(netlink, jobs, arg))
        elif kind == "routes":
            out.append(routes.apply(netlink.ipr(), jobs, arg))
        elif kind == "filter":
            nft, family, addresses = jobs
            out.append(nft.change(family, addresses, arg))
        elif kind == "advert":
            out.append(advert_calls(jobs))
        else:
            out.append(announce_calls(announcer, hw_address, jobs, arg))
    return out


def vip_calls(netlink: Any, jobs: List[Job], add: bool) -> List[Outcome]:
    """Worker: the netlink calls, nothing else. Errors are returned as text."""
    out: List[Outcome] = []
    for vip, ifindex, lease_s in jobs:
        if ifindex is None:
            out.append((vip, f"VIP {vip.address}: interface {vip.dev} not found"))
            continue
        try:
            if isinstance(ifindex, str):  # a routed instance's announce device
                if not add:
                    out.append((vip, False))  # no device, nothing announced
                    continue
                ifindex = netlink.ensure_dummy(ifindex)
            if not add:
                out.append((vip, netlink.del_vip(ifindex, vip)))
            elif lease_s:
                out.append((vip, netlink.add_vip(ifindex, vip, lease_s=lease_s)))
            else:
                out.append((vip, netlink.add_vip(ifindex, vip)))
        except SystemFailure as exc:
            out.append((vip, str(exc)))
    return out


def advert_calls(packets: List[Tuple[Any, bytes, Any, bytes]]) -> List[str]:
    """Worker: send an advert after the VIPs and their announcement (make-before-break)."""
    errors = []
    for io, advert, dst, src in packets:
        try:
            io.send(advert, dst, src)
        except OSError as exc:
            errors.append(f"advert to {dst} not sent: {exc}")
    return errors


def announce_calls(announcer: Any, hw_address: Any, jobs: List[Tuple[str, VipSpec]],
                   repeat: int) -> List[str]:
    """Worker: send each burst, after the VIP changes queued before it."""
    errors = []
    for ifname, vip in jobs:
        try:
            announcer.send(ifname, hw_address(ifname), vip.address, vip.family, repeat)
        except OSError as exc:
            errors.append(garp_not_sent(vip, exc))
    return errors


def garp_not_sent(vip: VipSpec, exc: OSError) -> str:
    return f"gratuitous ARP/NA for {vip.address} not sent: {exc}"
