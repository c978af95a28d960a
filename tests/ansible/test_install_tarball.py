"""The collection installed like any other: the built tarball, ansible-galaxy, FQCN only.

`ansible-galaxy collection build` makes the artifact; it is installed into a
fresh collections path (with a requirements.yml for the newest ansible-core,
by its file name for the oldest supported one, mk/oldest.mk), and a two-node
cluster is converged from a playbook written outside the repository that
names the role by its FQCN only: one member holds the VIP. The oldest
ansible-core then runs the shipped playbook by its FQCN (linuxha.vrrp.site)
with a unit change on the same cluster: every member restarts, one at a time,
and one member still holds the VIP.

containers.podman (the lab's connection, from `make collections`) is copied
next to the installed collection: on a real site the connection is ssh.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
from podlab import REPO, PodLab, collections_path, run, seed_group_vars, unavailable_reason

VIP = "198.51.100.100"
GROUP_VARS = seed_group_vars("198.51.100.100/24")
PLAYBOOK = """\
---
- name: Deploy the VRRP cluster with the installed collection
  hosts: vrrp
  become: true
  roles:
    - role: linuxha.vrrp.vrrp
"""
NEWEST_BIN = REPO / ".venv" / "bin"

pytestmark = pytest.mark.skipif(bool(unavailable_reason()), reason=unavailable_reason() or "")


def oldest_bin() -> Path:
    run(["make", "-s", "-C", str(REPO), "venv-oldest"], timeout=600)
    venv = run(["make", "-s", "-C", str(REPO), "--no-print-directory", "print-oldest-venv"]).stdout.strip()
    return Path(venv) / "bin"


def install(bin_dir: Path, target: Path, *source: str, cwd: Path) -> None:
    """ansible-galaxy collection install into a fresh path, plus the lab's connection plugin."""
    run([str(bin_dir / "ansible-galaxy"), "collection", "install", "-p", str(target), *source],
        cwd=cwd, env=clean_env(bin_dir, target))
    installed = target / "ansible_collections" / "linuxha" / "vrrp"
    assert (installed / "MANIFEST.json").is_file() and not installed.is_symlink()
    shutil.copytree(Path(collections_path(), "ansible_collections", "containers"),
                    target / "ansible_collections" / "containers")


def clean_env(bin_dir: Path, collections: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return dict(env, PATH=f"{bin_dir}:{env['PATH']}", ANSIBLE_COLLECTIONS_PATH=str(collections),
                ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_NOCOLOR="1",
                ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_HOST_KEY_CHECKING="False")


def converge(bin_dir: Path, collections: Path, site: Path, inventory: Path, play: str, *args: str):
    return run([str(bin_dir / "ansible-playbook"), "-i", str(inventory), play, *args],
               cwd=site, env=clean_env(bin_dir, collections), timeout=900)


def wait_owners(lab: PodLab, expected: list[str], timeout: float = 20.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        owners = lab.owners(VIP)
        if owners == expected or time.monotonic() > deadline:
            return owners
        time.sleep(0.3)


def main_pid(lab: PodLab, host: str) -> str:
    return lab.exec(host, ["systemctl", "show", "-p", "MainPID", "--value", "vrrp-agent"]).stdout.strip()


def test_tarball_installs_and_converges_with_the_newest_and_the_oldest_ansible(tmp_path):
    if not (NEWEST_BIN / "ansible-galaxy").exists():
        pytest.skip("no .venv: run `make venv`")
    old_bin = oldest_bin()

    build = tmp_path / "build"
    run([str(NEWEST_BIN / "ansible-galaxy"), "collection", "build", str(REPO), "--output-path", str(build)])
    (tarball,) = build.glob("linuxha-vrrp-*.tar.gz")

    # Everything the user writes lives outside the repository.
    site = tmp_path / "site"
    site.mkdir()
    (site / "deploy.yml").write_text(PLAYBOOK)
    (site / "requirements.yml").write_text(f"---\ncollections:\n  - name: {tarball}\n    type: file\n")
    newest, oldest = tmp_path / "collections-newest", tmp_path / "collections-oldest"
    install(NEWEST_BIN, newest, "-r", "requirements.yml", cwd=site)
    install(old_bin, oldest, str(tarball), cwd=site)

    with PodLab({"s1": 11, "s2": 12, "client": 50}) as lab:
        inventory = lab.inventory(tmp_path / "inventory", ["s1", "s2"], GROUP_VARS)
        out = converge(NEWEST_BIN, newest, site, inventory, "deploy.yml").stdout
        assert str(newest) in run([str(NEWEST_BIN / "ansible-galaxy"), "collection", "list", "linuxha.vrrp"],
                                  env=clean_env(NEWEST_BIN, newest)).stdout
        recap = r"^s1\s+: ok=\d+\s+changed=[1-9]\d*\s+unreachable=0\s+failed=0"
        assert re.search(recap, out, re.M), out[-3000:]
        assert wait_owners(lab, ["s1"]) == ["s1"]
        assert lab.answerer("client", VIP) == "s1"

        pids = {h: main_pid(lab, h) for h in ("s1", "s2")}
        cp = converge(old_bin, oldest, site, inventory, "linuxha.vrrp.site", "-e", "vrrp_log_level=debug")
        out = cp.stdout
        assert "Restart vrrp-agent one member at a time" in out, out[-3000:]
        assert "does not support Ansible version" not in cp.stderr  # meta/runtime.yml's requires_ansible
        assert all(main_pid(lab, h) != pids[h] for h in pids), out[-3000:]
        assert wait_owners(lab, ["s1"]) == ["s1"]
