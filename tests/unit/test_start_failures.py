"""A start that fails undoes what it did (the daemon's start order: vMACs, the no_accept
nftables tables, static addresses/routes, leftover VIPs), on the fake adapters with
libnftables replaced at its boundary (Nftables().cmd)."""

from __future__ import annotations

from typing import List, Set

from fakehost import FakeLan, until
from test_daemon_fake import Agent, instance, run
from vrrp_agent.adapters import nft


class FakeNftables:
    """libnftables' `Nftables().cmd(text)`: keeps the tables; refuses one family's."""

    def __init__(self, refuse: str):
        self.refuse = refuse
        self.tables: Set[str] = set()
        self.commands: List[str] = []

    def Nftables(self) -> FakeNftables:  # noqa: N802 - the module's constructor
        return self

    def cmd(self, text: str):  # type: ignore[no-untyped-def]
        self.commands.append(text)
        if f"table {self.refuse} " in text:
            return 1, "", f"Error: {self.refuse} refused"
        for line in text.splitlines():
            words = line.split()
            if words[:2] in (["add", "table"], ["delete", "table"]):
                (self.tables.add if words[0] == "add" else self.tables.discard)(" ".join(words[2:4]))
            elif words[:1] == ["table"]:
                self.tables.add(" ".join(words[1:3]))
        return 0, "", ""


def test_a_failed_nftables_setup_removes_the_tables_it_made(monkeypatch, tmp_path):
    # IPv4 table made, IPv6 refused: the start fails and must not leave the IPv4 table
    fake = FakeNftables(refuse="ip6")
    monkeypatch.setattr(nft, "load_nftables", lambda path=None: fake)
    text = instance(priority=150, extra="    no_accept\n    virtual_ipaddress_excluded {\n"
                                         "        2001:db8::7\n    }\n")
    agent = Agent(FakeLan().host("n1", "198.51.100.1"), text, tmp_path)

    async def scenario():
        await agent.start()
        await until(lambda: agent.task.done())
        assert agent.task.result() == 1
        assert fake.tables == set()

    run(scenario)


def test_a_start_that_fails_before_the_statics_does_not_remove_them(monkeypatch, tmp_path):
    # static_ipaddress may name an address the host already had: a start that fails
    # before adding the statics (here: the nftables set-up) must not delete them.
    from vrrp_agent.adapters import routes

    fake = FakeNftables(refuse="ip")
    monkeypatch.setattr(nft, "load_nftables", lambda path=None: fake)
    calls: List[bool] = []

    def apply_statics(netlink, vips, routes_, rules, add):  # type: ignore[no-untyped-def]
        calls.append(add)
        return []

    monkeypatch.setattr(routes, "apply_statics", apply_statics)
    text = ("static_ipaddress {\n    203.0.113.250/28 dev eth0\n}\n"
            + instance(priority=150, extra="    no_accept\n"))
    agent = Agent(FakeLan().host("n1", "198.51.100.1"), text, tmp_path)

    async def scenario():
        await agent.start()
        await until(lambda: agent.task.done())
        assert agent.task.result() == 1
        assert calls == []  # neither added nor removed

    run(scenario)
