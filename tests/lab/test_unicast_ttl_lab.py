"""Unicast TTL and source checks on the wire (keepalived 2.2.7's unicast_ttl,
unicast_peer min_ttl/max_ttl, check_unicast_src), beside real keepalived.

- The agent's unicast adverts leave with `unicast_ttl` (read from a capture), and
  keepalived, told to accept exactly that TTL from it, stays backup.
- keepalived's unicast adverts with its `unicast_ttl` pass the agent's per-peer
  range; with a range that excludes them they are dropped and counted ("ttl").
- Adverts crafted from the client (scapy) from a non-peer source, or from a
  peer's address with a TTL out of range, are dropped and counted
  ("unicast_src", "ttl") and the agent takes over as if they were not there.
"""

from __future__ import annotations

import pickle
import sys
import time
from pathlib import Path

import pytest
from agentlab import Agent, agent_instance
from netlab import Keepalived, Lab, keepalived_instance, owned_only_by, wait_until

HERE = Path(__file__).resolve().parent
VIP = "198.51.100.100"
VRID = 51
SLOW = 20.0


def _unicast(src: str, peer: str, ttl: int = 0, peer_opts: str = "") -> str:
    lines = f"    unicast_src_ip {src}\n    unicast_peer {{\n        {peer} {peer_opts}\n    }}\n"
    return lines + (f"    unicast_ttl {ttl}\n" if ttl else "")


def _discards(agent: Agent) -> dict:
    return agent.instance()["counters"]["discards"]


def _ttls(pcap: Path, src: str) -> set:
    from scapy.all import IP, rdpcap  # test-side oracle

    return {p[IP].ttl for p in rdpcap(str(pcap)) if IP in p and p[IP].src == src
            and p[IP].proto == 112}


def test_unicast_ttl_keepalived_accepts(lab: Lab, keepalived_bin: str):
    n1, n2 = lab.node(1), lab.node(2)
    capture = lab.capture(n1, bpf_filter="ip proto 112")
    agent = Agent(n2, agent_instance(priority=150, version=3, advert_int=0.2,
                                     extra=_unicast(n2.ip4, n1.ip4, ttl=9)))
    keepalived = Keepalived(n1, keepalived_instance(
        priority=100, version=3, advert_int=0.2,
        extra=_unicast(n1.ip4, n2.ip4, peer_opts="min_ttl 9 max_ttl 9")))
    wait_until(owned_only_by(lab, VIP, 2), SLOW)
    time.sleep(1.5)  # keepalived would be master by now if it dropped the adverts
    assert lab.owner_nodes(VIP, timeout=0.15) == {2}
    assert not n1.has_address(VIP)
    assert "TTL/HL" not in keepalived.log_text()
    assert agent.state() == "MASTER"
    capture.terminate()
    capture.wait(5)
    assert _ttls(capture.pcap_path, n2.ip4) == {9}  # type: ignore[attr-defined]


@pytest.mark.parametrize("accepted", [True, False], ids=["in-range", "out-of-range"])
def test_keepalived_unicast_ttl_is_checked_against_the_peer_range(lab: Lab, keepalived_bin: str,
                                                                   accepted: bool):
    n1, n2 = lab.node(1), lab.node(2)
    Keepalived(n1, keepalived_instance(priority=150, version=3, advert_int=0.2,
                                       extra=_unicast(n1.ip4, n2.ip4, ttl=17)))
    bounds = "min_ttl 17 max_ttl 17" if accepted else "min_ttl 18"
    agent = Agent(n2, agent_instance(priority=100, version=3, advert_int=0.2,
                                     extra=_unicast(n2.ip4, n1.ip4, peer_opts=bounds)))
    if accepted:
        wait_until(owned_only_by(lab, VIP, 1), SLOW)
        time.sleep(1.0)
        assert agent.state() == "BACKUP" and agent.instance()["master_priority"] == 150
        assert _discards(agent)["ttl"] == 0
    else:
        wait_until(lambda: _discards(agent)["ttl"] >= 5, SLOW, message="TTL 17 drops counted")
        wait_until(lambda: agent.state() == "MASTER", SLOW, message="the agent hears no master")


