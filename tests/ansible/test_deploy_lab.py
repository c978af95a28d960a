"""site.yml, status.yml, switchover.yml and the modules on real systemd hosts.

One two-node cluster (the seed's pair: s1 master priority 100, s2 backup 10,
PASS auth) and a client, in podman containers; the tests run in file order
and each leaves the cluster as it found it (s1 master, no override).
The auth_pass is a string found nowhere else, so a grep of every output
(-vvv, --diff, check mode, the status table, module results) proves it leaks
nowhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from pathlib import Path

import pytest
from podlab import PodLab, playbook, seed_group_vars, unavailable_reason

VIP = "198.51.100.100"
SECRET = "Xq7Zp2Kw"
GROUP_VARS = seed_group_vars("198.51.100.100/24", SECRET)

pytestmark = pytest.mark.skipif(bool(unavailable_reason()), reason=unavailable_reason() or "")


def wait_until(predicate, timeout=20.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    lab = PodLab({"s1": 11, "s2": 12, "client": 50})
    lab.start()
    try:
        lab.inv_dir = tmp_path_factory.mktemp("inventory")
        lab.inv = lab.inventory(lab.inv_dir, ["s1", "s2"], GROUP_VARS)
        lab.check_run = playbook(lab.inv, "site.yml", "--check", "--diff", "-vvv", check=False)
        lab.undeployed_after_check = lab.exec("s1", ["test", "-e", "/etc/systemd/system/vrrp-agent.service"],
                                              check=False).returncode != 0
        lab.first_run = playbook(lab.inv, "site.yml", "--diff", "-vvv")
        yield lab
    finally:
        lab.close()


@contextlib.contextmanager
def host_vars(cluster, host: str, extra: str):
    """Run with `extra` ("key: value") added to HOST's inventory line, then restore the
    inventory and converge again (the cluster as it was for the next test)."""
    hosts = Path(cluster.inv)
    original = hosts.read_text()
    line = "%s: {ansible_host: %s" % (host, cluster.container(host))
    hosts.write_text(original.replace(line + "}", f"{line}, {extra}}}"))
    try:
        yield
    finally:
        hosts.write_text(original)
        playbook(cluster.inv, "site.yml")


def recap(output: str) -> dict:
    pattern = r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)"
    return {m.group(1): {"changed": int(m.group(2)), "failed": int(m.group(3))}
            for m in re.finditer(pattern, output, re.M)}


def config_digest(lab: PodLab, host: str) -> str:
    text = lab.exec(host, ["cat", "/etc/vrrp-agent/vrrp-agent.conf"]).stdout
    return hashlib.sha256(text.encode()).hexdigest()


def main_pid(lab: PodLab, host: str) -> str:
    return lab.exec(host, ["systemctl", "show", "-p", "MainPID", "--value", "vrrp-agent"]).stdout.strip()


def test_check_mode_on_an_undeployed_cluster_reports_and_changes_nothing(cluster):
    out = cluster.check_run
    assert out.returncode == 0, out.stdout[-3000:]
    counts = recap(out.stdout)
    assert counts["s1"]["failed"] == 0 and counts["s1"]["changed"] > 0, counts
    assert cluster.undeployed_after_check  # the unit was not installed by the check run
    assert "+        198.51.100.100/24" in out.stdout  # the diff shows the new configuration
    assert "auth_pass ********" in out.stdout


def test_no_secret_in_verbose_diff_check_or_first_run_output(cluster):
    for run in (cluster.check_run, cluster.first_run):
        assert SECRET not in run.stdout + run.stderr
    assert SECRET in cluster.exec("s1", ["cat", "/etc/vrrp-agent/vrrp-agent.conf"]).stdout  # it was deployed


def test_converge_gives_the_vip_to_the_preferred_master_only(cluster):
    assert wait_until(lambda: cluster.owners(VIP) == ["s1"]), cluster.owners(VIP)
    assert cluster.answerer("client", VIP) == "s1"


def test_agent_runs_as_its_own_user_with_a_private_config(cluster):
    for host in ("s1", "s2"):
        user = cluster.exec(host, ["ps", "-o", "user=", "-p", main_pid(cluster, host)]).stdout.strip()
        assert user == "vrrp-agent"
        mode = cluster.exec(host, ["stat", "-c", "%a %U", "/etc/vrrp-agent/vrrp-agent.conf"]).stdout.split()
        assert mode == ["600", "vrrp-agent"]  # it holds auth_pass


def test_seed_pair_states_and_priorities_are_derived(cluster):
    s1 = cluster.exec("s1", ["cat", "/etc/vrrp-agent/vrrp-agent.conf"]).stdout
    s2 = cluster.exec("s2", ["cat", "/etc/vrrp-agent/vrrp-agent.conf"]).stdout
    assert "state MASTER" in s1 and "priority 100" in s1
    assert "state BACKUP" in s2 and "priority 10\n" in s2


def test_second_run_changes_nothing(cluster):
    out = playbook(cluster.inv, "site.yml").stdout
    assert recap(out) == {"s1": {"changed": 0, "failed": 0}, "s2": {"changed": 0, "failed": 0}}, out[-2000:]


def test_check_mode_on_a_deployed_cluster_reports_the_change_and_changes_nothing(cluster):
    before = {h: config_digest(cluster, h) for h in ("s1", "s2")}
    vars_path = cluster.inv_dir / "group_vars" / "lab_cluster.yml"
    vars_path.write_text(GROUP_VARS.replace("vips: [198.51.100.100/24]",
                                            "vips: [198.51.100.100/24, 198.51.100.101/24]"))
    try:
        out = playbook(cluster.inv, "site.yml", "--check", "--diff", "-vvv", check=False)
    finally:
        vars_path.write_text(GROUP_VARS)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "+        198.51.100.101/24" in out.stdout
    assert SECRET not in out.stdout + out.stderr
    assert {h: config_digest(cluster, h) for h in ("s1", "s2")} == before
    assert cluster.owners("198.51.100.101") == []


def test_a_changed_secret_shows_as_masked_in_the_diff(cluster):
    vars_path = cluster.inv_dir / "group_vars" / "lab_cluster.yml"
    vars_path.write_text(GROUP_VARS.replace(SECRET, "Nw4Rt8Yv"))
    try:
        out = playbook(cluster.inv, "site.yml", "--check", "--diff", check=False)
    finally:
        vars_path.write_text(GROUP_VARS)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "a secret changed" in out.stdout
    assert SECRET not in out.stdout and "Nw4Rt8Yv" not in out.stdout


def test_status_playbook_prints_the_cluster_table(cluster):
    out = playbook(cluster.inv, "status.yml", "-vvv").stdout
    assert SECRET not in out  # neither the table nor the module results hold it
    assert re.search(r"lab_cluster\s+VI_1\s+1\s+eth0\s+s1 \(100\)\s+s2 \(10\) BACKUP", out), out[-2000:]
    assert "every instance has exactly one master" in out


def test_switchover_to_the_backup_and_back(cluster):
    playbook(cluster.inv, "switchover.yml", "-e", "vrrp_switchover_to=s2")
    assert wait_until(lambda: cluster.owners(VIP) == ["s2"]), cluster.owners(VIP)
    assert cluster.answerer("client", VIP) == "s2"
    playbook(cluster.inv, "switchover.yml", "-e", "vrrp_switchover_to=s1")
    assert wait_until(lambda: cluster.owners(VIP) == ["s1"]), cluster.owners(VIP)
    playbook(cluster.inv, "maintenance_release.yml", "-e", "vrrp_node=s1")
    status = cluster.exec("s1", ["vrrp-agent", "status", "--json"]).stdout
    assert '"override": null' in status


def test_switchover_leaves_another_members_standby_alone(cluster):
    playbook(cluster.inv, "maintenance_standby.yml", "-e", "vrrp_node=s2")
    try:
        out = playbook(cluster.inv, "switchover.yml", "-e", "vrrp_switchover_to=s1", "-vvv").stdout
        assert SECRET not in out
        status = cluster.exec("s2", ["vrrp-agent", "status", "--json"]).stdout
        assert '"override": "standby"' in status
        assert cluster.owners(VIP) == ["s1"]
    finally:
        playbook(cluster.inv, "maintenance_release.yml", "-e", "vrrp_node=s2")
        playbook(cluster.inv, "maintenance_release.yml", "-e", "vrrp_node=s1")
    assert '"override": null' in cluster.exec("s2", ["vrrp-agent", "status", "--json"]).stdout


def test_maintenance_playbooks_without_a_node_fail_and_say_why(cluster):
    for name in ("maintenance_standby.yml", "maintenance_release.yml"):
        out = playbook(cluster.inv, name, check=False)
        assert out.returncode != 0 and "set the node with -e vrrp_node=HOST" in out.stdout, out.stdout[-2000:]
        out = playbook(cluster.inv, name, "-e", "vrrp_node=s9", check=False)
        assert out.returncode != 0 and "vrrp_node=s9 is not a host of this inventory" in out.stdout
    assert cluster.owners(VIP) == ["s1"]


def test_tagged_runs_touch_only_their_part(cluster):
    out = playbook(cluster.inv, "site.yml", "--tags", "config").stdout
    assert recap(out)["s1"] == {"changed": 0, "failed": 0}, out[-2000:]
    assert "Install the agent's code" not in out and "Start and enable vrrp-agent" not in out
    assert "validated by the engine first, to /etc/vrrp-agent/vrrp-agent.conf" in out


def test_switchover_to_an_unknown_host_or_instance_changes_nothing(cluster):
    out = playbook(cluster.inv, "switchover.yml", "-e", "vrrp_switchover_to=s9", check=False)
    assert out.returncode != 0 and "vrrp_switchover_to=s9 is not a host of this play" in out.stdout
    out = playbook(cluster.inv, "switchover.yml", "-e", "vrrp_switchover_to=s2",
                   "-e", '{"vrrp_switchover_instances": ["VI_9"]}', check=False)
    assert out.returncode != 0 and "no such instance: VI_9 (known: VI_1)" in out.stdout
    assert cluster.owners(VIP) == ["s1"]


def test_stopping_the_master_moves_the_vip_and_it_comes_back(cluster):
    cluster.exec("s1", ["systemctl", "stop", "vrrp-agent"])
    assert wait_until(lambda: cluster.owners(VIP) == ["s2"]), cluster.owners(VIP)
    assert cluster.answerer("client", VIP) == "s2"
    cluster.exec("s1", ["systemctl", "start", "vrrp-agent"])
    assert wait_until(lambda: cluster.owners(VIP) == ["s1"]), cluster.owners(VIP)


def test_config_change_reloads_without_dropping_the_vip(cluster):
    pid_before = main_pid(cluster, "s1")
    vars_path = cluster.inv_dir / "group_vars" / "lab_cluster.yml"
    two_vips = "vips: [198.51.100.100/24, 198.51.100.101/24]"
    vars_path.write_text(GROUP_VARS.replace("vips: [198.51.100.100/24]", two_vips))
    try:
        out = playbook(cluster.inv, "site.yml").stdout
        assert "RUNNING HANDLER [linuxha.vrrp.vrrp : Reload vrrp-agent]" in out
        assert main_pid(cluster, "s1") == pid_before  # reloaded, not restarted
        assert wait_until(lambda: cluster.owners("198.51.100.101") == ["s1"])
        assert cluster.owners(VIP) == ["s1"]
        journal = cluster.exec("s1", ["journalctl", "-u", "vrrp-agent", "--no-pager"]).stdout
        assert "MASTER -> BACKUP" not in journal.split("Reloading")[-1]
    finally:
        vars_path.write_text(GROUP_VARS)
        playbook(cluster.inv, "site.yml")


def test_invalid_cluster_fails_before_any_host_changes(cluster):
    before = {h: config_digest(cluster, h) for h in ("s1", "s2")}
    vars_path = cluster.inv_dir / "group_vars" / "lab_cluster.yml"
    bad = GROUP_VARS.replace(f'auth_pass: "{SECRET}"', 'auth_pass: "123456789"')
    bad = bad.replace("advert_int: 1", "advert_int: 1.5")
    vars_path.write_text(bad + "  - {name: VI_2, interface: eth0, vrid: 1, vips: [198.51.100.11/24]}\n")
    try:
        out = playbook(cluster.inv, "site.yml", check=False)
    finally:
        vars_path.write_text(GROUP_VARS)
    assert out.returncode != 0
    for message in ("s1: vrrp_instances[VI_1].auth_pass must be a string of 1..8 characters",
                    "s1: vrrp_instances[VI_1].advert_int must be whole seconds 1..255 with VRRPv2",
                    "s2: vrrp_instances[VI_2].vips: 198.51.100.11 is an address of host s1"):
        # every error is reported, each naming the host and the field
        assert message in out.stdout, out.stdout[-3000:]
    after = {h: config_digest(cluster, h) for h in ("s1", "s2")}
    assert after == before


def test_a_node_migrates_to_keepalived_and_back(cluster):
    with host_vars(cluster, "s2", "vrrp_engine: keepalived"):
        playbook(cluster.inv, "site.yml")
        assert cluster.exec("s2", ["systemctl", "is-active", "keepalived"]).stdout.strip() == "active"
        agent = cluster.exec("s2", ["systemctl", "is-active", "vrrp-agent"], check=False)
        assert agent.stdout.strip() != "active"
        assert wait_until(lambda: cluster.owners(VIP) == ["s1"]), cluster.owners(VIP)
        out = playbook(cluster.inv, "status.yml").stdout
        assert "s2: runs keepalived" in out
        cluster.exec("s1", ["systemctl", "stop", "vrrp-agent"])  # the keepalived backup takes over
        assert wait_until(lambda: cluster.owners(VIP) == ["s2"]), cluster.owners(VIP)
        cluster.exec("s1", ["systemctl", "start", "vrrp-agent"])
        assert wait_until(lambda: cluster.owners(VIP) == ["s1"]), cluster.owners(VIP)
    assert cluster.exec("s2", ["systemctl", "is-active", "vrrp-agent"]).stdout.strip() == "active"
    assert wait_until(lambda: cluster.owners(VIP) == ["s1"]), cluster.owners(VIP)


DROP_ALL_BUT_LOOPBACK = """\
table inet filter {
    chain input {
        type filter hook input priority filter; policy drop;
        iif lo accept
        ct state established,related accept
    }
}
"""


def test_nftables_rule_lets_vrrp_through_a_drop_policy(cluster):
    cluster.exec("s2", ["sh", "-c", f"printf '%s' '{DROP_ALL_BUT_LOOPBACK}' > /tmp/drop.nft "
                                    "&& nft -f /tmp/drop.nft"])
    try:
        # the backup no longer hears the master's adverts: it takes the VIP too
        assert wait_until(lambda: cluster.owners(VIP) == ["s1", "s2"]), cluster.owners(VIP)
        with host_vars(cluster, "s2", "vrrp_firewall: nftables"):
            out = playbook(cluster.inv, "site.yml").stdout
            assert recap(out)["s2"]["changed"] > 0, out[-2000:]
            assert wait_until(lambda: cluster.owners(VIP) == ["s1"]), cluster.owners(VIP)
            chain = cluster.exec("s2", ["nft", "list", "chain", "inet", "filter", "input"]).stdout
            assert re.search(r'meta l4proto (112|vrrp) accept comment "linuxha.vrrp"', chain), chain
            assert chain.index('comment "linuxha.vrrp"') < chain.index("iif")
            nftables_conf = cluster.exec("s2", ["cat", "/etc/nftables.conf"]).stdout
            assert 'include "/etc/nftables.d/*.nft"' in nftables_conf
            out = playbook(cluster.inv, "site.yml").stdout
            assert recap(out)["s2"] == {"changed": 0, "failed": 0}, out[-2000:]
    finally:
        cluster.exec("s2", ["nft", "flush", "ruleset"], check=False)
    assert wait_until(lambda: cluster.owners(VIP) == ["s1"]), cluster.owners(VIP)


def test_absent_moves_the_vip_away_then_removes_everything(cluster):
    with host_vars(cluster, "s1", "vrrp_state: absent"):
        out = playbook(cluster.inv, "site.yml").stdout
        assert cluster.owners(VIP) == ["s2"], out[-2000:]  # handed over before the stop
        journal = cluster.exec("s2", ["journalctl", "-u", "vrrp-agent", "--no-pager"]).stdout
        assert "BACKUP -> MASTER" in journal
        for path in ("/etc/systemd/system/vrrp-agent.service", "/etc/vrrp-agent", "/usr/lib/vrrp-agent",
                     "/usr/sbin/vrrp-agent"):
            assert cluster.exec("s1", ["test", "-e", path], check=False).returncode != 0, path
        assert cluster.exec("s1", ["getent", "passwd", "vrrp-agent"], check=False).returncode != 0
        out = playbook(cluster.inv, "site.yml").stdout  # absent again: nothing left to do
        assert recap(out)["s1"]["changed"] == 0, out[-2000:]
    assert wait_until(lambda: cluster.owners(VIP) == ["s1"]), cluster.owners(VIP)
