# Copyright: (c) 2026, linuxha.vrrp contributors
# MIT License (see LICENSE)
"""A stdlib-only client for vrrp-agent's control socket.

Protocol (files/agent/vrrp_agent/control.py): a unix stream socket, one JSON
object per line. Request {"command": NAME, "args": {...}}; reply
{"ok": true, "result": ...} or {"ok": false, "error": "..."}.
Every failure raises VrrpControlError with a sentence for the operator.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import socket

DEFAULT_SOCKET = "/run/vrrp-agent/control.sock"
MAX_REPLY = 4 * 1024 * 1024


class VrrpControlError(Exception):
    """The agent could not be asked, or refused the request."""

    def __init__(self, message, not_running=False):
        super(VrrpControlError, self).__init__(message)
        self.not_running = not_running


def _connect(path, timeout):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except (OSError, socket.error) as exc:
        sock.close()
        code = getattr(exc, "errno", None)
        if code in (errno.ENOENT, errno.ECONNREFUSED):
            raise VrrpControlError("vrrp-agent is not running (no listener on %s)" % path, not_running=True)
        if code == errno.EACCES:
            raise VrrpControlError("permission denied on %s: run as root or as a member of the "
                                   "agent's control group" % path)
        raise VrrpControlError("cannot connect to %s: %s" % (path, exc))
    return sock


def _read_line(sock, path):
    chunks = []
    size = 0
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            raise VrrpControlError("no reply from vrrp-agent on %s within the timeout" % path)
        if not chunk:
            raise VrrpControlError("vrrp-agent closed the connection on %s without a reply" % path)
        chunks.append(chunk)
        size += len(chunk)
        if b"\n" in chunk:
            return b"".join(chunks).split(b"\n", 1)[0]
        if size > MAX_REPLY:
            raise VrrpControlError("reply from %s is larger than %d bytes" % (path, MAX_REPLY))


def request(command, args=None, path=DEFAULT_SOCKET, timeout=5.0):
    """Send one request and return its result; raise VrrpControlError."""
    payload = json.dumps({"command": command, "args": args or {}}).encode("utf-8") + b"\n"
    sock = _connect(path, timeout)
    try:
        try:
            sock.sendall(payload)
        except (OSError, socket.error) as exc:
            raise VrrpControlError("cannot send to %s: %s" % (path, exc))
        line = _read_line(sock, path)
    finally:
        sock.close()
    try:
        reply = json.loads(line.decode("utf-8"))
    except ValueError:
        raise VrrpControlError("vrrp-agent on %s sent a reply that is not JSON: %r" % (path, line[:200]))
    if not isinstance(reply, dict) or "ok" not in reply:
        raise VrrpControlError("vrrp-agent on %s sent an unexpected reply: %r" % (path, reply))
    if not reply["ok"]:
        raise VrrpControlError("vrrp-agent refused %s: %s" % (command, reply.get("error", "no reason given")))
    return reply.get("result")


def instance_summary(inst):
    """The fields a switchover reports before/after."""
    return {
        "name": inst.get("name"),
        "state": inst.get("state"),
        "override": inst.get("override"),
        "effective_priority": inst.get("effective_priority"),
        "master_ip": inst.get("master_ip"),
    }


def role_shape(inst):
    """An instance as the role's vrrp_instances item (plus its live state)."""
    advert = inst.get("advert_int_s")
    return {
        "name": inst.get("name"),
        "interface": inst.get("interface"),
        "vrid": inst.get("vrid"),
        "family": inst.get("family"),
        "version": inst.get("version"),
        "advert_int": int(advert) if isinstance(advert, float) and advert.is_integer() else advert,
        "vips": inst.get("vips") or [],
        "priority": inst.get("base_priority"),
        "unicast_peers": inst.get("unicast_peers") or [],
        "state": inst.get("state"),
        "effective_priority": inst.get("effective_priority"),
        "master_ip": inst.get("master_ip"),
        "override": inst.get("override"),
        "announce": inst.get("announce") or {"mode": "garp"},
    }
