"""Routed lab: members in different subnets behind an FRR router, a client behind it.

Layout for ``RoutedLab(members=2)`` with run prefix ``P`` (veth pairs, no bridge)::

    P-cl  eth0 203.0.113.10/24 ---- rc 203.0.113.1/24   P-rt (FRR: zebra, bgpd, bfdd; AS 65000)
    P-n1  eth0 198.51.100.10/26 --- r1 198.51.100.1/26
    P-n2  eth0 198.51.100.74/26 --- r2 198.51.100.65/26
    P-n3  eth0 198.51.100.138/26 -- r3 198.51.100.129/26   (members=3)

Members run the agent (unicast VRRP across the router) and FRR (AS 65001, one AS
for the cluster so a member never learns the VIP back from the router) with
BFD on the session; the VIP 198.51.100.200/32 lies outside every subnet.
Every FRR daemon gets its own directory under the lab's logdir (pid files,
vty sockets, zebra socket, frr.conf applied with ``vtysh -b`` as frrinit does),
and is a tracked lab process: closing the lab kills it with its namespace.
Lab rules as netlab.py (only the lab ranges, per-run prefix, cleanup on failure).
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from netlab import Host, Lab, LabError, Netns, Node, _run, check_lab_address, wait_until

FRR_DIR = Path("/usr/lib/frr")
VTYSH = "vtysh"
ROUTER_AS, CLUSTER_AS = 65000, 65001
VIP = "198.51.100.200"
CLIENT_IP, CLIENT_GW = "203.0.113.10", "203.0.113.1"
PORT = 7007
PROBE = Path(__file__).resolve().with_name("routedprobe.py")
PROBE_PYTHON = [sys.executable or "/usr/bin/python3", "-I", "-S", str(PROBE)]
BFD_PROFILE = ("bfd\n profile fast\n  transmit-interval 100\n  receive-interval 100\n"
               "  detect-multiplier 3\n exit\n!\n")


def frr_unavailable_reason() -> Optional[str]:
    missing = [d for d in ("zebra", "bgpd", "bfdd") if not (FRR_DIR / d).exists()]
    if missing or shutil.which(VTYSH) is None:
        return f"the routed lab needs FRR (apt-get install frr): missing {missing or ['vtysh']}"
    return None


def member_addresses(i: int) -> Dict[str, str]:
    """Member i (1-based): its /26, its address and the router's on that subnet."""
    base = 64 * (i - 1)
    return {"net": f"198.51.100.{base}/26", "ip": f"198.51.100.{base + 10}",
            "gw": f"198.51.100.{base + 1}"}


def member_frr_conf(i: int, name: str) -> str:
    """A member's frr.conf: redistribute connected host routes matching the VIP prefix-list."""
    a = member_addresses(i)
    return (f"frr defaults traditional\nhostname {name}\n!\n"
            f"ip prefix-list VRRP-VIPS seq 5 permit {VIP}/32\n!\n"
            "route-map VRRP-VIPS permit 10\n match ip address prefix-list VRRP-VIPS\nexit\n!\n"
            + BFD_PROFILE +
            f"router bgp {CLUSTER_AS}\n bgp router-id {a['ip']}\n no bgp ebgp-requires-policy\n"
            f" neighbor {a['gw']} remote-as {ROUTER_AS}\n"
            f" neighbor {a['gw']} bfd profile fast\n"
            f" neighbor {a['gw']} timers 1 3\n neighbor {a['gw']} timers connect 1\n"
            f" neighbor {a['gw']} advertisement-interval 0\n"
            " address-family ipv4 unicast\n  redistribute connected route-map VRRP-VIPS\n"
            f"  neighbor {a['gw']} prefix-list VRRP-VIPS out\n exit-address-family\nexit\n!\n")


def router_frr_conf(members: int) -> str:
    lines = [f"frr defaults traditional\nhostname rt\n!\n{BFD_PROFILE}",
             f"router bgp {ROUTER_AS}\n bgp router-id {CLIENT_GW}\n no bgp ebgp-requires-policy\n"]
    for i in range(1, members + 1):
        ip = member_addresses(i)["ip"]
        lines.append(f" neighbor {ip} remote-as {CLUSTER_AS}\n neighbor {ip} bfd profile fast\n"
                     f" neighbor {ip} timers 1 3\n neighbor {ip} timers connect 1\n"
                     f" neighbor {ip} advertisement-interval 0\n")
    lines.append("exit\n!\n")
    return "".join(lines)


