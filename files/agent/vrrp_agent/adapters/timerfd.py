"""A timer file descriptor (timerfd_create(2)): wakes the event loop at the nanosecond.

For masters whose advert interval is under 0.1 s (driver.py): asyncio's epoll
waits whole milliseconds, rounded up, which is a tenth of a 0.01 s interval.
A timerfd in the loop's selector fires at the time asked, in the wakeup the
loop has anyway, as keepalived's timers do. Rules:
- CLOCK_MONOTONIC, absolute times: asyncio's loop.time() is that clock
  (time.monotonic), so a deadline in loop time is armed as it is.
- Non-blocking; `consume()` reads the expiry count the kernel queued (the
  fd stays readable until then; arming again clears it). `cancel()` disarms
  (a zero it_value).
- Through libc with ctypes, loaded at the first timer only (os.timerfd_create
  is Python 3.13's); where it cannot be had, `available()` says so and the
  driver keeps asyncio's timers.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any, Optional

__all__ = ["TimerFd", "available"]

CLOCK_MONOTONIC = 1
TFD_NONBLOCK = os.O_NONBLOCK
TFD_CLOEXEC = os.O_CLOEXEC
TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    # struct timespec { time_t tv_sec; long tv_nsec; }
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    # struct itimerspec { struct timespec it_interval; struct timespec it_value; }
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


_libc: Optional[Any] = None


def _functions() -> Any:
    global _libc
    if _libc is None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.timerfd_settime.argtypes = [ctypes.c_int, ctypes.c_int,
                                         ctypes.POINTER(_Itimerspec), ctypes.c_void_p]
        _libc = libc
    return _libc


def available() -> bool:
    try:
        return hasattr(_functions(), "timerfd_settime")
    except (OSError, AttributeError):  # AttributeError: a libc without timerfd_create
        return False


class TimerFd:
    """One timerfd on CLOCK_MONOTONIC, armed at absolute times (seconds, float)."""

    def __init__(self) -> None:
        libc = _functions()
        fd = libc.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if fd < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"timerfd_create: {os.strerror(errno)}")
        self.fd = fd
        self._settime = libc.timerfd_settime
        self._spec = _Itimerspec()
        self._spec_ref = ctypes.byref(self._spec)

    def fileno(self) -> int:
        return self.fd

    def arm(self, when: float) -> None:
        """Fire at WHEN (CLOCK_MONOTONIC seconds); a time already past fires at once."""
        seconds = int(when)
        value = self._spec.it_value
        value.tv_sec = seconds
        value.tv_nsec = max(1, int((when - seconds) * 1e9))  # 0 / 0 would disarm
        self._set()

    def cancel(self) -> None:
        value = self._spec.it_value
        value.tv_sec = value.tv_nsec = 0
        self._set()

    def _set(self) -> None:
        if self._settime(self.fd, TFD_TIMER_ABSTIME, self._spec_ref, None) < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"timerfd_settime: {os.strerror(errno)}")

    def consume(self) -> bool:
        """True if the timer expired since it was last armed or read."""
        try:
            os.read(self.fd, 8)  # the number of expiries since then
        except BlockingIOError:
            return False  # re-armed (or cancelled) after it became readable
        return True

    def close(self) -> None:
        os.close(self.fd)
