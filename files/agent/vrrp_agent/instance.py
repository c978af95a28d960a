"""One configured instance at run time: config + router + encoder + counters.

Rules:
- Everything here is per instance and free of I/O: the driver owns sockets,
  netlink and the clock, and hands this object what it received.
- `receive()` is the per-advert hot path: instance checks (TTL, version,
  auth, v2 interval), then the router. Every drop is counted by reason.
  An advert that passes is kept (`accepted`); `receive_same()` takes an
  advert with the same bytes straight to the router (fastpath.py's rules).
- The advert bytes come from the encoder's cache: nothing is packed again
  while priority, interval and destination stay the same.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any, Dict, List, Optional, Tuple

from vrrp_agent import ah, logdefer, packet
from vrrp_agent.config.model import GlobalDefs, InstanceConfig, VipSpec
from vrrp_agent.constants import AUTH_AH, AUTH_DATA_LEN, AUTH_NONE, AUTH_PASS, TTL_VRRP
from vrrp_agent.errors import PacketError
from vrrp_agent.fastpath import Accepted
from vrrp_agent.router import Action, Router, RouterParams


class InstanceLog(logging.LoggerAdapter):  # type: ignore[type-arg,unused-ignore]
    """Prefixes every line with the router identity: [VI_1 eth0 vrid 51 v4].

    INFO and DEBUG lines logged on the running loop build their record when
    they are written, after the callback (logdefer.later)."""

    def process(self, msg: Any, kwargs: Any) -> Any:
        return f"{self.extra['prefix']} {msg}", kwargs  # type: ignore[index]

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):  # first: a disabled DEBUG line costs nothing more
            return
        text, kwargs = self.process(msg, kwargs)
        if kwargs or not logdefer.later(self.logger, level, text, args):
            self.logger.log(level, text, *args, **kwargs)


def router_params(cfg: InstanceConfig) -> RouterParams:
    garp = cfg.garp
    lower_delay = garp.master_delay_s if garp.lower_prio_delay_s is None else garp.lower_prio_delay_s
    lower_repeat = garp.master_repeat if garp.lower_prio_repeat is None else garp.lower_prio_repeat
    return RouterParams(
        version=cfg.version,
        priority=cfg.priority,
        adver_int_cs=cfg.advert_int_cs,
        nopreempt=cfg.nopreempt,
        preempt_delay_s=cfg.preempt_delay_s,
        garp_master_delay_s=garp.master_delay_s,
        garp_master_repeat=garp.master_repeat,
        garp_master_refresh_s=garp.master_refresh_s,
        garp_master_refresh_repeat=garp.master_refresh_repeat,
        garp_lower_prio_delay_s=lower_delay,
        garp_lower_prio_repeat=lower_repeat,
        lower_prio_no_advert=cfg.lower_prio_no_advert,
        higher_prio_send_advert=cfg.higher_prio_send_advert,
        sync_member=cfg.sync_group is not None,
        down_timer_adverts=cfg.down_timer_adverts,
    )


class Instance:
    """The run-time side of one vrrp_instance."""

    def __init__(self, cfg: InstanceConfig, gdefs: GlobalDefs, logger: logging.Logger):
        prefix = f"[{cfg.name} {cfg.interface} vrid {cfg.vrid} v{cfg.family}]"
        # a child logger per instance, so that `debug` can raise one instance's level
        self.log = InstanceLog(logger.getChild(f"instance.{cfg.name}"), {"prefix": prefix})
        self.router = Router(router_params(cfg), self.log)
        self.discards: Dict[str, int] = dict.fromkeys(packet.DISCARD_REASONS, 0)
        self.counters = self.router.counters
        self.counters.update(send_errors=0, address_list_mismatch=0, vip_errors=0)
        self.ifindex: Optional[int] = None
        self.link_up = False
        self.timer: Optional[asyncio.TimerHandle] = None
        self.timer_at: Optional[float] = None
        self.verdict: Any = None
        """The last track.Verdict (daemon side)."""
        self.notifier: Any = None
        self.resources: Any = None
        self.removed = False
        """Set when a reload drops the instance: its stop is notified as FAULT / DELETED (keepalived)."""
        self._configure(cfg, gdefs)

    @property
    def override(self) -> Optional[str]:
        """None, "takeover" or "standby": the router owns it (one owner of priority)."""
        return self.router.override

    def reconfigure(self, cfg: InstanceConfig, gdefs: GlobalDefs, now: float) -> List[Action]:
        """Reload with the same identity: new settings; state, override and counters kept."""
        src = self.encoder.src
        self._configure(cfg, gdefs)
        actions = self.router.reconfigure(router_params(cfg), now)
        if src:
            self.encoder.set_src(src)
        return actions

    def _configure(self, cfg: InstanceConfig, gdefs: GlobalDefs) -> None:
        self.cfg = cfg
        self.accepted: Optional[Accepted] = None
        """The last advert that passed every check (fastpath.py); None after a reconfigure."""
        # keepalived's `debug LEVEL`: this instance's debug lines (discards, ...) are logged
        self.log.logger.setLevel(logging.DEBUG if cfg.debug > 0 else logging.NOTSET)
        self.af = socket.AF_INET if cfg.family == 4 else socket.AF_INET6
        vip_block = packet.pack_addresses([v.address for v in cfg.vips], cfg.family)
        self.vip_block = vip_block
        self.auth_type = {"PASS": AUTH_PASS, "AH": AUTH_AH}.get(cfg.auth_type or "", AUTH_NONE)
        self.auth_data = cfg.auth_pass if cfg.auth_pass else b"\0" * AUTH_DATA_LEN
        # auth_type AH: adverts are whole IPv4 + AH datagrams (ah.py); the counter is kept on reload
        old_ah = getattr(self, "ah", None)
        self.ah: Optional[ah.AhSession] = None
        encoder_class: Any = packet.AdvertEncoder
        extra: Dict[str, Any] = {}
        if self.auth_type == AUTH_AH:
            self.ah = ah.AhSession(self.auth_data, cfg.unicast)
            if old_ah is not None:
                self.ah.seq, self.ah.ip_id = old_ah.seq, old_ah.ip_id
            encoder_class = ah.AhAdvertEncoder
            extra = {"session": self.ah, "ttl": (cfg.unicast_ttl or TTL_VRRP) if cfg.unicast
                     else TTL_VRRP}
        self.encoder = encoder_class(
            **extra,
            version=cfg.version,
            vrid=cfg.vrid,
            family=cfg.family,
            addresses=vip_block,
            count=len(cfg.vips),
            auth_type=self.auth_type,
            auth_data=self.auth_data if self.auth_type == AUTH_PASS else b"",
            checksum_form="plain" if cfg.v3_checksum_as_v2 else "pseudo",
        )
        # old_unicast_checksum (keepalived < 1.3.6 peers, v3/IPv4 unicast only)
        self.old_checksum = cfg.old_unicast_checksum if (
            cfg.unicast and cfg.family == 4 and cfg.version == 3) else "never"
        if self.old_checksum == "config":
            self.encoder.set_checksum_form("pseudo_mcast")
        self.group = None if cfg.unicast else cfg.mcast_dst_ip or (
            gdefs.mcast_group4 if cfg.family == 4 else gdefs.mcast_group6)
        """The multicast group adverts go to and come from; None = unicast."""
        peers = cfg.unicast_peers if self.group is None else (self.group,)
        self.destinations: Tuple[Tuple[str, bytes], ...] = tuple(
            (p, socket.inet_pton(self.af, p)) for p in peers
        )
        self.group_packed = None if self.group is None else self.destinations[0][1]
        self.check_ttl = not cfg.unicast
        # unicast source check (check_unicast_src, min_ttl/max_ttl): peer -> TTL range
        self.peer_ttl: Optional[Dict[bytes, Tuple[int, int]]] = None
        if cfg.check_unicast_src:
            self.peer_ttl = {d[1]: b for d, b in zip(self.destinations, cfg.unicast_peer_ttl)}

    @property
    def all_vips(self) -> Tuple[VipSpec, ...]:
        return self.cfg.vips + self.cfg.excluded_vips

    def set_source(self, src_packed: bytes) -> None:
        self.router.primary_ip = src_packed
        self.encoder.set_src(src_packed)

    def receive(self, adv: packet.Advertisement, src: bytes, ttl: int, now: float,
                wire: bytes = b"", dst: bytes = b"",
                ah_parts: Optional[Tuple[bytes, bytes, bytes]] = None) -> List[Action]:
        """Instance checks, then the state machine. Drops are counted, never raised.

        WIRE (fastpath.wire_key) and DST, when given, identify the packet: an
        accepted one is kept for `receive_same`. `ah_parts`: (IP header, AH
        header, VRRP message) of an advert that came with AH (never cached).
        """
        cfg = self.cfg
        ah_seq = None
        try:
            if (ah_parts is None) != (self.ah is None):  # keepalived: AH presence first
                raise PacketError("auth_type", "AH header " + (
                    "without auth_type AH" if ah_parts else "missing (auth_type AH)"))
            if self.ah is not None and ah_parts is not None:
                ah_seq = self.ah.verify(*ah_parts)
            packet.check_for_instance(
                adv,
                ttl=ttl,
                check_ttl=self.check_ttl,
                version=cfg.version,
                adver_int_cs=cfg.advert_int_cs,
                auth_type=self.auth_type,
                auth_data=self.auth_data,
                src=src,
                dst=dst,
                group=self.group_packed,
                peer_ttl=self.peer_ttl,
            )
        except PacketError as exc:
            self.discards[exc.reason] += 1
            self.log.debug("discarded advert from %s: %s", _text(src), exc)
            return []
        if adv.checksum_form == "pseudo_mcast" and not self._old_checksum_ok():
            self.discards["checksum"] += 1
            return []
        differs = adv.addresses != self.vip_block
        if differs and not (cfg.skip_check_adv_addr and src == self.router.master_ip):
            # keepalived >= 2.3.3: a different VIP list is logged and counted, not fatal;
            # skip_check_adv_addr: not compared again for the master already known
            self.counters["address_list_mismatch"] += 1
        if wire and ah_parts is None:
            self.accepted = Accepted(wire, ttl, src, dst, adv, differs)  # skip: decided per advert
        actions = self.router.on_advert(adv, src, now)
        if ah_seq is not None and self.router.state == "MASTER" and (
                adv.priority < self.router.effective_priority):
            self.ah.sync_lower(ah_seq)  # type: ignore[union-attr]
        return actions

    def receive_same(self, now: float, count: int = 1) -> List[Action]:
        """The bytes of `accepted` again: every check would pass as it did (fastpath.py).

        COUNT > 1: that many in a row, the last at NOW, which the router takes
        as it took the others (quiet.py checks it would): only the last is
        given to it, the others are counted.
        """
        last = self.accepted
        assert last is not None
        if last.address_mismatch:
            skip = self.cfg.skip_check_adv_addr
            # the first as ever; it makes its sender the master, which skip_check_adv_addr spares
            self.counters["address_list_mismatch"] += (
                0 if skip and last.src == self.router.master_ip else 1) + (0 if skip else count - 1)
        if count > 1:
            self.counters["adverts_received"] += count - 1
        return self.router.on_advert(last.adv, last.src, now)

    def _old_checksum_ok(self) -> bool:
        """An advert in the pre-1.3.6 unicast checksum form: "never" refuses it; "auto"
        answers in that form from now on, as keepalived does."""
        if self.old_checksum == "never":
            return False
        if self.encoder.checksum_form != "pseudo_mcast":
            self.log.info("a peer uses the old unicast VRRPv3 checksum: sending it too")
            self.encoder.set_checksum_form("pseudo_mcast")
        return True


def _text(packed: bytes) -> str:
    try:
        return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)
    except ValueError:
        return packed.hex()
