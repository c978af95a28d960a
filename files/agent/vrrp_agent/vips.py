"""The VIP keeper: adds and removes VIPs, announces them, remembers which it holds.

Rules:
- The netlink worker thread only performs netlink (and AF_PACKET) calls, and
  sends the advert that must follow them (a make-before-break takeover or
  preemption: router.py rule 3), and returns results; everything else happens on the event loop: interface
  look-ups, counters, logging of results, the held set and held-vips.json.
  Results come back in submission order (one worker, call_soon_threadsafe).
- Changes are queued in the order the routers asked for them, on the single
  worker, so an announcement follows its VIPs and a removal follows an add.
  The work of one batch (the driver batches each router output) is one job:
  VIPs and their GARP back to back, the loop woken once with the results.
- The fast path (a takeover): when the worker is idle (no job queued,
  running or unrecorded) and nothing is batched before it, a VIP add without
  lease or no_accept filter is made on the loop (netlink.add_now: one
  pre-built RTM_NEWADDR, ~30 us) and a GARP/NA burst sent from the loop,
  so the first GARP follows the VIP add at once instead of a thread hand-off
  and pyroute2's encoding later (issue 14: ~0.9 ms to ~0.25 ms). Their order
  is the order above: anything queued behind a job goes to the worker. Its
  results are recorded with call_soon, after the transition's own work; a VIP
  it could not add goes to the worker with those after it, which adds it or
  counts and logs the error (once). The worker functions are vipwork.py's.
  A backup prepares its takeover as a plan (takeover.py): each VIP's add
  then its burst, with nothing looked up between; its rules say when.
- The loop reads an interface's MAC once (`mac`: a backup's `prepare`, a
  GARP) and keeps it until the next link event (`forget_macs`; the kernel
  sends one when a MAC changes): a takeover's first GARP follows its VIP
  add without an ioctl in between (15-20 us on a cold cache, time marks in
  a copy of the agent). The worker reads it every time.
- A VIP is recorded as held only after its add succeeded, and forgotten
  once its removal succeeded (or it was already gone).
- virtual_routes / virtual_rules follow the VIPs (keepalived's order): added
  after them (routes, then rules), removed before them (rules, then routes),
  in the same worker job; their results are logged and counted like VIPs'.
- no_accept (adapters/nft.py): with a filter, an instance that filters puts
  its VIPs into the nftables drop set before adding them and takes them out
  after removing them (keepalived's order), in the same worker job.
- garp_extra_if (keepalived): from the VIP add of a takeover, every N seconds
  while MASTER, one GARP/NA for each VIP on an interface other than the
  instance's VIP interface (`all`; without it only per-VIP vMACs, which the
  agent does not create, so nothing is sent). The chain stops with mastership.
- `vrrp_garp_interval` / `vrrp_gna_interval` (keepalived): each gratuitous
  ARP on an interface goes out at least the interval after the previous
  one there (each NA after the previous NA), across repeats, VIPs and
  instances; a burst still pending when the instance leaves MASTER is
  dropped. With both at 0 a burst goes out back to back in one worker call.
- A routed instance (`announce bgp`, routed.py) puts its VIPs on its
  announce device (created by the worker when the loop cannot find it) with
  its lease; the removal is the BGP withdrawal.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from vrrp_agent import takeover
from vrrp_agent.config.model import VipSpec
from vrrp_agent.errors import SystemFailure
from vrrp_agent.instance import Instance
from vrrp_agent.router import MASTER
from vrrp_agent.runtime import Runtime
from vrrp_agent.vipwork import Job, Outcome, announce_calls, run_steps

log = logging.getLogger("vrrp_agent")
HELD_FILE = "held-vips.json"

# ("vips", instance, [Job], add) or ("announce", instance, [(ifname, VIP)], repeat)
Step = Tuple[str, Instance, List[Any], Any]


class _Batch:
    """VipKeeper.batched(): a class, not a generator-based context manager (one fewer
    allocation and generator on a takeover, in front of its first advert)."""

    def __init__(self, keeper: VipKeeper):
        self.keeper = keeper

    def __enter__(self) -> None:
        keeper = self.keeper
        keeper._batch_depth += 1
        if keeper._batch is None:
            keeper._batch = []

    def __exit__(self, *exc: Any) -> None:
        keeper = self.keeper
        keeper._batch_depth -= 1
        if keeper._batch_depth == 0:
            steps, keeper._batch = keeper._batch, None
            if steps:
                keeper._flush(steps)


class VipKeeper:
    def __init__(self, rt: Runtime, netlink: Any, announcer: Any):
        self.rt = rt
        self.netlink = netlink
        self.announcer = announcer
        self.held: Set[str] = read_held_vips(rt.state_dir)
        self._batch: Optional[List[Step]] = None
        self._extra_chains: Dict[int, int] = {}
        """id(instance) -> the number of its running garp_extra_if chain."""
        self.filter: Any = None
        """adapters.nft.NftFilter when some instance uses no_accept (set by the daemon)."""
        self.announce_free: Dict[Tuple[str, int], float] = {}
        """Per (interface, family): the loop time before which no GARP/NA may go out."""
        self._jobs = 0
        """Worker jobs handed over whose results the loop has not recorded yet."""
        self._macs: Dict[str, bytes] = {}
        """The loop's MAC per interface, until the next link event (module rules)."""
        self.plans = takeover.Plans(self)
        """The backups' takeovers, prepared (takeover.py)."""
        self._batched = _Batch(self)
        self._batch_depth = 0

    # -------------------------------------------------------------- loop side
    def change(self, inst: Instance, vips: Sequence[VipSpec], add: bool) -> bool:
        """Queue adds (or removals) of `vips` of `inst`; results are recorded on the loop.

        False when nothing was queued: the adds were done at once (`_add_now`)."""
        nft = self.filter if self.filters(inst) else None
        if nft is not None and add:
            self._filter(inst, nft, vips, True)
        lease_s = inst.cfg.announce.lease_s if inst.cfg.announce is not None else 0
        jobs = [(vip, self.ifindex_of(inst, vip), lease_s) for vip in vips]
        if add and nft is None and not lease_s and self.idle():
            jobs = self._add_now(inst, jobs)
            if not jobs:
                return False
        self._submit(("vips", inst, jobs, add))
        if nft is not None and not add:
            self._filter(inst, nft, vips, False)
        return True

    def mac(self, ifname: str) -> bytes:
        """IFNAME's MAC, read once until the next link event (module rules)."""
        mac = self._macs.get(ifname)
        if mac is None:
            mac = self._macs[ifname] = self.rt.adapters.hw_address(ifname)
        return mac

    def forget_macs(self) -> None:
        """A link event: a MAC may have changed, read them again (takeover plans too)."""
        self._macs.clear()
        self.plans.clear()

    def idle(self) -> bool:
        """Nothing queued or running on the worker: a change made now keeps the order."""
        return self._jobs == 0 and not self._batch

    def takeover(self, inst: Instance, repeat: int) -> Optional[bool]:
        """AddVips then Announce(REPEAT) from the instance's plan (takeover.py).

        None: no plan, the caller takes the general path; else whether work was
        left queued (a VIP the loop could not add)."""
        staged = self.plans.take_staged(inst)
        if staged is not None:  # its adds ran before the deadline (takeover.py)
            plan, done, undone = staged
            errors = takeover.burst_all(plan[:undone], repeat)
        else:
            taken = self.plans.take(inst)
            if taken is None:
                return None
            plan = taken
            done, undone, errors = takeover.run(plan, repeat)
        for error in errors:
            inst.log.warning("%s", error)
        self._recorded_later(inst, done, [])
        rest = tuple(step.vip for step in plan[undone:])
        if rest:  # the worker adds them, announces after, logs a failure (module rules)
            self._submit(("vips", inst, [(vip, self.ifindex_of(inst, vip), 0) for vip in rest], True))
            self._send(inst, repeat, rest)
        self._extra_garp_later(inst)
        return bool(rest)

    def filters(self, inst: Instance) -> bool:
        """Does INST put its VIPs in a no_accept drop set?"""
        return self.filter is not None and bool(inst.cfg.filters)

    def _add_now(self, inst: Instance, jobs: List[Job]) -> List[Job]:
        """The takeover's fast path (module rules): add on the loop, record after.

        Returns what is left for the worker: everything from the first VIP that
        could not be added here on, in order (the worker tries it again, and
        counts and logs it if it fails there too)."""
        done: List[Outcome] = []
        for n, (vip, ifindex, _lease) in enumerate(jobs):
            if not isinstance(ifindex, int):
                return self._recorded_later(inst, done, jobs[n:])
            try:
                done.append((vip, self.netlink.add_now(ifindex, vip)))
            except SystemFailure:
                return self._recorded_later(inst, done, jobs[n:])
        return self._recorded_later(inst, done, [])

    def _recorded_later(self, inst: Instance, done: List[Outcome], left: List[Job]) -> List[Job]:
        if done:  # after the GARP and the transition's own work
            self.rt.loop.call_soon(self._record, inst, True, done)
        return left

    def _filter(self, inst: Instance, nft: Any, vips: Sequence[VipSpec], add: bool) -> None:
        for family in (4, 6):
            addresses = [v.address for v in vips if v.family == family]
            if addresses:
                self._submit(("filter", inst, [nft, family, addresses], add))

    def batched(self) -> _Batch:
        """Everything queued inside goes to the worker as one job, with one result.

        A takeover's VIP add and its announcement then run back to back on the
        worker, and the loop is woken once, after the GARP is out (not between
        the add and the GARP, where it would compete with the worker for the GIL).
        Nested, the outermost one hands the job over.
        """
        return self._batched

    def flush(self) -> None:
        """Inside `batched()`: hand what is queued so far to the worker now."""
        if self._batch:
            steps, self._batch = self._batch, []
            self._flush(steps)

    def _submit(self, step: Step) -> None:
        if self._batch is not None:
            self._batch.append(step)
        else:
            self._flush([step])

    def _flush(self, steps: List[Step]) -> None:
        payload = [(kind, jobs, arg) for kind, _inst, jobs, arg in steps]
        self._jobs += 1
        future = self.netlink.submit(run_steps, self.netlink, self.announcer,
                                     self.rt.adapters.hw_address, payload)
        future.add_done_callback(lambda f: self._from_worker(self._results, steps, f))

    def _results(self, steps: List[Step], future: concurrent.futures.Future[Any]) -> None:
        self._jobs -= 1
        try:
            results = future.result()
        except Exception as exc:  # noqa: BLE001 - a worker bug must not kill the loop
            log.error("this is a bug: a netlink worker job failed: %s", exc)
        else:
            self._record_results(steps, results)
        if self.idle():
            self.plans.idle()  # backups made while it worked (a demotion)

    def _record_results(self, steps: List[Step], results: List[Any]) -> None:
        for (kind, inst, _jobs, arg), result in zip(steps, results):
            if kind == "vips":
                self._record(inst, bool(arg), result)
            elif kind == "routes":
                self._record_routes(inst, bool(arg), result)
            elif kind == "filter":
                for error in result:
                    inst.counters["vip_errors"] += 1
                    inst.log.error("%s", error)
            elif kind == "advert":
                for error in result:
                    inst.counters["send_errors"] += 1
                    inst.log.debug("%s", error)
            else:
                for error in result:
                    inst.log.warning("%s", error)

    def advert_after(self, inst: Instance, packets: List[Tuple[Any, bytes, Any, bytes]]) -> None:
        """Queue an advert behind the netlink work already queued (make-before-break)."""
        self._submit(("advert", inst, packets, None))

    def change_all(self, inst: Instance, add: bool) -> bool:
        """VIPs, routes and rules of `inst`; False when nothing was left queued."""
        routes = list(inst.cfg.routes) + list(inst.cfg.rules)
        if routes and not add:
            self.change_routes(inst, routes[::-1], False)
        queued = self.change(inst, inst.all_vips, add)
        if routes and add:
            self.change_routes(inst, routes, True)
        if add:
            self._extra_garp_later(inst)
        return queued or bool(routes)

    def _extra_if_vips(self, inst: Instance) -> Tuple[VipSpec, ...]:
        """The VIPs garp_extra_if refreshes (module rules)."""
        garp = inst.cfg.garp
        if garp.extra_if_s <= 0:
            return ()
        own = inst.cfg.vip_interface
        per_vip = {v.name for v in inst.cfg.vip_vmacs}
        return tuple(v for v in inst.all_vips if inst.cfg.vip_dev(v) != own
                     and (garp.extra_if_all or inst.cfg.vip_dev(v) in per_vip))

    def _extra_garp_later(self, inst: Instance) -> None:
        chain = self._extra_chains[id(inst)] = self._extra_chains.get(id(inst), 0) + 1
        if self._extra_if_vips(inst):
            self.rt.loop.call_later(inst.cfg.garp.extra_if_s, self._extra_garp, inst, chain)

    def _extra_garp(self, inst: Instance, chain: int) -> None:
        """One garp_extra_if round, then the next; a chain ends when the instance leaves
        MASTER or a newer takeover started its own."""
        if (self._extra_chains.get(id(inst)) != chain or inst.router.state != MASTER
                or inst not in self.rt.instances):
            return
        vips = self._extra_if_vips(inst)
        if vips:
            self._send(inst, 1, vips)
            self.rt.loop.call_later(inst.cfg.garp.extra_if_s, self._extra_garp, inst, chain)

    def change_routes(self, inst: Instance, specs: Sequence[Any], add: bool) -> None:
        """Queue virtual_routes / virtual_rules adds (or removals), in the given order."""
        self._submit(("routes", inst, list(specs), add))

    def _record_routes(self, inst: Instance, add: bool, outcomes: List[Tuple[str, Any]]) -> None:
        for what, result in outcomes:
            if isinstance(result, str):
                inst.counters["vip_errors"] += 1
                inst.log.error("%s", result)
            elif result:
                inst.log.info("%s %s", "added" if add else "removed", what)

    def ifindex_of(self, inst: Instance, vip: VipSpec) -> Any:
        if inst.cfg.announce is not None:  # routed: the worker creates a missing device
            try:
                return self.rt.adapters.ifindex(inst.cfg.announce.dev)
            except OSError:
                return inst.cfg.announce.dev
        name = inst.cfg.vip_dev(vip)  # use_vmac: the vMAC
        if name == inst.cfg.socket_interface and inst.ifindex is not None:
            return inst.ifindex
        try:
            return self.rt.adapters.ifindex(name)
        except OSError:
            return None

    def _from_worker(self, fn: Any, *args: Any) -> None:
        loop = self.rt.loop
        if loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop closed meanwhile: nothing left to record
            pass

    def _record(self, inst: Instance, add: bool, outcomes: List[Outcome]) -> None:
        verb = "added" if add else "removed"
        for vip, result in outcomes:
            if isinstance(result, str):
                inst.counters["vip_errors"] += 1
                inst.log.error("%s", result)
                continue
            self._set_held(vip.address, add)
            if result:
                inst.log.info("%s VIP %s/%d", verb, vip.address, vip.prefixlen)

    def _set_held(self, address: str, held: bool) -> None:
        if held == (address in self.held):
            return
        (self.held.add if held else self.held.discard)(address)
        if self.rt.state_dir is None:
            return
        path = os.path.join(self.rt.state_dir, HELD_FILE)
        try:
            with open(path + ".tmp", "w") as fh:
                json.dump(sorted(self.held), fh)
            os.replace(path + ".tmp", path)
        except OSError as exc:
            log.warning("cannot record held VIPs in %s: %s", path, exc)

    async def settled(self) -> None:
        """Every queued change done and recorded."""
        await asyncio.wrap_future(self.netlink.submit(lambda: None))
        await asyncio.sleep(0)  # let the recording callbacks run

    async def release_leftovers(self, instances: Sequence[Instance]) -> None:
        """Startup: remove VIPs left by a previous run (keepalived does the same)."""
        for inst in instances:
            try:
                self.rt.adapters.ifindex(inst.cfg.interface)
            except OSError:
                continue
            self.change_all(inst, False)
        await self.settled()

    # ----------------------------------------------------------- announcing
    def announce(self, inst: Instance, repeat: int, vips: Optional[Sequence[VipSpec]] = None) -> bool:
        """Queue a GARP/NA burst, spaced as keepalived spaces it (module rules).

        False when nothing was queued: the burst went out at once (`_send`)."""
        chosen = tuple(inst.all_vips if vips is None else vips)
        garp = inst.cfg.garp
        if garp.interval_s <= 0 and garp.gna_interval_s <= 0:
            return self._send(inst, repeat, chosen)
        now = self.rt.loop.time()
        for _round in range(repeat):
            for vip in chosen:
                key = (inst.cfg.vip_dev(vip), vip.family)
                at = max(now, self.announce_free.get(key, now))
                gap = garp.interval_s if vip.family == 4 else garp.gna_interval_s
                self.announce_free[key] = at + gap
                if at <= now:
                    self._send(inst, 1, (vip,))
                else:
                    self.rt.loop.call_at(at, self._send_later, inst, vip)
        return True

    def _send_later(self, inst: Instance, vip: VipSpec) -> None:
        if inst.router.state == MASTER:  # a burst stops with the mastership
            self._send(inst, 1, (vip,))

    def _send(self, inst: Instance, repeat: int, vips: Tuple[VipSpec, ...]) -> bool:
        """Send now when the worker is idle (after VIPs added now), else queue; True: queued."""
        jobs = [(inst.cfg.vip_dev(vip), vip) for vip in vips]
        if self.idle():
            for error in announce_calls(self.announcer, self.mac, jobs, repeat):
                inst.log.warning("%s", error)
            return False
        self._submit(("announce", inst, jobs, repeat))
        return True


def read_held_vips(state_dir: Optional[str]) -> Set[str]:
    """The VIPs a previous run recorded as held (empty if none or unreadable)."""
    if state_dir is None:
        return set()
    try:
        with open(os.path.join(state_dir, HELD_FILE)) as fh:
            return set(json.load(fh))
    except (OSError, ValueError):
        return set()
