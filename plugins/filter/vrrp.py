# Copyright: (c) 2026, linuxha.vrrp contributors
# MIT License (see LICENSE)
"""Cluster planning for the vrrp role: validation and derived settings.

Rules (docs/ansible.md "Inventory model"):
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
  keeps the highest priority either way.
- Priorities: the preferred master gets ``vrrp_master_priority`` (100).
  Backups get consecutive priorities in inventory order, the first one
  ``vrrp_backup_priority`` when that is set, else derived: 90 below the
  master (the seed's 100/10 pair), less when the cluster needs the room,
  and always less than the smallest non-zero tracking weight, so that
  every weight moves the VIP. An explicit ``priority`` (override) wins.
  Every weight is then checked against the resulting numbers.
- With ``unicast`` on, a host's source address is ``vrrp_address`` (IPv4
  instances) or ``vrrp_address6`` (IPv6 instances; ``vrrp_address`` when it
  is an IPv6 address), else the instance interface's address from the
  facts (IPv4 primary, IPv6 link-local); its peers are the other members'.
- Kernel-side keys (issue 13): ``use_vmac`` (true or a name),
  ``vmac_xmit_base``, ``virtual_routes`` / ``virtual_rules`` (keepalived's
  route/rule lines, checked by the engine), ``accept`` and ``strict_mode``
  (default ``vrrp_strict``). Combinations strict mode would silently change
  (auth_pass, preempt_delay, vmac_xmit_base, v2 accept) are refused here.
  ``filters`` (rendered) says the agent needs python3-nftables on that host.
- Every problem found is reported, each naming the host, the instance and
  the field; the role fails on any error before touching a host.
"""

from __future__ import annotations

import ipaddress
import re

MASTER_PRIORITY = 100
BACKUP_GAP = 90  # 100 -> 10: the seed's pair
MAX_MEMBERS = 32
PRIORITY_MIN = 1
PRIORITY_MAX = 254
WEIGHT_MIN = -253
WEIGHT_MAX = 253
NOTIFY_KEYS = ("master", "backup", "fault", "stop", "notify")
AGENT_ONLY = ("resources",)
TRACK_KINDS = ("track_scripts", "track_interfaces", "track_files", "track_processes")
GARP_KEYS = {  # instance garp key -> (keyword, type, low, high): the agent's and keepalived's ranges
    "master_delay": ("garp_master_delay", float, 0, 1000),
    "master_repeat": ("garp_master_repeat", int, 0, 1000),
    "master_refresh": ("garp_master_refresh", float, 0, 86400),
    "master_refresh_repeat": ("garp_master_refresh_repeat", int, 1, 1000),
    "lower_prio_delay": ("garp_lower_prio_delay", float, 0, 1000),
    "lower_prio_repeat": ("garp_lower_prio_repeat", int, 0, 1000),
}
INSTANCE_KEYS = {
    "name", "interface", "vrid", "vips", "vips_excluded", "version", "advert_int", "auth_pass",
    "priority", "master", "preempt", "nopreempt", "preempt_delay", "unicast", "mcast_src_ip",
    "garp", "notify", "resources", "unicast_ttl", "unicast_peer_ttl",
} | set(TRACK_KINDS)
KERNEL_KEYS = {"use_vmac", "vmac_xmit_base", "virtual_routes", "virtual_rules", "accept", "strict_mode"}
INSTANCE_KEYS |= KERNEL_KEYS
_IFNAME = re.compile(r"^[^\s/:]{1,15}$")
_LINE_FORBIDDEN = re.compile(r"[{}\n#!\"]")
SCRIPT_KEYS = {"name", "script", "src", "dest", "interval", "timeout", "weight", "rise", "fall",
               "user", "init_fail"}
TRACK_FILE_KEYS = {"name", "file", "weight", "reverse", "init_file", "init_overwrite"}
TRACK_PROCESS_KEYS = {"name", "process", "params", "param_match", "full_command", "weight",
                      "reverse", "quorum", "quorum_max"}
