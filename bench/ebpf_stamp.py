"""An eBPF socket filter that stamps and drops a steady advert (a bench probe, issue 14).

    sudo python bench/ebpf_stamp.py [IFNAME]   # self-test, where a 0.1 s master is heard

Rules:
- Pure Python: bpf(2) through ctypes, the map through mmap, instructions
  packed with struct (linux/bpf.h); no bcc, no compiler. Linux x86_64 only.
- One BPF_MAP_TYPE_ARRAY map, BPF_F_MMAPABLE: key u32 (the VRID), value
  {u64 last_ns; u64 count}, 256 entries, mapped into this process: reading
  an entry is a struct.unpack_from, no syscall.
- The program (BPF_PROG_TYPE_SOCKET_FILTER, attached with SO_ATTACH_BPF to a
  raw IPPROTO_VRRP socket, whose datagrams start at the IPv4 header) takes
  a datagram equal to the expected steady advert (0x45, protocol VRRP,
  total length, TTL, the VRID, every byte from offset 12 on): it writes
  bpf_ktime_get_ns() (CLOCK_MONOTONIC, as time.monotonic_ns() and asyncio's
  loop.time()) to the VRID's last_ns, adds 1 to its count atomically, and
  returns 0 (dropped: nothing queued). Anything else is kept (0xFFFF).
"""

from __future__ import annotations

import ctypes
import mmap
import socket
import struct
import sys
import time
from typing import List, Tuple

SYS_BPF = 321  # x86_64
BPF_MAP_CREATE, BPF_PROG_LOAD = 0, 5
BPF_MAP_TYPE_ARRAY = 2
BPF_PROG_TYPE_SOCKET_FILTER = 1
BPF_F_MMAPABLE = 1 << 10
BPF_PSEUDO_MAP_FD = 1
SO_ATTACH_BPF = 50
HELPER_MAP_LOOKUP_ELEM, HELPER_KTIME_GET_NS = 1, 5
KEEP, DROP = 0xFFFF, 0
ENTRIES = 256

# union bpf_attr, BPF_MAP_CREATE: map_type, key_size, value_size, max_entries, map_flags (u32 each)
MAP_CREATE = struct.Struct("=IIIII")
# union bpf_attr, BPF_PROG_LOAD: prog_type, insn_cnt (u32), insns, license (u64 pointers),
# log_level, log_size (u32), log_buf (u64 pointer), kern_version, prog_flags (u32)
PROG_LOAD = struct.Struct("=IIQQIIQII")
ATTR_SIZE = 128  # the rest zero, as the kernel wants
# struct bpf_insn { u8 code; u8 dst_reg:4 (low nibble), src_reg:4; s16 off; s32 imm; }
INSN = struct.Struct("<BBhi")
# The map's value: struct { u64 last_ns; u64 count; }, contiguous per key (16: a multiple of 8)
VALUE = struct.Struct("=QQ")

# Opcodes (class | op | source or size)
LD_ABS = {1: 0x30, 2: 0x28, 4: 0x20}  # BPF_LD|BPF_ABS|B/H/W: r0 = ntoh(skb[imm]); r6 = ctx
LD_IMM64 = 0x18      # BPF_LD|BPF_DW|BPF_IMM: two slots, the second's imm the high half
MOV64_X = 0xBF       # BPF_ALU64|BPF_MOV|BPF_X: dst = src
MOV64_K = 0xB7       # BPF_ALU64|BPF_MOV|BPF_K: dst = imm
ADD64_K = 0x07       # BPF_ALU64|BPF_ADD|BPF_K: dst += imm
JNE32_K = 0x56       # BPF_JMP32|BPF_JNE|BPF_K: 32-bit compare (a word over 2**31 is no negative imm)
JEQ_K = 0x15         # BPF_JMP|BPF_JEQ|BPF_K
CALL = 0x85          # BPF_JMP|BPF_CALL: helper imm
EXIT = 0x95          # BPF_JMP|BPF_EXIT: return r0
ST_W = 0x62          # BPF_ST|BPF_MEM|BPF_W: *(u32 *)(dst + off) = imm
STX_DW = 0x7B        # BPF_STX|BPF_MEM|BPF_DW: *(u64 *)(dst + off) = src
ATOMIC_DW = 0xDB     # BPF_STX|BPF_ATOMIC|BPF_DW, imm BPF_ADD (0): *(u64 *)(dst + off) += src
R0, R1, R2, R6, R7, R10 = 0, 1, 2, 6, 7, 10

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One instruction; IMM's low 32 bits, as signed (JMP32 compares those)."""
    imm &= 0xFFFFFFFF
    return INSN.pack(code, dst | src << 4, off, imm - (1 << 32) if imm >> 31 else imm)


def bpf(cmd: int, attr: bytes) -> int:
    buf = ctypes.create_string_buffer(attr.ljust(ATTR_SIZE, b"\0"), ATTR_SIZE)
    fd = _libc.syscall(SYS_BPF, ctypes.c_int(cmd), buf, ctypes.c_uint(ATTR_SIZE))
    if fd < 0:
        raise OSError(ctypes.get_errno(), f"bpf({cmd})")
    return fd


def compares(advert: bytes) -> List[Tuple[int, int, int]]:
    """(size, offset, expected) for the loads that identify ADVERT: IPv4 without options,
    VRRP, total length, TTL, the VRID, then datagram[12:] word by word."""
    out = [(1, 0, 0x45), (1, 9, 112), (2, 2, len(advert)), (1, 8, advert[8]), (1, 21, advert[21])]
    offset = 12
    while offset < len(advert):
        size = min(4, len(advert) - offset)
        size = 2 if size == 3 else size
        out.append((size, offset, int.from_bytes(advert[offset:offset + size], "big")))
        offset += size
    return out


