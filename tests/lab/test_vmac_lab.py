"""use_vmac / vmac_xmit_base beside real keepalived 2.2.7 (RFC 5798 §7.3 virtual MAC).

keepalived is master on node 1 and the agent backup on node 2, both reading the
same instance text: their vMAC links and the sysctls they set must be the same;
the adverts and gratuitous ARPs of each master leave from the virtual MAC (the
parent's MAC with vmac_xmit_base, adverts only); both set up the same nftables
table (IGMP leaving the vMAC goes out of the parent); after a stop the vMAC is gone
and the agent has put every sysctl back (keepalived leaves the parent's two). A vMAC on an
interface that cannot carry a macvlan is refused with FILE:LINE before anything
changes.
"""

from __future__ import annotations

import json
import re
import sys

import pytest
from agentlab import AGENT_DIR, Agent, agent_instance
from netlab import Host, Keepalived, Lab, keepalived_instance, wait_until
from nftlab import nftables_lib, ruleset  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("keepalived_bin")

VIP = "198.51.100.100"
VMAC = "00:00:5e:00:01:33"  # VRID 51
V4_KEYS = ("arp_ignore", "arp_filter", "arp_announce", "accept_local", "rp_filter",
           "promote_secondaries")


def sysctls(node: Host, *ifnames: str) -> dict:
    script = "; ".join(f"echo {i}.{k}=$(cat /proc/sys/net/ipv4/conf/{i}/{k} 2>/dev/null)"
                       for i in ("all", "default", *ifnames) for k in V4_KEYS)
    out = node.run(["sh", "-c", script]).stdout
    return dict(line.split("=", 1) for line in out.split())


