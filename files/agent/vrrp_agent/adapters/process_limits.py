"""Memory locking, CPU affinity and the real-time CPU limit (global_defs, see config/process_globals.py).

Rules:
- `vrrp_no_swap`: mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) (keepalived's
  call; MCL_ONFAULT locks pages as they are touched, so an idle heap reserve is
  not pinned). A reload that drops it unlocks (munlockall), as keepalived's
  reset does.
- `vrrp_cpu_affinity`: every thread of the agent (Linux pins threads); a reload
  that drops it gives back every online CPU.
- `vrrp_rlimit_rttime`: RLIMIT_RTTIME soft = limit/2, hard = limit, only while
  the agent runs real-time (the caller passes None otherwise); SIGXCPU at the
  soft limit is logged, never fatal (keepalived installs the same handler).
  A reload that drops it restores the limit the agent started with; without
  CAP_SYS_RESOURCE a hard limit cannot be raised back, and the agent says that
  it stays until a restart.
- Like scheduling.py: a missing right (CAP_IPC_LOCK, RLIMIT_MEMLOCK,
  CAP_SYS_RESOURCE) is a warning naming it, and the agent runs on.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import resource
import signal
from typing import List, Optional, Tuple

log = logging.getLogger("vrrp_agent")

MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4
_state = {"locked": False, "pinned": False}
_original_rttime: List[Tuple[int, int]] = []


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _lock_memory(no_swap: bool) -> List[str]:
    if no_swap == _state["locked"]:
        return []
    libc = _libc()
    if no_swap:
        if libc.mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0:
            err = ctypes.get_errno()
            return [f"vrrp_no_swap: mlockall failed: {os.strerror(err)} (needs root, CAP_IPC_LOCK "
                    "or LimitMEMLOCK=infinity in the unit); memory may be swapped"]
    else:
        libc.munlockall()
    _state["locked"] = no_swap
    return []


def _threads() -> List[int]:
    try:
        return sorted(int(tid) for tid in os.listdir("/proc/self/task"))
    except OSError:
        return [0]


def _pin(cpus: Tuple[int, ...]) -> List[str]:
    if not cpus and not _state["pinned"]:
        return []
    wanted = set(cpus) if cpus else set(range(int(os.sysconf("SC_NPROCESSORS_ONLN"))))
    for tid in _threads():
        try:
            os.sched_setaffinity(tid, wanted)
        except ProcessLookupError:
            continue
        except OSError as exc:
            return [f"vrrp_cpu_affinity {' '.join(map(str, sorted(wanted)))}: {exc.strerror or exc}"]
    _state["pinned"] = bool(cpus)
    return []


def _on_sigxcpu(signum: int, frame: object) -> None:
    log.warning("the agent is near its real-time CPU limit (vrrp_rlimit_rttime): SIGXCPU")


def _limit_rttime(limit_us: Optional[int]) -> List[str]:
    if not _original_rttime:
        _original_rttime.append(resource.getrlimit(resource.RLIMIT_RTTIME))
    wanted = (limit_us // 2, limit_us) if limit_us else _original_rttime[0]
    if resource.getrlimit(resource.RLIMIT_RTTIME) == wanted:
        return []
    if limit_us:
        signal.signal(signal.SIGXCPU, _on_sigxcpu)
    try:
        resource.setrlimit(resource.RLIMIT_RTTIME, wanted)
    except (ValueError, OSError) as exc:
        if limit_us:
            return [f"vrrp_rlimit_rttime {limit_us}: {exc} (raising a hard limit needs CAP_SYS_RESOURCE)"]
        return [f"vrrp_rlimit_rttime removed: the real-time CPU limit stays until the agent restarts "
                f"({exc}: raising a hard limit back needs CAP_SYS_RESOURCE)"]
    return []


def apply_process_limits(no_swap: bool, cpus: Tuple[int, ...], rttime_us: Optional[int]) -> List[str]:
    """Apply the three knobs (idempotent; called at start and on reload); return the problems."""
    problems = _lock_memory(no_swap) + _pin(cpus) + _limit_rttime(rttime_us)
    for problem in problems:
        log.warning("%s", problem)
    return problems
