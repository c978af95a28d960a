"""SMTP alerts and notify FIFOs on state changes, in keepalived 2.2.7's formats.

Rules:
- Fed by the event bus (one subscription, events in publication order):
  "transition" and "group" events give states, "priority" events give
  priority changes. The configuration is read at each event (a reload swaps
  it), so FIFOs open, move or close with it.
- FIFO line (vrrp_notify.c): `TYPE "NAME" STATE PRIORITY\\n`, TYPE INSTANCE or
  GROUP (a group's priority is 0), STATE MASTER, BACKUP, FAULT, STOP,
  DELETED, or MASTER_PRIORITY / BACKUP_PRIORITY for a priority change of an
  instance with notify_priority_changes. Written to notify_fifo and to
  vrrp_notify_fifo, each opened O_RDWR|O_NONBLOCK (never blocks; a full pipe
  loses the line, counted and logged). A FIFO the agent created (mode 0644)
  is removed at close; its *_script runs with the FIFO path appended and gets
  SIGTERM at close.
- Mail (smtp.c): HELO, MAIL FROM, one RCPT TO per recipient, then `Date:`,
  `From:`, `Subject: [ROUTER_ID] VRRP Instance NAME - Entering MASTER state`
  (or `VRRP Group NAME - ...`), `X-Mailer: Keepalived`, `To: a, b` and the
  one-line body. Sent by smtplib from one worker thread: the event loop never
  waits on a mail server. One mail per new state (not twice the same state
  in a row), none for FAULT with no_email_faults.
- fifo_write_vrrp_states_on_reload: after a reload, the state line of each
  sync group and of each kept instance (new ones get their own transitions).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import pwd
import queue
import signal
import smtplib
import socket
import stat
import subprocess
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from vrrp_agent.config.model import Config, FifoConfig, GlobalDefs

log = logging.getLogger("vrrp_agent.alerts")

SUBJECTS = {"MASTER": "Entering MASTER state", "BACKUP": "Entering BACKUP state",
            "FAULT": "Entering FAULT state", "STOP": "Stopping", "DELETED": "Deleted"}
INSTANCE_BODIES = {"MASTER": "=> VRRP Instance is now owning VRRP VIPs <=",
                   "BACKUP": "=> VRRP Instance is no longer owning VRRP VIPs <=",
                   "FAULT": "=> VRRP Instance is no longer owning VRRP VIPs <=",
                   "STOP": "=> VRRP Instance stopping <=",
                   "DELETED": "=> VRRP Deleted at reload <="}
GROUP_BODIES = {"MASTER": "=> All VRRP group instances are now in MASTER state <=",
                "BACKUP": "=> All VRRP group instances are now in BACKUP state <=",
                "FAULT": "=> All VRRP group instances are now in FAULT state <=",
                "STOP": "=> All VRRP group instances are now stopping <="}
SMTP_DRAIN_S = 10.0


# ------------------------------------------------------------------ formats (pure)

def fifo_line(kind: str, name: str, state: str, priority: int) -> str:
    """keepalived's notify FIFO line: `INSTANCE "VI_1" MASTER 100`."""
    return f'{kind} "{name}" {state} {priority}\n'


def mail_text(kind: str, name: str, state: str, router_id: str) -> Optional[Tuple[str, str]]:
    """(subject, body) of keepalived's VRRP mail, or None when it sends none for `state`."""
    bodies = INSTANCE_BODIES if kind == "INSTANCE" else GROUP_BODIES
    if state not in bodies:
        return None
    what = "VRRP Instance" if kind == "INSTANCE" else "VRRP Group"
    return f"[{router_id}] {what} {name} - {SUBJECTS[state]}", bodies[state]


def mail_data(sender: str, recipients: Tuple[str, ...], subject: str, body: str, when: float) -> bytes:
    """The DATA part, byte for byte keepalived's (smtplib adds the final `.`)."""
    date = time.strftime("%a, %d %b %Y %H:%M:%S %z", time.localtime(when))
    text = (f"Date: {date}\r\nFrom: {sender}\r\nSubject: {subject}\r\nX-Mailer: Keepalived\r\n"
            f"To: {', '.join(recipients)}\r\n\r\n{body}\r\n\r\n")
    return text.encode("utf-8", "replace")


def local_name() -> str:
    return socket.gethostname()


def default_sender() -> str:
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = str(os.getuid())
    return f"{user}@{local_name()}"


# ------------------------------------------------------------------ mail worker