def vmac_link(node: Host, name: str = "vrrp.51") -> dict:
    """The vMAC as the kernel shows it ({} when absent)."""
    cp = node.ip("-d", "-j", "link", "show", "dev", name, check=False)
    if cp.returncode != 0:
        return {}
    link = json.loads(cp.stdout)[0]
    info = link.get("linkinfo", {})
    v6 = node.run(["cat", f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6"]).stdout.strip()
    return {"kind": info.get("info_kind"), "mode": info.get("info_data", {}).get("mode"),
            "address": link["address"], "parent": link.get("link"), "up": "UP" in link["flags"],
            "disable_ipv6": v6}


def on_vmac(node: Host, name: str = "vrrp.51") -> bool:
    cp = node.ip("-j", "addr", "show", "dev", name, check=False)
    return cp.returncode == 0 and f'"{VIP}"' in cp.stdout


def advert_source_mac(lab: Lab) -> str:
    """The Ethernet source of one VRRP advert as the client sees it."""
    assert lab.client is not None
    out = lab.client.run(["timeout", "5", "tcpdump", "-e", "-n", "-c", "1", "-i", "eth0",
                          "ip proto 112"], check=False).stdout
    match = re.search(r"([0-9a-f]{2}(?::[0-9a-f]{2}){5}) >", out)
    assert match, out
    return match.group(1)


@pytest.mark.parametrize("xmit_base", [False, True], ids=["vmac", "xmit_base"])
@pytest.mark.usefixtures("nftables_lib")
def test_use_vmac_matches_keepalived(lab: Lab, xmit_base: bool):
    n1, n2 = lab.node(1), lab.node(2)
    extra = "    use_vmac\n" + ("    vmac_xmit_base\n" if xmit_base else "")
    before = {n: sysctls(n, "eth0") for n in (n1, n2)}
    with lab.watch_garp(VIP) as watch:
        keepalived = Keepalived(n1, keepalived_instance(state="MASTER", priority=150, extra=extra))
        wait_until(lambda: on_vmac(n1), 15, message="keepalived master holds the VIP on its vMAC")
        agent = Agent(n2, agent_instance(priority=100, extra=extra))
        wait_until(lambda: agent.state() == "BACKUP", 15, message="agent backup")

        # the same link and the same sysctls on both nodes
        assert vmac_link(n1) == vmac_link(n2) == {
            "kind": "macvlan", "mode": "private", "address": VMAC, "parent": "eth0",
            "up": True, "disable_ipv6": "1"}
        assert sysctls(n2, "eth0", "vrrp.51") == sysctls(n1, "eth0", "vrrp.51")
        # keepalived's nftables table: IGMP leaving the vMAC goes out of the parent
        assert ruleset(n2) == ruleset(n1) and ("ip", "keepalived") in ruleset(n1)
        assert not on_vmac(n2) and not n2.has_address(VIP)
        want_src = n1.macs["eth0"] if xmit_base else VMAC
        assert advert_source_mac(lab) == want_src
        keepalived_garps = {r["eth_src"] for r in watch.records()}

        keepalived.stop()
        wait_until(lambda: on_vmac(n2), 15, message="the agent takes the VIP on its vMAC")
        wait_until(lambda: lab.arp_owners(VIP) == {VMAC}, 10, message="the vMAC answers ARP")
        assert advert_source_mac(lab) == (n2.macs["eth0"] if xmit_base else VMAC)
        wait_until(lambda: len(watch.records()) > 5, 10, message="the agent's GARPs")
        agent_garps = {r["eth_src"] for r in watch.records()}
        assert keepalived_garps == agent_garps == {VMAC}
        assert {r["mac"] for r in watch.records()} == {VMAC}  # ARP sender hardware address

        assert agent.stop() == 0
    assert vmac_link(n1) == vmac_link(n2) == {}
    assert ruleset(n1) == ruleset(n2) == {}
    assert sysctls(n2, "eth0") == before[n2]  # the agent puts every sysctl back
    # keepalived 2.2.7 leaves arp_ignore/arp_filter set on the parent (a documented difference)
    left = {k: v for k, v in sysctls(n1, "eth0").items() if before[n1][k] != v}
    assert left == {"eth0.arp_ignore": "1", "eth0.arp_filter": "1"}


def test_use_vmac_with_rp_filter_restores_it(make_lab):
    """all.rp_filter=1: spread to the interfaces, all=0, and everything back after stop."""
    lab = make_lab(nodes=1, client=False)
    n1 = lab.node(1)
    n1.sysctl({"net.ipv4.conf.all.rp_filter": 1})
    before = sysctls(n1, "eth0", "lo")
    agent = Agent(n1, agent_instance(state="MASTER", priority=150, extra="    use_vmac\n"))
    wait_until(lambda: on_vmac(n1), 15, message="VIP on the vMAC")
    during = sysctls(n1, "eth0", "lo", "vrrp.51")
    assert during["all.rp_filter"] == "0"
    assert during["eth0.rp_filter"] == during["lo.rp_filter"] == during["default.rp_filter"] == "1"
    assert during["vrrp.51.rp_filter"] == "0"
    assert agent.stop() == 0
    assert sysctls(n1, "eth0", "lo") == before


@pytest.mark.parametrize("interface", ["lo", "br0"])
def test_use_vmac_on_an_interface_without_macvlan_is_refused(make_lab, interface: str):
    """Bad input: FILE:LINE from check-config, and `run` changes nothing."""
    lab = make_lab(nodes=1, client=False)
    n1 = lab.node(1)
    if interface == "br0":  # eth0 becomes a bridge port: its receive hook is taken
        n1.ip_batch(["link add br0 type bridge", "link set eth0 master br0", "link set br0 up"])
    conf = agent_instance(state="MASTER", interface=interface, extra="    use_vmac\n")
    if interface == "br0":
        conf = conf.replace("interface br0", "interface eth0")
    path = lab.logdir / "bad.conf"
    path.write_text(conf)
    agent = ["env", f"PYTHONPATH={AGENT_DIR}", sys.executable, "-m", "vrrp_agent"]
    cp = n1.run([*agent, "check-config", "-f", str(path)], check=False)
    assert cp.returncode == 1
    line = conf.splitlines().index("    use_vmac") + 1
    want = "is not an Ethernet interface" if interface == "lo" else "is a bridge port"
    assert f"{path}:{line}: use_vmac:" in cp.stderr and want in cp.stderr, cp.stderr
    run = n1.run([*agent, "run", "-f", str(path), "--state-dir", str(lab.logdir / "st")],
                 check=False, timeout=20)
    assert run.returncode != 0 and "use_vmac" in run.stderr
    assert vmac_link(n1) == {}


def test_use_vmac_parent_link_down_is_a_fault(make_lab):
    """The vMAC follows its parent: eth0 down -> FAULT, VIP gone; eth0 up -> MASTER again."""
    lab = make_lab(nodes=1, client=False)
    n1 = lab.node(1)
    agent = Agent(n1, agent_instance(state="MASTER", priority=150, extra="    use_vmac\n"))
    wait_until(lambda: on_vmac(n1), 15, message="VIP on the vMAC")
    n1.link_down("eth0")
    wait_until(lambda: agent.state() == "FAULT", 10, message="FAULT with the parent down")
    assert not on_vmac(n1)
    n1.link_up("eth0")
    wait_until(lambda: agent.state() == "MASTER" and on_vmac(n1), 15, message="MASTER again")
    assert agent.stop() == 0


def _v6_vmac(node: Host) -> dict:
    """The IPv6 vMAC's link, its addresses (flags) and the parent's link-local."""
    link = vmac_link(node)
    if not link:
        return {}
    mode = node.run(["cat", "/proc/sys/net/ipv6/conf/vrrp.51/addr_gen_mode"]).stdout.strip()
    addrs = {}
    for entry in json.loads(node.ip("-j", "-6", "addr", "show", "dev", "vrrp.51").stdout):
        for a in entry["addr_info"]:
            addrs[a["local"]] = sorted(k for k in ("nodad", "deprecated") if a.get(k))
    parent_ll = [a for a in node.addresses("eth0") if a.startswith("fe80:")]
    return dict(link, addr_gen_mode=mode, addresses=addrs, parent_ll=parent_ll)


@pytest.mark.usefixtures("nftables_lib")
def test_use_vmac_ipv6_matches_keepalived(lab: Lab):
    """IPv6: MAC 00:00:5e:00:02:VRID, the parent's link-local (nodad, deprecated) on the vMAC,
    no IPv4 sysctl changed, keepalived's MLD/RS rules; the NAs and adverts leave from the vMAC."""
    n1, n2 = lab.node(1), lab.node(2)
    vip6, vmac6 = "2001:db8:100::100", "00:00:5e:00:02:33"
    spec = dict(version=3, advert_int=0.5, vips=[f"{vip6}/64"], extra="    use_vmac\n")
    before = {n: sysctls(n, "eth0") for n in (n1, n2)}
    keepalived = Keepalived(n1, keepalived_instance(state="MASTER", priority=150, **spec))
    wait_until(lambda: vip6 in _v6_vmac(n1).get("addresses", {}), 15, message="keepalived's VIP")
    agent = Agent(n2, agent_instance(priority=100, **spec))
    wait_until(lambda: agent.state() == "BACKUP", 15, message="agent backup")
    k_state, a_state = _v6_vmac(n1), _v6_vmac(n2)
    assert k_state["address"] == a_state["address"] == vmac6
    assert k_state["addresses"].pop(vip6) == ["nodad"]
    for st in (k_state, a_state):  # the parent's link-local, nodad and deprecated
        (ll,) = st.pop("parent_ll")
        assert st.pop("addresses") == {ll.split("/")[0]: ["deprecated", "nodad"]}
    assert k_state == a_state and a_state["addr_gen_mode"] == "1" and a_state["mode"] == "private"
    assert ruleset(n2) == ruleset(n1) and ("ip6", "keepalived") in ruleset(n1)
    assert sysctls(n1, "eth0") == before[n1] and sysctls(n2, "eth0") == before[n2]

    with lab.watch_garp(vip6) as watch:
        keepalived.stop()
        wait_until(lambda: vip6 in _v6_vmac(n2).get("addresses", {}), 15, message="agent takes over")
        wait_until(lambda: lab.nd_owners(vip6) == {vmac6}, 10, message="the vMAC answers ND")
        wait_until(lambda: watch.records(), 10, message="the agent's unsolicited NAs")
        assert {r["eth_src"] for r in watch.records()} == {vmac6}
    out = lab.client.run(["timeout", "5", "tcpdump", "-e", "-n", "-c", "1", "-i", "eth0",
                          "ip6 proto 112"], check=False).stdout if lab.client else ""
    assert f"{vmac6} >" in out, out
    assert agent.stop() == 0
    assert vmac_link(n2) == {} and ruleset(n2) == {}


def test_use_vmac_keeps_an_other_family_evip_on_the_interface_like_keepalived(make_lab):
    """An IPv4 instance's vMAC carries its IPv4 VIPs; an IPv6 eVIP without dev stays on
    eth0 (the vMAC has no IPv6), as keepalived places it. One engine after the other."""
    lab = make_lab(nodes=1, client=False)
    n1 = lab.node(1)
    extra = ("    use_vmac\n    virtual_ipaddress_excluded {\n        198.51.100.101/24\n"
             "        2001:db8:100::100/64\n    }\n")
    wanted = {"198.51.100.100", "198.51.100.101", "2001:db8:100::100"}

    def placement() -> dict:
        out = {}
        for link in json.loads(n1.ip("-j", "addr").stdout):
            for a in link["addr_info"]:
                if a["local"] in wanted:
                    out[a["local"]] = link["ifname"]
        return out

    seen = {}
    for engine in ("keepalived", "agent"):
        if engine == "keepalived":
            daemon = Keepalived(n1, keepalived_instance(state="MASTER", priority=150, extra=extra))
        else:
            daemon = Agent(n1, agent_instance(state="MASTER", priority=150, extra=extra))
        wait_until(lambda: len(placement()) == 3, 15, message="every VIP in place")
        seen[engine] = placement()
        daemon.stop()
        wait_until(lambda: not placement() and vmac_link(n1) == {}, 10, message="all removed")
    assert seen["agent"] == seen["keepalived"] == {
        "198.51.100.100": "vrrp.51", "198.51.100.101": "vrrp.51", "2001:db8:100::100": "eth0"}


def test_two_families_on_one_vrid_get_keepalived_vmac_names(make_lab):
    """An IPv4 and an IPv6 instance with VRID 51 on eth0: vrrp.51 and vrrp6.51, each with its
    family's virtual MAC and VIP, as keepalived names and fills them. One engine at a time."""
    lab = make_lab(nodes=1, client=False)
    n1 = lab.node(1)
    v6 = agent_instance(name="VI_6", state="MASTER", priority=150, version=3,
                        vips=["2001:db8:100::100/64"], extra="    use_vmac\n")
    seen = {}
    for engine in ("keepalived", "agent"):
        if engine == "keepalived":
            v4 = keepalived_instance(state="MASTER", priority=150, version=3, extra="    use_vmac\n")
            daemon = Keepalived(n1, v4 + v6)
        else:
            daemon = Agent(n1, agent_instance(state="MASTER", priority=150, version=3,
                                              extra="    use_vmac\n") + v6)

        def links() -> dict:
            out = {}
            for link in json.loads(n1.ip("-j", "addr").stdout):
                if link["ifname"].startswith("vrrp"):
                    out[link["ifname"]] = (link["address"], sorted(
                        a["local"] for a in link["addr_info"] if not a["local"].startswith("fe80")))
            return out

        wait_until(lambda: len(links()) == 2 and all(v[1] for v in links().values()), 15,
                   message=f"{engine}'s two vMACs with their VIPs")
        seen[engine] = links()
        daemon.stop()
        wait_until(lambda: not links(), 10, message="vMACs removed")
    assert seen["agent"] == seen["keepalived"] == {
        "vrrp.51": (VMAC, ["198.51.100.100"]),
        "vrrp6.51": ("00:00:5e:00:02:33", ["2001:db8:100::100"])}


PER_VIP = {
    "vip-use_vmac": "    virtual_ipaddress_excluded {\n        203.0.113.100/24 dev eth1 use_vmac\n    }\n",
    "use_vmac_addr": ("    use_vmac_addr\n    virtual_ipaddress_excluded {\n"
                      "        203.0.113.100/24 dev eth1\n        2001:db8:100::100/64\n    }\n"),
}


@pytest.mark.parametrize("case", sorted(PER_VIP))
@pytest.mark.usefixtures("nftables_lib")
def test_per_vip_vmacs_like_keepalived(make_lab, case: str):
    """VIP option use_vmac / use_vmac_addr: a vMAC per (interface, family) named and filled
    as keepalived does (vrrp1.51 on eth1, vrrp6.51 for IPv6 on eth0). One engine at a time."""
    lab = make_lab(nodes=1, ifaces=("eth0", "eth1"), client=False)
    n1 = lab.node(1)
    extra = "    use_vmac\n" + PER_VIP[case]

    def links() -> dict:
        out = {}
        for link in json.loads(n1.ip("-j", "addr").stdout):
            if link["ifname"].startswith("vrrp"):
                out[link["ifname"]] = (link["address"], link.get("link"), sorted(
                    a["local"] for a in link["addr_info"] if not a["local"].startswith("fe80")))
        return out

    seen = {}
    want = 3 if case == "use_vmac_addr" else 2
    for engine in ("keepalived", "agent"):
        if engine == "keepalived":
            daemon = Keepalived(n1, keepalived_instance(state="MASTER", priority=150, extra=extra))
        else:
            daemon = Agent(n1, agent_instance(state="MASTER", priority=150, extra=extra))
        wait_until(lambda: len(links()) == want and all(v[2] for v in links().values()), 15,
                   message=f"{engine}'s vMACs with their VIPs")
        seen[engine] = (links(), ruleset(n1))
        daemon.stop()
        wait_until(lambda: not links(), 10, message="vMACs removed")
    assert seen["agent"][0] == seen["keepalived"][0]
    assert seen["agent"][0]["vrrp1.51"] == (VMAC, "eth1", ["203.0.113.100"])
    assert seen["agent"][1] == seen["keepalived"][1]
