"""VRRP advertisement codec: RFC 3768 (v2) and RFC 5798 / RFC 9568 (v3). Pure, no I/O.

Rules:
1. `decode()` does the codec checks only, in a fixed order, each a guard that
   raises PacketError(reason, detail with the offending values). The reason
   is the discard counter key. Nothing else can escape it.
2. `check_for_instance()` does the checks that need the instance config
   (TTL, version, v2 auth and interval), again as guards.
3. Checksums: v2 is a plain one's complement over the VRRP message including
   the 8 auth bytes (RFC 3768 §5.3.8). v3/IPv6 uses the IPv6 pseudo-header
   (RFC 5798 §5.2.8). v3/IPv4 is *sent* with the IPv4 pseudo-header by
   default (keepalived and FRR), or plain (RFC 9568 §5.2.8, keepalived's
   `v3_checksum_as_v2`); on receive both forms are accepted, plus the
   pre-1.3.6 keepalived unicast form whose pseudo-header used 224.0.0.18.
4. Encoding is cached per (priority, interval, destination): the send path
   allocates nothing while nothing changes.

RFC 5798 §5.1 (v3) / RFC 3768 §5.1 (v2):

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    v3: |(rsvd)|  Max Adver Int (cs)  |          Checksum             |
    v2: | Auth Type   | Adver Int (s)  |          Checksum             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                  IPvX Address(es) (count x 4 or 16)           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    v2 only: |      Authentication Data (8 bytes)                     |
"""

from __future__ import annotations

import hmac
import socket
import struct
from typing import Dict, NamedTuple, Sequence, Tuple

from vrrp_agent.constants import AUTH_DATA_LEN, AUTH_PASS, IPPROTO_VRRP, TTL_VRRP
from vrrp_agent.errors import PacketError

DISCARD_REASONS: Tuple[str, ...] = (
    "ip_header", "too_short", "version", "address_family", "type", "length", "checksum",
    "ttl", "version_mismatch", "auth_type", "auth", "interval",
)

# byte 0: version<<4 | type; VRID; priority; count; v2: auth type, adver int (s) / v3: rsvd+12-bit cs
_HEAD_V2 = struct.Struct("!BBBBBBH")
_HEAD_V3 = struct.Struct("!BBBBHH")
# IPv4 header: ver/ihl, tos, total length, id, flags/frag, ttl, protocol, checksum, src, dst
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
# IPv4 pseudo-header: src(4) dst(4) zero(1) protocol(1) length(2)
_PSEUDO4 = struct.Struct("!4s4sBBH")
# IPv6 pseudo-header (RFC 8200 §8.1): src(16) dst(16) length(4) zero(3) next header(1)
_PSEUDO6 = struct.Struct("!16s16sI3xB")
MCAST4_PACKED = socket.inet_aton("224.0.0.18")
_HEADER_LEN = 8


class Advertisement(NamedTuple):
    """A decoded advert (cheap to build: one per received packet)."""

    version: int
    vrid: int
    priority: int
    address_count: int
    adver_int_cs: int
    """v3: the 12-bit field (centiseconds); v2: seconds * 100."""
    auth_type: int
    auth_data: bytes
    addresses: bytes
    """The packed address block, count x 4 or 16 bytes."""
    checksum_form: str
    """"plain", "pseudo" or "pseudo_mcast" (see the module rules)."""


