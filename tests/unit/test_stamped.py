"""Stamped quiet receive (stamped.py, stamps.py): the kernel counts a steady backup's adverts.

The stamp filter is run by ebpfvm as the kernel would run it, on the fake receive
socket: what it drops is counted in a FakeStampMap and never queued. The daemon runs
on virtual time; the real kernel's side is tests/lab/test_quiet_lab.py's.
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import ebpfvm
import pytest
from fakehost import FakeLan, until
from test_daemon_fake import Agent, instance, run
from test_fastpath import OTHER4, UNREAD_BY_ANY_CHECK, _cached4, advert, datagram
from test_quiet import KEY, steady
from vrrp_agent import fastpath, stamped, stamps
from vrrp_agent.quiet import QUIET_ENV
from vrrp_agent.router import BACKUP, MASTER
from vrrp_agent.stamped import StampedPair, datagram_of

NOW_NS = 1_234_567_890


def _run(insns: bytes, data: bytes, stamp_map: ebpfvm.FakeStampMap) -> int:
    return ebpfvm.run(insns, data, {stamp_map.fd: stamp_map}, NOW_NS)


# ------------------------------------------------------------------ the filter
def test_the_filter_counts_and_drops_exactly_what_the_fast_path_would_take():
    data = datagram(advert())
    table, inst = _cached4(data)
    stamp_map = ebpfvm.FakeStampMap()
    insns = stamps.program([steady(data)], stamp_map.fd)
    assert _run(insns, data, stamp_map) == stamps.DROP
    assert stamp_map.read(51) == (1, NOW_NS)
    for offset in range(len(data)):
        changed = bytearray(data)
        changed[offset] ^= 0x01
        taken = fastpath.match4(table, bytes(changed)) is inst
        assert taken == (offset in UNREAD_BY_ANY_CHECK), offset
        assert (_run(insns, bytes(changed), stamp_map) == stamps.DROP) == taken, offset
    assert stamp_map.read(51)[0] == 1 + len(UNREAD_BY_ANY_CHECK)
    kept = [datagram(advert() + b"\0"),                  # one byte longer
            datagram(advert(priority=0)),                # RFC 5798 §6.4.2: rings at once
            datagram(advert(), src=OTHER4), datagram(advert(), ttl=254)]
    for other in kept:
        assert _run(insns, other, stamp_map) == stamps.KEEP
    assert stamp_map.read(51)[0] == 1 + len(UNREAD_BY_ANY_CHECK)


def test_a_short_datagram_is_kept_whole_never_dropped_by_a_load_past_its_end():
    stamp_map = ebpfvm.FakeStampMap()
    insns = stamps.program([steady(datagram(advert()))], stamp_map.fd)
    for length in range(30):
        assert _run(insns, datagram(advert())[:length], stamp_map) == stamps.KEEP, length
    assert _run(stamps.program([], stamp_map.fd), datagram(advert()), stamp_map) == stamps.KEEP
    assert stamp_map.read(51) == (0, 0)


def test_several_vrids_each_count_their_own_bytes_in_their_own_entry():
    base = datagram(advert())
    entries = [steady(base[:21] + bytes([vrid]) + base[22:], vrid) for vrid in range(1, 256)]
    stamp_map = ebpfvm.FakeStampMap()
    insns = stamps.program(entries, stamp_map.fd)
    for vrid in (1, 77, 255):
        assert _run(insns, base[:21] + bytes([vrid]) + base[22:], stamp_map) == stamps.DROP
        assert stamp_map.read(vrid)[0] == 1
    swapped = base[:21] + bytes([77]) + base[22:]
    swapped = swapped[:-1] + bytes([swapped[-1] ^ 1])  # VRID 77, another VIP
    assert _run(insns, swapped, stamp_map) == stamps.KEEP
    assert _run(insns, base[:21] + bytes([0]) + base[22:], stamp_map) == stamps.KEEP
    assert stamp_map.read(77)[0] == 1 and stamp_map.read(2)[0] == 0


# ------------------------------------------------------------------ through the daemon
def _stamped(agent: Agent) -> bool:
    assert agent.daemon is not None
    pair = agent.daemon.driver.quiet.pairs.get(KEY)
    return pair is not None and pair.quiet and pair.stamped is not None


def _agents(lan: FakeLan, tmp_path: Any, text1: str, text2: str) -> Any:
    """Master n1 and backup n2, n2's kernel loading eBPF."""
    backup_host = lan.host("n2", "198.51.100.2")
    backup_host.ebpf = True
    return (Agent(lan.host("n1", "198.51.100.1"), text1, tmp_path),
            Agent(backup_host, text2, tmp_path))