SYNC_GROUP_KEYS = {"name", "instances", "notify", "track_scripts", "track_interfaces",
                   "track_files", "track_processes", "tracking_weight"}
SCRIPTS_DIR = "/usr/local/libexec/vrrp"
_TRACK_ENTRY = re.compile(r"^(\S+)(?:\s+weight\s+(-?\d+)(?:\s+(reverse|noreverse))?)?\s*$")
_STATE_HELP = ("state is derived, not set: the preferred master is the instance's master key (or "
               "vrrp_master), and preempt: false renders every member state BACKUP + nopreempt")


def _vip_address(text):
    return ipaddress.ip_interface(str(text).split()[0])


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value):
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value)


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


def _interface_address(host_vars, interface, family):
    """(address, field it came from) for unicast; address None when there is none."""
    for key in (("vrrp_address6", "vrrp_address") if family == 6 else ("vrrp_address",)):
        value = host_vars.get(key)
        if not value:
            continue
        try:
            version = ipaddress.ip_address(str(value)).version
        except ValueError:
            return str(value), key
        if version == family or key == "vrrp_address6" or family == 4:
            return str(value), key
    facts = host_vars.get("ansible_facts") or {}
    iface = facts.get(str(interface).replace("-", "_").replace(".", "_")) or {}
    field = "facts %s %s" % (interface, "ipv4" if family == 4 else "ipv6")
    if family == 4:
        return (iface.get("ipv4") or {}).get("address"), field
    for entry in iface.get("ipv6") or []:
        if entry.get("scope") == "link":
            return entry.get("address"), field
    return None, field


def _parse_track(entry):
    """'NAME [weight W [reverse|noreverse]]' -> (name, weight or None, reverse)."""
    match = _TRACK_ENTRY.match(str(entry))
    if not match:
        return None
    weight = int(match.group(2)) if match.group(2) is not None else None
    return match.group(1), weight, match.group(3) == "reverse"


def _unknown_keys(where, item, allowed, errors):
    for key in sorted(set(item) - allowed, key=str):
        if key == "state":
            errors.append("%s.state: %s" % (where, _STATE_HELP))
        else:
            errors.append("%s.%s is not a known key (known: %s)" % (where, key, ", ".join(sorted(allowed))))


def _check_definitions(host, host_vars, errors):
    """vrrp_scripts, vrrp_track_files, vrrp_track_processes, vrrp_sync_groups and
    vrrp_global_defs_extra: shape and keys. Returns {kind: {name: definition}}."""
    kinds = (("vrrp_scripts", SCRIPT_KEYS, ("script", "src")),
             ("vrrp_track_files", TRACK_FILE_KEYS, ("file",)),
             ("vrrp_track_processes", TRACK_PROCESS_KEYS, ("process",)),
             ("vrrp_sync_groups", SYNC_GROUP_KEYS, ("instances",)))
    found = {}
    for var, allowed, needs in kinds:
        defs = host_vars.get(var) or []
        found[var] = {}
        if not isinstance(defs, list):
            errors.append("%s: %s must be a list of dicts" % (host, var))
            continue
        for index, item in enumerate(defs):
            if not isinstance(item, dict) or not item.get("name"):
                errors.append("%s: %s[%d] must be a dict with a name" % (host, var, index))
                continue
            where = "%s: %s[%s]" % (host, var, item["name"])
            if item["name"] in found[var]:
                errors.append("%s: the name appears twice" % where)
            found[var][item["name"]] = item
            _unknown_keys(where, item, allowed, errors)
            if not any(item.get(k) for k in needs):
                errors.append("%s needs %s" % (where, " or ".join(needs)))
            weight = item.get("weight")
            if weight is not None and (not _is_int(weight) or not WEIGHT_MIN <= weight <= WEIGHT_MAX):
                errors.append("%s.weight must be a whole number %d..%d, got %r"
                              % (where, WEIGHT_MIN, WEIGHT_MAX, weight))
        if var == "vrrp_scripts":
            for item in found[var].values():
                if item.get("src") and not str(item.get("dest", "/")).startswith("/"):
                    errors.append("%s: vrrp_scripts[%s].dest must be an absolute path"
                                  % (host, item["name"]))
    extra = host_vars.get("vrrp_global_defs_extra") or []
    if not isinstance(extra, list) or not all(isinstance(x, str) and "\n" not in x for x in extra):
        errors.append("%s: vrrp_global_defs_extra must be a list of single lines (strings)" % host)
    return found


