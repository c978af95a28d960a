# Copyright: (c) 2026, linuxha.vrrp contributors
# MIT License (see LICENSE)
"""Cluster planning for the vrrp_agent role: validation and derived settings.

Rules (docs/ansible.md "Inventory model"):
- A cluster is the inventory group named by ``vrrp_cluster``; every member
  runs every instance of ``vrrp_instances`` (group vars), with per-host
  changes in ``vrrp_instance_overrides`` (a dict keyed by instance name).
- The preferred master is ``vrrp_master``, else the group's first host. It
  gets ``state MASTER`` and ``vrrp_master_priority`` (100, as in the seed);
  the others get ``state BACKUP`` and ``vrrp_backup_priority`` (10, the
  seed's backup) minus their rank among the backups, in inventory order.
  A ``priority`` in an override wins.
- With ``unicast`` on, a host's source address is ``vrrp_address`` or the
  IPv4/IPv6 address of the instance's interface from its facts; its peers
  are the other members' source addresses.
- Every problem found is reported, each naming the host and the field; the
  role fails on the first run of any error before touching a host.
"""

from __future__ import annotations

import ipaddress

MASTER_PRIORITY = 100
BACKUP_PRIORITY = 10
NOTIFY_KEYS = ("master", "backup", "fault", "stop", "notify")
AGENT_ONLY = ("resources",)


def _vip_address(text):
    return ipaddress.ip_interface(str(text).split()[0])


def _facts_addresses(host_vars):
    """A host's own addresses: each interface's primary IPv4 address (a VIP the
    host holds is a secondary, so it is never mistaken for one), its default
    IPv6 address, vrrp_address and an address-valued ansible_host."""
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
    for key in ("vrrp_address", "ansible_host"):
        value = str(host_vars.get(key) or "")
        try:
            found.add(str(ipaddress.ip_address(value)))
        except ValueError:
            pass
    return found


def _interface_address(host_vars, interface, family):
    if host_vars.get("vrrp_address"):
        return str(host_vars["vrrp_address"])
    facts = host_vars.get("ansible_facts") or {}
    iface = facts.get(str(interface).replace("-", "_").replace(".", "_")) or {}
    if family == 4:
        return (iface.get("ipv4") or {}).get("address")
    for entry in iface.get("ipv6") or []:
        if entry.get("scope") == "link":
            return entry.get("address")
    return None


def _check_instance(host, inst, errors):
    """Per-instance guards; returns the VIP family (4 or 6) or None."""
    where = "%s: vrrp_instances[%s]" % (host, inst.get("name", "?"))
    for key in ("name", "interface", "vrid", "vips"):
        if inst.get(key) in (None, "", []):
            errors.append("%s.%s is required" % (where, key))
    vrid = inst.get("vrid")
    if vrid is not None and (not isinstance(vrid, int) or isinstance(vrid, bool) or not 1 <= vrid <= 255):
        errors.append("%s.vrid must be an integer 1..255, got %r" % (where, vrid))
    version = inst.get("version", 2)
    if version not in (2, 3):
        errors.append("%s.version must be 2 or 3, got %r" % (where, version))
    advert = inst.get("advert_int", 1)
    try:
        advert = float(advert)
    except (TypeError, ValueError):
        errors.append("%s.advert_int must be a number, got %r" % (where, inst.get("advert_int")))
        advert = 1.0
    if version == 2 and (advert != int(advert) or not 1 <= advert <= 255):
        errors.append("%s.advert_int must be whole seconds 1..255 with VRRPv2, got %r" % (where, advert))
    if version == 3 and not 0.01 <= advert <= 40.95:
        errors.append("%s.advert_int must be 0.01..40.95 s with VRRPv3, got %r" % (where, advert))
    auth = inst.get("auth_pass")
    if auth is not None:
        if version != 2:
            errors.append("%s.auth_pass: authentication exists only in VRRPv2 (RFC 5798 removed it)" % where)
        if not isinstance(auth, str) or not 1 <= len(auth) <= 8:
            errors.append("%s.auth_pass must be a string of 1..8 characters (VRRPv2 PASS)" % where)
    families = set()
    for vip in inst.get("vips") or []:
        try:
            families.add(_vip_address(vip).version)
        except ValueError as exc:
            errors.append("%s.vips: %r is not an address/prefix: %s" % (where, vip, exc))
    if len(families) > 1:
        errors.append("%s.vips mixes IPv4 and IPv6: use one instance per family" % where)
    for key in ("priority",):
        value = inst.get(key)
        if value is not None and (not isinstance(value, int) or not 1 <= value <= 254):
            errors.append("%s.priority must be 1..254, got %r" % (where, value))
    return families.pop() if len(families) == 1 else None


