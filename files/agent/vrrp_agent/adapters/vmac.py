"""vMAC interfaces (keepalived's `use_vmac`): a private-mode macvlan per instance.

Also `promote_secondaries` (the sysctl on the instance interface, while running).

Rules:
- Runs on the netlink worker (`Netlink.ipr()`); sysctls are written under
  /proc/sys of the agent's network namespace.
- Set up as keepalived 2.2.7 does (checked side by side in tests/lab):
  macvlan mode private on the instance interface, MAC 00:00:5e:00:01:VRID;
  on the parent arp_ignore=1 and arp_filter=1 (only the vMAC answers ARP for
  the VIPs); on the vMAC arp_ignore=1, accept_local=1 (its own adverts come
  back through the parent), rp_filter=0, promote_secondaries=1, and IPv6 off
  on an IPv4 instance's vMAC (no link-local, no RS/MLD from the virtual MAC).
  If net.ipv4.conf.all.rp_filter is set, every interface and `default` get
  the greater of theirs and all's, and all is set to 0 (a vMAC must pass
  rp_filter). Every value changed is put back by `remove_all()`.
- IPv6 instances (MAC 00:00:5e:00:02:VRID): no IPv4 sysctl is touched; the
  vMAC gets no address of its own (addr_gen_mode none) but the parent's
  link-local, nodad and deprecated, as keepalived: the adverts' source.
- An interface of that name already there is reused only if it is a macvlan
  on the same parent; anything else is a SystemFailure, never taken over.
- `parent_errors()` is the host check before anything changes: the parent
  must exist and be able to carry a macvlan (an Ethernet device, not
  loopback, not a bridge port or bond slave, whose receive hook is taken).
"""

from __future__ import annotations

import errno
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

from vrrp_agent.config.model import Config, InstanceConfig, VipSpec, VmacConfig
from vrrp_agent.errors import ConfigError, SystemFailure

ARPHRD_ETHER = 1
PROC_IPV4 = "/proc/sys/net/ipv4/conf"
PROC_IPV6 = "/proc/sys/net/ipv6/conf"
SYS_NET = "/sys/class/net"
PARENT_SYSCTLS = (("arp_ignore", 1), ("arp_filter", 1))
VMAC_SYSCTLS = (("arp_ignore", 1), ("accept_local", 1), ("rp_filter", 0),
                ("promote_secondaries", 1))


def parent_errors(config: Config, sys_net: str = SYS_NET) -> List[ConfigError]:
    """The vMAC parents that cannot carry a macvlan, as FILE:LINE errors."""
    errors = []
    for inst in config.instances:
        for vmac, parent, _family in inst.all_vmacs:
            why = _cannot_carry(parent, vmac.name, sys_net)
            if why:
                errors.append(ConfigError(f"use_vmac: {why}", vmac.file, vmac.line))
    return errors


def ipv6_evips(inst: InstanceConfig) -> bool:
    """An IPv4 instance with IPv6 eVIPs: keepalived keeps IPv6 on its vMAC (and filters MLD)."""
    return inst.family == 4 and any(v.family == 6 for v in inst.all_vips_config)


def _cannot_carry(parent: str, name: str, sys_net: str) -> Optional[str]:
    base = os.path.join(sys_net, parent)
    if not os.path.isdir(base):
        return None  # "does not exist" is config.host's error
    try:
        with open(os.path.join(base, "type")) as fh:
            hw_type = int(fh.read().strip())
    except (OSError, ValueError):
        return f"cannot read the link type of {parent}"
    if hw_type != ARPHRD_ETHER or parent == "lo":
        return f"{parent} is not an Ethernet interface (link type {hw_type}): it cannot carry a macvlan"
    for marker, what in (("brport", "a bridge port"), ("bonding_slave", "a bond slave")):
        if os.path.exists(os.path.join(base, marker)):
            return f"{parent} is {what}: it cannot carry a macvlan (use the bridge or bond itself)"
    other = os.path.join(sys_net, name)
    if os.path.isdir(other) and not os.path.exists(os.path.join(other, "lower_" + parent)):
        return f"interface {name} already exists and is not a macvlan on {parent}"
    return None


