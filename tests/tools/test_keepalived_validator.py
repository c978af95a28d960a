"""roles/vrrp/files/keepalived-config-test against the real keepalived 2.2.x.

keepalived --config-test alone exits 6 when scripts run without
enable_script_security and is killed (143) as soon as a script runs as a
non-root user (keepalived #2587, #2617). The validator must accept what
keepalived runs and refuse what it would drop. It runs in a network namespace
of its own with an `eth0` (keepalived checks the interface exists).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = REPO / "roles" / "vrrp" / "files" / "keepalived-config-test"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("keepalived") or not shutil.which("ip"),
    reason="needs root, ip and keepalived (apt-get install keepalived iproute2)")


def conf(global_extra: str = "", script_extra: str = "") -> str:
    return f"""\
global_defs {{
    router_id validator-test
{global_extra}
}}
vrrp_script chk {{
    script "/bin/true"
    interval 1
{script_extra}
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {{
        198.51.100.100/24
    }}
    track_script {{
        chk
    }}
    notify_master "/bin/true master"
}}
"""


@pytest.fixture(scope="module")
def netns():
    name = f"vk{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for argv in (["link", "add", "eth0", "type", "veth", "peer", "name", "eth9"],
                     ["link", "set", "eth0", "up"], ["addr", "add", "198.51.100.5/24", "dev", "eth0"]):
            subprocess.run(["ip", "-n", name, *argv], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def validate(netns: str, tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    return subprocess.run(["ip", "netns", "exec", netns, str(VALIDATOR), str(path)],
                          capture_output=True, text=True, timeout=60)


def test_raw_config_test_fails_on_a_non_root_script_user(netns, tmp_path):
    # the defect the validator exists for: if keepalived ever fixes it, this says so
    path = tmp_path / "keepalived.conf"
    path.write_text(conf("    enable_script_security\n    script_user nobody"))
    cp = subprocess.run(["ip", "netns", "exec", netns, "keepalived", "--config-test", "-f", str(path)],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode != 0


@pytest.mark.parametrize("global_extra, script_extra", [
    ("    enable_script_security\n    script_user nobody", ""),
    ("    enable_script_security\n    script_user nobody", "    user nobody"),
    ("    enable_script_security\n    script_user root", ""),
])
def test_non_root_script_users_that_exist_are_accepted(netns, tmp_path, global_extra, script_extra):
    cp = validate(netns, tmp_path, conf(global_extra, script_extra))
    assert cp.returncode == 0, cp.stderr


def test_scripts_without_script_security_are_accepted_with_the_warning(netns, tmp_path):
    cp = validate(netns, tmp_path, conf())
    assert cp.returncode == 0, cp.stderr
    assert "SECURITY VIOLATION" in cp.stderr and "accepted" in cp.stderr


def test_a_script_user_that_does_not_exist_is_named_with_its_line(netns, tmp_path):
    text = conf("    enable_script_security\n    script_user nobody", "    user ghost9")
    cp = validate(netns, tmp_path, text)
    assert cp.returncode == 1
    assert f"{tmp_path / 'keepalived.conf'}:9: script user 'ghost9' does not exist" in cp.stderr


def test_default_script_user_missing_is_refused(netns, tmp_path):
    try:
        pwd.getpwnam("keepalived_script")
        pytest.skip("keepalived_script exists on this host")
    except KeyError:
        pass
    cp = validate(netns, tmp_path, conf("    enable_script_security"))
    assert cp.returncode == 1
    assert ":3: enable_script_security without script_user runs scripts as keepalived_script" in cp.stderr


def test_a_real_error_still_fails_with_keepalived_messages(netns, tmp_path):
    cp = validate(netns, tmp_path, conf().replace("interface eth0", "interface eth7"))
    assert cp.returncode == 1
    assert "keepalived --config-test exited" in cp.stderr and "eth7" in cp.stderr
