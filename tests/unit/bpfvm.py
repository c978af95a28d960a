"""A classic BPF interpreter for the opcodes doorbell.py emits (tests only).

It runs a program on a datagram as the kernel's socket filter would: loads
read network byte order, an out-of-range load ends the program with 0, the
return value is how many bytes to keep (0: drop). Any other opcode fails the
test: the filter must use only what this interpreter checks.
"""

from __future__ import annotations

from vrrp_agent import doorbell


def run(insns: bytes, packet: bytes) -> int:
    program = [doorbell.INSN.unpack_from(insns, at) for at in range(0, len(insns), doorbell.INSN.size)]
    assert 0 < len(program) <= doorbell.MAX_INSNS
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        pc += 1
        if code == doorbell.RET_K:
            return k
        if code == doorbell.LD_W_LEN:
            acc = len(packet)
        elif code in (doorbell.LD_W_ABS, doorbell.LD_H_ABS, doorbell.LD_B_ABS):
            size = {doorbell.LD_W_ABS: 4, doorbell.LD_H_ABS: 2, doorbell.LD_B_ABS: 1}[code]
            if k + size > len(packet):
                return 0
            acc = int.from_bytes(packet[k:k + size], "big")
        elif code == doorbell.JEQ_K:
            pc += jt if acc == k else jf
        elif code == doorbell.JGT_K:
            pc += jt if acc > k else jf
        elif code == doorbell.JGE_K:
            pc += jt if acc >= k else jf
        else:
            raise AssertionError(f"opcode {code:#x} not expected in a doorbell filter")
        assert pc < len(program), "ran past the end of the program"
