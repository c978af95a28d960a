"""Podman systemd hosts for the collection's tests and `make demo`.

A PodLab is an --internal podman network in 198.51.100.0/24 with Debian
systemd containers built by tools/lab-images/build.sh (no registry: the image
comes from debootstrap). Every container and the network carry a per-run
prefix and are removed by close(), also when a test fails. Nothing is pulled.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]
SUBNET = "198.51.100.0/24"
RUN_OPTS = ["--runtime", "runc", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
            "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--systemd", "always"]


class PodLabError(RuntimeError):
    pass


def unavailable_reason() -> Optional[str]:
    if os.geteuid() != 0:
        return "podman lab tests need root"
    for tool in ("podman", "debootstrap"):
        if not shutil.which(tool):
            return f"{tool} is missing: apt-get install podman runc debootstrap"
    return None


def run(argv: List[str], check: bool = True, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and cp.returncode != 0:
        raise PodLabError(f"{' '.join(argv)} exited {cp.returncode}:\n"
                          f"{cp.stdout[-3000:]}\n{cp.stderr[-3000:]}")
    return cp


def build_image(suite: str = "bookworm") -> str:
    return run([str(REPO / "tools" / "lab-images" / "build.sh"), suite], timeout=900).stdout.strip()


class PodLab:
    def __init__(self, hosts: Dict[str, int], suite: str = "bookworm", prefix: Optional[str] = None):
        self.hosts = hosts  # name -> last octet
        self.suite = suite
        self.prefix = prefix or f"vl{uuid.uuid4().hex[:6]}"
        self.network = f"{self.prefix}-net"
        self.started: List[str] = []

    def container(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def address(self, host: str) -> str:
        return f"198.51.100.{self.hosts[host]}"

    def start(self) -> PodLab:
        self._refuse_clash()
        image = build_image(self.suite)
        run(["podman", "network", "create", "--internal", "--subnet", SUBNET, self.network])
        try:
            for host in self.hosts:
                run(["podman", "run", "-d", "--name", self.container(host), "--hostname", host,
                     "--network", self.network, "--ip", self.address(host), *RUN_OPTS, image])
                self.started.append(host)
            for host in self.hosts:
                self.wait_booted(host)
        except BaseException:
            self.close()
            raise
        return self

    def _refuse_clash(self) -> None:
        routes = run(["ip", "-j", "route", "show"]).stdout
        for route in json.loads(routes or "[]"):
            if str(route.get("dst", "")).startswith("198.51.100."):
                raise PodLabError(f"the host already routes 198.51.100.0/24 ({route}); refusing to clash")

    def wait_booted(self, host: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cp = self.exec(host, ["systemctl", "is-system-running"], check=False)
            if cp.stdout.strip() in ("running", "degraded"):
                return
            time.sleep(0.5)
        raise PodLabError(f"{host}: systemd did not finish booting: {cp.stdout.strip()}")

    def exec(self, host: str, argv: List[str], check: bool = True,
             timeout: float = 120) -> subprocess.CompletedProcess:
        return run(["podman", "exec", self.container(host), *argv], check=check, timeout=timeout)

    def owners(self, vip: str) -> List[str]:
        """Hosts holding VIP on an interface (ip -j addr)."""
        holders = []
        for host in self.hosts:
            cp = self.exec(host, ["ip", "-j", "-4", "addr", "show"], check=False)
            for link in json.loads(cp.stdout or "[]"):
                if any(a.get("local") == vip for a in link.get("addr_info", [])):
                    holders.append(host)
        return holders

    def answerer(self, client: str, vip: str) -> Optional[str]:
        """Which host answers ARP for VIP, as the client sees it (its MAC, mapped to a host)."""
        self.exec(client, ["ip", "neigh", "flush", "dev", "eth0"], check=False)
        self.exec(client, ["ping", "-c", "1", "-W", "1", vip], check=False)
        neigh = json.loads(self.exec(client, ["ip", "-j", "neigh", "show", vip]).stdout or "[]")
        mac = neigh[0].get("lladdr") if neigh else None
        for host in self.hosts:
            link = json.loads(self.exec(host, ["ip", "-j", "link", "show", "eth0"]).stdout)
            if link and link[0].get("address") == mac:
                return host
        return None

    def inventory(self, path: Path, cluster_hosts: List[str], group_vars: str,
                  host_vars: Optional[Dict[str, Dict[str, str]]] = None) -> Path:
        lines = ["all:", "  children:", "    vrrp:", "      children:", "        lab_cluster:",
                 "          hosts:"]
        for host in cluster_hosts:
            extra = "".join(f", {k}: {v}" for k, v in (host_vars or {}).get(host, {}).items())
            lines.append(f"            {host}: {{ansible_host: {self.container(host)}{extra}}}")
        lines += ["      vars:", "        ansible_connection: containers.podman.podman",
                  "        ansible_python_interpreter: /usr/bin/python3", "        ansible_become: false"]
        path.mkdir(parents=True, exist_ok=True)
        (path / "hosts.yml").write_text("\n".join(lines) + "\n")
        (path / "group_vars").mkdir(exist_ok=True)
        (path / "group_vars" / "lab_cluster.yml").write_text(group_vars)
        return path / "hosts.yml"

    def close(self) -> None:
        names = [self.container(h) for h in self.hosts]
        subprocess.run(["podman", "rm", "-f", "-t", "0", *names], capture_output=True)
        subprocess.run(["podman", "network", "rm", "-f", self.network], capture_output=True)
        self.started.clear()

    def __enter__(self) -> PodLab:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def collections_path() -> str:
    """The tree `make collections` built (mk/ansible.mk)."""
    path = os.environ.get("ANSIBLE_COLLECTIONS_PATH")
    if not path or not Path(path, "ansible_collections", "containers", "podman").is_dir():
        run(["make", "-s", "-C", str(REPO), "collections"], timeout=600)
        path = run(["make", "-s", "-C", str(REPO), "--no-print-directory",
                    "print-collections"]).stdout.strip()
    return path


def playbook(inventory: Path, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    venv_bin = REPO / ".venv" / "bin"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_NOCOLOR="1", PATH=f"{venv_bin}:{os.environ['PATH']}",
               ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_STDOUT_CALLBACK="default")
    argv = [str(venv_bin / "ansible-playbook"), "-i", str(inventory), str(REPO / "playbooks" / name), *args]
    return run(argv, check=check, env=env, timeout=900)
