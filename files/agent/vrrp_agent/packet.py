"""VRRP advertisement codec: RFC 3768 (v2), RFC 5798 and RFC 9568 (v3).

Rules:
1. Pure: no sockets, no clock, no logging, stdlib only. Addresses travel as
   packed bytes (4 or 16); text addresses appear only in pack_addresses().
2. decode() does the codec checks only, check_for_instance() the checks that
   need the instance config. Each check is a guard raising
   PacketError(reason, detail); the detail carries the offending values and
   the reason is a discard counter key listed in DISCARD_REASONS. Nothing
   but PacketError escapes either function, whatever the input bytes.
3. Checksums (RFC 1071 one's complement):
   - v2: the whole VRRP message including the 8 auth bytes, no
     pseudo-header (RFC 3768 §5.3.8).
   - v3/IPv6: the IPv6 pseudo-header of RFC 8200 §8.1, next header 112
     (RFC 5798 §5.2.8).
   - v3/IPv4: sent with the IPv4 pseudo-header by default (the keepalived
     and FRR default, "pseudo") or without it ("plain": RFC 9568 §5.2.8,
     keepalived `v3_checksum_as_v2`). On receive both are accepted, plus the
     form of keepalived < 1.3.6 whose unicast pseudo-header used 224.0.0.18
     ("pseudo_mcast"). Advertisement.checksum_form tells which one matched.
4. decode() is the per-advert hot path: precompiled structs, one bytes->int
   conversion, and the checksum verified as "sum of 16-bit words is
   0 mod 0xFFFF" (2**16 == 1 mod 0xFFFF), so the pseudo-header is added
   as integers and never built.
5. AdvertEncoder caches the packet per (priority, interval, destination): the
   send path allocates nothing while nothing changes. `sends()` keeps the last
   (packet, destination, source) list whole, for a master's periodic advert
   (issue 14); a subclass whose packets change every time (AH) sets
   `REUSES_PACKETS = False` and builds each one. A new master `prepare`s its
   priority-0 advert, a new backup its first advert as master: a graceful
   stop and a takeover send them without packing them first.
"""

from __future__ import annotations

import hmac
import socket
import struct
from typing import Dict, Mapping, NamedTuple, Optional, Sequence, Tuple

from vrrp_agent.constants import (
    AUTH_DATA_LEN,
    AUTH_PASS,
    IPPROTO_VRRP,
    MCAST_GROUP4,
    TTL_VRRP,
    VRRP_TYPE_ADVERTISEMENT,
)
from vrrp_agent.errors import PacketError

DISCARD_REASONS: Tuple[str, ...] = (
    "ip_header", "too_short", "version", "type", "length", "checksum",
    "ttl", "version_mismatch", "auth_type", "auth", "interval", "address_family",
    "destination", "unicast_src",
)

# RFC 5798 §5.1 (VRRPv3), the fixed 8 bytes before the addresses:
#     0                   1                   2                   3
#     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#    |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#    |(rsvd) |     Max Adver Int     |          Checksum             |
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#    |           IPvX Address(es): count x 4 (IPv4) or x 16 (IPv6)   |
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# B ver|type, B vrid, B priority, B count, H rsvd(4 bits)|max adver int(12 bits, cs), H checksum
_HEAD_V3 = struct.Struct("!BBBBHH")

# RFC 3768 §5.1 (VRRPv2), IPv4 only:
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#    |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#    |   Auth Type   |   Adver Int   |          Checksum             |
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#    |                IP Address(es): count x 4                      |
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#    |                     Authentication Data (1)                   |
#    |                     Authentication Data (2)                   |
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# B ver|type, B vrid, B priority, B count, B auth type, B adver int (seconds), H checksum
_HEAD_V2 = struct.Struct("!BBBBBBH")

# RFC 791 §3.1, the IPv4 header a raw socket hands back (options follow when IHL > 5):
#    |Version|  IHL  |Type of Service|          Total Length         |
#    |         Identification        |Flags|      Fragment Offset    |
#    |  Time to Live |    Protocol   |         Header Checksum       |
#    |                       Source Address                          |
#    |                    Destination Address                        |
# B ver|ihl, B tos, H total length, H id, H flags|frag, B ttl, B protocol, H checksum, 4s src, 4s dst
_IPV4 = struct.Struct("!BBHHHBBH4s4s")

# RFC 5798 §5.2.8 as keepalived/FRR apply it to IPv4 (RFC 768-style pseudo-header):
#    |                       Source Address                          |
#    |                    Destination Address                        |
#    |     zero      |  Protocol 112 |      VRRP message length      |
_PSEUDO4 = struct.Struct("!4s4sxBH")

