"""keepalived's signal dumps (dumps.py) from a real daemon on fake adapters: keepalived 2.2.7's
stats layout, its JSON v1 layout without the password, STATS_CLEAR, and safe writing."""

from __future__ import annotations

import json
import os
import re
import signal

import pytest
from fakehost import FakeLan, until
from test_daemon_fake import Agent, instance, run
from vrrp_agent import dumps
from vrrp_agent.router import BACKUP, MASTER

AUTH = "    authentication {\n        auth_type PASS\n        auth_pass s3cretpw\n    }\n"


@pytest.fixture
def lan() -> FakeLan:
    return FakeLan()


@pytest.fixture(autouse=True)
def tmpdir_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))


def v2(priority, extra=""):
    return instance(priority=priority, advert_int=1, extra=extra).replace("version 3", "version 2")


def test_the_four_signals_are_keepalived_s():
    handlers = dumps.Dumper(lambda: [], lambda: 0.0, lambda: "", None).handlers()
    assert set(handlers) == {signal.SIGUSR1, signal.SIGUSR2, signal.SIGRTMIN + 2, signal.SIGRTMAX - 1}


def test_stats_json_and_data_dumps_of_a_master_and_a_backup(lan, tmp_path):
    extra = AUTH + "    track_interface {\n        eth0\n    }\n    notify_master \"/bin/true master\"\n"
    a1 = Agent(lan.host("n1", "198.51.100.1"), v2(150, extra), tmp_path)
    a2 = Agent(lan.host("n2", "198.51.100.2"), v2(100, AUTH), tmp_path)
    backup = []

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        await until(lambda: a2.status()["counters"]["adverts_received"] >= 3)
        a1.daemon.dumper.stats()
        a1.daemon.dumper.json()
        a1.daemon.dumper.data()
        a2.daemon.dumper.json()
        backup.extend(json.loads((tmp_path / "keepalived.json").read_text()))
        a1.daemon.dumper.json()
        await a1.stop()
        await a2.stop()

    run(scenario)
    stats = (tmp_path / "keepalived.stats").read_text()
    shape = re.sub(r": \d+\n", ": N\n", stats)
    assert shape == (
        "VRRP Instance: VI_1\n  Advertisements:\n    Received: N\n    Sent: N\n  Became master: N\n"
        "  Released master: N\n  Packet Errors:\n    Length: N\n    TTL: N\n    Invalid Type: N\n"
        "    Advertisement Interval: N\n    Address List: N\n  Authentication Errors:\n"
        "    Invalid Type: N\n    Type Mismatch: N\n    Failure: N\n  Priority Zero:\n"
        "    Received: N\n    Sent: N\n"), "keepalived 2.2.7's vrrp_print_stats, line for line"
    assert "  Became master: 1\n" in stats and "  Released master: 0\n" in stats
    doc = json.loads((tmp_path / "keepalived.json").read_text())
    assert isinstance(doc, list) and len(doc) == 1
    data, counted = doc[0]["data"], doc[0]["stats"]
    assert (data["iname"], data["state"], data["wantstate"], data["vrid"]) == ("VI_1", 2, 2, 51)
    assert (data["base_priority"], data["effective_priority"], data["version"]) == (150, 150, 2)
    assert data["ifp_ifname"] == "eth0" and data["vipset"] is True and data["adver_int"] == 1.0
    assert data["vips"] == ["198.51.100.100/24 dev eth0 scope global"]
    assert data["track_ifp"] == ["eth0"] and data["script_master"] == "/bin/true master"
    assert data["auth_type"] == 1 and "auth_data" not in data, "never the password"
    assert "s3cretpw" not in (tmp_path / "keepalived.json").read_text()
    assert set(counted) == set(dumps.STATS_FIELDS) and counted["become_master"] == 1
    assert counted["advert_sent"] >= 3
    assert stat_mode(tmp_path / "keepalived.json") == 0o600
    (other,) = backup
    seen = other["data"]
    assert (seen["state"], seen["master_priority"], seen["vipset"]) == (1, 150, False)
    assert other["stats"]["advert_rcvd"] >= 3 and other["stats"]["become_master"] == 0
    table = (tmp_path / "keepalived.data").read_text()
    assert "VI_1" in table and "MASTER" in table and "s3cretpw" not in table


def stat_mode(path) -> int:
    return os.stat(path).st_mode & 0o777


def test_stats_clear_starts_the_file_s_counts_again(lan, tmp_path):
    a1 = Agent(lan.host("n1", "198.51.100.1"), v2(255), tmp_path)

    async def scenario():
        await a1.start()
        await until(lambda: a1.status()["counters"]["adverts_sent"] >= 3)
        a1.daemon.dumper.stats_clear()
        first = (tmp_path / "keepalived.stats").read_text()
        a1.daemon.dumper.stats()
        second = (tmp_path / "keepalived.stats").read_text()
        assert "  Became master: 1\n" in first and "  Became master: 0\n" in second
        assert a1.status()["counters"]["became_master"] == 1, "status and metrics stay monotonic"
        await a1.stop()

    run(scenario)


def test_a_planted_symlink_is_replaced_never_followed(tmp_path):
    target = tmp_path / "precious"
    target.write_text("keep me")
    (tmp_path / "keepalived.stats").symlink_to(target)
    path = dumps.write_file("keepalived.stats", "VRRP Instance: x\n")
    assert path == str(tmp_path / "keepalived.stats")
    assert target.read_text() == "keep me" and not os.path.islink(path)
    with open(path) as fh:
        assert fh.read() == "VRRP Instance: x\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".new")] == []