def _check_instance(host, inst, defs, errors):
    """Per-instance guards; returns the VIP family (4 or 6) or None."""
    where = "%s: vrrp_instances[%s]" % (host, inst.get("name", "?"))
    _unknown_keys(where, inst, INSTANCE_KEYS, errors)
    for key in ("name", "interface", "vrid", "vips"):
        if inst.get(key) in (None, "", []):
            errors.append("%s.%s is required" % (where, key))
    vrid = inst.get("vrid")
    if vrid is not None and (not _is_int(vrid) or not 1 <= vrid <= 255):
        errors.append("%s.vrid must be an integer 1..255, got %r" % (where, vrid))
    version = inst.get("version", 2)
    if version not in (2, 3):
        errors.append("%s.version must be 2 or 3, got %r" % (where, version))
    try:
        advert = _number(inst.get("advert_int", 1))
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
    for key in ("vips", "vips_excluded"):
        value = inst.get(key) or []
        if not isinstance(value, list):
            errors.append("%s.%s must be a list of address/prefix strings" % (where, key))
            continue
        for vip in value:
            try:
                family = _vip_address(vip).version
            except ValueError as exc:
                errors.append("%s.%s: %r is not an address/prefix: %s" % (where, key, vip, exc))
                continue
            if key == "vips":
                families.add(family)
    if len(families) > 1:
        errors.append("%s.vips mixes IPv4 and IPv6: use one instance per family "
                      "(vips_excluded may carry the other family)" % where)
    family = families.pop() if len(families) == 1 else None
    if family == 6 and version == 2:
        errors.append("%s.version: IPv6 VIPs need version: 3 (VRRPv2 is IPv4 only)" % where)
    value = inst.get("priority")
    if value is not None and (not _is_int(value) or not PRIORITY_MIN <= value <= PRIORITY_MAX):
        errors.append("%s.priority must be 1..254, got %r" % (where, value))
    for key in ("preempt", "nopreempt", "unicast"):
        if key in inst and not isinstance(inst[key], bool):
            errors.append("%s.%s must be true or false, got %r" % (where, key, inst[key]))
    if "preempt" in inst and "nopreempt" in inst and inst["preempt"] == inst["nopreempt"]:
        errors.append("%s: preempt %s and nopreempt %s contradict each other (use preempt only)"
                      % (where, inst["preempt"], inst["nopreempt"]))
    if inst.get("preempt_delay") is not None:
        try:
            delay = _number(inst["preempt_delay"])
            if not 0 <= delay <= 1000:
                raise ValueError(delay)
        except (TypeError, ValueError):
            errors.append("%s.preempt_delay must be 0..1000 seconds, got %r" % (where, inst["preempt_delay"]))
    mcast = inst.get("mcast_src_ip")
    if mcast:
        try:
            if family and ipaddress.ip_address(str(mcast)).version != family:
                errors.append("%s.mcast_src_ip %s is not an IPv%d address (the instance's VIPs are IPv%d)"
                              % (where, mcast, family, family))
        except ValueError:
            errors.append("%s.mcast_src_ip %r is not an IP address" % (where, mcast))
    garp = inst.get("garp") or {}
    if not isinstance(garp, dict):
        errors.append("%s.garp must be a dict (%s)" % (where, ", ".join(GARP_KEYS)))
        garp = {}
    for key, value in garp.items():
        if key not in GARP_KEYS:
            errors.append("%s.garp.%s is not a known key (known: %s)" % (where, key, ", ".join(GARP_KEYS)))
            continue
        _kw, kind, low, high = GARP_KEYS[key]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = _is_int(value) if kind is int else number
        if not ok or not low <= value <= high:
            errors.append("%s.garp.%s must be %s %s..%s, got %r"
                          % (where, key, "a whole number" if kind is int else "a number", low, high, value))
    notify = inst.get("notify") or {}
    if not isinstance(notify, dict):
        errors.append("%s.notify must be a dict by event (%s)" % (where, ", ".join(NOTIFY_KEYS)))
    else:
        for key in sorted(set(notify) - set(NOTIFY_KEYS)):
            errors.append("%s.notify.%s is not an event (known: %s)" % (where, key, ", ".join(NOTIFY_KEYS)))
    _check_tracks(where, inst, defs, errors)
    _check_unicast_ttl(where, inst, errors)
    _check_kernel(where, inst, version, errors)
    return family


