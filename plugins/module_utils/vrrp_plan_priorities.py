# Copyright: (c) 2026, linuxha.vrrp contributors
# MIT License (see LICENSE)
"""Priorities and tracking weights of the cluster plan (docs/ansible.md "Inventory model").

Rules:
- The preferred master gets ``vrrp_master_priority`` (100). Backups get
  consecutive priorities in inventory order, the first one
  ``vrrp_backup_priority`` when that is set, else derived: 90 below the
  master (the seed's 100/10 pair), less when the cluster needs the room,
  and always less than the smallest non-zero tracking weight, so that every
  weight moves the VIP. An explicit ``priority`` (override) wins.
- Ranks count every member, also a host configured whole by
  ``vrrp_config_content``: the numbers do not shift because of it.
- Every weight is then checked against the resulting numbers: it must be
  able to move the VIP, weights cannot act under nopreempt or in a sync group
  without ``tracking_weight``, and positive weights must not let a healthy
  backup outrank the healthy preferred master.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxha.vrrp.plugins.module_utils.vrrp_plan_keys import (
    BACKUP_GAP,
    MASTER_PRIORITY,
    PRIORITY_MAX,
    PRIORITY_MIN,
    parse_track,
)


def tracking_weights(item, defs):
    """Every (label, weight, reverse) tracker of an instance whose weight is not zero,
    track_files excepted (their effect is the file's value times the weight)."""
    found = []
    own = {"track_scripts": "vrrp_scripts", "track_processes": "vrrp_track_processes"}
    for kind in ("track_scripts", "track_interfaces", "track_processes"):
        for entry in item.get(kind) or []:
            parsed = parse_track(entry)
            if parsed is None:
                continue
            name, weight, reverse = parsed
            if weight is None and kind in own:
                definition = defs[own[kind]].get(name) or {}
                weight, reverse = definition.get("weight") or 0, bool(definition.get("reverse"))
            if weight:
                found.append(("%s %s weight %d" % (kind, name, weight), weight, reverse))
    return found


def _clamp(value):
    return max(PRIORITY_MIN, min(PRIORITY_MAX, value))


def derive_priorities(name, entries, members, master, hostvars, errors):
    """{host: priority} for one instance; entries is {host: (item, weights)}."""
    backups = [m for m in members if m != master]
    master_vars = hostvars[master]
    try:
        master_priority = int(master_vars.get("vrrp_master_priority", MASTER_PRIORITY))
        explicit = master_vars.get("vrrp_backup_priority")
        explicit = None if explicit in (None, "", 0, "0") else int(explicit)
    except (TypeError, ValueError):
        errors.append("%s: vrrp_master_priority and vrrp_backup_priority must be whole numbers" % master)
        return None
    if explicit is not None:
        first = explicit
        how = "vrrp_backup_priority %d" % first
    else:
        smallest = min([abs(w) for _h, (_i, ws) in entries.items() for _l, w, _r in ws] or [BACKUP_GAP + 1])
        gap = min(BACKUP_GAP, smallest - 1, master_priority - len(backups))
        first = master_priority - gap
        how = "master %d minus %d" % (master_priority, gap)
        if smallest == 1:
            errors.append("%s: vrrp_instances[%s]: a tracking weight of 1 cannot move the VIP (the master "
                          "loses 1, but a backup must be at least 1 below it and equal priorities do not "
                          "preempt): use a weight of at least 2" % (master, name))
            return None
    derived = {master: master_priority}
    for rank, host in enumerate(backups):
        derived[host] = first - rank
    low = min(derived.values())
    if not PRIORITY_MIN <= master_priority <= PRIORITY_MAX or low < PRIORITY_MIN \
            or (backups and first >= master_priority):
        errors.append("%s: vrrp_instances[%s]: derived priorities out of range: preferred master %d, "
                      "backups %s (%s, -1 per further backup); each must be 1..254 and below the master: "
                      "lower vrrp_backup_priority / raise vrrp_master_priority"
                      % (master, name, master_priority, [derived[b] for b in backups], how))
        return None
    result = {}
    for host, (item, _weights) in entries.items():
        result[host] = item["priority"] if item.get("priority") is not None else derived.get(host)
    return result


def check_weights(name, entries, priorities, master, preempt, sync_group, errors):
    """Every non-zero tracking weight must be able to act, and positive weights must not
    let a healthy backup outrank the healthy preferred master."""
    weighted = [(h, w) for h, (_i, ws) in entries.items() for w in ws]
    if not weighted:
        return
    if not preempt:
        host, (label, _w, _r) = weighted[0]
        errors.append("%s: vrrp_instances[%s].%s cannot act with preempt: false (a nopreempt backup accepts "
                      "the adverts of a lower-priority master): use weight 0 (FAULT when it fails) or preempt"
                      % (host, name, label))
        return
    if sync_group is not None and not sync_group.get("tracking_weight"):
        host, (label, _w, _r) = weighted[0]
        errors.append("%s: vrrp_instances[%s].%s cannot act: the instance is in vrrp_sync_groups[%s], where "
                      "both engines ignore weights unless tracking_weight: true"
                      % (host, name, label, sync_group["name"]))
        return

    def bonus(host):
        return sum(w for _l, w, r in entries[host][1] if w > 0 and not r)

    healthy = {h: _clamp(priorities[h] + bonus(h)) for h in entries}
    for host, (label, weight, _reverse) in weighted:
        lower = {h: p for h, p in healthy.items() if h != host and p < healthy[host]}
        if not lower:
            continue  # the lowest member: nowhere to move the VIP to
        failed = _clamp(priorities[host] + bonus(host) - abs(weight))
        best = max(lower, key=lambda h: lower[h])
        if failed >= lower[best]:
            errors.append("%s: vrrp_instances[%s].%s cannot move the VIP: %d - %d = %d is not below %s's "
                          "priority %d (set priorities with room, or a larger weight)"
                          % (host, name, label, healthy[host], abs(weight), failed, best, lower[best]))
    for host in entries:
        if master in healthy and host != master and healthy[host] >= healthy[master]:
            errors.append("%s: vrrp_instances[%s]: positive tracking weights let this backup (%d + %d = %d) "
                          "preempt a healthy preferred master %s (%d + %d = %d)"
                          % (host, name, priorities[host], bonus(host), healthy[host], master,
                             priorities[master], bonus(master), healthy[master]))
