"""`make deps` (mk/deps.mk): the newcomer's set-up, run by every entry point.

Asserted on the real Makefile with a package list of our own: nothing is
installed or removed on this machine by these tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MISSING = "linuxha-vrrp-no-such-package"

pytestmark = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg-query (Debian/Ubuntu)")


def make_deps(packages_file: Path, user: str | None = None) -> subprocess.CompletedProcess:
    argv = ["make", "-s", "--no-print-directory", "-C", str(REPO), "deps",
            f"APT_PACKAGES_FILE={packages_file}"]
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_nothing_to_do_when_every_package_is_installed(tmp_path):
    listing = tmp_path / "packages"
    listing.write_text("# a comment line\nmake\n")
    cp = make_deps(listing)
    assert cp.returncode == 0 and cp.stdout == "" and cp.stderr == "", cp


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None,
                    reason="runs make as nobody: needs root and runuser")
def test_a_normal_user_is_told_the_exact_command():
    with tempfile.TemporaryDirectory() as where:  # under /tmp: nobody can read it
        Path(where).chmod(0o755)
        listing = Path(where) / "packages"
        listing.write_text(f"make\n{MISSING}\n")
        listing.chmod(0o644)
        cp = make_deps(listing, user="nobody")
    assert cp.returncode == 2, cp
    assert f"missing Debian packages: {MISSING}" in cp.stderr
    assert f"apt-get install -y {MISSING}" in cp.stderr


def test_an_unreadable_list_is_an_error(tmp_path):
    cp = make_deps(tmp_path / "no-such-list")
    assert cp.returncode == 2 and "make deps: cannot read" in cp.stderr, cp
