"""The IPv4 header of the agent's adverts on the wire (adapters/sockets.py).

RFC 5798 §5.1.1: TTL 255, protocol 112; TOS 0xC0 as keepalived sends. The send
socket asks for Don't Fragment itself (IP_PMTUDISC_PROBE), so the kernel
writes IP ID 0 and never runs its random ID generator on the send path: that
generator took 80-95 us of a backup's first advert as master in 3 of 5
takeovers traced (issue 14). The capture holds the master's adverts and the
backup's first ones after a takeover: every one has DF and ID 0. (tcpdump
writes what libpcap hands it, in blocks: the test waits for a block written
after the new master's third advert.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

from agentlab import Agent, agent_instance
from netlab import Lab, owned_only_by, wait_until

VIP4 = "198.51.100.100"
SLOW = 20.0


def _headers(pcap: Path) -> Dict[str, List[tuple]]:
    from scapy.all import IP, rdpcap  # test-side oracle

    by_src: Dict[str, List[tuple]] = {}
    for packet in rdpcap(str(pcap)):
        if IP in packet and packet[IP].proto == 112:
            ip = packet[IP]
            by_src.setdefault(ip.src, []).append((str(ip.flags), ip.id, ip.tos, ip.ttl))
    return by_src


def test_rfc5798_5_1_1_adverts_leave_with_df_and_ip_id_0_before_and_after_a_takeover(lab: Lab):
    agents = {i: Agent(lab.node(i), agent_instance(priority=p, version=3, advert_int=0.1))
              for i, p in ((1, 150), (2, 100))}
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    capture = lab.capture(lab.node(1), bpf_filter="ip proto 112")
    pcap: Path = capture.pcap_path  # type: ignore[attr-defined]
    wait_until(lambda: pcap.stat().st_size > 200, SLOW)  # tcpdump writes what libpcap hands it
    agents[1].freeze()
    wait_until(lambda: lab.node(2).has_address(VIP4), SLOW, message="node 2 takes the VIP")
    wait_until(lambda: agents[2].instance()["counters"]["adverts_sent"] >= 3, SLOW)
    written = pcap.stat().st_size
    wait_until(lambda: pcap.stat().st_size > written, SLOW)  # a block after those three
    capture.terminate()
    capture.wait(5)
    agents[1].thaw()
    headers = _headers(pcap)
    master, new_master = headers.get(lab.node(1).ip4, []), headers.get(lab.node(2).ip4, [])
    assert master and new_master, headers
    assert set(master) == set(new_master) == {("DF", 0, 0xC0, 255)}, headers
