"""Process presence for vrrp_track_process: a cheap scan of /proc (no netlink connector).

Rules (keepalived's matching):
- `process NAME`: NAME is compared with /proc/PID/comm (the kernel's 15-byte
  name), or with argv[0] when `full_command` is set (or NAME is longer than 15).
- Parameters, when given, are compared with argv[1:]: `exact` (all of them,
  nothing more), `initial` (argv starts with them), `partial` (they appear
  in order as a contiguous run).
- Kernel threads (empty cmdline) never match. Processes that vanish during
  the scan are skipped.
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, Optional, Tuple

from vrrp_agent.config.model import TrackProcessConfig

COMM_LEN = 15


def _read(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def snapshot(proc: str = "/proc") -> List[Tuple[str, List[str]]]:
    """(comm, argv) of every user-space process."""
    out = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        cmdline = _read(f"{proc}/{entry}/cmdline")
        comm = _read(f"{proc}/{entry}/comm")
        if not cmdline or comm is None:
            continue
        argv = [a.decode(errors="replace") for a in cmdline.rstrip(b"\0").split(b"\0")]
        out.append((comm.decode(errors="replace").strip(), argv))
    return out


def matches(cfg: TrackProcessConfig, comm: str, argv: List[str]) -> bool:
    if cfg.full_command or len(cfg.process) > COMM_LEN:
        if not argv or argv[0] != cfg.process:
            return False
    elif comm != cfg.process:
        return False
    if not cfg.params:
        return True
    args, want = argv[1:], list(cfg.params)
    if cfg.param_match == "exact":
        return args == want
    if cfg.param_match == "initial":
        return args[:len(want)] == want
    return any(args[i:i + len(want)] == want for i in range(len(args) - len(want) + 1))


def count(cfgs: Iterable[TrackProcessConfig], proc: str = "/proc") -> Dict[str, int]:
    cfgs = list(cfgs)
    counts = {c.name: 0 for c in cfgs}
    if not cfgs:
        return counts
    for comm, argv in snapshot(proc):
        for cfg in cfgs:
            if matches(cfg, comm, argv):
                counts[cfg.name] += 1
    return counts
