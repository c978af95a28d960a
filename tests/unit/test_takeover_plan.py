"""A backup's takeover plan (takeover.py), on the real daemon with fake adapters: each
VIP's add then its burst, a failed add handed to the worker with the VIPs after it,
the general path where the plan does not hold (garp interval, reload, link event)."""

from __future__ import annotations

from typing import Any, List, Set, Tuple

import pytest
from fakehost import FakeLan, until
from test_daemon_fake import VIP, instance, pair, run
from vrrp_agent.router import BACKUP, MASTER

OTHER = "198.51.100.101"
THIRD = "198.51.100.102"
VIPS = (f"{VIP}/24", f"{OTHER}/24")


@pytest.fixture
def lan() -> FakeLan:
    return FakeLan()


def _vip_work(journal: List[Tuple[str, str]]) -> List[Tuple[str, str]]:
    return [entry for entry in journal if entry[0] in ("add_now", "add", "garp")]


async def _started(a1: Any, a2: Any) -> None:
    await a1.start()
    await a2.start()
    await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)


async def _a1_stops(a1: Any, a2: Any, held: Set[str]) -> List[Tuple[str, str]]:
    """A2 (backup) takes over from A1's graceful stop until it holds HELD: its VIP work."""
    a2.host.journal.clear()
    a1.daemon.request_stop()
    await until(lambda: a2.state() == MASTER and a2.daemon.vips.held == held)
    await a1.task
    return _vip_work(a2.host.journal)


async def _take_over(a1: Any, a2: Any) -> List[Tuple[str, str]]:
    await _started(a1, a2)
    return await _a1_stops(a1, a2, {vip.address for vip in a2.daemon.instances[0].all_vips})


def test_rfc5798_6_4_2_each_vip_is_announced_right_after_its_add(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150, vips=VIPS), instance(priority=100, vips=VIPS))

    async def scenario():
        work = await _take_over(a1, a2)
        # the plan: VIP's add (the fake's add_now journals, then add_vip), its burst, OTHER's
        assert work == [("add_now", VIP), ("add", VIP), ("garp", VIP),
                        ("add_now", OTHER), ("add", OTHER), ("garp", OTHER)]
        assert len(a2.host.announced) == 10  # garp_master_repeat 5 for each
        assert a2.status()["counters"]["vip_errors"] == 0
        await a2.stop()

    run(scenario)


def test_a_failed_add_hands_its_vip_and_the_rest_to_the_worker_which_announces_after(lan, tmp_path):
    vips = VIPS + (f"{THIRD}/24",)
    a1, a2 = pair(lan, tmp_path, instance(priority=150, vips=vips), instance(priority=100, vips=vips))
    a2.host.fail_vips.add(OTHER)

    async def scenario():
        await _started(a1, a2)
        work = await _a1_stops(a1, a2, {VIP, THIRD})
        # VIP and its burst from the plan; OTHER's add fails (the fake's failing add_vip
        # journals nothing), so it and THIRD go to the worker: its add of OTHER fails
        # again, THIRD's is made, then their bursts (OTHER's too, as the general path does)
        assert work == [
            ("add_now", VIP), ("add", VIP), ("garp", VIP), ("add_now", OTHER),
            ("add", THIRD), ("garp", OTHER), ("garp", THIRD)]
        assert a2.status()["counters"]["vip_errors"] == 1  # counted once, by the worker
        await a2.stop()

    run(scenario)


def test_a_garp_interval_keeps_the_general_path(lan, tmp_path):
    spaced = "global_defs {\n    vrrp_garp_interval 0.05\n    vrrp_garp_master_repeat 1\n}\n"
    a1, a2 = pair(lan, tmp_path, spaced + instance(priority=150, vips=VIPS),
                  spaced + instance(priority=100, vips=VIPS))

    async def scenario():
        await _take_over(a1, a2)
        await until(lambda: len(a2.host.announced) == 2)
        work = _vip_work(a2.host.journal)
        # every add first, then the bursts paced by the interval: no plan
        assert work == [("add_now", VIP), ("add", VIP), ("add_now", OTHER), ("add", OTHER),
                        ("garp", VIP), ("garp", OTHER)]
        first, second = (at for at, _ifname, _vip in a2.host.announced)
        assert second - first == pytest.approx(0.05)  # the loop's clock (fake time)
        await a2.stop()

    run(scenario)


def test_a_reload_that_changes_a_backup_s_vips_prepares_its_takeover_again(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150, vips=VIPS), instance(priority=100))

    async def scenario():
        await _started(a1, a2)
        a2.conf.write_text(instance(priority=100, vips=VIPS))
        await a2.daemon.reload()
        assert ("prepare", OTHER) in a2.host.journal  # the new VIP's request built now
        assert await _a1_stops(a1, a2, {VIP, OTHER}) == [
            ("add_now", VIP), ("add", VIP), ("garp", VIP), ("add_now", OTHER), ("add", OTHER),
            ("garp", OTHER)]
        await a2.stop()

    run(scenario)


def test_a_link_event_drops_the_plan_and_the_backup_prepares_it_again(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))

    async def scenario():
        await _started(a1, a2)
        a2.host.journal.clear()
        a2.host.set_link("eth0", True)  # an event (a MAC, an index may have changed)
        await until(lambda: ("prepare", VIP) in a2.host.journal)
        assert a2.host.mac_reads == ["eth0", "eth0"]
        assert await _a1_stops(a1, a2, {VIP}) == [("add_now", VIP), ("add", VIP), ("garp", VIP)]
        await a2.stop()

    run(scenario)