def _check_unicast_ttl(where, inst, errors):
    """unicast_ttl (1..255) and unicast_peer_ttl {min, max} (0..255): keepalived's unicast_ttl and
    per-peer min_ttl/max_ttl. A TTL only decreases on its way, so below min nothing arrives."""
    ttl = inst.get("unicast_ttl")
    if ttl is not None and (not _is_int(ttl) or not 1 <= ttl <= 255):
        errors.append("%s.unicast_ttl must be an integer 1..255, got %r" % (where, ttl))
        ttl = None
    bounds = inst.get("unicast_peer_ttl")
    if bounds is None:
        return
    if not isinstance(bounds, dict) or not bounds or set(bounds) - {"min", "max"}:
        errors.append("%s.unicast_peer_ttl must be a dict with min and/or max (0..255), got %r"
                      % (where, bounds))
        return
    low, high = bounds.get("min", 0), bounds.get("max", 255)
    for key, value in (("min", low), ("max", high)):
        if not _is_int(value) or not 0 <= value <= 255:
            errors.append("%s.unicast_peer_ttl.%s must be an integer 0..255, got %r" % (where, key, value))
            return
    if low > high:
        errors.append("%s.unicast_peer_ttl: min %d > max %d would drop every advert" % (where, low, high))
    elif low > (ttl or 255):
        errors.append("%s.unicast_peer_ttl.min %d is above unicast_ttl %d: the members would drop "
                      "each other's adverts" % (where, low, ttl or 255))


def _check_kernel(where, inst, version, errors):
    """use_vmac, vmac_xmit_base, virtual_routes/rules, accept, strict_mode (module rules)."""
    for key in ("vmac_xmit_base", "accept", "strict_mode"):
        if key in inst and not isinstance(inst[key], bool):
            errors.append("%s.%s must be true or false, got %r" % (where, key, inst[key]))
    vmac = inst.get("use_vmac", False)
    if not isinstance(vmac, bool) and not (isinstance(vmac, str) and _IFNAME.match(vmac)):
        errors.append("%s.use_vmac must be true/false or an interface name (1..15 characters, "
                      "no '/', ':' or space), got %r" % (where, vmac))
    if inst.get("vmac_xmit_base") and not vmac:
        errors.append("%s.vmac_xmit_base needs use_vmac" % where)
    for key in ("virtual_routes", "virtual_rules"):
        lines = inst.get(key) or []
        if not isinstance(lines, list) or not all(isinstance(x, str) and x.strip() for x in lines):
            errors.append("%s.%s must be a list of keepalived %s lines" % (where, key, key[8:-1]))
            continue
        for line in lines:
            if _LINE_FORBIDDEN.search(line):
                errors.append("%s.%s: %r may not hold braces, quotes, comments or newlines"
                              % (where, key, line))


def _check_strict(where, inst, version, errors):
    """What strict mode would reset silently in the engine is an error in the inventory."""
    for key, why in (("auth_pass", "strict mode has no authentication"),
                     ("preempt_delay", "strict mode has no preempt_delay"),
                     ("vmac_xmit_base", "strict mode refuses vmac_xmit_base")):
        if inst.get(key):
            errors.append("%s.%s: %s (the engine would drop it)" % (where, key, why))
    if inst.get("accept") and version == 2:
        errors.append("%s.accept: strict mode has no accept mode with VRRPv2 (use version: 3)" % where)


