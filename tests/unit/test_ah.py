"""auth_type AH (ah.py): keepalived 2.2.7's IPsec-AH VRRPv2 adverts, checked against two
adverts captured from keepalived in the lab (auth_pass "secret", VRID 51, priority 150,
src 198.51.100.11, VIP 198.51.100.100), and the receive guards: ICV, SPI, anti-replay."""

from __future__ import annotations

import logging
import socket

import pytest
from vrrp_agent import ah, packet
from vrrp_agent.config import parse_text
from vrrp_agent.constants import AUTH_AH
from vrrp_agent.errors import ConfigError, PacketError
from vrrp_agent.instance import Instance

KEEPALIVED = [bytes.fromhex(h) for h in (
    "45c0004000010000ff33b078c633640be000001270040000c633640b000000013cfc5d019b71829c94f125fd"
    "2133960102011c32c63364640000000000000000",
    "45c0004000020000ff33b077c633640be000001270040000c633640b00000002b90106aaa4d5de8998a17250"
    "2133960102011c32c63364640000000000000000",
)]
SRC = socket.inet_aton("198.51.100.11")
GROUP = socket.inet_aton("224.0.0.18")


def _message() -> bytes:
    enc = packet.AdvertEncoder(version=2, vrid=51, family=4, count=1, auth_type=AUTH_AH,
                               addresses=socket.inet_aton("198.51.100.100"))
    return enc.packet(150, 100, GROUP)


def test_rfc2402_adverts_are_byte_for_byte_keepalived_s():
    session = ah.AhSession(b"secret", unicast=False)
    sent = [session.wrap(_message(), SRC, GROUP, 255) for _ in KEEPALIVED]
    # the kernel fills the IP header checksum (IP_HDRINCL): compare everything else
    assert [s[:10] + s[12:] for s in sent] == [k[:10] + k[12:] for k in KEEPALIVED]


def test_rfc2402_each_periodic_advert_is_a_new_datagram():
    enc = ah.AhAdvertEncoder(session=ah.AhSession(b"secret", unicast=False), ttl=255, version=2,
                             vrid=51, family=4, count=1, auth_type=AUTH_AH, src=SRC,
                             addresses=socket.inet_aton("198.51.100.100"))
    group = (("224.0.0.18", GROUP),)
    first, second = enc.sends(150, 100, group), enc.sends(150, 100, group)
    assert first[0][0] != second[0][0]  # a new sequence number: never a cached replay
    assert [s[:10] + s[12:] for s in (first[0][0], second[0][0])] == \
        [k[:10] + k[12:] for k in KEEPALIVED]


def test_rfc2402_keepalived_adverts_verify_then_replays_and_forgeries_do_not():
    session = ah.AhSession(b"secret", unicast=False)
    for datagram, seq in zip(KEEPALIVED, (1, 2)):
        src, dst, ttl, message, ip_header, ah_header = ah.split(datagram)
        assert (src, dst, ttl) == (SRC, GROUP, 255)
        assert session.verify(ip_header, ah_header, message) == seq
        assert packet.decode(message, 4, src, dst).auth_type == AUTH_AH
    parts = ah.split(KEEPALIVED[0])[3:]
    with pytest.raises(PacketError, match="replayed"):
        session.verify(parts[1], parts[2], parts[0])
    with pytest.raises(PacketError, match="ICV mismatch"):
        ah.AhSession(b"other", unicast=False).verify(parts[1], parts[2], parts[0])
    forged = bytearray(KEEPALIVED[0])
    forged[-9] = 0x65  # the VIP, under the ICV
    src, dst, ttl, message, ip_header, ah_header = ah.split(bytes(forged))
    with pytest.raises(PacketError) as err:
        ah.AhSession(b"secret", unicast=False).verify(ip_header, ah_header, message)
    assert err.value.reason == "auth"


def test_mutable_fields_do_not_count_and_unicast_ttl_neither():
    session = ah.AhSession(b"secret", unicast=True)
    datagram = bytearray(session.wrap(_message(), SRC, socket.inet_aton("198.51.100.12"), 64))
    datagram[1], datagram[8] = 0, 3  # TOS rewritten, TTL decremented on the way
    src, dst, ttl, message, ip_header, ah_header = ah.split(bytes(datagram))
    assert ah.AhSession(b"secret", unicast=True).verify(ip_header, ah_header, message) == 1


def test_split_refuses_what_is_not_vrrp_over_ah():
    for bad in (KEEPALIVED[0][:30], KEEPALIVED[0][:9] + b"\x70" + KEEPALIVED[0][10:],
                KEEPALIVED[0][:20] + b"\x06" + KEEPALIVED[0][21:]):
        with pytest.raises(PacketError) as err:
            ah.split(bad)
        assert err.value.reason == "ip_header"


AH_CONF = """vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 51
    priority 150
    authentication {{
        auth_type AH
        auth_pass secret
    }}
    virtual_ipaddress {{
        198.51.100.100/24
    }}
}}
"""


def test_the_instance_checks_ah_presence_and_warns_on_state_master():
    config = parse_text(AH_CONF.format(state="MASTER"))
    cfg = config.instances[0]
    assert cfg.auth_type == "AH" and cfg.initial_state == "BACKUP"
    assert "state MASTER with auth_type AH is set to BACKUP" in config.warnings[0]
    inst = Instance(cfg, config.globals, logging.getLogger("t"))
    inst.set_source(socket.inet_aton("198.51.100.12"))
    inst.router.start(0.0)
    src, dst, ttl, message, ip_header, ah_header = ah.split(KEEPALIVED[0])
    adv = packet.decode(message, 4, src, dst)
    inst.receive(adv, src, ttl, 0.1, dst=dst)  # the same advert without its AH header
    assert inst.discards["auth_type"] == 1
    inst.receive(adv, src, ttl, 0.2, dst=dst, ah_parts=(ip_header, ah_header, message))
    assert sum(inst.discards.values()) == 1 and inst.router.master_ip == SRC
    adverts = inst.encoder.packet(150, 100, GROUP)
    assert adverts[9] == ah.IPPROTO_AH and adverts[20 + 8:20 + 12] == b"\0\0\0\2"  # seq 1 heard, + 1


def test_ah_needs_vrrpv2():
    with pytest.raises(ConfigError, match="VRRPv2 only"):
        parse_text(AH_CONF.format(state="BACKUP").replace("priority 150", "version 3"))