class Frr:
    """zebra + bgpd + bfdd in one namespace, with their own paths; config via `vtysh -b`."""

    DAEMONS = ("zebra", "bfdd", "bgpd")

    def __init__(self, ns: Netns, conf: str):
        self.ns = ns
        # FRR drops to the frr user: its directory must be reachable by it, so it
        # lives beside the (root-only) logdir; RoutedLab.close removes it.
        self.dir = Path(tempfile.mkdtemp(prefix=f"{ns.lab.prefix}-{ns.label}-", suffix=".frr"))
        shutil.chown(self.dir, "frr", "frr")
        self.dir.chmod(0o755)
        ns.lab.frr_dirs.append(self.dir)  # type: ignore[attr-defined]
        self.conf = self.dir / "frr.conf"
        self.conf.write_text(conf)
        (self.dir / "vtysh.conf").write_text("service integrated-vtysh-config\n")
        self.procs: Dict[str, subprocess.Popen] = {}

    def argv(self, daemon: str) -> List[str]:
        d = str(self.dir)
        argv = [str(FRR_DIR / daemon), "-f", "/dev/null", "-i", f"{d}/{daemon}.pid",
                "-z", f"{d}/zserv.api", "--vty_socket", d, "-P", "0",
                "--log", f"file:{d}/{daemon}.log", "--log-level", "debug"]
        if daemon == "bgpd":
            argv += ["-l", "0.0.0.0"]
        if daemon == "bfdd":
            argv += ["--bfdctl", f"{d}/bfdd.sock"]
        return argv

    def start(self) -> Frr:
        for daemon in self.DAEMONS:
            self.procs[daemon] = self.ns.popen(self.argv(daemon), name=daemon)
            wait_until(lambda daemon=daemon: (self.dir / f"{daemon}.vty").exists()
                       or self.procs[daemon].poll() is not None, 10,
                       message=f"{daemon} in {self.ns.label} opens its vty socket")
            if self.procs[daemon].poll() is not None:
                raise LabError(f"{daemon} in {self.ns.label} exited: see {self.dir}")
        cp = self.vtysh_run("-b", "--config_dir", str(self.dir), check=False)
        if cp.returncode != 0:
            raise LabError(f"vtysh -b in {self.ns.label}: {cp.stdout}{cp.stderr}")
        return self

    def vtysh_run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run([VTYSH, "--vty_socket", str(self.dir), *args], check=check, timeout=20)

    def show(self, command: str) -> Any:
        """A `show ... json` command, parsed."""
        return json.loads(self.vtysh_run("-c", command).stdout or "{}")


class Member(Node):
    """A member namespace: its agent, its FRR, its UDP answerer."""

    frr: Frr
    agent: Any = None


