"""Podman systemd hosts for the collection's tests and `make demo`.

A PodLab is an --internal podman network in 198.51.100.0/24 with Debian
systemd containers built by tools/lab-images/build.sh (no registry: the image
comes from debootstrap). Every container and the network carry a per-run
prefix and are removed by close(), also when a test fails. Nothing is pulled.

The tests and Molecule use 198.51.100.0/24; `make demo` has its own lab in
203.0.113.0/24 (DEMO_SUBNET) with its own names, so the demo can stay up while
the tests run. Only one lab can hold a subnet at a time, so create_network() labels the
network with the pid of the process that owns it and the boot id. A lab left
behind by a killed run (owner gone) is removed before a new one is created; a
lab whose owner is alive is waited for, so parallel runs queue instead of
colliding. A network in the subnet that is not ours is an error naming it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUBNET = "198.51.100.0/24"
DEMO_SUBNET = "203.0.113.0/24"
LAB_PREFIXES = ("vl", "vm", "vrrp-demo-")
OWNER_LABEL = "linuxha-vrrp.owner-pid"
BOOT_LABEL = "linuxha-vrrp.boot-id"
RUN_OPTS = ["--runtime", "runc", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
            "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--systemd", "always"]


# systemd 257 (Debian 13) needs CAP_SYS_ADMIN to set up a service's sandbox
# (User= with ProtectSystem= and friends) inside an unprivileged container;
# on a real host it has it. systemd 252 (Debian 12) manages without.
SUITE_OPTS = {"trixie": ["--cap-add", "SYS_ADMIN"]}


def seed_group_vars(vip: str, auth_pass: str = "1111") -> str:
    """Group vars of the seed's keepalived pair (VRID 1, advert 1 s, PASS) on a lab VIP
    (address/prefix): what the demo and the deploy and install tests converge."""
    return ("# The seed's keepalived pair (VRID 1, advert 1 s, PASS) on the lab's addresses.\n"
            "vrrp_cluster: lab_cluster\nvrrp_instances:\n  - name: VI_1\n    interface: eth0\n"
            f"    vrid: 1\n    advert_int: 1\n    auth_pass: \"{auth_pass}\"\n    vips: [{vip}]\n")


class PodLabError(RuntimeError):
    pass


def unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "podman lab tests need root"
    for tool in ("podman", "debootstrap"):
        if not shutil.which(tool):
            return f"{tool} is missing: apt-get install podman runc debootstrap"
    return None


def run(argv: list[str], check: bool = True, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and cp.returncode != 0:
        raise PodLabError(f"{' '.join(argv)} exited {cp.returncode}:\n"
                          f"{cp.stdout[-3000:]}\n{cp.stderr[-3000:]}")
    return cp


def build_image(suite: str = "bookworm") -> str:
    return run([str(REPO / "tools" / "lab-images" / "build.sh"), suite], timeout=900).stdout.strip()


def _boot_id() -> str:
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def _owner_alive(labels: dict[str, str]) -> bool:
    """The run that made a lab network is still alive (same boot, pid exists)."""
    try:
        pid = int(labels.get(OWNER_LABEL, ""))
    except ValueError:
        return False
    if pid <= 0 or labels.get(BOOT_LABEL) != _boot_id():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _subnet_holder(subnet: str) -> dict | None:
    """The network holding SUBNET or a part of it (the routed scenario holds /26s of the /24)."""
    import ipaddress

    wanted = ipaddress.ip_network(subnet)
    networks = json.loads(run(["podman", "network", "ls", "--format", "json"]).stdout or "[]")
    for network in networks:
        for held in network.get("subnets") or []:
            try:
                if ipaddress.ip_network(held.get("subnet", "")).overlaps(wanted):
                    return network
            except ValueError:
                continue
    return None


def podman_bridges() -> set[str]:
    """The host-side bridge interfaces of the podman networks."""
    networks = json.loads(run(["podman", "network", "ls", "--format", "json"]).stdout or "[]")
    return {n["network_interface"] for n in networks if n.get("network_interface")}


def remove_network(name: str) -> None:
    """Remove a lab network and every container attached to it."""
    ids = run(["podman", "ps", "-aq", "--filter", f"network={name}"], check=False).stdout.split()
    if ids:
        subprocess.run(["podman", "rm", "-f", "-t", "0", *ids], capture_output=True)
    subprocess.run(["podman", "network", "rm", "-f", name], capture_output=True)


def create_network(name: str, owner_pid: int, wait: float = 1800, subnet: str = SUBNET) -> None:
    """Create the lab's --internal network in SUBNET, owned by owner_pid."""
    deadline = time.monotonic() + wait
    announced = ""
    while True:
        holder = _subnet_holder(subnet)
        if holder is None:
            break
        held_by, labels = holder["name"], holder.get("labels") or {}
        if OWNER_LABEL not in labels and not held_by.startswith(LAB_PREFIXES):
            raise PodLabError(f"podman network {held_by!r} already uses {subnet}, and it is not a "
                              f"linuxha-vrrp lab: remove it (podman network rm {held_by})")
        if not _owner_alive(labels):
            print(f"podlab: removing the stale lab network {held_by} (its run is gone)", file=sys.stderr)
            remove_network(held_by)
            continue
        if time.monotonic() > deadline:
            raise PodLabError(f"lab network {held_by} (pid {labels[OWNER_LABEL]}) still holds {subnet}")
        if announced != held_by:
            print(f"podlab: waiting for the running lab {held_by} (pid {labels[OWNER_LABEL]}) "
                  f"to release {subnet}", file=sys.stderr)
            announced = held_by
        time.sleep(2)
    cp = run(["podman", "network", "create", "--internal", "--subnet", subnet,
              "--label", f"{OWNER_LABEL}={owner_pid}", "--label", f"{BOOT_LABEL}={_boot_id()}", name],
             check=False)
    if cp.returncode != 0 and "already used" in cp.stderr and time.monotonic() < deadline:
        # another waiter took the subnet between our look and our create: queue again
        return create_network(name, owner_pid, deadline - time.monotonic(), subnet)
    if cp.returncode != 0:
        raise PodLabError(f"podman network create {name} ({subnet}) exited {cp.returncode}: "
                          f"{cp.stderr.strip()}")