def _check_tracks(where, item, defs, errors):
    refs = {"track_scripts": "vrrp_scripts", "track_files": "vrrp_track_files",
            "track_processes": "vrrp_track_processes"}
    for kind in TRACK_KINDS:
        entries = item.get(kind) or []
        if not isinstance(entries, list):
            errors.append("%s.%s must be a list of 'NAME [weight W]' strings" % (where, kind))
            continue
        for entry in entries:
            parsed = _parse_track(entry)
            if parsed is None:
                errors.append("%s.%s: %r is not 'NAME [weight W [reverse]]'" % (where, kind, entry))
                continue
            name, weight, _reverse = parsed
            if weight is not None and not WEIGHT_MIN <= weight <= WEIGHT_MAX:
                errors.append("%s.%s: %s weight %d is out of range %d..%d"
                              % (where, kind, name, weight, WEIGHT_MIN, WEIGHT_MAX))
            if kind in refs and name not in defs[refs[kind]]:
                errors.append("%s.%s: %s is not defined in %s" % (where, kind, name, refs[kind]))


def _weights(item, defs):
    """Every (label, weight, reverse) tracker of an instance whose weight is not zero,
    track_files excepted (their effect is the file's value times the weight)."""
    found = []
    own = {"track_scripts": "vrrp_scripts", "track_processes": "vrrp_track_processes"}
    for kind in ("track_scripts", "track_interfaces", "track_processes"):
        for entry in item.get(kind) or []:
            parsed = _parse_track(entry)
            if parsed is None:
                continue
            name, weight, reverse = parsed
            if weight is None and kind in own:
                definition = defs[own[kind]].get(name) or {}
                weight, reverse = definition.get("weight") or 0, bool(definition.get("reverse"))
            if weight:
                found.append(("%s %s weight %d" % (kind, name, weight), weight, reverse))
    return found


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
            errors.append("%s.state: %s" % (where, _STATE_HELP))
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


def _clamp(value):
    return max(PRIORITY_MIN, min(PRIORITY_MAX, value))


def _derive_priorities(name, entries, members, master, hostvars, errors):
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


def _check_weights(name, entries, priorities, master, preempt, sync_group, errors):
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


def _render(host, item, family, priority, state, preempt, delay, members, hostvars):
    host_vars = hostvars[host]
    version = item.get("version", 2)
    advert = float(item.get("advert_int", 1))
    garp = item.get("garp") or {}
    rendered = {
        "name": item["name"], "interface": item["interface"], "vrid": item["vrid"],
        "version": version, "advert_int": int(advert) if advert == int(advert) else advert,
        "state": state, "priority": priority,
        "vips": [str(v) for v in item["vips"]],
        "vips_excluded": [str(v) for v in item.get("vips_excluded") or []],
        "auth_pass": item.get("auth_pass"),
        "nopreempt": not preempt,
        "preempt_delay": (int(delay) if delay == int(delay) else delay) if preempt and delay else None,
        "mcast_src_ip": str(item["mcast_src_ip"]) if item.get("mcast_src_ip") else None,
        "garp": [(GARP_KEYS[k][0], v) for k, v in sorted(garp.items())],
        "notify": {k: v for k, v in (item.get("notify") or {}).items() if k in NOTIFY_KEYS},
        "resources": list(item.get("resources") or []),
        "unicast_src_ip": None, "unicast_peers": [],
        "unicast_ttl": item.get("unicast_ttl"),
        "unicast_peer_opts": "".join(" %s_ttl %d" % (k, v) for k, v in sorted(
            (item.get("unicast_peer_ttl") or {}).items(), reverse=True)),
    }
    rendered.update(_render_kernel(item, host_vars, version))
    for kind in TRACK_KINDS:
        rendered[kind] = [str(e) for e in item.get(kind) or []]
    if item.get("unicast", host_vars.get("vrrp_unicast", False)):
        rendered["unicast_src_ip"] = _interface_address(host_vars, item["interface"], family)[0]
        rendered["unicast_peers"] = [
            _interface_address(hostvars[m], item["interface"], family)[0] for m in members if m != host
        ]
    return rendered


