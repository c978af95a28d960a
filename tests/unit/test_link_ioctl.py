"""adapters/link.py on the real kernel (no root needed): the interface ioctls answer
through one socket kept for the process, and a missing interface is an error, not
a stale answer."""

from __future__ import annotations

import socket

import pytest
from vrrp_agent.adapters import link


def test_hw_address_and_link_state_of_lo_through_one_kept_socket():
    assert link.hw_address("lo") == bytes(6)  # loopback: all zeros
    kept = link._ioctl_socket
    assert isinstance(kept, socket.socket) and kept.fileno() >= 0
    assert link.link_is_up("lo")
    assert link.hw_address("lo") == bytes(6)
    assert link._ioctl_socket is kept  # not one socket per call


def test_a_missing_interface_is_an_error():
    with pytest.raises(OSError):
        link.hw_address("nosuchif0")
    assert not link.link_is_up("nosuchif0")
