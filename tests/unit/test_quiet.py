"""Quiet receive (quiet.py, doorbell.py): a steady backup is woken by what is not steady.

The doorbell filter is run by bpfvm as the kernel would run it; the daemon runs on
fake sockets whose doorbell gets a copy of what that filter keeps, on virtual time.
"""

from __future__ import annotations

import asyncio
import errno
from typing import Any

import bpfvm
import pytest
from fakehost import FakeLan, until
from test_daemon_fake import Agent, instance, pair, run
from test_fastpath import MASTER4, OTHER4, UNREAD_BY_ANY_CHECK, _cached4, advert, datagram
from vrrp_agent import doorbell, fastpath, quiet
from vrrp_agent.quiet import QUIET_ENV
from vrrp_agent.router import BACKUP, MASTER

KEY = ("eth0", 4)


@pytest.fixture
def lan() -> FakeLan:
    return FakeLan()


def steady(data: bytes, vrid: int = 51) -> doorbell.Steady:
    return doorbell.Steady(vrid, data[8], data[12:])


# ------------------------------------------------------------------ the filter
def test_the_filter_is_silent_exactly_where_the_fast_path_would_take_the_advert():
    data = datagram(advert())
    table, inst = _cached4(data)
    insns, covered = doorbell.program([steady(data)])
    assert covered == [steady(data)]
    assert bpfvm.run(insns, data) == doorbell.QUIET
    for offset in range(len(data)):
        changed = bytearray(data)
        changed[offset] ^= 0x01
        taken = fastpath.match4(table, bytes(changed)) is inst
        assert taken == (offset in UNREAD_BY_ANY_CHECK), offset
        assert (bpfvm.run(insns, bytes(changed)) == doorbell.QUIET) == taken, offset
    assert bpfvm.run(insns, datagram(advert() + b"\0")) == doorbell.RING  # one byte longer
    assert bpfvm.run(insns, datagram(advert(priority=0))) == doorbell.RING  # RFC 5798 §6.4.2
    assert bpfvm.run(insns, datagram(advert(), src=OTHER4)) == doorbell.RING
    assert bpfvm.run(insns, datagram(advert(), ttl=254)) == doorbell.RING


def test_unaligned_adverts_and_several_vrids_each_compare_their_own_bytes():
    short = datagram(advert() + b"\x01\x02")  # 2 trailing bytes: a half-word compare
    odd = datagram(advert() + b"\x01\x02\x03")  # 3 trailing bytes: half-word + byte
    odd = odd[:21] + b"\x34" + odd[22:]  # VRID 52
    entries = [steady(short, 51), steady(odd, 52)]
    insns, covered = doorbell.program(entries)
    assert covered == entries
    other_vrid = bytearray(odd)
    other_vrid[21] = 51  # VRID 51 with the bytes of VRID 52's advert
    assert bpfvm.run(insns, short) == doorbell.QUIET
    assert bpfvm.run(insns, bytes(other_vrid)) == doorbell.RING
    for data in (short, odd):
        for offset in range(12, len(data)):
            changed = bytearray(data)
            changed[offset] ^= 0x80
            assert bpfvm.run(insns, bytes(changed)) == doorbell.RING, offset


def test_the_filter_stays_within_the_kernel_limits_and_leaves_out_what_does_not_fit():
    data = datagram(advert())
    many = [steady(data, vrid) for vrid in range(1, 256)]
    insns, covered = doorbell.program(many)
    assert len(insns) // doorbell.INSN.size <= doorbell.MAX_INSNS and len(covered) == 255
    huge = doorbell.Steady(9, 255, bytes(2000))  # a block beyond a 255-instruction jump
    insns, covered = doorbell.program([huge, steady(data)])
    assert covered == [steady(data)]
    assert bpfvm.run(insns, b"\x45" + bytes(8) + b"\x70" + bytes(20)) == doorbell.RING
    assert bpfvm.run(doorbell.silence_all(), data) == doorbell.QUIET


