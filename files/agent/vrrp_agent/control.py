"""The control socket: a unix stream socket speaking one JSON object per line.

Protocol (stable; the Ansible module_utils client speaks it too):
    request:  {"command": "status", "args": {...}}\\n
    reply:    {"ok": true, "result": ...}\\n   or   {"ok": false, "error": "..."}\\n
A connection may carry several requests. A streaming command (`events`)
answers {"ok": true, "result": {"stream": NAME}} and then writes one JSON
object per line until the client disconnects; the connection carries
nothing else after it. Commands live in one registry
(`COMMANDS`), filled by the `@command` decorator; each handler receives the
daemon and the args dict and returns a JSON-able result or raises
ControlError with a sentence for the operator.

Access control is the file system's: the socket is created mode 0660,
optionally chgrp'ed to a configured group; the directory must let the
group in. Nothing secret is ever put in a reply.
"""

from __future__ import annotations

import asyncio
import grp
import json
import logging
import os
import socket
from typing import Any, Awaitable, Callable, Dict, Iterator, Optional

from vrrp_agent.errors import VrrpError

log = logging.getLogger("vrrp_agent.control")
MAX_REQUEST = 65536

Handler = Callable[[Any, Dict[str, Any]], Awaitable[Any]]
COMMANDS: Dict[str, Handler] = {}


class ControlError(VrrpError):
    """A refused control request; the message goes back to the caller."""


class Stream:
    """Returned by a streaming handler: `next()` gives the next JSON object to send."""

    def __init__(self, name: str, next_item: Callable[[], Awaitable[Any]],
                 close: Callable[[], None]):
        self.name = name
        self.next = next_item
        self.close = close


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn

    return register


class ControlServer:
    def __init__(self, daemon: Any, path: str, group: Optional[str] = None):
        self.daemon = daemon
        self.path = path
        self.group = group
        self.server: Optional[asyncio.AbstractServer] = None
        self.clients: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        directory = os.path.dirname(self.path) or "."
        os.makedirs(directory, mode=0o755, exist_ok=True)
        if os.path.exists(self.path):
            _refuse_if_live(self.path)
            os.unlink(self.path)
        old_umask = os.umask(0o117)
        try:
            self.server = await asyncio.start_unix_server(self._serve, path=self.path)
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o660)
        if self.group:
            os.chown(self.path, -1, grp.getgrnam(self.group).gr_gid)
        log.info("control socket %s ready", self.path)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in list(self.clients):  # event streams end with the agent
                writer.close()
            await self.server.wait_closed()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                reply = await self.handle_line(line)
                stream = reply.pop("stream", None)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
                if stream is not None:
                    await self._stream(stream, reader, writer)
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except ValueError:  # line longer than the stream limit
            writer.write(b'{"ok": false, "error": "request too long"}\n')
        finally:
            self.clients.discard(writer)
            writer.close()

    async def _stream(self, stream: Stream, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        """Send items until the client goes away (EOF on its side) or the server closes."""
        gone = asyncio.ensure_future(reader.read())
        try:
            while True:
                item = asyncio.ensure_future(stream.next())
                done, _pending = await asyncio.wait({item, gone}, return_when=asyncio.FIRST_COMPLETED)
                if gone in done:
                    item.cancel()
                    return
                writer.write(json.dumps(item.result()).encode() + b"\n")
                await writer.drain()
        finally:
            gone.cancel()
            stream.close()

    async def handle_line(self, line: bytes) -> Dict[str, Any]:
        try:
            request = json.loads(line[:MAX_REQUEST])
        except RecursionError:  # e.g. 60,000 nested arrays: refused, not a crash of the client task
            return {"ok": False, "error": "request is nested too deeply"}
        except ValueError:
            return {"ok": False, "error": "request is not valid JSON"}
        if not isinstance(request, dict) or not isinstance(request.get("command"), str):
            return {"ok": False, "error": 'request must be {"command": NAME, "args": {...}}'}
        name = request["command"]
        args = request.get("args") or {}
        handler = COMMANDS.get(name)
        if handler is None:
            known = ", ".join(sorted(COMMANDS))
            return {"ok": False, "error": f"unknown command {name!r} (known: {known})"}
        if not isinstance(args, dict):
            return {"ok": False, "error": "args must be an object"}
        try:
            result = await handler(self.daemon, args)
            if isinstance(result, Stream):
                return {"ok": True, "result": {"stream": result.name}, "stream": result}
            return {"ok": True, "result": result}
        except VrrpError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception:  # noqa: BLE001 - a bug must not kill the agent
            log.exception("this is a bug: control command %s failed", name)
            return {"ok": False, "error": f"internal error in {name}; see the agent log"}


def _refuse_if_live(path: str) -> None:
    """Another agent already listening on this socket is an operator error."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        return
    finally:
        probe.close()
    raise VrrpError(f"another agent is already listening on {path}")


def _connect(path: str, timeout: Optional[float]) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except FileNotFoundError:
        sock.close()
        raise ControlError(f"the agent is not running (no control socket at {path})") from None
    except ConnectionRefusedError:
        sock.close()
        raise ControlError(f"the agent is not running (nobody listens on {path})") from None
    except PermissionError:
        sock.close()
        raise ControlError(
            f"permission denied on {path}: run as root or as a member of the socket's group"
        ) from None
    return sock


def stream(path: str, name: str, args: Optional[Dict[str, Any]] = None) -> Iterator[Dict[str, Any]]:
    """Client side of a streaming command: yields each object until the agent closes."""
    sock = _connect(path, 10.0)
    try:
        sock.sendall(json.dumps({"command": name, "args": args or {}}).encode() + b"\n")
        reader = sock.makefile("rb")
        first = reader.readline()
        try:
            reply = json.loads(first)
        except ValueError:
            raise ControlError("the agent sent an unreadable reply") from None
        if not reply.get("ok"):
            raise ControlError(reply.get("error") or "request failed")
        sock.settimeout(None)
        for line in reader:
            try:
                yield json.loads(line)
            except ValueError:
                continue
    except socket.timeout:
        raise ControlError("the agent did not answer within 10 s") from None
    finally:
        sock.close()


def request(path: str, name: str, args: Optional[Dict[str, Any]] = None,
            timeout: float = 10.0) -> Any:
    """Client side: send one command, return its result or raise ControlError."""
    sock = _connect(path, timeout)
    try:
        sock.sendall(json.dumps({"command": name, "args": args or {}}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        raise ControlError(f"the agent did not answer within {timeout:.0f} s") from None
    finally:
        sock.close()
    try:
        reply = json.loads(data)
    except ValueError:
        raise ControlError("the agent sent an unreadable reply") from None
    if not reply.get("ok"):
        raise ControlError(reply.get("error") or "request failed")
    return reply.get("result")
