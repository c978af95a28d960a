# Copyright: (c) 2026, linuxha.vrrp contributors
# MIT License (see LICENSE)
"""The vrrp role's cluster plan and status table filters (thin entry points).

Rules: this file only maps filter names to functions; the logic lives in
plugins/module_utils/vrrp_plan*.py (docs in vrrp_cluster_plan.yml and
vrrp_status_table.yml beside this file):
- ``vrrp_cluster_plan``: vrrp_plan (preferred master, states, preemption),
  vrrp_plan_priorities (priorities, tracking weights), vrrp_plan_checks
  (per-instance checks: unicast TTL, vMAC, routes/rules, strict mode),
  vrrp_plan_cluster (sync groups, cross-member checks), vrrp_plan_render
  (the rendered instances and scripts), vrrp_plan_keys (known keys, ranges).
- ``vrrp_status_table``: vrrp_plan_render.
"""

from __future__ import annotations

from ansible_collections.linuxha.vrrp.plugins.module_utils.vrrp_plan import vrrp_cluster_plan
from ansible_collections.linuxha.vrrp.plugins.module_utils.vrrp_plan_render import vrrp_status_table


class FilterModule(object):
    def filters(self):
        return {"vrrp_cluster_plan": vrrp_cluster_plan, "vrrp_status_table": vrrp_status_table}
