"""CPU scheduling from global_defs: `vrrp_rt_priority` and `vrrp_priority`.

keepalived's answer to "thread timer expired" flaps: a VRRP daemon that is not
scheduled in time lets its adverts slip, and at short intervals a backup then
takes over from a healthy master. Rules:

- `vrrp_rt_priority N` (1..99): SCHED_RR at priority N for every thread of the
  agent (Linux schedules threads, so each one is set), with
  SCHED_RESET_ON_FORK so that scripts and services the agent starts run with
  normal scheduling, as keepalived's do.
- `vrrp_priority N` (-20..19): the nice value of every thread.
- Applied at start (after the netlink worker exists) and again on reload; a
  reload that removes a knob puts back normal scheduling (nice 0). Without
  either knob the agent leaves the scheduling it was started with alone (a
  unit's CPUSchedulingPolicy= keeps working).
- `max_auto_priority [N]` (keepalived 2.2.7, lib/scheduler.c): each time a
  timer fires more than `min_auto_priority_delay` (default 1 s) late, the
  agent steps up: SCHED_RR 1 when it was not real-time, then one more per late
  timer, never above N (no N: 99; 0 or -1: off). `AutoPriority` decides (pure),
  the driver measures the lateness and applies the level here.
- A short slice (`VRRP_AGENT_SLICE_US`, default 100 us, the kernel's floor;
  0: off): every thread under normal scheduling asks the kernel's EEVDF
  scheduler (Linux >= 6.12; older kernels ignore it) for a short time slice
  through sched_setattr's sched_runtime. A short slice gives no more CPU, it
  gives an earlier virtual deadline: the agent's wakeups (an advert, a
  master-down timer) preempt CPU-bound work at once instead of waiting for
  the current slice to end. Measured at 0.01 s under a CPU hog on every CPU:
  the advert deviation p99 went from 0.14-1.19 ms to 0.05 ms (keepalived,
  same runs: 0.18-0.29 ms), docs/benchmarks.md. Allowed to any user (no
  capability). Its nice value is kept; scripts and services the agent starts
  get the kernel's default slice (SCHED_RESET_ON_FORK), except under a
  negative `vrrp_priority`, which they inherit as they did before (the reset
  would take it from them). Applied with the knobs above, at start and after
  each reload; an unknown architecture or a refusal is logged, not fatal.
- The right comes from root or CAP_SYS_NICE (the role adds it to the non-root
  agent's unit only when vrrp_rt_priority is set), or from having been started
  at that priority already: keeping one's RT priority and adding reset-on-fork
  is allowed to anyone. Without it, or when the cgroup has no real-time budget
  (cgroup v1 cpu.rt_runtime_us = 0, as in most containers): a warning naming
  what is missing, and the agent runs on with the scheduling it has. Late
  adverts are a degraded state, not a reason to stop failover.
"""

from __future__ import annotations

import logging
import os
import platform
import struct
from typing import Any, Callable, List, Optional, Tuple

log = logging.getLogger("vrrp_agent")
SLICE_ENV = "VRRP_AGENT_SLICE_US"
SLICE_US_DEFAULT = 100  # the kernel's floor (0.1 ms)
SCHED_FLAG_RESET_ON_FORK = 0x01
# struct sched_attr, SCHED_ATTR_SIZE_VER0 (include/uapi/linux/sched/types.h):
#   u32 size; u32 sched_policy; u64 sched_flags; s32 sched_nice; u32 sched_priority;
#   u64 sched_runtime (a fair task's slice, ns); u64 sched_deadline; u64 sched_period
SCHED_ATTR = struct.Struct("=IIQiIQQQ")
NR_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274, "riscv64": 274, "armv7l": 380, "i686": 351,
                    "ppc64le": 355, "s390x": 345}


def _threads() -> List[int]:
    try:
        return sorted(int(tid) for tid in os.listdir("/proc/self/task"))
    except OSError:
        return [0]


def _set_rt(tid: int, rt_priority: int) -> None:
    policy = os.SCHED_RR | os.SCHED_RESET_ON_FORK
    if os.sched_getscheduler(tid) == policy and os.sched_getparam(tid).sched_priority == rt_priority:
        return
    os.sched_setscheduler(tid, policy, os.sched_param(rt_priority))


