"""The codec against scapy (an independent oracle), guard by guard, and under hypothesis."""

from __future__ import annotations

import re
import socket
import struct
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.vrrp import VRRP, VRRPv3
from scapy.utils import checksum as scapy_checksum
from vrrp_agent import packet
from vrrp_agent.errors import PacketError

A4 = socket.inet_aton
MCAST4 = A4("224.0.0.18")
SRC4 = A4("198.51.100.11")
PEER4 = A4("198.51.100.12")
VIP4 = "198.51.100.100"


def a6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


MCAST6 = a6("ff02::12")
SRC6 = a6("fe80::1")
NO_AUTH = b"\0" * 8


def encoder(version=3, family=4, vips=(VIP4,), **kw):
    kw.setdefault("vrid", 51)
    return packet.AdvertEncoder(version=version, family=family, count=len(vips),
                                addresses=packet.pack_addresses(vips, family), **kw)


def v3(priority=100, dst=MCAST4, **kw):
    return encoder(src=SRC4, **kw).packet(priority, 100, dst)


def v2(priority=100, **kw):
    return encoder(version=2, **kw).packet(priority, 100, MCAST4)


def reason_of(func, *args, **kw) -> str:
    with pytest.raises(PacketError) as err:
        func(*args, **kw)
    assert err.value.reason in packet.DISCARD_REASONS
    return err.value.reason


