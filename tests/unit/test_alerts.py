"""SMTP alert and notify FIFO keywords (keepalived 2.2.7 semantics), their formats, and the daemon's lines."""

from __future__ import annotations

import asyncio
import os
import re

import pytest
from fakehost import FakeLan, until
from test_daemon_fake import Agent, instance, run
from vrrp_agent.alerts import fifo_line, mail_data, mail_text
from vrrp_agent.config import parse_text
from vrrp_agent.errors import ConfigError
from vrrp_agent.router import MASTER

INST = "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n{body}}}\n"


def _conf(globals_: str, body: str = "", more: str = ""):
    return parse_text(f"global_defs {{\n{globals_}}}\n" + INST.format(name="VI_1", vrid=1, body=body)
                      + more, "k.conf")


def test_global_smtp_keywords_build_the_mail_settings():
    g = _conf(" notification_email {\n  a@example.org b@example.org\n  c@example.org\n }\n"
              " notification_email_from vrrp@example.org\n smtp_server 2001:db8::25 2525\n"
              " smtp_helo_name lb1.example.org\n smtp_connect_timeout 7\n no_email_faults\n").globals
    assert g.email_to == ("a@example.org", "b@example.org", "c@example.org")
    assert (g.email_from, g.smtp_server, g.smtp_helo_name) == ("vrrp@example.org", ("2001:db8::25", 2525),
                                                              "lb1.example.org")
    assert (g.smtp_connect_timeout_s, g.no_email_faults) == (7.0, True)
    assert _conf(" smtp_server mail.example.org\n").globals.smtp_server == ("mail.example.org", 25)


@pytest.mark.parametrize("line, message", [
    (" smtp_server a 0\n", "smtp_server port 0 is out of range 1..65535"),
    (" smtp_server a b\n", "smtp_server port 'b' is not a whole number"),
    (" smtp_server\n", "smtp_server takes HOST [PORT]"),
    (" smtp_alert maybe\n", "smtp_alert 'maybe' must be one of true, on, yes, false, off, no"),
    (" notification_email a@b\n", "takes its addresses in a { block }"),
    (" vrrp_notify_fifo fifo\n", "vrrp_notify_fifo 'fifo' must be an absolute path"),
    (" vrrp_notify_fifo_script /bin/cat\n", "vrrp_notify_fifo_script needs a vrrp_notify_fifo"),
    (" notify_fifo /run/f\n vrrp_notify_fifo /run/f\n", "are the same FIFO /run/f"),
    (" smtp_connect_timeout -1\n", "out of range"),
])
def test_bad_alert_settings_are_errors_at_their_line(line, message):
    with pytest.raises(ConfigError) as err:
        _conf(line)
    assert message in err.value.message and err.value.file == "k.conf"


def test_smtp_connect_timeout_zero_becomes_one_with_a_warning():
    config = _conf(" smtp_connect_timeout 0\n")
    assert config.globals.smtp_connect_timeout_s == 1.0
    assert config.warnings == ("k.conf:2: smtp_connect_timeout 0 is taken as 1 s, as keepalived does",)


def test_fifo_keywords_with_user_and_script():
    g = _conf(' notify_fifo /run/all.fifo nobody\n vrrp_notify_fifo /run/vrrp.fifo\n'
              ' vrrp_notify_fifo_script "/usr/local/bin/reader -v" nobody\n'
              ' vrrp_notify_priority_changes\n').globals
    fifo = g.notify_fifo
    assert (fifo.path, fifo.user.user, fifo.script) == ("/run/all.fifo", "nobody", None)
    assert g.vrrp_notify_fifo.script.argv == ("/usr/local/bin/reader", "-v")
    assert g.vrrp_notify_fifo.script.user.user == "nobody" and g.notify_priority_changes


SERVER = " notification_email {\n  a@example.org\n }\n smtp_server 198.51.100.25\n"
TWO = (INST.format(name="VI_2", vrid=2, body="") + INST.format(name="VI_3", vrid=3, body="")
       + "vrrp_sync_group G {\n group {\n  VI_2\n  VI_3\n }\n%s}\n")


@pytest.mark.parametrize("globals_, body, group, expected", [
    ("", "", "", (False, False, False)),
    (" smtp_alert\n", "", "", (True, True, True)),
    (" smtp_alert\n smtp_alert_vrrp off\n", "", "", (False, False, False)),
    (" smtp_alert_vrrp yes\n", " smtp_alert false\n", "", (False, True, True)),
    ("", " smtp_alert\n", " smtp_alert on\n", (True, False, True)),  # members: global default
])
def test_smtp_alert_defaults_follow_keepalived(globals_, body, group, expected):
    config = _conf(SERVER + globals_, body, TWO % group)
    (g,) = config.sync_groups
    assert (config.instances[0].smtp_alert, config.instances[1].smtp_alert, g.smtp_alert)[:2] == expected[:2]
    assert g.smtp_alert == expected[2]