def _set_normal(tid: int) -> None:
    if os.sched_getscheduler(tid) & ~os.SCHED_RESET_ON_FORK != os.SCHED_OTHER:
        os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))


def apply_scheduling(rt_priority: int, nice: Optional[int],
                     previous: Tuple[int, Optional[int]] = (0, None)) -> List[str]:
    """Apply to every thread; return the problems (also logged as warnings).

    `previous` is what the running configuration had (rt_priority, nice)."""
    problems: List[str] = []
    if rt_priority or previous[0]:
        problems += _each_thread(lambda tid: _set_rt(tid, rt_priority) if rt_priority else _set_normal(tid),
                                 f"vrrp_rt_priority {rt_priority}",
                                 "root or CAP_SYS_NICE, and a real-time budget in the agent's cgroup "
                                 "(cpu.rt_runtime_us); scheduling unchanged")
    if nice is not None or previous[1] is not None:
        level = nice or 0
        problems += _each_thread(lambda tid: os.setpriority(os.PRIO_PROCESS, tid, level),
                                 f"vrrp_priority {level}",
                                 "root, CAP_SYS_NICE or RLIMIT_NICE (LimitNICE= in the unit); "
                                 "nice value unchanged")
    problems += request_short_slice(slice_us())
    for problem in problems:
        log.warning("%s", problem)
    return problems


def slice_us() -> int:
    """The slice asked for (module rules): VRRP_AGENT_SLICE_US, 0 for none."""
    text = os.environ.get(SLICE_ENV, str(SLICE_US_DEFAULT))
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value != 0 and not 100 <= value <= 100_000:
        log.warning("%s=%s: expected 0 (off) or 100..100000 us; using %d",
                    SLICE_ENV, text, SLICE_US_DEFAULT)
        return SLICE_US_DEFAULT
    return value


def request_short_slice(us: int) -> List[str]:
    """Every thread under normal scheduling asks for a US-microsecond slice (module rules)."""
    number = NR_SCHED_SETATTR.get(platform.machine())
    if us <= 0 or number is None:
        return []
    import ctypes  # only here: the timerfd adapter is its other user

    syscall = ctypes.CDLL(None, use_errno=True).syscall

    def set_slice(tid: int) -> None:
        if os.sched_getscheduler(tid) & ~os.SCHED_RESET_ON_FORK != os.SCHED_OTHER:
            return  # real-time: no slice
        nice = os.getpriority(os.PRIO_PROCESS, tid)
        flags = SCHED_FLAG_RESET_ON_FORK if nice >= 0 else 0
        attr: Any = ctypes.create_string_buffer(
            SCHED_ATTR.pack(SCHED_ATTR.size, os.SCHED_OTHER, flags, nice, 0, us * 1000, 0, 0))
        if syscall(number, tid, attr, 0) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))

    return _each_thread(set_slice, f"{SLICE_ENV}={us}",
                        "sched_setattr, which a container's seccomp profile may refuse; slice unchanged")


class AutoPriority:
    """The max_auto_priority policy: the SCHED_RR level to go to after a late timer, if any."""

    def __init__(self, maximum: int, min_delay_s: float, current: int):
        self.maximum = maximum
        self.min_delay_s = min_delay_s
        self.current = current
        """The real-time priority in force (vrrp_rt_priority, then each step)."""

    def on_late(self, late_s: float) -> Optional[int]:
        """A timer fired `late_s` late: the new level, or None (not late enough, or at the cap)."""
        if self.maximum <= 0 or late_s <= self.min_delay_s or self.current >= self.maximum:
            return None
        self.current = self.current + 1 if self.current else 1
        return self.current


def _each_thread(change: Callable[[int], None], what: str, needs: str) -> List[str]:
    for tid in _threads():
        try:
            change(tid)
        except ProcessLookupError:
            continue  # the thread ended meanwhile
        except PermissionError:
            return [f"{what}: not permitted (needs {needs})"]
        except OSError as exc:
            return [f"{what}: {exc.strerror or exc}"]
    return []