# RFC 8200 §8.1 IPv6 pseudo-header (RFC 5798 §5.2.8):
#    |              Source Address (16)  /  Destination Address (16) |
#    |                   Upper-Layer Packet Length (32)              |
#    |                      zero (24)                |Next Header 112|
_PSEUDO6 = struct.Struct("!16s16sI3xB")

# The 16-bit checksum field spliced in at offset 6 of the VRRP header.
_CKSUM = struct.Struct("!H")

HEADER_LEN = 8
MCAST4_PACKED = socket.inet_aton(MCAST_GROUP4)
_MCAST4_INT = int.from_bytes(MCAST4_PACKED, "big")
_ALEN = {4: 4, 6: 16}
_V2_BYTE0 = (2 << 4) | VRRP_TYPE_ADVERTISEMENT
_V3_BYTE0 = (3 << 4) | VRRP_TYPE_ADVERTISEMENT


class Advertisement(NamedTuple):
    """A decoded advert (cheap to build: one per received packet)."""

    version: int            # 2 or 3
    vrid: int
    priority: int
    # The field name is the API; it shadows tuple.count() on purpose.
    count: int  # type: ignore[assignment]  # number of addresses
    adver_int_cs: int       # v3: the 12-bit field (centiseconds); v2: seconds * 100
    auth_type: int          # v2 auth type byte; 0 for v3
    auth_data: bytes        # v2: the 8 auth bytes; b"" for v3
    addresses: bytes        # the packed address block, count*4 or count*16 bytes
    checksum_form: str      # "plain", "pseudo" or "pseudo_mcast" (module rule 3)


