"""The routed announce mode (`announce bgp`, routed.py): config guards, and the real
daemon on fake adapters: the VIP on the announce device while MASTER, its lease
renewed, and the withdrawal (VIP removal) before the advert on every way out of
MASTER: stop, fault, standby, a better master (RFC 5798 §6.4.3)."""

from __future__ import annotations

import pytest
from fakehost import FakeLan, until
from test_daemon_fake import Agent, instance, run
from vrrp_agent import commands
from vrrp_agent.config import load_config
from vrrp_agent.errors import ConfigError
from vrrp_agent.metrics import render
from vrrp_agent.routed import renew_period_s, withdraw_first
from vrrp_agent.router import BACKUP, FAULT, MASTER, DelVips, SendAdvert, StateChanged
from vrrp_agent.status import render_table

VIP = "198.51.100.200"
ROUTED = "    announce bgp dev vrrp-bgp lease 3\n"


@pytest.fixture
def lan() -> FakeLan:
    return FakeLan()


def routed(priority: int, extra: str = "") -> str:
    return instance(priority=priority, vips=(VIP,), extra=ROUTED + extra)


def load(tmp_path, text):
    path = tmp_path / "k.conf"
    path.write_text(text)
    return load_config(str(path))


# ------------------------------------------------------------------ config
def test_announce_bgp_parses_with_defaults(tmp_path):
    cfg = load(tmp_path, instance(vips=("2001:db8::1/128",), extra="    announce bgp\n")).instances[0]
    assert (cfg.announce.mode, cfg.announce.dev, cfg.announce.lease_s) == ("bgp", "lo", 3)
    plain = load(tmp_path, instance(vips=(VIP,), extra="    announce garp\n")).instances[0]
    assert plain.announce is None


@pytest.mark.parametrize("extra, vips, message", [
    ("    announce bgp\n", (f"{VIP}/24",), "a VIP is a host route"),
    ("    announce bgp\n", (f"{VIP} dev eth1",), "drop 'dev eth1'"),
    ("    announce ospf\n", (VIP,), "announce needs a mode"),
    ("    announce\n", (VIP,), "announce needs a mode"),
    ("    announce bgp lease 1\n", (VIP,), "out of range 2..3600"),
    ("    announce bgp lease soon\n", (VIP,), "not a whole number"),
    ("    announce bgp dev\n", (VIP,), "needs a value"),
    ("    announce bgp dev a-name-far-too-long\n", (VIP,), "not a valid interface name"),
    ("    announce bgp colour red\n", (VIP,), "unknown announce option 'colour'"),
    ("    announce bgp\n    announce bgp\n", (VIP,), "appears twice"),
])
def test_announce_guards_name_the_line(tmp_path, extra, vips, message):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, instance(vips=vips, extra=extra))
    assert message in str(err.value)
    assert str(tmp_path / "k.conf") + ":" in str(err.value)


def test_withdraw_first_moves_only_the_removal():
    released = [SendAdvert(0), DelVips(), StateChanged(MASTER, BACKUP, "x")]
    assert withdraw_first(released) == [DelVips(), SendAdvert(0), StateChanged(MASTER, BACKUP, "x")]
    untouched = [SendAdvert(100)]
    assert withdraw_first(untouched) is untouched


def test_renew_period_is_a_third_of_the_shortest_lease(tmp_path):
    class Inst:
        def __init__(self, cfg):
            self.cfg = cfg
    cfg = load(tmp_path, instance(vips=(VIP,), extra="    announce bgp lease 6\n")).instances[0]
    assert renew_period_s([Inst(cfg)]) == 2.0
    assert renew_period_s([]) is None


# ------------------------------------------------------------------ daemon
def _ordered(journal, vip):
    """The journal from the removal of `vip` on: (kind, value) pairs."""
    start = max(i for i, (kind, value) in enumerate(journal) if kind == "del" and value == vip)
    return journal[start:]


def _withdrawn_before_advert(host) -> bool:
    """The VIP removal precedes the priority-0 advert that lets the backup take over."""
    dels = [i for i, e in enumerate(host.journal) if e == ("del", VIP)]
    zeros = [i for i, e in enumerate(host.journal) if e == ("advert", "0")]
    return bool(dels) and bool(zeros) and dels[-1] < zeros[-1]