def _check_unicast_only(host, item, hostvars, errors):
    if item.get("unicast", hostvars[host].get("vrrp_unicast", False)):
        return
    for key in ("unicast_ttl", "unicast_peer_ttl"):
        if item.get(key) is not None:
            errors.append("%s: vrrp_instances[%s].%s needs unicast (unicast: true or vrrp_unicast)"
                          % (host, item["name"], key))


def _render_kernel(item, host_vars, version):
    """The kernel-side keys as the template writes them; filters: needs python3-nftables."""
    strict = item.get("strict_mode", host_vars.get("vrrp_strict", False))
    accept = item.get("accept")
    if accept is None:
        accept = not strict  # the role's priorities are below 255: never the owner
    elif strict and version == 2:
        accept = False
    vmac = item.get("use_vmac", False)
    return {
        "use_vmac": vmac if isinstance(vmac, str) else bool(vmac),
        "vmac_xmit_base": bool(item.get("vmac_xmit_base", False)),
        "virtual_routes": [str(x) for x in item.get("virtual_routes") or []],
        "virtual_rules": [str(x) for x in item.get("virtual_rules") or []],
        "accept": item.get("accept"), "strict_mode": item.get("strict_mode"),
        "filters": not accept,
    }


def _check_unicast(host, item, family, hostvars, errors):
    """A member's own unicast address (its peers check theirs)."""
    if not item.get("unicast", hostvars[host].get("vrrp_unicast", False)) or family is None:
        _check_unicast_only(host, item, hostvars, errors)
        return
    address, field = _interface_address(hostvars[host], item["interface"], family)
    label = "%s (%s)" % (address, field)
    if address is None:
        errors.append("%s: vrrp_instances[%s]: unicast needs %s or an IPv%d address on %s in the host's "
                      "facts" % (host, item["name"], "vrrp_address6" if family == 6 else "vrrp_address",
                                 family, item["interface"]))
        return
    try:
        version = ipaddress.ip_address(address).version
    except ValueError:
        errors.append("%s: vrrp_instances[%s]: unicast address %s is not an IP address"
                      % (host, item["name"], label))
        return
    if version != family:
        errors.append("%s: vrrp_instances[%s]: unicast address %s is IPv%d, the instance is IPv%d "
                      "(set vrrp_address6 for IPv6 instances)" % (host, item["name"], label, version, family))


def _check_sync_groups(host, defs, names, errors):
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
        _check_tracks(where, group, defs, errors)
    return {inst: defs["vrrp_sync_groups"][g] for inst, g in seen.items()}


def _check_rt_priority(host, value, errors):
    try:
        valid = not isinstance(value, bool) and 0 <= int(value) <= 99
    except (TypeError, ValueError):
        valid = False
    if not valid:
        errors.append("%s: vrrp_rt_priority must be 0 (normal scheduling) or a SCHED_RR priority "
                      "1..99, got %r" % (host, value))


