"""The stamp filter: an eBPF socket filter that counts and drops steady adverts.

Stamped quiet receive (quiet.py) puts it on the receive socket itself where
the kernel lets us load eBPF; the doorbells (doorbell.py) are the fallback.
Rules:
- Pure data built here (no socket, no clock): `Steady` entries and a map's
  fd in, eBPF instructions out (linux/bpf.h); adapters/bpf.py loads them.
- A datagram fastpath.match4 would take for its VRID's entry (the compares
  of doorbell.py: 0x45, protocol VRRP, TTL, length of the datagram and in
  its header, every byte from the source address on) writes
  bpf_ktime_get_ns() (CLOCK_MONOTONIC, asyncio's loop.time()) to its VRID's
  map entry, adds one to the entry's count atomically, and is dropped: no
  wakeup, nothing queued. Anything else, by one byte, is kept whole and
  queued: the loop reads it at once, the full path checks it.
- The length is compared with the datagram's own (skb->len) before any
  load, so no load runs past the end (an eBPF load out of range would drop
  the datagram unseen): a short datagram is always kept.
- The VRID is loaded once (r8); each entry is one block that starts with
  its VRID (no match: the next block) and keeps the datagram on the first
  other mismatch. Jumps are forward; every path ends in an exit.
- With the kernel watch (`Watching`: adapters/bpf.Watch), a steady advert
  first starts its VRID's timer for the entry's ns (r9: the backup's
  Master_Down_Interval less the loop's early margin, driver.py), and is
  counted and dropped only when the timer started: otherwise it is kept
  (the full path, the loop's own timer). The timer's callback (the last
  CALLBACK_INSNS instructions, a second function) writes the VRID to the
  ring buffer, which wakes the loop: a steady backup's loop sleeps until
  its master is silent for that long.
"""

from __future__ import annotations

import struct
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple

from vrrp_agent.constants import IPPROTO_VRRP
from vrrp_agent.doorbell import PROTO_AT, V4_FIXED, VRID_AT, Steady, compares, unique

__all__ = ["program", "callback_at", "Steady", "Watching", "KEEP", "DROP", "CALLBACK_INSNS"]

# struct bpf_insn { u8 code; u8 dst_reg:4 (low nibble), src_reg:4; s16 off; s32 imm; }
INSN = struct.Struct("<BBhi")
KEEP, DROP = 0xFFFFFFFF, 0  # bytes kept of the datagram: all, none
LD_B_ABS = 0x30      # BPF_LD|BPF_ABS|BPF_B: r0 = skb[imm] (r6: the context)
LDX_W = 0x61         # BPF_LDX|BPF_MEM|BPF_W: dst = *(u32 *)(src + off)
LD_IMM64 = 0x18      # BPF_LD|BPF_DW|BPF_IMM: two slots, src BPF_PSEUDO_MAP_FD: a map's fd
MOV64_X, MOV64_K = 0xBF, 0xB7   # BPF_ALU64|BPF_MOV|X/K
ADD64_K = 0x07       # BPF_ALU64|BPF_ADD|BPF_K
JA = 0x05            # BPF_JMP|BPF_JA
JEQ_K, JNE_K = 0x15, 0x55       # BPF_JMP|JEQ/JNE|BPF_K (64-bit)
JLT_K = 0xA5         # BPF_JMP|BPF_JLT|BPF_K (unsigned)
JNE32_K = 0x56       # BPF_JMP32|BPF_JNE|BPF_K: words over 2**31 compare as 32 bits
CALL, EXIT = 0x85, 0x95
STX_W, STX_DW = 0x63, 0x7B      # BPF_STX|BPF_MEM|W/DW: *(size *)(dst + off) = src
ATOMIC_DW = 0xDB     # BPF_STX|BPF_ATOMIC|BPF_DW, imm BPF_ADD: *(u64 *)(dst + off) += src
BPF_PSEUDO_MAP_FD, BPF_PSEUDO_FUNC = 1, 4  # LD_IMM64's src: a map's fd, a function's offset
HELPER_MAP_LOOKUP_ELEM, HELPER_KTIME_GET_NS = 1, 5
HELPER_RINGBUF_OUTPUT = 130
HELPER_TIMER_INIT, HELPER_TIMER_SET_CALLBACK, HELPER_TIMER_START = 169, 170, 171
CLOCK_MONOTONIC, BPF_RB_FORCE_WAKEUP = 1, 2
R0, R1, R2, R3, R4, R6, R7, R8, R9, R10 = 0, 1, 2, 3, 4, 6, 7, 8, 9, 10
CALLBACK_INSNS = 7  # the timers' callback: the program's last instructions
SKB_LEN = 0          # offsetof(struct __sk_buff, len)


