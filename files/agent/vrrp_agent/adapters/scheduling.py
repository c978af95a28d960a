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
  0: off): each thread under normal scheduling (those that exist at start and
  at each reload: the loop's and the netlink worker; a thread started later
  gets the kernel's default) asks the kernel's EEVDF scheduler (Linux >= 6.12;
  older kernels accept the call and ignore it) for a short time slice through
  sched_setattr's sched_runtime. A short slice gives no more CPU, it gives an
  earlier virtual deadline: the agent's wakeups (an advert, a master-down
  timer) preempt CPU-bound work at once instead of waiting for the current
  slice to end. Measured at 0.01 s under a CPU hog on every CPU: the advert
  deviation p99 went from 0.09-1.2 ms to 0.05 ms (keepalived, same runs:
  0.18-0.64 ms), docs/benchmarks.md. Allowed to any user (no capability).
  The thread's nice value is kept; what the agent starts gets the kernel's
  default slice (SCHED_RESET_ON_FORK), except under a negative nice, which
  scripts inherit as before (the reset would take it from them) along with
  the short slice. Clearing reset-on-fork needs CAP_SYS_NICE: an agent without
  it that goes to a negative nice on reload keeps the flag (logged; scripts
  then start at nice 0). The syscall number is the interpreter's ABI's; where
  it is not known, and on any refusal, the agent says so and runs on.
- The right comes from root or CAP_SYS_NICE (the role adds it to the non-root
  agent's unit only when vrrp_rt_priority is set), or from having been started
  at that priority already: keeping one's RT priority and adding reset-on-fork
  is allowed to anyone. Without it, or when the cgroup has no real-time budget
  (cgroup v1 cpu.rt_runtime_us = 0, as in most containers): a warning naming
  what is missing, and the agent runs on with the scheduling it has. Late
  adverts are a degraded state, not a reason to stop failover.
"""

from __future__ import annotations

import errno
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
# sched_setattr's number per (machine, the interpreter's pointer bits): the ABI the process
# runs under, not the kernel's (a 32-bit userland on a 64-bit kernel); sched_getattr's is +1
NR_SCHED_SETATTR = {("x86_64", 64): 314, ("x86_64", 32): 351, ("i686", 32): 351, ("i386", 32): 351,
                    ("aarch64", 64): 274, ("aarch64", 32): 380, ("armv7l", 32): 380,
                    ("armv6l", 32): 380, ("riscv64", 64): 274, ("ppc64le", 64): 355,
                    ("s390x", 64): 345}


def sched_setattr_number() -> Optional[int]:
    """This process's sched_setattr syscall number, None when not known here."""
    return NR_SCHED_SETATTR.get((platform.machine(), struct.calcsize("P") * 8))


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
    """Each thread under normal scheduling asks for a US-microsecond slice (module rules)."""
    number = sched_setattr_number()
    if us <= 0:
        return []
    if number is None:
        log.info("%s: no sched_setattr number known for %s (%d-bit): the kernel's slice",
                 SLICE_ENV, platform.machine(), struct.calcsize("P") * 8)
        return []
    import ctypes  # only here: the timerfd adapter is its other user

    syscall = ctypes.CDLL(None, use_errno=True).syscall

    def call(tid: int, flags: int, nice: int) -> int:
        attr: Any = ctypes.create_string_buffer(
            SCHED_ATTR.pack(SCHED_ATTR.size, os.SCHED_OTHER, flags, nice, 0, us * 1000, 0, 0))
        return 0 if syscall(number, tid, attr, 0) == 0 else ctypes.get_errno()

    def set_slice(tid: int) -> None:
        if os.sched_getscheduler(tid) & ~os.SCHED_RESET_ON_FORK != os.SCHED_OTHER:
            return  # real-time: no slice
        nice = os.getpriority(os.PRIO_PROCESS, tid)
        flags = SCHED_FLAG_RESET_ON_FORK if nice >= 0 else 0
        code = call(tid, flags, nice)
        if code == errno.EPERM and not flags:
            # reset-on-fork, once set, is cleared only with CAP_SYS_NICE: keep it (what the
            # agent starts then runs at nice 0, not at this negative nice)
            code = call(tid, SCHED_FLAG_RESET_ON_FORK, nice)
            if not code:
                log.info("%s: thread %d keeps reset-on-fork (clearing it needs CAP_SYS_NICE): "
                         "what the agent starts runs at nice 0", SLICE_ENV, tid)
        if code:
            raise OSError(code, os.strerror(code))

    return _each_thread(set_slice, f"{SLICE_ENV}={us}",
                        "sched_setattr, which a seccomp profile can refuse; slice unchanged")


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
