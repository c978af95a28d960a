"""What the daemon sets up on the host for its whole run, and takes down at stop.

Rules (keepalived 2.2.7's order, each step on the netlink worker):
- start(): vMACs and promote_secondaries (adapters/vmac.py), then the
  nftables tables (adapters/nft.py: no_accept filtering, vMAC group reports),
  then static_ipaddress / static_routes / static_rules (adapters/routes.py),
  all before any VIP, socket or advert. A vMAC or a no_accept table that
  cannot be set up is a system error: start() returns False (logged) and the
  daemon exits non-zero after stop(); a static entry that fails is logged.
- stop(): the reverse (statics, tables, vMACs and the sysctls they changed),
  after every VIP is gone. It undoes only what start() did: static entries
  are removed only once added (a failed start leaves the host's own), and a
  table set up for one family is removed when the next family fails.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, List

from vrrp_agent.errors import SystemFailure
from vrrp_agent.runtime import Runtime
from vrrp_agent.vips import VipKeeper

log = logging.getLogger("vrrp_agent")


class HostSetup:
    """vMACs, nftables tables and static_* for the daemon's lifetime."""

    def __init__(self, rt: Runtime, netlink: Any, vips: VipKeeper, vmacs: Any):
        self.rt = rt
        self.netlink = netlink
        self.vips = vips
        self.vmacs = vmacs
        self._statics_added = False

    async def _on_worker(self, fn: Any, *args: Any) -> Any:
        return await asyncio.wrap_future(self.netlink.submit(fn, *args))

    async def start(self) -> bool:
        if not await self._create_vmacs() or not await self._setup_filter():
            return False
        await self._statics(True)
        self._statics_added = True
        return True

    async def stop(self) -> None:
        if self._statics_added:
            await self._statics(False)
            self._statics_added = False
        await self._teardown_filter()
        await self._remove_vmacs()

    async def _create_vmacs(self) -> bool:
        """use_vmac: the macvlans, before any VIP or socket (False: a system error, logged).

        promote_secondaries: its sysctl, here too (restored with the vMACs at stop).
        """
        configs = [c for c in self.rt.config.instances if c.vmac or c.promote_secondaries]
        if not configs:
            return True

        def on_worker() -> List[str]:
            return list(self.vmacs.apply(self.netlink, configs, self.rt.adapters.ifindex))

        try:
            for line in await self._on_worker(on_worker):
                log.info("%s", line)
        except (SystemFailure, OSError) as exc:
            log.error("cannot set up the vMAC interfaces: %s", exc)
            return False
        return True

    async def _setup_filter(self) -> bool:
        """no_accept: keepalived's nftables tables, before any VIP (False: logged error).

        use_vmac: the IGMP rule of the same table, best effort (as keepalived).
        """
        families = {v.family for c in self.rt.config.instances if c.filters
                    for v in c.vips + c.excluded_vips}
        from vrrp_agent.adapters.vmac import ipv6_evips

        vmacs = [(v.name, parent, family) for c in self.rt.config.instances
                 for v, parent, family in c.all_vmacs]
        vmacs += [(c.vmac.name, c.interface, 6) for c in self.rt.config.instances
                  if c.vmac and ipv6_evips(c)]  # its MLD too, as keepalived
        if not families and not vmacs:
            return True
        from vrrp_agent.adapters.nft import NftFilter, missing_reason

        if not families:
            reason = await self._on_worker(missing_reason)
            if reason is not None:
                log.warning("use_vmac: IGMP/MLD reports will leave from the virtual MAC: %s", reason)
                return True

        g = self.rt.config.globals
        nft = NftFilter(g.nft_table, g.nft_priority, g.nft_counters)
        try:
            for line in await self._on_worker(nft.setup, families, vmacs):
                log.info("%s", line)
        except SystemFailure as exc:
            log.error("no_accept cannot be enforced, not starting: %s", exc)
            for error in await self._on_worker(nft.teardown):  # the tables made so far
                log.warning("%s", error)
            return False
        self.vips.filter = nft
        return True

    async def _teardown_filter(self) -> None:
        if self.vips.filter is not None:
            for error in await self._on_worker(self.vips.filter.teardown):
                log.warning("%s", error)
            self.vips.filter = None

    async def _statics(self, add: bool) -> None:
        """static_ipaddress / static_routes / static_rules: at start, and removed at stop."""
        c = self.rt.config
        if not (c.static_vips or c.static_routes or c.static_rules):
            return
        from vrrp_agent.adapters.routes import apply_statics

        outcomes = await self._on_worker(apply_statics, self.netlink, c.static_vips,
                                         c.static_routes, c.static_rules, add)
        for what, result in outcomes:
            if isinstance(result, str):
                log.error("%s", result)
            elif result:
                log.info("%s %s", "added" if add else "removed", what)

    async def _remove_vmacs(self) -> None:
        if not any(c.vmac or c.promote_secondaries for c in self.rt.config.instances):
            return
        for what, error in await self._on_worker(
                lambda: self.vmacs.remove_all(self.netlink.ipr())):
            log.warning("use_vmac clean-up: %s: %s", what, error)
