"""The doorbell's socket filter: a classic BPF program that stays silent for steady adverts.

A backup in steady state hears the same bytes from the same master every
interval (fastpath.py). Waking for each of them costs more than anything the
backup does with them, so while an interface's backups are steady the driver
stops polling its receive socket and polls a second raw socket instead, the
doorbell, which carries this filter (quiet.py). Rules:
- The filter is pure data built here (no socket, no clock): a list of
  `Steady` entries in, classic BPF instructions out (linux/filter.h).
- It returns QUIET (0: the kernel drops the copy) only for an IPv4 datagram
  that fastpath.match4 would take for its VRID's entry: version and header
  length 0x45, protocol VRRP, TTL, length (of the datagram and in its
  header), and every byte from the source
  address on (datagram[12:]); RING (keep it: wake up) for anything else, by
  one byte. The receive socket still queues every datagram: the filter
  decides when the backup wakes, never what it reads or checks.
- Each entry is one block of compares, the word that holds the VRID first;
  a mismatch jumps to the next block, the end rings. Compares every entry
  shares (one master's source, group, TTL and length) come once, before the
  blocks, and ring on a mismatch. Out-of-range loads end
  a classic BPF program with 0 (silent): only a datagram shorter than 24
  bytes can take that exit, and it is read (and discarded as too short) at
  the next drain.
- Jumps are forward and at most 255 instructions: an entry whose block would
  be longer is left out (it rings). The kernel caps a socket filter's memory
  (net.core.optmem_max; at its 128 KiB default some 1,400-instruction
  filters are refused: CHUNK_INSNS stays under that), so
  many steady adverts are split over several doorbells (`programs`), each
  silent for the VRIDs outside its range: every VRID is in exactly one
  range, so whatever is not steady rings exactly one doorbell.
"""

from __future__ import annotations

import struct
from typing import Dict, Iterable, List, NamedTuple, Tuple

from vrrp_agent.constants import IPPROTO_VRRP

__all__ = ["Steady", "program", "programs", "silence_all", "RING", "QUIET", "INSN"]

# struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; }  (linux/filter.h)
INSN = struct.Struct("=HBBI")
LD_W_ABS = 0x20   # BPF_LD | BPF_W | BPF_ABS: A = 32-bit word at k (network order)
LD_H_ABS = 0x28   # BPF_LD | BPF_H | BPF_ABS
LD_B_ABS = 0x30   # BPF_LD | BPF_B | BPF_ABS
LD_W_LEN = 0x80   # BPF_LD | BPF_W | BPF_LEN: A = datagram length
JEQ_K = 0x15      # BPF_JMP | BPF_JEQ | BPF_K: pc += (A == k) ? jt : jf
JGT_K = 0x25      # BPF_JMP | BPF_JGT | BPF_K: pc += (A > k) ? jt : jf
JGE_K = 0x35      # BPF_JMP | BPF_JGE | BPF_K: pc += (A >= k) ? jt : jf
RET_K = 0x06      # BPF_RET | BPF_K: keep k bytes (0: drop)
RING = 0xFFFF
QUIET = 0
MAX_INSNS = 4096  # BPF_MAXINSNS
MAX_JUMP = 255
CHUNK_INSNS = 1000  # per doorbell: well under what net.core.optmem_max's 128 KiB default takes

V4_FIXED = 0x45
TOTAL_LENGTH_AT, TTL_AT, PROTO_AT, WIRE_AT, VRRP_AT, VRID_AT = 2, 8, 9, 12, 20, 21


class Steady(NamedTuple):
    """One instance's last accepted IPv4 advert (fastpath.Accepted): VRID, TTL, datagram[12:]."""

    vrid: int
    ttl: int
    wire: bytes


Insn = Tuple[int, int, int, int]


def _prologue(lowest: int, highest: int) -> List[Insn]:
    """VRIDs outside lowest..highest are another doorbell's (silent here); then the
    IPv4 header without options and the VRRP protocol, else ring."""
    return [
        (LD_B_ABS, 0, 0, VRID_AT),
        (JGE_K, 1, 0, lowest),
        (RET_K, 0, 0, QUIET),
        (JGT_K, 0, 1, highest),
        (RET_K, 0, 0, QUIET),
        (LD_B_ABS, 0, 0, 0),
        (JEQ_K, 1, 0, V4_FIXED),
        (RET_K, 0, 0, RING),
        (LD_B_ABS, 0, 0, PROTO_AT),
        (JEQ_K, 1, 0, IPPROTO_VRRP),
        (RET_K, 0, 0, RING),
    ]