class Watching(NamedTuple):
    """The kernel watch's maps (adapters/bpf.Watch) and each VRID's timer, in ns."""

    timers_fd: int
    ring_fd: int
    down_ns: Dict[int, int]


# (code, dst, src, off, imm, label): a jump's off is resolved from its label
_Insn = Tuple[int, int, int, int, int, Optional[str]]


def _i(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0,
       to: Optional[str] = None) -> _Insn:
    return (code, dst, src, off, imm, to)


def _block(entry: Steady, watching: Optional[Watching]) -> List[_Insn]:
    """ENTRY's compares; NEXT when the VRID is not its own, KEEP on any other mismatch;
    watched, its timer's ns in r9."""
    checks = compares(entry)
    length = checks[1][2]  # (LD_H_ABS, total length's offset, the datagram's length)
    out = [_i(JNE_K, R8, imm=entry.vrid, to="NEXT"), _i(JNE_K, R9, imm=length, to="KEEP")]
    for opcode, offset, value in checks:
        out.append(_i(opcode, imm=offset))  # classic BPF_LD|BPF_ABS codes: the same in eBPF
        out.append(_i(JNE32_K, R0, imm=value, to="KEEP"))
    if watching is not None:
        down_ns = watching.down_ns[entry.vrid]
        out += [_i(LD_IMM64, R9, imm=down_ns & 0xFFFFFFFF), _i(0, imm=down_ns >> 32)]
    out.append(_i(JA, to="STAMP"))
    return out


def _watch(watching: Watching) -> List[_Insn]:
    """Start the VRID's timer (the key on the stack at -4) for r9 ns, or KEEP."""
    return [
        _i(LD_IMM64, R1, BPF_PSEUDO_MAP_FD, imm=watching.timers_fd), _i(0),
        _i(MOV64_X, R2, R10), _i(ADD64_K, R2, imm=-4),
        _i(CALL, imm=HELPER_MAP_LOOKUP_ELEM),
        _i(JEQ_K, R0, imm=0, to="KEEP"),              # never: the key is under 256
        _i(MOV64_X, R7, R0),
        _i(MOV64_X, R1, R7),
        _i(LD_IMM64, R2, BPF_PSEUDO_MAP_FD, imm=watching.timers_fd), _i(0),
        _i(MOV64_K, R3, imm=CLOCK_MONOTONIC),
        _i(CALL, imm=HELPER_TIMER_INIT),              # -EBUSY once done: not looked at
        _i(MOV64_X, R1, R7),
        _i(LD_IMM64, R2, BPF_PSEUDO_FUNC, to="CALLBACK"), _i(0),
        _i(CALL, imm=HELPER_TIMER_SET_CALLBACK),
        _i(JNE_K, R0, imm=0, to="KEEP"),
        _i(MOV64_X, R1, R7), _i(MOV64_X, R2, R9), _i(MOV64_K, R3, imm=0),
        _i(CALL, imm=HELPER_TIMER_START),
        _i(JNE_K, R0, imm=0, to="KEEP"),
    ]