def _scripts(host_vars, defs):
    """vrrp_scripts as rendered: a src (shipped from the controller) lands in dest,
    which is also the command unless script is given."""
    out = []
    for item in defs["vrrp_scripts"].values():
        item = dict(item)
        if item.get("src"):
            item.setdefault("dest", "%s/%s" % (host_vars.get("vrrp_scripts_dir", SCRIPTS_DIR),
                                               str(item["src"]).rstrip("/").rsplit("/", 1)[-1]))
            item.setdefault("script", item["dest"])
        out.append(item)
    return out


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
            if not 0 <= _number(host_vars.get("vrrp_preempt_delay", 0) or 0) <= 1000:
                raise ValueError()
        except (TypeError, ValueError):
            errors.append("%s: vrrp_preempt_delay must be 0..1000 seconds, got %r"
                          % (host, host_vars["vrrp_preempt_delay"]))
        if host_vars.get("vrrp_config_content"):
            continue  # a configuration given as is: the engine's own check validates it
        defs = defs_of[host] = _check_definitions(host, host_vars, errors)
        scripts[host] = _scripts(host_vars, defs)
        items[host] = []
        merged = _host_instances(host, host_vars, errors)
        declared[host] = {i.get("name") for i in merged}
        groups_of[host] = _check_sync_groups(host, defs, [i.get("name") for i in merged], errors)
        for item in merged:
            before = len(errors)
            family = _check_instance(host, item, defs, errors)
            if (item.get("use_vmac") and item.get("unicast", host_vars.get("vrrp_unicast", False))
                    and not item.get("vmac_xmit_base")):
                errors.append("%s: vrrp_instances[%s].use_vmac with unicast needs vmac_xmit_base: true"
                              % (host, item.get("name", "?")))
            if item.get("strict_mode", host_vars.get("vrrp_strict", False)) is True:
                _check_strict("%s: vrrp_instances[%s]" % (host, item.get("name", "?")), item,
                              item.get("version", 2), errors)
            if engine == "keepalived":
                for key in AGENT_ONLY:
                    if item.get(key):
                        errors.append("%s: vrrp_instances[%s].%s is an agent extension; keepalived "
                                      "(vrrp_engine) cannot run it" % (host, item.get("name"), key))
            if len(errors) == before:
                items[host].append((item, family))
    by_name = {}
    for host in items:
        for item, family in items[host]:
            by_name.setdefault(item["name"], {})[host] = (item, family)
    chosen = {}
    for name, entries in by_name.items():
        chosen[name] = _plan_instance(name, entries, members, master, hostvars, defs_of, groups_of, plan,
                                      errors)
    _check_group_settings(groups_of, chosen, errors)
    _cross_checks(plan, by_name, declared, members, hostvars, errors)
    for host in plan:
        for inst in plan[host]:
            inst.pop("_family", None)
    return {"errors": errors, "hosts": plan, "master": master, "scripts": scripts,
            "masters": {name: _instance_master(entries, master) for name, entries in by_name.items()}}


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
    settings = {}
    for host, (item, _f) in entries.items():
        host_vars = hostvars[host]
        preempt = item.get("preempt", not item["nopreempt"] if "nopreempt" in item
                           else host_vars.get("vrrp_preempt", True))
        try:
            delay = _number(item.get("preempt_delay", host_vars.get("vrrp_preempt_delay", 0)) or 0)
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
        return
    preempt, delay = settings[first]
    result = (master, preempt, delay)
    weighted = {h: (item, _weights(item, defs_of[h])) for h, (item, _f) in entries.items()}
    # ranks count every member, also a host with vrrp_config_content (not planned, but
    # still a peer): the derived numbers do not shift when one host is configured whole
    priorities = _derive_priorities(name, weighted, members, master, hostvars, errors)
    if priorities is None:
        return result
    group = groups_of.get(master, {}).get(name)
    _check_weights(name, weighted, priorities, master, preempt, group, errors)
    for host, (item, _f) in entries.items():
        _check_unicast(host, item, family, hostvars, errors)
    for host, (item, _f) in entries.items():
        state = "MASTER" if host == master and preempt and not delay else "BACKUP"
        try:
            rendered = _render(host, item, family, priorities[host], state, preempt, delay, members, hostvars)
        except (TypeError, ValueError) as exc:  # already reported
            errors.append("%s: vrrp_instances[%s]: %s" % (host, name, exc))
            continue
        rendered["_family"] = family
        plan[host].append(rendered)
    return result


def _check_group_settings(groups_of, chosen, errors):
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


def _cross_checks(plan, by_name, declared, members, hostvars, errors):
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
                address = str(_vip_address(vip).ip)
                for owner, addresses in all_addresses.items():
                    if address in addresses:
                        errors.append("%s: vrrp_instances[%s].vips: %s is an address of host %s; a VIP must "
                                      "be distinct from every host address" % (host, name, address, owner))


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
