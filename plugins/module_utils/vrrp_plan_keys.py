# Copyright: (c) 2026, linuxha.vrrp contributors
# MIT License (see LICENSE)
"""The cluster plan's vocabulary: the keys the role knows, their ranges, and
the small parsers every part of the plan shares (docs/ansible.md "Inventory model").

Rules:
- A key the role does not know, in an instance, an override or a definition,
  is an error (unknown_keys): nothing is dropped silently. ``state`` is
  refused with STATE_HELP (it is derived).
- Priorities are 1..254 (255 is the address owner, never derived here);
  tracking weights are -253..253.
- Parsers return None (parse_track) or raise ValueError (vip_address,
  number); the callers turn that into an error naming host, instance and field.
- interface_address gives a host's unicast source: ``vrrp_address`` (IPv4
  instances) or ``vrrp_address6`` (IPv6 instances; ``vrrp_address`` when it is
  an IPv6 address), else the instance interface's address from the facts
  (IPv4 primary, IPv6 link-local).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
SCRIPT_KEYS = {"name", "script", "src", "dest", "interval", "timeout", "weight", "rise", "fall",
               "user", "init_fail"}
TRACK_FILE_KEYS = {"name", "file", "weight", "reverse", "init_file", "init_overwrite"}
TRACK_PROCESS_KEYS = {"name", "process", "params", "param_match", "full_command", "weight",
                      "reverse", "quorum", "quorum_max"}
SYNC_GROUP_KEYS = {"name", "instances", "notify", "track_scripts", "track_interfaces",
                   "track_files", "track_processes", "tracking_weight"}
SCRIPTS_DIR = "/usr/local/libexec/vrrp"
_TRACK_ENTRY = re.compile(r"^(\S+)(?:\s+weight\s+(-?\d+)(?:\s+(reverse|noreverse))?)?\s*$")
STATE_HELP = ("state is derived, not set: the preferred master is the instance's master key (or "
              "vrrp_master), and preempt: false renders every member state BACKUP + nopreempt")


def vip_address(text):
    return ipaddress.ip_interface(str(text).split()[0])


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def number(value):
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value)


def interface_address(host_vars, interface, family):
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


def parse_track(entry):
    """'NAME [weight W [reverse|noreverse]]' -> (name, weight or None, reverse)."""
    match = _TRACK_ENTRY.match(str(entry))
    if not match:
        return None
    weight = int(match.group(2)) if match.group(2) is not None else None
    return match.group(1), weight, match.group(3) == "reverse"


def unknown_keys(where, item, allowed, errors):
    for key in sorted(set(item) - allowed, key=str):
        if key == "state":
            errors.append("%s.state: %s" % (where, STATE_HELP))
        else:
            errors.append("%s.%s is not a known key (known: %s)" % (where, key, ", ".join(sorted(allowed))))
