"""Two instances on one interface share its sockets; each advertises from its own source
(RFC 5798 §5.1.1.1), beside keepalived 2.2.7, which checks the checksum over that source.

VI_1 sends from the interface primary address, VI_2 from its mcast_src_ip (a second
address on eth0): the capture shows each VRID from its source, and keepalived, a lower
priority for both, stays backup for both (an advert whose checksum was computed over
another source than the one on the wire is discarded, and keepalived would take over).
"""

from __future__ import annotations

import time

from agentlab import Agent, agent_instance
from netlab import Keepalived, Lab, keepalived_instance, owned_only_by, wait_until

VIP1, VIP2 = "198.51.100.100", "198.51.100.102"
SECOND = "198.51.100.52"
SLOW = 20.0


def _sources(pcap, other: str) -> dict:
    """VRID -> the sources of its adverts, but for `other` (keepalived's, before it yields)."""
    from scapy.all import IP, rdpcap  # test-side oracle

    seen: dict = {}
    for p in rdpcap(str(pcap)):  # type: ignore[attr-defined]
        if IP in p and p[IP].proto == 112 and p[IP].src != other:
            seen.setdefault(bytes(p[IP].payload)[1], set()).add(p[IP].src)
    return seen


def test_rfc5798_5_1_1_1_each_instance_advertises_from_its_own_source(lab: Lab, keepalived_bin: str):
    n1, n2 = lab.node(1), lab.node(2)
    n2.ip("addr", "add", f"{SECOND}/24", "dev", "eth0")
    capture = lab.capture(n1, bpf_filter="ip proto 112")
    common = {"version": 3, "advert_int": 0.2}
    Keepalived(n1, keepalived_instance(priority=100, **common)  # type: ignore[arg-type]
               + agent_instance("VI_2", vrid=52, priority=100, vips=(f"{VIP2}/24",), **common))
    agent = Agent(n2, agent_instance(priority=150, **common)  # type: ignore[arg-type]
                  + agent_instance("VI_2", vrid=52, priority=150, vips=(f"{VIP2}/24",),
                                   extra=f"    mcast_src_ip {SECOND}\n", **common))
    wait_until(owned_only_by(lab, VIP1, 2), SLOW)
    wait_until(owned_only_by(lab, VIP2, 2), SLOW)
    time.sleep(1.5)  # keepalived would have taken VI_2 over by now if it refused the adverts
    assert lab.owner_nodes(VIP2, timeout=0.15) == {2}
    assert agent.state("VI_2") == "MASTER" and not n1.has_address(VIP2)
    capture.terminate()
    capture.wait(5)
    assert _sources(capture.pcap_path, n1.ip4) == {51: {n2.ip4}, 52: {SECOND}}  # type: ignore[attr-defined]
    agent.stop()
    wait_until(owned_only_by(lab, VIP2, 1), SLOW)  # the priority 0 came from SECOND too


def test_rfc5798_5_1_1_1_ipv6_each_instance_advertises_from_its_own_link_local(lab: Lab):
    """The same over IPv6 (IPV6_PKTINFO): a second link-local address for VI_2; the
    agent on n1, backup of both, accepts every advert (no checksum discard)."""
    n1, n2 = lab.node(1), lab.node(2)
    second = "fe80::52"
    n2.ip("addr", "add", f"{second}/64", "dev", "eth0", "nodad")
    capture = lab.capture(n1, bpf_filter="ip6 proto 112")
    vips1, vips2 = ("2001:db8:100::100/64",), ("2001:db8:100::102/64",)
    common = {"version": 3, "advert_int": 0.2}

    def config(priority: int, extra2: str = "") -> str:
        return (agent_instance(priority=priority, vips=vips1, **common)  # type: ignore[arg-type]
                + agent_instance("VI_2", vrid=52, priority=priority, vips=vips2,  # type: ignore[arg-type]
                                 extra=extra2, **common))

    first = next(a.split("/")[0] for a in n2.addresses()  # eth0's own link-local
                 if a.startswith("fe80:") and not a.startswith(second + "/"))
    master = Agent(n2, config(150, f"    mcast_src_ip {second}\n").replace(
        "    version 3\n", f"    version 3\n    mcast_src_ip {first}\n", 1))
    wait_until(lambda: master.state("VI_2") == "MASTER", SLOW)
    backup = Agent(n1, config(100), name="backup")
    time.sleep(1.5)  # the backup would be master of VI_2 by now if it refused the adverts
    assert backup.state() == "BACKUP" and backup.state("VI_2") == "BACKUP"
    assert backup.instance("VI_2")["counters"]["discards"]["checksum"] == 0
    capture.terminate()
    capture.wait(5)
    from scapy.all import IPv6, rdpcap  # test-side oracle

    sources: dict = {}
    for p in rdpcap(str(capture.pcap_path)):  # type: ignore[attr-defined]
        if IPv6 in p and p[IPv6].nh == 112:
            sources.setdefault(bytes(p[IPv6].payload)[1], set()).add(p[IPv6].src)
    assert sources == {51: {first}, 52: {second}}
    backup.stop()
    master.stop()