class MailSender:
    """One daemon thread sending queued mails with smtplib (HELO, as keepalived)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Optional[Tuple[GlobalDefs, str, bytes]]] = queue.Queue()
        self.thread: Optional[threading.Thread] = None
        self.sent = 0
        self.failed = 0

    def send(self, gdefs: GlobalDefs, subject: str, data: bytes) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="vrrp-smtp", daemon=True)
            self.thread.start()
        self.queue.put((gdefs, subject, data))

    def close(self, timeout_s: float = SMTP_DRAIN_S) -> None:
        """Blocking: call from an executor. Mails still queued after `timeout_s` are lost."""
        if self.thread is None:
            return
        self.queue.put(None)
        self.thread.join(timeout_s)
        if self.thread.is_alive():
            log.warning("SMTP alerts still pending after %.0f s: abandoned", timeout_s)
        self.thread = None

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            gdefs, subject, data = item
            try:
                self._deliver(gdefs, data)
            except (OSError, smtplib.SMTPException) as exc:
                self.failed += 1
                log.warning("SMTP alert %r not sent via %s:%d: %s", subject, *gdefs.smtp_server or ("?", 0),
                            exc)
            else:
                self.sent += 1
                log.info("SMTP alert sent: %s", subject)

    @staticmethod
    def _deliver(gdefs: GlobalDefs, data: bytes) -> None:
        """keepalived's dialogue, verbs upper-case: HELO, MAIL, RCPT..., DATA, QUIT (on exit)."""
        assert gdefs.smtp_server is not None
        host, port = gdefs.smtp_server
        helo = gdefs.smtp_helo_name or local_name()
        sender = gdefs.email_from or default_sender()
        with smtplib.SMTP(host, port, local_hostname=helo, timeout=gdefs.smtp_connect_timeout_s) as smtp:
            _expect(smtp.docmd("HELO", helo), (250,), "HELO")
            _expect(smtp.docmd("MAIL", f"FROM:<{sender}>"), (250,), "MAIL FROM")
            for rcpt in gdefs.email_to:
                _expect(smtp.docmd("RCPT", f"TO:<{rcpt}>"), (250, 251), f"RCPT TO {rcpt}")
            _expect(smtp.docmd("DATA"), (354,), "DATA")
            smtp.send(data + b".\r\n")  # fixed text: no line starts with a dot
            _expect(smtp.getreply(), (250,), "the message")


def _expect(reply: Tuple[int, bytes], codes: Tuple[int, ...], what: str) -> None:
    code, text = reply
    if code not in codes:
        raise smtplib.SMTPResponseException(code, f"{what} refused: {text.decode(errors='replace')}")


# ------------------------------------------------------------------ FIFO

class FifoWriter:
    """One notify FIFO: created if missing, opened without blocking, its reader script started."""

    def __init__(self, cfg: FifoConfig):
        self.cfg = cfg
        self.fd: Optional[int] = None
        self.created = False
        self.script: Optional[subprocess.Popen[bytes]] = None
        self.lost = 0

    def open(self, gdefs: GlobalDefs) -> None:
        path = self.cfg.path
        try:
            os.mkfifo(path, 0o644)
            self.created = True
            self._chown(gdefs)
        except FileExistsError:
            if not stat.S_ISFIFO(os.stat(path).st_mode):
                log.error("notify FIFO %s exists and is not a FIFO: not used", path)
                return
        except OSError as exc:
            log.error("cannot create notify FIFO %s: %s", path, exc)
            return
        self._start_script(gdefs)
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as exc:
            log.error("cannot open notify FIFO %s: %s", path, exc)
            self.close()

    def _chown(self, gdefs: GlobalDefs) -> None:
        from vrrp_agent.adapters.scripts import resolve_user

        if self.cfg.user is None:
            return
        try:
            who = resolve_user(self.cfg.user, gdefs)
            os.chown(self.cfg.path, who.uid, who.gid)
        except (KeyError, OSError) as exc:
            log.warning("notify FIFO %s: owner not set: %s", self.cfg.path, exc)

    def _start_script(self, gdefs: GlobalDefs) -> None:
        """Like every script the agent runs: its user, script security, argv (no shell), own group."""
        from vrrp_agent.adapters.scripts import PRIVATE_ENV, SAFE_PATH, refusal, resolve_user

        script = self.cfg.script
        if script is None:
            return
        argv = list(script.argv) + [self.cfg.path]
        try:
            who = resolve_user(script.user, gdefs)
            why = refusal(argv, who, gdefs)
            if why:
                raise OSError(f"refused: {why}")
            switch = os.geteuid() == 0 and who.uid != 0
            env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
            env.setdefault("PATH", SAFE_PATH)
            self.script = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, start_new_session=True, env=env,
                user=who.uid if switch else None, group=who.gid if switch else None,
                extra_groups=[] if switch else None)
        except (KeyError, OSError) as exc:
            log.error("notify FIFO script %s not started: %s", " ".join(argv), exc)
        else:
            log.info("notify FIFO script started: %s (pid %d)", " ".join(argv), self.script.pid)

    def write(self, line: str) -> None:
        if self.fd is None:
            return
        try:
            os.write(self.fd, line.encode())
        except OSError as exc:
            self.lost += 1
            why = "full (no reader keeps up)" if exc.errno == errno.EAGAIN else exc.strerror
            log.warning("notify FIFO %s: line lost (%s): %s", self.cfg.path, why, line.rstrip())

    def close(self) -> None:
        if self.created:  # first, so a reader that loops on reopening cannot reopen it
            with contextlib.suppress(OSError):
                os.unlink(self.cfg.path)
            self.created = False
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.script is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.script.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.script.wait(2)
            self.script = None


