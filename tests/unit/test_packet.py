"""The codec against scapy (an independent oracle), guard by guard, and under hypothesis."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.vrrp import VRRP, VRRPv3
from vrrp_agent import packet
from vrrp_agent.errors import PacketError

A4 = socket.inet_aton
MCAST4 = A4("224.0.0.18")
SRC4 = A4("198.51.100.11")


def a6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


MCAST6 = a6("ff02::12")
SRC6 = a6("fe80::1")


def encoder(version=3, family=4, vips=("198.51.100.100",), **kw):
    return packet.AdvertEncoder(version=version, vrid=kw.pop("vrid", 51), family=family,
                                addresses=packet.pack_addresses(vips, family), count=len(vips),
                                **kw)


# ------------------------------------------------------------------ scapy as the oracle

@pytest.mark.parametrize("auth", [None, b"s3cret"])
def test_rfc3768_5_1_v2_bytes_match_scapy(auth):
    auth_int = int.from_bytes((auth or b"").ljust(8, b"\0"), "big")
    oracle = bytes(VRRP(vrid=51, priority=150, adv=1, authtype=1 if auth else 0,
                        auth1=auth_int >> 32, auth2=auth_int & 0xFFFFFFFF,
                        addrlist=["198.51.100.100", "198.51.100.101"]))
    ours = encoder(version=2, vips=("198.51.100.100", "198.51.100.101"),
                   auth_type=1 if auth else 0, auth_data=auth or b"").packet(150, 100, MCAST4)
    assert ours == oracle
    adv = packet.decode(oracle, 4, SRC4, MCAST4)
    assert (adv.version, adv.vrid, adv.priority, adv.address_count) == (2, 51, 150, 2)
    assert adv.adver_int_cs == 100 and adv.checksum_form == "plain"
    assert adv.auth_data == (auth or b"").ljust(8, b"\0")


@pytest.mark.parametrize("dst", ["224.0.0.18", "198.51.100.12"])
def test_rfc5798_5_2_8_v3_ipv4_pseudo_header_matches_scapy(dst):
    pkt = IP(src="198.51.100.11", dst=dst) / VRRPv3(vrid=51, priority=200, adv=10,
                                                    addrlist=["198.51.100.100"])
    oracle = bytes(pkt[VRRPv3])
    ours = encoder(src=SRC4).packet(200, 10, A4(dst))
    assert ours == oracle
    adv = packet.decode(oracle, 4, SRC4, A4(dst))
    assert adv.checksum_form == "pseudo" and adv.adver_int_cs == 10


def test_rfc5798_5_2_8_v3_ipv6_matches_scapy():
    pkt = IPv6(src="fe80::1", dst="ff02::12") / VRRPv3(vrid=7, priority=100, adv=100,
                                                      addrlist=["2001:db8:100::100"])
    oracle = bytes(pkt[VRRPv3])
    ours = encoder(family=6, vips=("2001:db8:100::100",), vrid=7, src=SRC6).packet(100, 100, MCAST6)
    assert ours == oracle
    assert packet.decode(oracle, 6, SRC6, MCAST6).checksum_form == "pseudo"


def test_rfc9568_5_2_8_plain_v3_ipv4_form_sent_and_accepted():
    ours = encoder(src=SRC4, checksum_form="plain").packet(100, 100, MCAST4)
    assert packet.checksum(ours) == 0
    assert packet.decode(ours, 4, SRC4, MCAST4).checksum_form == "plain"
    assert ours != encoder(src=SRC4).packet(100, 100, MCAST4)


def test_keepalived_pre_1_3_6_unicast_checksum_with_multicast_destination_is_accepted():
    legacy = encoder(src=SRC4).packet(100, 100, MCAST4)  # pseudo-header with 224.0.0.18
    adv = packet.decode(legacy, 4, SRC4, A4("198.51.100.12"))  # ... but sent unicast
    assert adv.checksum_form == "pseudo_mcast"


# ------------------------------------------------------------------ guards

def _v3(priority=100):
    return encoder(src=SRC4).packet(priority, 100, MCAST4)


@pytest.mark.parametrize("payload,reason", [
    (b"\x31\x01", "too_short"),
    (b"\x41" + _v3()[1:], "version"),
    (b"\x32" + _v3()[1:], "type"),
    (_v3()[:3] + b"\x02" + _v3()[4:], "length"),
    (_v3() + b"\0\0\0\0", "length"),
    (_v3()[:6] + b"\0\0" + _v3()[8:], "checksum"),
])
def test_rfc5798_7_1_codec_guards(payload, reason):
    with pytest.raises(PacketError) as err:
        packet.decode(payload, 4, SRC4, MCAST4)
    assert err.value.reason == reason
    assert reason in packet.DISCARD_REASONS


def test_rfc3768_v2_over_ipv6_is_refused():
    v2 = encoder(version=2).packet(100, 100, MCAST4)
    with pytest.raises(PacketError) as err:
        packet.decode(v2, 6, SRC6, MCAST6)
    assert err.value.reason == "address_family"


def _checked(adv, **kw):
    args = dict(ttl=255, check_ttl=True, version=adv.version, adver_int_cs=100, auth_type=0,
                auth_data=b"\0" * 8)
    args.update(kw)
    packet.check_for_instance(adv, **args)


def test_rfc5798_7_1_ttl_must_be_255_unless_unicast():
    adv = packet.decode(_v3(), 4, SRC4, MCAST4)
    with pytest.raises(PacketError) as err:
        _checked(adv, ttl=64)
    assert err.value.reason == "ttl"
    _checked(adv, ttl=64, check_ttl=False)  # unicast: no TTL check (keepalived)


def test_version_mismatch_is_dropped():
    adv = packet.decode(_v3(), 4, SRC4, MCAST4)
    with pytest.raises(PacketError) as err:
        _checked(adv, version=2)
    assert err.value.reason == "version_mismatch"


def test_rfc3768_7_1_auth_and_interval_checks():
    enc = encoder(version=2, auth_type=1, auth_data=b"good")
    adv = packet.decode(enc.packet(100, 200, MCAST4), 4, SRC4, MCAST4)
    good = b"good".ljust(8, b"\0")
    _checked(adv, auth_type=1, auth_data=good, adver_int_cs=200)
    for kw, reason in (
        (dict(auth_type=0, adver_int_cs=200), "auth_type"),
        (dict(auth_type=1, auth_data=b"bad".ljust(8, b"\0"), adver_int_cs=200), "auth"),
        (dict(auth_type=1, auth_data=good, adver_int_cs=100), "interval"),
    ):
        with pytest.raises(PacketError) as err:
            _checked(adv, **kw)
        assert err.value.reason == reason


def test_split_ipv4_drops_link_padding_and_reads_ttl():
    pkt = IP(src="198.51.100.11", dst="224.0.0.18", ttl=255, proto=112) / VRRPv3(
        vrid=51, priority=100, addrlist=["198.51.100.100"])
    raw = bytes(pkt) + b"\0" * 6  # Ethernet minimum-frame padding
    src, dst, ttl, payload = packet.split_ipv4(raw)
    assert (src, dst, ttl) == (SRC4, MCAST4, 255)
    assert payload == bytes(pkt[VRRPv3])
    with pytest.raises(PacketError):
        packet.split_ipv4(bytes(IP(proto=6) / (b"x" * 20)))


def test_ucarp_carp_packet_on_protocol_112_is_rejected():
    # CARP: version 2, type 1, vhid, advskew, authlen, demote, advbase, cksum,
    # counter (8), HMAC-SHA1 (20): 36 bytes, not a valid VRRP advert
    carp = bytes([0x21, 51, 0, 7, 0, 1]) + b"\0\0" + b"\x01" * 8 + b"\x02" * 20
    with pytest.raises(PacketError) as err:
        packet.decode(carp, 4, SRC4, MCAST4)
    assert err.value.reason in ("length", "checksum")


def test_encoder_caches_until_something_changes():
    enc = encoder(src=SRC4)
    first = enc.packet(100, 100, MCAST4)
    assert enc.packet(100, 100, MCAST4) is first
    assert enc.packet(0, 100, MCAST4) is not first
    enc.set_src(A4("198.51.100.99"))
    again = enc.packet(100, 100, MCAST4)
    assert again is not first and again != first


# ------------------------------------------------------------------ properties

@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=120), family=st.sampled_from([4, 6]),
       src=st.binary(min_size=4, max_size=16), dst=st.binary(min_size=4, max_size=16))
def test_decode_arbitrary_bytes_raises_only_packet_error(data, family, src, dst):
    try:
        packet.decode(data, family, src, dst)
    except PacketError:
        pass
    try:
        packet.split_ipv4(data)
    except PacketError:
        pass


@settings(max_examples=200, deadline=None)
@given(version=st.sampled_from([2, 3]), vrid=st.integers(1, 255), prio=st.integers(0, 255),
       secs=st.integers(1, 40), cs=st.integers(1, 4095),
       vips=st.lists(st.integers(1, 254), min_size=0, max_size=20, unique=True))
def test_encode_decode_round_trip(version, vrid, prio, secs, cs, vips):
    addrs = [f"198.51.100.{v}" for v in vips]
    interval = secs * 100 if version == 2 else cs
    enc = encoder(version=version, vrid=vrid, vips=addrs, src=SRC4)
    adv = packet.decode(enc.packet(prio, interval, MCAST4), 4, SRC4, MCAST4)
    assert (adv.version, adv.vrid, adv.priority, adv.adver_int_cs) == (version, vrid, prio, interval)
    assert adv.addresses == packet.pack_addresses(addrs, 4)
