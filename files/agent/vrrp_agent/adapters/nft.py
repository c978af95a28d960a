"""no_accept filtering through libnftables (Debian's python3-nftables), never a shelled `nft`.

Rules:
- `load_nftables()` imports `nftables`; if that fails (the agent runs from a
  venv without system site packages) it loads Debian's module by path, that
  package alone, from /usr/lib/python3/dist-packages/nftables (pure Python
  over libnftables.so.1 through ctypes). No module, no library: SystemFailure
  naming the package to install. `missing_reason()` is the same test for the
  host checks, so a host without nftables is refused before anything changes.
- One `NftFilter` per daemon, used on the netlink worker thread only.
- The tables are keepalived 2.2.7's (compared in tests/lab): per family a
  table `ip|ip6 NAME` (nftables NAME, default keepalived) with a set `vips`,
  chains `in` (hook input) and `out` (hook output) at nftables_priority
  (default -1), policy accept, dropping packets to / from the set; IPv6 first
  accepts neighbour solicitations/advertisements (a backup-free VIP must still
  answer ND) and sends link-local traffic to empty `*_link_local` chains.
  nftables_counters adds a counter to each drop rule.
- use_vmac: as keepalived, the table of the instance's family also holds a
  map `vmac_map` (vMAC -> parent) and, first in `out`, a rule that sends IGMP
  (IPv4) / MLDv2 reports (IPv6) leaving a macvlan out of its parent instead
  (dup to the parent, drop): a backup's vMAC never teaches the switches the
  virtual MAC with its group joins. IPv6 also drops router solicitations
  leaving a vMAC (set `vmac_set`).
  Without libnftables this part is skipped with a warning (keepalived too
  runs without it); the filtering part is never skipped.
- `setup()` replaces a leftover table of the same name (a run killed with -9);
  `teardown()` deletes the tables. A master's VIPs go into the set before the
  VIPs are added and out after they are removed (keepalived's order).
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from vrrp_agent.errors import SystemFailure

DEBIAN_MODULE = "/usr/lib/python3/dist-packages/nftables/__init__.py"
INSTALL_HINT = "install Debian's python3-nftables (libnftables)"


def load_nftables(path: Optional[str] = None) -> Any:
    """The `nftables` module, from the running Python or from Debian's package."""
    path = path or DEBIAN_MODULE
    try:
        import nftables  # type: ignore[import-not-found,unused-ignore]

        return nftables
    except ImportError:
        pass
    spec = importlib.util.spec_from_file_location(
        "nftables", path, submodule_search_locations=[path.rsplit("/", 1)[0]])
    if spec is None or spec.loader is None:
        raise SystemFailure(f"no_accept needs nftables and there is none: {INSTALL_HINT}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["nftables"] = module
    try:
        spec.loader.exec_module(module)
    except (OSError, ImportError) as exc:
        sys.modules.pop("nftables", None)
        raise SystemFailure(f"no_accept needs nftables and it cannot be loaded "
                            f"({exc}): {INSTALL_HINT}") from exc
    return module


def missing_reason() -> Optional[str]:
    """None when libnftables can be used here, else why not (host checks)."""
    try:
        load_nftables().Nftables()
    except SystemFailure as exc:
        return str(exc)
    except OSError as exc:  # the module is there, libnftables.so.1 is not
        return f"no_accept needs libnftables ({exc}): {INSTALL_HINT}"
    return None


def table_text(family: int, name: str, priority: int, counters: bool, filtering: bool = True,
               vmacs: Sequence[Tuple[str, str, int]] = ()) -> str:
    """The nft text of one table (module rules: keepalived's layout)."""
    fam, addr, ip = ("ip", "ipv4_addr", "ip") if family == 4 else ("ip6", "ipv6_addr", "ip6")
    count = " counter" if counters else ""
    base = f"type filter hook {{hook}} priority {priority}; policy accept;"
    lines = [f"table {fam} {name} {{"]
    igmp = ""
    mine = [(vmac, parent) for vmac, parent, fam_of in vmacs if fam_of == family]
    if mine:
        pairs = ", ".join(f'"{vmac}" : "{parent}"' for vmac, parent in mine)
        lines.append(f"  map vmac_map {{ type iface_index : iface_index; elements = {{ {pairs} }}; }}")
        if family == 4:
            igmp = (f'ip protocol igmp meta oifkind "macvlan"{count} '
                    "dup to ip daddr device oif map @vmac_map drop; ")
        else:
            names = ", ".join(f'"{vmac}"' for vmac, _parent in mine)
            lines.append(f"  set vmac_set {{ type iface_index; elements = {{ {names} }}; }}")
            igmp = (f'icmpv6 type mld2-listener-report meta oifkind "macvlan"{count} '
                    "dup to ip6 daddr device oif map @vmac_map drop; "
                    f'icmpv6 type nd-router-solicit meta oifkind "macvlan" oif @vmac_set{count} drop; ')
    if not filtering:
        lines.append(f"  chain out {{ {base.format(hook='output')} {igmp}}}")
        return "\n".join(lines + ["}"])
    lines.append(f"  set vips {{ type {addr}; }}")
    nd_in = nd_out = ""
    if family == 6:
        lines += ["  set neighbor-discovery { type icmpv6_type; flags constant; "
                  "elements = { nd-neighbor-solicit, nd-neighbor-advert }; }",
                  "  chain in_link_local { }", "  chain out_link_local { }"]
        nd_in = ("icmpv6 type @neighbor-discovery accept; "
                 "ip6 daddr fe80::/10 goto in_link_local; ")
        nd_out = ("icmpv6 type @neighbor-discovery accept; "
                  "ip6 saddr fe80::/10 goto out_link_local; ")
    out_rules = f"{igmp}{nd_out}{ip} saddr @vips{count} drop;"
    lines.append(f"  chain out {{ {base.format(hook='output')} {out_rules} }}")
    lines.append(f"  chain in {{ {base.format(hook='input')} {nd_in}{ip} daddr @vips{count} drop; }}")
    return "\n".join(lines + ["}"])


class NftFilter:
    """The no_accept tables of this daemon (worker thread only)."""

    def __init__(self, name: str = "keepalived", priority: int = -1, counters: bool = False):
        self.name = name
        self.priority = priority
        self.counters = counters
        self.families: Set[int] = set()
        self.members: Dict[int, Set[str]] = {4: set(), 6: set()}
        self._nft: Any = None

    def _cmd(self, text: str) -> Tuple[int, str]:
        if self._nft is None:
            self._nft = load_nftables().Nftables()
        rc, _out, err = self._nft.cmd(text)
        return rc, str(err).strip()

    def setup(self, families: Iterable[int], vmacs: Sequence[Tuple[str, str, int]] = ()) -> List[str]:
        """Create the tables (replacing leftovers); raises SystemFailure.

        `families`: those whose VIPs some instance filters; `vmacs`: (vMAC, parent,
        family) of every vMAC (the IGMP / MLD rules).
        """
        lines = []
        filtering = set(families)
        for family in sorted(filtering | {fam for _v, _p, fam in vmacs}):
            fam = "ip" if family == 4 else "ip6"
            self._cmd(f"add table {fam} {self.name}")  # so that the delete cannot fail
            text = table_text(family, self.name, self.priority, self.counters,
                              family in filtering, vmacs)
            rc, err = self._cmd(f"delete table {fam} {self.name}\n" + text)
            if rc != 0:
                raise SystemFailure(f"nftables table {fam} {self.name}: {err}")
            self.families.add(family)
            why = ["no_accept"] if family in filtering else []
            why += ["vMAC group reports"] if any(f == family for _v, _p, f in vmacs) else []
            lines.append(f"nftables table {fam} {self.name} set up ({', '.join(why)})")
        return lines

    def change(self, family: int, addresses: Iterable[str], add: bool) -> List[str]:
        """Put VIPs into the drop set (or take them out); errors as text."""
        fam = "ip" if family == 4 else "ip6"
        members = self.members[family]
        todo = [a for a in addresses if (a in members) != add]
        if not todo:
            return []
        verb = "add" if add else "delete"
        rc, err = self._cmd(f"{verb} element {fam} {self.name} vips {{ {', '.join(todo)} }}")
        if rc != 0:
            return [f"nftables {verb} {', '.join(todo)} in {fam} {self.name} vips: {err}"]
        (members.update if add else members.difference_update)(todo)
        return []

    def teardown(self) -> List[str]:
        errors = []
        for family in sorted(self.families):
            fam = "ip" if family == 4 else "ip6"
            rc, err = self._cmd(f"delete table {fam} {self.name}")
            if rc != 0:
                errors.append(f"nftables delete table {fam} {self.name}: {err}")
        self.families.clear()
        return errors
