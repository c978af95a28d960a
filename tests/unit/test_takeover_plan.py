"""A backup's takeover plan (takeover.py), on the real daemon with fake adapters: each
VIP's add then its burst, a failed add handed to the worker with the VIPs after it, the
advert of a make-before-break takeover after them, a plan again after a demotion, a
reload, a link event; the general path where the plan does not hold (a garp interval,
virtual routes). The fake journals a plan's add as "plan_add", the general path's as
"add_now" (each then calls add_vip, which journals "add"), and each burst as "garp"."""

from __future__ import annotations

import dataclasses
from typing import Any, List, Set, Tuple

import pytest
from fakehost import FakeLan, until
from test_daemon_fake import VIP, Agent, instance, pair, run
from test_kernel_fake import ROUTES, _Netlink
from vrrp_agent.router import BACKUP, FAULT, MASTER

OTHER = "198.51.100.101"
THIRD = "198.51.100.102"
VIPS = (f"{VIP}/24", f"{OTHER}/24")
PLANNED = [("plan_add", VIP), ("add", VIP), ("plan_add", OTHER), ("add", OTHER),
           ("garp", VIP), ("garp", OTHER)]  # every add, then every burst (keepalived's order)


@pytest.fixture
def lan() -> FakeLan:
    return FakeLan()


def _vip_work(journal: List[Tuple[str, ...]]) -> List[Tuple[str, ...]]:
    return [entry for entry in journal if entry[0] in ("plan_add", "add_now", "add", "garp")]


async def _started(a1: Any, a2: Any) -> None:
    await a1.start()
    await a2.start()
    await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)


async def _a1_stops(a1: Any, a2: Any, held: Set[str]) -> List[Tuple[str, ...]]:
    """A2 (backup) takes over from A1's graceful stop until it holds HELD: its VIP work."""
    a2.host.journal.clear()
    a1.daemon.request_stop()
    await until(lambda: a2.state() == MASTER and a2.daemon.vips.held == held)
    await a1.task
    return _vip_work(a2.host.journal)


def test_rfc5798_6_4_2_each_vip_is_announced_right_after_its_add(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150, vips=VIPS), instance(priority=100, vips=VIPS))

    async def scenario():
        await _started(a1, a2)
        assert await _a1_stops(a1, a2, {VIP, OTHER}) == PLANNED
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
        # VIP's add and its burst from the plan; OTHER's add fails (the fake's failing
        # add_vip journals nothing), so it and THIRD go to the worker: its add of OTHER
        # fails again, THIRD's is made, then their bursts (OTHER's too, as the general
        # path does)
        assert work == [("plan_add", VIP), ("add", VIP), ("plan_add", OTHER), ("garp", VIP),
                        ("add", THIRD), ("garp", OTHER), ("garp", THIRD)]
        assert a2.status()["counters"]["vip_errors"] == 1  # counted once, by the worker
        await a2.stop()

    run(scenario)


def test_rfc5798_6_4_2_a_preemption_s_advert_follows_the_planned_vips_and_a_demoted_master_plans_again(
        lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150, vips=VIPS), instance(priority=100, vips=VIPS))

    async def scenario():
        await a2.start()
        await until(lambda: a2.state() == MASTER and a2.daemon.vips.held == {VIP, OTHER})
        await a1.start()  # a backup that preempts: make-before-break, VIPs and GARP first
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        first = a1.host.journal.index(("plan_add", VIP))
        assert [e for e in a1.host.journal[first:] if e[0] != "advert" or e[1] == "150"][:7] == \
            PLANNED + [("advert", "150")]
        # a2 was demoted while its worker removed the VIPs: it prepares once that is done
        await until(lambda: a2.daemon.vips.held == set() and ("prepare", OTHER) in a2.host.journal)
        assert await _a1_stops(a1, a2, {VIP, OTHER}) == PLANNED
        await a2.stop()

    run(scenario)