def _host_instances(host, host_vars, errors):
    instances = host_vars.get("vrrp_instances")
    if not isinstance(instances, list) or not instances:
        errors.append("%s: vrrp_instances must be a non-empty list (set it in the cluster's group vars)"
                      % host)
        return []
    overrides = host_vars.get("vrrp_instance_overrides") or {}
    if not isinstance(overrides, dict):
        errors.append("%s: vrrp_instance_overrides must be a dict keyed by instance name" % host)
        overrides = {}
    names = [i.get("name") for i in instances if isinstance(i, dict)]
    for unknown in sorted(set(overrides) - set(names)):
        errors.append("%s: vrrp_instance_overrides.%s names no instance (known: %s)"
                      % (host, unknown, ", ".join(str(n) for n in names)))
    merged = []
    for inst in instances:
        if not isinstance(inst, dict):
            errors.append("%s: vrrp_instances entries must be dicts, got %r" % (host, inst))
            continue
        item = dict(inst)
        item.update(overrides.get(inst.get("name")) or {})
        merged.append(item)
    seen = set()
    for item in merged:
        if item.get("name") in seen:
            errors.append("%s: vrrp_instances: name %s appears twice" % (host, item.get("name")))
        seen.add(item.get("name"))
    return merged


def _priority(host, members, master, item, host_vars):
    if item.get("priority") is not None:
        return item["priority"]
    if host == master:
        return int(host_vars.get("vrrp_master_priority", MASTER_PRIORITY))
    rank = [m for m in members if m != master].index(host)
    return int(host_vars.get("vrrp_backup_priority", BACKUP_PRIORITY)) - rank


def _render(host, item, family, members, master, hostvars):
    host_vars = hostvars[host]
    version = item.get("version", 2)
    advert = float(item.get("advert_int", 1))
    rendered = {
        "name": item["name"], "interface": item["interface"], "vrid": item["vrid"],
        "version": version, "advert_int": int(advert) if advert == int(advert) else advert,
        "state": "MASTER" if host == master else "BACKUP",
        "priority": _priority(host, members, master, item, host_vars),
        "vips": [str(v) for v in item["vips"]],
        "auth_pass": item.get("auth_pass"),
        "nopreempt": bool(item.get("nopreempt", False)),
        "preempt_delay": item.get("preempt_delay"),
        "track_scripts": list(item.get("track_scripts") or []),
        "track_interfaces": list(item.get("track_interfaces") or []),
        "track_files": list(item.get("track_files") or []),
        "notify": {k: v for k, v in (item.get("notify") or {}).items() if k in NOTIFY_KEYS},
        "resources": list(item.get("resources") or []),
        "unicast_src_ip": None, "unicast_peers": [],
    }
    unicast = item.get("unicast", host_vars.get("vrrp_unicast", False))
    if unicast:
        rendered["unicast_src_ip"] = _interface_address(host_vars, item["interface"], family)
        rendered["unicast_peers"] = [
            _interface_address(hostvars[m], item["interface"], family) for m in members if m != host
        ]
    return rendered


def _cross_checks(plan, members, hostvars, errors):
    by_name = {}
    for host in members:
        keys = set()
        for inst in plan[host]:
            key = (inst["interface"], inst["vrid"], inst.get("_family"))
            if key in keys:
                errors.append("%s: vrrp_instances[%s].vrid %s is used twice on interface %s"
                              % (host, inst["name"], inst["vrid"], inst["interface"]))
            keys.add(key)
            by_name.setdefault(inst["name"], []).append((host, inst))
    all_addresses = {h: _facts_addresses(hostvars[h]) for h in members}
    for name, entries in by_name.items():
        missing = [h for h in members if h not in [e[0] for e in entries]
                   and not hostvars[h].get("vrrp_config_content")]
        if missing:
            errors.append("%s: instance %s is missing (every member runs every instance)"
                          % (missing[0], name))
        vrids = {e[1]["vrid"] for e in entries}
        if len(vrids) > 1:
            errors.append("%s: vrrp_instances[%s].vrid differs between members: %s"
                          % (entries[0][0], name, sorted(vrids)))
        priorities = {}
        for host, inst in entries:
            other = priorities.get(inst["priority"])
            if other:
                errors.append("%s: vrrp_instances[%s].priority %s equals %s's; priorities must differ"
                              % (host, name, inst["priority"], other))
            priorities[inst["priority"]] = host
            for vip in inst["vips"]:
                address = str(_vip_address(vip).ip)
                for owner, addresses in all_addresses.items():
                    if address in addresses:
                        errors.append("%s: vrrp_instances[%s].vips: %s is an address of host %s; a VIP must "
                                      "be distinct from every host address" % (host, name, address, owner))
            if inst["_unicast"] and inst["unicast_src_ip"] is None:
                errors.append("%s: vrrp_instances[%s]: unicast needs vrrp_address or an address on %s in "
                              "the host's facts" % (host, name, inst["interface"]))


