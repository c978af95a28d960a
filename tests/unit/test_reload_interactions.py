"""Reload (operations.py) against the per-instance state other parts keep: faults that
only a setting's own checker clears, on the fake adapters."""

from __future__ import annotations

from fakehost import FakeLan, until
from test_daemon_fake import Agent, run
from test_wire_keywords import A1, A2, unicast
from vrrp_agent.router import FAULT, MASTER


def test_a_reload_dropping_track_src_ip_clears_its_fault(tmp_path):
    # Only the track_src_ip checker clears the src_ip fault of a bound instance; once a
    # reload drops the keyword, nothing would, and the instance stayed in FAULT for good.
    a1 = Agent(FakeLan().host("n1", A1), unicast(A1, f"        {A2}\n", 150, "    track_src_ip\n"),
               tmp_path)

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        a1.host.addresses[2].discard(A1)
        await until(lambda: a1.state() == FAULT)
        a1.conf.write_text(unicast(A1, f"        {A2}\n", 150))
        await a1.daemon.reload()
        a1.host.addresses[2].add(A1)
        await until(lambda: a1.state() == MASTER)
        assert "src_ip" not in a1.status()["tracking"]["faults"]
        await a1.stop()

    run(scenario)


def test_a_reload_changing_mcast_src_ip_advertises_from_the_new_source(tmp_path):
    from test_daemon_fake import instance

    lan = FakeLan()
    h1 = lan.host("n1", A1)
    h1.addresses[2].add("198.51.100.3")
    a1 = Agent(h1, instance(priority=150), tmp_path)
    a2 = Agent(lan.host("n2", A2), instance(priority=100), tmp_path)

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.status()["master_ip"] == A1)
        a1.conf.write_text(instance(priority=150, extra="    mcast_src_ip 198.51.100.3\n"))
        await a1.daemon.reload()
        await until(lambda: a2.status()["master_ip"] == "198.51.100.3")
        assert a2.daemon.instances[0].discards["checksum"] == 0 and a1.state() == MASTER
        await a1.stop()
        await a2.stop()

    run(scenario)


def test_a_reload_adding_track_src_ip_starts_watching_the_source(tmp_path):
    # With nothing to poll, the retry loop sleeps until a bind fails (no idle wakeups);
    # a reload that brings track_src_ip must wake it, or the source is never checked.
    a1 = Agent(FakeLan().host("n1", A1), unicast(A1, f"        {A2}\n", 150), tmp_path)

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        a1.conf.write_text(unicast(A1, f"        {A2}\n", 150, "    track_src_ip\n"))
        await a1.daemon.reload()
        a1.host.addresses[2].discard(A1)
        await until(lambda: a1.state() == FAULT)
        a1.host.addresses[2].add(A1)
        await until(lambda: a1.state() == MASTER)
        await a1.stop()

    run(scenario)


def test_a_reload_adding_a_no_accept_instance_filters_its_vips(monkeypatch, tmp_path):
    from test_daemon_fake import instance
    from test_start_failures import FakeNftables
    from vrrp_agent.adapters import nft

    fake = FakeNftables(refuse="none")
    monkeypatch.setattr(nft, "load_nftables", lambda path=None: fake)
    one = instance(priority=150, extra="    no_accept\n")
    two = one + instance("VI_2", vrid=52, priority=150, vips=("198.51.100.102/24",),
                         extra="    no_accept\n")
    a1 = Agent(FakeLan().host("n1", A1), one, tmp_path)

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        a1.conf.write_text(two)
        summary = await a1.daemon.reload()
        assert summary["started"] == ["VI_2"]
        await until(lambda: a1.state("VI_2") == MASTER and a1.host.has("198.51.100.102"))
        assert "add element ip keepalived vips { 198.51.100.102 }" in fake.commands
        a1.conf.write_text(one)
        await a1.daemon.reload()  # VI_2 goes: out of the set after its VIP is removed
        await until(lambda: "delete element ip keepalived vips { 198.51.100.102 }" in fake.commands)
        assert not a1.host.has("198.51.100.102") and fake.tables == {"ip keepalived"}
        await a1.stop()
        assert fake.tables == set()

    run(scenario)