def test_notify_priority_changes_instance_then_group_then_global():
    config = _conf(" vrrp_notify_priority_changes false\n", " notify_priority_changes\n",
                   TWO % " notify_priority_changes yes\n")
    assert [i.notify_priority_changes for i in config.instances] == [True, True, True]
    config = _conf(" vrrp_notify_priority_changes\n", "", TWO % " notify_priority_changes off\n")
    assert [i.notify_priority_changes for i in config.instances] == [True, False, False]


def test_smtp_alert_without_a_server_warns_that_no_mail_is_sent():
    config = _conf("", " smtp_alert\n")
    assert config.warnings == ("k.conf:3: smtp_alert is on but global_defs has no smtp_server: "
                               "no mail will be sent (as keepalived)",)


def test_notify_deleted_flag_and_hook():
    inst = _conf("", ' notify_deleted "/bin/echo gone"\n').instances[0]
    assert inst.notify_deleted and inst.notify.for_state("DELETED").argv == ("/bin/echo", "gone")
    inst = _conf("", " notify_deleted\n").instances[0]
    assert inst.notify_deleted and inst.notify.deleted is None


def test_keepalived_line_and_mail_formats():
    assert fifo_line("INSTANCE", "VI_1", "MASTER_PRIORITY", 110) == 'INSTANCE "VI_1" MASTER_PRIORITY 110\n'
    assert mail_text("GROUP", "G", "FAULT", "lb1") == (
        "[lb1] VRRP Group G - Entering FAULT state", "=> All VRRP group instances are now in FAULT state <=")
    assert mail_text("GROUP", "G", "DELETED", "lb1") is None, "keepalived mails no DELETED for a group"
    data = mail_data("v@x", ("a@x", "b@x"), "[lb1] VRRP Instance VI_1 - Stopping",
                     "=> VRRP Instance stopping <=", 0.0).decode()
    assert re.fullmatch(r"Date: Thu, 01 Jan 1970 \d\d:\d\d:\d\d [+-]\d{4}\r\nFrom: v@x\r\n"
                        r"Subject: \[lb1\] VRRP Instance VI_1 - Stopping\r\nX-Mailer: Keepalived\r\n"
                        r"To: a@x, b@x\r\n\r\n=> VRRP Instance stopping <=\r\n\r\n", data)


def _read(fd: int) -> list:
    try:
        return os.read(fd, 65536).decode().splitlines()
    except BlockingIOError:
        return []


@pytest.mark.parametrize("deleted, line", [("    notify_deleted\n", "DELETED"), ("", "FAULT")])
def test_fifo_lines_through_a_reload_that_removes_an_instance(tmp_path, deleted, line):
    """The real daemon on fake adapters: keepalived's lines, DELETED or (default) FAULT at removal."""
    lan = FakeLan()
    fifo = tmp_path / "vrrp.fifo"
    head = f"global_defs {{\n    vrrp_notify_fifo {fifo}\n    vrrp_notify_priority_changes\n}}\n"
    a1 = Agent(lan.host("n1", "198.51.100.1"), head + instance(priority=150)
               + instance("VI_2", vrid=52, vips=("198.51.100.102/24",), extra=deleted), tmp_path)
    seen: list = []

    async def scenario():
        await a1.start()
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        await until(lambda: a1.state() == MASTER and a1.state("VI_2") == MASTER)
        a1.conf.write_text(head + instance(priority=150))
        await a1.daemon.reload()
        await until(lambda: (seen.extend(_read(fd)) or f'INSTANCE "VI_2" {line} 100' in seen))
        await a1.stop()
        await asyncio.sleep(0)
        seen.extend(_read(fd))
        os.close(fd)

    run(scenario)
    assert seen == ['INSTANCE "VI_1" BACKUP 150', 'INSTANCE "VI_2" BACKUP 100',
                    'INSTANCE "VI_1" MASTER 150', 'INSTANCE "VI_2" MASTER 100',
                    f'INSTANCE "VI_2" {line} 100', 'INSTANCE "VI_1" STOP 150']
    assert not fifo.exists()


