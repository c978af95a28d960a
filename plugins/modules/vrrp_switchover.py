#!/usr/bin/python
# Copyright: (c) 2026, linuxha.vrrp contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vrrp_switchover
short_description: Make this node master or backup, or release the override
version_added: 1.0.0
description:
  - Drives the local C(vrrp-agent) over its control socket.
  - V(master) is the agent's C(takeover) (make-before-break; this node holds
    mastership until released), V(backup) its C(standby) (gives mastership up
    now and stays backup), V(released) its C(release) (back to the configured
    priority).
  - Waits until every named instance reports the wanted state, or fails after
    O(timeout) naming the instances that are not there and why.
  - Unknown instances fail before anything changes.
options:
  state:
    description: The wanted role of this node.
    type: str
    required: true
    choices: [master, backup, released]
  instances:
    description: Instance names; empty means every instance of the agent.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for the wanted state.
    type: float
    default: 10.0
  control_socket:
    description: Path of the agent's control socket.
    type: path
    default: /run/vrrp-agent/control.sock
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: >-
      Reports what would change (RV(before) and the predicted RV(after))
      without asking the agent to change anything.
  diff_mode:
    support: full
  platform:
    platforms: posix
notes:
  - V(backup) on a node with no live peer leaves it master (the agent keeps the
    VIP when nobody else can hold it) and the wait fails saying so.
  - Instances in a C(vrrp_sync_group) move with their group.
seealso:
  - module: linuxha.vrrp.vrrp_info
author:
  - linuxha.vrrp contributors (@linuxha)
"""

EXAMPLES = r"""
- name: Make s2 the master of every instance
  linuxha.vrrp.vrrp_switchover:
    state: master
  delegate_to: s2

- name: Give VI_1 up before maintenance
  linuxha.vrrp.vrrp_switchover:
    state: backup
    instances: [VI_1]
    timeout: 5

- name: Back to the configured priorities
  linuxha.vrrp.vrrp_switchover:
    state: released
"""

RETURN = r"""
before:
  description: The named instances before the change.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "VI_1", "state": "BACKUP", "override": null, "effective_priority": 10,
            "master_ip": "198.51.100.11"}]
after:
  description: The named instances after the wait (predicted in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "VI_1", "state": "MASTER", "override": "takeover", "effective_priority": 254,
            "master_ip": "198.51.100.12"}]
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.linuxha.vrrp.plugins.module_utils.vrrp_control import (
    VrrpControlError,
    instance_summary,
    request,
)

COMMANDS = {"master": "takeover", "backup": "standby", "released": "release"}
OVERRIDES = {"master": "takeover", "backup": "standby", "released": None}
POLL_S = 0.1


def _arrived(state, inst):
    if state == "master":
        return inst["state"] == "MASTER"
    if state == "backup":
        return inst["override"] == "standby" and inst["state"] == "BACKUP"
    return inst["override"] is None


def _why_not(state, inst):
    wanted = {"master": "MASTER", "backup": "BACKUP", "released": "released"}[state]
    return "%s is %s (override %s, priority %s, master %s), not %s" % (
        inst["name"], inst["state"], inst["override"], inst["effective_priority"], inst["master_ip"], wanted)


def _read(module, names):
    params = module.params
    try:
        status = request("status", path=params["control_socket"], timeout=5.0)
    except VrrpControlError as exc:
        module.fail_json(msg=str(exc))
    by_name = dict((inst.get("name"), inst) for inst in status.get("instances") or [])
    unknown = [name for name in names if name not in by_name]
    if unknown:
        module.fail_json(msg="no such instance: %s (known: %s); nothing was changed"
                         % (", ".join(unknown), ", ".join(by_name)))
    return [instance_summary(by_name[name]) for name in (names or list(by_name))]


def _predict(state, inst):
    after = dict(inst, override=OVERRIDES[state])
    if state == "master":
        after["state"] = "MASTER"
    elif state == "backup":
        after["state"] = "BACKUP"
    return after


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", required=True, choices=["master", "backup", "released"]),
            instances=dict(type="list", elements="str", default=[]),
            timeout=dict(type="float", default=10.0),
            control_socket=dict(type="path", default="/run/vrrp-agent/control.sock"),
        ),
        supports_check_mode=True,
    )
    state = module.params["state"]
    before = _read(module, module.params["instances"])
    names = [inst["name"] for inst in before]
    changed = any(inst["override"] != OVERRIDES[state] for inst in before)
    diff = {"before": dict((i["name"], {"override": i["override"], "state": i["state"]}) for i in before)}
    if module.check_mode:
        after = [_predict(state, inst) for inst in before]
        diff["after"] = dict((i["name"], {"override": i["override"], "state": i["state"]}) for i in after)
        module.exit_json(changed=changed, before=before, after=after, diff=diff)
    if changed:
        try:
            request(COMMANDS[state], {"instances": names}, path=module.params["control_socket"], timeout=5.0)
        except VrrpControlError as exc:
            module.fail_json(msg=str(exc), before=before)
    deadline = time.monotonic() + module.params["timeout"]
    while True:
        after = _read(module, names)
        missing = [inst for inst in after if not _arrived(state, inst)]
        if not missing:
            break
        if time.monotonic() >= deadline:
            reasons = "; ".join(_why_not(state, inst) for inst in missing)
            module.fail_json(msg="timed out after %ss: %s" % (module.params["timeout"], reasons),
                             changed=changed, before=before, after=after)
        time.sleep(POLL_S)
    diff["after"] = dict((i["name"], {"override": i["override"], "state": i["state"]}) for i in after)
    module.exit_json(changed=changed, before=before, after=after, diff=diff)


if __name__ == "__main__":
    main()
