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
  One exception: 0.7.2's `addr()` drops address lifetimes (`preferred_lft`),
  so that one request is built by hand there (`_add_with_lifetime`).
- IPv6 VIPs are added with IFA_F_NODAD (unless `-nodad`, as keepalived): a
  failover address must work at once, not after duplicate address detection
  (which would also fail while the old master still holds it). An IPv6 /128
  VIP is deprecated (preferred_lft 0) unless `preferred_lft` says otherwise,
  as keepalived does: it is not picked as a source address.
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
IFA_F_NOPREFIXROUTE = 0x200
LFT_FOREVER = 0xFFFFFFFF
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
        flags = IFA_F_NOPREFIXROUTE if vip.noprefixroute else 0
        preferred = vip.preferred_lft
        if vip.family == 6:
            if vip.nodad is not False:
                flags |= IFA_F_NODAD
            if preferred is None and vip.prefixlen == 128:
                preferred = 0
        else:
            if vip.label:
                kwargs["label"] = vip.label
            if vip.brd and vip.brd not in ("+", "-"):
                kwargs["broadcast"] = vip.brd
            elif vip.brd == "+":
                kwargs["broadcast"] = _ipv4_broadcast(vip.address, vip.prefixlen)
        if flags:
            kwargs["flags"] = flags
        if vip.scope:
            kwargs["scope"] = SCOPES[vip.scope]
        if lease_s > 0:  # a routed VIP's lease: added, or renewed in place
            if not self._add_with_lifetime(kwargs, vip.family, lease_s, lease_s):
                self._add_with_lifetime(kwargs, vip.family, lease_s, lease_s, replace=True)
                return False
            return True
        if preferred is not None and preferred != LFT_FOREVER:
            return self._add_with_lifetime(kwargs, vip.family, preferred)
        return self._nl("add", kwargs, _IDEMPOTENT_ADD)

    def _add_with_lifetime(self, kwargs: Dict[str, Any], family: int, preferred: int,
                           valid: int = LFT_FOREVER, replace: bool = False) -> bool:
        """An address with a preferred (and valid) lifetime, on pyroute2 0.7 and 0.9.

        `replace`: renew an existing one in place (a routed VIP's lease)."""
        command, idempotent = ("replace", set()) if replace else ("add", _IDEMPOTENT_ADD)
        import pyroute2

        # 0.8+ (the asyncio core, AsyncIPRoute) passes the lifetimes; 0.7.2 drops them. The
        # API, not __version__: Debian 12's python3-pyroute2 0.7.2 reports "unknown".
        if hasattr(pyroute2, "AsyncIPRoute"):
            kwargs = dict(kwargs, preferred_lft=preferred, valid_lft=valid)
            return self._nl(command, kwargs, idempotent)
        from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST
        from pyroute2.netlink.rtnl import RTM_NEWADDR
        from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg

        msg = ifaddrmsg()
        flags = kwargs.get("flags", 0)
        msg["family"] = socket.AF_INET if family == 4 else socket.AF_INET6
        msg["prefixlen"] = kwargs["prefixlen"]
        msg["flags"] = flags & 0xFF
        msg["scope"] = kwargs.get("scope", 0)
        msg["index"] = kwargs["index"]
        attrs: List[Any] = [["IFA_ADDRESS", kwargs["address"]], ["IFA_FLAGS", flags],
                            ["IFA_CACHEINFO", {"ifa_preferred": preferred, "ifa_valid": valid,
                                               "cstamp": 0, "tstamp": 0}]]
        if family == 4:
            attrs.append(["IFA_LOCAL", kwargs["address"]])
            for key, nla in (("label", "IFA_LABEL"), ("broadcast", "IFA_BROADCAST")):
                if key in kwargs:
                    attrs.append([nla, kwargs[key]])
        msg["attrs"] = attrs
        request = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE
        request |= NLM_F_REPLACE if replace else NLM_F_EXCL
        return self._nl(command, kwargs, idempotent, lambda: self.ipr().nlm_request(
            msg, msg_type=RTM_NEWADDR, msg_flags=request))

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

    def _nl(self, command: str, kwargs: Dict[str, Any], idempotent: Set[int],
            call: Optional[Callable[[], Any]] = None) -> bool:
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            if call is not None:
                call()
            else:
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


def host_networks_on_worker(netlink: Netlink) -> Set[str]:
    """"ADDRESS/PREFIX" of every address on the host (route gateway checks)."""
    return {f"{_normalise(addr)}/{plen}" for _index, addr, plen, _flags in netlink.addresses()}


def _normalise(addr: str) -> str:
    import ipaddress

    return str(ipaddress.ip_address(addr.split("%")[0]))


def _ipv4_broadcast(address: str, prefixlen: int) -> str:
    import ipaddress

    return str(ipaddress.ip_network(f"{address}/{prefixlen}", strict=False).broadcast_address)
