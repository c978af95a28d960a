"""SMTP alerts and notify FIFOs of the real agent, beside real keepalived, in the namespace lab.

An SMTP sink (written here, stdlib asyncio) listens in the client namespace;
the agent on node 1 and keepalived 2.2.7 on node 2 mail it and write their
notify FIFOs (read from the test process: a FIFO is a file-system object) on
the same run of transitions. The agent's lines and mails must have
keepalived's shape, field for field; waits are generous "eventually" bounds.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import List

from agentlab import Agent, agent_instance
from netlab import Keepalived, Lab, keepalived_instance, wait_until

SLOW = 20.0
SMTP_PORT = 2525

SINK = r'''
import asyncio, json, sys

host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]

async def session(reader, writer):
    record = {"rcpt": [], "commands": []}
    writer.write(b"220 sink ESMTP\r\n")
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = line.decode().rstrip("\r\n")
        record["commands"].append(cmd.split(" ")[0].upper())
        verb = cmd[:4].upper()
        if verb in ("HELO", "EHLO"):
            record["helo"] = cmd
            writer.write(b"250 sink\r\n")
        elif verb == "MAIL":
            record["mail_from"] = cmd
            writer.write(b"250 ok\r\n")
        elif verb == "RCPT":
            record["rcpt"].append(cmd)
            writer.write(b"250 ok\r\n")
        elif verb == "DATA":
            writer.write(b"354 go on\r\n")
            await writer.drain()
            data = b""
            while not data.endswith(b"\r\n.\r\n"):
                chunk = await reader.readline()
                if not chunk:
                    break
                data += chunk
            record["data"] = data.decode()
            with open(out, "a") as fh:
                fh.write(json.dumps(record) + "\n")
            writer.write(b"250 queued\r\n")
        elif verb == "QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            break
        else:
            writer.write(b"250 ok\r\n")
        await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_server(session, host, port)
    async with server:
        await server.serve_forever()

asyncio.run(main())
'''


class FifoReader:
    """Reads a notify FIFO from the test process without blocking."""

    def __init__(self, path: Path):
        wait_until(path.exists, SLOW, message=f"{path} is created")
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.buf = b""

    def lines(self) -> List[str]:
        try:
            while True:
                chunk = os.read(self.fd, 4096)
                if not chunk:
                    break
                self.buf += chunk
        except BlockingIOError:
            pass
        return self.buf.decode().splitlines()

    def close(self) -> None:
        os.close(self.fd)


def _mails(path: Path) -> List[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _subjects(mails: List[dict], who: str) -> List[str]:
    out = []
    for mail in mails:
        subject = re.search(r"^Subject: (.*)\r$", mail["data"], re.M)
        if subject and f"[{who}]" in subject.group(1):
            out.append(subject.group(1))
    return out


def _globals(lab: Lab, fifo: Path, router_id: str) -> str:
    return (f"    router_id {router_id}\n    notification_email {{\n        ops@example.org\n"
            f"        noc@example.org\n    }}\n    notification_email_from vrrp@example.org\n"
            f"    smtp_server {lab.client.ip4} {SMTP_PORT}\n    smtp_connect_timeout 5\n"
            f"    smtp_helo_name {router_id}.example.org\n    smtp_alert\n"
            f"    vrrp_notify_fifo {fifo}\n    vrrp_notify_priority_changes\n")


def test_smtp_alerts_and_fifo_lines_match_keepalived(lab: Lab, keepalived_bin: str):
    mails_path = lab.logdir / "mails.jsonl"
    lab.client.popen([sys.executable, "-c", SINK, lab.client.ip4, str(SMTP_PORT), str(mails_path)],
                     name="smtp-sink")
    agent_fifo, ka_fifo = lab.logdir / "agent.fifo", lab.logdir / "keepalived.fifo"
    track = lab.logdir / "track-n1"
    track.write_text("0\n")
    reader, copied, reader_pid = (lab.logdir / "reader.sh", lab.logdir / "reader-lines",
                                  lab.logdir / "reader.pid")
    reader.write_text(f'#!/bin/sh\necho $$ > {reader_pid}\nexec cat "$1" >> {copied}\n')
    reader.chmod(0o755)
    both = f"    notify_fifo {lab.logdir / 'all.fifo'}\n    notify_fifo_script {reader}\n"
    agent_conf = (f"global_defs {{\n{_globals(lab, agent_fifo, 'agent-n1')}{both}}}\n"
                  f"vrrp_track_file tf {{\n    file {track}\n    weight 10\n}}\n"
                  + agent_instance(priority=100, extra="    track_file {\n        tf\n    }\n"))
    agent = Agent(lab.node(1), agent_conf)
    afifo = FifoReader(agent_fifo)
    wait_until(lambda: 'INSTANCE "VI_1" MASTER 100' in afifo.lines(), SLOW, message="agent MASTER line")

    track.write_text("1\n")  # effective priority 110: a priority-change line while master
    wait_until(lambda: 'INSTANCE "VI_1" MASTER_PRIORITY 110' in afifo.lines(), SLOW,
               message="agent MASTER_PRIORITY line")

    ka = Keepalived(lab.node(2), keepalived_instance(
        priority=150, global_defs=_globals(lab, ka_fifo, "ka-n2")), binary=keepalived_bin)
    kfifo = FifoReader(ka_fifo)
    wait_until(lambda: 'INSTANCE "VI_1" MASTER 150' in kfifo.lines(), SLOW, message="keepalived MASTER")
    wait_until(lambda: 'INSTANCE "VI_1" BACKUP 110' in afifo.lines(), SLOW, message="agent yields")
    assert agent.stop() == 0
    wait_until(lambda: 'INSTANCE "VI_1" STOP 110' in afifo.lines(), SLOW, message="agent STOP line")
    assert afifo.lines() == ['INSTANCE "VI_1" BACKUP 100', 'INSTANCE "VI_1" MASTER 100',
                             'INSTANCE "VI_1" MASTER_PRIORITY 110', 'INSTANCE "VI_1" BACKUP 110',
                             'INSTANCE "VI_1" STOP 110']
    assert not agent_fifo.exists(), "the FIFO the agent created is removed when it stops"
    wait_until(lambda: copied.read_text().splitlines() == afifo.lines(), SLOW,
               message="notify_fifo_script read the same lines from notify_fifo")
    pid = int(reader_pid.read_text())
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), SLOW, message="the FIFO script got SIGTERM")
    line_shape = re.compile(r'^INSTANCE "VI_1" [A-Z_]+ \d+$')
    assert kfifo.lines()[:2] == ['INSTANCE "VI_1" BACKUP 150', 'INSTANCE "VI_1" MASTER 150']
    assert all(line_shape.match(line) for line in afifo.lines() + kfifo.lines())

    agent_subjects = ["[agent-n1] VRRP Instance VI_1 - Entering BACKUP state",
                      "[agent-n1] VRRP Instance VI_1 - Entering MASTER state",
                      "[agent-n1] VRRP Instance VI_1 - Entering BACKUP state",
                      "[agent-n1] VRRP Instance VI_1 - Stopping"]
    wait_until(lambda: _subjects(_mails(mails_path), "agent-n1") == agent_subjects, SLOW,
               message=f"the agent's four mails (got {_subjects(_mails(mails_path), 'agent-n1')})")
    wait_until(lambda: "[ka-n2] VRRP Instance VI_1 - Entering MASTER state"
               in _subjects(_mails(mails_path), "ka-n2"), SLOW, message="keepalived's MASTER mail")
    ka.stop()
    mails = _mails(mails_path)
    ours = [m for m in mails if "[agent-n1]" in m["data"]]
    theirs = [m for m in mails if "[ka-n2]" in m["data"]]
    for mail in ours:
        assert mail["helo"] == "HELO agent-n1.example.org", "HELO, not EHLO, as keepalived"
        assert mail["mail_from"] == "MAIL FROM:<vrrp@example.org>"
        assert mail["rcpt"] == ["RCPT TO:<ops@example.org>", "RCPT TO:<noc@example.org>"]
    master = next(m for m in ours if "Entering MASTER" in m["data"])
    ka_master = next(m for m in theirs if "Entering MASTER" in m["data"])
    assert [m["commands"] for m in (master, ka_master)] == [["HELO", "MAIL", "RCPT", "RCPT", "DATA"]] * 2
    header_names = [re.findall(r"^([A-Za-z-]+): ", m["data"], re.M) for m in (master, ka_master)]
    assert header_names[0] == header_names[1] == ["Date", "From", "Subject", "X-Mailer", "To"]
    for mail in (master, ka_master):
        body = mail["data"].split("\r\n\r\n", 1)[1]
        assert body == "=> VRRP Instance is now owning VRRP VIPs <=\r\n\r\n.\r\n"
        assert "\r\nTo: ops@example.org, noc@example.org\r\n" in mail["data"]
        assert re.search(r"^Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r$", mail["data"], re.M)
    afifo.close()
    kfifo.close()
