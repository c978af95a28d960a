"""The wire and unicast keywords (keepalived 2.2.7 semantics): config, the per-packet
guards of packet.check_for_instance (RFC 5798 §7.1 plus keepalived's unicast checks),
and the real daemon on the fake LAN."""

from __future__ import annotations

import asyncio
import socket

import pytest
from fakehost import FakeLan, until
from test_daemon_fake import Agent, instance, run
from vrrp_agent import packet
from vrrp_agent.config import parse_text
from vrrp_agent.errors import ConfigError, PacketError
from vrrp_agent.router import BACKUP, FAULT, MASTER
from vrrp_agent.timing import master_down_interval_s

A1, A2, A3 = "198.51.100.1", "198.51.100.2", "198.51.100.3"


def unicast(src: str, peers: str, priority: int = 100, extra: str = "") -> str:
    return instance(priority=priority, extra=(
        f"    unicast_src_ip {src}\n    unicast_peer {{\n{peers}    }}\n{extra}"))


def one(text: str):
    return parse_text(text).instances[0]


# ------------------------------------------------------------------ config
def test_unicast_ttl_and_peer_ttl_bounds_are_parsed():
    cfg = one(unicast(A1, f"        {A2} min_ttl 5 max_ttl 64\n        {A3}\n",
                      extra="    unicast_ttl 7\n"))
    assert cfg.unicast_ttl == 7
    assert cfg.unicast_peers == (A2, A3)
    assert cfg.unicast_peer_ttl == ((5, 64), (0, 255))
    assert cfg.check_unicast_src  # min_ttl / max_ttl turn the source check on (keepalived)


def test_check_unicast_src_from_the_instance_or_global_defs():
    assert not one(unicast(A1, f"        {A2}\n")).check_unicast_src
    assert one(unicast(A1, f"        {A2}\n", extra="    check_unicast_src\n")).check_unicast_src
    text = "global_defs {\n    vrrp_check_unicast_src\n}\n" + unicast(A1, f"        {A2}\n")
    assert one(text).check_unicast_src


def test_unicast_only_keywords_on_a_multicast_instance_warn():
    config = parse_text(instance(extra="    unicast_ttl 9\n    check_unicast_src\n"
                                       "    track_src_ip\n"))
    cfg = config.instances[0]
    assert cfg.unicast_ttl is None and not cfg.check_unicast_src and not cfg.track_src_ip
    text = "\n".join(config.warnings)
    assert "unicast_ttl applies to unicast adverts only" in text
    assert "check_unicast_src without unicast_peer" in text
    assert "track_src_ip without unicast_src_ip or mcast_src_ip is ignored" in text


def test_mcast_dst_ip_native_ipv6_and_the_timer_keywords():
    cfg = one(instance(extra="    mcast_dst_ip 224.0.0.19\n    down_timer_adverts 5\n"
                             "    skip_check_adv_addr\n    kernel_rx_buf_size 4194304\n"))
    assert cfg.mcast_dst_ip == "224.0.0.19" and cfg.down_timer_adverts == 5
    assert cfg.skip_check_adv_addr and cfg.kernel_rx_buf_size == 4194304
    assert not one(instance(extra="    skip_check_adv_addr off\n")).skip_check_adv_addr
    v6 = one(instance(vips=(), extra="    native_ipv6\n    mcast_dst_ip ff02::112\n"))
    assert (v6.family, v6.version, v6.mcast_dst_ip) == (6, 3, "ff02::112")
    ignored = parse_text(unicast(A1, f"        {A2}\n", extra="    mcast_dst_ip 224.0.0.19\n"))
    assert ignored.instances[0].mcast_dst_ip is None
    assert "mcast_dst_ip is ignored with unicast_peer" in ignored.warnings[0]


