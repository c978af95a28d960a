"""VIP add/remove and address look-ups through pyroute2, on one worker thread.

Rules:
- One thread owns one synchronous `IPRoute`. That works unchanged on
  pyroute2 0.7.2 (Debian 12, thread-based) and 0.9.x (asyncio core, whose sync
  wrapper refuses to run inside a running loop but is fine on another thread).
  The asyncio driver submits work with `submit()` and never blocks on it.
- Changes are idempotent: adding a present address (EEXIST) or deleting an
  absent one (EADDRNOTAVAIL, ENODEV) is success.
- Only `link_lookup`, `addr(add/del/dump)` and `get_attr()` are used: the
  calls that behave the same in both versions (0.7.2's msg.get("name") is broken).
- IPv6 VIPs are added with IFA_F_NODAD: a failover address must work at
  once, not after duplicate address detection (which would also fail while
  the old master still holds it).
- A routed VIP (`announce bgp`) is added with a valid/preferred lifetime (its
  lease); adding it again renews the lease (`replace`). 0.7.2 drops the
  lifetime keywords of addr(), so there the message is built by hand. The announce device
  is a dummy interface, created (and set up) if it is missing.
"""

from __future__ import annotations

import concurrent.futures
import errno
import socket
import threading
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from vrrp_agent.config.model import VipSpec
from vrrp_agent.errors import SystemFailure

