"""The receive fast path (fastpath.py): an advert with the bytes of the last accepted one
goes to the router without decode or checks; one changed byte, another source or another
TTL / hop limit takes the full path, where every guard runs and drops are counted."""

from __future__ import annotations

import asyncio
import socket
import struct
from types import SimpleNamespace
from typing import Any, List

import pytest
from fakehost import FakeLan
from test_daemon_fake import Agent, instance, run
from vrrp_agent import fastpath, packet
from vrrp_agent.constants import IPPROTO_VRRP
from vrrp_agent.router import BACKUP

MASTER4 = socket.inet_aton("198.51.100.9")
OTHER4 = socket.inet_aton("198.51.100.8")
GROUP4 = socket.inet_aton("224.0.0.18")
MASTER6 = socket.inet_pton(socket.AF_INET6, "fe80::9")
OTHER6 = socket.inet_pton(socket.AF_INET6, "fe80::8")
GROUP6 = socket.inet_pton(socket.AF_INET6, "ff02::12")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")


def advert(priority: int = 200, src: bytes = MASTER4, dst: bytes = GROUP4, family: int = 4,
           vips: bytes = b"\xc6\x33\x64\x64") -> bytes:
    enc = packet.AdvertEncoder(version=3, vrid=51, family=family, addresses=vips,
                               count=len(vips) // (4 if family == 4 else 16), src=src)
    return enc.packet(priority, 10, dst)


def datagram(payload: bytes, src: bytes = MASTER4, ttl: int = 255, ident: int = 0,
             tos: int = 0xC0) -> bytes:
    return _IPV4.pack(0x45, tos, 20 + len(payload), ident, 0x4000, ttl, IPPROTO_VRRP, 0,
                      src, GROUP4) + payload


# ------------------------------------------------------------------ the byte comparison
def _cached4(data: bytes) -> Any:
    src, dst, ttl, payload = packet.split_ipv4(data)
    adv = packet.decode(payload, 4, src, dst)
    inst = SimpleNamespace(accepted=fastpath.Accepted(fastpath.wire_key(4, data), ttl, src, dst,
                                                      adv, False))
    return {51: inst}, inst


UNREAD_BY_ANY_CHECK = {1, 4, 5, 6, 7, 10, 11}  # TOS, ID, flags/fragment, header checksum


def test_rfc5798_7_1_every_byte_a_check_reads_decides_the_fast_path():
    data = datagram(advert())
    table, inst = _cached4(data)
    assert fastpath.match4(table, data) is inst
    for offset in range(len(data)):
        changed = bytearray(data)
        changed[offset] ^= 0x01
        expected = inst if offset in UNREAD_BY_ANY_CHECK else None
        assert fastpath.match4(table, bytes(changed)) is expected, offset
    assert fastpath.match4(table, data + b"\0") is None  # longer than its total length
    assert fastpath.match4({}, data) is None  # no instance for the VRID


def test_rfc5798_7_1_an_ip_header_with_options_is_never_cached():
    payload = advert()
    data = _IPV4.pack(0x46, 0xC0, 24 + len(payload), 0, 0, 255, IPPROTO_VRRP, 0, MASTER4,
                      GROUP4) + b"\x01\x01\x01\x00" + payload
    assert fastpath.wire_key(4, data) == b""
    assert packet.split_ipv4(data)[3] == payload  # the full path takes it as before


def test_rfc5798_7_1_ipv6_needs_the_same_message_source_destination_and_hop_limit():
    payload = advert(src=MASTER6, dst=GROUP6, family=6, vips=bytes(16))
    adv = packet.decode(payload, 6, MASTER6, GROUP6)
    inst = SimpleNamespace(accepted=fastpath.Accepted(payload, 255, MASTER6, GROUP6, adv, False))
    table = {51: inst}
    assert fastpath.match6(table, payload, MASTER6, GROUP6, 255) is inst
    assert fastpath.match6(table, payload, OTHER6, GROUP6, 255) is None
    assert fastpath.match6(table, payload, MASTER6, MASTER6, 255) is None
    assert fastpath.match6(table, payload, MASTER6, GROUP6, 254) is None
    for offset in range(len(payload)):
        changed = bytearray(payload)
        changed[offset] ^= 0x01
        assert fastpath.match6(table, bytes(changed), MASTER6, GROUP6, 255) is None, offset


# ------------------------------------------------------------------ through the daemon
@pytest.fixture
def decodes(monkeypatch) -> List[bytes]:
    """Every payload the full path decodes."""
    calls: List[bytes] = []
    real = packet.decode

    def counting(payload: bytes, *args: Any) -> Any:
        calls.append(payload)
        return real(payload, *args)

    monkeypatch.setattr(packet, "decode", counting)
    return calls


def _backup(tmp_path) -> Agent:
    return Agent(FakeLan().host("n2", "198.51.100.2"), instance(priority=100), tmp_path)


async def _send(agent: Agent, data: bytes, times: int = 1) -> None:
    sock = agent.host.sockets[0]
    for _ in range(times):
        sock.arrive(data)
        await asyncio.sleep(0.05)  # loop time: two adverts per master-down interval at most


def test_rfc5798_6_4_2_unchanged_adverts_reach_the_router_without_decode(tmp_path, decodes):
    agent = _backup(tmp_path)

    async def scenario():
        await agent.start()
        await _send(agent, datagram(advert(), ident=1))
        await _send(agent, datagram(advert(), ident=2), times=20)  # 1 s: the master is alive
        status = agent.status()
        assert agent.state() == BACKUP and status["master_ip"] == "198.51.100.9"
        assert status["counters"]["adverts_received"] == 21
        assert len(decodes) == 1
        await agent.stop()

    run(scenario)


def test_rfc5798_7_1_a_changed_byte_a_new_source_or_ttl_runs_every_check(tmp_path, decodes):
    agent = _backup(tmp_path)

    async def scenario():
        await agent.start()
        good = datagram(advert())
        await _send(agent, good, times=2)
        assert len(decodes) == 1
        inst = agent.daemon.instances[0]
        broken = bytearray(good)
        broken[-1] ^= 0x01  # a VIP byte: the checksum no longer matches
        await _send(agent, bytes(broken))
        await _send(agent, datagram(advert(), src=OTHER4))  # pseudo-header of another source
        await _send(agent, datagram(advert(), ttl=254))  # RFC 5798 §5.1.1.3: TTL 255 only
        await _send(agent, datagram(advert(priority=201)))  # valid, changed: decoded, accepted
        await _send(agent, datagram(advert(priority=201)))  # ... and then recognised
        assert len(decodes) == 5
        assert inst.discards["checksum"] == 2 and inst.discards["ttl"] == 1
        assert agent.status()["counters"]["adverts_received"] == 4
        assert agent.status()["master_priority"] == 201
        await agent.stop()

    run(scenario)


def test_a_different_vip_list_is_counted_on_every_advert_fast_or_not(tmp_path, decodes):
    agent = _backup(tmp_path)

    async def scenario():
        await agent.start()
        await _send(agent, datagram(advert(vips=b"\xc6\x33\x64\x65")), times=3)
        assert len(decodes) == 1
        assert agent.status()["counters"]["address_list_mismatch"] == 3
        await agent.stop()

    run(scenario)


def test_a_reload_forgets_the_accepted_advert(tmp_path, decodes):
    agent = _backup(tmp_path)

    async def scenario():
        await agent.start()
        await _send(agent, datagram(advert()), times=2)
        inst = agent.daemon.instances[0]
        assert inst.accepted is not None
        inst.reconfigure(inst.cfg, agent.daemon.config.globals, 0.0)
        assert inst.accepted is None
        await _send(agent, datagram(advert()))
        agent.status()  # a quiet backup reads what is queued (quiet.py)
        assert len(decodes) == 2
        await agent.stop()

    run(scenario)


def test_skip_check_adv_addr_replay_compares_against_the_master_of_now():
    # The full path counts a different VIP list unless the advert comes from the master
    # known *now*; a replay must decide the same way, whoever the master was when the
    # bytes were first accepted.
    import logging

    from vrrp_agent.config import parse_text
    from vrrp_agent.instance import Instance
    from vrrp_agent.router import MASTER

    config = parse_text(instance(priority=100, extra="    skip_check_adv_addr\n"), "t.conf")
    inst = Instance(config.instances[0], config.globals, logging.getLogger("t"))
    inst.set_source(socket.inet_aton("198.51.100.2"))
    inst.router.start(0.0)
    other_vips = b"\xc6\x33\x64\x65"
    for now, priority in ((0.0, 200), (0.1, 201)):  # the second: from the known master
        data = datagram(advert(priority=priority, vips=other_vips))
        src, dst, ttl, payload = packet.split_ipv4(data)
        inst.receive(packet.decode(payload, 4, src, dst), src, ttl, now,
                     fastpath.wire_key(4, data), dst)
    assert inst.counters["address_list_mismatch"] == 1
    inst.router.on_timer(10.0)  # the master went quiet: we took over
    assert inst.router.state == MASTER
    data = datagram(advert(priority=201, vips=other_vips))
    assert fastpath.match4({51: inst}, data) is inst
    inst.receive_same(10.1)  # from a router that is not the master of now: compared
    assert inst.counters["address_list_mismatch"] == 2


# ------------------------------------------------------------------ the early-armed backup timer
def test_rfc5798_6_4_2_a_backup_armed_early_takes_over_at_master_down_not_before(tmp_path):
    agent = _backup(tmp_path)

    async def scenario():
        await agent.start()
        await _send(agent, datagram(advert()))
        inst = agent.daemon.instances[0]
        due = inst.router.next_deadline()  # Master_Down_Timer (RFC 5798 §6.4.2)
        assert inst.timer_at <= due - 0.001  # armed early (epoll rounds up), or lazily earlier
        await _send(agent, datagram(advert(priority=0)))  # the master leaves: Skew_Time
        skew_due = inst.router.next_deadline()
        assert skew_due < due
        await asyncio.sleep(0.5)
        assert inst.router.state == "MASTER"
        assert inst.router.last_transition == pytest.approx(skew_due, abs=1e-9)
        await agent.stop()

    run(scenario)


# ------------------------------------------------------------------ the optional event loop
def test_the_event_loop_choice_is_checked_and_asyncio_is_the_default():
    import logging

    from vrrp_agent import cli
    from vrrp_agent.errors import VrrpError

    assert cli.DEFAULT_EVENT_LOOP == "asyncio"
    policy = asyncio.get_event_loop_policy()
    cli._use_event_loop("asyncio", logging.getLogger("test"))
    assert asyncio.get_event_loop_policy() is policy
    with pytest.raises(VrrpError, match="VRRP_AGENT_EVENT_LOOP=uv: expected asyncio, uvloop or auto"):
        cli._use_event_loop("uv", logging.getLogger("test"))