class PodLab:
    def __init__(self, hosts: dict[str, int], suite: str = "bookworm", prefix: str | None = None,
                 subnet: str = SUBNET):
        self.hosts = hosts  # name -> last octet
        self.suite = suite
        self.subnet = subnet
        self.prefix = prefix or f"vl{uuid.uuid4().hex[:6]}"
        self.network = f"{self.prefix}-net"
        self.started: list[str] = []

    def container(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def address(self, host: str) -> str:
        return self.subnet.rsplit(".", 1)[0] + f".{self.hosts[host]}"

    def start(self) -> PodLab:
        self._refuse_clash()
        image = build_image(self.suite)
        create_network(self.network, os.getpid(), subnet=self.subnet)
        try:
            for host in self.hosts:
                run(["podman", "run", "-d", "--name", self.container(host), "--hostname", host,
                     "--network", self.network, "--ip", self.address(host), *RUN_OPTS,
                     *SUITE_OPTS.get(self.suite, []), image])
                self.started.append(host)
            for host in self.hosts:
                self.wait_booted(host)
        except BaseException:
            self.close()
            raise
        return self

    def _refuse_clash(self) -> None:
        """A host route into the lab's subnet that no podman network made is a clash
        (a podman network there is create_network()'s business: a lab is waited for,
        a foreign network is named)."""
        bridges = podman_bridges()
        routes = run(["ip", "-j", "route", "show"]).stdout
        for route in json.loads(routes or "[]"):
            if route.get("dev") in bridges:
                continue
            if str(route.get("dst", "")).startswith(self.subnet.rsplit(".", 1)[0] + "."):
                raise PodLabError(f"the host already routes {self.subnet} ({route}); refusing to clash")

    def wait_booted(self, host: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cp = self.exec(host, ["systemctl", "is-system-running"], check=False)
            if cp.stdout.strip() in ("running", "degraded"):
                return
            time.sleep(0.5)
        raise PodLabError(f"{host}: systemd did not finish booting: {cp.stdout.strip()}")

    def exec(self, host: str, argv: list[str], check: bool = True,
             timeout: float = 120) -> subprocess.CompletedProcess:
        return run(["podman", "exec", self.container(host), *argv], check=check, timeout=timeout)

    def owners(self, vip: str) -> list[str]:
        """Hosts holding VIP on an interface (ip -j addr)."""
        holders = []
        for host in self.hosts:
            cp = self.exec(host, ["ip", "-j", "-4", "addr", "show"], check=False)
            for link in json.loads(cp.stdout or "[]"):
                if any(a.get("local") == vip for a in link.get("addr_info", [])):
                    holders.append(host)
        return holders

    def answerer(self, client: str, vip: str) -> str | None:
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

    def inventory(self, path: Path, cluster_hosts: list[str], group_vars: str,
                  host_vars: dict[str, dict[str, str]] | None = None) -> Path:
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


if __name__ == "__main__":
    # mk/molecule.mk: podlab.py create-network NAME OWNER_PID [SUBNET] | remove-network NAME
    try:
        if sys.argv[1:2] == ["create-network"] and len(sys.argv) in (4, 5):
            create_network(sys.argv[2], int(sys.argv[3]), subnet=(sys.argv[4:] or [SUBNET])[0])
        elif sys.argv[1:2] == ["remove-network"] and len(sys.argv) == 3:
            remove_network(sys.argv[2])
        else:
            sys.exit("usage: podlab.py create-network NAME OWNER_PID [SUBNET] | remove-network NAME")
    except PodLabError as exc:
        sys.exit(f"podlab: {exc}")