# ------------------------------------------------------------------ through the daemon
def _quiet(agent: Agent) -> bool:
    assert agent.daemon is not None
    return agent.daemon.driver.quiet.is_quiet(KEY)


def test_a_steady_backup_goes_quiet_and_stays_backup_on_receipt_times(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP and _quiet(a2))
        assert not _quiet(a1)  # a master reads at once
        sock = a2.host.sockets[0]
        assert sock.doorbells and sock.filters_attached >= 1
        received = a2.status()["counters"]["adverts_received"]
        await asyncio.sleep(5.0)  # 50 intervals: the timer drains, no takeover
        assert a2.state() == BACKUP and _quiet(a2)
        assert a2.status()["counters"]["adverts_received"] >= received + 45  # status drains
        assert a2.daemon.driver.quiet.pairs[KEY].retries == 0
        await a1.stop()
        await a2.stop()

    run(scenario)


def _slow_pair(lan: FakeLan, tmp_path: Any) -> Any:
    """Master n1 and quiet backup n2 at advert_int 1 s, started by `await steady()`."""
    a1, a2 = pair(lan, tmp_path, instance(priority=150, advert_int=1),
                  instance(priority=100, advert_int=1))

    async def steady() -> None:
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP and _quiet(a2))

    return a1, a2, steady


def test_rfc5798_6_4_2_priority_zero_rings_and_the_backup_takes_over_after_skew_time(lan, tmp_path):
    a1, a2, steady = _slow_pair(lan, tmp_path)

    async def scenario():
        await steady()
        await asyncio.sleep(2.5)
        loop = asyncio.get_running_loop()
        stopped = loop.time()
        await a1.stop()  # priority 0: not a steady advert
        waited = await until(lambda: a2.state() == MASTER, timeout=10)
        # Skew_Time = (256 - 100) / 256 s; a Master_Down_Interval would be 3.6 s
        assert waited < 1.0, (waited, loop.time() - stopped)
        assert not _quiet(a2)  # a master reads at once again
        await a2.stop()

    run(scenario)


def test_rfc5798_6_4_2_a_silent_master_is_down_one_interval_after_its_last_queued_advert(
        lan, tmp_path):
    a1, a2, steady = _slow_pair(lan, tmp_path)

    async def scenario():
        await steady()
        await asyncio.sleep(4.2)
        lan.cut.add("eth0")  # a1 keeps sending: nothing arrives
        waited = await until(lambda: a2.state() == MASTER, timeout=10)
        # Master_Down_Interval 3 x 1 + 156/256 = 3.61 s after the last advert received
        # (at most 1 s before the cut): neither earlier nor a whole drain period later
        assert 2.6 < waited < 3.7, waited
        lan.cut.clear()
        await a1.stop()
        await a2.stop()

    run(scenario)


def test_a_new_master_rings_and_is_known_before_any_timer(tmp_path):
    lan = FakeLan()
    backup = Agent(lan.host("n2", "198.51.100.2"), instance(priority=100, advert_int=1), tmp_path)

    async def scenario():
        await backup.start()
        sock = backup.host.sockets[0]
        for _ in range(3):
            sock.arrive(datagram(advert(priority=200)))
            await asyncio.sleep(0.3)
        await until(lambda: _quiet(backup))
        assert backup.daemon.instances[0].router.master_ip == MASTER4
        sock.arrive(datagram(advert(priority=250, src=OTHER4), src=OTHER4))
        await asyncio.sleep(0.01)  # a loop turn: the doorbell, not a 3.6 s timer
        assert backup.daemon.instances[0].router.master_ip == OTHER4
        await backup.stop()

    run(scenario)


def test_quiet_receive_can_be_turned_off(lan, tmp_path, monkeypatch):
    monkeypatch.setenv(QUIET_ENV, "0")
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        await asyncio.sleep(1.0)
        assert not _quiet(a2) and not a2.host.sockets[0].doorbells
        await a1.stop()
        await a2.stop()

    run(scenario)


