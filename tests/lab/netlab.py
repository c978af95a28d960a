"""Network-namespace test lab: N nodes + a client on a Linux bridge.

Reusable by the lab tests (``tests/lab``) and the bench scripts, so this module
imports nothing from pytest.

Layout for ``Lab(nodes=2, ifaces=("eth0", "eth1"))`` with run prefix ``P``::

    P-sw : bridges Pb0 (eth0 segment) and Pb1 (eth1 segment), IPv6 disabled
    P-n1 : eth0 198.51.100.11/24 2001:db8:100::11/64  eth1 203.0.113.11/24 2001:db8:113::11/64
    P-n2 : eth0 198.51.100.12/24 ...                   (switch-side ports Pn1e0, Pn2e1, ...)
    P-cl : eth0 198.51.100.200/24 2001:db8:100::200/64 (eth1 203.0.113.200 if asked)

Hard rules (docs: /work/shared/ARCHITECTURE.md, "Test lab rules"): only
198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32, inside namespaces that have
no route out; refuse to start if the host already uses one of those ranges;
always clean up (``__exit__``, plus an atexit/SIGTERM safety net), and never
touch namespaces that another run created (every name carries this run's prefix).
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import itertools
import json
import os
import random
import shlex
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Sequence, Union

__all__ = [
    "ALLOWED_NETWORKS",
    "Host",
    "Keepalived",
    "Lab",
    "LabError",
    "Netns",
    "Node",
    "Watcher",
    "check_lab_address",
    "keepalived_instance",
    "lab_unavailable_reason",
    "wait_until",
]

ALLOWED_NETWORKS = (
    ipaddress.ip_network("198.51.100.0/24"),
    ipaddress.ip_network("203.0.113.0/24"),
    ipaddress.ip_network("2001:db8::/32"),
)
# per interface name: (IPv4 /24 prefix, IPv6 /64 prefix)
SEGMENTS = {
    "eth0": ("198.51.100.", "2001:db8:100::"),
    "eth1": ("203.0.113.", "2001:db8:113::"),
}
CLIENT_HOST_ID = 200
PROBE = Path(__file__).resolve().with_name("probe.py")
# The probe is stdlib-only; -I -S keeps interpreter start-up short.
PROBE_PYTHON = [sys.executable or "/usr/bin/python3", "-I", "-S", str(PROBE)]

IpAddr = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


class LabError(RuntimeError):
    """The lab could not be built or used (environment problem, not a test failure)."""


# --------------------------------------------------------------------------- helpers


def lab_unavailable_reason() -> Optional[str]:
    """None if this process can build a lab, else why not (for pytest.skip)."""
    if os.geteuid() != 0:
        return "lab tests need root and iproute2 (ip netns): not running as root"
    if shutil.which("ip") is None:
        return "lab tests need root and iproute2 (ip netns): `ip` not found"
    return None


def check_lab_address(addr: str) -> IpAddr:
    """Parse ADDR ("a.b.c.d" or with "/len") and refuse anything outside the lab ranges."""
    ip = ipaddress.ip_interface(addr).ip
    if not any(ip in net for net in ALLOWED_NETWORKS):
        raise ValueError(
            f"{addr}: outside the lab ranges "
            f"({', '.join(str(n) for n in ALLOWED_NETWORKS)}); refusing to use it"
        )
    return ip


def wait_until(
    predicate: Callable[[], object],
    timeout: float,
    interval: float = 0.02,
    message: Union[str, Callable[[], str], None] = None,
) -> float:
    """Poll PREDICATE until it returns a truthy value; return the elapsed seconds.

    Raises AssertionError (with MESSAGE, which may be a callable producing it)
    if it is still falsy after TIMEOUT seconds. The predicate is always tried
    at least once, and once more at the deadline.
    """
    start = time.monotonic()
    deadline = start + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return time.monotonic() - start
        now = time.monotonic()
        if now >= deadline:
            break
        time.sleep(min(interval, max(0.0, deadline - now)))
    text = message() if callable(message) else message
    raise AssertionError(
        f"condition not met within {timeout:.2f}s: {text or getattr(predicate, '__name__', '?')}"
        f" (last value: {last!r})"
    )


def _run(argv: Sequence[str], *, check: bool = True, timeout: float = 30.0,
         input: Optional[str] = None) -> subprocess.CompletedProcess:
    try:
        cp = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                            input=input)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout}s: {' '.join(argv)}") from exc
    if check and cp.returncode != 0:
        raise LabError(
            f"command failed (exit {cp.returncode}): {' '.join(argv)}\n"
            f"stdout: {cp.stdout.strip()}\nstderr: {cp.stderr.strip()}"
        )
    return cp


def _netns_list() -> set[str]:
    out = _run(["ip", "netns", "list"]).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _podman_lab_bridges() -> set[str]:
    """Host-side bridges of this project's podman labs (`make demo`, the Molecule
    and deploy tests: their networks carry the owner label). They sit in the root
    namespace but reach nothing of ours: every node here lives in its own namespace."""
    if shutil.which("podman") is None:
        return set()
    cp = subprocess.run(["podman", "network", "ls", "--format", "json"],
                        capture_output=True, text=True, timeout=60)
    try:
        networks = json.loads(cp.stdout or "[]")
    except ValueError:
        return set()
    return {n["network_interface"] for n in networks
            if n.get("network_interface") and "linuxha-vrrp.owner-pid" in (n.get("labels") or {})}


def host_clashes() -> list[str]:
    """Host (root netns) interface addresses that fall inside the lab ranges,
    except on the bridges of this project's own podman labs."""
    data = json.loads(_run(["ip", "-j", "addr", "show"]).stdout or "[]")
    ours = _podman_lab_bridges()
    found = []
    for link in data:
        if link.get("ifname") in ours:
            continue
        for ai in link.get("addr_info", []):
            local = ai.get("local")
            if not local:
                continue
            try:
                ip = ipaddress.ip_address(local.split("%")[0])
            except ValueError:
                continue
            if any(ip in net for net in ALLOWED_NETWORKS):
                found.append(f"{link.get('ifname')}: {local}/{ai.get('prefixlen')}")
    return found


