"""An eBPF interpreter for the opcodes stamps.py emits (tests only).

It runs a stamp filter on a datagram as the kernel's socket filter would:
r1 is the context (skb->len at offset 0), LD_ABS reads network byte order
and ends the program with 0 when out of range, the map is a FakeStampMap
(its fd in LD_IMM64), bpf_ktime_get_ns() is the caller's NOW_NS, the return
value is how many bytes to keep (0: drop). Pointers are (region, offset)
pairs; any other opcode or pointer use fails the test.
"""

from __future__ import annotations

import struct
from typing import Any, Dict, Tuple

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


def run(insns: bytes, packet: bytes, maps: Dict[int, FakeStampMap], now_ns: int) -> int:
    program = [stamps.INSN.unpack_from(insns, at) for at in range(0, len(insns), 8)]
    regs: Dict[int, Any] = {1: ("ctx", 0), 10: ("stack", 512)}
    stack = bytearray(512)
    pc = 0
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
            assert src == stamps.BPF_PSEUDO_MAP_FD and imm in maps
            regs[dst] = ("map", imm)
            pc += 1
        elif code == stamps.STX_W:
            region, at = regs[dst]
            assert region == "stack"
            _U32.pack_into(stack, at + off, regs[src] & 0xFFFFFFFF)
        elif code == stamps.CALL:
            regs[0] = _call(imm, regs, stack, maps, now_ns)
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
          maps: Dict[int, FakeStampMap], now_ns: int) -> Any:
    if helper == stamps.HELPER_KTIME_GET_NS:
        return now_ns
    assert helper == stamps.HELPER_MAP_LOOKUP_ELEM
    (kind, fd), (region, at) = regs[1], regs[2]
    assert kind == "map" and region == "stack"
    key = _U32.unpack_from(stack, at)[0]
    return 0 if key >= bpf.ENTRIES else (("value", fd), key * bpf.VALUE.size)


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