@pytest.fixture
def loop_errors(monkeypatch) -> Any:
    """Exceptions raised in loop callbacks (quiet.py's refresh runs from call_soon)."""
    seen: list = []
    real = asyncio.BaseEventLoop.call_exception_handler

    def record(self: Any, context: dict) -> None:
        seen.append(context)
        real(self, context)

    monkeypatch.setattr(asyncio.BaseEventLoop, "call_exception_handler", record)
    return seen


def test_switching_modes_raises_nothing_in_the_loop(lan, tmp_path, loop_errors):
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a2.state() == BACKUP and _quiet(a2))
        lan.cut.add("eth0")
        await until(lambda: a2.state() == MASTER and not _quiet(a2))
        lan.cut.clear()
        await until(lambda: a2.state() == BACKUP and _quiet(a2))
        await a1.stop()
        await until(lambda: a2.state() == MASTER)
        await a2.stop()

    run(scenario)
    assert loop_errors == []


def test_many_steady_adverts_are_split_over_doorbells_by_vrid_range():
    base = datagram(advert())
    entries = [steady(base[:21] + bytes([vrid]) + base[22:], vrid) for vrid in range(1, 256)]
    filters, covered = doorbell.programs(entries, limit=400)
    assert len(covered) == 255 and 1 < len(filters) <= 8
    assert all(len(f) // doorbell.INSN.size <= 400 for f in filters)
    for vrid in (1, 2, 77, 128, 200, 255):
        data = base[:21] + bytes([vrid]) + base[22:]
        assert [bpfvm.run(f, data) for f in filters] == [doorbell.QUIET] * len(filters)
        leaving = base[:21] + bytes([vrid, 0]) + base[23:]  # priority 0
        rings = [bpfvm.run(f, leaving) for f in filters]
        assert rings.count(doorbell.RING) == 1, (vrid, rings)  # exactly one doorbell
    unknown = base[:21] + bytes([0]) + base[22:]
    assert [bpfvm.run(f, unknown) for f in filters].count(doorbell.RING) == 1
    filters, covered = doorbell.programs(entries, limit=400, most=2)
    assert len(covered) < 255  # what does not fit is not covered: the interface stays loud


@pytest.mark.parametrize("refusal", [errno.ENOMEM, errno.EPERM])
def test_a_filter_the_kernel_refuses_leaves_the_interface_loud(tmp_path, loop_errors, refusal):
    """ENOMEM (over net.core.optmem_max): halved down to the smallest split, then loud;
    anything else: loud at once. For good on this interface, without a loop error."""
    lan = FakeLan()
    host = lan.host("n2", "198.51.100.2")
    backup = Agent(host, instance(priority=100, advert_int=1), tmp_path)

    async def scenario():
        await backup.start()
        sock = host.sockets[0]
        sock.filter_limit, sock.filter_errno = 8 * 10, refusal  # under any doorbell filter
        for _ in range(5):
            sock.arrive(datagram(advert(priority=200)))
            await asyncio.sleep(0.1)
        assert backup.state() == BACKUP and not _quiet(backup)
        assert KEY not in backup.daemon.driver.quiet.pairs
        sock.filter_limit = 1 << 30
        for _ in range(5):
            sock.arrive(datagram(advert(priority=200)))
            await asyncio.sleep(0.1)
        assert backup.state() == BACKUP and not _quiet(backup)
        assert backup.status()["counters"]["adverts_received"] == 10
        await backup.stop()

    run(scenario)
    assert loop_errors == []


# ------------------------------------------------------------------ reading the queue
def _quiet_backup(tmp_path: Any, extra: str = "", priority: int = 200, **config: Any) -> Any:
    """A backup (priority 100) made quiet by three adverts of PRIORITY from MASTER4."""
    lan = FakeLan()
    backup = Agent(lan.host("n2", "198.51.100.2"), instance(priority=100, extra=extra, **config),
                   tmp_path)

    async def steady() -> Any:
        await backup.start()
        sock = backup.host.sockets[0]
        for _ in range(3):
            sock.arrive(datagram(advert(priority=priority)))
            await asyncio.sleep(0.1)
        await until(lambda: _quiet(backup))
        return sock

    return backup, steady


def _received(backup: Agent) -> int:
    backup.status()  # reads the queue first
    return backup.daemon.instances[0].router.counters["adverts_received"]


def test_rfc5798_6_4_2_queued_steady_adverts_each_count_and_the_last_sets_the_timer(tmp_path):
    backup, steady = _quiet_backup(tmp_path)

    async def scenario():
        sock = await steady()
        loop = asyncio.get_running_loop()
        before = _received(backup)
        for gap in (0.05, 0.05, 0.0):  # queued: steady adverts do not ring
            sock.arrive(datagram(advert(), ident=7))
            last = loop.time()
            await asyncio.sleep(gap)
        router = backup.daemon.instances[0].router
        assert _received(backup) == before + 3
        # Master_Down_Interval = 3 x 0.1 + (256 - 100) / 256 x 0.1, from the last receipt
        assert router.next_deadline() == pytest.approx(last + router.master_down_interval_s(),
                                                       abs=1e-6)
        assert backup.state() == BACKUP
        await backup.stop()

    run(scenario)


def test_rfc5798_6_4_2_what_is_not_steady_comes_after_the_adverts_queued_before_it(tmp_path):
    backup, steady = _quiet_backup(tmp_path)

    async def scenario():
        sock = await steady()
        loop = asyncio.get_running_loop()
        before = _received(backup)
        router = backup.daemon.instances[0].router
        zeros = router.counters["priority_zero_received"]
        sock.arrive(datagram(advert()))
        await asyncio.sleep(0.05)
        sock.arrive(datagram(advert()))
        await asyncio.sleep(0.05)
        sock.arrive(datagram(advert(priority=0)))  # rings: read in this loop turn
        leaving = loop.time()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert _received(backup) == before + 3
        assert router.counters["priority_zero_received"] == zeros + 1
        # Master_Down_Timer = Skew_Time from the priority 0, not a Master_Down_Interval
        # from the adverts queued before it
        assert router.next_deadline() == pytest.approx(leaving + router.skew_time_s(), abs=1e-6)
        await until(lambda: backup.state() == MASTER, timeout=1)
        await backup.stop()

    run(scenario)


@pytest.mark.parametrize("extra, priority, alike", [
    ("", 200, True),                                   # a higher priority: accepted whenever
    ("    state BACKUP\n    nopreempt\n", 50, True),    # nopreempt: a lower one too
    ("    preempt_delay 5\n", 50, False),              # its countdown starts at the first one
])
def test_only_adverts_a_backup_takes_alike_whenever_they_come_are_read_as_one(
        tmp_path, extra, priority, alike):
    backup, steady = _quiet_backup(tmp_path, extra, priority)

    async def scenario():
        await steady()
        inst = backup.daemon.instances[0]
        assert backup.state() == BACKUP
        assert quiet._repeats_alike(inst) is alike
        await backup.stop()

    run(scenario)


@pytest.mark.parametrize("skip, counted", [(False, 3), (True, 1)])
def test_an_address_list_that_differs_is_counted_as_each_advert_would_be(tmp_path, skip, counted):
    """Without skip_check_adv_addr each advert counts; with it, only the first from a
    master not known yet (it becomes the master, which the option spares)."""
    extra = "    skip_check_adv_addr\n" if skip else ""
    backup, steady = _quiet_backup(tmp_path, extra, vips=("198.51.100.200/24",))

    async def scenario():
        sock = await steady()
        inst = backup.daemon.instances[0]
        _received(backup)
        before = inst.counters["address_list_mismatch"]
        inst.router.master_ip = bytes(4)  # not known yet (as after a takeover override)
        for _ in range(3):
            sock.arrive(datagram(advert()))  # steady: queued, read together
            await asyncio.sleep(0.05)
        _received(backup)
        assert inst.counters["address_list_mismatch"] - before == counted
        assert inst.router.master_ip == MASTER4
        await backup.stop()

    run(scenario)
