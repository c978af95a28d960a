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
- The kernel watch (`Watch`, Linux >= 5.15 and CAP_BPF): a BPF_MAP_TYPE_ARRAY
  of `struct bpf_timer` per VRID, described by a BTF blob built here (the
  kernel finds the timer by its type's name), and a BPF_MAP_TYPE_RINGBUF the
  timers' callback writes to. The loop polls the ring buffer's fd; its
  records are not read, only skipped (`consume`). The timers are cancelled
  by the kernel when the last fd of their map is closed (`close`).
- A program with the watch has a callback: it is loaded with the BTF and one
  func_info per function (the filter at 0, the callback at `callback_at`).
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

__all__ = ["StampMap", "Watch", "attach_program", "detach", "ENTRIES", "VALUE"]

# bpf(2) by 64-bit machine (the generic table for the newer ports); 32-bit ones could
# read a u64 of the map torn in two: not there
SYS_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351, "riscv64": 280,
           "loongarch64": 280}
BPF_MAP_CREATE, BPF_PROG_LOAD, BPF_BTF_LOAD = 0, 5, 18
BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_RINGBUF = 2, 27
BPF_PROG_TYPE_SOCKET_FILTER = 1
BPF_F_MMAPABLE = 1 << 10
SO_ATTACH_BPF = 50
SO_DETACH_FILTER = 27  # SO_DETACH_BPF: the same number
ENTRIES = 256
# union bpf_attr, BPF_MAP_CREATE: map_type, key_size, value_size, max_entries, map_flags (u32 each)
MAP_CREATE = struct.Struct("=IIIII")
# ... then inner_map_fd, numa_node (u32), map_name[16], map_ifindex, btf_fd,
# btf_key_type_id, btf_value_type_id (u32)
MAP_CREATE_BTF = struct.Struct("=IIIIIII16sIIII")
# union bpf_attr, BPF_PROG_LOAD: prog_type, insn_cnt (u32), insns, license (u64 pointers),
# log_level, log_size (u32), log_buf (u64 pointer), kern_version, prog_flags (u32),
# then prog_name[16], prog_ifindex, expected_attach_type, prog_btf_fd,
# func_info_rec_size (u32), func_info (u64 pointer), func_info_cnt (u32)
PROG_LOAD = struct.Struct("=IIQQIIQII16sIIIIQI")
# struct bpf_func_info { u32 insn_off; u32 type_id; }
FUNC_INFO = struct.Struct("=II")
# union bpf_attr, BPF_BTF_LOAD: btf, btf_log_buf (u64 pointers), btf_size, btf_log_size,
# btf_log_level (u32)
BTF_LOAD = struct.Struct("=QQIII")
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


def _load(insns: bytes, log_buf: Optional[Any], watch: Optional[Watch] = None,
          callback_at: int = 0) -> int:
    code = ctypes.create_string_buffer(insns, len(insns))
    license_ = ctypes.create_string_buffer(b"Dual MIT/GPL")  # the collection's MIT, as the kernel spells it
    level, size, address = (0, 0, 0) if log_buf is None else (1, LOG_SIZE, ctypes.addressof(log_buf))
    btf_fd = funcs = count = 0
    if watch is not None:
        info = FUNC_INFO.pack(0, BTF_FUNC_FILTER) + FUNC_INFO.pack(callback_at, BTF_FUNC_CALLBACK)
        func_info = ctypes.create_string_buffer(info, len(info))
        btf_fd, funcs, count = watch.btf_fd, ctypes.addressof(func_info), 2
    return _bpf(BPF_PROG_LOAD, PROG_LOAD.pack(
        BPF_PROG_TYPE_SOCKET_FILTER, len(insns) // 8, ctypes.addressof(code),
        ctypes.addressof(license_), level, size, address, 0, 0, b"", 0, 0,
        btf_fd, FUNC_INFO.size if count else 0, funcs, count))


def attach_program(sock: socket.socket, insns: bytes,
                   loaded: Optional[Callable[[], None]] = None,
                   watch: Optional[Watch] = None, callback_at: int = 0) -> None:
    """Load INSNS (eBPF, 8 bytes each) as a socket filter, call LOADED, attach it to SOCK.
    With WATCH, its timers' callback starts at instruction CALLBACK_AT. Loaded without
    the verifier's log (it costs as much again); loaded again with it to say why when
    the kernel refuses."""
    try:
        prog_fd = _load(insns, None, watch, callback_at)
    except OSError as exc:
        log_buf = ctypes.create_string_buffer(LOG_SIZE)
        try:
            os.close(_load(insns, log_buf, watch, callback_at))
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


# The watch's BTF (linux/btf.h): struct btf_header, then struct btf_type records, then the
# strings. btf_type: name_off, info (vlen: bits 0-15, kind: 24-28), size or type (u32 each)
BTF_HEADER = struct.Struct("=HBBIIIII")  # magic, version, flags, hdr_len, type_off/len, str_off/len
BTF_TYPE = struct.Struct("=III")
BTF_MEMBER = struct.Struct("=III")       # name_off, type, offset in bits
BTF_KIND_INT, BTF_KIND_STRUCT, BTF_KIND_FUNC, BTF_KIND_FUNC_PROTO = 1, 4, 12, 13
BTF_INT_SIGNED = 1 << 24                 # the u32 after an INT: encoding << 24 | bits
BTF_KEY, BTF_VALUE, BTF_FUNC_FILTER, BTF_FUNC_CALLBACK = 1, 4, 7, 8  # type ids below
TIMER_VALUE = 16  # struct vrrp_watch { struct bpf_timer timer; }: the kernel's 16 bytes


