"""The command line and the control socket, in-process, against the real daemon on fakes;
and the script trackers with real processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
from pathlib import Path

import pytest
from fakehost import FakeLan, until
from test_daemon_fake import Agent, instance, run
from vrrp_agent import cli, control
from vrrp_agent.control import ControlError
from vrrp_agent.router import BACKUP, FAULT, MASTER

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_check_config_offline_and_against_this_host(tmp_path, capsys):
    conf = tmp_path / "agent.conf"
    conf.write_text("vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 5\n"
                    "    debug\n    virtual_ipaddress {\n        198.51.100.10/24\n    }\n}\n")
    assert cli.main(["check-config", "-f", str(conf), "--offline"]) == 0
    assert cli.main(["check-config", "-f", str(conf), "--state-dir", str(tmp_path)]) == 0
    conf.write_text(conf.read_text().replace("interface lo", "interface nosuch0"))
    assert cli.main(["check-config", "-f", str(conf), "--state-dir", str(tmp_path)]) == 1
    conf.write_text("vrrp_instance {\n")
    assert cli.main(["check-config", "-f", str(conf), "--offline"]) == 1
    out, err = capsys.readouterr()
    assert out.count(": OK (1 instance)") == 2
    assert "interface 'nosuch0' does not exist on this host" in err
    assert f"{conf}:1:" in err and "Traceback" not in err


def test_import_heartbeat_writes_the_seed_conversion(tmp_path, capsys):
    seed = FIXTURES / "heartbeat" / "seed"
    out = tmp_path / "s1.conf"
    assert cli.main(["import-heartbeat", "--ha-cf", str(seed / "ha.cf.s1"), "--haresources",
                     str(seed / "haresources"), "--authkeys", str(seed / "authkeys"), "--node", "s1.domain",
                     "--prefix-len", "24", "-o", str(out)]) == 0
    assert "vrrp_instance" in out.read_text()
    assert cli.main(["import-heartbeat", "--ha-cf", str(seed / "ha.cf.s1"), "--haresources",
                     str(seed / "haresources"), "--authkeys", str(seed / "authkeys"),
                     "--vrid", "300"]) == 1
    assert "--vrid 300 is not 1..255" in capsys.readouterr().err


def test_control_client_errors_are_sentences(tmp_path, capsys):
    missing = str(tmp_path / "none.sock")
    with pytest.raises(ControlError):
        control.request(missing, "status")
    assert cli.main(["status", "--control-socket", missing]) == 1
    assert "vrrp-agent:" in capsys.readouterr().err


def test_cli_run_in_process_until_sigterm(tmp_path, monkeypatch, capsys):
    """`vrrp-agent run` itself: validation, logging, the daemon, SIGTERM -> exit 0."""
    from vrrp_agent import daemon as daemon_module
    from vrrp_agent.validation import HostFacts

    host = FakeLan().host("n1", "198.51.100.1")
    real = daemon_module.Daemon
    monkeypatch.setattr(cli, "gather_host_facts", lambda state_dir: HostFacts({"eth0"}, {host.ip4}, set()))
    monkeypatch.setattr(daemon_module, "Daemon",
                        lambda *a, **kw: real(*a, **dict(kw, adapters=host.adapters())))
    conf = tmp_path / "agent.conf"
    conf.write_text(instance(priority=255))
    sock = str(tmp_path / "c.sock")
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        code = cli.main(["run", "-f", str(conf), "--state-dir", str(tmp_path / "state"),
                         "--control-socket", sock, "--log-level", "warning"])
    finally:
        timer.cancel()
    assert code == 0
    assert not host.has("198.51.100.100")  # released on the way out
    conf.write_text(instance(vips=("198.51.100.1/24",)))
    assert cli.main(["run", "-f", str(conf), "--state-dir", str(tmp_path / "state")]) == 1
    assert "is an address of this host" in capsys.readouterr().err
    assert cli.main(["run", "-f", str(conf), "--metrics-listen", "nonsense"]) == 1


def test_events_stream_and_raw_protocol_errors(tmp_path, capsys):
    lan = FakeLan()
    a1 = Agent(lan.host("n1", "198.51.100.1"), instance(priority=150), tmp_path, control=True)

    def raw(line: bytes) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(a1.socket)
            s.sendall(line)
            return json.loads(s.makefile("rb").readline())

    async def scenario():
        loop = asyncio.get_running_loop()
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        with loop.real_time():
            events = loop.run_in_executor(None, cli.main, ["events", "--backlog", "10",
                                                           "--control-socket", a1.socket])
            as_json = loop.run_in_executor(None, cli.main, ["events", "--json",
                                                            "--control-socket", a1.socket])
            replies = [await loop.run_in_executor(None, raw, line) for line in (
                b"not json\n", b'{"command": "nope"}\n', b'{"command": "status", "args": 3}\n',
                b'{"command": "takeover", "args": {"instances": "VI_1"}}\n',
                b'{"command": "events", "args": {"backlog": -1}}\n')]
            await asyncio.sleep(0.2)
            await a1.stop()  # closes the streams: the clients return
            assert await events == 0 and await as_json == 0
        assert all(not r["ok"] and r["error"] for r in replies), replies

    run(scenario)
    out = capsys.readouterr().out
    assert "BACKUP -> MASTER" in out or "MASTER" in out
    assert '"type": "transition"' in out


def test_a_failing_vrrp_script_faults_and_a_weighted_one_moves_the_priority(tmp_path):
    flag = tmp_path / "flag"
    flag.write_text("0")
    check = tmp_path / "check.sh"
    check.write_text(f"#!/bin/sh\nexit $(cat {flag})\n")
    check.chmod(0o755)
    scripts = (f"vrrp_script chk {{\n    script \"{check}\"\n    interval 0.2\n}}\n"
               f"vrrp_script unused {{\n    script \"{check}\"\n}}\n"
               f"vrrp_script gone {{\n    script \"{tmp_path}/missing.sh\"\n    interval 0.2\n"
               "    weight -10\n}\n")
    extra = ("    track_script {\n        chk\n        gone\n    }\n"
             "    track_interface {\n        eth0\n    }\n")
    lan = FakeLan()
    a1 = Agent(lan.host("n1", "198.51.100.1"), scripts + instance(priority=150, extra=extra), tmp_path)

    async def scenario():
        loop = asyncio.get_running_loop()
        with loop.real_time():
            await a1.start()
            await until(lambda: a1.state() == MASTER, timeout=20)
            await until(lambda: a1.status()["effective_priority"] == 140, timeout=20)  # gone fails
            flag.write_text("1")
            await until(lambda: a1.state() == FAULT, timeout=20)
            assert "script chk" in a1.status()["tracking"]["faults"]["tracking"]
            flag.write_text("0")
            await until(lambda: a1.state() == MASTER, timeout=20)
            a1.host.set_link("eth0", False)  # tracked and the instance's own link
            await until(lambda: a1.state() == FAULT, timeout=20)
            a1.host.set_link("eth0", True)
            await until(lambda: a1.state() == MASTER, timeout=20)
            a1.conf.write_text(scripts + instance(priority=150))  # trackers removed on reload
            await a1.daemon.reload()
            assert a1.daemon.tracking.script_tasks == {}
            await until(lambda: a1.status()["effective_priority"] == 150, timeout=20)
            await a1.stop()

    run(scenario)


def test_a_tracked_process_is_counted(tmp_path):
    import shutil

    name = f"vu{os.getpid()}"[:15]  # a comm nobody else runs
    binary = tmp_path / name
    shutil.copy("/bin/sleep", binary)
    procs = f"vrrp_track_process p {{\n    process {name}\n    weight 10\n}}\n"
    extra = "    track_process {\n        p\n    }\n"
    lan = FakeLan()
    a1 = Agent(lan.host("n1", "198.51.100.1"), procs + instance(priority=100, extra=extra), tmp_path)

    async def scenario():
        loop = asyncio.get_running_loop()
        with loop.real_time():
            await a1.start()
            proc = await asyncio.create_subprocess_exec(str(binary), "30")
            try:
                await until(lambda: a1.status()["effective_priority"] == 110, timeout=20)
            finally:
                proc.kill()
                await proc.wait()
            await until(lambda: a1.status()["effective_priority"] == 100, timeout=20)
            assert a1.state() in (BACKUP, MASTER)
            await a1.stop()

    run(scenario)


def test_control_refuses_deeply_nested_json_with_a_sentence():
    # found by the control-socket fuzz (tests/lab/ctlfuzz.py): json.loads raised
    # RecursionError, the client task died without a reply
    server = control.ControlServer(None, "/nonexistent/control.sock")
    reply = asyncio.run(server.handle_line(b"[" * 60000 + b"\n"))
    assert reply == {"ok": False, "error": "request is nested too deeply"}
