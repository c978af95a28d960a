#!/usr/bin/python
# Copyright: (c) 2026, linuxha.vrrp contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vrrp_info
short_description: Report the state of the local vrrp-agent
version_added: 1.0.0
description:
  - Asks the local C(vrrp-agent) over its control socket for its status document
    (schema 1, the same as C(vrrp-agent status --json)).
  - Returns it as is in RV(status) and, per instance, in the shape the
    C(linuxha.vrrp.vrrp) role takes in C(vrrp_instances) (RV(vrrp_instances)),
    with the live state added.
  - An agent that is not running is not a failure; RV(running) is V(false).
options:
  control_socket:
    description: Path of the agent's control socket.
    type: path
    default: /run/vrrp-agent/control.sock
  instances:
    description:
      - Only these instances. An unknown name fails, listing the known ones.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for the agent's reply.
    type: float
    default: 5.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Needs read and write access to the socket, so root or a member of the agent's
    control group (role variable C(vrrp_control_group)).
seealso:
  - module: linuxha.vrrp.vrrp_switchover
author:
  - linuxha.vrrp contributors (@linuxha)
"""

EXAMPLES = r"""
- name: Read the agent's status
  linuxha.vrrp.vrrp_info:
  register: vrrp

- name: Show who is master of VI_1
  ansible.builtin.debug:
    msg: "{{ vrrp.vrrp_instances | selectattr('name', 'eq', 'VI_1') | map(attribute='state') | first }}"

- name: Only one instance, through another socket
  linuxha.vrrp.vrrp_info:
    control_socket: /run/vrrp-agent/control.sock
    instances: [VI_1]
"""

RETURN = r"""
running:
  description: Whether the agent answered.
  returned: always
  type: bool
  sample: true
msg:
  description: Why the agent did not answer.
  returned: when RV(running) is false
  type: str
  sample: vrrp-agent is not running (no listener on /run/vrrp-agent/control.sock)
status:
  description: The agent's status document (schema 1), as C(vrrp-agent status --json) prints it.
  returned: when RV(running) is true
  type: dict
  contains:
    schema:
      description: The schema version.
      type: int
      sample: 1
    agent:
      description: Agent version, pid, configuration path, uptime and discard counters.
      type: dict
    instances:
      description: One entry per instance with its state, priorities, master, VIPs and counters.
      type: list
      elements: dict
vrrp_instances:
  description: Each instance in the role's C(vrrp_instances) shape, plus its live state.
  returned: when RV(running) is true
  type: list
  elements: dict
  contains:
    name:
      description: Instance name.
      type: str
      sample: VI_1
    interface:
      description: Interface.
      type: str
      sample: eth0
    vrid:
      description: Virtual router id.
      type: int
      sample: 51
    family:
      description: Address family, V(ipv4) or V(ipv6).
      type: str
    version:
      description: VRRP version.
      type: int
      sample: 2
    advert_int:
      description: Advertisement interval in seconds.
      type: float
      sample: 1
    vips:
      description: The virtual addresses (address/prefix).
      type: list
      elements: str
      sample: [198.51.100.100/24]
    priority:
      description: The configured (base) priority.
      type: int
      sample: 100
    unicast_peers:
      description: Unicast peers, empty with multicast.
      type: list
      elements: str
    state:
      description: V(INIT), V(BACKUP), V(MASTER) or V(FAULT).
      type: str
      sample: MASTER
    effective_priority:
      description: Priority after tracking weights and overrides.
      type: int
    master_ip:
      description: Address of the current master as seen by this node.
      type: str
    override:
      description: V(takeover), V(standby) or null.
      type: str
    announce:
      description:
        - "How the VIPs are announced: C(mode) V(garp), or V(bgp) (docs/bgp.md) with C(dev), C(lease_s) and
          C(announced), the host routes announced now."
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.linuxha.vrrp.plugins.module_utils.vrrp_control import (
    VrrpControlError,
    request,
    role_shape,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            control_socket=dict(type="path", default="/run/vrrp-agent/control.sock"),
            instances=dict(type="list", elements="str", default=[]),
            timeout=dict(type="float", default=5.0),
        ),
        supports_check_mode=True,
    )
    path = module.params["control_socket"]
    try:
        status = request("status", path=path, timeout=module.params["timeout"])
    except VrrpControlError as exc:
        if exc.not_running:
            module.exit_json(changed=False, running=False, msg=str(exc))
        module.fail_json(msg=str(exc))
    instances = status.get("instances") or []
    wanted = module.params["instances"]
    known = [inst.get("name") for inst in instances]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        module.fail_json(msg="no such instance: %s (known: %s)" % (", ".join(unknown), ", ".join(known)))
    if wanted:
        instances = [inst for inst in instances if inst.get("name") in wanted]
        status = dict(status, instances=instances)
    module.exit_json(changed=False, running=True, status=status,
                     vrrp_instances=[role_shape(inst) for inst in instances])


if __name__ == "__main__":
    main()
