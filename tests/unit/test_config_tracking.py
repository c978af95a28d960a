"""Config: vrrp_script, track_*, notify, resource_group, vrrp_sync_group, script security."""

from __future__ import annotations

import pytest
from vrrp_agent.config import parse_text
from vrrp_agent.errors import ConfigError

CONF = """
global_defs {
    enable_script_security
    script_user nobody nogroup
}
vrrp_script chk_http {
    script "/usr/local/bin/check 'two words' --fast"
    interval 2
    timeout 5
    weight -20
    fall 3
    rise 2
    user daemon
    init_fail
}
vrrp_track_file tf {
    file /run/vrrp/prio
    weight 5
    init_file 0 overwrite
}
vrrp_track_process sshd {
    process sshd -D
    param_match initial
    quorum 1
    quorum_max 4
    weight 7
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 150
    track_script {
        chk_http
    }
    track_interface {
        eth1 weight -10
        eth2
    }
    track_file {
        tf weight 2 reverse
    }
    track_process {
        sshd
    }
    notify_master "/etc/ha/notify.sh master 'a b'" root
    notify /etc/ha/notify-all.sh
    resource_group {
        service httpd
        service data.mount
        script /etc/ha.d/resource.d/Filesystem /dev/sda1 /data ext4
        timeout 20
        stop_retries 2
    }
    virtual_ipaddress {
        198.51.100.100/24
    }
}
"""


def test_vrrp_script_fields_and_argv_split_like_keepalived():
    config = parse_text(CONF, "t.conf")
    (chk,) = config.scripts
    assert chk.argv == ("/usr/local/bin/check", "two words", "--fast")
    assert (chk.interval_s, chk.timeout_s, chk.weight, chk.fall, chk.rise) == (2, 5, -20, 3, 2)
    assert chk.user is not None and chk.user.user == "daemon" and chk.init_fail
    assert config.globals.enable_script_security
    assert config.globals.script_user.user == "nobody"
    assert config.globals.script_user.group == "nogroup"


def test_track_refs_resolve_weights_from_their_objects_unless_overridden():
    inst = parse_text(CONF, "t.conf").instances[0]
    got = {(r.kind, r.name): (r.weight, r.reverse) for r in inst.tracks}
    assert got == {("script", "chk_http"): (-20, False), ("interface", "eth1"): (-10, False),
                   ("interface", "eth2"): (0, False), ("file", "tf"): (2, True),
                   ("process", "sshd"): (7, False)}


def test_notify_hooks_keep_keepalived_arguments_and_user():
    inst = parse_text(CONF, "t.conf").instances[0]
    assert inst.notify.master.argv == ("/etc/ha/notify.sh", "master", "a b")
    assert inst.notify.master.user.user == "root"
    assert inst.notify.generic.argv == ("/etc/ha/notify-all.sh",)
    assert inst.notify.backup is None


def test_resource_group_extension():
    rg = parse_text(CONF, "t.conf").instances[0].resources
    assert [(r.kind, r.name) for r in rg.resources] == [
        ("service", "httpd.service"), ("service", "data.mount"),
        ("script", "/etc/ha.d/resource.d/Filesystem")]
    assert rg.resources[2].argv == ("/etc/ha.d/resource.d/Filesystem", "/dev/sda1", "/data", "ext4")
    assert (rg.timeout_s, rg.stop_retries) == (20, 2)


def test_default_timeout_is_the_interval_and_process_quorum():
    config = parse_text(CONF.replace("    timeout 5\n", ""), "t.conf")
    assert config.scripts[0].run_timeout_s == 2
    (proc,) = config.track_processes
    assert (proc.process, proc.params, proc.param_match, proc.quorum_max) == (
        "sshd", ("-D",), "initial", 4)


SYNC = """
vrrp_script chk {
    script /bin/true
    weight -30
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    track_script {
        chk
    }
    virtual_ipaddress {
        198.51.100.100/24
    }
}
vrrp_instance VI_2 {
    interface eth1
    virtual_router_id 2
    virtual_ipaddress {
        203.0.113.100/24
    }
}
vrrp_sync_group G {
    group { VI_1 VI_2 }
    track_interface {
        eth3
    }
    notify /bin/echo
}
"""


def test_sync_group_members_get_group_trackers_and_lose_weights_with_a_warning():
    config = parse_text(SYNC, "s.conf")
    vi1, vi2 = config.instances
    assert vi1.sync_group == vi2.sync_group == "G"
    assert [(r.kind, r.name, r.weight) for r in vi1.tracks] == [("script", "chk", 0),
                                                               ("interface", "eth3", 0)]
    assert [(r.kind, r.name) for r in vi2.tracks] == [("interface", "eth3")]
    assert any("s.conf:10: weight of script chk ignored" in w for w in config.warnings)
    assert config.sync_groups[0].notify.generic.argv == ("/bin/echo",)


def test_sync_group_tracking_weight_keeps_weights():
    text = SYNC.replace("    notify /bin/echo\n", "    notify /bin/echo\n    sync_group_tracking_weight\n")
    vi1 = parse_text(text, "s.conf").instances[0]
    assert vi1.tracks[0].weight == -30


@pytest.mark.parametrize("snippet,expect", [
    ("vrrp_script a {\n script /bin/true\n}\nvrrp_script a {\n script /bin/true\n}\n",
     ":4: vrrp_script a is defined twice"),
    ("vrrp_script a {\n script /bin/true\n rise 0\n}\n", ":3: rise 0 is out of range"),
    ("vrrp_script a {\n script /bin/true\n user a b c\n}\n", ":3: 'user' takes USER [GROUP]"),
])
def test_bad_tracking_input_names_its_line(snippet, expect):
    with pytest.raises(ConfigError) as err:
        parse_text(snippet, "b.conf")
    assert expect in str(err.value)


def test_resource_actions_follow_systemctl_and_heartbeat_conventions():
    from vrrp_agent.resources import action_argv

    httpd, mount, fs = parse_text(CONF, "t.conf").instances[0].resources.resources
    assert action_argv(httpd, "start") == ("systemctl", "start", "httpd.service")
    assert action_argv(mount, "stop") == ("systemctl", "stop", "data.mount")
    assert action_argv(fs, "stop") == ("/etc/ha.d/resource.d/Filesystem", "/dev/sda1", "/data", "ext4",
                                       "stop")


def test_track_file_needs_an_absolute_path():
    with pytest.raises(ConfigError) as err:
        parse_text("vrrp_track_file f {\n file prio\n}\n", "f.conf")
    assert str(err.value) == "f.conf:2: file 'prio' must be an absolute path"
