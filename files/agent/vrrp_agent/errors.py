"""Errors, split by who is at fault.

- ConfigError: the operator. Carries FILE and LINE; str() is "FILE:LINE: message".
  Raised at load time; nothing is applied when it is raised.
- PacketError: a peer (or a stranger) sent something we drop. `reason` is the
  counter key the receive path increments; it never escapes the receive path.
- SystemFailure: the OS refused (netlink, socket). Logged, retried or FAULT.
"""

from __future__ import annotations

from typing import Optional


class VrrpError(Exception):
    """Base of every error the agent raises on purpose."""


class ConfigError(VrrpError):
    """An invalid configuration, located at FILE:LINE when known."""

    def __init__(self, message: str, file: Optional[str] = None, line: Optional[int] = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        if self.line is None:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


class PacketError(VrrpError):
    """A received packet is dropped; `reason` names the discard counter."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class SystemFailure(VrrpError):
    """The OS refused an operation (netlink, socket, process)."""
