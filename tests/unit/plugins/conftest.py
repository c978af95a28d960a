"""Make the collection importable as ansible_collections.linuxha.vrrp, and a
real control-socket server (a unix socket speaking the agent's protocol) for
the client and module tests."""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
_TREE = Path(tempfile.mkdtemp(prefix="vrrp-collection-"))
(_TREE / "ansible_collections" / "linuxha").mkdir(parents=True)
os.symlink(REPO, _TREE / "ansible_collections" / "linuxha" / "vrrp")
sys.path.insert(0, str(_TREE))


class AgentSocket:
    """Answers each request line with the reply `handler(request)` returns
    (a dict, or bytes sent as is), recording the requests."""

    def __init__(self, path: str, handler):
        self.path, self.handler, self.requests = path, handler, []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                if not data:
                    continue
                request = json.loads(data.split(b"\n")[0])
                self.requests.append(request)
                reply = self.handler(request)
                if reply is None:
                    continue
                conn.sendall(reply if isinstance(reply, bytes) else json.dumps(reply).encode() + b"\n")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def agent_socket(tmp_path):
    servers = []

    def start(handler):
        server = AgentSocket(str(tmp_path / "control.sock"), handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
