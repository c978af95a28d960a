"""keepalived.conf parsing: the seed's files, keepalived's defaults, and every guard."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from vrrp_agent.config import check_against_host, load_config, parse_text
from vrrp_agent.errors import ConfigError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AGENT = Path(__file__).resolve().parents[2] / "files" / "agent"
INVALID = sorted((FIXTURES / "invalid").glob("*.conf"))


def test_seed_master_and_backup_load_with_keepalived_values():
    master = load_config(str(FIXTURES / "seed" / "keepalived-master.conf")).instances[0]
    backup = load_config(str(FIXTURES / "seed" / "keepalived-backup.conf")).instances[0]
    assert (master.name, master.interface, master.vrid) == ("VI_1", "eth0", 1)
    assert (master.priority, backup.priority) == (100, 10)
    assert (master.initial_state, backup.initial_state) == ("MASTER", "BACKUP")
    assert master.version == 2 and master.advert_int_cs == 100
    assert master.auth_type == "PASS" and master.auth_pass == b"1111\0\0\0\0"
    (vip,) = master.vips
    assert (vip.address, vip.prefixlen, vip.family) == ("192.168.100.254", 32, 4)


def _one(text: str):
    return parse_text(text, "t.conf").instances[0]


BASE = "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 5\n{body}}}\n"


def test_state_master_without_priority_means_owner_255():
    assert _one(BASE.format(body=" state MASTER\n")).priority == 255
    assert _one(BASE.format(body=" state BACKUP\n")).priority == 100
    assert _one(BASE.format(body=" state MASTER\n priority 120\n")).priority == 120


def test_v3_centiseconds_and_ipv6_forces_version_3():
    inst = _one(BASE.format(body=" version 3\n advert_int 0.01\n"))
    assert inst.advert_int_cs == 1
    v6 = _one(BASE.format(body=" virtual_ipaddress {\n  2001:db8::100/64\n }\n"))
    assert (v6.version, v6.family, v6.vips[0].prefixlen) == (3, 6, 64)


def test_vip_options_and_excluded():
    inst = _one(BASE.format(body=(
        " virtual_ipaddress {\n  198.51.100.100/24 dev eth1 label eth1:vip scope global brd +\n }\n"
        " virtual_ipaddress_excluded {\n  2001:db8::5\n }\n")))
    vip = inst.vips[0]
    assert (vip.dev, vip.label, vip.scope, vip.brd, vip.line) == ("eth1", "eth1:vip", "global", "+", 5)
    assert inst.excluded_vips[0].prefixlen == 128 and inst.family == 4


def test_global_defs_garp_and_instance_override():
    config = parse_text(
        "global_defs {\n router_id s1\n vrrp_garp_master_repeat 3\n vrrp_garp_master_refresh 60\n"
        " vrrp_startup_delay 2.5\n}\n" + BASE.format(body=" garp_master_repeat 7\n"), "t.conf")
    assert config.globals.router_id == "s1" and config.globals.startup_delay_s == 2.5
    garp = config.instances[0].garp
    assert (garp.master_repeat, garp.master_refresh_s, garp.master_delay_s) == (7, 60, 5.0)


def test_keepalived_warnings_are_kept_not_fatal():
    config = parse_text(BASE.format(body=(
        " state MASTER\n nopreempt\n authentication {\n  auth_type PASS\n  auth_pass 123456789\n }\n")),
        "t.conf")
    inst = config.instances[0]
    assert inst.nopreempt is False and inst.auth_pass == b"12345678"
    assert any(w.startswith("t.conf:5: nopreempt is ignored with state MASTER") for w in config.warnings)
    assert any(w.startswith("t.conf:8: auth_pass longer than 8") for w in config.warnings)


def test_include_with_glob_relative_to_the_including_file(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "b.conf").write_text(BASE.format(body="").replace("VI_1", "VI_B")
                                                .replace("id 5", "id 7"))
    (tmp_path / "conf.d" / "a.conf").write_text(BASE.format(body="").replace("VI_1", "VI_A"))
    top = tmp_path / "keepalived.conf"
    top.write_text("! top\ninclude conf.d/*.conf\n")
    config = load_config(str(top))
    assert [i.name for i in config.instances] == ["VI_A", "VI_B"]
    assert config.instances[1].file.endswith("conf.d/b.conf") and config.instances[1].line == 1
    (tmp_path / "conf.d" / "c.conf").write_text("vrrp_instance VI_C {\n bogus\n}\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(top))
    assert str(err.value).endswith("c.conf:2: unknown keyword 'bogus' in vrrp_instance")


def test_missing_top_file_names_the_file(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(str(tmp_path / "nope.conf"))
    assert "nope.conf" in str(err.value)


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_corpus_is_rejected_with_file_and_line(path):
    expect = path.read_text().splitlines()[0].split("expect:", 1)[1].strip()
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    text = str(err.value)
    assert text.startswith(str(path.parent)), text
    assert expect in text, f"{text!r} lacks {expect!r}"


def test_invalid_corpus_has_at_least_50_cases():
    assert len(INVALID) >= 50


def test_check_config_cli_prints_file_line_and_no_traceback():
    bad = INVALID[0]
    cp = subprocess.run([sys.executable, "-m", "vrrp_agent", "check-config", "--offline", "-f", str(bad)],
                        capture_output=True, text=True, env={"PYTHONPATH": str(AGENT)})
    assert cp.returncode == 1
    assert cp.stderr.startswith(f"{bad}:") and "Traceback" not in cp.stderr


def test_host_checks_interface_and_vip_equal_to_host_address():
    config = parse_text(BASE.format(body=" virtual_ipaddress {\n  198.51.100.11/24\n }\n"), "t.conf")
    errors = check_against_host(config, {"lo"}, {"198.51.100.11"}, set())
    texts = [str(e) for e in errors]
    assert texts[0] == "t.conf:1: vrrp_instance VI_1: interface 'eth0' does not exist on this host"
    assert texts[1].startswith("t.conf:5: virtual IP 198.51.100.11 is an address of this host")
    # a VIP the agent itself holds (recorded in its state dir) is not a host address
    assert check_against_host(config, {"eth0"}, {"198.51.100.11"}, {"198.51.100.11"}) == []