def _lone_backup(tmp_path: Any, ebpf: bool = True) -> Agent:
    """A backup (priority 100) with no peer: the test sends its master's adverts."""
    host = FakeLan().host("n2", "198.51.100.2")
    host.ebpf = ebpf
    return Agent(host, instance(priority=100), tmp_path)


async def _steady(backup: Agent) -> Any:
    """BACKUP started and made quiet by three adverts from MASTER4: its fake socket."""
    await backup.start()
    sock = backup.host.sockets[0]
    for _ in range(3):
        sock.arrive(datagram(advert()))
        await asyncio.sleep(0.1)
    await until(lambda: backup.daemon.driver.quiet.is_quiet(KEY))
    return sock


def test_a_steady_backup_is_stamped_queues_nothing_and_counts_every_advert(tmp_path):
    lan = FakeLan()
    a1, a2 = _agents(lan, tmp_path, instance(priority=150), instance(priority=100))

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP and _stamped(a2))
        sock = a2.host.sockets[0]
        assert not sock.doorbells and sock.stamp_insns is not None
        received = a2.status()["counters"]["adverts_received"]
        await asyncio.sleep(5.0)  # 50 intervals: each timer reads its stamps, no takeover
        assert a2.state() == BACKUP and _stamped(a2)
        with pytest.raises(BlockingIOError):
            sock.rx.recv(1)  # nothing queued: every steady advert was dropped
        assert sock.stamp_map is not None and sock.stamp_map.read(51)[0] >= 45
        assert a2.status()["counters"]["adverts_received"] >= received + 45  # status takes them
        await a1.stop()
        await a2.stop()
        assert sock.stamp_map.closed

    run(scenario)


def test_rfc5798_6_4_2_priority_zero_is_queued_and_the_backup_takes_over_after_skew_time(
        tmp_path):
    lan = FakeLan()
    a1, a2 = _agents(lan, tmp_path, instance(priority=150, advert_int=1),
                     instance(priority=100, advert_int=1))

    async def scenario():
        await _started_stamped(a1, a2)
        await asyncio.sleep(2.5)
        await a1.stop()  # priority 0: not steady, read at once
        waited = await until(lambda: a2.state() == MASTER, timeout=10)
        assert waited < 1.0, waited  # Skew_Time (156/256 s), not a Master_Down_Interval
        assert not _stamped(a2) and a2.host.sockets[0].stamp_insns is None
        await a2.stop()

    run(scenario)


def test_rfc5798_6_4_2_a_silent_master_is_down_one_interval_after_its_last_stamp(tmp_path):
    lan = FakeLan()
    a1, a2 = _agents(lan, tmp_path, instance(priority=150, advert_int=1),
                     instance(priority=100, advert_int=1))

    async def scenario():
        await _started_stamped(a1, a2)
        await asyncio.sleep(4.2)
        lan.cut.add("eth0")
        waited = await until(lambda: a2.state() == MASTER, timeout=10)
        # Master_Down_Interval 3 x 1 + 156/256 = 3.61 s after the last stamp (at most
        # 1 s before the cut)
        assert 2.6 < waited < 3.7, waited
        lan.cut.clear()
        await until(lambda: a2.state() == BACKUP and _stamped(a2))  # a1 preempts back
        await a1.stop()
        await a2.stop()

    run(scenario)


