# Copyright: (c) 2026, linuxha.vrrp contributors
# MIT License (see LICENSE)
"""Cluster planning for the vrrp role: validation and derived settings
(the ``vrrp_cluster_plan`` filter; docs/ansible.md "Inventory model").

Rules:
- A cluster is the inventory group named by ``vrrp_cluster``; every member
  runs every instance of ``vrrp_instances`` (group vars), with per-host
  changes in ``vrrp_instance_overrides`` (a dict keyed by instance name).
  A key the role does not know, in an instance or an override, is an error:
  nothing is dropped silently. ``state`` is refused (it is derived).
- Each instance has a preferred master: its ``master`` key, else
  ``vrrp_master``, else the group's first host (different ``master`` keys
  on different instances make an active/active cluster).
- Preemption: ``preempt`` (instance) else ``vrrp_preempt`` (true), and
  ``preempt_delay`` (instance) else ``vrrp_preempt_delay`` (0). With
  preempt on and no delay the preferred master is rendered ``state MASTER``,
  the others ``state BACKUP``. With preempt off (no failback) every member
  is rendered ``state BACKUP`` + ``nopreempt``, and with a preempt delay
  every member is ``state BACKUP`` + ``preempt_delay`` (both engines ignore
  nopreempt and preempt_delay under state MASTER). The preferred master
  keeps the highest priority either way (vrrp_plan_priorities).
- A host with ``vrrp_config_content`` is checked for its host settings only
  (the engine's own check validates its configuration) but still counts as
  a peer.
- Per-instance checks are in vrrp_plan_checks, cross-member ones in
  vrrp_plan_cluster, the rendered form in vrrp_plan_render.
- Every problem found is reported, each naming the host, the instance and
  the field; the role fails on any error before touching a host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxha.vrrp.plugins.module_utils.vrrp_plan_checks import (
    check_definitions,
    check_instance,
    check_strict,
    check_unicast,
)
from ansible_collections.linuxha.vrrp.plugins.module_utils.vrrp_plan_cluster import (
    check_group_settings,
    check_sync_groups,
    cross_checks,
)
from ansible_collections.linuxha.vrrp.plugins.module_utils.vrrp_plan_keys import (
    AGENT_ONLY,
    INSTANCE_KEYS,
    MAX_MEMBERS,
    STATE_HELP,
    number,
)
from ansible_collections.linuxha.vrrp.plugins.module_utils.vrrp_plan_priorities import (
    check_weights,
    derive_priorities,
    tracking_weights,
)
from ansible_collections.linuxha.vrrp.plugins.module_utils.vrrp_plan_render import (
    render_instance,
    render_scripts,
)


def vrrp_cluster_plan(hostvars, members, master=None):
    errors = []
    members = [str(m) for m in members or []]
    if not members:
        return {"errors": ["vrrp_cluster: the cluster group has no hosts"], "hosts": {}}
    if len(members) > MAX_MEMBERS:
        errors.append("%s: the cluster has %d members; the role derives priorities for at most %d "
                      "(split it into several clusters)" % (members[0], len(members), MAX_MEMBERS))
    master = str(master) if master else members[0]
    if master not in members:
        errors.append("%s: vrrp_master %s is not a member of the cluster (%s)"
                      % (members[0], master, ", ".join(members)))
        master = members[0]
    plan = {h: [] for h in members}
    scripts = {h: [] for h in members}
    items = {}  # host -> [(item, family)]
    defs_of = {}
    groups_of = {}
    declared = {}  # host -> instance names it declares (valid or not)
    for host in members:
        host_vars = hostvars[host]
        engine = _check_host_settings(host, host_vars, errors)
        if host_vars.get("vrrp_config_content"):
            continue  # a configuration given as is: the engine's own check validates it
        defs = defs_of[host] = check_definitions(host, host_vars, errors)
        scripts[host] = render_scripts(host_vars, defs)
        merged = _host_instances(host, host_vars, errors)
        declared[host] = {i.get("name") for i in merged}
        groups_of[host] = check_sync_groups(host, defs, [i.get("name") for i in merged], errors)
        items[host] = _checked_instances(host, host_vars, engine, defs, merged, errors)
    by_name = {}
    for host in items:
        for item, family in items[host]:
            by_name.setdefault(item["name"], {})[host] = (item, family)
    chosen = {}
    for name, entries in by_name.items():
        chosen[name] = _plan_instance(name, entries, members, master, hostvars, defs_of, groups_of, plan,
                                      errors)
    check_group_settings(groups_of, chosen, errors)
    cross_checks(plan, by_name, declared, members, hostvars, errors)
    for host in plan:
        for inst in plan[host]:
            inst.pop("_family", None)
    return {"errors": errors, "hosts": plan, "master": master, "scripts": scripts,
            "masters": {name: _instance_master(entries, master) for name, entries in by_name.items()}}


def _check_host_settings(host, host_vars, errors):
    """The host-level settings every member has (also with vrrp_config_content); returns the engine."""
    engine = host_vars.get("vrrp_engine", "agent")
    if engine not in ("agent", "keepalived"):
        errors.append("%s: vrrp_engine must be agent or keepalived, got %r" % (host, engine))
    _check_rt_priority(host, host_vars.get("vrrp_rt_priority", 0), errors)
    if not isinstance(host_vars.get("vrrp_strict", False), bool):
        errors.append("%s: vrrp_strict must be true or false, got %r" % (host, host_vars["vrrp_strict"]))
    if not isinstance(host_vars.get("vrrp_preempt", True), bool):
        errors.append("%s: vrrp_preempt must be true or false, got %r"
                      % (host, host_vars["vrrp_preempt"]))
    try:
        if not 0 <= number(host_vars.get("vrrp_preempt_delay", 0) or 0) <= 1000:
            raise ValueError()
    except (TypeError, ValueError):
        errors.append("%s: vrrp_preempt_delay must be 0..1000 seconds, got %r"
                      % (host, host_vars["vrrp_preempt_delay"]))
    return engine


def _checked_instances(host, host_vars, engine, defs, merged, errors):
    """[(instance, family)] of the host's instances that passed every check."""
    checked = []
    for item in merged:
        before = len(errors)
        family = check_instance(host, item, defs, errors)
        if (item.get("use_vmac") and item.get("unicast", host_vars.get("vrrp_unicast", False))
                and not item.get("vmac_xmit_base")):
            errors.append("%s: vrrp_instances[%s].use_vmac with unicast needs vmac_xmit_base: true"
                          % (host, item.get("name", "?")))
        if item.get("strict_mode", host_vars.get("vrrp_strict", False)) is True:
            check_strict("%s: vrrp_instances[%s]" % (host, item.get("name", "?")), item,
                         item.get("version", 2), errors)
        if engine == "keepalived":
            for key in AGENT_ONLY:
                if item.get(key):
                    errors.append("%s: vrrp_instances[%s].%s is an agent extension; keepalived "
                                  "(vrrp_engine) cannot run it" % (host, item.get("name"), key))
        if len(errors) == before:
            checked.append((item, family))
    return checked