def _forged(src: str, dst: str, ttl: int, priority: int = 200) -> bytes:
    from scapy.all import IP
    from scapy.layers.vrrp import VRRPv3

    return bytes(IP(src=src, dst=dst, ttl=ttl, tos=0xC0)
                 / VRRPv3(vrid=VRID, priority=priority, adv=20, addrlist=[VIP]))


def test_forged_unicast_adverts_from_strangers_or_with_wrong_ttl_are_dropped(lab: Lab):
    """RFC 5798 §7.1 plus keepalived's unicast checks: a higher priority that is not
    a peer, or a peer's address arriving with a TTL out of its range, elects nobody."""
    n1, n2 = lab.node(1), lab.node(2)
    assert lab.client is not None
    agent = Agent(n2, agent_instance(priority=100, version=3, advert_int=0.2, extra=(
        _unicast(n2.ip4, n1.ip4, peer_opts="min_ttl 250") + "    check_unicast_src\n")))
    pool = [_forged(lab.client.ip4, n2.ip4, 255), _forged(n1.ip4, n2.ip4, 64)]
    pool_path = lab.logdir / "forged.pickle"
    pool_path.write_bytes(pickle.dumps(pool))
    deadline = time.monotonic() + SLOW
    while agent.state() != "MASTER" and time.monotonic() < deadline:
        lab.client.run([sys.executable, str(HERE / "inject.py"), str(pool_path), "2", "0", n2.ip4])
        time.sleep(0.1)
    assert agent.state() == "MASTER"
    discards = _discards(agent)
    assert discards["unicast_src"] >= 1 and discards["ttl"] >= 1, discards
    # the same advert from the peer's address with an accepted TTL is obeyed
    good = lab.logdir / "good.pickle"
    good.write_bytes(pickle.dumps([_forged(n1.ip4, n2.ip4, 250)]))
    deadline = time.monotonic() + SLOW
    while agent.state() != "BACKUP" and time.monotonic() < deadline:
        lab.client.run([sys.executable, str(HERE / "inject.py"), str(good), "1", "0", n2.ip4])
        time.sleep(0.1)
    assert agent.state() == "BACKUP"


def test_mcast_dst_ip_group_is_shared_with_keepalived(lab: Lab, keepalived_bin: str):
    """Both daemons on multicast group 224.0.0.19: one election, adverts to that group."""
    n1, n2 = lab.node(1), lab.node(2)
    capture = lab.capture(n1, bpf_filter="ip proto 112")
    extra = "    mcast_dst_ip 224.0.0.19\n"
    Keepalived(n1, keepalived_instance(priority=100, version=3, advert_int=0.2, extra=extra))
    agent = Agent(n2, agent_instance(priority=150, version=3, advert_int=0.2, extra=extra))
    wait_until(owned_only_by(lab, VIP, 2), SLOW)
    time.sleep(1.0)
    assert lab.owner_nodes(VIP, timeout=0.15) == {2}
    assert sum(_discards(agent).values()) == 0
    capture.terminate()
    capture.wait(5)
    from scapy.all import IP, rdpcap

    dsts = {p[IP].dst for p in rdpcap(str(capture.pcap_path))  # type: ignore[attr-defined]
            if IP in p and p[IP].proto == 112}
    assert dsts == {"224.0.0.19"}
    agent.stop()
    wait_until(owned_only_by(lab, VIP, 1), SLOW)  # priority 0 went to the group too


def test_track_src_ip_faults_while_the_unicast_source_is_removed(lab: Lab):
    n1, n2 = lab.node(1), lab.node(2)
    agent = Agent(n2, agent_instance(priority=150, version=3, advert_int=0.2, extra=(
        _unicast(n2.ip4, n1.ip4) + "    track_src_ip\n")))
    wait_until(lambda: agent.state() == "MASTER", SLOW)
    prefix = next(a for a in n2.addresses() if a.startswith(n2.ip4 + "/"))
    n2.ip("addr", "del", prefix, "dev", "eth0")
    wait_until(lambda: agent.state() == "FAULT", SLOW, message="FAULT without the source")
    wait_until(lambda: not n2.has_address(VIP), SLOW, message="VIP released in FAULT")
    n2.ip("addr", "add", prefix, "dev", "eth0")
    wait_until(lambda: agent.state() == "MASTER", SLOW, message="back with the source")