def _callback(ring_fd: int) -> List[_Insn]:
    """The timers' callback (r1: the map, r2: the key, r3: the value): the key to the ring."""
    return [
        _i(LD_IMM64, R1, BPF_PSEUDO_MAP_FD, imm=ring_fd), _i(0),
        _i(MOV64_K, R3, imm=4), _i(MOV64_K, R4, imm=BPF_RB_FORCE_WAKEUP),
        _i(CALL, imm=HELPER_RINGBUF_OUTPUT),
        _i(MOV64_K, R0, imm=0), _i(EXIT),
    ]


def _tail(map_fd: int, watching: Optional[Watching]) -> List[Tuple[str, List[_Insn]]]:
    """STAMP (r8: the VRID), then DROP and KEEP (and the CALLBACK, watched)."""
    stamp = [_i(STX_W, R10, R8, off=-4)]             # the key, on the stack (both maps')
    stamp += [] if watching is None else _watch(watching)
    stamp += [
        _i(LD_IMM64, R1, BPF_PSEUDO_MAP_FD, imm=map_fd), _i(0),
        _i(MOV64_X, R2, R10), _i(ADD64_K, R2, imm=-4),
        _i(CALL, imm=HELPER_MAP_LOOKUP_ELEM),
        _i(JEQ_K, R0, imm=0, to="DROP"),             # never: the key is under 256
        _i(MOV64_X, R7, R0),
        _i(CALL, imm=HELPER_KTIME_GET_NS),
        _i(STX_DW, R7, R0, off=0),                   # last_ns, before the count
        _i(MOV64_K, R1, imm=1),
        _i(ATOMIC_DW, R7, R1, off=8, imm=0),         # count += 1
    ]
    tail = [("STAMP", stamp), ("DROP", [_i(MOV64_K, R0, imm=DROP), _i(EXIT)]),
            ("KEEP", [_i(MOV64_K, R0, imm=-1), _i(EXIT)])]
    return tail if watching is None else tail + [("CALLBACK", _callback(watching.ring_fd))]


def callback_at(insns: bytes) -> int:
    """The first instruction of a watched program's callback."""
    return len(insns) // INSN.size - CALLBACK_INSNS


def program(entries: Iterable[Steady], map_fd: int, watching: Optional[Watching] = None) -> bytes:
    """The stamp filter for ENTRIES (one per VRID), counting into the map MAP_FD; with
    WATCHING, each steady advert starts its VRID's timer first."""
    head = [
        _i(MOV64_X, R6, R1),                         # LD_ABS reads the skb through r6
        _i(LDX_W, R9, R1, off=SKB_LEN),
        _i(JLT_K, R9, imm=VRID_AT + 1, to="KEEP"),    # the three loads below in range
        _i(LD_B_ABS, imm=0), _i(JNE32_K, R0, imm=V4_FIXED, to="KEEP"),
        _i(LD_B_ABS, imm=PROTO_AT), _i(JNE32_K, R0, imm=IPPROTO_VRRP, to="KEEP"),
        _i(LD_B_ABS, imm=VRID_AT), _i(MOV64_X, R8, R0),
    ]
    blocks = [_block(entry, watching) for entry in unique(entries)]
    body = head + [insn for block in blocks for insn in block] + [_i(JA, to="KEEP")]
    labels = {}
    tail: List[_Insn] = []
    for name, insns in _tail(map_fd, watching):
        labels[name] = len(body) + len(tail)
        tail += insns
    out, at = [], len(head)
    ends = []
    for block in blocks:
        at += len(block)
        ends.append(at)
    block_of = 0
    for index, (code, dst, src, off, imm, to) in enumerate(body + tail):
        while block_of < len(ends) and index >= ends[block_of]:
            block_of += 1
        if to is not None and code == LD_IMM64:  # BPF_PSEUDO_FUNC: the offset in imm
            imm = labels[to] - index - 1
        elif to is not None:
            target = ends[block_of] if to == "NEXT" else labels[to]
            off = target - index - 1
        imm &= 0xFFFFFFFF
        out.append(INSN.pack(code, dst | src << 4, off, imm - (1 << 32) if imm >> 31 else imm))
    return b"".join(out)
