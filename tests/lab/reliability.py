"""The reliability suite: the same code runs shortened in `make test`
(tests/lab/test_reliability.py) and in full in `make reliability`
(bench/reliability.py, counts written to docs/reliability.md).

Each check returns a dict of counts; the caller decides how many cycles.
- garbage:   malformed, foreign and almost-valid protocol-112 packets sent on
             the wire (scapy builds the pool; a raw socket replays it).
- partition: both nodes' switch ports isolated (carrier stays up), then healed.
- sigkill:   SIGKILL of the master agent and restart, a client pinging the VIP.
- reloads:   reloads under ping load.
"""

from __future__ import annotations

import math
import pickle
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

from agentlab import Agent, agent_instance
from netlab import Lab, owned_only_by, wait_until

VIP = "198.51.100.100"
VRID = 51
HERE = Path(__file__).resolve().parent


def _garbage_pool(lab: Lab, size: int, seed: int) -> List[bytes]:
    """IPv4 datagrams that no instance may accept, with the reason each one hits."""
    from scapy.layers.inet import IP
    from scapy.layers.vrrp import VRRP, VRRPv3

    rng = random.Random(seed)
    dst, src = "224.0.0.18", lab.client.ip4  # type: ignore[union-attr]
    pool: List[bytes] = []

    def ip(ttl: int = 255) -> IP:
        return IP(src=src, dst=dst, ttl=ttl, proto=112)

    for _ in range(size):
        kind = rng.randrange(8)
        prio = rng.randint(1, 254)
        good = VRRP(vrid=VRID, priority=prio, adv=1, addrlist=[VIP])
        if kind == 0:  # random payload
            pkt = ip() / bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 80)))
        elif kind == 1:  # wrong checksum
            pkt = ip() / VRRP(vrid=VRID, priority=prio, adv=1, addrlist=[VIP],
                              chksum=rng.randint(0, 0xFFFF))
            if bytes(pkt[VRRP]) == bytes(good):
                continue
        elif kind == 2:  # count that does not match the length
            raw = bytearray(bytes(good))
            raw[3] = rng.choice([0, 2, 3, 200])
            pkt = ip() / bytes(raw)
        elif kind == 3:  # TTL other than 255 (a routed, forged advert)
            pkt = ip(ttl=rng.randint(1, 254)) / good
        elif kind == 4:  # VRRPv3 to a v2 instance, valid otherwise
            pkt = ip() / VRRPv3(vrid=VRID, priority=prio, adv=100, addrlist=[VIP])
        elif kind == 5:  # unknown VRID
            pkt = ip() / VRRP(vrid=rng.choice([v for v in range(1, 256) if v != VRID]),
                              priority=prio, addrlist=[VIP])
        elif kind == 6:  # ucarp's CARP on protocol 112
            pkt = ip() / (bytes([0x21, VRID, 0, 7, 0, 1, 0, 0]) + bytes(28))
        else:  # bad version nibble / type nibble
            raw = bytearray(bytes(good))
            raw[0] = rng.choice([0x11, 0x22, 0x41, 0x2F, 0x00])
            pkt = ip() / bytes(raw)
        pool.append(bytes(pkt))
    return pool


def garbage(lab: Lab, agents: Dict[int, Agent], count: int, seed: int = 1) -> Dict[str, int]:
    """Send `count` bad packets from the client; nothing may change but the counters."""
    before = {i: a.instance()["state"] for i, a in agents.items()}
    pool_path = lab.logdir / "garbage.pickle"
    pool_path.write_bytes(pickle.dumps(_garbage_pool(lab, min(count, 5000), seed)))
    cp = lab.client.run([sys.executable, str(HERE / "inject.py"), str(pool_path), str(count)],  # type: ignore[union-attr]
                        timeout=600)
    sent = int(cp.stdout.strip())
    time.sleep(0.5)
    result = {"sent": sent, "crashes": 0, "state_changes": 0, "discards_counted": 0}
    for i, agent in agents.items():
        if not agent.running:
            result["crashes"] += 1
            continue
        status = agent.status()
        inst = status["instances"][0]
        result["state_changes"] += inst["state"] != before[i]
        result["discards_counted"] += sum(inst["counters"]["discards"].values())
        result["discards_counted"] += sum(status["agent"]["discards"].values())
    return result


def _set_isolated(lab: Lab, on: bool) -> None:
    for node in lab.nodes:
        lab.switch.ip("link", "set", "dev", node.peers["eth0"], "type", "bridge_slave",
                      "isolated", "on" if on else "off")