def _sum16(data: bytes) -> int:
    if len(data) & 1:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) >> 1), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum of `data`."""
    return ~_sum16(data) & 0xFFFF


def _pseudo4(src: bytes, dst: bytes, length: int) -> bytes:
    return _PSEUDO4.pack(src, dst, 0, IPPROTO_VRRP, length)


def _pseudo6(src: bytes, dst: bytes, length: int) -> bytes:
    return _PSEUDO6.pack(src, dst, length, IPPROTO_VRRP)


def split_ipv4(datagram: bytes) -> Tuple[bytes, bytes, int, bytes]:
    """A raw IPv4 datagram -> (src, dst, ttl, VRRP payload); link padding dropped."""
    if len(datagram) < _IPV4.size:
        raise PacketError("ip_header", f"{len(datagram)} bytes < 20")
    ver_ihl, _tos, total, _id, _frag, ttl, proto, _ck, src, dst = _IPV4.unpack_from(datagram)
    ihl = (ver_ihl & 0x0F) * 4
    if ver_ihl >> 4 != 4 or ihl < 20 or ihl > len(datagram):
        raise PacketError("ip_header", f"version/IHL byte 0x{ver_ihl:02x}")
    if proto != IPPROTO_VRRP:
        raise PacketError("ip_header", f"protocol {proto} != 112")
    if total > len(datagram) or total < ihl:
        raise PacketError("ip_header", f"total length {total}, {len(datagram)} bytes received")
    return src, dst, ttl, datagram[ihl:total]


def decode(payload: bytes, family: int, src: bytes, dst: bytes) -> Advertisement:
    """Codec checks (RFC 5798 §7.1 / RFC 3768 §7.1), then the decoded advert."""
    size = len(payload)
    if size < _HEADER_LEN:
        raise PacketError("too_short", f"{size} bytes < 8")
    first, vrid, priority, count = payload[0], payload[1], payload[2], payload[3]
    version = first >> 4
    if version not in (2, 3):
        raise PacketError("version", f"version {version}")
    if version == 2 and family == 6:
        raise PacketError("address_family", "VRRPv2 carries IPv4 only")
    if first & 0x0F != 1:
        raise PacketError("type", f"type {first & 0x0F} != 1 (ADVERTISEMENT)")
    alen = 4 if family == 4 else 16
    expected = _HEADER_LEN + count * alen + (AUTH_DATA_LEN if version == 2 else 0)
    if size != expected:
        raise PacketError("length", f"{size} bytes for {count} address(es), expected {expected}")
    form = _checksum_form(payload, version, family, src, dst)
    end = _HEADER_LEN + count * alen
    if version == 2:
        auth_type, adver_s = payload[4], payload[5]
        return Advertisement(2, vrid, priority, count, adver_s * 100, auth_type,
                             payload[end:], payload[_HEADER_LEN:end], form)
    adver_cs = ((payload[4] << 8) | payload[5]) & 0x0FFF
    return Advertisement(3, vrid, priority, count, adver_cs, 0, b"",
                         payload[_HEADER_LEN:end], form)


def _checksum_form(payload: bytes, version: int, family: int, src: bytes, dst: bytes) -> str:
    size = len(payload)
    if version == 2:
        if _sum16(payload) == 0xFFFF:
            return "plain"
    elif family == 6:
        if len(src) == 16 and len(dst) == 16 and _sum16(_pseudo6(src, dst, size) + payload) == 0xFFFF:
            return "pseudo"
    else:
        if len(src) == 4 and len(dst) == 4 and _sum16(_pseudo4(src, dst, size) + payload) == 0xFFFF:
            return "pseudo"
        if _sum16(payload) == 0xFFFF:
            return "plain"
        if len(src) == 4 and dst != MCAST4_PACKED and \
                _sum16(_pseudo4(src, MCAST4_PACKED, size) + payload) == 0xFFFF:
            return "pseudo_mcast"
    raise PacketError("checksum", f"bad checksum 0x{payload[6]:02x}{payload[7]:02x}")


def check_for_instance(adv: Advertisement, *, ttl: int, check_ttl: bool, version: int,
                       adver_int_cs: int, auth_type: int, auth_data: bytes) -> None:
    """The instance's checks (RFC 5798 §7.1, RFC 3768 §7.1, keepalived's order)."""
    if check_ttl and ttl != TTL_VRRP:
        raise PacketError("ttl", f"TTL/hop limit {ttl} != 255")
    if adv.version != version:
        raise PacketError("version_mismatch", f"VRRPv{adv.version}, configured v{version}")
    if version != 2:
        return
    if adv.auth_type != auth_type:
        raise PacketError("auth_type", f"auth type {adv.auth_type}, configured {auth_type}")
    if auth_type == AUTH_PASS and not hmac.compare_digest(adv.auth_data, auth_data):
        raise PacketError("auth", "authentication data mismatch")
    if adv.adver_int_cs != adver_int_cs:
        # RFC 3768 §7.1: MUST discard when Adver Interval differs from the local one
        raise PacketError("interval", f"advert interval {adv.adver_int_cs // 100} s, "
                                      f"configured {adver_int_cs // 100} s")


def pack_addresses(addresses: Sequence[str], family: int) -> bytes:
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    return b"".join(socket.inet_pton(af, a) for a in addresses)


class AdvertEncoder:
    """The advert bytes of one instance, cached per (priority, interval, destination)."""

    def __init__(self, *, version: int, vrid: int, family: int, addresses: bytes, count: int,
                 auth_type: int = 0, auth_data: bytes = b"", src: bytes = b"",
                 checksum_form: str = "pseudo"):
        if checksum_form not in ("pseudo", "plain"):
            raise ValueError(f"checksum_form {checksum_form!r}")
        self.version = version
        self.vrid = vrid
        self.family = family
        self.addresses = addresses
        self.count = count
        self.auth_type = auth_type
        self.auth_data = auth_data.ljust(AUTH_DATA_LEN, b"\0")[:AUTH_DATA_LEN]
        self.checksum_form = checksum_form
        self.src = src
        self._cache: Dict[Tuple[int, int, bytes], bytes] = {}

    def set_src(self, src: bytes) -> None:
        if src != self.src:
            self.src = src
            self._cache.clear()

    def packet(self, priority: int, adver_int_cs: int, dst: bytes) -> bytes:
        key = (priority, adver_int_cs, dst)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if len(self._cache) > 64:
            self._cache.clear()
        data = self._build(priority, adver_int_cs, dst)
        self._cache[key] = data
        return data

    def _build(self, priority: int, adver_int_cs: int, dst: bytes) -> bytes:
        if self.version == 2:
            head = _HEAD_V2.pack(0x21, self.vrid, priority, self.count, self.auth_type,
                                 adver_int_cs // 100, 0)
            body = head + self.addresses + self.auth_data
            pseudo = b""
        else:
            head = _HEAD_V3.pack(0x31, self.vrid, priority, self.count, adver_int_cs & 0x0FFF, 0)
            body = head + self.addresses
            if self.family == 6:
                pseudo = _pseudo6(self.src, dst, len(body))
            elif self.checksum_form == "pseudo":
                pseudo = _pseudo4(self.src, dst, len(body))
            else:
                pseudo = b""
        value = checksum(pseudo + body)
        return body[:6] + struct.pack("!H", value) + body[8:]