def watch_btf() -> bytes:
    """Types 1-8: u32 (the key), u64, struct bpf_timer, struct vrrp_watch (the value),
    int, int (void), the filter (global) and the timers' callback (static)."""
    names = bytearray(b"\0")

    def name(text: str) -> int:
        names.extend(text.encode() + b"\0")
        return len(names) - len(text) - 1

    def kind(kind_: int, vlen: int = 0) -> int:
        return kind_ << 24 | vlen

    types = b"".join((
        BTF_TYPE.pack(name("unsigned int"), kind(BTF_KIND_INT), 4), struct.pack("=I", 32),
        BTF_TYPE.pack(name("unsigned long long"), kind(BTF_KIND_INT), 8), struct.pack("=I", 64),
        BTF_TYPE.pack(name("bpf_timer"), kind(BTF_KIND_STRUCT, 2), 16),
        BTF_MEMBER.pack(name("opaque0"), 2, 0), BTF_MEMBER.pack(name("opaque1"), 2, 64),
        BTF_TYPE.pack(name("vrrp_watch"), kind(BTF_KIND_STRUCT, 1), TIMER_VALUE),
        BTF_MEMBER.pack(name("timer"), 3, 0),
        BTF_TYPE.pack(name("int"), kind(BTF_KIND_INT), 4), struct.pack("=I", BTF_INT_SIGNED | 32),
        BTF_TYPE.pack(0, kind(BTF_KIND_FUNC_PROTO), 5),
        BTF_TYPE.pack(name("vrrp_stamps"), kind(BTF_KIND_FUNC, 1), 6),  # vlen 1: global
        BTF_TYPE.pack(name("vrrp_watch_fired"), kind(BTF_KIND_FUNC, 0), 6),
    ))
    return BTF_HEADER.pack(0xEB9F, 1, 0, BTF_HEADER.size, 0, len(types), len(types),
                           len(names)) + types + bytes(names)


class Watch:
    """The kernel watch of one receive socket: a timer per VRID (started by the stamp
    filter, stamps.py), the ring buffer their callback writes to, polled by the loop."""

    def __init__(self) -> None:
        blob = watch_btf()
        buf = ctypes.create_string_buffer(blob, len(blob))
        self.btf_fd = _bpf(BPF_BTF_LOAD, BTF_LOAD.pack(ctypes.addressof(buf), 0, len(blob), 0, 0))
        self.timers_fd = self.ring_fd = -1
        self.mapped: list = []
        try:
            self.timers_fd = _bpf(BPF_MAP_CREATE, MAP_CREATE_BTF.pack(
                BPF_MAP_TYPE_ARRAY, 4, TIMER_VALUE, ENTRIES, 0, 0, 0, b"vrrp_watch", 0,
                self.btf_fd, BTF_KEY, BTF_VALUE))
            ring_bytes = max(4096, mmap.PAGESIZE)  # a power of two, whole pages
            self.ring_fd = _bpf(BPF_MAP_CREATE, MAP_CREATE.pack(
                BPF_MAP_TYPE_RINGBUF, 0, 0, ring_bytes, 0))
            # the consumer's page (writable), then the producer's (read only)
            self.consumer = mmap.mmap(self.ring_fd, mmap.PAGESIZE, mmap.MAP_SHARED,
                                      mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
            self.mapped.append(self.consumer)
            self.producer = mmap.mmap(self.ring_fd, mmap.PAGESIZE, mmap.MAP_SHARED,
                                      mmap.PROT_READ, offset=mmap.PAGESIZE)
            self.mapped.append(self.producer)
        except OSError:
            self.close()
            raise
        self._consumer_pos = ctypes.c_uint64.from_buffer(self.consumer)  # one 8-byte store

    def fileno(self) -> int:
        return self.ring_fd

    def pending(self) -> bool:
        """Whether a record is unread (a timer fired since the last `consume`)."""
        return _U64.unpack_from(self.producer, 0)[0] != self._consumer_pos.value

    def consume(self) -> bool:
        """Skip every record written so far (their content is not needed: the loop looks
        at every watched instance); whether there was any."""
        if not self.pending():
            return False
        self._consumer_pos.value = _U64.unpack_from(self.producer, 0)[0]
        return True

    def close(self) -> None:
        """The timers are cancelled with their map's last fd (the kernel's rule)."""
        self.__dict__.pop("_consumer_pos", None)  # its export of the mapping first
        for mapped in self.mapped:
            mapped.close()
        self.mapped = []
        for fd in (self.ring_fd, self.timers_fd, self.btf_fd):
            if fd >= 0:
                os.close(fd)
        self.ring_fd = self.timers_fd = self.btf_fd = -1
