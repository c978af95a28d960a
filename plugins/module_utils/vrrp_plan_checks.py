# Copyright: (c) 2026, linuxha.vrrp contributors
# MIT License (see LICENSE)
"""Per-host, per-instance checks of the cluster plan: each guard appends a
sentence naming the host, the instance and the field to ``errors`` and
changes nothing (the role fails on any error before touching a host).

Rules:
- Definitions (vrrp_scripts, vrrp_track_files, vrrp_track_processes,
  vrrp_sync_groups) are lists of named dicts of known keys; tracking entries
  are 'NAME [weight W [reverse]]' and name a definition.
- An instance: vrid 1..255, version 2 or 3, advert_int whole seconds 1..255
  (v2) or 0.01..40.95 s (v3), auth_pass only with v2, VIPs of one family
  (IPv6 needs v3), mcast_src_ip of that family, garp and notify keys known.
- Unicast (issue 13 / unicast TTL): unicast_ttl 1..255, unicast_peer_ttl
  {min, max} 0..255 with min <= max and min <= unicast_ttl (a TTL only
  decreases on its way); both need unicast; a member's own unicast source
  must exist and be of the instance's family.
- Kernel-side keys: ``use_vmac`` (true or an interface name),
  ``vmac_xmit_base`` (needs use_vmac), ``virtual_routes`` / ``virtual_rules``
  (keepalived's route/rule lines, checked by the engine; no braces, quotes,
  comments or newlines), ``accept`` and ``strict_mode``. Combinations strict
  mode would silently change (auth_pass, preempt_delay, vmac_xmit_base, v2
  accept) are refused (check_strict).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.linuxha.vrrp.plugins.module_utils.vrrp_plan_keys import (
    GARP_KEYS,
    INSTANCE_KEYS,
    NOTIFY_KEYS,
    PRIORITY_MAX,
    PRIORITY_MIN,
    SCRIPT_KEYS,
    SYNC_GROUP_KEYS,
    TRACK_FILE_KEYS,
    TRACK_KINDS,
    TRACK_PROCESS_KEYS,
    WEIGHT_MAX,
    WEIGHT_MIN,
    interface_address,
    is_int,
    number,
    parse_track,
    unknown_keys,
    vip_address,
)

_IFNAME = re.compile(r"^[^\s/:]{1,15}$")
_LINE_FORBIDDEN = re.compile(r"[{}\n#!\"]")


def check_definitions(host, host_vars, errors):
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
            unknown_keys(where, item, allowed, errors)
            if not any(item.get(k) for k in needs):
                errors.append("%s needs %s" % (where, " or ".join(needs)))
            weight = item.get("weight")
            if weight is not None and (not is_int(weight) or not WEIGHT_MIN <= weight <= WEIGHT_MAX):
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


def check_instance(host, inst, defs, errors):
    """Per-instance guards; returns the VIP family (4 or 6) or None."""
    where = "%s: vrrp_instances[%s]" % (host, inst.get("name", "?"))
    unknown_keys(where, inst, INSTANCE_KEYS, errors)
    version = _check_protocol(where, inst, errors)
    family = _check_vips(where, inst, version, errors)
    _check_preemption(where, inst, errors)
    _check_mcast_src(where, inst, family, errors)
    _check_garp(where, inst, errors)
    _check_notify(where, inst, errors)
    check_tracks(where, inst, defs, errors)
    _check_unicast_ttl(where, inst, errors)
    _check_kernel(where, inst, version, errors)
    return family


def _check_protocol(where, inst, errors):
    """Required keys, vrid, version, advert_int and auth_pass; returns the version."""
    for key in ("name", "interface", "vrid", "vips"):
        if inst.get(key) in (None, "", []):
            errors.append("%s.%s is required" % (where, key))
    vrid = inst.get("vrid")
    if vrid is not None and (not is_int(vrid) or not 1 <= vrid <= 255):
        errors.append("%s.vrid must be an integer 1..255, got %r" % (where, vrid))
    version = inst.get("version", 2)
    if version not in (2, 3):
        errors.append("%s.version must be 2 or 3, got %r" % (where, version))
    try:
        advert = number(inst.get("advert_int", 1))
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
    return version


def _check_vips(where, inst, version, errors):
    """vips / vips_excluded: addresses of one family; returns it (4, 6 or None)."""
    families = set()
    for key in ("vips", "vips_excluded"):
        value = inst.get(key) or []
        if not isinstance(value, list):
            errors.append("%s.%s must be a list of address/prefix strings" % (where, key))
            continue
        for vip in value:
            try:
                family = vip_address(vip).version
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
    return family


def _check_preemption(where, inst, errors):
    """priority, the true/false keys, preempt against nopreempt, preempt_delay."""
    value = inst.get("priority")
    if value is not None and (not is_int(value) or not PRIORITY_MIN <= value <= PRIORITY_MAX):
        errors.append("%s.priority must be 1..254, got %r" % (where, value))
    for key in ("preempt", "nopreempt", "unicast"):
        if key in inst and not isinstance(inst[key], bool):
            errors.append("%s.%s must be true or false, got %r" % (where, key, inst[key]))
    if "preempt" in inst and "nopreempt" in inst and inst["preempt"] == inst["nopreempt"]:
        errors.append("%s: preempt %s and nopreempt %s contradict each other (use preempt only)"
                      % (where, inst["preempt"], inst["nopreempt"]))
    if inst.get("preempt_delay") is not None:
        try:
            delay = number(inst["preempt_delay"])
            if not 0 <= delay <= 1000:
                raise ValueError(delay)
        except (TypeError, ValueError):
            errors.append("%s.preempt_delay must be 0..1000 seconds, got %r" % (where, inst["preempt_delay"]))


def _check_mcast_src(where, inst, family, errors):
    mcast = inst.get("mcast_src_ip")
    if mcast:
        try:
            if family and ipaddress.ip_address(str(mcast)).version != family:
                errors.append("%s.mcast_src_ip %s is not an IPv%d address (the instance's VIPs are IPv%d)"
                              % (where, mcast, family, family))
        except ValueError:
            errors.append("%s.mcast_src_ip %r is not an IP address" % (where, mcast))


def _check_garp(where, inst, errors):
    garp = inst.get("garp") or {}
    if not isinstance(garp, dict):
        errors.append("%s.garp must be a dict (%s)" % (where, ", ".join(GARP_KEYS)))
        garp = {}
    for key, value in garp.items():
        if key not in GARP_KEYS:
            errors.append("%s.garp.%s is not a known key (known: %s)" % (where, key, ", ".join(GARP_KEYS)))
            continue
        _kw, kind, low, high = GARP_KEYS[key]
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = is_int(value) if kind is int else numeric
        if not ok or not low <= value <= high:
            errors.append("%s.garp.%s must be %s %s..%s, got %r"
                          % (where, key, "a whole number" if kind is int else "a number", low, high, value))


def _check_notify(where, inst, errors):
    notify = inst.get("notify") or {}
    if not isinstance(notify, dict):
        errors.append("%s.notify must be a dict by event (%s)" % (where, ", ".join(NOTIFY_KEYS)))
    else:
        for key in sorted(set(notify) - set(NOTIFY_KEYS)):
            errors.append("%s.notify.%s is not an event (known: %s)" % (where, key, ", ".join(NOTIFY_KEYS)))


def _check_unicast_ttl(where, inst, errors):
    """unicast_ttl (1..255) and unicast_peer_ttl {min, max} (0..255): keepalived's unicast_ttl and
    per-peer min_ttl/max_ttl. A TTL only decreases on its way, so below min nothing arrives."""
    ttl = inst.get("unicast_ttl")
    if ttl is not None and (not is_int(ttl) or not 1 <= ttl <= 255):
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
        if not is_int(value) or not 0 <= value <= 255:
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


def check_strict(where, inst, version, errors):
    """What strict mode would reset silently in the engine is an error in the inventory."""
    for key, why in (("auth_pass", "strict mode has no authentication"),
                     ("preempt_delay", "strict mode has no preempt_delay"),
                     ("vmac_xmit_base", "strict mode refuses vmac_xmit_base")):
        if inst.get(key):
            errors.append("%s.%s: %s (the engine would drop it)" % (where, key, why))
    if inst.get("accept") and version == 2:
        errors.append("%s.accept: strict mode has no accept mode with VRRPv2 (use version: 3)" % where)


def check_tracks(where, item, defs, errors):
    refs = {"track_scripts": "vrrp_scripts", "track_files": "vrrp_track_files",
            "track_processes": "vrrp_track_processes"}
    for kind in TRACK_KINDS:
        entries = item.get(kind) or []
        if not isinstance(entries, list):
            errors.append("%s.%s must be a list of 'NAME [weight W]' strings" % (where, kind))
            continue
        for entry in entries:
            parsed = parse_track(entry)
            if parsed is None:
                errors.append("%s.%s: %r is not 'NAME [weight W [reverse]]'" % (where, kind, entry))
                continue
            name, weight, _reverse = parsed
            if weight is not None and not WEIGHT_MIN <= weight <= WEIGHT_MAX:
                errors.append("%s.%s: %s weight %d is out of range %d..%d"
                              % (where, kind, name, weight, WEIGHT_MIN, WEIGHT_MAX))
            if kind in refs and name not in defs[refs[kind]]:
                errors.append("%s.%s: %s is not defined in %s" % (where, kind, name, refs[kind]))


def check_unicast(host, item, family, hostvars, errors):
    """A member's own unicast address (its peers check theirs)."""
    if not item.get("unicast", hostvars[host].get("vrrp_unicast", False)) or family is None:
        _check_unicast_only(host, item, hostvars, errors)
        return
    address, field = interface_address(hostvars[host], item["interface"], family)
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


def _check_unicast_only(host, item, hostvars, errors):
    if item.get("unicast", hostvars[host].get("vrrp_unicast", False)):
        return
    for key in ("unicast_ttl", "unicast_peer_ttl"):
        if item.get(key) is not None:
            errors.append("%s: vrrp_instances[%s].%s needs unicast (unicast: true or vrrp_unicast)"
                          % (host, item["name"], key))
