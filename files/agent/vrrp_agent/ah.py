"""VRRPv2 `auth_type AH`: the IPsec Authentication Header as keepalived 2.2.7 sends it.

Rules (RFC 2338 §5.3.6.3 / RFC 2402 as keepalived's vrrp_ipsecah.c and vrrp.c
apply them; checked byte for byte against keepalived's adverts):
1. Pure: no sockets, no clock. The advert is a whole IPv4 datagram (the
   caller sends it with IP_HDRINCL): IP header (TOS 0xC0, an ID counting up
   from 1 and never 0, protocol 51), the AH header, then the VRRPv2 message
   (auth type 2, eight zero auth bytes).
2. SPI = the sender's IPv4 address; the sequence number counts up per advert.
   ICV = HMAC-MD5 keyed with auth_pass (zero-padded to 8 bytes), truncated to
   96 bits, over the IP header with its mutable fields zeroed (TOS, flags and
   fragment offset, header checksum, and the TTL for unicast), the AH header
   with a zero ICV, and the VRRP message.
3. Receive: the ICV must match, the SPI must be the source address, and the
   sequence number must be above the last one accepted (anti-replay). One
   counter serves sending and receiving, as in keepalived: a master that
   hears a lower priority moves its counter past the sender's (`sync_lower`).
Every refusal raises PacketError (reasons "ip_header", "auth").
"""

from __future__ import annotations

import hmac
import struct
from typing import Tuple

from vrrp_agent.constants import AUTH_DATA_LEN, IPPROTO_VRRP, TOS_VRRP
from vrrp_agent.errors import PacketError
from vrrp_agent.packet import AdvertEncoder

IPPROTO_AH = 51
ICV_LEN = 12
AH_PAYLOAD_LEN = 4  # RFC 2402 §2.2: AH length in 32-bit words minus 2, for a 96-bit ICV

# RFC 791 §3.1 header, no options: ver|ihl, tos, total length, id, flags|frag, ttl, protocol,
# header checksum (0: the kernel fills it in with IP_HDRINCL), src, dst
_IPV4 = struct.Struct("!BBHHHBBH4s4s")

# RFC 2402 §2, the AH header keepalived puts between the IP header and VRRPv2:
#    |  Next Header  |  Payload Len  |          RESERVED             |
#    |                 Security Parameters Index (SPI)               |
#    |                    Sequence Number Field                      |
#    |        Authentication Data (ICV): 96 bits, HMAC-MD5-96        |
# B next header (112), B payload len (4), H reserved, 4s SPI (= source address), I seq, 12s ICV
_AH = struct.Struct("!BBH4sI12s")
AH_LEN = _AH.size  # 24
_ZERO_ICV = b"\0" * ICV_LEN


def split(datagram: bytes) -> Tuple[bytes, bytes, int, bytes, bytes, bytes]:
    """A raw IPv4 datagram with AH -> (src, dst, ttl, VRRP message, IP header, AH header)."""
    size = len(datagram)
    if size < _IPV4.size:
        raise PacketError("ip_header", f"{size} bytes < 20")
    ver_ihl, _tos, total, _id, _frag, ttl, proto, _ck, src, dst = _IPV4.unpack_from(datagram)
    ihl = (ver_ihl & 0x0F) << 2
    if ver_ihl >> 4 != 4 or ihl < 20 or proto != IPPROTO_AH:
        raise PacketError("ip_header", f"not IPv4 + AH (byte0 0x{ver_ihl:02x}, protocol {proto})")
    if total > size or total < ihl + AH_LEN:
        raise PacketError("ip_header", f"total length {total}, IHL {ihl}, {size} bytes received")
    next_header = datagram[ihl]
    if next_header != IPPROTO_VRRP:
        raise PacketError("ip_header", f"AH for protocol {next_header}, not VRRP")
    return (src, dst, ttl, datagram[ihl + AH_LEN:total], datagram[:ihl],
            datagram[ihl:ihl + AH_LEN])


class AhSession:
    """The key, the sequence counter and the IP ID of one AH instance."""

    def __init__(self, key: bytes, unicast: bool):
        self.key = key.ljust(AUTH_DATA_LEN, b"\0")[:AUTH_DATA_LEN]
        self.unicast = unicast
        self.seq = 0
        """The last sequence number sent or accepted."""
        self.ip_id = 0

    def _icv(self, ip_header: bytes, ah_header: bytes, message: bytes) -> bytes:
        ip = bytearray(ip_header)
        ip[1] = 0                 # TOS
        ip[6:8] = b"\0\0"         # flags, fragment offset
        ip[10:12] = b"\0\0"       # header checksum
        if self.unicast:
            ip[8] = 0             # TTL (keepalived zeroes it for unicast only)
        ah = ah_header[:12] + _ZERO_ICV
        return hmac.new(self.key, bytes(ip) + ah + message, "md5").digest()[:ICV_LEN]

    def wrap(self, message: bytes, src: bytes, dst: bytes, ttl: int) -> bytes:
        """The whole datagram for one advert (the next sequence number and IP ID)."""
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        self.ip_id = (self.ip_id + 1) & 0xFFFF or 1
        total = _IPV4.size + AH_LEN + len(message)
        ip = _IPV4.pack(0x45, TOS_VRRP, total, self.ip_id, 0, ttl, IPPROTO_AH, 0, src, dst)
        ah = _AH.pack(IPPROTO_VRRP, AH_PAYLOAD_LEN, 0, src, self.seq, _ZERO_ICV)
        return ip + ah[:12] + self._icv(ip, ah, message) + message

    def verify(self, ip_header: bytes, ah_header: bytes, message: bytes) -> int:
        """RFC 2402 §3.4: ICV, then SPI, then anti-replay; the accepted sequence number."""
        icv = ah_header[12:24]
        if not hmac.compare_digest(icv, self._icv(ip_header, ah_header, message)):
            raise PacketError("auth", "AH ICV mismatch (bad auth_pass or altered packet)")
        _nh, _len, _rsvd, spi, seq, _icv = _AH.unpack(ah_header)
        if spi != ip_header[12:16]:
            raise PacketError("auth", f"AH SPI {spi.hex()} is not the source address")
        if seq <= self.seq:
            raise PacketError("auth", f"AH sequence {seq} replayed (last {self.seq})")
        self.seq = seq
        return seq

    def sync_lower(self, seq: int) -> None:
        """A master heard a lower priority: count on past its sequence (keepalived)."""
        self.seq = max(self.seq, (seq + 1) & 0xFFFFFFFF)


class AhAdvertEncoder(AdvertEncoder):
    """AdvertEncoder whose packets are whole IPv4 + AH datagrams (not cached: each is new)."""

    REUSES_PACKETS = False

    def __init__(self, session: AhSession, ttl: int, **kw: object):
        super().__init__(**kw)  # type: ignore[arg-type]
        self.session = session
        self.ttl = ttl

    def packet(self, priority: int, adver_int_cs: int, dst: bytes) -> bytes:
        message = super().packet(priority, adver_int_cs, dst)
        return self.session.wrap(message, self.src, dst, self.ttl)