@pytest.mark.parametrize("extra, message", [
    ("    mcast_dst_ip 2001:db8::1\n", "is not an IPv4 address"),
    ("    down_timer_adverts 0\n", "out of range 1..100"),
    ("    skip_check_adv_addr maybe\n", "must be one of true, on, yes, false, off, no"),
    ("    unicast_ttl 256\n", "out of range 0..255"),
])
def test_bad_values_name_the_line(extra, message):
    with pytest.raises(ConfigError) as err:
        parse_text(instance(extra=extra))
    assert message in str(err.value) and ":10:" in str(err.value)


def test_ipv6_mcast_dst_ip_must_be_link_local_scope():
    with pytest.raises(ConfigError) as err:
        parse_text(instance(vips=("2001:db8::100/64",), extra="    mcast_dst_ip ff05::12\n"))
    assert "not a link-local multicast address (ff02::/16)" in str(err.value)


# ------------------------------------------------------------------ guards
SRC2 = socket.inet_aton(A2)
GROUP = socket.inet_aton("224.0.0.18")


def _adv() -> packet.Advertisement:
    return packet.Advertisement(3, 51, 100, 0, 100, 0, b"", b"", "pseudo")


def _check(**kw):
    base = dict(ttl=255, check_ttl=False, version=3, adver_int_cs=100, auth_type=0,
                auth_data=b"\0" * 8)
    base.update(kw)
    packet.check_for_instance(_adv(), **base)


def test_rfc5798_7_1_unicast_source_must_be_a_peer_and_its_ttl_in_range():
    peers = {SRC2: (5, 64)}
    _check(src=SRC2, ttl=5, peer_ttl=peers)
    _check(src=SRC2, ttl=-1, peer_ttl=peers)  # hop limit unknown: not checked (keepalived)
    for src, ttl, reason in ((socket.inet_aton(A3), 5, "unicast_src"), (SRC2, 4, "ttl"),
                             (SRC2, 65, "ttl")):
        with pytest.raises(PacketError) as err:
            _check(src=src, ttl=ttl, peer_ttl=peers)
        assert err.value.reason == reason


def test_rfc5798_7_1_destination_must_match_multicast_or_unicast_mode():
    _check(dst=GROUP, group=GROUP)
    _check(dst=socket.inet_aton(A1), group=None)
    for dst, group in ((socket.inet_aton("224.0.0.19"), GROUP), (GROUP, None),
                       (socket.inet_aton(A1), GROUP)):
        with pytest.raises(PacketError) as err:
            _check(dst=dst, group=group)
        assert err.value.reason == "destination"


def test_rfc5798_6_1_down_timer_adverts_scales_master_down_interval():
    assert master_down_interval_s(3, 100, 100, 5) == pytest.approx(5 + 156 / 256)
    assert master_down_interval_s(3, 100, 100) == pytest.approx(3 + 156 / 256)


# ------------------------------------------------------------------ the daemon
def test_unicast_ttl_is_sent_and_checked_against_the_peer_range(tmp_path):
    lan = FakeLan()
    a1 = Agent(lan.host("n1", A1), unicast(A1, f"        {A2}\n", 150, "    unicast_ttl 7\n"),
               tmp_path)
    a2 = Agent(lan.host("n2", A2), unicast(A2, f"        {A1} min_ttl 7 max_ttl 7\n"), tmp_path)

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        assert a2.status()["counters"]["discards"]["ttl"] == 0
        # a stranger's advert and one with a TTL out of range are dropped and counted
        sock = a2.host.sockets[0]
        advert = packet.AdvertEncoder(version=3, vrid=51, family=4, addresses=b"", count=0,
                                      src=socket.inet_aton(A3))
        sock.inject(advert.packet(200, 10, socket.inet_aton(A2)), socket.inet_aton(A3),
                    socket.inet_aton(A2), 7)
        advert.src = socket.inet_aton(A1)
        sock.inject(advert.packet(200, 10, socket.inet_aton(A2)), socket.inet_aton(A1),
                    socket.inet_aton(A2), 255)
        await until(lambda: a2.status()["counters"]["discards"]["unicast_src"] == 1
                    and a2.status()["counters"]["discards"]["ttl"] == 1)
        assert a2.state() == BACKUP and a2.status()["master_priority"] == 150
        await a1.stop()
        await a2.stop()

    run(scenario)


