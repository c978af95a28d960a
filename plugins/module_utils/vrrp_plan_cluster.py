# Copyright: (c) 2026, linuxha.vrrp contributors
# MIT License (see LICENSE)
"""Checks across instances and members of the cluster plan: sync groups,
VRIDs, priorities and VIPs against host addresses.

Rules:
- A sync group names at least 2 instances, each an instance of the host and
  in one group only; its tracking entries follow the instances' rules. Its
  instances must share the preferred master and preemption (they move
  together).
- Every member runs every instance, with the same VRID; a VRID is used once
  per interface and family on a host; the members' priorities differ.
- A VIP is never an address of a host (an interface's primary IPv4, the
  default IPv6, vrrp_address(6) or an address-valued ansible_host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.linuxha.vrrp.plugins.module_utils.vrrp_plan_checks import check_tracks
from ansible_collections.linuxha.vrrp.plugins.module_utils.vrrp_plan_keys import vip_address


def _facts_addresses(host_vars):
    """A host's own addresses: each interface's primary IPv4 address (a VIP the
    host holds is a secondary, so it is never mistaken for one), its default
    IPv6 address, vrrp_address(6) and an address-valued ansible_host."""
    facts = host_vars.get("ansible_facts") or {}
    found = set()
    for name in facts.get("interfaces") or []:
        iface = facts.get(str(name).replace("-", "_").replace(".", "_")) or {}
        primary = (iface.get("ipv4") or {}).get("address")
        if primary:
            found.add(primary)
    default6 = (facts.get("default_ipv6") or {}).get("address")
    if default6:
        found.add(default6)
    for key in ("vrrp_address", "vrrp_address6", "ansible_host"):
        value = str(host_vars.get(key) or "")
        try:
            found.add(str(ipaddress.ip_address(value)))
        except ValueError:
            pass
    return found


def check_sync_groups(host, defs, names, errors):
    seen = {}
    for group in defs["vrrp_sync_groups"].values():
        where = "%s: vrrp_sync_groups[%s]" % (host, group["name"])
        members = group.get("instances") or []
        if not isinstance(members, list):
            errors.append("%s.instances must be a list of instance names" % where)
            continue
        if len(set(members)) < 2:
            errors.append("%s.instances: a sync group needs at least 2 instances (keepalived refuses one)"
                          % where)
        for inst in members:
            if inst not in names:
                errors.append("%s.instances: %s is not an instance (known: %s)"
                              % (where, inst, ", ".join(str(n) for n in names)))
            elif inst in seen:
                errors.append("%s.instances: %s is already in vrrp_sync_groups[%s]"
                              % (where, inst, seen[inst]))
            seen[inst] = group["name"]
        check_tracks(where, group, defs, errors)
    return {inst: defs["vrrp_sync_groups"][g] for inst, g in seen.items()}


def check_group_settings(groups_of, chosen, errors):
    """A sync group moves its instances together: they must agree on the preferred
    master and on preemption (else the group fights its own members)."""
    for host, groups in groups_of.items():
        by_group = {}
        for inst, group in groups.items():
            if chosen.get(inst):
                by_group.setdefault(group["name"], {})[inst] = chosen[inst]
        for group, insts in sorted(by_group.items()):
            if len(set(insts.values())) > 1:
                detail = ", ".join("%s: master %s, preempt %s, delay %s" % ((i,) + v)
                                   for i, v in sorted(insts.items()))
                errors.append("%s: vrrp_sync_groups[%s]: its instances must share the preferred master and "
                              "preempt settings (they move together): %s" % (host, group, detail))
        return  # every member has the same groups (group vars): report once


def cross_checks(plan, by_name, declared, members, hostvars, errors):
    for host in members:
        keys = {}
        for inst in plan[host]:
            key = (inst["interface"], inst["vrid"], inst.get("_family"))
            if key in keys:
                errors.append("%s: vrrp_instances[%s].vrid %s is used twice on interface %s (also by %s)"
                              % (host, inst["name"], inst["vrid"], inst["interface"], keys[key]))
            keys[key] = inst["name"]
    all_addresses = {h: _facts_addresses(hostvars[h]) for h in members}
    for name, entries in by_name.items():
        missing = [h for h in members if name not in declared.get(h, {name})]
        if missing:
            errors.append("%s: instance %s is missing (every member runs every instance)"
                          % (missing[0], name))
        vrids = {item["vrid"] for item, _f in entries.values()}
        if len(vrids) > 1:
            errors.append("%s: vrrp_instances[%s].vrid differs between members: %s"
                          % (next(iter(entries)), name, sorted(vrids)))
        priorities = {}
        for host in members:
            inst = next((i for i in plan[host] if i["name"] == name), None)
            if inst is None:
                continue
            other = priorities.get(inst["priority"])
            if other:
                errors.append("%s: vrrp_instances[%s].priority %s equals %s's; priorities must differ"
                              % (host, name, inst["priority"], other))
            priorities[inst["priority"]] = host
            for vip in inst["vips"] + inst["vips_excluded"]:
                address = str(vip_address(vip).ip)
                for owner, addresses in all_addresses.items():
                    if address in addresses:
                        errors.append("%s: vrrp_instances[%s].vips: %s is an address of host %s; a VIP must "
                                      "be distinct from every host address" % (host, name, address, owner))
