"""The driver's side of the wire keywords (a part of driver.Driver, on the event loop).

Rules:
- `attach` (at bind and on reload): `configure_io`, and the FAULT of
  unicast_fault_no_peer; a bound instance without track_src_ip loses its
  src_ip FAULT (a reload that drops the keyword: no checker would clear it).
  `configure_io`: an instance's settings on the sockets it shares with the
  others on its interface: its multicast group (mcast_dst_ip), the TTL of
  its unicast adverts (unicast_ttl), the receive buffer (kernel_rx_buf_size)
  and, for auth_type AH, the IPPROTO_AH receive socket and its reader
  (receive.py's on_readable_ah).
- `check_source_addresses` (track_src_ip, once a second from the driver's
  retry loop) and `late` (max_auto_priority, from the timer callback).
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from vrrp_agent.adapters.scheduling import AutoPriority
from vrrp_agent.instance import Instance

log = logging.getLogger("vrrp_agent")


class WireDriver:
    """Socket settings, source tracking and late-timer handling of one Driver."""

    def __init__(self, driver: Any):
        self.driver = driver
        self.auto_priority: Optional[AutoPriority] = None
        """max_auto_priority policy (set at start when configured)."""

    def attach(self, inst: Instance) -> None:
        """At bind and on reload: the socket settings and the unicast_fault_no_peer fault."""
        cfg = inst.cfg
        io = self.driver.io.get((cfg.socket_interface, cfg.family))
        if io is not None:
            self.configure_io(io, inst)
        no_peer = cfg.unicast_fault_no_peer and not cfg.unicast  # keepalived: FAULT, not multicast
        transitions = self.driver.transitions
        transitions.set_fault(
            inst, "unicast", "unicast_fault_no_peer: no unicast peer" if no_peer else None)
        if not cfg.track_src_ip and "src_ip" in transitions.faults_of(inst) and (
                inst.ifindex is not None):  # bound: the source was there; no checker left
            transitions.set_fault(inst, "src_ip", None)

    def configure_io(self, io: Any, inst: Instance) -> None:
        cfg = inst.cfg
        if inst.ah is not None and getattr(io, "ah_rx", None) is None:
            self.driver.rt.loop.add_reader(io.open_ah().fileno(), self.driver.receiver.on_readable_ah, io)
        if inst.group is not None and inst.group != io.group:
            io.join(inst.group)
        for dst, _packed in (inst.destinations if inst.group is None else ()):
            io.set_ttl(dst, cfg.unicast_ttl)
        if cfg.kernel_rx_buf_size:
            io.set_rcvbuf(cfg.kernel_rx_buf_size)

    async def check_source_addresses(self) -> None:
        """track_src_ip: FAULT while the configured source address is not on the host."""
        driver = self.driver
        tracking = [i for i in driver.rt.instances if i.cfg.track_src_ip and i.ifindex is not None]
        if not tracking:
            return
        present = {a for _i, a, _p, _f in await driver.on_netlink(driver.netlink.addresses, None)}
        for inst in tracking:
            src = inst.cfg.unicast_src_ip or inst.cfg.mcast_src_ip
            driver.transitions.set_fault(
                inst, "src_ip", None if src in present else f"source address {src} is gone")

    def set_auto_priority(self, gdefs: Any) -> None:
        """At start and after a reload's apply_scheduling (threads at vrrp_rt_priority):
        the max_auto_priority policy, starting from there."""
        self.auto_priority = None if not gdefs.max_auto_priority else AutoPriority(
            gdefs.max_auto_priority, gdefs.min_auto_priority_delay_s, gdefs.rt_priority)

    def rt_priority_in_force(self, gdefs: Any) -> int:
        """The real-time priority the threads run at: stepped up by the policy, or configured."""
        return gdefs.rt_priority if self.auto_priority is None else self.auto_priority.current

    def late(self, late_s: float) -> None:
        """max_auto_priority: a timer fired `late_s` late; step the real-time priority up."""
        assert self.auto_priority is not None
        level = self.auto_priority.on_late(late_s)
        if level is not None:
            log.warning("a timer fired %.3f s late: real-time priority %d (max_auto_priority %d)",
                        late_s, level, self.auto_priority.maximum)
            rt = self.driver.rt
            rt.adapters.apply_scheduling(level, rt.config.globals.nice)