# ------------------------------------------------------------------ the consumer

class StateAlerts:
    """Reads the bus; writes FIFO lines and queues mails. start() once, close() at shutdown."""

    def __init__(self, rt: Any):
        self.rt = rt
        self.sub = rt.bus.subscribe()
        self.task: Optional[asyncio.Task[None]] = None
        self.mail = MailSender()
        self.fifos: Dict[str, FifoWriter] = {}
        self.states: Dict[str, str] = {}
        """Last state seen per instance (priority lines say MASTER_ or BACKUP_PRIORITY from it)."""
        self.groups: Dict[str, str] = {}
        """Last state seen per sync group (for fifo_write_vrrp_states_on_reload)."""
        self.mailed: Dict[Tuple[str, str], str] = {}
        """(kind, name) -> the state last mailed (keepalived's last_email_state)."""

    def start(self) -> None:
        self._sync_fifos(self.rt.config.globals)
        self.task = asyncio.ensure_future(self._consume())

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        while not self.sub.queue.empty():  # the STOP transitions published at shutdown
            self.handle(self.sub.queue.get_nowait())
        self.sub.close()
        for writer in self.fifos.values():
            writer.close()
        self.fifos.clear()
        if self.mail.thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.mail.close)

    async def _consume(self) -> None:
        while True:
            event = await self.sub.next()
            try:
                self.handle(event)
            except Exception:  # noqa: BLE001 - an alert must never stop the stream
                log.exception("alert for event %s failed", event.get("type"))

    # ---------------------------------------------------------- events
    def handle(self, event: Dict[str, Any]) -> None:
        config: Config = self.rt.config
        self._sync_fifos(config.globals)
        kind = event.get("type")
        if kind == "transition":
            name = event["instance"]
            state = event.get("state") or ("STOP" if event["new"] == "INIT" else event["new"])
            self.states[name] = state
            self._announce("INSTANCE", name, state, int(event.get("priority", 0)), config)
        elif kind == "group":
            self.groups[event["group"]] = event["state"]
            self._announce("GROUP", event["group"], event["state"], 0, config)
        elif kind == "reload" and config.globals.fifo_write_vrrp_states_on_reload:
            self._states_after_reload(event, config)
        elif kind == "priority":
            name = event["instance"]
            inst = next((i for i in config.instances if i.name == name), None)
            if inst is not None and inst.notify_priority_changes:
                which = "MASTER_PRIORITY" if self.states.get(name) == "MASTER" else "BACKUP_PRIORITY"
                self._write(fifo_line("INSTANCE", name, which, int(event["new"])))

    def _states_after_reload(self, event: Dict[str, Any], config: Config) -> None:
        """keepalived's fifo_write_vrrp_states_on_reload: groups, then the instances kept."""
        for group in config.sync_groups:
            if group.name in self.groups:
                self._write(fifo_line("GROUP", group.name, self.groups[group.name], 0))
        for name in event.get("kept", []):
            inst = self.rt.by_name(name)
            if inst is not None and inst.router.state != "INIT":
                self._write(fifo_line("INSTANCE", name, inst.router.state, inst.router.effective_priority))

    def _announce(self, kind: str, name: str, state: str, priority: int, config: Config) -> None:
        self._write(fifo_line(kind, name, state, priority))
        gdefs = config.globals
        pool = config.instances if kind == "INSTANCE" else config.sync_groups
        obj = next((o for o in pool if o.name == name), None)
        wanted = obj.smtp_alert if obj is not None else self._was_wanted(kind, name)
        if not wanted or (state == "FAULT" and gdefs.no_email_faults):
            return
        if self.mailed.get((kind, name)) == state:
            return
        text = mail_text(kind, name, state, gdefs.router_id or local_name())
        if text is None:
            return
        self.mailed[(kind, name)] = state
        if gdefs.smtp_server is None or not gdefs.email_to:
            return
        subject, body = text
        self.mail.send(gdefs, subject, mail_data(gdefs.email_from or default_sender(), gdefs.email_to,
                                                 subject, body, time.time()))

    def _was_wanted(self, kind: str, name: str) -> bool:
        """An instance removed at reload still mails its DELETED/FAULT when it mailed before."""
        return (kind, name) in self.mailed

    def _write(self, line: str) -> None:
        for writer in self.fifos.values():
            writer.write(line)

    def _sync_fifos(self, gdefs: GlobalDefs) -> None:
        wanted: List[FifoConfig] = [f for f in (gdefs.notify_fifo, gdefs.vrrp_notify_fifo) if f is not None]
        keys = {f.path for f in wanted}
        for path in [p for p in self.fifos if p not in keys or self.fifos[p].cfg not in wanted]:
            self.fifos.pop(path).close()
        for cfg in wanted:
            if cfg.path not in self.fifos:
                writer = FifoWriter(cfg)
                writer.open(gdefs)
                self.fifos[cfg.path] = writer
