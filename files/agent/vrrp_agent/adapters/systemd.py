"""sd_notify(3) with the standard library: READY=1, STOPPING=1, WATCHDOG=1.

Does nothing when NOTIFY_SOCKET is unset (not under systemd Type=notify).
An abstract socket name starts with "@" and is sent with a leading NUL.
"""

from __future__ import annotations

import os
import socket
from typing import Optional


def notify(message: str) -> bool:
    """Send one notification; True if it was sent."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError:
        return False
    return True


def watchdog_interval_s() -> Optional[float]:
    """Half the WATCHDOG_USEC period (systemd's advice), when it is meant for us."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2_000_000
    except ValueError:
        return None