def partition(lab: Lab, agents: Dict[int, Agent], cycles: int) -> Dict[str, Any]:
    """Isolate the nodes (both become master), heal: exactly one master within master-down.

    Besides the timings (for docs/reliability.md, never asserted), what each heal
    did: which node was master after it, and the transitions each node made. The
    higher-priority node 1 never hears node 2 while cut off, so it never leaves
    MASTER; node 2 takes over once per cut and yields once per heal.
    """
    master_down = 3 * 0.1 + (256 - 100) / 256 * 0.1
    worst = 0.0
    over = 0
    before = {i: a.instance()["counters"] for i, a in agents.items()}
    masters_after_heal = []
    for _ in range(cycles):
        _set_isolated(lab, True)
        wait_until(lambda: all(a.state() == "MASTER" for a in agents.values()), 10,
                   message="both nodes master while partitioned")
        healed = time.monotonic()
        _set_isolated(lab, False)
        wait_until(lambda: sorted(a.state() for a in agents.values()) == ["BACKUP", "MASTER"], 10,
                   interval=0.005, message="one master after the heal")
        took = time.monotonic() - healed
        worst = max(worst, took)
        over += took > master_down
        masters_after_heal.append([i for i, a in agents.items() if a.state() == "MASTER"])
    wait_until(owned_only_by(lab, VIP, 1), 10)
    after = {i: a.instance()["counters"] for i, a in agents.items()}
    delta = {i: {k: after[i][k] - before[i][k] for k in ("transitions", "became_master", "released_master")}
             for i in agents}
    return {"cycles": cycles, "worst_s": round(worst, 3), "over_master_down": over,
            "master_down_s": round(master_down, 3), "masters_after_heal": masters_after_heal,
            "counter_deltas": delta}


def _ping_gaps(lab: Lab, seconds: float) -> subprocess.Popen:
    return lab.client.popen(["ping", "-D", "-n", "-i", "0.01", "-W", "0.05", "-w", str(math.ceil(seconds)),  # type: ignore[union-attr]
                             VIP], name="ping-gaps")


def _longest_gap(ping: subprocess.Popen) -> float:
    ping.wait(120)
    text = ping.log_path.read_text()  # type: ignore[attr-defined]
    stamps = [float(m) for m in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from", text, re.M)]
    if len(stamps) < 2:
        raise RuntimeError(f"ping produced no replies to measure: {text[-300:]!r}")
    return max(b - a for a, b in zip(stamps, stamps[1:]))


def sigkill(lab: Lab, agents: Dict[int, Agent], cycles: int) -> Dict[str, float]:
    """SIGKILL the master and restart it; the client's longest ping gap, and single owner after."""
    master_down = 3 * 0.1 + (256 - 100) / 256 * 0.1
    worst_gap = 0.0
    double_owners = 0
    for _ in range(cycles):
        ping = _ping_gaps(lab, 3)
        time.sleep(0.3)
        agents[1].kill()
        agents[1].start()
        time.sleep(2.0)
        worst_gap = max(worst_gap, _longest_gap(ping))
        wait_until(owned_only_by(lab, VIP, 1), 10)
        double_owners += len(lab.owner_nodes(VIP, timeout=0.15)) > 1
    return {"cycles": cycles, "worst_gap_s": round(worst_gap, 3),
            "bound_s": round(master_down + 0.05, 3), "two_owners_after_convergence": double_owners}


def reloads(lab: Lab, agents: Dict[int, Agent], count: int) -> Dict[str, float]:
    ping = _ping_gaps(lab, max(2, count * 0.15 + 1))
    time.sleep(0.3)
    conf = agents[1].conf_path
    text = conf.read_text()
    failed = 0
    for n in range(count):
        conf.write_text(text + f"! reload {n % 2}\n")
        failed += agents[1].cli("reload").returncode != 0
    gap = _longest_gap(ping)
    summary = re.search(r"(\d+) packets transmitted, (\d+) received", ping.log_path.read_text())  # type: ignore[attr-defined]
    lost = int(summary.group(1)) - int(summary.group(2)) if summary else -1
    return {"reloads": count, "failed": failed, "longest_ping_gap_s": round(gap, 3), "pings_lost": lost,
            "vip_held": lab.node(1).has_address(VIP)}


def invalid_configs(corpus: Path) -> Dict[str, int]:
    agent_dir = HERE.parents[1] / "files" / "agent"
    files = sorted(corpus.glob("*.conf"))
    rejected = tracebacks = located = 0
    for path in files:
        cp = subprocess.run([sys.executable, "-m", "vrrp_agent", "check-config", "--offline",
                             "-f", str(path)], capture_output=True, text=True,
                            env={"PYTHONPATH": str(agent_dir)})
        rejected += cp.returncode == 1
        tracebacks += "Traceback" in cp.stderr
        located += bool(re.match(rf"{re.escape(str(path))}:\d+: ", cp.stderr))
    return {"configs": len(files), "rejected": rejected, "with_file_line": located,
            "tracebacks": tracebacks}


def cluster(lab: Lab) -> Dict[int, Agent]:
    agents = {i: Agent(lab.node(i), agent_instance(priority=p, version=3, advert_int=0.1))
              for i, p in ((1, 150), (2, 100))}
    wait_until(owned_only_by(lab, VIP, 1), 20)
    return agents


def v2_cluster(lab: Lab) -> Dict[int, Agent]:
    agents = {i: Agent(lab.node(i), agent_instance(priority=p, version=2, advert_int=1))
              for i, p in ((1, 150), (2, 100))}
    wait_until(owned_only_by(lab, VIP, 1), 20)
    return agents