def _complement(total: int) -> int:
    """The checksum of data whose big-endian integer value is `total`.

    The RFC 1071 end-around-carry sum S of the 16-bit words is congruent to
    `total` mod 0xFFFF, lies in 1..0xFFFF, and is 0 only for all-zero data.
    """
    if total == 0:
        return 0xFFFF
    rest = total % 0xFFFF
    return 0xFFFF - rest if rest else 0


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum of `data` (odd length: zero pad byte appended)."""
    total = int.from_bytes(data, "big")
    return _complement(total << 8 if len(data) & 1 else total)


def split_ipv4(datagram: bytes) -> Tuple[bytes, bytes, int, bytes]:
    """A raw IPv4 datagram -> (src4, dst4, ttl, VRRP payload); link padding dropped."""
    size = len(datagram)
    if size < _IPV4.size:
        raise PacketError("ip_header", f"{size} bytes < 20")
    ver_ihl, _tos, total, _id, _frag, ttl, proto, _ck, src, dst = _IPV4.unpack_from(datagram)
    ihl = (ver_ihl & 0x0F) << 2
    if ver_ihl >> 4 != 4:
        raise PacketError("ip_header", f"IP version {ver_ihl >> 4}")
    if ihl < 20 or ihl > size:
        raise PacketError("ip_header", f"IHL {ihl} bytes, {size} bytes received")
    if proto != IPPROTO_VRRP:
        raise PacketError("ip_header", f"protocol {proto} != {IPPROTO_VRRP}")
    if total > size or total < ihl:
        raise PacketError("ip_header", f"total length {total}, IHL {ihl}, {size} bytes received")
    return src, dst, ttl, datagram[ihl:total]


def decode(payload: bytes, family: int, src: bytes, dst: bytes) -> Advertisement:
    """Codec checks of RFC 5798 §7.1 / RFC 3768 §7.1, then the decoded advert.

    `src`/`dst` are the packed addresses of the received IP packet.
    """
    size = len(payload)
    if size < HEADER_LEN:
        raise PacketError("too_short", f"{size} bytes < {HEADER_LEN}")
    first, vrid, priority, count, word, received = _HEAD_V3.unpack_from(payload)
    version = first >> 4
    if version != 3 and version != 2:
        raise PacketError("version", f"version {version}")
    alen = _ALEN.get(family)
    if alen is None or (version == 2 and alen != 4):
        raise PacketError("address_family", f"VRRPv{version} over address family {family}")
    if first & 0x0F != VRRP_TYPE_ADVERTISEMENT:
        raise PacketError("type", f"type {first & 0x0F} != {VRRP_TYPE_ADVERTISEMENT}")
    end = HEADER_LEN + count * alen
    expected = end + AUTH_DATA_LEN if version == 2 else end
    if size != expected:
        raise PacketError("length", f"{size} bytes for {count} address(es), expected {expected}")
    total = int.from_bytes(payload, "big")  # even length here: whole 16-bit words
    if version == 2:
        if total % 0xFFFF:  # RFC 3768 §5.3.8
            raise PacketError("checksum", f"v2 checksum 0x{received:04x} invalid")
        return Advertisement(2, vrid, priority, count, (word & 0xFF) * 100, word >> 8,
                             payload[end:], payload[HEADER_LEN:end], "plain")
    # RFC 5798 §5.2.8: either pseudo-header adds up to src + dst + 112 + length
    form = ""
    if len(src) == alen:
        base = total + int.from_bytes(src, "big") + IPPROTO_VRRP + size
        if len(dst) == alen and (base + int.from_bytes(dst, "big")) % 0xFFFF == 0:
            form = "pseudo"
        elif alen == 4 and total % 0xFFFF == 0:  # RFC 9568 §5.2.8
            form = "plain"
        elif alen == 4 and dst != MCAST4_PACKED and (base + _MCAST4_INT) % 0xFFFF == 0:
            form = "pseudo_mcast"  # keepalived < 1.3.6, unicast
    elif alen == 4 and total % 0xFFFF == 0:
        form = "plain"
    if not form:
        raise PacketError("checksum", f"v3/IPv{family} checksum 0x{received:04x} invalid "
                                      f"(src {src.hex()}, dst {dst.hex()})")
    return Advertisement(3, vrid, priority, count, word & 0x0FFF, 0, b"",
                         payload[HEADER_LEN:end], form)


def check_for_instance(adv: Advertisement, *, ttl: int, check_ttl: bool, version: int,
                       adver_int_cs: int, auth_type: int, auth_data: bytes,
                       src: bytes = b"", dst: bytes = b"", group: Optional[bytes] = None,
                       peer_ttl: Optional[Mapping[bytes, Tuple[int, int]]] = None) -> None:
    """The instance's checks, in keepalived's order (RFC 5798 §7.1, RFC 3768 §7.1).

    `dst` (b"" = unknown) must be `group` for a multicast instance and a unicast
    address when `group` is None. `peer_ttl` (unicast source check on): the
    source must be a key, and a known TTL (-1 = unknown) within its (min, max).
    """
    if check_ttl and ttl != TTL_VRRP:
        raise PacketError("ttl", f"TTL/hop limit {ttl} != {TTL_VRRP}")
    if adv.version != version:
        raise PacketError("version_mismatch", f"VRRPv{adv.version}, configured v{version}")
    if version == 2:  # v3: no auth; a different interval is learned (RFC 5798 §6.4.2)
        _check_v2(adv, adver_int_cs, auth_type, auth_data)
    if dst and (dst != group if group is not None else _is_multicast(dst)):
        raise PacketError("destination", f"sent to {dst.hex()}, expected "
                                         f"{group.hex() if group else 'a unicast address'}")
    if peer_ttl is not None:
        bounds = peer_ttl.get(src)
        if bounds is None:
            raise PacketError("unicast_src", f"source {src.hex()} is not a unicast peer")
        if ttl >= 0 and not bounds[0] <= ttl <= bounds[1]:
            raise PacketError("ttl", f"TTL/hop limit {ttl} not in {bounds[0]}..{bounds[1]}")


def _check_v2(adv: Advertisement, adver_int_cs: int, auth_type: int, auth_data: bytes) -> None:
    if adv.auth_type != auth_type:
        raise PacketError("auth_type", f"auth type {adv.auth_type}, configured {auth_type}")
    if auth_type == AUTH_PASS and not hmac.compare_digest(adv.auth_data, auth_data):
        raise PacketError("auth", "authentication data mismatch")
    if adv.adver_int_cs != adver_int_cs:  # RFC 3768 §7.1: MUST discard
        raise PacketError("interval", f"adver int {adv.adver_int_cs // 100} s, "
                                      f"configured {adver_int_cs // 100} s")


def _is_multicast(addr: bytes) -> bool:
    """224.0.0.0/4 or ff00::/8."""
    return (addr[0] & 0xF0) == 0xE0 if len(addr) == 4 else addr[0] == 0xFF


def pack_addresses(addresses: Sequence[str], family: int) -> bytes:
    """Text addresses -> the packed address block of an advert."""
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    return b"".join(socket.inet_pton(af, a) for a in addresses)


class AdvertEncoder:
    """Builds the advert bytes for one instance, cached per (priority, interval, dst)."""

    _CACHE_MAX = 32
    REUSES_PACKETS = True
    """False when every packet is new (AH: its sequence number): sends() then caches nothing."""

    def __init__(self, *, version: int, vrid: int, family: int, addresses: bytes, count: int,
                 auth_type: int = 0, auth_data: bytes = b"", src: bytes = b"",
                 checksum_form: str = "pseudo"):
        alen = _ALEN.get(family)
        if version not in (2, 3) or alen is None or (version == 2 and family != 4):
            raise ValueError(f"VRRPv{version} over address family {family}")
        if len(addresses) != count * alen or not 0 <= count <= 255:
            raise ValueError(f"{len(addresses)} address bytes for count {count}")
        if checksum_form not in ("pseudo", "plain", "pseudo_mcast"):
            raise ValueError(f"checksum_form {checksum_form!r}")
        if len(auth_data) > AUTH_DATA_LEN:
            raise ValueError(f"auth data longer than {AUTH_DATA_LEN} bytes")
        self.version = version
        self.vrid = vrid
        self.family = family
        self.alen = alen
        self.addresses = addresses
        self.count = count
        self.auth_type = auth_type
        self.auth_data = auth_data.ljust(AUTH_DATA_LEN, b"\0")
        # v2 is always plain, v3/IPv6 always pseudo; the choice is v3/IPv4's only
        self.checksum_form = checksum_form if (version, family) == (3, 4) else (
            "plain" if version == 2 else "pseudo")
        self._src = src
        self._cache: Dict[Tuple[int, int, bytes], bytes] = {}
        self._sends: Tuple[int, int, object, Tuple[Tuple[bytes, str, bytes], ...]] = (-1, -1, None, ())
        """(priority, interval, destinations, what sends() returned for them)."""

    @property
    def src(self) -> bytes:
        """The packed source address used in the pseudo-header."""
        return self._src

    @src.setter
    def src(self, src: bytes) -> None:
        if src != self._src:
            self._src = src
            self._cache.clear()
            self._sends = (-1, -1, None, ())

    def set_src(self, src: bytes) -> None:
        self.src = src

    def set_checksum_form(self, form: str) -> None:
        """v3/IPv4: "pseudo", "plain" or "pseudo_mcast" (keepalived < 1.3.6 unicast form)."""
        if (self.version, self.family) == (3, 4) and form != self.checksum_form:
            self.checksum_form = form
            self._cache.clear()
            self._sends = (-1, -1, None, ())

    def packet(self, priority: int, adver_int_cs: int, dst: bytes) -> bytes:
        """The advert bytes; the same object while the inputs stay the same."""
        key = (priority, adver_int_cs, dst)
        data = self._cache.get(key)
        if data is None:
            if len(self._cache) >= self._CACHE_MAX:
                self._cache.clear()
            data = self._cache[key] = self._build(priority, adver_int_cs, dst)
        return data

    def prepare(self, priority: int, adver_int_cs: int,
                destinations: Tuple[Tuple[str, bytes], ...]) -> None:
        """Build (and keep) the packets of an advert sent later (a new master's
        priority-0 advert, a new backup's first advert as master): then only sent."""
        if self.REUSES_PACKETS:
            for _dst, packed in destinations:
                self.packet(priority, adver_int_cs, packed)

    def sends(self, priority: int, adver_int_cs: int,
              destinations: Tuple[Tuple[str, bytes], ...]) -> Tuple[Tuple[bytes, str, bytes], ...]:
        """(packet, destination text, source) per destination (text, packed) of one advert.

        The same tuple while priority, interval, source and the `destinations`
        object stay the same: a master's periodic advert looks up nothing else.
        """
        last = self._sends
        if last[0] == priority and last[1] == adver_int_cs and last[2] is destinations:
            return last[3]
        out = tuple((self.packet(priority, adver_int_cs, packed), dst, self._src)
                    for dst, packed in destinations)
        if self.REUSES_PACKETS:
            self._sends = (priority, adver_int_cs, destinations, out)
        return out

    def _build(self, priority: int, adver_int_cs: int, dst: bytes) -> bytes:
        if self.version == 2:
            seconds = adver_int_cs // 100
            if not 1 <= seconds <= 255:
                raise ValueError(f"v2 adver int {adver_int_cs} cs is not 1..255 s")
            head = _HEAD_V2.pack(_V2_BYTE0, self.vrid, priority, self.count, self.auth_type,
                                 seconds, 0)
            body = head + self.addresses + self.auth_data
            pseudo = b""
        else:
            if not 0 <= adver_int_cs <= 0x0FFF:
                raise ValueError(f"v3 adver int {adver_int_cs} cs is not 0..4095")
            head = _HEAD_V3.pack(_V3_BYTE0, self.vrid, priority, self.count, adver_int_cs, 0)
            body = head + self.addresses
            if self.checksum_form == "plain":
                pseudo = b""
            elif len(dst) != self.alen:
                raise ValueError(f"destination {dst.hex()} is not an IPv{self.family} address")
            elif self.family == 6:
                pseudo = _PSEUDO6.pack(self._src, dst, len(body), IPPROTO_VRRP)
            else:  # pseudo_mcast: 224.0.0.18 whatever the destination (module rule 3)
                group = MCAST4_PACKED if self.checksum_form == "pseudo_mcast" else dst
                pseudo = _PSEUDO4.pack(self._src, group, IPPROTO_VRRP, len(body))
        return body[:6] + _CKSUM.pack(checksum(pseudo + body)) + body[HEADER_LEN:]