def _check_rt_priority(host, value, errors):
    try:
        valid = not isinstance(value, bool) and 0 <= int(value) <= 99
    except (TypeError, ValueError):
        valid = False
    if not valid:
        errors.append("%s: vrrp_rt_priority must be 0 (normal scheduling) or a SCHED_RR priority "
                      "1..99, got %r" % (host, value))


def vrrp_cluster_plan(hostvars, members, master=None):
    errors = []
    members = [str(m) for m in members or []]
    if not members:
        return {"errors": ["vrrp_cluster: the cluster group has no hosts"], "hosts": {}}
    master = str(master) if master else members[0]
    if master not in members:
        errors.append("%s: vrrp_master %s is not a member of the cluster (%s)"
                      % (members[0], master, ", ".join(members)))
        master = members[0]
    plan = {}
    for host in members:
        host_vars = hostvars[host]
        engine = host_vars.get("vrrp_engine", "agent")
        if engine not in ("agent", "keepalived"):
            errors.append("%s: vrrp_engine must be agent or keepalived, got %r" % (host, engine))
        plan[host] = []
        _check_rt_priority(host, host_vars.get("vrrp_rt_priority", 0), errors)
        if host_vars.get("vrrp_config_content"):
            continue  # a configuration given as is: the engine's own check validates it
        for item in _host_instances(host, host_vars, errors):
            before = len(errors)
            family = _check_instance(host, item, errors)
            if engine == "keepalived":
                for key in AGENT_ONLY:
                    if item.get(key):
                        errors.append("%s: vrrp_instances[%s].%s is an agent extension; keepalived "
                                      "(vrrp_engine) cannot run it" % (host, item.get("name"), key))
            if len(errors) > before:
                continue
            rendered = _render(host, item, family, members, master, hostvars)
            rendered["_family"] = family
            rendered["_unicast"] = bool(item.get("unicast", host_vars.get("vrrp_unicast", False)))
            plan[host].append(rendered)
    _cross_checks(plan, members, hostvars, errors)
    for host in plan:
        for inst in plan[host]:
            inst.pop("_family", None)
            inst.pop("_unicast", None)
    return {"errors": errors, "hosts": plan, "master": master}


def vrrp_status_table(hostvars, hosts, result_var="vrrp_status_info"):
    """Group every host's vrrp_info result by cluster and VRID.

    Returns {"rows": [...], "problems": [...], "lines": [...]}: a row per
    (cluster, interface, vrid, family) with its master(s) and backups; a
    problem per row with no master or more than one (split brain), and per
    host whose agent did not answer.
    """
    rows = {}
    problems = []
    notes = []
    for host in hosts:
        host_vars = hostvars[host]
        info = host_vars.get(result_var) or {}
        cluster = host_vars.get("vrrp_cluster", "vrrp")
        if host_vars.get("vrrp_engine", "agent") == "keepalived":
            notes.append("%s: runs keepalived (no status API; its state is not in the table)" % host)
            continue
        if not info.get("running"):
            problems.append("%s: the agent did not answer: %s" % (host, info.get("msg", "no status")))
            continue
        for inst in info.get("vrrp_instances") or []:
            key = (cluster, inst.get("interface"), inst.get("vrid"), inst.get("family", "ipv4"))
            row = rows.setdefault(key, {"cluster": cluster, "instance": inst.get("name"),
                                        "vrid": inst.get("vrid"), "interface": inst.get("interface"),
                                        "masters": [], "others": []})
            entry = "%s (%s)" % (host, inst.get("effective_priority"))
            if inst.get("state") == "MASTER":
                row["masters"].append(entry)
            else:
                row["others"].append("%s %s" % (entry, inst.get("state")))
    ordered = [rows[k] for k in sorted(rows, key=lambda k: tuple(str(x) for x in k))]
    for row in ordered:
        if len(row["masters"]) > 1:
            problems.append("%s %s vrid %s: SPLIT BRAIN, masters %s"
                            % (row["cluster"], row["instance"], row["vrid"], ", ".join(row["masters"])))
        elif not row["masters"]:
            problems.append("%s %s vrid %s: NO MASTER (%s)"
                            % (row["cluster"], row["instance"], row["vrid"], ", ".join(row["others"])))
    layout = "%-14s %-10s %-5s %-8s %-22s %s"
    lines = [layout % ("CLUSTER", "INSTANCE", "VRID", "IFACE", "MASTER (PRIO)", "BACKUPS (PRIO STATE)")]
    for row in ordered:
        masters = ", ".join(row["masters"]) or "-"
        others = ", ".join(row["others"]) or "-"
        cells = (row["cluster"], row["instance"], row["vrid"], row["interface"], masters, others)
        lines.append(layout % cells)
    return {"rows": ordered, "problems": problems, "lines": lines + notes}


class FilterModule(object):
    def filters(self):
        return {"vrrp_cluster_plan": vrrp_cluster_plan, "vrrp_status_table": vrrp_status_table}
