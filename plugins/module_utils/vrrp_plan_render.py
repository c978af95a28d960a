# Copyright: (c) 2026, linuxha.vrrp contributors
# MIT License (see LICENSE)
"""What the role renders and shows: an instance as the template writes it,
the vrrp_scripts list, and the status table of status.yml.

Rules:
- render_instance takes an instance that passed every check and the derived
  state, priority and preemption; it adds nothing the inventory did not say
  except the derived values, unicast source/peers (when unicast is on: each
  member's interface_address of the instance's family) and ``filters``.
- Kernel-side keys: ``accept`` defaults to on unless strict mode (the role's
  priorities are below 255, never the owner), strict VRRPv2 has no accept;
  ``filters`` (accept off) says the agent needs python3-nftables on the host.
- render_scripts: a ``src`` (shipped from the controller) lands in ``dest``
  (default under ``vrrp_scripts_dir``), which is also the command unless
  ``script`` is given.
- vrrp_status_table groups every host's vrrp_info result by cluster and
  VRID; a row with no master or more than one (split brain) is a problem, so
  is a host whose agent did not answer; a keepalived host is a note.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxha.vrrp.plugins.module_utils.vrrp_plan_keys import (
    GARP_KEYS,
    NOTIFY_KEYS,
    SCRIPTS_DIR,
    TRACK_KINDS,
    interface_address,
)


def render_instance(host, item, family, priority, state, preempt, delay, members, hostvars):
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
        rendered["unicast_src_ip"] = interface_address(host_vars, item["interface"], family)[0]
        rendered["unicast_peers"] = [
            interface_address(hostvars[m], item["interface"], family)[0] for m in members if m != host
        ]
    return rendered


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


def render_scripts(host_vars, defs):
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