def _check_rt_priority(host, value, errors):
    try:
        valid = not isinstance(value, bool) and 0 <= int(value) <= 99
    except (TypeError, ValueError):
        valid = False
    if not valid:
        errors.append("%s: vrrp_rt_priority must be 0 (normal scheduling) or a SCHED_RR priority "
                      "1..99, got %r" % (host, value))


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
    for unknown in sorted(set(overrides) - set(names), key=str):
        errors.append("%s: vrrp_instance_overrides.%s names no instance (known: %s)"
                      % (host, unknown, ", ".join(str(n) for n in names)))
    merged = []
    for inst in instances:
        if not isinstance(inst, dict):
            errors.append("%s: vrrp_instances entries must be dicts, got %r" % (host, inst))
            continue
        item = dict(inst)
        override = overrides.get(inst.get("name")) or {}
        if not isinstance(override, dict):
            errors.append("%s: vrrp_instance_overrides.%s must be a dict" % (host, inst.get("name")))
            override = {}
        where = "%s: vrrp_instance_overrides.%s" % (host, inst.get("name"))
        if "state" in override:
            errors.append("%s.state: %s" % (where, STATE_HELP))
        for key in sorted(set(override) - INSTANCE_KEYS - {"state"}, key=str):
            errors.append("%s.%s is not a known key (known: %s)"
                          % (where, key, ", ".join(sorted(INSTANCE_KEYS))))
        if "name" in override:
            errors.append("%s.name: an override cannot rename its instance" % where)
        item.update({k: v for k, v in override.items() if k in INSTANCE_KEYS - {"name"}})
        merged.append(item)
    seen = set()
    for item in merged:
        if item.get("name") in seen:
            errors.append("%s: vrrp_instances: name %s appears twice" % (host, item.get("name")))
        seen.add(item.get("name"))
    return merged


