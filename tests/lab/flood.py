"""A paced flood of foreign protocol-112 traffic at a v3 0.1 s pair, and what the master sends back.

Shared by the lab test (tests/lab/test_flood.py, short) and `make reliability`'s
flood figures (bench/flood.py, 10 s at 10,000 pkt/s, agent vs keepalived).

The stream comes from the client (a foreign source on the segment) and mixes,
in thirds: malformed or foreign datagrams (random payload, bad checksum, bad
version, TTL below 255, unknown VRID), valid v3 adverts of a lower priority
than the master's, and valid v3 priority-0 adverts. What is counted:
- the adverts and ARPs the master puts on the wire during the flood
  (tcpdump on the master's eth0, its own source only);
- the kernel's receive-queue drops in both nodes' namespaces (/proc/net/raw);
- the backup's state changes (the real master's adverts must keep reaching it).
"""

from __future__ import annotations

import pickle
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

from netlab import Host, Lab, keepalived_instance, owned_only_by, wait_until

VIP = "198.51.100.100"
VRID = 51
HERE = Path(__file__).resolve().parent
MASTER_PRIO, BACKUP_PRIO = 150, 100


def flood_pool(lab: Lab, size: int, seed: int) -> List[bytes]:
    """`size` IPv4 datagrams: a third malformed, a third lower priority, a third priority 0."""
    from scapy.layers.inet import IP
    from scapy.layers.vrrp import VRRPv3

    rng = random.Random(seed)
    src = lab.client.ip4  # type: ignore[union-attr]

    def ip(ttl: int = 255) -> IP:
        return IP(src=src, dst="224.0.0.18", ttl=ttl, proto=112)

    def v3(prio: int, **kw: Any) -> VRRPv3:
        return VRRPv3(vrid=kw.pop("vrid", VRID), priority=prio, adv=10, addrlist=[VIP], **kw)

    pool: List[bytes] = []
    for n in range(size):
        third = n % 3
        if third == 1:
            pkt = ip() / v3(rng.randint(1, MASTER_PRIO - 1))
        elif third == 2:
            pkt = ip() / v3(0)
        else:
            bad = rng.randrange(5)
            if bad == 0:
                pkt = ip() / bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 60)))
            elif bad == 1:
                pkt = ip() / v3(rng.randint(1, 254), chksum=rng.randint(0, 0xFFFF))
            elif bad == 2:
                raw = bytearray(bytes(ip() / v3(rng.randint(1, 254)))[20:])
                raw[0] = rng.choice([0x11, 0x21, 0x41, 0x3F])
                pkt = ip() / bytes(raw)
            elif bad == 3:
                pkt = ip(ttl=rng.randint(1, 254)) / v3(rng.randint(1, 254))
            else:
                pkt = ip() / v3(rng.randint(1, 254), vrid=rng.choice([v for v in range(1, 256) if v != VRID]))
        pool.append(bytes(pkt))
    return pool


def raw_drops(host: Host) -> int:
    """Sum of the drops column of every raw socket in HOST's namespace (v4 and v6)."""
    total = 0
    for table in ("/proc/net/raw", "/proc/net/raw6"):
        lines = host.run(["cat", table]).stdout.splitlines()[1:]
        total += sum(int(line.split()[-1]) for line in lines if line.split())
    return total


def _count_sent(pcap: Path) -> Dict[str, int]:
    text = subprocess.run(["tcpdump", "-n", "-r", str(pcap)], capture_output=True, text=True,
                          timeout=120).stdout
    lines = text.splitlines()
    return {"adverts": sum("VRRP" in line for line in lines),
            "arps": sum(" ARP," in line for line in lines)}


def _capture_master(lab: Lab) -> subprocess.Popen:
    node = lab.node(1)
    flt = f"( ip proto 112 and src host {node.ip4} ) or ( arp and ether src {node.mac} )"
    return lab.capture(node, "eth0", flt, name="flood")


def measure(lab: Lab, backup_transitions: Callable[[], int], seconds: float, rate: int,
            seed: int = 7) -> Dict[str, Any]:
    """Flood for `seconds` at `rate` pkt/s; the master's output and both nodes' drops."""
    pool_path = lab.logdir / "flood.pickle"
    pool_path.write_bytes(pickle.dumps(flood_pool(lab, 3000, seed)))
    drops_before = {i: raw_drops(lab.node(i)) for i in (1, 2)}
    transitions_before = backup_transitions()
    cap = _capture_master(lab)
    count = int(seconds * rate)
    started = time.monotonic()
    cp = lab.client.run([sys.executable, str(HERE / "inject.py"), str(pool_path), str(count),  # type: ignore[union-attr]
                         str(rate)], timeout=seconds * 4 + 60)
    took = time.monotonic() - started
    cap.terminate()
    cap.wait(10)
    sent = _count_sent(cap.pcap_path)  # type: ignore[attr-defined]
    return {
        "seconds": seconds, "rate": rate, "injected": int(cp.stdout.strip()),
        "flood_took_s": round(took, 2),
        "master_adverts": sent["adverts"], "master_arps": sent["arps"],
        "master_socket_drops": raw_drops(lab.node(1)) - drops_before[1],
        "backup_socket_drops": raw_drops(lab.node(2)) - drops_before[2],
        "backup_transitions": backup_transitions() - transitions_before,
        "master_kept_vip": lab.node(1).has_address(VIP),
    }


def agent_pair(lab: Lab) -> Dict[int, Any]:
    from agentlab import Agent, agent_instance

    agents = {i: Agent(lab.node(i), agent_instance(priority=p, version=3, advert_int=0.1))
              for i, p in ((1, MASTER_PRIO), (2, BACKUP_PRIO))}
    wait_until(owned_only_by(lab, VIP, 1), 20)
    return agents


def keepalived_pair(lab: Lab) -> Dict[int, Any]:
    daemons = {i: lab.keepalived(i, keepalived_instance(priority=p, version=3, advert_int=0.1))
               for i, p in ((1, MASTER_PRIO), (2, BACKUP_PRIO))}
    wait_until(owned_only_by(lab, VIP, 1), 20)
    return daemons


def agent_transitions(agent: Any) -> Callable[[], int]:
    return lambda: int(agent.instance()["counters"]["transitions"])


def keepalived_transitions(daemon: Any) -> Callable[[], int]:
    return lambda: daemon.log_text().count("Entering MASTER STATE")