def test_unicast_fault_no_peer_is_fault_instead_of_multicast(tmp_path):
    lan = FakeLan()
    a1 = Agent(lan.host("n1", A1), instance(extra="    unicast_fault_no_peer\n"), tmp_path)

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == FAULT)
        assert "unicast_fault_no_peer" in a1.status()["tracking"]["faults"]["unicast"]
        assert not lan.sent  # no multicast fall-back
        await a1.stop()

    run(scenario)


def test_track_src_ip_faults_while_the_source_address_is_gone(tmp_path):
    lan = FakeLan()
    a1 = Agent(lan.host("n1", A1), unicast(A1, f"        {A2}\n", 150, "    track_src_ip\n"),
               tmp_path)

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        a1.host.addresses[2].discard(A1)
        await until(lambda: a1.state() == FAULT)
        assert a1.status()["tracking"]["faults"] == {"src_ip": f"source address {A1} is gone"}
        a1.host.addresses[2].add(A1)
        await until(lambda: a1.state() == MASTER)
        await a1.stop()

    run(scenario)


def test_mcast_dst_ip_sends_to_its_group_and_drops_other_groups(tmp_path):
    lan = FakeLan()
    a1 = Agent(lan.host("n1", A1), instance(priority=150, extra="    mcast_dst_ip 224.0.0.19\n"),
               tmp_path)
    a2 = Agent(lan.host("n2", A2), instance(extra="    mcast_dst_ip 224.0.0.19\n"), tmp_path)
    a3 = Agent(lan.host("n3", A3), instance(priority=100), tmp_path)

    async def scenario():
        for agent in (a1, a2, a3):
            await agent.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        assert {dst for host, dst, _p in lan.sent if host == "n1"} == {"224.0.0.19"}
        assert "224.0.0.19" in a2.host.sockets[0].groups
        # n3 listens on 224.0.0.18: n1's adverts are not for it
        await until(lambda: a3.status()["counters"]["discards"]["destination"] >= 1)
        await until(lambda: a3.state() == MASTER)  # a cluster of its own
        assert a1.state() == MASTER and a2.state() == BACKUP
        for agent in (a1, a2, a3):
            await agent.stop()

    run(scenario)


def test_skip_check_adv_addr_compares_the_vip_list_once_per_master(tmp_path):
    lan = FakeLan()
    vips = ("198.51.100.100/24",)
    a1 = Agent(lan.host("n1", A1), instance(priority=150, vips=vips + ("198.51.100.101/24",)),
               tmp_path)
    a2 = Agent(lan.host("n2", A2), instance(vips=vips, extra="    skip_check_adv_addr\n"),
               tmp_path)
    a3 = Agent(lan.host("n3", A3), instance(vips=vips), tmp_path)

    async def scenario():
        for agent in (a1, a2, a3):
            await agent.start()
        await until(lambda: a3.status()["counters"]["address_list_mismatch"] >= 10)
        assert a2.state() == BACKUP
        # the first advert of the new master is compared; the following ones are not
        assert a2.status()["counters"]["address_list_mismatch"] <= 1
        for agent in (a1, a2, a3):
            await agent.stop()

    run(scenario)


# ------------------------------------------------------------------ old_unicast_checksum
def test_old_unicast_checksum_sends_the_pre_1_3_6_form_and_decodes_as_it():
    enc = packet.AdvertEncoder(version=3, vrid=51, family=4, addresses=b"", count=0,
                               src=socket.inet_aton(A1), checksum_form="pseudo_mcast")
    data = enc.packet(100, 100, socket.inet_aton(A2))
    adv = packet.decode(data, 4, socket.inet_aton(A1), socket.inet_aton(A2))
    assert adv.checksum_form == "pseudo_mcast"  # RFC 5798 §5.2.8 with 224.0.0.18 as dst
    enc.set_checksum_form("pseudo")
    assert packet.decode(enc.packet(100, 100, socket.inet_aton(A2)), 4, socket.inet_aton(A1),
                         socket.inet_aton(A2)).checksum_form == "pseudo"


