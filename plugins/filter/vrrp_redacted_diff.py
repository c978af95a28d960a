# Copyright: (c) 2026, linuxha.vrrp contributors
# MIT License (see LICENSE)
"""A unified diff of two keepalived.conf texts with every secret masked.

The role writes its configuration with ``diff: false`` (the template module's
own diff would print ``auth_pass``) and shows this diff instead under
``--diff``. Rules:
- The value of every ``auth_pass`` statement (the only secret keepalived.conf
  holds) becomes ``********`` on both sides, so a changed secret shows as a
  changed line and never as text.
- Any extra string passed in ``secrets`` (vault values) is masked wherever it
  appears.
"""

from __future__ import annotations

import difflib
import re

DOCUMENTATION = r"""
name: vrrp_redacted_diff
short_description: Unified diff of two configurations with secrets masked
version_added: 1.1.0
description:
  - Returns the lines of a unified diff between the current and the new configuration text,
    with the value of every C(auth_pass) statement and every string of O(secrets) replaced by
    C(********).
options:
  _input:
    description: The current configuration text (empty when the file does not exist yet).
    type: str
    required: true
  new:
    description: The new configuration text.
    type: str
    required: true
  path:
    description: The file's path, shown in the diff headers.
    type: str
    default: config
  secrets:
    description: Further strings to mask wherever they appear.
    type: list
    elements: str
    default: []
author: linuxha.vrrp contributors
"""

EXAMPLES = r"""
- name: Show a configuration change without its secrets
  ansible.builtin.debug:
    msg: "{{ old_text | linuxha.vrrp.vrrp_redacted_diff(new_text, '/etc/vrrp-agent/vrrp-agent.conf') }}"
"""

RETURN = r"""
_value:
  description: The diff's lines (empty when the texts are equal).
  type: list
  elements: str
"""

MASK = "********"
AUTH_PASS = re.compile(r"^(\s*auth_pass\s+)(\S+)(.*)$")


def _mask(text, secrets):
    lines = []
    for line in str(text or "").splitlines():
        match = AUTH_PASS.match(line)
        if match:
            line = match.group(1) + MASK + match.group(3)
        for secret in secrets:
            if secret:
                line = line.replace(secret, MASK)
        lines.append(line)
    return lines


def vrrp_redacted_diff(old, new, path="config", secrets=None):
    secrets = [str(s) for s in (secrets or []) if s]
    before, after = _mask(old, secrets), _mask(new, secrets)
    diff = list(difflib.unified_diff(before, after, "before: " + path, "after: " + path, lineterm=""))
    if not diff and str(old or "") != str(new or ""):
        diff = ["%s: a secret changed (auth_pass or a vault value); its text is not shown" % path]
    return diff


class FilterModule(object):
    def filters(self):
        return {"vrrp_redacted_diff": vrrp_redacted_diff}
