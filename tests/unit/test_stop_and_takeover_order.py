"""The order of the work around a graceful stop and a takeover (issue 14), on the real
daemon with fake adapters: RFC 5798 §6.4.3's priority-0 advert before any other stop
work, and a takeover's VIP add and GARP made on the loop before the transition is
published, with the held set recorded after and the worker's queue order kept."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any, List

import pytest
from fakehost import FakeHost, FakeLan, FakeNetlink, until
from test_daemon_fake import VIP, Agent, instance, pair, run
from vrrp_agent import driver
from vrrp_agent.packet import AdvertEncoder
from vrrp_agent.router import BACKUP, INIT, MASTER

OTHER = "198.51.100.101"


@pytest.fixture
def lan() -> FakeLan:
    return FakeLan()


def _notify_in_journal(host: FakeHost) -> None:
    """systemd's messages into the host's journal, beside the adverts and VIP calls."""
    adapters = host.adapters

    def with_journal() -> Any:
        ad = adapters()
        def notify(msg: str) -> None:
            host.notified.append(msg)
            host.journal.append(("notify", msg))

        ad.systemd_notify = notify
        return ad

    host.adapters = with_journal  # type: ignore[method-assign]


class _LaterNetlink(FakeNetlink):
    """A worker that runs its jobs later, as the real thread does, not inside submit()."""

    def submit(self, fn: Any, *args: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        asyncio.get_event_loop().call_soon(lambda: future.set_result(fn(*args)))
        return future


def _later_worker(host: FakeHost) -> None:
    adapters = host.adapters

    def with_later_worker() -> Any:
        ad = adapters()
        ad.netlink = lambda: _LaterNetlink(host)
        return ad

    host.adapters = with_later_worker  # type: ignore[method-assign]


# -------------------------------------------------------------------- stop
def test_rfc5798_6_4_3_sigterm_sends_priority_0_before_other_stop_work(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))
    _notify_in_journal(a1.host)

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        a1.host.journal.clear()
        a1.daemon.request_stop()  # what SIGTERM runs
        assert a1.host.journal[0] == ("advert", "0")  # from the signal's callback itself
        assert a1.state() == INIT and a1.host.notified[-1] != "STOPPING=1"
        assert await a1.task == 0
        kinds = [entry[0] for entry in a1.host.journal]
        assert kinds.index("notify") > 0 and ("del", VIP) in a1.host.journal
        assert a1.host.journal.count(("advert", "0")) == 1  # the stop path does not send it again
        await until(lambda: a2.state() == MASTER)
        await a2.stop()

    run(scenario)


def test_the_adverts_of_a_stop_and_a_takeover_are_built_before_them(lan, tmp_path, monkeypatch):
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))
    built: List[int] = []
    real = AdvertEncoder._build

    def spy(self: AdvertEncoder, priority: int, *args: Any) -> bytes:
        built.append(priority)
        return real(self, priority, *args)

    monkeypatch.setattr(AdvertEncoder, "_build", spy)

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        assert 0 in built and 100 in built  # readied: a1 became master, a2 backup
        built.clear()
        a1.host.journal.clear()
        a1.daemon.request_stop()
        assert a1.host.journal[0] == ("advert", "0") and 0 not in built  # only sent
        assert await a1.task == 0
        await until(lambda: a2.state() == MASTER)
        assert 100 not in built  # a2's first advert as master, only sent
        await a2.stop()

    run(scenario)


def test_a_master_with_resources_stops_them_before_priority_0(lan, tmp_path):
    log = tmp_path / "res.log"
    script = tmp_path / "res.sh"
    script.write_text(f"#!/bin/sh\necho \"$1\" >> {log}\n")
    script.chmod(0o755)
    group = f"    resource_group {{\n        script {script}\n    }}\n"
    a1 = Agent(lan.host("n1", "198.51.100.1"), instance(priority=150, extra=group), tmp_path)

    async def scenario():
        with asyncio.get_running_loop().real_time():  # a real process
            await a1.start()
            await until(lambda: log.exists() and log.read_text() == "start\n", timeout=20)
            a1.host.journal.clear()
            a1.daemon.request_stop()
            assert a1.state() == MASTER and ("advert", "0") not in a1.host.journal  # resources first
            assert await a1.task == 0
            assert log.read_text() == "start\nstop\n" and ("advert", "0") in a1.host.journal

    run(scenario)


def test_no_fault_moves_an_instance_after_its_stop(lan, tmp_path):
    a1 = Agent(lan.host("n1", "198.51.100.1"), instance(priority=150), tmp_path)

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        events = a1.daemon.bus.subscribe()
        a1.daemon.request_stop()
        a1.daemon.transitions.set_fault(a1.daemon.instances[0], "link", "interface down")
        assert await a1.task == 0
        states = []
        while not events.queue.empty():
            event = events.queue.get_nowait()
            if event["type"] == "transition":
                states.append(event["state"])
        assert states == ["STOP"] and a1.state() == INIT

    run(scenario)


# ---------------------------------------------------------------- takeover
def test_a_takeover_adds_the_vip_and_sends_the_garp_before_it_is_published(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))
    _later_worker(a2.host)

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        seen: List[Any] = []
        publish = a2.daemon.bus.publish

        def watching(kind: str, /, **fields: Any) -> Any:
            if kind == "transition" and fields["new"] == MASTER:
                seen.append((a2.host.has(VIP), len(a2.host.announced), VIP in a2.daemon.vips.held))
            return publish(kind, **fields)

        a2.daemon.bus.publish = watching  # type: ignore[method-assign]
        a2.host.journal.clear()
        a1.daemon.request_stop()
        await until(lambda: a2.state() == MASTER)
        assert seen == [(True, 5, False)]  # VIP and GARP done on the loop, recorded after
        # its prepared add, staged while its last millisecond was spun out, the advert
        # on the deadline, the GARP right after it
        assert a2.host.journal[:4] == [("plan_add", VIP), ("add", VIP), ("advert", "100"),
                                       ("garp", VIP)]
        assert a2.host.mac_reads == ["eth0"]  # read when it prepared, not in front of the GARP
        await until(lambda: VIP in a2.daemon.vips.held)
        assert a2.status()["counters"]["vip_errors"] == 0
        await a1.task
        await a2.stop()

    run(scenario)


@pytest.mark.parametrize("path", ["plan_add", "add_now"])
def test_a_vip_the_loop_cannot_add_goes_to_the_worker_with_those_after_it(lan, tmp_path, path):
    vips = (f"{VIP}/24", f"{OTHER}/24", "198.51.100.102/24")
    # plan_add: the takeover plan (takeover.py); add_now: the general path (a garp interval)
    spaced = "global_defs {\n    vrrp_garp_interval 0.01\n}\n" if path == "add_now" else ""
    a1 = Agent(lan.host("n1", "198.51.100.1"), spaced + instance(vips=vips), tmp_path)
    a1.host.fail_vips.add(OTHER)

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        await until(lambda: a1.daemon.vips.held == {VIP, "198.51.100.102"})
        adds = [entry for entry in a1.host.journal if entry[0] in ("add", path)]
        # the loop's add (the fake journals PATH, then calls add_vip), OTHER's failed one
        # (the fake's failing add_vip journals nothing), then the worker's adds of OTHER
        # (failing again) and of the VIP after it, in order
        assert adds == [(path, VIP), ("add", VIP), (path, OTHER), ("add", "198.51.100.102")]
        assert a1.status()["counters"]["vip_errors"] == 1  # counted once, by the worker
        await a1.stop()

    run(scenario)


def test_an_add_behind_a_queued_removal_waits_for_it_on_the_worker(lan, tmp_path):
    a1 = Agent(lan.host("n1", "198.51.100.1"), instance(priority=150), tmp_path)
    _later_worker(a1.host)

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == MASTER and VIP in a1.daemon.vips.held)
        inst, keeper = a1.daemon.instances[0], a1.daemon.vips
        a1.host.journal.clear()
        keeper.change(inst, inst.all_vips, False)
        assert keeper.change(inst, inst.all_vips, True)  # queued, not added at once
        assert keeper.announce(inst, 1)  # the GARP follows it there
        await keeper.settled()
        assert [e for e in a1.host.journal if e[0] != "advert"] == [("del", VIP), ("add", VIP),
                                                                    ("garp", VIP)]
        assert a1.host.has(VIP) and VIP in keeper.held
        await a1.stop()

    run(scenario)


def test_a_takeover_s_garp_uses_the_mac_read_ahead_until_a_link_event(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))
    new_mac = b"\x02\x00\x00\x00\x00\x02"

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        assert a2.host.mac_reads == ["eth0"]  # prepared as a backup
        a2.host.macs["eth0"] = new_mac  # `ip link set eth0 address ...`: the kernel says so
        a2.host.set_link("eth0", True)
        await until(lambda: not a2.host.watchers[0].events)
        a1.daemon.request_stop()
        await until(lambda: a2.state() == MASTER and a2.host.announced_macs != [])
        assert a2.host.announced_macs == [new_mac] and a2.host.mac_reads == ["eth0", "eth0"]
        await a1.task
        await a2.stop()

    run(scenario)


def test_a_backup_prepares_its_takeover_before_it(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        assert ("prepare", VIP) in a2.host.journal  # the request built, the socket open
        prepared, added = (a1.host.journal.index(e) for e in (("prepare", VIP), ("plan_add", VIP)))
        assert prepared < added  # a1 started as a backup too
        await a1.stop()
        await a2.stop()

    run(scenario)


def test_a_backup_decides_for_its_deadline_and_stages_its_vips_before_spinning_it_out(
        lan, tmp_path, monkeypatch):
    """driver._fire: the router's transition and the VIPs' adds happen while the last
    millisecond is spun out; the advert and the GARP go out after it, on the deadline."""
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))
    spun: List[Any] = []
    real_spin = driver.spin_until

    def spin(end: float) -> None:
        spun.append((a2.state(), list(a2.host.journal)))
        real_spin(end)

    monkeypatch.setattr(driver, "spin_until", spin)

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        a2.host.journal.clear()
        spun.clear()
        lan.cut.add("eth0")  # a1's adverts stop arriving: a2's master-down timer
        await until(lambda: a2.state() == MASTER)
        assert spun == [(MASTER, [("plan_add", VIP), ("add", VIP)])]  # decided, VIP added
        assert a2.host.journal[2:4] == [("advert", "100"), ("garp", VIP)]  # after the spin
        lan.cut.clear()
        await a1.stop()
        await a2.stop()

    run(scenario)
