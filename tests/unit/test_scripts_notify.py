"""Script runner, script security, notify ordering, /proc matching and the event bus.

Real processes, no mocks: each test writes small scripts into tmp_path.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from vrrp_agent.adapters import procscan
from vrrp_agent.adapters.scripts import (
    RunAs,
    agent_user,
    host_script_errors,
    run_command,
    security_problem,
)
from vrrp_agent.config import parse_text
from vrrp_agent.config.model import GlobalDefs, NotifyCommand, NotifyConfig, TrackProcessConfig
from vrrp_agent.events import EventBus
from vrrp_agent.notify import Notifier

ME = agent_user()
GDEFS = GlobalDefs()


def script(path: Path, body: str, mode: int = 0o755) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    os.chmod(path, mode)
    return path


def run(argv, timeout_s=5.0, run_as=ME, gdefs=GDEFS, capture=True):
    return asyncio.run(run_command(argv, timeout_s, run_as, gdefs, capture=capture))


def test_exit_codes_and_stderr_tail(tmp_path):
    ok = run([str(script(tmp_path / "ok", "exit 0\n"))])
    assert ok.ok and ok.detail == "exit 0"
    bad = run([str(script(tmp_path / "bad", "echo broken disk >&2; exit 3\n"))])
    assert not bad.ok and bad.rc == 3 and bad.detail == "exit 3: broken disk"


def test_arguments_are_passed_as_argv_never_through_a_shell(tmp_path):
    out = tmp_path / "out"
    probe = script(tmp_path / "probe", f'for a in "$@"; do echo "[$a]" >> {out}; done\n')
    assert run([str(probe), "a b", "$(touch /tmp/pwned-by-test)", ";", "*"]).ok
    assert out.read_text().splitlines() == ["[a b]", "[$(touch /tmp/pwned-by-test)]", "[;]", "[*]"]
    assert not os.path.exists("/tmp/pwned-by-test")


def test_missing_and_not_executable(tmp_path):
    missing = run([str(tmp_path / "nope"), "x"])
    assert not missing.ok and missing.detail == f"not found: {tmp_path / 'nope'}"
    plain = script(tmp_path / "plain", "exit 0\n", mode=0o644)
    denied = run([str(plain)])
    assert not denied.ok and denied.detail.startswith("not executable (or not reachable) by")


def test_timeout_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "pids"
    hang = script(tmp_path / "hang", f"sleep 60 & echo $! > {pidfile}\nsleep 60\n")
    started = time.monotonic()
    result = run([str(hang)], timeout_s=0.5)
    assert not result.ok and result.timed_out and "timed out after 0.5 s" in result.detail
    assert time.monotonic() - started < 30  # bounded, not a timing assertion on the value
    child = int(pidfile.read_text())
    for _ in range(50):  # the background sleep was in the group: it is gone (or a zombie)
        try:
            with open(f"/proc/{child}/stat") as fh:
                if fh.read().split()[2] == "Z":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"background child {child} survived the timeout")


def test_each_run_has_its_own_session(tmp_path):
    out = tmp_path / "sid"
    probe = script(tmp_path / "sid.sh", f"ps -o sid= -p $$ > {out}\n")
    assert run([str(probe)]).ok
    assert int(out.read_text()) != os.getsid(0)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_runs_as_another_user_when_root():
    nobody = pwd.getpwnam("nobody")
    shared = Path(tempfile.mkdtemp(prefix="vrrp-unit-"))  # reachable by nobody, unlike tmp_path
    try:
        os.chmod(shared, 0o777)
        out = shared / "uid"
        probe = script(shared / "id.sh", f"id -u > {out}\n")
        assert run([str(probe)], run_as=RunAs(nobody.pw_uid, nobody.pw_gid, "nobody")).ok
        assert int(out.read_text()) == nobody.pw_uid
    finally:
        shutil.rmtree(shared)


@pytest.mark.skipif(os.geteuid() != 0, reason="script security checks ownership by root")
def test_script_security_refuses_writable_scripts_and_directories(tmp_path):
    os.chmod(tmp_path, 0o755)
    safe = script(tmp_path / "safe", "exit 0\n", mode=0o755)
    assert security_problem(str(safe)) is None
    loose = script(tmp_path / "loose", "exit 0\n", mode=0o777)
    assert security_problem(str(loose)) == f"{loose} is writable by any user"
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    inside = script(shared / "x", "exit 0\n")
    assert security_problem(str(inside)) == f"{shared} is writable by any user"
    secure = GlobalDefs(enable_script_security=True)
    refused = run([str(loose)], gdefs=secure, run_as=RunAs(0, 0, "root"))
    assert not refused.ok and refused.detail.startswith("refused: script security:")
    conf = parse_text("global_defs {\n enable_script_security\n script_user root\n}\n"
                      f"vrrp_script chk {{\n script {loose}\n}}\n", "sec.conf")
    (err,) = host_script_errors(conf)
    assert str(err).startswith("sec.conf:5: script security refuses") and "writable by any user" in str(err)
    conf = parse_text(f"vrrp_script chk {{\n script {loose}\n user nosuchuser-xyz\n}}\n", "u.conf")
    assert [str(e) for e in host_script_errors(conf)] == [
        "u.conf:1: user 'nosuchuser-xyz' does not exist on this host"]


def test_notify_hooks_run_in_order_one_at_a_time(tmp_path):
    log = tmp_path / "log"
    hook = script(tmp_path / "hook", f'echo "start $*" >> {log}; sleep 0.05; echo "end $*" >> {log}\n')
    cfg = NotifyConfig(master=NotifyCommand((str(hook), "M")), fault=NotifyCommand((str(hook), "F")),
                       generic=NotifyCommand((str(hook),)))
    bus = EventBus()

    async def scenario() -> Notifier:
        n = Notifier("INSTANCE", "VI_1", cfg, GDEFS, bus, logging.getLogger("t"))
        for state, prio in [("BACKUP", 100), ("MASTER", 100), ("FAULT", 100), ("BACKUP", 90),
                            ("MASTER", 90), ("STOP", 90)]:
            n.transition(state, prio)
        await n.drain(30)
        return n

    notifier = asyncio.run(scenario())
    lines = log.read_text().splitlines()
    runs = [ln[6:] for ln in lines[0::2]]
    assert all(e == "end " + s[6:] for s, e in zip(lines[0::2], lines[1::2]))
    assert runs == ["INSTANCE VI_1 BACKUP 100", "M", "INSTANCE VI_1 MASTER 100", "F",
                    "INSTANCE VI_1 FAULT 100", "INSTANCE VI_1 BACKUP 90", "M",
                    "INSTANCE VI_1 MASTER 90", "INSTANCE VI_1 STOP 90"]
    assert notifier.counters == {"notify_runs": 9}
    assert [e["hook"] for e in bus.recent("notify")][:2] == ["notify", "notify_master"]


def test_a_failing_hook_is_counted_and_the_next_one_still_runs(tmp_path):
    log = tmp_path / "log"
    good = script(tmp_path / "good", f'echo "$*" >> {log}\n')
    cfg = NotifyConfig(master=NotifyCommand((str(tmp_path / "missing"),)),
                       generic=NotifyCommand((str(good),)))

    async def scenario() -> Notifier:
        n = Notifier("GROUP", "G", cfg, GDEFS, EventBus(), logging.getLogger("t"))
        n.transition("MASTER", 0)
        await n.drain(30)
        return n

    notifier = asyncio.run(scenario())
    assert log.read_text() == "GROUP G MASTER 0\n"
    assert notifier.counters == {"notify_runs": 2, "notify_failures": 1}


def test_process_matching_rules():
    cfg = TrackProcessConfig("p", "nginx")
    assert procscan.matches(cfg, "nginx", ["nginx: master process"])
    assert not procscan.matches(cfg, "nginx-debug", ["nginx"])
    exact = TrackProcessConfig("p", "sshd", ("-D",))
    assert procscan.matches(exact, "sshd", ["/usr/sbin/sshd", "-D"])
    assert not procscan.matches(exact, "sshd", ["/usr/sbin/sshd", "-D", "-e"])
    initial = TrackProcessConfig("p", "sshd", ("-D",), param_match="initial")
    assert procscan.matches(initial, "sshd", ["/usr/sbin/sshd", "-D", "-e"])
    partial = TrackProcessConfig("p", "sshd", ("-e",), param_match="partial")
    assert procscan.matches(partial, "sshd", ["/usr/sbin/sshd", "-D", "-e"])
    full = TrackProcessConfig("p", "/usr/sbin/sshd", full_command=True)
    assert procscan.matches(full, "sshd", ["/usr/sbin/sshd", "-D"])


def test_process_count_sees_a_real_process(tmp_path):
    import subprocess

    marker = f"vrrp-agent-unit-{os.getpid()}-{time.monotonic_ns()}"
    # `read` is a shell builtin: sh never forks a child that would briefly share its argv
    proc = subprocess.Popen(["sh", "-c", "read x", marker], stdin=subprocess.PIPE, start_new_session=True)
    try:
        cfg = TrackProcessConfig("s", "sh", ("-c", "read x", marker))
        for _ in range(100):  # until the child has exec'd sh
            if procscan.count([cfg]) == {"s": 1}:
                break
            time.sleep(0.05)
        assert procscan.count([cfg]) == {"s": 1}
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
        proc.stdin.close()  # type: ignore[union-attr]
    assert procscan.count([cfg]) == {"s": 0}


def test_event_bus_backlog_and_lost_events():
    async def scenario() -> list:
        bus = EventBus()
        bus.publish("transition", instance="VI_1", new="MASTER")
        sub = bus.subscribe(backlog=5)
        first = await sub.next()
        for n in range(1100):
            bus.publish("script", n=n)
        lost = await sub.next()
        after = await sub.next()
        sub.close()
        return [first, lost, after, len(bus.subscribers)]

    first, lost, after, left = asyncio.run(scenario())
    assert first["type"] == "transition" and first["seq"] == 1
    assert lost == {"type": "lost", "count": 100}
    assert after["n"] == 100 and left == 0
