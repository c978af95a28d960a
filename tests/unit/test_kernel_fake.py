"""Kernel-side keywords on the real daemon with fake adapters (no root, virtual time):
the order keepalived uses for no_accept, VIPs, virtual routes and rules on takeover and
release, and garp_extra_if's periodic announcements."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, List, Tuple

from fakehost import FakeLan, FakeNetlink, until
from test_daemon_fake import Agent, instance, run
from vrrp_agent.adapters import nft
from vrrp_agent.router import MASTER

Journal = List[Tuple[str, ...]]


class _IPRoute:
    def __init__(self, journal: Journal):
        self.journal = journal

    def route(self, command: str, **kw: Any) -> None:
        self.journal.append(("route", command, kw.get("dst", "default")))

    def rule(self, command: str, **kw: Any) -> None:
        self.journal.append(("rule", command, kw.get("src", "all")))


class _Netlink(FakeNetlink):
    def __init__(self, host: Any, journal: Journal):
        super().__init__(host)
        self.journal = journal

    def ipr(self) -> _IPRoute:
        return _IPRoute(self.journal)

    def add_vip(self, ifindex: int, vip: Any) -> bool:
        self.journal.append(("vip", "add", vip.address))
        return super().add_vip(ifindex, vip)

    def del_vip(self, ifindex: int, vip: Any) -> bool:
        self.journal.append(("vip", "del", vip.address))
        return super().del_vip(ifindex, vip)


def _filter_class(journal: Journal) -> Any:
    class _Filter:
        def __init__(self, name: str, priority: int, counters: bool):
            journal.append(("table", "setup", name))

        def setup(self, families: Any, vmacs: Any = ()) -> List[str]:
            return []

        def change(self, family: int, addresses: List[str], add: bool) -> List[str]:
            journal.append(("filter", "add" if add else "del", *addresses))
            return []

        def teardown(self) -> List[str]:
            journal.append(("table", "teardown"))
            return []

    return _Filter


ROUTES = ("    no_accept\n    virtual_routes {\n        203.0.113.0/25 via 198.51.100.254\n"
          "        blackhole 203.0.113.128/25 table 100\n    }\n"
          "    virtual_rules {\n        from 198.51.100.100 table 100\n    }\n")


def test_takeover_and_release_follow_keepalived_order(tmp_path, monkeypatch):
    """Master: drop set, VIPs, routes, rules; leaving: rules, routes, VIPs, drop set."""
    journal: Journal = []
    monkeypatch.setattr(nft, "NftFilter", _filter_class(journal))
    host = FakeLan().host("n1", "198.51.100.1")
    agent = Agent(host, instance(priority=150, extra=ROUTES), tmp_path)
    real_adapters = host.adapters
    monkeypatch.setattr(host, "adapters", lambda: dataclasses.replace(
        real_adapters(), netlink=lambda: _Netlink(host, journal)))

    async def scenario():
        await agent.start()
        await until(lambda: agent.state() == MASTER and ("rule", "add", "198.51.100.100") in journal)
        start = journal.index(("filter", "add", "198.51.100.100"))
        assert journal[start:] == [
            ("filter", "add", "198.51.100.100"), ("vip", "add", "198.51.100.100"),
            ("route", "add", "203.0.113.0"), ("route", "add", "203.0.113.128"),
            ("rule", "add", "198.51.100.100")]
        assert journal[0] == ("table", "setup", "keepalived")
        del journal[:]
        assert await agent.stop() == 0
        assert journal == [
            ("rule", "del", "198.51.100.100"), ("route", "del", "203.0.113.128"),
            ("route", "del", "203.0.113.0"), ("vip", "del", "198.51.100.100"),
            ("filter", "del", "198.51.100.100"), ("table", "teardown")]

    run(scenario)


def test_garp_extra_if_all_repeats_for_vips_on_other_interfaces_while_master(tmp_path):
    """garp_extra_if all 2 (virtual time): eth1's eVIP every 2 s while MASTER, eth0's only in
    the takeover burst; nothing once the instance stopped."""
    host = FakeLan().host("n1", "198.51.100.1", interfaces=("eth0", "eth1"))
    extra = ("    garp_master_delay 0\n    garp_extra_if all 2\n"
             "    virtual_ipaddress_excluded {\n        203.0.113.100/24 dev eth1\n    }\n")
    agent = Agent(host, instance(priority=150, extra=extra), tmp_path)

    async def scenario():
        await agent.start()
        await until(lambda: agent.state() == MASTER)
        became = host.announced[0][0]
        # the takeover burst (garp_master_repeat 5 per VIP), then one per interval
        await until(lambda: len([a for a in host.announced if a[1] == "eth1"]) >= 8, timeout=20)
        eth1 = [t - became for t, ifname, _vip in host.announced if ifname == "eth1"]
        eth0 = [t - became for t, ifname, _vip in host.announced if ifname == "eth0"]
        assert [round(t) for t in eth1[-3:]] == [2, 4, 6]  # one per interval after the burst
        assert all(t < 0.5 for t in eth0)  # the instance interface: the burst only
        count = len(host.announced)
        assert await agent.stop() == 0
        await asyncio.sleep(5)  # virtual time: three more intervals
        assert len(host.announced) == count

    run(scenario)