class VmacLinks:
    """Creates the vMACs of a config and undoes everything on `remove_all()` (worker side)."""

    def __init__(self, proc_v4: str = PROC_IPV4, proc_v6: str = PROC_IPV6):
        self.proc_v4 = proc_v4
        self.proc_v6 = proc_v6
        self.created: List[str] = []
        self.saved: Dict[str, int] = {}
        """sysctl path -> value before we changed it (restored on remove_all)."""

    def apply(self, netlink: Any, instances: Sequence[InstanceConfig], ifindex: Any) -> List[str]:
        """Create every vMAC; the log lines to print. Raises SystemFailure."""
        lines: List[str] = []
        for inst in instances:  # promote_secondaries: on the instance interface
            if inst.promote_secondaries:
                self._set(self.proc_v4, inst.interface, "promote_secondaries", 1)
        vmacs = [(inst, *entry) for inst in instances for entry in inst.all_vmacs]
        if any(family == 4 for _inst, _vmac, _parent, family in vmacs):
            lines += self._rp_filter_all()
        for inst, vmac, parent_name, family in vmacs:
            ipv6_too = vmac is inst.vmac and ipv6_evips(inst)
            lines.append(self._one(netlink, inst.name, vmac, parent_name, family,
                                   ifindex(parent_name), ipv6_too))
        return lines

    def _one(self, netlink: Any, owner: str, vmac: VmacConfig, parent_name: str, family: int,
             parent: int, ipv6_too: bool = False) -> str:
        from pyroute2.netlink.exceptions import NetlinkError

        ipr = netlink.ipr()
        found = ipr.link_lookup(ifname=vmac.name)
        try:
            if not found:
                ipr.link("add", ifname=vmac.name, kind="macvlan", link=parent,
                         macvlan_mode="private", address=vmac.mac)
                self.created.append(vmac.name)
                verb = "created"
            else:
                self._check_reusable(ipr, found[0], vmac.name, parent)
                ipr.link("set", index=found[0], address=vmac.mac)
                verb = "reused"
            index = ipr.link_lookup(ifname=vmac.name)[0]
            if family == 4:
                for key, value in PARENT_SYSCTLS:
                    self._set(self.proc_v4, parent_name, key, value)
                for key, value in VMAC_SYSCTLS:
                    self._set(self.proc_v4, vmac.name, key, value)
                if ipv6_too:  # IPv6 eVIPs: IPv6 on, but no address of its own (keepalived)
                    self._set(self.proc_v6, vmac.name, "addr_gen_mode", 1, restore=False)
                else:
                    self._set(self.proc_v6, vmac.name, "disable_ipv6", 1, restore=False)
            else:
                self._set(self.proc_v6, vmac.name, "addr_gen_mode", 1, restore=False)
            ipr.link("set", index=index, state="up")
            if family == 6:
                self._link_local(netlink, parent, index, vmac.name)
        except NetlinkError as exc:
            raise SystemFailure(f"use_vmac {vmac.name} on {parent_name}: netlink error "
                                f"{exc.code} {errno.errorcode.get(exc.code, '')}") from exc
        return f"vMAC {vmac.name} ({vmac.mac}) {verb} on {parent_name} for {owner}"

    @staticmethod
    def _link_local(netlink: Any, parent: int, index: int, name: str) -> None:
        """The parent's link-local on the vMAC, nodad and deprecated (keepalived)."""
        for _index, addr, plen, _flags in netlink.addresses(parent):
            if addr.lower().startswith("fe80:"):
                netlink.add_vip(index, VipSpec(address=addr, prefixlen=plen, family=6,
                                               preferred_lft=0))
                return
        raise SystemFailure(f"use_vmac {name}: the parent has no IPv6 link-local address to "
                            "give the vMAC (the adverts' source)")

    @staticmethod
    def _check_reusable(ipr: Any, index: int, name: str, parent: int) -> None:
        link = ipr.get_links(index)[0]
        info = link.get_attr("IFLA_LINKINFO")
        kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
        if kind != "macvlan" or link.get_attr("IFLA_LINK") != parent:
            raise SystemFailure(f"use_vmac: interface {name} exists and is not a macvlan on the "
                                "instance interface; refusing to take it over")

    def _rp_filter_all(self) -> List[str]:
        """keepalived: all.rp_filter > 0 is spread to every interface, then all = 0."""
        value = self._get(os.path.join(self.proc_v4, "all", "rp_filter"))
        if not value:
            return []
        for name in sorted(os.listdir(self.proc_v4)):
            if name != "all":
                current = self._get(os.path.join(self.proc_v4, name, "rp_filter")) or 0
                self._set(self.proc_v4, name, "rp_filter", max(current, value))
        self._set(self.proc_v4, "all", "rp_filter", 0)
        return [f"net.ipv4.conf.all.rp_filter {value} moved to each interface (use_vmac)"]

    def _set(self, root: str, ifname: str, key: str, value: int, restore: bool = True) -> None:
        path = os.path.join(root, ifname, key)
        old = self._get(path)
        if old is None:
            raise SystemFailure(f"use_vmac: cannot read {path}")
        if old == value:
            return
        if restore and path not in self.saved:
            self.saved[path] = old
        try:
            with open(path, "w") as fh:
                fh.write(f"{value}\n")
        except OSError as exc:
            raise SystemFailure(f"use_vmac: cannot write {path}: {exc}") from exc

    @staticmethod
    def _get(path: str) -> Optional[int]:
        try:
            with open(path) as fh:
                return int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def remove_all(self, ipr: Any) -> List[Tuple[str, str]]:
        """Delete the vMACs we created and put every sysctl back: [(what, error)]."""
        from pyroute2.netlink.exceptions import NetlinkError

        problems = []
        for name in reversed(self.created):
            try:
                for index in ipr.link_lookup(ifname=name):
                    ipr.link("del", index=index)
            except NetlinkError as exc:
                problems.append((name, f"netlink error {exc.code}"))
        self.created = []
        for path, value in self.saved.items():
            if not os.path.exists(path):
                continue  # the vMAC is gone with its sysctls
            try:
                with open(path, "w") as fh:
                    fh.write(f"{value}\n")
            except OSError as exc:
                problems.append((path, str(exc)))
        self.saved = {}
        return problems
