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
  An address with a lifetime is added with a hand-built RTM_NEWADDR
  (rtaddr.py) on both: 0.7.2's `addr()` drops lifetimes (`preferred_lft`).
- `addr_fields` decides what the kernel gets for a VIP, once, for every path.
- `add_now` is the one call made from the caller's thread (the event loop's
  takeover, vips.py): a VIP without a lease, one pre-built RTM_NEWADDR on a
  socket of its own, answered like `add_vip`.
- IPv6 VIPs are added with IFA_F_NODAD (unless `-nodad`, as keepalived): a
  failover address must work at once, not after duplicate address detection
  (which would also fail while the old master still holds it). An IPv6 /128
  VIP is deprecated (preferred_lft 0) unless `preferred_lft` says otherwise,
  as keepalived does: it is not picked as a source address.
- A routed VIP (`announce bgp`) is added with a valid/preferred lifetime (its
  lease); adding it again renews the lease (`replace`). The announce device
  is a dummy interface, created (and set up) if it is missing.
"""

from __future__ import annotations

import concurrent.futures
import errno
import functools
import socket
import threading
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from vrrp_agent.adapters.rtaddr import AddrFields, AddrSocket, describe, newaddr_body
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
        self._now_socket: Optional[AddrSocket] = None
        """add_now's socket (the event loop's), opened at its first add."""
        self._bodies: Dict[Tuple[int, VipSpec], bytes] = {}
        """add_now's pre-built requests, per (ifindex, VIP)."""
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
            sock = getattr(self._local, "addr_socket", None)
            if sock is not None:
                sock.close()
                self._local.addr_socket = None

        if self._now_socket is not None:
            self._now_socket.close()
            self._now_socket = None

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
        fields = addr_fields(vip, lease_s)
        if fields.preferred is not None or fields.valid is not None:
            return self._add_with_lifetime(ifindex, fields)
        kwargs: Dict[str, Any] = {"index": ifindex, "address": vip.address, "prefixlen": vip.prefixlen}
        for key in ("label", "broadcast"):
            if getattr(fields, key):
                kwargs[key] = getattr(fields, key)
        if fields.flags:
            kwargs["flags"] = fields.flags
        if vip.scope:
            kwargs["scope"] = fields.scope
        return self._nl("add", kwargs, _IDEMPOTENT_ADD)

    def _add_with_lifetime(self, ifindex: int, fields: AddrFields) -> bool:
        """An address with a preferred (and valid) lifetime, hand-built (rtaddr.py):
        pyroute2 0.7.2's addr() drops the lifetimes. A lease is renewed in place."""
        body = newaddr_body(ifindex, fields)
        sock = getattr(self._local, "addr_socket", None)
        if sock is None:
            sock = self._local.addr_socket = AddrSocket()
        what = f"{fields.address}/{fields.prefixlen}"
        added = self._request(sock, body, what)
        if not added and fields.valid is not None:  # a routed VIP's lease: renew it
            self._request(sock, body, what, replace=True)
        return added

    def add_now(self, ifindex: int, vip: VipSpec) -> bool:
        """add_vip without a lease, from the calling thread (the event loop's takeover):
        one pre-built RTM_NEWADDR on a socket of its own, not the worker's."""
        return self.add_request(ifindex, vip)()

    def add_request(self, ifindex: int, vip: VipSpec) -> Callable[[], bool]:
        """add_now for one VIP with everything looked up ahead (takeover.py's plan): the
        call only sends the request and reads its ACK."""
        body = self.prepare_add(ifindex, vip)
        assert self._now_socket is not None
        return functools.partial(self._request, self._now_socket, body, f"{vip.address}/{vip.prefixlen}")

    def prepare_add(self, ifindex: int, vip: VipSpec) -> bytes:
        """add_now's request built and its socket opened ahead (a backup, for its takeover)."""
        key = (ifindex, vip)
        body = self._bodies.get(key)
        if body is None:
            body = self._bodies[key] = newaddr_body(ifindex, addr_fields(vip))
        if self._now_socket is None:
            self._now_socket = AddrSocket()
        return body

    @staticmethod
    def _request(sock: AddrSocket, body: bytes, what: str, replace: bool = False) -> bool:
        command = "replace" if replace else "add"
        try:
            code = sock.newaddr(body, replace)
        except OSError as exc:
            raise SystemFailure(f"netlink addr {command} {what}: {exc}") from exc
        if code == 0:
            return True
        if code in _IDEMPOTENT_ADD and not replace:
            return False
        raise SystemFailure(f"netlink addr {command} {what}: {describe(code)}")

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


def addr_fields(vip: VipSpec, lease_s: int = 0) -> AddrFields:
    """What the kernel gets for `vip` (module rules: NODAD, deprecated /128, a lease)."""
    flags = IFA_F_NOPREFIXROUTE if vip.noprefixroute else 0
    preferred = vip.preferred_lft
    label = broadcast = None
    if vip.family == 6:
        if vip.nodad is not False:
            flags |= IFA_F_NODAD
        if preferred is None and vip.prefixlen == 128:
            preferred = 0
    else:
        label = vip.label or None
        if vip.brd == "+":
            broadcast = _ipv4_broadcast(vip.address, vip.prefixlen)
        elif vip.brd and vip.brd != "-":
            broadcast = vip.brd
    if preferred == LFT_FOREVER:
        preferred = None
    valid = None
    if lease_s > 0:
        preferred = valid = lease_s
    scope = SCOPES[vip.scope] if vip.scope else 0
    return AddrFields(vip.family, vip.address, vip.prefixlen, flags, scope, label, broadcast,
                      preferred, valid)


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
