# Copyright: (c) 2026, linuxha.vrrp contributors
# MIT License (see LICENSE)
"""Parse `systemctl show --property=Id,LoadState,ActiveState,UnitFileState UNIT...` into a dict.

The role reads the state of its two units this way instead of with
service_facts, which lists every service of the host and costs seconds per
run. Rules: one block per unit, blocks separated by an empty line; a unit
systemd does not know has LoadState not-found.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: vrrp_systemd_units
short_description: The state of systemd units from C(systemctl show) output
version_added: 1.1.0
description:
  - Parses the output of C(systemctl show --property=Id,LoadState,ActiveState,UnitFileState UNIT...)
    into a dict of unit name to C(loaded) (the unit file exists), C(active) (it runs) and
    C(enabled) (it starts at boot).
options:
  _input:
    description: The command's standard output.
    type: str
    required: true
author: linuxha.vrrp contributors
"""

EXAMPLES = r"""
- name: Read the units
  ansible.builtin.command:
    argv: [systemctl, show, "--property=Id,LoadState,ActiveState,UnitFileState", vrrp-agent.service]
  register: show
  changed_when: false

- name: Is the agent running?
  ansible.builtin.debug:
    msg: "{{ (show.stdout | linuxha.vrrp.vrrp_systemd_units)['vrrp-agent.service'].active }}"
"""

RETURN = r"""
_value:
  description: Unit name to C({loaded, active, enabled}), booleans.
  type: dict
"""


def vrrp_systemd_units(text):
    units = {}
    for block in str(text or "").split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("Id"):
            units[props["Id"]] = {"loaded": props.get("LoadState") == "loaded",
                                  "active": props.get("ActiveState") in ("active", "reloading"),
                                  "enabled": props.get("UnitFileState") == "enabled"}
    return units


class FilterModule(object):
    def filters(self):
        return {"vrrp_systemd_units": vrrp_systemd_units}
