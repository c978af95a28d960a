"""`make demo`: the main job on a built-in lab, from nothing.

Builds the Debian systemd image (debootstrap, no registry), starts two nodes
and a client in podman containers on an internal network, deploys the seed's
two-node cluster with playbooks/site.yml, prints the cluster table, stops the
master to show the VIP move (and who answers the client), switches over with
the vrrp_switchover module and back, and leaves the lab up for a look around.
`make demo-clean` removes it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "ansible"))

from podlab import DEMO_SUBNET, PodLab, PodLabError, playbook, seed_group_vars, unavailable_reason  # noqa: E402

PREFIX = "vrrp-demo"
# The demo has its own subnet and names (vrrp-demo-*): it can stay up while `make test` runs.
VIP = "203.0.113.100"
WORKDIR = Path("/var/tmp/vrrp-demo")
GROUP_VARS = seed_group_vars(f"{VIP}/24")


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def show_owner(lab: PodLab) -> None:
    owners = lab.owners(VIP)
    print(f"    VIP {VIP} is on: {', '.join(owners) or 'nobody'}; "
          f"the client's ARP answer comes from: {lab.answerer('client', VIP) or 'nobody'}", flush=True)


def wait_owner(lab: PodLab, host: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while lab.owners(VIP) != [host] and time.monotonic() < deadline:
        time.sleep(0.2)


def table(lab: PodLab, inventory: Path) -> None:
    out = playbook(inventory, "status.yml").stdout
    for line in out.splitlines():
        if "CLUSTER" in line or "lab_cluster" in line:
            print("    " + line.strip().strip('",'), flush=True)


def main() -> int:
    reason = unavailable_reason()
    if reason:
        print(f"make demo: {reason}", file=sys.stderr)
        return 2
    lab = PodLab({"s1": 11, "s2": 12, "client": 50}, prefix=PREFIX, subnet=DEMO_SUBNET)
    lab.close()  # a previous demo's lab, if any
    step("building the Debian 12 systemd image from Debian packages (cached after the first run)")
    step("starting the lab: s1 203.0.113.11, s2 203.0.113.12, client 203.0.113.50 "
         "(podman, internal network)")
    lab.start()
    inventory = lab.inventory(WORKDIR, ["s1", "s2"], GROUP_VARS)
    step(f"ansible-playbook -i {inventory} playbooks/site.yml")
    out = playbook(inventory, "site.yml").stdout
    print("\n".join("    " + line for line in out.strip().splitlines()[-3:]), flush=True)
    wait_owner(lab, "s1")
    step("cluster status (playbooks/status.yml)")
    table(lab, inventory)
    show_owner(lab)
    step("stopping the master's agent (systemctl stop vrrp-agent on s1)")
    lab.exec("s1", ["systemctl", "stop", "vrrp-agent"])
    wait_owner(lab, "s2")
    show_owner(lab)
    step("starting s1 again: it has the higher priority and preempts")
    lab.exec("s1", ["systemctl", "start", "vrrp-agent"])
    wait_owner(lab, "s1")
    show_owner(lab)
    step("planned switchover to s2 with the module (playbooks/switchover.yml -e vrrp_switchover_to=s2)")
    playbook(inventory, "switchover.yml", "-e", "vrrp_switchover_to=s2")
    show_owner(lab)
    table(lab, inventory)
    step("and back to s1 (switchover.yml -e vrrp_switchover_to=s1, then maintenance_release.yml)")
    playbook(inventory, "switchover.yml", "-e", "vrrp_switchover_to=s1")
    playbook(inventory, "maintenance_release.yml", "-e", "vrrp_node=s1")
    show_owner(lab)
    step("done. Look around:")
    print(f"    podman exec -it {PREFIX}-s1 vrrp-agent status\n"
          f"    ANSIBLE_COLLECTIONS_PATH=$(make -s print-collections) .venv/bin/ansible-playbook "
          f"-i {inventory} playbooks/status.yml\n"
          "    tear down: make demo-clean", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PodLabError as exc:
        print(f"make demo failed: {exc}\n(run `make demo-clean` to remove what was started)", file=sys.stderr)
        sys.exit(1)