def test_a_garp_interval_keeps_the_general_path(lan, tmp_path):
    spaced = "global_defs {\n    vrrp_garp_interval 0.05\n    vrrp_garp_master_repeat 1\n}\n"
    a1, a2 = pair(lan, tmp_path, spaced + instance(priority=150, vips=VIPS),
                  spaced + instance(priority=100, vips=VIPS))

    async def scenario():
        await _started(a1, a2)
        await _a1_stops(a1, a2, {VIP, OTHER})
        await until(lambda: len(a2.host.announced) == 2)
        # every add first, then the bursts paced by the interval: no plan
        assert _vip_work(a2.host.journal) == [("add_now", VIP), ("add", VIP), ("add_now", OTHER),
                                              ("add", OTHER), ("garp", VIP), ("garp", OTHER)]
        first, second = (at for at, _ifname, _vip in a2.host.announced)
        assert second - first == pytest.approx(0.05)  # the loop's clock (fake time)
        await a2.stop()

    run(scenario)


def test_virtual_routes_go_in_before_the_garp_so_no_plan(tmp_path):
    """keepalived's order on a takeover: VIPs, routes, rules, then the announcement."""
    host = FakeLan().host("n1", "198.51.100.1")
    agent = Agent(host, instance(priority=150, extra=ROUTES.replace("    no_accept\n", "")), tmp_path)
    real_adapters = host.adapters
    host.adapters = lambda: dataclasses.replace(  # type: ignore[method-assign]
        real_adapters(), netlink=lambda: _Netlink(host, host.journal))

    async def scenario():
        await agent.start()
        await until(lambda: agent.state() == MASTER and ("garp", VIP) in host.journal)
        work = [e[:2] for e in host.journal if e[0] in ("add_now", "plan_add", "route", "rule", "garp")]
        start = work.index(("add_now", VIP))  # after the start's clean-up of leftovers
        assert work[start:] == [("add_now", VIP), ("route", "add"), ("route", "add"), ("rule", "add"),
                                ("garp", VIP)]
        assert await agent.stop() == 0

    run(scenario)


def test_a_reload_that_changes_a_backup_s_vips_prepares_its_takeover_again(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150, vips=VIPS), instance(priority=100))

    async def scenario():
        await _started(a1, a2)
        a2.conf.write_text(instance(priority=100, vips=VIPS))
        await a2.daemon.reload()
        assert ("prepare", OTHER) in a2.host.journal  # the new VIP's request built now
        assert await _a1_stops(a1, a2, {VIP, OTHER}) == PLANNED
        await a2.stop()

    run(scenario)


def test_a_link_event_drops_the_plan_and_the_backup_prepares_it_again_with_the_new_mac(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150, vips=VIPS), instance(priority=100, vips=VIPS))
    new_mac = b"\x02\x00\x00\x00\x00\x02"

    async def scenario():
        await _started(a1, a2)
        a2.host.journal.clear()
        a2.host.macs["eth0"] = new_mac  # `ip link set eth0 address ...`: the kernel says so
        a2.host.set_link("eth0", True)
        await until(lambda: ("prepare", OTHER) in a2.host.journal)
        assert a2.host.mac_reads == ["eth0", "eth0"]  # read again when it prepared
        assert await _a1_stops(a1, a2, {VIP, OTHER}) == PLANNED
        assert a2.host.announced_macs == [new_mac, new_mac]
        await a2.stop()

    run(scenario)


def test_a_plan_lives_while_backup_a_fault_forgets_it_and_leaving_fault_prepares_again(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150, vips=VIPS), instance(priority=100, vips=VIPS))

    async def scenario():
        await _started(a1, a2)
        inst, plans = a2.daemon.instances[0], a2.daemon.vips.plans
        assert "VI_1" in plans.plans
        a2.daemon.transitions.set_fault(inst, "script", "a tracked script failed")
        await until(lambda: a2.state() == FAULT)
        assert plans.plans == {}  # FAULT -> MASTER (an address owner) must not run it
        a2.host.journal.clear()
        a2.daemon.transitions.set_fault(inst, "script", None)
        await until(lambda: a2.state() == BACKUP and "VI_1" in plans.plans)
        assert ("prepare", OTHER) in a2.host.journal
        assert await _a1_stops(a1, a2, {VIP, OTHER}) == PLANNED
        await a2.stop()

    run(scenario)
