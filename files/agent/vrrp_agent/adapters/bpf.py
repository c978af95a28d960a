"""bpf(2) from Python alone: a memory-mapped array map and a socket filter program.

The kernel side of stamped quiet receive (stamps.py builds the program,
quiet.py decides when). Rules:
- Pure Python: the syscall through ctypes, the map read through mmap,
  nothing compiled, no bcc or libbpf. The structures mirror linux/bpf.h.
- One BPF_MAP_TYPE_ARRAY per socket, BPF_F_MMAPABLE (Linux >= 5.5): key u32
  (the VRID), value `VALUE` {u64 last_ns; u64 count}, 256 entries. Reading
  an entry is two struct reads from shared memory, no syscall.
- Anything refused (no CAP_BPF and kernel.unprivileged_bpf_disabled set, an
  older kernel, an architecture whose syscall number is not known here,
  a verifier error) raises OSError; the caller stays on the doorbells.
- A program is attached with SO_ATTACH_BPF, which replaces the socket's
  filter in one step; the socket holds its own reference, so the program's
  fd is closed at once.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import platform
import socket
import struct
from typing import Any, Callable, Optional, Tuple

__all__ = ["StampMap", "attach_program", "detach", "ENTRIES", "VALUE"]

# bpf(2) by 64-bit machine (the generic table for the newer ports); 32-bit ones could
# read a u64 of the map torn in two: not there
SYS_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351, "riscv64": 280,
           "loongarch64": 280}
BPF_MAP_CREATE, BPF_PROG_LOAD = 0, 5
BPF_MAP_TYPE_ARRAY = 2
BPF_PROG_TYPE_SOCKET_FILTER = 1
BPF_F_MMAPABLE = 1 << 10
SO_ATTACH_BPF = 50
SO_DETACH_FILTER = 27  # SO_DETACH_BPF: the same number
ENTRIES = 256
# union bpf_attr, BPF_MAP_CREATE: map_type, key_size, value_size, max_entries, map_flags (u32 each)
MAP_CREATE = struct.Struct("=IIIII")
# union bpf_attr, BPF_PROG_LOAD: prog_type, insn_cnt (u32), insns, license (u64 pointers),
# log_level, log_size (u32), log_buf (u64 pointer), kern_version, prog_flags (u32)
PROG_LOAD = struct.Struct("=IIQQIIQII")
ATTR_SIZE = 128  # the rest zero, as the kernel wants
# The map's value: struct { u64 last_ns; u64 count; } per key, 16 bytes apart
VALUE = struct.Struct("=QQ")
_U64 = struct.Struct("=Q")
LOG_SIZE = 1 << 16

_libc: Optional[ctypes.CDLL] = None


def _bpf(cmd: int, attr: bytes) -> int:
    global _libc
    number = SYS_BPF.get(platform.machine())
    if number is None:
        raise OSError(errno.ENOSYS, f"bpf(2): no syscall number known for {platform.machine()}")
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    buf = ctypes.create_string_buffer(attr.ljust(ATTR_SIZE, b"\0"), ATTR_SIZE)
    fd = _libc.syscall(ctypes.c_long(number), ctypes.c_int(cmd), buf, ctypes.c_uint(ATTR_SIZE))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"bpf({cmd}): {os.strerror(code)}")
    return int(fd)


class StampMap:
    """An array map of ENTRIES stamps, mapped into this process."""

    def __init__(self) -> None:
        self.fd = _bpf(BPF_MAP_CREATE, MAP_CREATE.pack(
            BPF_MAP_TYPE_ARRAY, 4, VALUE.size, ENTRIES, BPF_F_MMAPABLE))
        try:
            self.values = mmap.mmap(self.fd, VALUE.size * ENTRIES, mmap.MAP_SHARED,
                                    mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError:
            os.close(self.fd)
            raise

    def read(self, vrid: int) -> Tuple[int, int]:
        """(count, last_ns) of VRID: how many steady adverts so far, the CLOCK_MONOTONIC
        ns of the newest. The count is read before and after the time, again while
        they differ (an advert counted meanwhile). The program writes the time before
        it counts; where stores are not ordered (arm64) the time read can still be an
        earlier advert's: stamped.py never hands a stamp over earlier than the last."""
        at = vrid * VALUE.size
        values = self.values
        count = _U64.unpack_from(values, at + 8)[0]
        for _attempt in range(4):
            last_ns = _U64.unpack_from(values, at)[0]
            again = _U64.unpack_from(values, at + 8)[0]
            if again == count:
                break
            count = again
        return count, last_ns

    def close(self) -> None:
        self.values.close()
        os.close(self.fd)


def _load(insns: bytes, log_buf: Optional[Any]) -> int:
    code = ctypes.create_string_buffer(insns, len(insns))
    license_ = ctypes.create_string_buffer(b"Dual MIT/GPL")  # the collection's MIT, as the kernel spells it
    level, size, address = (0, 0, 0) if log_buf is None else (1, LOG_SIZE, ctypes.addressof(log_buf))
    return _bpf(BPF_PROG_LOAD, PROG_LOAD.pack(
        BPF_PROG_TYPE_SOCKET_FILTER, len(insns) // 8, ctypes.addressof(code),
        ctypes.addressof(license_), level, size, address, 0, 0))


def attach_program(sock: socket.socket, insns: bytes,
                   loaded: Optional[Callable[[], None]] = None) -> None:
    """Load INSNS (eBPF, 8 bytes each) as a socket filter, call LOADED, attach it to SOCK.
    Loaded without the verifier's log (it costs as much again); loaded again with it
    to say why when the kernel refuses."""
    try:
        prog_fd = _load(insns, None)
    except OSError as exc:
        log_buf = ctypes.create_string_buffer(LOG_SIZE)
        try:
            os.close(_load(insns, log_buf))
        except OSError:
            pass
        verifier = log_buf.value.decode(errors="replace").strip().splitlines()
        if verifier:
            raise OSError(exc.errno, f"{exc.strerror}: {verifier[-1]}") from None
        raise
    try:
        if loaded is not None:
            loaded()
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_BPF, struct.pack("i", prog_fd))
    finally:
        os.close(prog_fd)


def detach(sock: socket.socket) -> None:
    """No filter on SOCK any more (ENOENT: there was none)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
    except FileNotFoundError:
        pass