def test_rfc5798_6_4_2_stamps_count_from_their_receipt_and_come_before_what_is_queued(
        tmp_path):
    backup = _lone_backup(tmp_path)

    async def scenario():
        sock = await _steady(backup)
        loop = asyncio.get_running_loop()
        router = backup.daemon.instances[0].router
        backup.status()  # takes what was counted so far
        before = router.counters["adverts_received"]
        for _ in range(2):
            sock.arrive(datagram(advert(), ident=7))  # steady: counted, not queued
            last = loop.time()
            await asyncio.sleep(0.05)
        assert router.counters["adverts_received"] == before  # not taken yet
        assert router.next_deadline() < last + router.master_down_interval_s() - 0.01
        backup.status()
        assert router.counters["adverts_received"] == before + 2
        assert router.next_deadline() == pytest.approx(
            last + router.master_down_interval_s(), abs=1e-6)
        sock.arrive(datagram(advert()))
        sock.arrive(datagram(advert(priority=250, src=OTHER4), src=OTHER4))  # queued
        await asyncio.sleep(0.001)  # a loop turn: read at once, the stamp first
        assert router.counters["adverts_received"] == before + 4
        assert router.master_ip == OTHER4
        await backup.stop()

    run(scenario)


def _tracked_pair(tmp_path: Any) -> Any:
    """Master n1 (150) and stamped backup n2 (100 + a tracked file's weight, 0 now)."""
    weight = tmp_path / "weight"
    weight.write_text("0\n")
    tracks = f"vrrp_track_file W {{\n    file {weight}\n    weight 1\n}}\n"
    extra = "    track_file {\n        W\n    }\n"
    a1, a2 = _agents(FakeLan(), tmp_path, instance(priority=150),
                     tracks + instance(priority=100, extra=extra))
    return a1, a2, weight


async def _started_stamped(a1: Agent, a2: Agent) -> None:
    await a1.start()
    await a2.start()
    await until(lambda: a2.state() == BACKUP and _stamped(a2))


def test_a_backup_whose_priority_rises_over_its_master_stops_taking_its_stamps(tmp_path):
    """Its master's adverts are no longer taken alike (preempt): the filter is built
    without them, they take the full path and the backup preempts."""
    a1, a2, weight = _tracked_pair(tmp_path)

    async def scenario():
        await _started_stamped(a1, a2)
        weight.write_text("100\n")  # 200 > 150
        await until(lambda: a2.state() == MASTER and a1.state() == BACKUP, timeout=10)
        assert a2.status()["effective_priority"] == 200
        await a1.stop()
        await a2.stop()

    run(scenario)


@pytest.mark.parametrize("why", ["no map", "filter refused", "doorbell asked"])
def test_without_ebpf_quiet_receive_uses_the_doorbells(tmp_path, monkeypatch, why):
    lan = FakeLan()
    a1, a2 = _agents(lan, tmp_path, instance(priority=150), instance(priority=100))
    a2.host.ebpf = why != "no map"
    a2.host.ebpf_refuses = why == "filter refused"
    if why == "doorbell asked":
        monkeypatch.setenv(QUIET_ENV, "doorbell")

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a2.state() == BACKUP and a2.daemon.driver.quiet.is_quiet(KEY))
        pair = a2.daemon.driver.quiet.pairs[KEY]
        sock = a2.host.sockets[0]
        assert pair.stamped is None and sock.doorbells and sock.stamp_insns is None
        await asyncio.sleep(2.0)
        assert a2.state() == BACKUP
        await a1.stop()
        await until(lambda: a2.state() == MASTER, timeout=2)
        await a2.stop()

    run(scenario)


