"""Our agent as a lab process: the counterpart of netlab.Keepalived.

`Agent(node, config)` writes the config into the lab's logdir and runs
`python -m vrrp_agent run` from this checkout in the node's namespace, with its
own state dir and control socket (unix sockets are file-system objects, so the
test process reaches them from outside the namespace).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from netlab import Host, LabError, wait_until

REPO = Path(__file__).resolve().parents[2]
AGENT_DIR = REPO / "files" / "agent"
if str(AGENT_DIR) not in sys.path:
    sys.path.insert(0, str(AGENT_DIR))

from vrrp_agent.control import ControlError, request  # noqa: E402


def agent_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(AGENT_DIR)
    return env


class Agent:
    """vrrp-agent in a node namespace, logging into the lab's logdir."""

    def __init__(self, node: Host, config: str, *, name: str = "agent",
                 extra_args: Sequence[str] = (), start: bool = True,
                 python: str = sys.executable):
        self.python = python
        self.node = node
        self.lab = node.lab
        base = self.lab.logdir / f"{node.label}-{name}"
        self.name = name
        self.conf_path = base.with_suffix(".conf")
        self.conf_path.write_text(config)
        self.state_dir = Path(f"{base}-state")
        self.socket = str(base.with_suffix(".sock"))
        self.extra_args = list(extra_args)
        self.proc: Optional[subprocess.Popen] = None
        self.frozen = False
        if start:
            self.start()

    def argv(self) -> list:
        return [self.python, "-m", "vrrp_agent", "run", "-f", str(self.conf_path),
                "--state-dir", str(self.state_dir), "--control-socket", self.socket,
                "--log-level", "debug", *self.extra_args]

    def start(self, timeout: float = 15.0) -> Agent:
        if self.running:
            raise LabError("agent already running")
        proc = self.proc = self.node.popen(self.argv(), name=self.name, env=agent_env())
        self.log_path: Path = proc.log_path  # type: ignore[attr-defined]
        wait_until(lambda: proc.poll() is not None or self._answers(), timeout,
                   message=f"agent on {self.node.label} answers on its control socket")
        if proc.poll() is not None:
            raise LabError(f"agent exited with {proc.returncode}:\n{self.log_text()}")
        return self

    def _answers(self) -> bool:
        try:
            self.status()
        except ControlError:
            return False
        return True

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ---- control socket
    def status(self) -> Dict[str, Any]:
        return request(self.socket, "status", timeout=5)

    def instance(self, name: str = "VI_1") -> Dict[str, Any]:
        for inst in self.status()["instances"]:
            if inst["name"] == name:
                return inst
        raise KeyError(name)

    def state(self, name: str = "VI_1") -> str:
        return self.instance(name)["state"]

    def cli_argv(self, *args: str) -> list:
        return [sys.executable, "-m", "vrrp_agent", *args, "--control-socket", self.socket]

    def cli(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        """Run `vrrp-agent ARGS --control-socket SOCK` from the test process."""
        return subprocess.run(self.cli_argv(*args), env=agent_env(), capture_output=True,
                              text=True, timeout=30, check=check)

    # ---- signals
    def freeze(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signum)

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """SIGTERM (priority-0 advert, VIPs removed) and wait for the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            if self.frozen:
                self.thaw()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except (AttributeError, FileNotFoundError):
            return ""


def agent_instance(name: str = "VI_1", *, interface: str = "eth0", vrid: int = 51,
                   priority: Optional[int] = 100, advert_int: float = 1, version: int = 2,
                   vips: Sequence[str] = ("198.51.100.100/24",), state: str = "BACKUP",
                   auth_pass: Optional[str] = None, extra: str = "") -> str:
    """One vrrp_instance block in keepalived syntax (the same text both daemons read)."""
    auth = ""
    if auth_pass is not None:
        auth = f"    authentication {{\n        auth_type PASS\n        auth_pass {auth_pass}\n    }}\n"
    prio = "" if priority is None else f"    priority {priority}\n"
    vip_lines = "".join(f"        {v}\n" for v in vips)
    return (f"vrrp_instance {name} {{\n    state {state}\n    interface {interface}\n"
            f"    virtual_router_id {vrid}\n{prio}    advert_int {advert_int}\n"
            f"    version {version}\n{auth}    virtual_ipaddress {{\n{vip_lines}    }}\n"
            f"{extra}}}\n")