@pytest.mark.parametrize("mode, accepted, answers_old", [
    ("", True, True), ("    old_unicast_checksum\n", True, True),
    ("    old_unicast_checksum never\n", False, False)])
def test_old_unicast_checksum_modes(tmp_path, mode, accepted, answers_old):
    import logging

    from vrrp_agent.instance import Instance

    cfg = one(unicast(A2, f"        {A1}\n", extra=mode))
    inst = Instance(cfg, parse_text(unicast(A2, f"        {A1}\n")).globals, logging.getLogger("t"))
    inst.set_source(socket.inet_aton(A2))
    old = packet.AdvertEncoder(version=3, vrid=51, family=4, addresses=inst.vip_block, count=1,
                               src=socket.inet_aton(A1), checksum_form="pseudo_mcast")
    adv = packet.decode(old.packet(150, 10, socket.inet_aton(A2)), 4, socket.inet_aton(A1),
                        socket.inet_aton(A2))
    inst.router.start(0.0)
    inst.receive(adv, socket.inet_aton(A1), 255, 0.1, socket.inet_aton(A2))
    assert (inst.discards["checksum"] == 0) == accepted
    assert (inst.encoder.checksum_form == "pseudo_mcast") == answers_old


@pytest.mark.parametrize("keyword", sorted(__import__("vrrp_agent.config.wire",
                                                      fromlist=["REFUSED"]).REFUSED))
def test_refused_instance_keywords_say_why(keyword):
    from vrrp_agent.config.wire import REFUSED

    with pytest.raises(ConfigError) as err:
        parse_text(instance(extra=f"    {keyword}\n"))
    assert str(err.value) == f"<string>:10: '{keyword}' {REFUSED[keyword]}"


def test_a_reload_applies_the_new_unicast_ttl_and_no_peer_fault(tmp_path):
    lan = FakeLan()
    a1 = Agent(lan.host("n1", A1), unicast(A1, f"        {A2}\n", 150, "    unicast_ttl 7\n"),
               tmp_path)

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        assert a1.host.sockets[0].ttl == {A2: 7}
        a1.conf.write_text(unicast(A1, f"        {A2}\n", 150, "    unicast_ttl 9\n"))
        await a1.daemon.reload()
        assert a1.host.sockets[0].ttl == {A2: 9}
        a1.conf.write_text(instance(priority=150, extra="    unicast_fault_no_peer\n"))
        await a1.daemon.reload()
        await until(lambda: a1.state() == FAULT)
        a1.conf.write_text(instance(priority=150))
        await a1.daemon.reload()
        await until(lambda: a1.state() == MASTER)
        await a1.stop()

    run(scenario)


def test_kernel_rx_buf_size_and_down_timer_adverts_reach_the_socket_and_the_router(tmp_path):
    lan = FakeLan()
    a1 = Agent(lan.host("n1", A1), instance(extra="    kernel_rx_buf_size 4194304\n"
                                                  "    down_timer_adverts 5\n"), tmp_path)

    async def scenario():
        loop = asyncio.get_running_loop()
        start = loop.time()
        await a1.start()
        assert a1.host.sockets[0].rcvbuf == 4194304
        router = a1.daemon.instances[0].router
        assert router.master_down_interval_s() == pytest.approx(5 * 0.1 + 156 / 256 * 0.1)
        await until(lambda: a1.state() == MASTER)
        assert loop.time() - start >= 0.5  # virtual time: 5 adverts of silence, not 3
        await a1.stop()

    run(scenario)