def test_a_timer_takes_its_stamps_and_reads_the_socket_only_when_they_leave_it_due(tmp_path):
    """quiet.drain for a backup's timer (driver._drained_past): stamps that put the
    deadline past now are enough; else the socket is read before a decision (on
    uvloop a timer can run before the reader of a datagram queued in a stall)."""
    backup = _lone_backup(tmp_path)

    async def scenario():
        sock = await _steady(backup)
        inst = backup.daemon.instances[0]
        quiet, io = backup.daemon.driver.quiet, backup.daemon.driver.io[KEY]
        sock.arrive(datagram(advert()))  # counted
        sock.arrive(datagram(advert(priority=250, src=OTHER4), src=OTHER4))  # queued, unread
        quiet.drain(KEY, io, inst)
        assert inst.router.master_ip != OTHER4  # the stamp moved the deadline: not read
        quiet.drain(KEY, io, inst)  # no new stamp: the socket is read
        assert inst.router.master_ip == OTHER4
        await backup.stop()

    run(scenario)


def test_a_take_hands_the_newest_time_once_and_says_whether_it_is_taken_alike():
    calls = []
    stamp_map = ebpfvm.FakeStampMap()
    pair = StampedPair(None, stamp_map, lambda inst: inst.alike, lambda: calls.append("stale"))
    entry = steady(datagram(advert()))
    inst = SimpleNamespace(cfg=SimpleNamespace(vrid=51), alike=True,
                           accepted=SimpleNamespace(wire=entry.wire, ttl=entry.ttl))
    pair.installed[51], pair.taken[51] = entry, 0

    def counted(count: int, last_ns: int) -> None:
        stamp_map.values[51 * 16:51 * 16 + 16] = last_ns.to_bytes(8, "little") + count.to_bytes(8, "little")

    assert pair.take(inst, 5.0) is None  # nothing counted yet
    counted(3, 2_000_000_000)
    assert pair.take(inst, 5.0, older_than=1.5) is None  # newer than the datagram: after it
    assert pair.take(inst, 5.0) == (2.0, 3, entry, True)  # the newest's time, all three
    assert pair.take(inst, 5.0) is None  # taken: not twice
    counted(4, 1_000_000_000)  # a count seen before its time (stores not ordered)
    assert pair.take(inst, 5.0) == (2.0, 1, entry, True)  # never earlier than the last
    counted(5, 3_000_000_000)
    assert pair.take(inst, 2.5) == (2.5, 1, entry, True)  # never later than now
    assert calls == []
    inst.accepted = SimpleNamespace(wire=entry.wire[:-1] + b"\0", ttl=entry.ttl)  # a new master
    counted(6, 4_000_000_000)
    assert pair.take(inst, 5.0) == (4.0, 1, entry, False) and calls == ["stale"]
    inst.accepted, inst.alike = SimpleNamespace(wire=entry.wire, ttl=entry.ttl), False  # MASTER
    counted(7, 4_500_000_000)
    assert pair.take(inst, 5.0) == (4.5, 1, entry, False) and calls == ["stale", "stale"]
    del pair.installed[51]  # out of the filter: what it counted since is never handed
    counted(8, 4_600_000_000)
    assert pair.take(inst, 5.0) is None


def test_a_stamp_not_taken_alike_goes_the_full_path_as_the_datagram_it_matched():
    data = datagram(advert(), ident=7)
    table, inst = _cached4(data)
    replayed = datagram_of(steady(data))
    assert fastpath.match4(table, replayed) is inst  # every byte a check reads
    assert len(replayed) == len(data) and replayed[12:] == data[12:]


