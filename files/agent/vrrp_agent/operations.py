"""Operator actions on a running daemon: status, takeover/standby/release, reload.

The operations facade, one part of the daemon (daemon.py assembles them):
what the control socket and SIGHUP reach. Rules:
- takeover: advertise TAKEOVER_PRIORITY (254: above any non-owner master,
  never the owner's 255) and become master at once (make-before-break: our
  advert goes out before our VIPs are added; the old master yields on it).
- standby: a master sends priority 0 and drops its VIPs at once; the instance
  stays BACKUP at priority 1 (it still takes over if nobody else can).
- release: back to the configured priority; normal preemption rules apply.
- Overrides are persisted in STATE_DIR/overrides.json and restored at start.
- reload: the config goes through validation.py (syntax, model, host
  checks) like check-config and run; an invalid one is refused and the
  running one kept. Instances
  match on (interface, VRID, family) and keep their state; only VIPs that
  left the config are removed; removed instances stop with priority 0.
  Trackers, notify hooks and resource groups are reconfigured in place.
- Sync groups: takeover/standby/release act on every member of the group
  of a named instance. release also clears a resource-failure FAULT.
- Priorities belong to the Router (router.py rule 5): takeover, standby
  and release only call it and run the actions it returns. While an
  override holds, tracking changes the tracked priority, not the advertised
  one (FAULT still applies); release goes back to the tracked priority.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set

from vrrp_agent import __version__
from vrrp_agent.adapters.sockets import receive_drops
from vrrp_agent.config.model import Config, InstanceConfig
from vrrp_agent.config.process_globals import process_limits
from vrrp_agent.control import ControlError
from vrrp_agent.errors import ConfigError
from vrrp_agent.health import TrackingDriver
from vrrp_agent.instance import Instance
from vrrp_agent.routed import announce_status
from vrrp_agent.router import BACKUP, FAULT, MASTER, TAKEOVER_PRIORITY
from vrrp_agent.runtime import Runtime
from vrrp_agent.status import SCHEMA_VERSION, instance_status, iso_utc
from vrrp_agent.transitions import Transitions
from vrrp_agent.vips import VipKeeper

if TYPE_CHECKING:
    from vrrp_agent.driver import Driver

log = logging.getLogger("vrrp_agent")


class Operations:
    """status, takeover/standby/release and reload, on the parts of the daemon."""

    def __init__(self, rt: Runtime, driver: Driver, transitions: Transitions,
                 tracking: TrackingDriver, vips: VipKeeper):
        self.rt = rt
        self.driver = driver
        self.transitions = transitions
        self.tracking = tracking
        self.vips = vips
        self.started_wall = time.time()

    def status(self) -> Dict[str, Any]:
        self.driver.quiet.drain_all()  # counters and master as of now (quiet.py)
        now = self.rt.loop.time()
        wall_offset = time.time() - now
        return {
            "schema": SCHEMA_VERSION,
            "agent": {
                "version": __version__,
                "pid": os.getpid(),
                "config": self.rt.config.path,
                "router_id": self.rt.config.globals.router_id,
                "started_at": iso_utc(self.started_wall),
                "uptime_s": round(time.time() - self.started_wall, 3),
                "discards": dict(self.driver.discards),
                "socket_drops": receive_drops(self.driver.io.values()),
            },
            "instances": [self._instance_status(i, now, wall_offset) for i in self.rt.instances],
        }

    def _instance_status(self, inst: Instance, now: float, wall_offset: float) -> Dict[str, Any]:
        doc = instance_status(inst, now, wall_offset)
        doc["sync_group"] = inst.cfg.sync_group
        doc["tracking"] = self.tracking.tracking_of(inst)
        doc["resources"] = inst.resources.status() if inst.resources is not None else []
        doc["announce"] = announce_status(inst, self.vips.held)
        return doc

    def with_groups(self, names: List[str]) -> List[str]:
        """The named instances plus the other members of their sync groups."""
        out = list(names)
        for inst in self.rt.instances:
            if inst.cfg.name in names:
                members = self.transitions.group_members(inst.cfg.sync_group)
                out += [m.cfg.name for m in members if m.cfg.name not in out]
        return out

    def set_override(self, names: List[str], kind: Optional[str]) -> Dict[str, Any]:
        """takeover / standby / release (kind None) for the named instances (and their groups)."""
        # what came before the change counts as it was then (a watched backup, stamped.py,
        # has not read its master's steady adverts for a while)
        self.driver.quiet.drain_all()
        names = self.with_groups(names)
        chosen = [i for i in self.rt.instances if i.cfg.name in names]
        if kind == "takeover":
            for inst in chosen:
                if inst.router.state == FAULT or inst.ifindex is None:
                    raise ControlError(f"{inst.cfg.name} is in FAULT: it cannot take over")
                master = inst.router.master_priority
                if inst.router.state != MASTER and master is not None and master >= TAKEOVER_PRIORITY:
                    raise ControlError(
                        f"{inst.cfg.name}: the current master advertises priority {master};"
                        f" a takeover advertises {TAKEOVER_PRIORITY} (255 is reserved for the address owner)"
                    )
        now = self.rt.loop.time()
        for inst in chosen:
            before = inst.router.state
            if kind == "takeover":
                actions = inst.router.takeover(now)
            elif kind == "standby":
                actions = inst.router.standby(now)
            else:
                actions = inst.router.release(now)  # back to the tracked priority
            inst.log.info("override %s (was %s)", kind or "released", before)
            self.transitions.apply(inst, actions)
            if kind is None:
                self.transitions.clear_resource_fault(inst)
            self.driver.arm(inst)
        self._save_overrides()
        return {"instances": [{"name": i.cfg.name, "state": i.router.state,
                               "override": i.override} for i in chosen]}

    def load_overrides(self) -> Dict[str, str]:
        if self.rt.state_dir is None:
            return {}
        try:
            with open(os.path.join(self.rt.state_dir, "overrides.json")) as fh:
                data = json.load(fh)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable overrides.json: %s", exc)
            return {}
        return {k: v for k, v in data.items() if v in ("takeover", "standby")}

    def restore_overrides(self, overrides: Dict[str, str]) -> None:
        for kind in ("takeover", "standby"):
            names = [i.cfg.name for i in self.rt.instances if overrides.get(i.cfg.name) == kind]
            if names:
                log.info("restoring %s override from the state dir: %s", kind, ", ".join(names))
                try:
                    self.set_override(names, kind)
                except ControlError as exc:
                    log.warning("override not restored: %s", exc)

    def _save_overrides(self) -> None:
        if self.rt.state_dir is None:
            return
        data = {i.cfg.name: i.override for i in self.rt.instances if i.override}
        path = os.path.join(self.rt.state_dir, "overrides.json")
        try:
            with open(path + ".tmp", "w") as fh:
                json.dump(data, fh)
            os.replace(path + ".tmp", path)
        except OSError as exc:
            log.warning("cannot persist overrides in %s: %s", path, exc)

    async def reload_logged(self) -> None:
        """SIGHUP: reload; a refusal is already logged."""
        try:
            await self.reload()
        except ControlError:
            pass

    async def reload(self) -> Dict[str, Any]:
        """Re-read the config; keep matched instances' state (interface + VRID + family)."""
        from vrrp_agent.adapters.netlink import host_facts_on_worker, host_networks_on_worker
        from vrrp_agent.validation import HostFacts, validate

        try:
            facts = self.rt.adapters.host_facts or host_facts_on_worker
            interfaces, addresses = await self.driver.on_netlink(facts, self.driver.netlink)
            # the same pipeline as check-config and run: a VIP that is one of this
            # host's own addresses (and not one we hold) is refused here too
            networks = set()  # known only with the real netlink (fakes: no gateway check)
            if self.rt.adapters.host_facts is None:
                networks = await self.driver.on_netlink(host_networks_on_worker, self.driver.netlink)
            host = HostFacts(interfaces, addresses, set(self.vips.held), networks)
            new, problems = validate(self.rt.config.path, host, interfaces_required=False,
                                     config_id=self.rt.config.config_id)
            if problems:
                raise problems[0]
            self._refuse_restart_only(new)
        except ConfigError as exc:
            log.error("reload refused, running configuration kept: %s", exc)
            raise ControlError(f"reload refused, running configuration kept: {exc}") from None
        return await self._apply_config(new)

    def _refuse_restart_only(self, new: Config) -> None:
        """The multicast groups are joined on sockets shared by every instance: a restart.

        So are vMAC interfaces (created at start, removed at stop).
        """
        def vmacs(config: Config) -> Dict[Any, Any]:
            return {c.key: ([(v.name, v.mac, v.xmit_base, p, f) for v, p, f in c.all_vmacs],
                            c.promote_secondaries)
                    for c in config.instances if c.vmac or c.promote_secondaries}

        before_vmacs, after_vmacs = vmacs(self.rt.config), vmacs(new)
        before = {c.key: c.filters for c in self.rt.config.instances}
        if _filtering(self.rt.config) != _filtering(new) or any(
                before.get(c.key, c.filters) != c.filters for c in new.instances):
            raise ConfigError("no_accept / strict mode / nftables settings changed: that takes a "
                              "restart (systemctl restart vrrp-agent), not a reload", new.path)
        if _filtered_families(new) - _filtered_families(self.rt.config):  # no table for them
            raise ConfigError("no_accept: a filtered VIP of a new address family needs its "
                              "nftables table: that takes a restart (systemctl restart "
                              "vrrp-agent), not a reload", new.path)
        if _statics(self.rt.config) != _statics(new):
            raise ConfigError("static_ipaddress / static_routes / static_rules changed: that "
                              "takes a restart (systemctl restart vrrp-agent), not a reload", new.path)
        if before_vmacs != after_vmacs:
            raise ConfigError("use_vmac / vmac_xmit_base / promote_secondaries changed: that "
                              "takes a restart "
                              "(systemctl restart vrrp-agent), not a reload", new.path)
        for field in ("mcast_group4", "mcast_group6"):
            before, after = getattr(self.rt.config.globals, field), getattr(new.globals, field)
            if before != after:
                raise ConfigError(f"vrrp_{field} changed from {before} to {after}: that takes a "
                                  "restart (systemctl restart vrrp-agent), not a reload", new.path)

    async def _apply_config(self, new: Config) -> Dict[str, Any]:
        self.driver.quiet.drain_all()  # judged by the old config, as they came (set_override)
        now = self.rt.loop.time()
        old = {inst.cfg.key: inst for inst in self.rt.instances}
        kept: List[Instance] = []
        new_cfgs: List[InstanceConfig] = []
        changed = []
        resourced: List[Instance] = []
        for cfg in new.instances:
            inst = old.pop(cfg.key, None)
            if inst is None:
                new_cfgs.append(cfg)
                continue
            kept.append(inst)
            if inst.cfg != cfg:
                changed.append(inst.cfg.name)
                if _source(inst.cfg) != _source(cfg) and inst.ifindex is not None:
                    resourced.append(inst)  # bound again below: the new source is looked up
                if inst.cfg.name != cfg.name:
                    self.transitions.supervisor.rename(inst.cfg.name, cfg.name)
                self._reconfigure(inst, cfg, new, now)
        for inst in old.values():
            inst.log.info("removed from the configuration: stopping")
            inst.removed = True
            self.driver.cancel_timer(inst)
            self.transitions.apply(inst, inst.router.shutdown(now))
            self.transitions.supervisor.forget(inst.cfg.name)
            self.vips.plans.forget(inst)
            self.driver.unbind(inst)
        wire, old_g = self.driver.wire, self.rt.config.globals
        previous = (wire.rt_priority_in_force(old_g), old_g.nice)  # max_auto_priority steps too
        self.rt.config = new
        self.rt.adapters.apply_scheduling(new.globals.rt_priority, new.globals.nice, previous)
        wire.set_auto_priority(new.globals)  # from vrrp_rt_priority again, as the threads are
        self.rt.adapters.apply_process_limits(*process_limits(new.globals))
        if new.globals.umask is not None:
            self.rt.adapters.set_umask(new.globals.umask)
        if self.driver.link_delays is not None:
            self.driver.link_delays.configure(new.link_delays)
        for inst in kept:
            self.transitions.attach(inst)
        started = [self.transitions.new_instance(cfg) for cfg in new_cfgs]
        self.rt.instances = kept + started
        self.transitions.sync_groups_changed()
        self.tracking.start()
        for inst in started:
            inst.log.info("new in the configuration: starting")
            await self.driver.bind(inst)
        for inst in resourced:
            inst.log.info("source address changed: advertising from the new one")
            await self.driver.bind(inst)
        if any(i.cfg.track_src_ip for i in self.rt.instances):
            self.driver.unbound.set()  # the retry loop may wait for a failed bind: poll now
        for inst in self.rt.instances:
            self.transitions.settle(inst)
        self.driver.quiet.changed_all()  # accepted adverts are forgotten on reconfigure
        summary = {"kept": [i.cfg.name for i in kept], "changed": changed,
                   "started": [i.cfg.name for i in started],
                   "stopped": [i.cfg.name for i in old.values()]}
        log.info("reloaded %s: %s", new.path, summary)
        self.rt.bus.publish("reload", **summary)
        return summary

    def _reconfigure(self, inst: Instance, cfg: InstanceConfig, new: Config, now: float) -> None:
        """Same identity, new settings: VIP delta applied in place, state kept."""
        old_vips = {(v.address, v.prefixlen, v.dev) for v in inst.all_vips}
        was_master = inst.router.state == MASTER
        old_routes = _unplaced(inst.cfg.routes + inst.cfg.rules)
        new_routes = _unplaced(cfg.routes + cfg.rules)
        if was_master and old_routes != new_routes:  # virtual_routes/rules: the delta
            self.vips.change_routes(inst, [r for r in inst.cfg.rules + inst.cfg.routes
                                           if _unplaced((r,)) - new_routes], False)
        if was_master and _placement(inst.cfg) != _placement(cfg):  # garp <-> bgp, new dev
            self.vips.change(inst, inst.all_vips, False)  # from where the old config put them
            old_vips = set()
        removed = [v for v in inst.all_vips if (v.address, v.prefixlen, v.dev) not in
                   {(n.address, n.prefixlen, n.dev) for n in cfg.vips + cfg.excluded_vips}]
        self.transitions.apply(inst, inst.reconfigure(cfg, new.globals, now))
        if inst.ifindex is not None:
            self.driver.wire.attach(inst)  # unicast TTL, group, AH socket, no-peer fault
        added = [v for v in inst.all_vips if (v.address, v.prefixlen, v.dev) not in old_vips]
        if was_master:
            if removed:
                self.vips.change(inst, removed, False)
            if added:
                self.vips.change(inst, added, True)
                if cfg.announce is None:  # routed VIPs have no layer-2 neighbour to teach
                    self.vips.announce(inst, cfg.garp.master_repeat, added)
            if cfg.announce is not None:  # garp -> bgp, or a new lease: renewed in time
                self.driver.leases.ensure_running()
            if old_routes != new_routes:
                self.vips.change_routes(inst, [r for r in cfg.routes + cfg.rules
                                               if _unplaced((r,)) - old_routes], True)
        elif inst.router.state == BACKUP:  # its takeover plan was the old config's
            self.vips.plans.prepare(inst)
        self.driver.arm(inst)


