"""What the parts of the daemon share, and the edge they reach the OS through.

Rules:
- `Runtime` is the loop-owned state every part reads: the loop (the only
  clock), the config, the instances, the event bus, the state dir. Only the
  event-loop thread changes it: `Operations.reload` swaps config and
  instances; nothing else reassigns them.
- `Adapters` is every OS entry point the daemon uses (netlink worker,
  GARP/NA sender, link events, VRRP sockets, interface look-ups,
  scheduling). The defaults are the real ones; unit tests pass fakes and
  drive the real daemon without root.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional

from vrrp_agent.adapters.announce import Announcer
from vrrp_agent.adapters.link import LinkWatcher, hw_address, link_is_up
from vrrp_agent.adapters.netlink import Netlink
from vrrp_agent.adapters.process_limits import apply_process_limits
from vrrp_agent.adapters.scheduling import apply_scheduling
from vrrp_agent.adapters.sockets import VrrpSockets
from vrrp_agent.adapters.vmac import VmacLinks
from vrrp_agent.config.model import Config
from vrrp_agent.events import EventBus
from vrrp_agent.instance import Instance


def _timer_fd() -> Any:
    from vrrp_agent.adapters.timerfd import TimerFd  # ctypes: only for a master under 0.1 s
    return TimerFd()


@dataclass
class Adapters:
    """Factories and functions for the OS edge (see adapters/)."""

    netlink: Callable[[], Any] = Netlink
    """() -> submit(fn, *args) -> Future, close(), primary_address, add_vip, del_vip, addresses;
    add_now, prepare_add: from the loop (a takeover, vips.py)."""
    announcer: Callable[[], Any] = Announcer
    """() -> an object with send(ifname, mac, vip, family, repeat), prepare(ifname, mac, vip,
    family) and close()."""
    link_watcher: Callable[[], Any] = LinkWatcher
    """() -> an object with fileno(), read() -> [(ifindex, up)], close()."""
    sockets: Callable[..., Any] = VrrpSockets
    """(ifname, ifindex, family, group, src) -> rx (fileno), receive(), send(bytes, dst), close()."""
    link_is_up: Callable[[str], bool] = link_is_up
    hw_address: Callable[[str], bytes] = hw_address
    ifindex: Callable[[str], int] = socket.if_nametoindex
    """Raises OSError when the interface is not there."""
    apply_scheduling: Callable[..., Any] = apply_scheduling
    vmac_links: Callable[[], Any] = VmacLinks
    """() -> apply(ipr, instances, ifindex) -> [log line], remove_all(ipr) (worker side)."""
    host_facts: Optional[Callable[[Any], Any]] = None
    """(netlink) -> (interfaces, addresses), run on the netlink worker; None: the real one."""
    systemd_notify: Optional[Callable[[str], None]] = None
    """None: adapters.systemd.notify."""
    apply_process_limits: Callable[..., Any] = apply_process_limits
    """(no_swap, cpus, rttime_us or None): vrrp_no_swap, vrrp_cpu_affinity, vrrp_rlimit_rttime."""
    set_umask: Callable[[int], int] = os.umask
    """umask: the process's file-creation mask (returns the previous one)."""
    wall_clock: Callable[[], float] = time.time
    """The clock of the kernel's receive timestamps (quiet.py turns them into loop time)."""
    uptime: Callable[[], float] = lambda: time.clock_gettime(time.CLOCK_BOOTTIME)
    """Seconds since the host booted (vrrp_delay_after_boot); /proc/uptime's clock."""
    timer_fd: Optional[Callable[[], Any]] = _timer_fd
    """() -> a timerfd on CLOCK_MONOTONIC (adapters/timerfd.py) for masters under 0.1 s;
    None: asyncio's timers only (the fakes: their loop runs virtual time)."""


@dataclass
class Runtime:
    """Loop-owned state shared by the parts of the daemon."""

    loop: asyncio.AbstractEventLoop
    config: Config
    bus: EventBus
    state_dir: Optional[str]
    adapters: Adapters
    instances: List[Instance] = field(default_factory=list)

    def by_name(self, name: str) -> Optional[Instance]:
        for inst in self.instances:
            if inst.cfg.name == name:
                return inst
        return None
