"""Health checks, notify hooks and resources: what runs beside an instance.

Frozen dataclasses, no I/O (the rules of model.py): config/tracking.py and
config/alerts.py build them; health.py, notify.py, alerts.py and resources.py
run them. A command is an argv split like keepalived's, never a shell string. Every object remembers its
`file` and `line` for later FILE:LINE errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class ScriptUser:
    """`user USER [GROUP]` / `script_user USER [GROUP]`: who a script runs as."""

    user: str
    group: Optional[str] = None


@dataclass(frozen=True)
class ScriptConfig:
    """`vrrp_script NAME { ... }`: a periodic health check."""

    name: str
    argv: Tuple[str, ...]
    """The command, split like keepalived does (shell-like words and quotes); never a shell."""
    interval_s: float = 1.0
    timeout_s: Optional[float] = None
    """None = the interval (keepalived)."""
    weight: int = 0
    weight_reverse: bool = False
    rise: int = 1
    fall: int = 1
    user: Optional[ScriptUser] = None
    init_fail: bool = False
    file: str = ""
    line: int = 0

    @property
    def run_timeout_s(self) -> float:
        return self.interval_s if self.timeout_s is None else self.timeout_s


@dataclass(frozen=True)
class TrackFileConfig:
    """`vrrp_track_file NAME { file PATH; weight W [reverse]; init_file [V] [overwrite] }`."""

    name: str
    path: str
    weight: int = 1
    weight_reverse: bool = False
    init_value: Optional[int] = None
    """init_file: write this value at start if the file is missing (or always with overwrite)."""
    init_overwrite: bool = False
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class TrackProcessConfig:
    """`vrrp_track_process NAME { process P [ARGS]; param_match; weight; quorum; ... }`."""

    name: str
    process: str
    params: Tuple[str, ...] = ()
    param_match: str = "exact"
    """exact | initial | partial (keepalived's param_match)."""
    full_command: bool = False
    weight: int = 0
    weight_reverse: bool = False
    quorum: int = 1
    quorum_max: Optional[int] = None
    fork_delay_s: float = 0.0
    """A gain of quorum counts once it has lasted this long (fork_delay / delay)."""
    terminate_delay_s: float = 0.0
    """A loss of quorum counts once it has lasted this long (terminate_delay / delay)."""
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class TrackRef:
    """One entry of track_script / track_interface / track_file / track_process."""

    kind: str
    """"script" | "interface" | "file" | "process"."""
    name: str
    weight: Optional[int] = None
    """None = the tracked object's own weight (interfaces: 0 = FAULT while down)."""
    reverse: Optional[bool] = None
    """None = the tracked object's own setting."""
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class NotifyCommand:
    """A notify hook: argv (split like keepalived does) and an optional user."""

    argv: Tuple[str, ...]
    user: Optional[ScriptUser] = None
    file: str = ""
    line: int = 0


RX_LOWER_PRI = "MASTER_RX_LOWER_PRI"
"""keepalived's event name; its hook gets only its configured words, no generic `notify`."""


@dataclass(frozen=True)
class FifoConfig:
    """`notify_fifo PATH [USER [GROUP]]` (+ `notify_fifo_script CMD`): state lines written to a FIFO."""

    path: str
    user: Optional[ScriptUser] = None
    """Owner given to the FIFO when the agent creates it (None: the script user's default)."""
    script: Optional[NotifyCommand] = None
    """Started with the FIFO path appended, when the FIFO is opened; SIGTERM at close."""
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class NotifyConfig:
    """notify_master / notify_backup / notify_fault / notify_stop / notify (generic)."""

    master: Optional[NotifyCommand] = None
    backup: Optional[NotifyCommand] = None
    fault: Optional[NotifyCommand] = None
    stop: Optional[NotifyCommand] = None
    deleted: Optional[NotifyCommand] = None
    """notify_deleted CMD: run when the instance leaves the configuration at a reload."""
    generic: Optional[NotifyCommand] = None
    """Run after the specific hook with TYPE NAME STATE PRIORITY appended."""
    master_rx_lower_pri: Optional[NotifyCommand] = None
    """Instances only: a master heard a lower priority (once per episode, answers.py)."""

    def for_state(self, state: str) -> Optional[NotifyCommand]:
        return {"MASTER": self.master, "BACKUP": self.backup, "FAULT": self.fault,
                "STOP": self.stop, "DELETED": self.deleted,
                RX_LOWER_PRI: self.master_rx_lower_pri}.get(state)

    @property
    def any(self) -> bool:
        return any((self.master, self.backup, self.fault, self.stop, self.deleted, self.generic,
                    self.master_rx_lower_pri))


@dataclass(frozen=True)
class ResourceConfig:
    """One resource of a resource_group (agent extension)."""

    kind: str
    """"service" (systemctl start|stop UNIT) or "script" (PATH ARGS... start|stop)."""
    name: str
    """The unit name (with suffix) or the script path."""
    argv: Tuple[str, ...]
    """service: ("systemctl", UNIT); script: (PATH, ARGS...). The verb is appended."""
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class ResourceGroupConfig:
    """`resource_group { service S; script PATH ARGS; timeout S; stop_retries N }` (extension)."""

    resources: Tuple[ResourceConfig, ...] = ()
    timeout_s: float = 30.0
    stop_retries: int = 3
    fault_hold_s: float = 60.0
    """After a failed start, FAULT is held this long (0 = until `vrrp-agent release`)."""
    file: str = ""
    line: int = 0