@pytest.mark.parametrize("agent_mode", ["config", "auto"])
def test_old_unicast_checksum_with_keepalived(lab: Lab, keepalived_bin: str, agent_mode: str):
    """keepalived 2.2.7 with `old_unicast_checksum` checks only the pre-1.3.6 v3 unicast form
    (224.0.0.18 in the pseudo-header). The agent sends it when configured so, or ("auto",
    keepalived's default) once it hears it from the peer; then keepalived stays backup."""
    n1, n2 = lab.node(1), lab.node(2)
    old = "    old_unicast_checksum\n"
    Keepalived(n1, keepalived_instance(priority=100, version=3, advert_int=0.2,
                                       extra=_unicast(n1.ip4, n2.ip4) + old))
    agent = Agent(n2, agent_instance(priority=150, version=3, advert_int=0.2, extra=(
        _unicast(n2.ip4, n1.ip4) + (old if agent_mode == "config" else ""))))
    wait_until(owned_only_by(lab, VIP, 2), SLOW)
    time.sleep(1.0)
    assert lab.owner_nodes(VIP, timeout=0.15) == {2}
    assert agent.state() == "MASTER"
    if agent_mode == "auto":
        assert "old unicast VRRPv3 checksum" in agent.log_text()


def test_unicast_hop_limit_ipv6_keepalived_accepts(lab: Lab, keepalived_bin: str):
    """IPv6: unicast_ttl is the hop limit of the agent's unicast adverts (a control message on
    each send); keepalived accepts exactly that hop limit from it and stays backup."""
    n1, n2 = lab.node(1), lab.node(2)
    vip6 = "2001:db8:100::100"
    capture = lab.capture(n1, bpf_filter="ip6 proto 112")
    common = dict(version=3, advert_int=0.2, vips=[f"{vip6}/64"])
    agent = Agent(n2, agent_instance(priority=150, **common,
                                     extra=_unicast(n2.ip6, n1.ip6, ttl=9)))
    keepalived = Keepalived(n1, keepalived_instance(
        priority=100, **common, extra=_unicast(n1.ip6, n2.ip6, peer_opts="min_ttl 9 max_ttl 9")))
    wait_until(owned_only_by(lab, vip6, 2), SLOW)
    time.sleep(1.5)
    assert lab.owner_nodes(vip6, timeout=0.15) == {2} and agent.state() == "MASTER"
    assert "TTL/HL" not in keepalived.log_text()
    capture.terminate()
    capture.wait(5)
    from scapy.all import IPv6, rdpcap

    hops = {p[IPv6].hlim for p in rdpcap(str(capture.pcap_path))  # type: ignore[attr-defined]
            if IPv6 in p and p[IPv6].src == n2.ip6}
    assert hops == {9}


@pytest.mark.parametrize("track", [True, False], ids=["track_src_ip", "plain"])
def test_a_missing_unicast_source_is_fault_until_it_is_added(lab: Lab, track: bool):
    """A unicast_src_ip that is not on the host: FAULT (not a crash), then normal service
    once the address is added (checked again every second)."""
    n1, n2 = lab.node(1), lab.node(2)
    src = "198.51.100.77"
    agent = Agent(n2, agent_instance(priority=150, version=3, advert_int=0.2, extra=(
        _unicast(src, n1.ip4) + ("    track_src_ip\n" if track else ""))))
    wait_until(lambda: agent.state() == "FAULT", SLOW, message="FAULT without the source")
    assert "src_ip" in agent.instance()["tracking"]["faults"]
    n2.ip("addr", "add", f"{src}/24", "dev", "eth0")
    wait_until(lambda: agent.state() == "MASTER", SLOW, message="MASTER once the source is there")
    wait_until(lambda: n2.has_address(VIP), SLOW)