def test_fifo_write_vrrp_states_on_reload(tmp_path):
    """keepalived's option: after a reload, the kept instances' states are written again."""
    lan = FakeLan()
    fifo = tmp_path / "all.fifo"
    head = f"global_defs {{\n    notify_fifo {fifo}\n    fifo_write_vrrp_states_on_reload\n}}\n"
    a1 = Agent(lan.host("n1", "198.51.100.1"), head + instance(priority=150), tmp_path)
    seen: list = []

    async def scenario():
        await a1.start()
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        await until(lambda: a1.state() == MASTER)
        a1.conf.write_text(head + instance(priority=150)
                           + instance("VI_2", vrid=52, vips=("198.51.100.102/24",)))
        await a1.daemon.reload()
        await until(lambda: (seen.extend(_read(fd)) or 'INSTANCE "VI_2" MASTER 100' in seen))
        a1.conf.write_text(head.replace("    fifo_write_vrrp_states_on_reload\n", "") + instance(priority=150)
                           + instance("VI_2", vrid=52, vips=("198.51.100.102/24",)))
        await a1.daemon.reload()
        await a1.stop()
        await asyncio.sleep(0)
        seen.extend(_read(fd))
        os.close(fd)

    run(scenario)
    assert seen == ['INSTANCE "VI_1" BACKUP 150', 'INSTANCE "VI_1" MASTER 150',
                    'INSTANCE "VI_2" BACKUP 100', 'INSTANCE "VI_1" MASTER 150',
                    'INSTANCE "VI_2" MASTER 100',
                    'INSTANCE "VI_1" STOP 150', 'INSTANCE "VI_2" STOP 100']


def test_mail_goes_out_from_the_worker_thread_never_the_caller(monkeypatch):
    """A mail server that never answers does not hold the event loop: handle() returns at once."""
    import threading

    from vrrp_agent import alerts
    from vrrp_agent.config.model import Config

    entered, release, callers = threading.Event(), threading.Event(), []

    class StuckSMTP:
        def __init__(self, *args, **kwargs):
            callers.append(threading.current_thread().name)
            entered.set()
            release.wait(30)
            raise OSError("no answer")

    monkeypatch.setattr(alerts.smtplib, "SMTP", StuckSMTP)
    config = parse_text("global_defs {\n notification_email {\n  a@example.org\n }\n"
                        " smtp_server 198.51.100.25\n smtp_alert\n}\n"
                        + INST.format(name="VI_1", vrid=1, body=""), "k.conf")
    assert isinstance(config, Config)

    class Rt:
        def __init__(self):
            from vrrp_agent.events import EventBus

            self.bus, self.config = EventBus(), config

    consumer = alerts.StateAlerts(Rt())
    consumer.handle({"type": "transition", "instance": "VI_1", "new": "MASTER", "priority": 100})
    consumer.handle({"type": "transition", "instance": "VI_1", "new": "BACKUP", "priority": 100})
    assert entered.wait(10), "the worker thread tried the server"
    assert callers == ["vrrp-smtp"] and consumer.mail.queue.qsize() == 1, "the second mail waits its turn"
    release.set()
    consumer.mail.close(10)
    assert consumer.mail.failed == 2 and consumer.mail.sent == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="script security applies to scripts run as root")
def test_fifo_script_obeys_script_security(tmp_path, caplog):
    from vrrp_agent.alerts import FifoWriter

    script = tmp_path / "reader.sh"
    script.write_text("#!/bin/sh\nexec cat \"$1\" > /dev/null\n")
    script.chmod(0o777)  # world-writable: keepalived's script security refuses to run it as root
    config = _conf(f" enable_script_security\n script_user root\n vrrp_notify_fifo {tmp_path}/f.fifo\n"
                   f" vrrp_notify_fifo_script {script}\n")
    writer = FifoWriter(config.globals.vrrp_notify_fifo)
    writer.open(config.globals)
    try:
        assert writer.script is None and writer.fd is not None, "FIFO open, unsafe script not run"
        assert "refused: script security" in caplog.text
    finally:
        writer.close()
    assert not (tmp_path / "f.fifo").exists()


def test_fifo_group_lines_have_priority_0(tmp_path):
    lan = FakeLan()
    fifo = tmp_path / "g.fifo"
    text = (f"global_defs {{\n    vrrp_notify_fifo {fifo}\n}}\n" + instance(priority=150)
            + instance("VI_2", vrid=52, priority=150, vips=("198.51.100.102/24",))
            + "vrrp_sync_group G {\n    group {\n        VI_1\n        VI_2\n    }\n}\n")
    a1 = Agent(lan.host("n1", "198.51.100.1"), text, tmp_path)
    seen: list = []

    async def scenario():
        await a1.start()
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        await until(lambda: (seen.extend(_read(fd)) or 'GROUP "G" MASTER 0' in seen))
        await a1.stop()
        await asyncio.sleep(0)
        seen.extend(_read(fd))
        os.close(fd)

    run(scenario)
    groups = [line for line in seen if line.startswith("GROUP")]
    assert groups == ['GROUP "G" BACKUP 0', 'GROUP "G" MASTER 0', 'GROUP "G" STOP 0']
    assert {'INSTANCE "VI_1" MASTER 150', 'INSTANCE "VI_2" MASTER 150'} <= set(seen)
