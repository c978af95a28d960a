"""vrrp-agent import-heartbeat: the seed's files (golden) and bad inputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SEED = Path(__file__).resolve().parents[1] / "fixtures" / "heartbeat" / "seed"
AGENT = Path(__file__).resolve().parents[2] / "files" / "agent"
HA_CF = """\
keepalive 1
deadtime 3
initdead 6
bcast eth0
auto_failback off
node n1 n2
"""


def cli(*args: str, cwd: Path = SEED) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(AGENT))
    return subprocess.run([sys.executable, "-m", "vrrp_agent", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=60)


def convert(*extra: str, cwd: Path = SEED, ha_cf="ha.cf.s1", haresources="haresources", authkeys="authkeys"):
    return cli("import-heartbeat", "--ha-cf", ha_cf, "--haresources", haresources, "--authkeys", authkeys,
               *extra, cwd=cwd)


@pytest.mark.parametrize("node", ["s1", "s2"])
def test_seed_files_convert_to_the_golden_config(node):
    result = convert("--node", f"{node}.domain", ha_cf=f"ha.cf.{node}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (SEED / f"expected-{node}.conf").read_text()


@pytest.mark.parametrize("node", ["s1", "s2"])
def test_seed_conversion_passes_check_config(node, tmp_path):
    out = tmp_path / "agent.conf"
    assert convert("--node", f"{node}.domain", "-o", str(out), ha_cf=f"ha.cf.{node}").returncode == 0
    check = cli("check-config", "--offline", "-f", str(out))
    assert check.returncode == 0, check.stderr
    assert "OK (1 instance)" in check.stdout


def test_seed_arithmetic_and_failback_are_explained():
    s1 = (SEED / "expected-s1.conf").read_text()
    s2 = (SEED / "expected-s2.conf").read_text()
    assert "3 x 3 + 0.96 = 9.96 s" in s1 and "vrrp_startup_delay 20" in s1
    assert "state MASTER" in s1 and "priority 100" in s1 and "nopreempt" not in s1  # nice_failback off
    assert "state BACKUP" in s2 and "priority 10\n" in s2 and "nopreempt" in s2  # nice_failback on
    assert "service httpd" in s1 and "160.133.100.254/24" in s1
    assert "crc is a checksum with no secret" in s1
    assert "ha.cf.s1:9 udpport: VRRP is IP protocol 112" in s1


def write(tmp_path: Path, ha_cf=HA_CF, haresources="n1 198.51.100.100/24/eth0 httpd\n",
          authkeys="auth 1\n1 crc\n"):
    (tmp_path / "ha.cf").write_text(ha_cf)
    (tmp_path / "haresources").write_text(haresources)
    (tmp_path / "authkeys").write_text(authkeys)
    return tmp_path


def run_in(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return convert("--node", "n2", *extra, cwd=tmp_path, ha_cf="ha.cf")


def test_missing_file_is_named_and_nothing_printed(tmp_path):
    write(tmp_path)
    (tmp_path / "authkeys").unlink()
    result = run_in(tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == "authkeys: cannot read: No such file or directory"


@pytest.mark.parametrize("ha_cf, message", [
    (HA_CF + "keepalvie 2\n", "ha.cf:7: unknown ha.cf directive 'keepalvie'"),
    (HA_CF + "crm respawn\n", "ha.cf:7: crm: crm/pacemaker clusters ignore haresources"),
    (HA_CF.replace("deadtime 3", "deadtime soon"), "ha.cf:2: 'soon' is not a time"),
    (HA_CF.replace("bcast eth0\n", ""), "ha.cf: no heartbeat medium"),
])
def test_bad_ha_cf_lines(tmp_path, ha_cf, message):
    write(tmp_path, ha_cf=ha_cf)
    result = run_in(tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(message), result.stderr


@pytest.mark.parametrize("authkeys, message", [
    ("auth 1\n1 sha256 secret\n", "authkeys:2: unknown authentication method 'sha256'"),
    ("auth 2\n1 crc\n", "authkeys:1: auth 2 selects a key that is not defined"),
    ("auth 1\n1 md5\n", "authkeys:2: md5 needs a secret key"),
    ("1 crc\n", "authkeys: no 'auth N' line selects a key"),
])
def test_bad_authkeys(tmp_path, authkeys, message):
    write(tmp_path, authkeys=authkeys)
    result = run_in(tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(message), result.stderr


@pytest.mark.parametrize("haresources, message", [
    ("n3 198.51.100.100 httpd\n", "haresources:1: preferred node 'n3' is not a node of ha.cf"),
    ("n1 httpd\n", "haresources:1: this resource group has no IP address"),
    ("n1 IPaddr::nope httpd\n", "haresources:1: 'nope' is not an IP address"),
])
def test_bad_haresources(tmp_path, haresources, message):
    write(tmp_path, haresources=haresources)
    result = run_in(tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(message), result.stderr


def test_md5_key_becomes_pass_with_a_warning(tmp_path):
    write(tmp_path, authkeys="auth 3\n3 md5 averylongsecret\n")
    result = run_in(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "auth_pass averylon\n" in result.stdout
    assert "md5 signs heartbeat packets with a key; VRRP has no keyed authentication" in result.stderr
    assert "truncated to its first 8 characters" in result.stderr


def test_no_failback_makes_every_node_backup_nopreempt(tmp_path):
    write(tmp_path)
    for node in ("n1", "n2"):
        text = convert("--node", node, cwd=tmp_path, ha_cf="ha.cf").stdout
        assert "state BACKUP" in text and "nopreempt" in text
    assert "priority 100" in convert("--node", "n1", cwd=tmp_path, ha_cf="ha.cf").stdout


def test_subsecond_deadtime_uses_vrrpv3_and_ucast_peers(tmp_path):
    ha_cf = HA_CF.replace("deadtime 3", "deadtime 900ms").replace("bcast eth0", "ucast eth1 198.51.100.2\n"
                                                                   "ucast eth1 198.51.100.1")
    resources = "n1 IPaddr2::198.51.100.100/24/eth1 Filesystem::/dev/sdb1::/data\n"
    write(tmp_path, ha_cf=ha_cf, haresources=resources)
    result = run_in(tmp_path, "--unicast-src", "198.51.100.2")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "version 3" in out and "advert_int 0.3" in out and "interface eth1" in out
    assert "unicast_src_ip 198.51.100.2" in out and "        198.51.100.1\n" in out
    assert "script /etc/ha.d/resource.d/Filesystem /dev/sdb1 /data" in out
    conf = tmp_path / "out.conf"
    conf.write_text(out)
    assert cli("check-config", "--offline", "-f", str(conf)).returncode == 0


def test_two_groups_give_two_instances_with_their_own_preferred_node(tmp_path):
    write(tmp_path, haresources="n1 198.51.100.100/24 httpd\nn2 198.51.100.101/24 \\\n  postgresql\n")
    out = run_in(tmp_path, "--vrid", "60").stdout
    assert "virtual_router_id 60" in out and "virtual_router_id 61" in out
    assert out.count("vrrp_instance") == 2 and "service postgresql" in out