def test_a_routed_master_holds_the_vip_on_the_announce_device_with_a_renewed_lease(lan, tmp_path):
    a1 = Agent(lan.host("n1", "198.51.100.1"), routed(150), tmp_path)
    a2 = Agent(lan.host("n2", "198.51.100.66"), routed(100), tmp_path)

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        dev = a1.host.interfaces["vrrp-bgp"]
        eth0 = a1.host.interfaces["eth0"]
        assert VIP in a1.host.addresses[dev] and VIP not in a1.host.addresses[eth0]
        assert not a2.host.has(VIP) and a1.host.leases[VIP] == 3
        assert a1.host.announced == []  # no gratuitous ARP on a dummy interface
        adds = sum(1 for e in a1.host.journal if e == ("add", VIP))
        await until(lambda: sum(1 for e in a1.host.journal if e == ("add", VIP)) >= adds + 2)
        status = a1.status()["announce"]
        assert status == {"mode": "bgp", "dev": "vrrp-bgp", "lease_s": 3, "announced": [f"{VIP}/32"]}
        assert a2.status()["announce"]["announced"] == []
        table = render_table(a1.daemon.status())
        assert f"VI_1 announce: bgp on vrrp-bgp: {VIP}/32" in table
        assert "VI_1 announce: bgp on vrrp-bgp: nothing (not master)" in render_table(a2.daemon.status())
        text = render(a1.daemon.status())
        assert 'vrrp_instance_announced_routes{instance="VI_1",interface="eth0",vrid="51",' \
               'family="ipv4",dev="vrrp-bgp"} 1' in text
        assert await a1.stop() == 0
        assert _withdrawn_before_advert(a1.host)
        await until(lambda: a2.state() == MASTER)
        assert a2.host.has(VIP) and not a1.host.has(VIP)
        await a2.stop()

    run(scenario)


def test_fault_standby_and_a_better_master_withdraw_before_the_advert(lan, tmp_path):
    a1 = Agent(lan.host("n1", "198.51.100.1"), routed(150), tmp_path)
    a2 = Agent(lan.host("n2", "198.51.100.66"), routed(100), tmp_path)

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        # fault: the link of the instance interface goes down
        a1.host.set_link("eth0", False)
        await until(lambda: a1.state() == FAULT and a2.state() == MASTER)
        assert _withdrawn_before_advert(a1.host) and not a1.host.has(VIP)
        a1.host.set_link("eth0", True)
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)  # preempts back
        # a better master: a2 yields (RFC 5798 §6.4.3) after its takeover is released
        a1.host.journal.clear()
        await commands.standby(a1.daemon, {})
        await until(lambda: a2.state() == MASTER and a1.state() == BACKUP)
        assert _withdrawn_before_advert(a1.host)
        a2.host.journal.clear()
        await commands.release(a1.daemon, {})
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        removal = _ordered(a2.host.journal, VIP)
        assert ("advert", "100") not in removal  # nothing of a2's after it gave the VIP up
        assert a1.host.has(VIP) and not a2.host.has(VIP)
        await a1.stop()
        await a2.stop()

    run(scenario)


def test_a_reload_moves_the_vips_between_garp_and_bgp(lan, tmp_path):
    a1 = Agent(lan.host("n1", "198.51.100.1"), instance(priority=150, vips=(VIP,)), tmp_path)

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        eth0 = a1.host.interfaces["eth0"]
        assert VIP in a1.host.addresses[eth0]
        a1.conf.write_text(routed(150))
        await a1.daemon.reload()
        await until(lambda: "vrrp-bgp" in a1.host.interfaces
                    and VIP in a1.host.addresses[a1.host.interfaces["vrrp-bgp"]])
        assert VIP not in a1.host.addresses[eth0] and a1.state() == MASTER
        await a1.stop()
        assert not a1.host.has(VIP)

    run(scenario)


# ------------------------------------------------------------------ lease renewal
VIP2 = "198.51.100.201"


def _adds(host, vip) -> int:
    return sum(1 for e in host.journal if e == ("add", vip))


async def _renewed_within_lease(agent, vip, lease_s) -> bool:
    """The VIP is added again (renewed) before `lease_s` of loop time ran out."""
    adds = _adds(agent.host, vip)
    try:
        await until(lambda: _adds(agent.host, vip) > adds, timeout=lease_s - 0.1)
    except AssertionError:
        return False
    return True


def test_a_shorter_lease_becoming_master_later_is_renewed_in_time(lan, tmp_path):
    # VI_1 (lease 300) is master first: the renewer is armed for 100 s; VI_2 (lease 3)
    # becomes master later and must be renewed before its 3 s run out.
    text = (instance(priority=150, vips=(VIP,), extra="    announce bgp dev vrrp-bgp lease 300\n")
            + instance(name="VI_2", vrid=52, priority=100, vips=(VIP2,), extra=ROUTED))
    peer = instance(name="VI_2", vrid=52, priority=200, vips=(VIP2,), extra=ROUTED)
    a1 = Agent(lan.host("n1", "198.51.100.1"), text, tmp_path)
    a2 = Agent(lan.host("n2", "198.51.100.66"), peer, tmp_path)

    async def scenario():
        await a2.start()
        await a1.start()
        await until(lambda: a1.state() == MASTER and a1.state("VI_2") == BACKUP)
        await a2.stop()
        await until(lambda: a1.state("VI_2") == MASTER and a1.host.has(VIP2))
        assert await _renewed_within_lease(a1, VIP2, 3)
        await a1.stop()

    run(scenario)


def test_a_reload_from_garp_to_bgp_renews_the_lease(lan, tmp_path):
    a1 = Agent(lan.host("n1", "198.51.100.1"), instance(priority=150, vips=(VIP,)), tmp_path)

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        a1.conf.write_text(routed(150))
        await a1.daemon.reload()
        await until(lambda: a1.host.leases.get(VIP) == 3)
        assert await _renewed_within_lease(a1, VIP, 3)
        await a1.stop()

    run(scenario)