def compares(entry: Steady) -> List[Tuple[int, int, int]]:
    """(load opcode, offset, expected value) for every checked field of ENTRY, the
    VRRP header's first word (version and type, VRID, priority, count) first."""
    wire = entry.wire
    length = WIRE_AT + len(wire)
    head = VRRP_AT - WIRE_AT
    out = [(LD_W_ABS, VRRP_AT, int.from_bytes(wire[head:head + 4], "big")),
           (LD_H_ABS, TOTAL_LENGTH_AT, length), (LD_B_ABS, TTL_AT, entry.ttl)]
    offset = 0
    while offset < len(wire):
        chunk = wire[offset:offset + 4]
        if offset == head:
            offset += 4
            continue
        if len(chunk) == 3:
            chunk = chunk[:2]
        opcode = {4: LD_W_ABS, 2: LD_H_ABS, 1: LD_B_ABS}[len(chunk)]
        out.append((opcode, WIRE_AT + offset, int.from_bytes(chunk, "big")))
        offset += len(chunk)
    return out


def _block(compares: List[Tuple[int, int, int]]) -> List[Insn]:
    """Each field in turn: QUIET when all match; on the first mismatch, the next block."""
    block: List[Insn] = []
    size = 2 * len(compares) + 1
    for opcode, offset, value in compares:
        block.append((opcode, 0, 0, offset))
        at = len(block)
        block.append((JEQ_K, 0, size - at - 1, value))
    block.append((RET_K, 0, 0, QUIET))
    return block


def _shared(compares: List[List[Tuple[int, int, int]]]) -> List[Tuple[int, int, int]]:
    """The compares every entry makes (the first, its own VRRP header, excepted)."""
    if not compares:
        return []
    common = set(compares[0][1:])
    for entry in compares[1:]:
        common &= set(entry[1:])
    return [c for c in compares[0][1:] if c in common]


def unique(entries: Iterable[Steady]) -> List[Steady]:
    """One entry per VRID, each with a VRRP header to compare, by VRID."""
    out: Dict[int, Steady] = {}
    for entry in entries:
        if entry.vrid not in out and len(entry.wire) >= VRRP_AT - WIRE_AT + 4:
            out[entry.vrid] = entry
    return [out[vrid] for vrid in sorted(out)]


def program(entries: Iterable[Steady], lowest: int = 0, highest: int = 255,
            limit: int = MAX_INSNS) -> Tuple[bytes, List[Steady]]:
    """The doorbell filter for ENTRIES (VRIDs lowest..highest), and the entries it
    covers (the others ring), in at most LIMIT instructions.

    Fields every entry shares (the master's address, the group, TTL, length:
    one master's adverts) are compared once, before the blocks; a mismatch rings.
    """
    entries_by_vrid = unique(entries)
    checks = [compares(entry) for entry in entries_by_vrid]
    shared = _shared(checks)
    insns = _prologue(lowest, highest)
    for opcode, offset, value in shared:
        insns += [(opcode, 0, 0, offset), (JEQ_K, 1, 0, value), (RET_K, 0, 0, RING)]
    covered: List[Steady] = []
    for entry, own in zip(entries_by_vrid, checks):
        block = _block([c for c in own if c not in shared])
        if len(block) > MAX_JUMP or len(insns) + len(block) + 1 > limit:
            continue
        insns += block
        covered.append(entry)
    insns.append((RET_K, 0, 0, RING))  # no block took it
    return b"".join(INSN.pack(*i) for i in insns), covered


def programs(entries: Iterable[Steady], limit: int = CHUNK_INSNS,
             most: int = 8) -> Tuple[List[bytes], List[Steady]]:
    """Filters for up to MOST doorbells of at most LIMIT instructions each, splitting
    the VRIDs 0..255 into consecutive ranges; and the entries they cover."""
    pending = unique(entries)
    out: List[bytes] = []
    covered: List[Steady] = []
    lowest = 0
    while pending and len(out) < most:
        take = len(pending)
        while take > 1 and len(program(pending[:take], limit=1 << 30)[0]) // INSN.size > limit:
            take = max(1, take * 3 // 4)
        highest = 255 if take == len(pending) else pending[take].vrid - 1
        insns, done = program(pending[:take], lowest, highest, limit)
        if not done:
            break
        out.append(insns)
        covered += done
        pending = pending[take:]
        lowest = highest + 1
    if not out:
        out.append(program([], 0, 255)[0])
    return out, covered


def silence_all() -> bytes:
    """Drop every copy: the doorbell of an interface that is not quiet."""
    return INSN.pack(RET_K, 0, 0, QUIET)
