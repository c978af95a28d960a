"""An eBPF interpreter for the opcodes stamps.py emits (tests only).

It runs a stamp filter on a datagram as the kernel's socket filter would:
r1 is the context (skb->len at offset 0), LD_ABS reads network byte order
and ends the program with 0 when out of range, the map is a FakeStampMap
(its fd in LD_IMM64), bpf_ktime_get_ns() is the caller's NOW_NS, the return
value is how many bytes to keep (0: drop). Pointers are (region, offset)
pairs; any other opcode or pointer use fails the test. The kernel watch is
a FakeWatch: its timers are the running loop's (the loop's clock is the
kernel's here), and a timer that fires runs the program's callback here,
whose ring buffer output makes the FakeWatch's fd readable.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import struct
from typing import Any, Dict, List, Set, Tuple

from vrrp_agent import stamps
from vrrp_agent.adapters import bpf

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_MASK = (1 << 64) - 1


class FakeStampMap:
    """adapters/bpf.StampMap in memory: the same value layout, read the same way."""

    _next_fd = 900

    def __init__(self) -> None:
        FakeStampMap._next_fd += 1
        self.fd = FakeStampMap._next_fd
        self.values = bytearray(bpf.VALUE.size * bpf.ENTRIES)
        self.closed = False

    read = bpf.StampMap.read

    def close(self) -> None:
        self.closed = True


class FakeWatch:
    """adapters/bpf.Watch in memory: timers on the running loop, a socketpair for the ring."""

    def __init__(self) -> None:
        FakeStampMap._next_fd += 3
        self.timers_fd, self.ring_fd, self.btf_fd = (FakeStampMap._next_fd - 2,
                                                     FakeStampMap._next_fd - 1, FakeStampMap._next_fd)
        self._reader, self._wire = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._reader.setblocking(False)
        self.initialised: Set[int] = set()
        self.callbacks: Dict[int, int] = {}           # VRID -> the callback's first instruction
        self.armed: Dict[int, asyncio.TimerHandle] = {}
        self.records: List[bytes] = []
        self.starts = 0
        self.consumed = 0
        self.closed = False

    def fileno(self) -> int:
        return self._reader.fileno()

    def pending(self) -> bool:
        return self.consumed != len(self.records)

    def consume(self) -> bool:
        while True:
            try:
                self._reader.recv(16)
            except BlockingIOError:
                break
        had, self.consumed = self.pending(), len(self.records)
        return had

    def start(self, vrid: int, ns: int, insns: bytes) -> int:
        if vrid not in self.initialised or vrid not in self.callbacks:
            return -errno.EINVAL
        old = self.armed.pop(vrid, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self.armed[vrid] = loop.call_at(loop.time() + ns * 1e-9, self._expire, vrid, insns)
        self.starts += 1
        return 0

    def _expire(self, vrid: int, insns: bytes) -> None:
        del self.armed[vrid]
        regs = {1: ("map", self.timers_fd), 2: ("key", vrid), 3: ("timer", self.timers_fd, vrid * 16),
                10: ("stack", 512)}
        assert _execute(insns, self.callbacks[vrid], regs, b"", {self.ring_fd: self}, 0) == 0

    def output(self, data: bytes) -> int:
        self.records.append(data)
        self._wire.send(b"r")
        return 0

    def close(self) -> None:
        for handle in self.armed.values():
            handle.cancel()
        self.armed.clear()
        self._reader.close()
        self._wire.close()
        self.closed = True


def run(insns: bytes, packet: bytes, maps: Dict[int, Any], now_ns: int) -> int:
    return _execute(insns, 0, {1: ("ctx", 0), 10: ("stack", 512)}, packet, maps, now_ns)


def _execute(insns: bytes, pc: int, regs: Dict[int, Any], packet: bytes, maps: Dict[int, Any],
             now_ns: int) -> int:
    program = [stamps.INSN.unpack_from(insns, at) for at in range(0, len(insns), 8)]
    stack = bytearray(512)
    while True:
        code, regs_byte, off, imm = program[pc]
        dst, src = regs_byte & 0x0F, regs_byte >> 4
        pc += 1
        if code == stamps.EXIT:
            return int(regs[0]) & 0xFFFFFFFF
        if code == stamps.MOV64_X:
            regs[dst] = regs[src]
        elif code == stamps.MOV64_K:
            regs[dst] = imm & _MASK
        elif code == stamps.ADD64_K:
            region, at = regs[dst]
            regs[dst] = (region, at + imm)
        elif code == stamps.LDX_W:
            assert regs[src] == ("ctx", 0) and off == stamps.SKB_LEN
            regs[dst] = len(packet)
        elif code in (0x20, 0x28, 0x30):
            assert regs[6] == ("ctx", 0), "LD_ABS without the context in r6"
            size = {0x20: 4, 0x28: 2, 0x30: 1}[code]
            if imm + size > len(packet):
                return 0
            regs[0] = int.from_bytes(packet[imm:imm + size], "big")
            for clobbered in (1, 2, 3, 4, 5):
                regs.pop(clobbered, None)
        elif code == stamps.LD_IMM64:
            if src == stamps.BPF_PSEUDO_FUNC:
                regs[dst] = ("func", pc + imm)  # from the instruction after the first slot
            elif src == 0:
                regs[dst] = (imm & 0xFFFFFFFF) | (program[pc][3] & 0xFFFFFFFF) << 32
            else:
                assert src == stamps.BPF_PSEUDO_MAP_FD and imm in maps
                regs[dst] = ("map", imm)
            pc += 1
        elif code == stamps.STX_W:
            region, at = regs[dst]
            assert region == "stack"
            _U32.pack_into(stack, at + off, regs[src] & 0xFFFFFFFF)
        elif code == stamps.CALL:
            regs[0] = _call(imm, regs, stack, maps, now_ns, insns)
            for clobbered in (1, 2, 3, 4, 5):
                regs.pop(clobbered, None)
        elif code in (stamps.STX_DW, stamps.ATOMIC_DW):
            (region, fd), at = regs[dst][0], regs[dst][1] + off
            assert region == "value"
            values = maps[fd].values
            old = _U64.unpack_from(values, at)[0] if code == stamps.ATOMIC_DW else 0
            _U64.pack_into(values, at, (old + regs[src]) & _MASK)
        else:
            pc += _jump(code, regs.get(dst), imm, off)
        assert 0 <= pc < len(program), "ran past the end of the program"


def _call(helper: int, regs: Dict[int, Any], stack: bytearray,
          maps: Dict[int, Any], now_ns: int, insns: bytes) -> Any:
    if helper == stamps.HELPER_KTIME_GET_NS:
        return now_ns
    if helper in _TIMER_HELPERS:
        return _timer_call(helper, regs, maps, insns) & _MASK
    if helper == stamps.HELPER_RINGBUF_OUTPUT:
        (kind, fd), (region, vrid) = regs[1], regs[2]
        assert kind == "map" and region == "key" and regs[3] == 4
        assert regs[4] == stamps.BPF_RB_FORCE_WAKEUP
        return maps[fd].output(_U32.pack(vrid))
    assert helper == stamps.HELPER_MAP_LOOKUP_ELEM
    (kind, fd), (region, at) = regs[1], regs[2]
    assert kind == "map" and region == "stack"
    key = _U32.unpack_from(stack, at)[0]
    if isinstance(maps[fd], FakeWatch):
        return 0 if key >= bpf.ENTRIES else ("timer", fd, key * bpf.TIMER_VALUE)
    return 0 if key >= bpf.ENTRIES else (("value", fd), key * bpf.VALUE.size)


_TIMER_HELPERS = (stamps.HELPER_TIMER_INIT, stamps.HELPER_TIMER_SET_CALLBACK,
                  stamps.HELPER_TIMER_START)


def _timer_call(helper: int, regs: Dict[int, Any], maps: Dict[int, Any], insns: bytes) -> int:
    """bpf_timer_init / set_callback / start on a FakeWatch's timer (r1)."""
    kind, fd, at = regs[1]
    assert kind == "timer" and at % bpf.TIMER_VALUE == 0
    watch, vrid = maps[fd], at // bpf.TIMER_VALUE
    if watch.closed:  # the map's last fd closed: the kernel refuses its timers
        return -errno.EPERM if helper == stamps.HELPER_TIMER_INIT else -errno.EINVAL
    if helper == stamps.HELPER_TIMER_INIT:
        assert regs[2] == ("map", fd) and regs[3] == stamps.CLOCK_MONOTONIC
        if vrid in watch.initialised:
            return -errno.EBUSY
        watch.initialised.add(vrid)
        return 0
    if helper == stamps.HELPER_TIMER_SET_CALLBACK:
        kind, target = regs[2]
        assert kind == "func"
        if vrid not in watch.initialised:
            return -errno.EINVAL
        watch.callbacks[vrid] = target
        return 0
    assert isinstance(regs[2], int) and regs[3] == 0
    return int(watch.start(vrid, regs[2], insns))


def _jump(code: int, value: Any, imm: int, off: int) -> int:
    if code == stamps.JA:
        return off
    if isinstance(value, tuple):  # a pointer: only the NULL test of a lookup's result
        assert code == stamps.JEQ_K and imm == 0
        return 0
    compare: Dict[int, Tuple[int, Any]] = {
        stamps.JEQ_K: (_MASK, lambda a, b: a == b),
        stamps.JNE_K: (_MASK, lambda a, b: a != b),
        stamps.JLT_K: (_MASK, lambda a, b: a < b),
        stamps.JNE32_K: (0xFFFFFFFF, lambda a, b: a != b),
    }
    assert code in compare, f"opcode {code:#x} not expected in a stamp filter"
    mask, test = compare[code]
    return off if test(value & mask, imm & mask) else 0