def rfc1071(data: bytes) -> int:
    """Textbook RFC 1071 §4.1 loop, independent of the codec's modular shortcut."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def refix(payload: bytes, pseudo: bytes = b"") -> bytes:
    """`payload` with its checksum recomputed (to reach the guards behind the checksum)."""
    body = payload[:6] + b"\0\0" + payload[8:]
    return body[:6] + struct.pack("!H", rfc1071(pseudo + body)) + body[8:]


def pseudo4(src: bytes, dst: bytes, length: int) -> bytes:
    return src + dst + bytes([0, 112]) + struct.pack("!H", length)


# ------------------------------------------------------------------ scapy as the oracle

@pytest.mark.parametrize("password", [None, b"s3cretpw", b"abc"])
def test_rfc3768_5_1_v2_bytes_match_scapy(password):
    auth = (password or b"").ljust(8, b"\0")
    oracle = bytes(VRRP(vrid=51, priority=150, adv=3, authtype=1 if password else 0,
                        auth1=int.from_bytes(auth[:4], "big"), auth2=int.from_bytes(auth[4:], "big"),
                        addrlist=[VIP4, "198.51.100.101"]))
    ours = encoder(version=2, vips=(VIP4, "198.51.100.101"), auth_type=1 if password else 0,
                   auth_data=password or b"").packet(150, 300, MCAST4)
    assert ours == oracle
    adv = packet.decode(oracle, 4, SRC4, MCAST4)
    assert adv == packet.Advertisement(2, 51, 150, 2, 300, 1 if password else 0, auth,
                                       packet.pack_addresses([VIP4, "198.51.100.101"], 4), "plain")


@pytest.mark.parametrize("dst", ["224.0.0.18", "198.51.100.12"])
def test_rfc5798_5_2_8_v3_ipv4_pseudo_header_matches_scapy(dst):
    pkt = IP(src="198.51.100.11", dst=dst) / VRRPv3(vrid=51, priority=200, adv=10, addrlist=[VIP4])
    oracle = bytes(pkt[VRRPv3])
    assert encoder(src=SRC4).packet(200, 10, A4(dst)) == oracle
    adv = packet.decode(oracle, 4, SRC4, A4(dst))
    assert (adv.version, adv.vrid, adv.priority, adv.count, adv.adver_int_cs) == (3, 51, 200, 1, 10)
    assert (adv.auth_type, adv.auth_data, adv.checksum_form) == (0, b"", "pseudo")


def test_rfc5798_5_2_8_v3_ipv6_matches_scapy():
    vips = ["fe80::100", "2001:db8:100::100"]
    pkt = IPv6(src="fe80::1", dst="ff02::12") / VRRPv3(vrid=7, priority=100, adv=100, addrlist=vips)
    oracle = bytes(pkt[VRRPv3])
    assert encoder(family=6, vips=vips, vrid=7, src=SRC6).packet(100, 100, MCAST6) == oracle
    adv = packet.decode(oracle, 6, SRC6, MCAST6)
    assert adv.addresses == a6(vips[0]) + a6(vips[1]) and adv.checksum_form == "pseudo"


def test_rfc5798_5_1_1_scapy_datagram_through_split_decode_and_instance_checks():
    raw = bytes(IP(src="198.51.100.11", dst="224.0.0.18", ttl=255, tos=0xC0)
                / VRRPv3(vrid=51, priority=120, adv=100, addrlist=[VIP4]))
    src, dst, ttl, payload = packet.split_ipv4(raw)
    assert (src, dst, ttl) == (SRC4, MCAST4, 255)
    adv = packet.decode(payload, 4, src, dst)
    assert adv.priority == 120
    packet.check_for_instance(adv, ttl=ttl, check_ttl=True, version=3, adver_int_cs=100,
                              auth_type=0, auth_data=NO_AUTH)


def test_rfc9568_5_2_8_plain_v3_ipv4_form_sent_and_accepted():
    ours = encoder(src=SRC4, checksum_form="plain").packet(100, 100, MCAST4)
    # no IP underlayer: scapy takes the address block raw and leaves the checksum to us
    unchecked = bytes(VRRPv3(vrid=51, priority=100, adv=100, ipcount=1, addrlist=A4(VIP4), chksum=0))
    assert ours == unchecked[:6] + struct.pack("!H", scapy_checksum(unchecked)) + unchecked[8:]
    assert ours != v3()
    assert packet.decode(ours, 4, SRC4, MCAST4).checksum_form == "plain"
    assert packet.decode(ours, 4, SRC4, PEER4).checksum_form == "plain"


def test_rfc5798_5_2_8_ipv6_has_no_plain_form():
    plain = refix(encoder(family=6, vips=("fe80::100",), src=SRC6).packet(100, 100, MCAST6))
    assert reason_of(packet.decode, plain, 6, SRC6, MCAST6) == "checksum"


def test_keepalived_pre_1_3_6_unicast_pseudo_header_with_multicast_group():
    legacy = bytes((IP(src="198.51.100.11", dst="224.0.0.18")
                    / VRRPv3(vrid=51, priority=100, addrlist=[VIP4]))[VRRPv3])
    assert packet.decode(legacy, 4, SRC4, PEER4).checksum_form == "pseudo_mcast"
    assert packet.decode(legacy, 4, SRC4, MCAST4).checksum_form == "pseudo"
    # the fallback is the multicast group only, not any destination
    other = v3(dst=A4("198.51.100.13"))
    assert reason_of(packet.decode, other, 4, SRC4, PEER4) == "checksum"


# ------------------------------------------------------------------ decode guards, in order

def test_rfc5798_7_1_too_short():
    assert reason_of(packet.decode, v3()[:7], 4, SRC4, MCAST4) == "too_short"


@pytest.mark.parametrize("version", [0, 1, 4, 15])
def test_rfc5798_5_2_1_version_must_be_2_or_3(version):
    bad = refix(bytes([version << 4 | 1]) + v3()[1:], pseudo4(SRC4, MCAST4, 12))
    assert reason_of(packet.decode, bad, 4, SRC4, MCAST4) == "version"


def test_rfc3768_5_1_v2_is_ipv4_only():
    assert reason_of(packet.decode, v2(), 6, SRC6, MCAST6) == "address_family"


@pytest.mark.parametrize("vrrp_type", [0, 2, 15])
def test_rfc5798_5_2_2_type_must_be_advertisement(vrrp_type):
    bad = refix(bytes([0x30 | vrrp_type]) + v3()[1:], pseudo4(SRC4, MCAST4, 12))
    assert reason_of(packet.decode, bad, 4, SRC4, MCAST4) == "type"


@pytest.mark.parametrize("mangle", [
    lambda p: p[:3] + b"\x02" + p[4:],   # count says 2, one address present
    lambda p: p[:3] + b"\x00" + p[4:],   # count says 0
    lambda p: p + b"\0\0\0\0",           # trailing bytes
])
def test_rfc5798_7_1_length_must_match_count(mangle):
    assert reason_of(packet.decode, mangle(v3()), 4, SRC4, MCAST4) == "length"


def test_rfc3768_5_3_10_v2_needs_the_8_auth_bytes():
    assert reason_of(packet.decode, v2()[:-8], 4, SRC4, MCAST4) == "length"


def test_rfc5798_5_2_9_ipv6_addresses_are_16_bytes():
    v4_sized = v3()  # 12 bytes: 8 + 1 x 4, not 8 + 1 x 16
    assert reason_of(packet.decode, v4_sized, 6, SRC6, MCAST6) == "length"


@pytest.mark.parametrize("offset", [1, 2, 4, 5, 6, 7, 8, 11])
def test_rfc5798_7_1_corrupted_checksum_is_dropped(offset):
    good = bytearray(v3())
    good[offset] ^= 0x01
    assert reason_of(packet.decode, bytes(good), 4, SRC4, MCAST4) == "checksum"


def test_rfc3768_5_3_8_v2_checksum_covers_the_auth_bytes():
    bad = v2(auth_type=1, auth_data=b"pw")[:-1] + b"X"
    assert reason_of(packet.decode, bad, 4, SRC4, MCAST4) == "checksum"


def test_rfc5798_5_2_8_pseudo_header_binds_the_source_address():
    assert reason_of(packet.decode, v3(), 4, A4("198.51.100.99"), MCAST4) == "checksum"


def test_decode_guard_order_first_failure_wins():
    # bad version and too short for its count: the version guard runs first
    assert reason_of(packet.decode, b"\x41\x01\x64\x09" + b"\0" * 4, 4, SRC4, MCAST4) == "version"
    # bad type and bad length: the type guard runs first
    assert reason_of(packet.decode, b"\x32" + v3()[1:] + b"\0", 4, SRC4, MCAST4) == "type"


def test_rfc5798_5_1_reserved_bits_are_ignored_on_receive():
    dirty = refix(v3()[:4] + b"\xf0\x64" + v3()[6:], pseudo4(SRC4, MCAST4, 12))
    assert packet.decode(dirty, 4, SRC4, MCAST4).adver_int_cs == 100
    assert v3()[4] >> 4 == 0  # and sent as zero


# ------------------------------------------------------------------ split_ipv4

def ip_header(total, *, ver_ihl=0x45, proto=112, ttl=255):
    return struct.pack("!BBHHHBBH4s4s", ver_ihl, 0xC0, total, 1, 0, ttl, proto, 0, SRC4, MCAST4)


@pytest.mark.parametrize("raw", [
    ip_header(32)[:19],                              # shorter than a header
    ip_header(32, ver_ihl=0x65) + v3(),              # not IPv4
    ip_header(32, ver_ihl=0x44) + v3(),              # IHL < 5
    ip_header(32, ver_ihl=0x4F) + v3(),              # IHL 60 > datagram
    ip_header(32, proto=51) + v3(),                  # AH, or anything but 112
    ip_header(33) + v3(),                            # total length > received
    ip_header(19) + v3(),                            # total length < IHL
], ids=["short", "version", "ihl_small", "ihl_big", "protocol", "total_big", "total_small"])
def test_rfc791_3_1_split_ipv4_guards(raw):
    assert reason_of(packet.split_ipv4, raw) == "ip_header"


def test_split_ipv4_drops_ethernet_padding_and_skips_options():
    padded = ip_header(32, ttl=254) + v3() + b"\0" * 14  # 46-byte minimum Ethernet payload
    assert packet.split_ipv4(padded) == (SRC4, MCAST4, 254, v3())
    with_options = ip_header(36, ver_ihl=0x46) + b"\x94\x04\0\0" + v3()  # Router Alert
    assert packet.split_ipv4(with_options)[3] == v3()


# ------------------------------------------------------------------ instance checks

def checked(adv, **kw):
    args = {"ttl": 255, "check_ttl": True, "version": adv.version, "adver_int_cs": 100,
            "auth_type": 0, "auth_data": NO_AUTH}
    args.update(kw)
    packet.check_for_instance(adv, **args)


def test_rfc5798_7_1_ttl_must_be_255():
    adv = packet.decode(v3(), 4, SRC4, MCAST4)
    assert reason_of(checked, adv, ttl=254) == "ttl"
    checked(adv, ttl=64, check_ttl=False)  # unicast: keepalived skips the check


def test_rfc5798_7_1_version_must_match_the_instance():
    adv = packet.decode(v3(), 4, SRC4, MCAST4)
    assert reason_of(checked, adv, version=2) == "version_mismatch"
    assert reason_of(checked, adv, version=2, ttl=1) == "ttl"  # ttl is checked first


def test_rfc3768_7_1_auth_type_must_match():
    adv = packet.decode(v2(auth_type=1, auth_data=b"pw"), 4, SRC4, MCAST4)
    assert reason_of(checked, adv, auth_type=0) == "auth_type"


def test_rfc3768_7_1_auth_data_must_match_for_pass():
    adv = packet.decode(v2(auth_type=1, auth_data=b"pw"), 4, SRC4, MCAST4)
    checked(adv, auth_type=1, auth_data=b"pw".ljust(8, b"\0"))
    assert reason_of(checked, adv, auth_type=1, auth_data=b"pX".ljust(8, b"\0")) == "auth"


def test_rfc3768_7_1_auth_data_ignored_without_auth():
    adv = packet.decode(v2(), 4, SRC4, MCAST4)
    checked(adv, auth_type=0, auth_data=b"whatever")


def test_rfc3768_7_1_adver_interval_must_match():
    adv = packet.decode(v2(), 4, SRC4, MCAST4)
    assert adv.adver_int_cs == 100
    assert reason_of(checked, adv, adver_int_cs=200) == "interval"


def test_rfc5798_6_4_2_v3_interval_is_learned_not_refused():
    adv = packet.decode(v3(), 4, SRC4, MCAST4)
    checked(adv, adver_int_cs=250, auth_type=1, auth_data=b"ignored!")


# ------------------------------------------------------------------ ucarp on protocol 112

def test_ucarp_carp_advert_on_protocol_112_is_rejected():
    # CARP: ver 2|type 1, vhid, advskew, authlen (7), demote, advbase, cksum,
    # counter (8), HMAC-SHA1 (20) = 36 bytes, with a valid CARP checksum
    body = bytes([0x21, 51, 0, 7, 0, 1]) + b"\0\0" + bytes(range(8)) + bytes(range(100, 120))
    carp = refix(body)
    assert len(carp) == 36 and rfc1071(carp) == 0
    raw = ip_header(56) + carp
    src, dst, _ttl, payload = packet.split_ipv4(raw)
    assert reason_of(packet.decode, payload, 4, src, dst) == "length"


# ------------------------------------------------------------------ encoder

def test_encoder_caches_until_something_changes():
    enc = encoder(src=SRC4)
    first = enc.packet(100, 100, MCAST4)
    assert enc.packet(100, 100, MCAST4) is first
    assert enc.packet(0, 100, MCAST4) is not first
    assert enc.packet(100, 100, MCAST4) is first
    enc.set_src(SRC4)  # unchanged: cache kept
    assert enc.packet(100, 100, MCAST4) is first
    enc.set_src(A4("198.51.100.99"))
    again = enc.packet(100, 100, MCAST4)
    assert again != first and packet.decode(again, 4, A4("198.51.100.99"), MCAST4)
    enc.src = SRC4
    assert enc.packet(100, 100, MCAST4) == first


def test_encoder_sends_one_tuple_per_advert_until_something_changes():
    enc = encoder(src=SRC4)
    peers = (("198.51.100.2", A4("198.51.100.2")), ("198.51.100.3", A4("198.51.100.3")))
    sends = enc.sends(100, 100, peers)
    assert sends == tuple((enc.packet(100, 100, p), d, SRC4) for d, p in peers)
    assert enc.sends(100, 100, peers) is sends  # the master's periodic advert: nothing rebuilt
    assert enc.sends(90, 100, peers)[0][0][2] == 90  # priority byte
    assert enc.sends(100, 50, peers) != sends and enc.sends(100, 100, peers[:1]) != sends
    assert enc.sends(100, 100, tuple(peers)) is not sends  # other destinations (a reload)
    fresh = enc.sends(100, 100, peers)
    enc.set_src(A4("198.51.100.99"))  # the pseudo-header changes: so do the packets
    moved = enc.sends(100, 100, peers)
    assert moved != fresh and moved[0][2] == A4("198.51.100.99")
    assert packet.decode(moved[0][0], 4, A4("198.51.100.99"), peers[0][1])
    enc.set_checksum_form("plain")
    assert packet.decode(enc.sends(100, 100, peers)[0][0], 4, b"", b"").checksum_form == "plain"


def test_rfc3768_5_3_7_v2_interval_is_whole_seconds():
    assert v2()[5] == 1 and encoder(version=2).packet(100, 300, MCAST4)[5] == 3


def test_encoder_refuses_inconsistent_settings():
    with pytest.raises(ValueError):
        encoder(version=2, family=6, vips=("fe80::1",))
    with pytest.raises(ValueError):
        packet.AdvertEncoder(version=3, vrid=1, family=4, addresses=b"\0" * 4, count=2)
    with pytest.raises(ValueError):
        encoder(checksum_form="pseudo_dst")


def test_discard_reasons_cover_every_reason_raised():
    source = Path(packet.__file__).read_text()
    raised = set(re.findall(r'PacketError\("(\w+)"', source))
    assert raised <= set(packet.DISCARD_REASONS)
    assert len(set(packet.DISCARD_REASONS)) == len(packet.DISCARD_REASONS)
    assert {"ip_header", "too_short", "version", "type", "length", "checksum", "ttl",
            "version_mismatch", "auth_type", "auth", "interval", "address_family"} <= raised


# ------------------------------------------------------------------ properties

addr = st.one_of(st.binary(min_size=4, max_size=4), st.binary(min_size=16, max_size=16))


@settings(max_examples=800, deadline=None)
@given(data=st.binary(max_size=120), family=st.sampled_from([4, 6]), src=addr, dst=addr)
def test_arbitrary_bytes_raise_only_packet_error(data, family, src, dst):
    for func, args in ((packet.decode, (data, family, src, dst)), (packet.split_ipv4, (data,))):
        try:
            func(*args)
        except PacketError as exc:
            assert exc.reason in packet.DISCARD_REASONS


@settings(max_examples=500, deadline=None)
@given(prio=st.integers(0, 255), vips=st.integers(0, 6), pos=st.data(),
       flip=st.integers(1, 255), version=st.sampled_from([2, 3]))
def test_rfc1071_any_single_byte_error_is_caught(prio, vips, pos, flip, version):
    """v2 and v3/IPv6 accept one checksum form only, so no corruption slips through."""
    if version == 2:
        data, family, src, dst = v2(prio, vips=[f"10.0.0.{i}" for i in range(vips)]), 4, SRC4, MCAST4
    else:
        enc = encoder(family=6, vips=[f"2001:db8::{i}" for i in range(vips)], src=SRC6)
        data, family, src, dst = enc.packet(prio, 100, MCAST6), 6, SRC6, MCAST6
    bad = bytearray(data)
    bad[pos.draw(st.integers(0, len(bad) - 1))] ^= flip
    with pytest.raises(PacketError):
        packet.decode(bytes(bad), family, src, dst)


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=300))
@example(data=b"")                   # all-zero data: sum 0, checksum 0xFFFF
@example(data=b"\xff\xff")           # sum is "negative zero" 0xFFFF: checksum 0
@example(data=b"\x80\x00\x7f\xff")   # same, reached through a carry-free sum
@example(data=b"\xff\xff\x00\x01")   # end-around carry
@example(data=b"\x01")               # odd length: padded on the right
def test_checksum_equals_textbook_rfc1071(data):
    assert packet.checksum(data) == rfc1071(data)


@settings(max_examples=300, deadline=None)
@given(version=st.sampled_from([2, 3]), family=st.sampled_from([4, 6]), vrid=st.integers(1, 255),
       prio=st.integers(0, 255), secs=st.integers(1, 255), cs=st.integers(1, 4095),
       hosts=st.lists(st.integers(1, 65534), max_size=20, unique=True),
       unicast=st.booleans(), form=st.sampled_from(["pseudo", "plain"]))
def test_encode_decode_round_trip(version, family, vrid, prio, secs, cs, hosts, unicast, form):
    if version == 2:
        family = 4
    if family == 4:
        vips, src, dst = [str(socket.inet_ntoa(struct.pack("!I", 0x0A000000 + h))) for h in hosts], \
            SRC4, (PEER4 if unicast else MCAST4)
    else:
        vips, src, dst = [f"2001:db8::{h:x}" for h in hosts], SRC6, (a6("fe80::2") if unicast else MCAST6)
    interval = secs * 100 if version == 2 else cs
    enc = encoder(version=version, family=family, vrid=vrid, vips=vips, src=src, checksum_form=form)
    adv = packet.decode(enc.packet(prio, interval, dst), family, src, dst)
    expected_form = form if (version, family) == (3, 4) else ("plain" if version == 2 else "pseudo")
    assert adv == packet.Advertisement(version, vrid, prio, len(vips), interval, 0,
                                       NO_AUTH if version == 2 else b"",
                                       packet.pack_addresses(vips, family), expected_form)
