# Copyright: (c) 2026, linuxha.vrrp contributors
# MIT License (see LICENSE)
"""The BGP announcement plan of the vrrp role (vrrp_announce: bgp, docs/bgp.md).

``hostvars | linuxha.vrrp.vrrp_bgp_plan(members, plan)``: ``plan`` is the
result of vrrp_cluster_plan (its instances give the VIPs). Returns
``{"errors": [...], "hosts": {host: {...}}}``; the role fails on any error
before touching a host. Rules:
- ``vrrp_announce`` is ``garp`` (VRRP's own way, nothing to plan) or ``bgp``;
  ``bgp`` needs the agent (keepalived has no such mode and would refuse the
  agent's ``announce`` keyword) and ``vrrp_instances`` (the VIPs), not
  ``vrrp_config_content``.
- ``vrrp_bgp_asn``: this member's AS, 1..4294967295 (not 23456, AS_TRANS).
- ``vrrp_bgp_neighbors`` (per host, at least one): ``{address, remote_as}``
  or ``{host: NAME}``, an inventory host whose ``vrrp_bgp_address`` (else
  ``ansible_host``) and ``vrrp_bgp_asn`` are used.
- Every VIP is a host route (IPv4 /32, IPv6 /128), inside one of
  ``vrrp_bgp_vip_ranges`` when that list is set (the ranges the network
  delegates to the cluster); the prefix-list permits exactly the VIPs.
- ``vrrp_bgp_router_id``: IPv4; else ``vrrp_address``, else an instance's
  IPv4 unicast source, else the default IPv4 address.
- BFD on every session (``vrrp_bgp_bfd``), ``vrrp_bgp_bfd_interval_ms``
  10..60000, ``vrrp_bgp_bfd_multiplier`` 2..255; ``vrrp_bgp_lease`` 2..3600 s.
- ``vrrp_bgp_track_session`` (true): every instance tracks the role's
  vrrp-bgp-session script with weight 0 (FAULT while no session is up).
Every error names the host and the field.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.linuxha.vrrp.plugins.module_utils.vrrp_plan_keys import SCRIPTS_DIR, is_int

ANNOUNCE_MODES = ("garp", "bgp")
ASN_MAX = 4294967295
AS_TRANS = 23456
LEASE_RANGE = (2, 3600)
BFD_INTERVAL_RANGE = (10, 60000)
BFD_MULTIPLIER_RANGE = (2, 255)
SESSION_SCRIPT = "vrrp-bgp-session"


def _asn_error(value):
    if not is_int(value) or not 1 <= value <= ASN_MAX:
        return "must be a whole number 1..%d, got %r" % (ASN_MAX, value)
    if value == AS_TRANS:
        return "must not be %d (AS_TRANS, reserved by RFC 6793)" % AS_TRANS
    return None


def _ranged(host, host_vars, key, default, bounds, errors):
    value = host_vars.get(key, default)
    if not is_int(value) or not bounds[0] <= value <= bounds[1]:
        errors.append("%s: %s must be a whole number %d..%d, got %r"
                      % (host, key, bounds[0], bounds[1], value))
        return default
    return value


def _neighbor(host, index, entry, hostvars, errors):
    where = "%s: vrrp_bgp_neighbors[%d]" % (host, index)
    if not isinstance(entry, dict):
        errors.append("%s must be a dict {address, remote_as} or {host}, got %r" % (where, entry))
        return None
    unknown = set(entry) - {"address", "remote_as", "host"}
    if unknown:
        errors.append("%s: unknown keys %s (known: address, remote_as, host)"
                      % (where, ", ".join(sorted(unknown))))
        return None
    name = entry.get("host")
    address, remote_as = entry.get("address"), entry.get("remote_as")
    if name is not None:
        if name not in hostvars:
            errors.append("%s.host: %s is not an inventory host" % (where, name))
            return None
        peer = hostvars[name]
        address = address or peer.get("vrrp_bgp_address") or peer.get("ansible_host")
        remote_as = remote_as if remote_as is not None else peer.get("vrrp_bgp_asn")
    try:
        address = str(ipaddress.ip_address(str(address)))
    except ValueError:
        errors.append("%s.address must be an IP address, got %r%s" % (
            where, address, " (set vrrp_bgp_address on %s)" % name if name else ""))
        return None
    problem = _asn_error(remote_as)
    if problem:
        errors.append("%s.remote_as %s%s" % (where, problem, " (vrrp_bgp_asn of %s)" % name if name else ""))
        return None
    return {"address": address, "remote_as": remote_as, "family": ipaddress.ip_address(address).version}


def _vip_prefixes(host, instances, ranges, errors):
    prefixes = {4: [], 6: []}
    for inst in instances:
        for vip in inst.get("vips", []) + inst.get("vips_excluded", []):
            iface = ipaddress.ip_interface(str(vip).split()[0])
            where = "%s: vrrp_instances[%s].vips: %s" % (host, inst.get("name"), vip)
            if iface.network.prefixlen != iface.max_prefixlen:
                errors.append("%s: with vrrp_announce: bgp a VIP is a host route: write %s/%d"
                              % (where, iface.ip, iface.max_prefixlen))
                continue
            if " dev " in " %s " % vip:
                errors.append("%s: with vrrp_announce: bgp every VIP goes on the announce device; "
                              "drop dev" % where)
                continue
            if ranges and not any(iface.ip in net for net in ranges):
                errors.append("%s is outside vrrp_bgp_vip_ranges (%s): the prefix-list would never "
                              "announce it" % (where, ", ".join(str(n) for n in ranges)))
                continue
            prefix = "%s/%d" % (iface.ip, iface.max_prefixlen)
            if prefix not in prefixes[iface.version]:
                prefixes[iface.version].append(prefix)
    return prefixes


def _ranges(host, host_vars, errors):
    value = host_vars.get("vrrp_bgp_vip_ranges") or []
    if not isinstance(value, list):
        errors.append("%s: vrrp_bgp_vip_ranges must be a list of networks, got %r" % (host, value))
        return []
    out = []
    for item in value:
        try:
            out.append(ipaddress.ip_network(str(item)))
        except ValueError as exc:
            errors.append("%s: vrrp_bgp_vip_ranges: %r is not a network: %s" % (host, item, exc))
    return out


def _router_id(host, host_vars, instances, errors):
    facts = host_vars.get("ansible_facts") or {}
    sources = [i.get("unicast_src_ip") for i in instances if ":" not in str(i.get("unicast_src_ip") or ":")]
    value = (host_vars.get("vrrp_bgp_router_id") or host_vars.get("vrrp_address")
             or (sources[0] if sources else None) or (facts.get("default_ipv4") or {}).get("address"))
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        errors.append("%s: vrrp_bgp_router_id must be an IPv4 address (none given, and no vrrp_address "
                      "or default IPv4 address to derive it from), got %r" % (host, value))
        return None


def _host_plan(host, host_vars, instances, hostvars, errors):
    before = len(errors)
    if host_vars.get("vrrp_engine", "agent") != "agent":
        errors.append("%s: vrrp_announce: bgp needs vrrp_engine: agent (keepalived has no routed mode and "
                      "refuses the agent's 'announce' keyword)" % host)
    if host_vars.get("vrrp_config_content"):
        errors.append("%s: vrrp_announce: bgp needs vrrp_instances (the VIPs to announce), not "
                      "vrrp_config_content" % host)
    asn = host_vars.get("vrrp_bgp_asn")
    problem = _asn_error(asn)
    if problem:
        errors.append("%s: vrrp_bgp_asn %s" % (host, problem))
    neighbors = host_vars.get("vrrp_bgp_neighbors") or []
    if not isinstance(neighbors, list) or not neighbors:
        errors.append("%s: vrrp_announce: bgp needs vrrp_bgp_neighbors (at least one BGP neighbour: "
                      "{address, remote_as} or {host: NAME})" % host)
        neighbors = []
    peers = [_neighbor(host, i, n, hostvars, errors) for i, n in enumerate(neighbors)]
    lease = _ranged(host, host_vars, "vrrp_bgp_lease", 3, LEASE_RANGE, errors)
    interval = _ranged(host, host_vars, "vrrp_bgp_bfd_interval_ms", 100, BFD_INTERVAL_RANGE, errors)
    multiplier = _ranged(host, host_vars, "vrrp_bgp_bfd_multiplier", 3, BFD_MULTIPLIER_RANGE, errors)
    bfd = host_vars.get("vrrp_bgp_bfd", True)
    track = host_vars.get("vrrp_bgp_track_session", True)
    for key, value in (("vrrp_bgp_bfd", bfd), ("vrrp_bgp_track_session", track)):
        if not isinstance(value, bool):
            errors.append("%s: %s must be true or false, got %r" % (host, key, value))
    prefixes = _vip_prefixes(host, instances, _ranges(host, host_vars, errors), errors)
    router_id = _router_id(host, host_vars, instances, errors)
    if len(errors) != before:
        return None
    return {"asn": asn, "router_id": router_id, "neighbors": peers, "prefixes4": prefixes[4],
            "prefixes6": prefixes[6], "lease": lease,
            "bfd": {"interval_ms": interval, "multiplier": multiplier} if bfd else None,
            "announce": "bgp lease %d" % lease, "track_session": track is True,
            "session_script": "%s/%s" % (host_vars.get("vrrp_scripts_dir", SCRIPTS_DIR), SESSION_SCRIPT)}


def vrrp_bgp_plan(hostvars, members, plan):
    errors = []
    hosts = {}
    for host in [str(m) for m in members or []]:
        host_vars = hostvars[host]
        mode = host_vars.get("vrrp_announce", "garp")
        if mode not in ANNOUNCE_MODES:
            errors.append("%s: vrrp_announce must be one of %s, got %r"
                          % (host, ", ".join(ANNOUNCE_MODES), mode))
            continue
        if mode == "garp":
            continue
        instances = ((plan or {}).get("hosts") or {}).get(host) or []
        result = _host_plan(host, host_vars, instances, hostvars, errors)
        if result is not None:
            hosts[host] = result
    modes = {hostvars[str(h)].get("vrrp_announce", "garp") for h in members or []}
    if len(modes) > 1:
        errors.append("%s: vrrp_announce differs between members (%s): set it for the whole cluster"
                      % (members[0], ", ".join(sorted(str(m) for m in modes))))
    return {"errors": errors, "hosts": hosts}


class FilterModule(object):
    def filters(self):
        return {"vrrp_bgp_plan": vrrp_bgp_plan}