def _unplaced(specs: Any) -> Set[Any]:
    """Routes/rules/addresses without their FILE:LINE, for comparing two configs."""
    return {dataclasses.replace(spec, file="", line=0) for spec in specs}


def _statics(config: Config) -> Set[Any]:
    return _unplaced(config.static_vips + config.static_routes + config.static_rules)


def _filtering(config: Config) -> Any:
    """Whether the nftables tables are needed (some instance filters: no_accept), and their
    settings. An instance that comes or goes with a reload only adds or takes out its own
    VIPs; a kept one must keep its no_accept (its VIPs would be on the wrong side)."""
    g = config.globals
    return (any(c.filters for c in config.instances),
            (g.nft_table, g.nft_priority, g.nft_counters)
            if any(c.filters or c.vmac for c in config.instances) else None)


def _filtered_families(config: Config) -> Set[int]:
    """The address families of filtered VIPs: the nftables tables set up at start."""
    return {v.family for c in config.instances if c.filters for v in c.vips + c.excluded_vips}


def _source(cfg: InstanceConfig) -> Any:
    """The configured advert source (None: the interface's primary address)."""
    return cfg.unicast_src_ip or cfg.mcast_src_ip


def _placement(cfg: InstanceConfig) -> Any:
    """Where the VIPs of an instance live: its interfaces (None) or an announce device."""
    return None if cfg.announce is None else (cfg.announce.mode, cfg.announce.dev)