def program(advert: bytes, map_fd: int) -> bytes:
    """The filter's instructions (see the module's rules)."""
    body = [insn(MOV64_X, R6, R1)]  # LD_ABS reads the skb through r6
    checks = compares(advert)
    keep_at = 1 + 2 * len(checks) + 14  # index of the KEEP exit: after the checks and the match
    for size, offset, value in checks:
        body.append(insn(LD_ABS[size], imm=offset))
        body.append(insn(JNE32_K, R0, off=keep_at - (len(body) + 1), imm=value))
    body += [
        insn(LD_IMM64, R1, BPF_PSEUDO_MAP_FD, imm=map_fd), insn(0),
        insn(ST_W, R10, off=-4, imm=advert[21]),  # the key, on the stack
        insn(MOV64_X, R2, R10), insn(ADD64_K, R2, imm=-4),
        insn(CALL, imm=HELPER_MAP_LOOKUP_ELEM),
        insn(JEQ_K, R0, off=5, imm=0),  # no entry: drop all the same
        insn(MOV64_X, R7, R0),
        insn(CALL, imm=HELPER_KTIME_GET_NS),
        insn(STX_DW, R7, R0, off=0),
        insn(MOV64_K, R1, imm=1),
        insn(ATOMIC_DW, R7, R1, off=8, imm=0),
        insn(MOV64_K, R0, imm=DROP), insn(EXIT),
    ]
    assert len(body) == keep_at
    body += [insn(MOV64_K, R0, imm=KEEP), insn(EXIT)]
    return b"".join(body)


class Stamp:
    """The map (mapped here) and, once `attach`ed, the filter on one raw socket."""

    def __init__(self) -> None:
        self.map_fd = bpf(BPF_MAP_CREATE, MAP_CREATE.pack(BPF_MAP_TYPE_ARRAY, 4, VALUE.size,
                                                          ENTRIES, BPF_F_MMAPABLE))
        self.values = mmap.mmap(self.map_fd, VALUE.size * ENTRIES, mmap.MAP_SHARED,
                                mmap.PROT_READ | mmap.PROT_WRITE)
        self.prog_fd = -1

    def attach(self, sock: socket.socket, advert: bytes) -> None:
        """Stamp and drop ADVERT (a whole IPv4 datagram) on SOCK from now on."""
        code = ctypes.create_string_buffer(program(advert, self.map_fd))
        license_ = ctypes.create_string_buffer(b"GPL")
        log = ctypes.create_string_buffer(1 << 16)
        attr = PROG_LOAD.pack(BPF_PROG_TYPE_SOCKET_FILTER, (len(code) - 1) // INSN.size,
                              ctypes.addressof(code), ctypes.addressof(license_),
                              1, len(log), ctypes.addressof(log), 0, 0)
        try:
            self.prog_fd = bpf(BPF_PROG_LOAD, attr)
        except OSError:
            print(log.value.decode(errors="replace"), file=sys.stderr)
            raise
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_BPF, struct.pack("i", self.prog_fd))

    def read(self, vrid: int) -> Tuple[int, int]:
        """(last_ns, count) of VRID: CLOCK_MONOTONIC ns of the newest steady advert, how many."""
        return VALUE.unpack_from(self.values, vrid * VALUE.size)


def open_raw(ifname: str, ifindex: int, group: str = "224.0.0.18") -> socket.socket:
    """A raw IPPROTO_VRRP socket on IFNAME joined to GROUP (as adapters/sockets.py opens it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    sock.setsockopt(socket.IPPROTO_IP, 49, 0)  # IP_MULTICAST_ALL off
    mreqn = struct.pack("4s4si", socket.inet_aton(group), bytes(4), ifindex)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
    return sock


def _drain(sock: socket.socket) -> int:
    """Read what SOCK queued (non-blocking); how many datagrams."""
    count = 0
    while True:
        try:
            sock.recv(4096)
        except BlockingIOError:
            return count
        count += 1


def steady(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Wait for an advert, then empty the queue: the newest one read; SOCK left non-blocking."""
    sock.settimeout(timeout)
    data = sock.recv(4096)
    sock.setblocking(False)
    while True:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return data


def start(ifname: str) -> Tuple[socket.socket, Stamp, int]:
    """The probe's set-up: socket, the newest advert taken as the steady one, filter; its VRID."""
    sock = open_raw(ifname, socket.if_nametoindex(ifname))
    advert = steady(sock)
    stamp = Stamp()
    stamp.attach(sock, advert)
    _drain(sock)  # what was queued before the filter
    return sock, stamp, advert[21]


def main() -> None:
    """Count and stamp a 0.1 s master's adverts for 3 s; a filter expecting other
    bytes (the last one flipped) beside it must count none and keep them all."""
    ifname = sys.argv[1] if len(sys.argv) > 1 else "eth0"
    sock, stamp, vrid = start(ifname)
    other = open_raw(ifname, socket.if_nametoindex(ifname))
    advert = steady(other)
    wrong = Stamp()
    wrong.attach(other, advert[:-1] + bytes([advert[-1] ^ 1]))
    _drain(other)
    _last, count0 = stamp.read(vrid)
    t0 = time.monotonic()
    ages = []
    for _ in range(10):
        time.sleep(0.317)
        last, count = stamp.read(vrid)
        ages.append((time.monotonic_ns() - last) / 1e6)
    rate = (count - count0) / (time.monotonic() - t0)
    print(f"VRID {vrid}: {rate:.2f} adverts/s counted, newest {min(ages):.1f}-{max(ages):.1f} ms "
          f"before time.monotonic_ns() (10 reads), {_drain(sock)} queued; filter expecting "
          f"other bytes: {wrong.read(vrid)[1]} counted, {_drain(other)} queued")


if __name__ == "__main__":
    main()
