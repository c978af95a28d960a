"""The role's small filters: vrrp_redacted_diff (no secret in --diff) and
vrrp_systemd_units (the units' state without service_facts)."""

from __future__ import annotations

from ansible_collections.linuxha.vrrp.plugins.filter.vrrp_redacted_diff import vrrp_redacted_diff
from ansible_collections.linuxha.vrrp.plugins.filter.vrrp_systemd_units import vrrp_systemd_units

OLD = "vrrp_instance VI_1 {\n    authentication {\n        auth_pass s3cr3t\n    }\n    priority 100\n}\n"


def test_a_diff_shows_the_change_and_masks_auth_pass_on_both_sides():
    new = OLD.replace("priority 100", "priority 90").replace("s3cr3t", "n3wpass")
    lines = vrrp_redacted_diff(OLD, new, "/etc/vrrp-agent/vrrp-agent.conf")
    text = "\n".join(lines)
    assert "-    priority 100" in text and "+    priority 90" in text
    assert "s3cr3t" not in text and "n3wpass" not in text
    assert lines[0] == "--- before: /etc/vrrp-agent/vrrp-agent.conf"


def test_only_a_changed_secret_is_reported_without_its_text():
    lines = vrrp_redacted_diff(OLD, OLD.replace("s3cr3t", "n3wpass"), "/x")
    assert lines == ["/x: a secret changed (auth_pass or a vault value); its text is not shown"]


def test_equal_texts_give_no_diff_and_extra_secrets_are_masked():
    assert vrrp_redacted_diff(OLD, OLD) == []
    text = "\n".join(vrrp_redacted_diff("", "notify_master /bin/hook token=Vault42\n", secrets=["Vault42"]))
    assert "Vault42" not in text and "token=********" in text


SHOW = """Id=vrrp-agent.service
LoadState=loaded
ActiveState=active
UnitFileState=enabled

Id=keepalived.service
LoadState=not-found
ActiveState=inactive
UnitFileState=
"""


def test_systemctl_show_blocks_become_loaded_and_active():
    assert vrrp_systemd_units(SHOW) == {
        "vrrp-agent.service": {"loaded": True, "active": True, "enabled": True},
        "keepalived.service": {"loaded": False, "active": False, "enabled": False},
    }
    assert vrrp_systemd_units("") == {}