@pytest.mark.parametrize("count", [stamped.STAMPED_MOST, stamped.STAMPED_MOST + 1])
def test_more_steady_adverts_than_a_stamp_filter_takes_go_to_the_doorbells(tmp_path, caplog,
                                                                           count):
    caplog.set_level(logging.INFO, logger="vrrp_agent")

    def instances(priority: int) -> str:
        return "".join(instance(f"VI_{vrid}", vrid=vrid, priority=priority,
                                vips=(f"198.51.100.{100 + vrid}/24",))
                       for vrid in range(1, count + 1))

    lan = FakeLan()
    a1, a2 = _agents(lan, tmp_path, instances(150), instances(100))

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a2.daemon.driver.quiet.is_quiet(KEY)
                    and all(i.router.state == BACKUP for i in a2.daemon.instances))
        sock = a2.host.sockets[0]
        await asyncio.sleep(2.0)
        assert all(i.router.state == BACKUP for i in a2.daemon.instances)
        if count <= stamped.STAMPED_MOST:
            assert _stamped(a2) and not sock.doorbells and not sock.stamp_map.closed
        else:
            assert a2.daemon.driver.quiet.pairs[KEY].stamped is None and sock.stamp_map.closed
            assert sock.doorbells and sock.stamp_insns is None
        await a1.stop()
        await a2.stop()

    run(scenario)
    said = f"eth0/ipv4: {count} steady adverts: quiet receive uses doorbells" in caplog.text
    assert said == (count > stamped.STAMPED_MOST)


def test_counts_an_earlier_filter_made_are_never_handed_over_when_its_vrid_is_back(tmp_path):
    """A steady advert counted between the last take and the filter's removal (the
    backup preempts) must not come back, at its old time, when the backup is steady
    again: its deadline would be in the past (a false takeover)."""
    a1, a2, weight = _tracked_pair(tmp_path)

    async def scenario():
        await _started_stamped(a1, a2)
        sock = a2.host.sockets[0]
        heard = []
        arrive, stamp_filter = sock.arrive, sock.stamp_filter

        def recording(data: bytes) -> None:
            if data[12:16] == bytes([198, 51, 100, 1]):
                heard[:] = [data]
            arrive(data)

        def counted_before_removal(insns: Any, loaded: Any = None, watch: Any = None) -> None:
            if insns is None and sock.stamp_insns is not None and heard:
                arrive(heard[0])  # the old filter counts it: never taken
            stamp_filter(insns, loaded, watch)

        sock.arrive, sock.stamp_filter = recording, counted_before_removal
        weight.write_text("100\n")  # 200 > 150: a2 preempts
        await until(lambda: a2.state() == MASTER and a1.state() == BACKUP, timeout=10)
        await asyncio.sleep(2.0)
        weight.write_text("0\n")  # a1 preempts back: a2 steady again on the same advert
        await until(lambda: a2.state() == BACKUP and _stamped(a2), timeout=10)
        states = []
        for _ in range(300):
            await asyncio.sleep(0.01)
            states.append(a2.state())
        assert MASTER not in states
        assert a2.status()["counters"]["became_master"] == 1
        await a1.stop()
        await a2.stop()

    run(scenario)


@pytest.mark.parametrize("ebpf", [False, True], ids=["doorbells", "stamped"])
def test_rfc5798_6_4_2_a_priority_zero_then_the_masters_advert_come_in_that_order(
        tmp_path, ebpf):
    """Both before the backup reads (one loop turn): the later advert is the last word,
    the backup stays backup (stamps newer than a queued datagram come after it)."""
    backup = _lone_backup(tmp_path, ebpf)

    async def scenario():
        sock = await _steady(backup)
        assert _stamped(backup) == ebpf
        sock.arrive(datagram(advert(priority=0)))  # the master leaves...
        asyncio.get_running_loop().clock.now += 0.0001  # virtual time: 0.1 ms later
        sock.arrive(datagram(advert()))  # ...and is back before the backup read (a restart)
        states = []
        for tick in range(20):
            await asyncio.sleep(0.01)
            if tick % 10 == 9:
                sock.arrive(datagram(advert()))
            states.append(backup.state())
        assert MASTER not in states
        await backup.stop()

    run(scenario)