# --------------------------------------------------------------------------- safety net

_LIVE_LABS: weakref.WeakSet = weakref.WeakSet()
_SAFETY_LOCK = threading.Lock()
_SAFETY_INSTALLED = False


def _cleanup_live_labs() -> None:
    for lab in list(_LIVE_LABS):
        with contextlib.suppress(Exception):
            lab.close()


def _on_sigterm(signum, frame) -> None:  # pragma: no cover - exercised by hand
    _cleanup_live_labs()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_safety_net() -> None:
    global _SAFETY_INSTALLED
    with _SAFETY_LOCK:
        if _SAFETY_INSTALLED:
            return
        _SAFETY_INSTALLED = True
        atexit.register(_cleanup_live_labs)
        # A CI timeout usually sends SIGTERM, which skips atexit: clean up first.
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL):
            signal.signal(signal.SIGTERM, _on_sigterm)


# --------------------------------------------------------------------------- namespaces


class Netns:
    """One namespace of the lab: run commands in it, start tracked processes."""

    def __init__(self, lab: Lab, ns: str, label: str):
        self.lab = lab
        self.ns = ns
        self.label = label

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.ns}>"

    def run(self, argv: Sequence[str], check: bool = True, timeout: float = 30.0,
            input: Optional[str] = None) -> subprocess.CompletedProcess:
        """`ip netns exec NS argv...`, output captured as text."""
        return _run(["ip", "netns", "exec", self.ns, *argv], check=check, timeout=timeout,
                    input=input)

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`ip -n NS args...` (cheaper than run(["ip", ...]))."""
        return _run(["ip", "-n", self.ns, *args], check=check)

    def ip_batch(self, lines: Iterable[str]) -> None:
        text = "".join(line + "\n" for line in lines)
        if text:
            _run(["ip", "-n", self.ns, "-batch", "-"], input=text)

    def ip_json(self, *args: str) -> list:
        return json.loads(_run(["ip", "-j", "-n", self.ns, *args]).stdout or "[]")

    def sysctl(self, values: Mapping[str, object]) -> None:
        """Set sysctls inside the namespace ({"net.ipv6.conf.all.accept_dad": 0, ...})."""
        script = []
        for key, value in values.items():
            path = "/proc/sys/" + str(key).replace(".", "/")
            script.append(f"printf '%s\\n' {shlex.quote(str(value))} > {shlex.quote(path)}")
        if script:
            self.run(["sh", "-ec", "\n".join(script)])

    def popen(self, argv: Sequence[str], name: Optional[str] = None,
              **kw) -> subprocess.Popen:
        """Start ARGV in this namespace, in its own process group, tracked by the lab.

        stdout and stderr go to ``lab.logdir/<label>-<name>.log`` (``popen.log_path``)
        unless given in KW. The lab SIGKILLs its whole process group on close
        (set ``popen.term_grace = SECONDS`` to get a SIGTERM and that long first).
        """
        return self.lab._popen(self, ["ip", "netns", "exec", self.ns, *argv], name, **kw)


class Host(Netns):
    """A namespace with lab interfaces (a node or the client)."""

    def __init__(self, lab: Lab, ns: str, label: str, host_id: int):
        super().__init__(lab, ns, label)
        self.host_id = host_id
        self.ifnames: tuple[str, ...] = ()
        self.peers: dict[str, str] = {}  # ifname -> switch-side port name
        self.ip4s: dict[str, str] = {}
        self.ip6s: dict[str, str] = {}
        self.macs: dict[str, str] = {}

    @property
    def ip4(self) -> str:
        return self.ip4s["eth0"]

    @property
    def ip6(self) -> str:
        return self.ip6s["eth0"]

    @property
    def mac(self) -> str:
        return self.macs["eth0"]

    def link_down(self, ifname: str = "eth0") -> None:
        """Set the SWITCH-side port down: this host sees NO-CARRIER (pulled cable)."""
        self.lab.switch.ip("link", "set", self.peers[ifname], "down")

    def link_up(self, ifname: str = "eth0") -> None:
        self.lab.switch.ip("link", "set", self.peers[ifname], "up")

    def link(self, ifname: str = "eth0") -> dict:
        return self.ip_json("link", "show", "dev", ifname)[0]

    def carrier(self, ifname: str = "eth0") -> bool:
        return "NO-CARRIER" not in self.link(ifname).get("flags", [])

    def addresses(self, ifname: str = "eth0") -> list[str]:
        """Addresses currently on IFNAME, as "addr/len" (link-local included)."""
        data = self.ip_json("addr", "show", "dev", ifname)
        return [f"{ai['local']}/{ai['prefixlen']}" for link in data
                for ai in link.get("addr_info", []) if "local" in ai]

    def has_address(self, addr: str, ifname: str = "eth0") -> bool:
        want = ipaddress.ip_interface(addr).ip
        return any(ipaddress.ip_interface(a).ip == want for a in self.addresses(ifname))


class Node(Host):
    """Lab node i (1-based): namespace PREFIX-n<i>."""

    @property
    def index(self) -> int:
        return self.host_id


# --------------------------------------------------------------------------- the lab


class Lab:
    """A switch namespace with one bridge per interface name, N nodes and a client.

    Use as a context manager; everything it created (processes, namespaces and
    with them the veths and bridges) is removed on exit, also on error, and at
    interpreter exit or SIGTERM as a safety net.
    """

    def __init__(
        self,
        nodes: int = 2,
        ifaces: Sequence[str] = ("eth0",),
        *,
        client: bool = True,
        node_sysctls: Optional[Mapping[str, object]] = None,
        keep_logs: Optional[bool] = None,
    ):
        if not 1 <= nodes <= 100:
            raise ValueError("nodes must be within 1..100")
        ifaces = tuple(ifaces)
        if not ifaces or ifaces[0] != "eth0" or any(i not in SEGMENTS for i in ifaces) \
                or len(set(ifaces)) != len(ifaces):
            raise ValueError(f"ifaces must be ('eth0',) or ('eth0', 'eth1'), not {ifaces!r}")
        self.n_nodes = nodes
        self.ifaces = ifaces
        self.with_client = client
        self.node_sysctls = dict(node_sysctls or {})
        if keep_logs is None:
            keep_logs = os.environ.get("VRRP_LAB_KEEP_LOGS", "") not in ("", "0")
        self.keep_logs = keep_logs
        self.prefix = ""
        self.logdir = Path()
        self.switch: Netns
        self.nodes: list[Node] = []
        self.client: Optional[Host] = None
        self._namespaces: list[str] = []  # created, in creation order
        self._procs: list[subprocess.Popen] = []
        self._files: list = []
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        self._started = False
        self._closed = False

    # ---- lifecycle

    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.keep_logs = True
        self.close()

    def start(self) -> Lab:
        if self._started:
            raise LabError("lab already started")
        reason = lab_unavailable_reason()
        if reason:
            raise LabError(reason)
        clashes = host_clashes()
        if clashes:
            raise LabError(
                "the host already uses lab address ranges, refusing to build a lab: "
                + "; ".join(clashes)
            )
        existing = _netns_list()
        for _ in range(50):
            tag = "".join(random.choice(string.ascii_lowercase) for _ in range(2))
            prefix = f"vl{os.getpid() % 100000}{tag}"
            if not any(ns.startswith(prefix + "-") for ns in existing):
                break
        else:  # pragma: no cover
            raise LabError("could not pick a free lab prefix")
        self.prefix = prefix
        self.logdir = Path(tempfile.mkdtemp(prefix=f"{prefix}-", suffix=".lab"))
        self._started = True
        _install_safety_net()
        _LIVE_LABS.add(self)
        try:
            self._build()
        except BaseException:
            self.keep_logs = True
            self.close()
            raise
        return self

    def _add_ns(self, suffix: str) -> str:
        name = f"{self.prefix}-{suffix}"
        _run(["ip", "netns", "add", name])
        self._namespaces.append(name)
        return name

    def _build(self) -> None:
        p = self.prefix
        self.switch = Netns(self, self._add_ns("sw"), "sw")
        # The switch only bridges: no IPv6 on it or its ports (no RS/MLD noise).
        self.switch.sysctl({"net.ipv6.conf.all.disable_ipv6": 1,
                            "net.ipv6.conf.default.disable_ipv6": 1})
        self.switch.ip_batch(["link set lo up"] + [
            f"link add {p}b{k} type bridge stp_state 0 mcast_snooping 0" for k in
            range(len(self.ifaces))] + [f"link set {p}b{k} up" for k in range(len(self.ifaces))])

        hosts: list[Host] = []
        for i in range(1, self.n_nodes + 1):
            node = Node(self, self._add_ns(f"n{i}"), f"n{i}", i)
            self.nodes.append(node)
            hosts.append(node)
        if self.with_client:
            self.client = Host(self, self._add_ns("cl"), "cl", CLIENT_HOST_ID)
            hosts.append(self.client)

        dad_off = {"net.ipv6.conf.all.accept_dad": 0, "net.ipv6.conf.default.accept_dad": 0}
        sw_lines = []
        for h in hosts:
            # Before any interface exists, so that eth0/eth1 inherit it.
            h.sysctl(dad_off)
            h.ifnames = self.ifaces
            short = "c" if h is self.client else f"n{h.host_id}"
            for k, ifname in enumerate(self.ifaces):
                peer = f"{p}{short}e{k}"
                assert len(peer) <= 15, peer
                h.peers[ifname] = peer
                v4, v6 = SEGMENTS[ifname]
                h.ip4s[ifname] = f"{v4}{h.host_id}" if h is self.client \
                    else f"{v4}{10 + h.host_id}"
                h.ip6s[ifname] = f"{v6}{h.host_id}" if h is self.client \
                    else f"{v6}{10 + h.host_id}"
                sw_lines.append(f"link add {peer} type veth peer name {ifname} netns {h.ns}")
                sw_lines.append(f"link set {peer} master {p}b{k} up")
        self.switch.ip_batch(sw_lines)

        for h in hosts:
            per_if: dict[str, object] = {
                f"net.ipv6.conf.{ifname}.accept_dad": 0 for ifname in h.ifnames}
            if h is not self.client:
                per_if.update(self.node_sysctls)
            h.sysctl(per_if)
            lines = ["link set lo up"]
            for ifname in h.ifnames:
                check_lab_address(h.ip4s[ifname])
                check_lab_address(h.ip6s[ifname])
                lines += [
                    f"addr add {h.ip4s[ifname]}/24 dev {ifname}",
                    f"addr add {h.ip6s[ifname]}/64 dev {ifname} nodad",
                    f"link set {ifname} up",
                ]
            h.ip_batch(lines)
            for ifname in h.ifnames:
                h.macs[ifname] = h.link(ifname)["address"]

        def link_local_ready() -> bool:
            for h in hosts:
                for ifname in h.ifnames:
                    data = h.ip_json("-6", "addr", "show", "dev", ifname, "scope", "link")
                    ok = any(not ai.get("tentative") for link in data
                             for ai in link.get("addr_info", []))
                    if not ok:
                        return False
            return True

        wait_until(link_local_ready, 5.0, message="IPv6 link-local addresses")

    def close(self) -> None:
        """Kill every lab process, delete the namespaces. Idempotent."""
        with self._lock:
            if self._closed or not self._started:
                self._closed = True
                return
            self._closed = True
        errors: list[str] = []
        self._kill_procs()
        for ns in reversed(self._namespaces):
            try:
                self._kill_ns_pids(ns)
            except Exception as exc:  # keep going: delete what we can
                errors.append(f"{ns}: {exc}")
        for ns in reversed(self._namespaces):
            cp = _run(["ip", "netns", "del", ns], check=False)
            if cp.returncode != 0:
                errors.append(f"ip netns del {ns}: {cp.stderr.strip()}")
        for f in self._files:
            with contextlib.suppress(Exception):
                f.close()
        _LIVE_LABS.discard(self)
        if self.keep_logs:
            sys.stderr.write(f"netlab: logs of lab {self.prefix} kept in {self.logdir}\n")
        else:
            shutil.rmtree(self.logdir, ignore_errors=True)
        if errors:
            sys.stderr.write("netlab: cleanup problems:\n  " + "\n  ".join(errors) + "\n")

    def _kill_procs(self) -> None:
        # SIGKILL at once (the namespaces go away anyway; keepalived, for one,
        # lingers 1 s after SIGTERM), except for processes started with a
        # term_grace (tcpdump: let it finish its pcap), which get SIGTERM first.
        live = [p for p in self._procs if p.poll() is None]
        graceful = [p for p in live if getattr(p, "term_grace", 0) > 0]
        for p in graceful:
            for sig in (signal.SIGTERM, signal.SIGCONT):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(p.pid, sig)
        deadline = time.monotonic() + max([getattr(p, "term_grace", 0) for p in graceful],
                                          default=0)
        for p in graceful:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(max(0.0, deadline - time.monotonic()))
        for p in live:
            # The leader may be gone while its group lives on; only signal a
            # group whose leader we have not reaped (its id cannot be reused).
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(p.pid, signal.SIGKILL)
        for p in live:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(5)

    def _kill_ns_pids(self, ns: str) -> None:
        """SIGKILL whatever still runs inside OUR namespace NS (escaped children)."""
        deadline = time.monotonic() + 5
        while True:
            cp = _run(["ip", "netns", "pids", ns], check=False)
            pids = [int(x) for x in cp.stdout.split() if x.isdigit() and int(x) != os.getpid()]
            if not pids:
                return
            if time.monotonic() > deadline:
                raise LabError(f"processes still running in {ns}: {pids}")
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for p in self._procs:
                p.poll()  # reap our own children
            time.sleep(0.02)

    # ---- processes and files

    def _popen(self, host: Netns, argv: list[str], name: Optional[str], **kw) -> subprocess.Popen:
        if self._closed or not self._started:
            raise LabError("lab is not running")
        name = name or Path(argv[4] if len(argv) > 4 else "proc").name
        log_path = self.logdir / f"{host.label}-{name}.log"
        while log_path.exists():
            log_path = self.logdir / f"{host.label}-{name}-{next(self._names)}.log"
        if "stdout" not in kw or "stderr" not in kw:
            fh = open(log_path, "ab", buffering=0)  # noqa: SIM115 - closed by close()
            self._files.append(fh)
            kw.setdefault("stdout", fh)
            kw.setdefault("stderr", subprocess.STDOUT if kw["stdout"] is fh else fh)
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw["start_new_session"] = True
        proc = subprocess.Popen(argv, **kw)
        proc.log_path = log_path  # type: ignore[attr-defined]
        self._procs.append(proc)
        return proc

    def log_files(self) -> list[Path]:
        if not self.logdir or not self.logdir.is_dir():
            return []
        return sorted(p for p in self.logdir.iterdir()
                      if p.is_file() and p.suffix in (".log", ".jsonl", ".conf"))

    def log_tails(self, lines: int = 40) -> str:
        """The last LINES lines of every log file in logdir, for failure reports."""
        out = [f"lab {self.prefix} logdir: {self.logdir}"]
        for path in self.log_files():
            try:
                text = path.read_text(errors="replace").splitlines()
            except OSError as exc:
                text = [f"<unreadable: {exc}>"]
            out.append(f"----- {path.name} (last {min(lines, len(text))} of {len(text)} lines)")
            out.extend(text[-lines:])
        return "\n".join(out)

    # ---- accessors

    def node(self, i: int) -> Node:
        """Node i, 1-based (node(1) is 198.51.100.11)."""
        if not 1 <= i <= len(self.nodes):
            raise IndexError(f"no node {i} (lab has {len(self.nodes)})")
        return self.nodes[i - 1]

    def mac_to_node(self, mac: str) -> Optional[int]:
        """The index of the node owning MAC (any of its interfaces), or None."""
        mac = mac.lower()
        for n in self.nodes:
            if mac in n.macs.values():
                return n.index
        return None

    def _need_client(self) -> Host:
        if self.client is None:
            raise LabError("this lab has no client namespace")
        return self.client

    def _client_if_for(self, ip: IpAddr, ifname: Optional[str]) -> str:
        if ifname:
            return ifname
        for name in self.ifaces:
            v4, v6 = SEGMENTS[name]
            net = ipaddress.ip_network(f"{v4}0/24" if ip.version == 4 else f"{v6}/64")
            if ip in net:
                return name
        return "eth0"

    # ---- probes

    def _probe(self, kind: str, vip: str, timeout: float, ifname: Optional[str]) -> dict:
        client = self._need_client()
        ip = check_lab_address(vip)
        ifname = self._client_if_for(ip, ifname)
        if (kind == "arp") != (ip.version == 4):
            raise ValueError(f"{kind} probe needs an IPv{4 if kind == 'arp' else 6} address: {vip}")
        src = client.ip4s[ifname] if ip.version == 4 else client.ip6s[ifname]
        cp = client.run([*PROBE_PYTHON, kind, "--ifname", ifname, "--vip", str(ip),
                         "--src-ip", src, "--timeout", str(timeout)], timeout=timeout + 10)
        return json.loads(cp.stdout)

    def arp_owners(self, vip: str, timeout: float = 0.3, ifname: Optional[str] = None) -> set[str]:
        """MACs that answer one broadcast ARP who-has VIP sent from the client."""
        return set(self._probe("arp", vip, timeout, ifname)["owners"])

    def nd_owners(self, vip6: str, timeout: float = 0.3,
                  ifname: Optional[str] = None) -> set[str]:
        """MACs that answer one Neighbor Solicitation for VIP6 sent from the client."""
        return set(self._probe("nd", vip6, timeout, ifname)["owners"])

    def owners(self, vip: str, timeout: float = 0.3, ifname: Optional[str] = None) -> set[str]:
        """arp_owners or nd_owners, by the family of VIP."""
        if ipaddress.ip_interface(vip).ip.version == 4:
            return self.arp_owners(vip, timeout, ifname)
        return self.nd_owners(vip, timeout, ifname)

    def owner_nodes(self, vip: str, timeout: float = 0.3,
                    ifname: Optional[str] = None) -> set[Optional[int]]:
        """Node indices answering for VIP (None for a MAC that is no node's)."""
        return {self.mac_to_node(m) for m in self.owners(vip, timeout, ifname)}

    def watch_garp(self, *vips: str, ifname: Optional[str] = None) -> Watcher:
        """Record gratuitous ARPs / unsolicited NAs for VIPS seen by the client."""
        return Watcher(self, vips, ifname)

    def capture(self, ns: Union[Netns, str], ifname: str = "eth0", bpf_filter: str = "",
                name: Optional[str] = None) -> subprocess.Popen:
        """tcpdump -w into logdir (``popen.pcap_path``); stopped with the lab."""
        host = ns if isinstance(ns, Netns) else self._by_ns(ns)
        name = name or f"{ifname}"
        pcap = self.logdir / f"{host.label}-{name}.pcap"
        argv = ["tcpdump", "-n", "-U", "-i", ifname, "-w", str(pcap)]
        if bpf_filter:
            argv += bpf_filter.split()
        proc = host.popen(argv, name=f"tcpdump-{name}")
        proc.pcap_path = pcap  # type: ignore[attr-defined]
        proc.term_grace = 2.0  # type: ignore[attr-defined]
        wait_until(lambda: proc.poll() is not None or "listening on" in
                   proc.log_path.read_text(errors="replace"),  # type: ignore[attr-defined]
                   5.0, message="tcpdump start")
        if proc.poll() is not None:
            raise LabError(f"tcpdump exited: {proc.log_path.read_text()}")  # type: ignore
        return proc

    def _by_ns(self, ns: str) -> Netns:
        for h in [self.switch, *self.nodes, *([self.client] if self.client else [])]:
            if h.ns == ns or h.label == ns:
                return h
        raise KeyError(ns)

    def keepalived(self, i: int, config: str, **kw) -> Keepalived:
        """Start real keepalived on node I with CONFIG (see Keepalived)."""
        return Keepalived(self.node(i), config, **kw)


# --------------------------------------------------------------------------- GARP watcher


class Watcher:
    """Background probe in the client namespace recording GARPs / unsolicited NAs."""

    def __init__(self, lab: Lab, vips: Sequence[str], ifname: Optional[str] = None,
                 ready_timeout: float = 5.0):
        if not vips:
            raise ValueError("watch_garp needs at least one VIP")
        client = lab._need_client()
        ips = [check_lab_address(v) for v in vips]
        ifname = lab._client_if_for(ips[0], ifname)
        self.path = lab.logdir / f"cl-garp-watch-{next(lab._names)}.jsonl"
        fh = open(self.path, "wb", buffering=0)  # noqa: SIM115 - closed by the lab
        lab._files.append(fh)
        argv = [*PROBE_PYTHON, "garp-watch", "--ifname", ifname]
        for ip in ips:
            argv += ["--vip", str(ip)]
        err = open(self.path.with_suffix(".log"), "ab", buffering=0)  # noqa: SIM115
        lab._files.append(err)
        self.proc = client.popen(argv, name="garp-watch", stdout=fh, stderr=err)
        wait_until(lambda: self.proc.poll() is not None or bool(self._lines()),
                   ready_timeout, message="garp watcher ready")
        if self.proc.poll() is not None:
            raise LabError("garp watcher exited: "
                           + self.path.with_suffix(".log").read_text(errors="replace"))

    def _lines(self) -> list[dict]:
        try:
            raw = self.path.read_text()
        except FileNotFoundError:
            return []
        out = []
        for line in raw.splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def records(self) -> list[dict]:
        """Every event so far, as dicts (t, mac, eth_src, kind, ip, op|flags)."""
        return [r for r in self._lines() if "ready" not in r]

    def events(self) -> list[tuple[float, str]]:
        """[(time.time() of reception, sender MAC)] so far."""
        return [(r["t"], r["mac"]) for r in self.records()]

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(3)

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------- keepalived


def keepalived_instance(
    name: str = "VI_1",
    *,
    interface: str = "eth0",
    vrid: int = 51,
    priority: int = 100,
    advert_int: float = 1,
    version: int = 2,
    vips: Sequence[str] = ("198.51.100.100/24",),
    state: str = "BACKUP",
    auth_pass: Optional[str] = None,
    extra: str = "",
    global_defs: str = "",
) -> str:
    """A keepalived.conf text with one vrrp_instance (VIPs checked against the lab ranges)."""
    for v in vips:
        check_lab_address(v)
    auth = ""
    if auth_pass is not None:
        auth = f"    authentication {{\n        auth_type PASS\n        auth_pass {auth_pass}\n    }}\n"
    vip_lines = "".join(f"        {v}\n" for v in vips)
    return (
        f"global_defs {{\n    vrrp_version {version}\n{global_defs}}}\n"
        f"vrrp_instance {name} {{\n"
        f"    state {state}\n"
        f"    interface {interface}\n"
        f"    virtual_router_id {vrid}\n"
        f"    priority {priority}\n"
        f"    advert_int {advert_int}\n"
        f"{auth}"
        f"    virtual_ipaddress {{\n{vip_lines}    }}\n"
        f"{extra}"
        f"}}\n"
    )


class Keepalived:
    """Real keepalived (VRRP only) in a node namespace, logging into the lab's logdir.

    Pid files live in logdir, so the host's /run/keepalived.pid is never touched.
    """

    def __init__(self, node: Host, config: str, *, name: str = "keepalived",
                 binary: str = "keepalived", extra_args: Sequence[str] = (),
                 start: bool = True):
        self.node = node
        self.lab = node.lab
        base = self.lab.logdir / f"{node.label}-{name}"
        self.name = name
        self.conf_path = base.with_suffix(".conf")
        self.conf_path.write_text(config)
        self.pidfile = base.with_suffix(".pid")
        self.vrrp_pidfile = Path(f"{base}-vrrp.pid")
        self.checkers_pidfile = Path(f"{base}-checkers.pid")
        self.bfd_pidfile = Path(f"{base}-bfd.pid")
        self.binary = binary
        self.extra_args = list(extra_args)
        self.proc: Optional[subprocess.Popen] = None
        self._frozen = False
        if start:
            self.start()

    def argv(self) -> list[str]:
        return [
            self.binary, "--dont-fork", "--log-console", "--log-detail", "--no-syslog",
            "--vrrp", "-f", str(self.conf_path),
            "--pid", str(self.pidfile), "--vrrp_pid", str(self.vrrp_pidfile),
            "--checkers_pid", str(self.checkers_pidfile), "--bfd_pid", str(self.bfd_pidfile),
            *self.extra_args,
        ]

    def start(self, timeout: float = 10.0) -> Keepalived:
        if self.proc is not None and self.proc.poll() is None:
            raise LabError("keepalived already running")
        for f in (self.pidfile, self.vrrp_pidfile):
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
        proc = self.proc = self.node.popen(self.argv(), name=self.name)
        # A restart logs into a new file; log_text() reads the current run's.
        self.log_path: Path = proc.log_path  # type: ignore[attr-defined]
        wait_until(lambda: proc.poll() is not None or self._read_pid(self.vrrp_pidfile),
                   timeout, message="keepalived VRRP child pid file")
        if proc.poll() is not None:
            raise LabError(f"keepalived exited with {proc.returncode}:\n{self.log_text()}")
        return self

    @staticmethod
    def _read_pid(path: Path) -> Optional[int]:
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def vrrp_pid(self) -> int:
        pid = self._read_pid(self.vrrp_pidfile)
        if pid is None:
            raise LabError(f"no VRRP child pid in {self.vrrp_pidfile}")
        return pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def freeze(self) -> None:
        """SIGSTOP the VRRP child (a hung master: it sends nothing, keeps its VIPs)."""
        os.kill(self.vrrp_pid, signal.SIGSTOP)
        self._frozen = True

    def thaw(self) -> None:
        os.kill(self.vrrp_pid, signal.SIGCONT)
        self._frozen = False

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """SIGTERM (graceful: priority-0 advert, VIPs removed), wait; SIGKILL if stuck."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            if self._frozen:
                with contextlib.suppress(ProcessLookupError, LabError):
                    self.thaw()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group (parent and VRRP child)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except (AttributeError, FileNotFoundError):
            return ""

    def __enter__(self) -> Keepalived:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# --------------------------------------------------------------------------- VIP ownership


def owned_only_by(lab: Lab, vip: str, node: int) -> Callable[[], bool]:
    """Predicate for wait_until: exactly one node answers ARP/ND for VIP, and it is NODE."""

    def pred() -> bool:
        return lab.owner_nodes(vip, timeout=0.15) == {node}

    pred.__name__ = f"{vip} answered only by node {node}"
    return pred


def assert_single_owner(lab: Lab, vip: str, node: int, samples: int = 3) -> None:
    """Converged: several probes see NODE and only NODE, and no other node holds VIP."""
    for _ in range(samples):
        owners = lab.owner_nodes(vip, timeout=0.15)
        assert owners == {node}, f"{vip}: owners {owners}, expected only node {node}"
        holders = [n.index for n in lab.nodes if n.has_address(vip)]
        assert holders == [node], f"{vip} configured on nodes {holders}, expected [{node}]"
