"""The lab network's ownership rules (podlab.create_network), on real podman.

A network left behind by a killed run must not block the next run (the CI
failed on exactly that once); a network in the subnet that is not ours is
named in the error and left alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
from podlab import (
    OWNER_LABEL,
    SUBNET,
    PodLabError,
    create_network,
    remove_network,
    run,
    unavailable_reason,
)

pytestmark = pytest.mark.skipif(bool(unavailable_reason()), reason=unavailable_reason() or "")


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def networks() -> dict:
    listed = json.loads(run(["podman", "network", "ls", "--format", "json"]).stdout or "[]")
    return {n["name"]: n for n in listed}


def test_a_lab_left_by_a_dead_run_is_removed_before_the_next_one():
    stale, fresh = f"vl{uuid.uuid4().hex[:6]}-net", f"vl{uuid.uuid4().hex[:6]}-net"
    try:
        create_network(stale, dead_pid())
        create_network(fresh, os.getpid())
        present = networks()
        assert stale not in present
        assert present[fresh]["labels"][OWNER_LABEL] == str(os.getpid())
        assert present[fresh]["subnets"][0]["subnet"] == SUBNET
    finally:
        remove_network(stale)
        remove_network(fresh)


def test_a_foreign_network_in_the_subnet_is_named_and_kept():
    ours, foreign = f"vl{uuid.uuid4().hex[:6]}-net", f"other{uuid.uuid4().hex[:6]}"
    try:
        create_network(ours, os.getpid())  # waits its turn if another lab runs
        remove_network(ours)
        run(["podman", "network", "create", "--internal", "--subnet", SUBNET, foreign])
        with pytest.raises(PodLabError, match=foreign):
            create_network(ours, os.getpid())
        assert foreign in networks()
        assert ours not in networks()
    finally:
        subprocess.run(["podman", "network", "rm", "-f", foreign], capture_output=True)
        remove_network(ours)


def test_a_part_of_the_subnet_held_by_a_live_lab_holds_the_whole_and_the_reverse():
    """The routed scenario holds /26s of the lab's /24: a run wanting the /24 waits for
    them (and a /26 waits for a /24), instead of failing on podman's overlap error."""
    part, whole = f"vl{uuid.uuid4().hex[:6]}-a", f"vl{uuid.uuid4().hex[:6]}-net"
    try:
        create_network(part, os.getpid(), subnet="198.51.100.64/26")
        with pytest.raises(PodLabError, match=f"{part} .* still holds {SUBNET}"):
            create_network(whole, os.getpid(), wait=0.5)
        remove_network(part)
        create_network(whole, os.getpid(), wait=0.5)
        with pytest.raises(PodLabError, match=f"{whole} .* still holds 198.51.100.64/26"):
            create_network(part, os.getpid(), wait=0.5, subnet="198.51.100.64/26")
    finally:
        remove_network(part)
        remove_network(whole)