IFA_F_NODAD = 0x02
IFA_F_SECONDARY = 0x01
SCOPES = {"global": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
_IDEMPOTENT_ADD = {errno.EEXIST}
_IDEMPOTENT_DEL = {errno.EADDRNOTAVAIL, errno.ENODEV, errno.ENOENT, errno.ESRCH}


class Netlink:
    """A single-thread executor that owns the IPRoute socket."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="netlink"
        )

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        return self._pool.submit(fn, *args)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run on the worker and wait (startup and CLI paths only, never in the loop)."""
        return self._pool.submit(fn, *args).result()

    def close(self) -> None:
        def _close() -> None:
            ipr = getattr(self._local, "ipr", None)
            if ipr is not None:
                ipr.close()
                self._local.ipr = None

        try:
            self._pool.submit(_close).result(timeout=5)
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        self._pool.shutdown(wait=True)

    # ------------------------------------------------ worker-thread functions
    def ipr(self) -> Any:
        ipr = getattr(self._local, "ipr", None)
        if ipr is None:
            from pyroute2 import IPRoute  # imported lazily: check-config never needs it

            ipr = IPRoute()
            self._local.ipr = ipr
        return ipr

    def add_vip(self, ifindex: int, vip: VipSpec, lease_s: int = 0) -> bool:
        """Add one VIP; True if it was added, False if it was already there.

        With `lease_s` the address expires after that many seconds unless
        added again, which renews it."""
        kwargs: Dict[str, Any] = {
            "index": ifindex,
            "address": vip.address,
            "prefixlen": vip.prefixlen,
        }
        if vip.family == 6:
            kwargs["flags"] = IFA_F_NODAD
        else:
            if vip.label:
                kwargs["label"] = vip.label
            if vip.brd and vip.brd not in ("+", "-"):
                kwargs["broadcast"] = vip.brd
            elif vip.brd == "+":
                kwargs["broadcast"] = _ipv4_broadcast(vip.address, vip.prefixlen)
        if vip.scope:
            kwargs["scope"] = SCOPES[vip.scope]
        if lease_s > 0:
            return self._add_leased(kwargs, lease_s)
        return self._nl("add", kwargs, _IDEMPOTENT_ADD)

    def _add_leased(self, kwargs: Dict[str, Any], lease_s: int) -> bool:
        """Add with a valid/preferred lifetime; renew it when the address is there.

        pyroute2 0.9.x (asyncio core) takes valid_lft/preferred_lft in addr();
        0.7.2 accepts and drops them, so there the request is built by hand
        (ifaddrmsg + IFA_CACHEINFO through nlm_request, which 0.9.x's sync API lacks)."""
        import pyroute2

        if hasattr(pyroute2, "AsyncIPRoute"):
            leased = dict(kwargs, valid_lft=lease_s, preferred_lft=lease_s)
            if self._nl("add", leased, _IDEMPOTENT_ADD):
                return True
            self._nl("replace", leased, set())
            return False
        if self._nl_leased(kwargs, lease_s, replace=False):
            return True
        self._nl_leased(kwargs, lease_s, replace=True)
        return False

    def _nl_leased(self, kwargs: Dict[str, Any], lease_s: int, replace: bool) -> bool:
        """pyroute2 0.7.2: RTM_NEWADDR with IFA_CACHEINFO; False if it exists (not replace)."""
        from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST
        from pyroute2.netlink.exceptions import NetlinkError
        from pyroute2.netlink.rtnl import RTM_NEWADDR
        from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg

        address = kwargs["address"]
        msg = ifaddrmsg()
        msg["family"] = socket.AF_INET6 if ":" in address else socket.AF_INET
        msg["prefixlen"] = kwargs["prefixlen"]
        msg["index"] = kwargs["index"]
        msg["flags"] = kwargs.get("flags", 0)
        msg["scope"] = kwargs.get("scope", 0)
        attrs = [["IFA_ADDRESS", address]]
        if msg["family"] == socket.AF_INET:
            attrs.append(["IFA_LOCAL", address])
        attrs.append(["IFA_CACHEINFO", {"ifa_preferred": lease_s, "ifa_valid": lease_s,
                                        "cstamp": 0, "tstamp": 0}])
        msg["attrs"] = attrs
        flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (NLM_F_REPLACE if replace else NLM_F_EXCL)
        try:
            self.ipr().nlm_request(msg, msg_type=RTM_NEWADDR, msg_flags=flags)
        except NetlinkError as exc:
            if exc.code in _IDEMPOTENT_ADD and not replace:
                return False
            raise SystemFailure(f"netlink addr add {address}/{kwargs['prefixlen']} (lease {lease_s} s): "
                                f"{exc.code} {errno.errorcode.get(exc.code, '')}") from exc
        return True

    def ensure_dummy(self, name: str) -> int:
        """The ifindex of the dummy interface `name`, created and set up if missing."""
        from pyroute2.netlink.exceptions import NetlinkError

        ipr = self.ipr()
        found = ipr.link_lookup(ifname=name)
        try:
            if not found:
                ipr.link("add", ifname=name, kind="dummy")
                found = ipr.link_lookup(ifname=name)
            ipr.link("set", index=found[0], state="up")
        except (NetlinkError, IndexError) as exc:
            raise SystemFailure(f"cannot create the announce device {name} (dummy): {exc}") from exc
        return int(found[0])

    def del_vip(self, ifindex: int, vip: VipSpec) -> bool:
        """Remove one VIP; True if it was removed, False if it was not there."""
        kwargs = {"index": ifindex, "address": vip.address, "prefixlen": vip.prefixlen}
        return self._nl("del", kwargs, _IDEMPOTENT_DEL)

    def _nl(self, command: str, kwargs: Dict[str, Any], idempotent: Set[int]) -> bool:
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            self.ipr().addr(command, **kwargs)
        except NetlinkError as exc:
            if exc.code in idempotent:
                return False
            raise SystemFailure(
                f"netlink addr {command} {kwargs['address']}/{kwargs['prefixlen']}: "
                f"{exc.code} {errno.errorcode.get(exc.code, '')}"
            ) from exc
        return True

    def addresses(self, ifindex: Optional[int] = None) -> List[Tuple[int, str, int, int]]:
        """(ifindex, address, prefixlen, flags) of every address, or of one interface."""
        kwargs = {} if ifindex is None else {"index": ifindex}
        out = []
        for msg in self.ipr().addr("dump", **kwargs):
            addr = msg.get_attr("IFA_ADDRESS")
            if addr is None:
                continue
            flags = msg.get_attr("IFA_FLAGS")
            if flags is None:
                flags = msg["flags"]
            out.append((msg["index"], addr, msg["prefixlen"], flags))
        return out

    def primary_address(self, ifindex: int, family: int) -> Optional[str]:
        """The address adverts are sent from: IPv4 primary, or IPv6 link-local."""
        for _index, addr, _plen, flags in self.addresses(ifindex):
            if family == 4 and ":" not in addr and not flags & IFA_F_SECONDARY:
                return str(addr)
            if family == 6 and addr.lower().startswith("fe80:"):
                return str(addr)
        return None


def host_facts(netlink: Netlink) -> Tuple[Set[str], Set[str]]:
    """(interface names, every address on the host) for config.host checks (not on the worker)."""
    result: Tuple[Set[str], Set[str]] = netlink.call(host_facts_on_worker, netlink)
    return result


def host_facts_on_worker(netlink: Netlink) -> Tuple[Set[str], Set[str]]:
    """host_facts, run on the netlink worker thread itself (the daemon's reload)."""
    names = {name for _index, name in socket.if_nameindex()}
    addrs = {_normalise(entry[1]) for entry in netlink.addresses()}
    return names, addrs


def _normalise(addr: str) -> str:
    import ipaddress

    return str(ipaddress.ip_address(addr.split("%")[0]))


def _ipv4_broadcast(address: str, prefixlen: int) -> str:
    import ipaddress

    return str(ipaddress.ip_network(f"{address}/{prefixlen}", strict=False).broadcast_address)