class RoutedLab(Lab):
    def __init__(self, members: int = 2, **kw: Any):
        super().__init__(nodes=members, client=True, **kw)
        self.router: Netns
        self.router_frr: Frr
        self.members: List[Member] = []
        self.frr_dirs: List[Path] = []

    def close(self) -> None:
        super().close()
        for path in self.frr_dirs:
            if self.keep_logs:
                sys.stderr.write(f"routedlab: FRR logs kept in {path}\n")
            else:
                shutil.rmtree(path, ignore_errors=True)
        self.frr_dirs = []

    def _build(self) -> None:
        self.router = Netns(self, self._add_ns("rt"), "rt")
        self.router.sysctl({"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.disable_ipv6": 1})
        rt_lines = ["link set lo up"]
        for i in range(1, self.n_nodes + 1):
            member = Member(self, self._add_ns(f"n{i}"), f"n{i}", i)
            a = member_addresses(i)
            for addr in (a["ip"], a["gw"], VIP):
                check_lab_address(addr)
            member.ifnames = ("eth0",)
            member.peers["eth0"] = f"r{i}"
            member.ip4s["eth0"] = a["ip"]
            member.sysctl({"net.ipv6.conf.all.disable_ipv6": 1})
            rt_lines += [f"link add r{i} type veth peer name eth0 netns {member.ns}",
                         f"addr add {a['gw']}/26 dev r{i}", f"link set r{i} up"]
            self.members.append(member)
            self.nodes.append(member)
        client = Host(self, self._add_ns("cl"), "cl", 10)
        client.ifnames = ("eth0",)
        check_lab_address(CLIENT_IP)
        client.ip4s["eth0"] = CLIENT_IP
        client.sysctl({"net.ipv6.conf.all.disable_ipv6": 1})
        self.client = client
        rt_lines += [f"link add rc type veth peer name eth0 netns {client.ns}",
                     f"addr add {CLIENT_GW}/24 dev rc", "link set rc up"]
        self.router.ip_batch(rt_lines)
        client.ip_batch(["link set lo up", f"addr add {CLIENT_IP}/24 dev eth0", "link set eth0 up",
                         f"route add default via {CLIENT_GW}"])
        for i, member in enumerate(self.members, 1):
            a = member_addresses(i)
            member.ip_batch(["link set lo up", f"addr add {a['ip']}/26 dev eth0",
                             "link set eth0 up", f"route add default via {a['gw']}"])
        self.router_frr = Frr(self.router, router_frr_conf(self.n_nodes)).start()
        for member in self.members:
            member.frr = Frr(member, member_frr_conf(member.index, member.label)).start()
            member.popen([*PROBE_PYTHON, "serve", "--name", member.label, "--port", str(PORT)],
                         name="answerer")

    # ---- the member-side port of the router (a pulled cable, seen by both ends)
    def link_down(self, member: Member) -> None:
        self.router.ip("link", "set", f"r{member.index}", "down")

    def link_up(self, member: Member) -> None:
        self.router.ip("link", "set", f"r{member.index}", "up")

    # ---- the router's view
    def vip_paths(self) -> List[str]:
        """Next hops of the BGP paths the router holds for the VIP (accepted, valid)."""
        doc = self.router_frr.show(f"show ip bgp {VIP}/32 json")
        hops = []
        for path in doc.get("paths", []):
            if path.get("valid", True):
                hops += [h.get("ip") for h in path.get("nexthops", [])[:1]]
        return [h for h in hops if h]

    def vip_route(self) -> Optional[str]:
        """The kernel route's next hop for the VIP on the router (None: no route)."""
        cp = self.router.ip("-j", "route", "show", f"{VIP}/32", check=False)
        routes = json.loads(cp.stdout or "[]") if cp.returncode == 0 else []
        return routes[0].get("gateway") if routes else None

    def member_of(self, gateway: Optional[str]) -> Optional[Member]:
        for member in self.members:
            if gateway == member.ip4:
                return member
        return None

    def established(self) -> bool:
        doc = self.router_frr.show("show bgp ipv4 unicast summary json")
        peers = doc.get("peers", {})
        return len(peers) == self.n_nodes and all(
            p.get("state") == "Established" for p in peers.values())

    # ---- the client's view
    def ask(self, timeout: float = 0.3) -> Optional[str]:
        """Which member answers the client's UDP query to the VIP now (None: nobody)."""
        code = ("import socket,sys;s=socket.socket(2,2);s.settimeout(%r);"
                "s.sendto(b'12345678',(%r,%d))\ntry:print(s.recv(64)[8:].decode())\n"
                "except OSError:print('')" % (timeout, VIP, PORT))
        assert self.client is not None
        out = self.client.run([sys.executable, "-I", "-S", "-c", code], check=False).stdout.strip()
        return out or None

    def watch(self, ns: Netns, *args: str) -> subprocess.Popen:
        """A routedprobe.py `ask`/`routes` process in NS, JSON lines on stdout (a pipe)."""
        proc = ns.popen([*PROBE_PYTHON, *args], name=args[0], stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if '"ready"' not in line:
            raise LabError(f"routedprobe {args[0]} did not start: {line!r}")
        return proc


SESSION_SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "vrrp" / "files" / "vrrp-bgp-session"


def member_config(lab: RoutedLab, member: Member, priority: int, lease_s: int = 3,
                  advert_int: float = 0.1, track_session: bool = False) -> str:
    """The agent's keepalived.conf for a member: unicast to the others, announce bgp;
    with track_session, the role's BGP session tracker (weight 0: FAULT without a session)."""
    peers = "".join(f"        {m.ip4}\n" for m in lab.members if m is not member)
    script, track = "", ""
    if track_session:
        script = (f"vrrp_script bgp_session {{\n    script \"{SESSION_SCRIPT}\"\n"
                  "    interval 1\n    fall 1\n    rise 1\n}\n")
        track = "    track_script {\n        bgp_session\n    }\n"
    return (script + "vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n"
            f"    virtual_router_id 51\n    priority {priority}\n    advert_int {advert_int}\n"
            f"    version 3\n    unicast_src_ip {member.ip4}\n    unicast_peer {{\n{peers}    }}\n"
            f"    virtual_ipaddress {{\n        {VIP}/32\n    }}\n"
            f"    announce bgp lease {lease_s}\n{track}}}\n")


def address_in(ip: str, nets: Sequence[str]) -> bool:
    return any(ipaddress.ip_address(ip) in ipaddress.ip_network(n) for n in nets)