def _instance_master(entries, cluster_master):
    for item, _family in entries.values():
        if item.get("master"):
            return str(item["master"])
    return cluster_master


def _plan_instance(name, entries, members, cluster_master, hostvars, defs_of, groups_of, plan, errors):
    first = next(iter(entries))
    masters = {str(item.get("master") or cluster_master) for item, _f in entries.values()}
    if len(masters) > 1:
        errors.append("%s: vrrp_instances[%s].master differs between members: %s"
                      % (first, name, ", ".join(sorted(masters))))
        return
    master = masters.pop()
    if master not in members:
        errors.append("%s: vrrp_instances[%s].master %s is not a member of the cluster (%s)"
                      % (first, name, master, ", ".join(members)))
        return
    families = {f for _i, f in entries.values()}
    if len(families) > 1:
        errors.append("%s: vrrp_instances[%s].vips: the members' VIPs are of different families (%s)"
                      % (first, name, ", ".join("IPv%s" % f for f in sorted(families, key=str))))
        return
    family = families.pop()
    agreed = _agreed_preemption(name, first, entries, hostvars, errors)
    if agreed is None:
        return
    preempt, delay = agreed
    result = (master, preempt, delay)
    weighted = {h: (item, tracking_weights(item, defs_of[h])) for h, (item, _f) in entries.items()}
    # ranks count every member, also a host with vrrp_config_content (not planned, but
    # still a peer): the derived numbers do not shift when one host is configured whole
    priorities = derive_priorities(name, weighted, members, master, hostvars, errors)
    if priorities is None:
        return result
    group = groups_of.get(master, {}).get(name)
    check_weights(name, weighted, priorities, master, preempt, group, errors)
    for host, (item, _f) in entries.items():
        check_unicast(host, item, family, hostvars, errors)
    for host, (item, _f) in entries.items():
        state = "MASTER" if host == master and preempt and not delay else "BACKUP"
        try:
            rendered = render_instance(host, item, family, priorities[host], state, preempt, delay,
                                       members, hostvars)
        except (TypeError, ValueError) as exc:  # already reported
            errors.append("%s: vrrp_instances[%s]: %s" % (host, name, exc))
            continue
        rendered["_family"] = family
        plan[host].append(rendered)
    return result


def _agreed_preemption(name, first, entries, hostvars, errors):
    """(preempt, delay) every member of an instance agrees on, else None (reported)."""
    settings = {}
    for host, (item, _f) in entries.items():
        host_vars = hostvars[host]
        preempt = item.get("preempt", not item["nopreempt"] if "nopreempt" in item
                           else host_vars.get("vrrp_preempt", True))
        try:
            delay = number(item.get("preempt_delay", host_vars.get("vrrp_preempt_delay", 0)) or 0)
        except (TypeError, ValueError):
            delay = 0.0  # reported
        settings[host] = (preempt, delay)
        if not preempt and item.get("preempt_delay"):
            errors.append("%s: vrrp_instances[%s].preempt_delay cannot be combined with preempt: false "
                          "(nopreempt): a delay only applies to preemption" % (host, name))
    if len(set(settings.values())) > 1:
        errors.append("%s: vrrp_instances[%s]: preempt / preempt_delay differ between members (%s): "
                      "set them for the whole cluster"
                      % (first, name, ", ".join("%s %s/%s" % (h, p, d) for h, (p, d) in settings.items())))
        return None
    return settings[first]
