"""The BGP announcement plan (plugins/filter/vrrp_bgp.py) and the frr.conf it renders
(roles/vrrp/templates/frr.conf.j2), checked by FRR's own parser when vtysh is here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
from ansible_collections.linuxha.vrrp.plugins.filter.vrrp import vrrp_cluster_plan
from ansible_collections.linuxha.vrrp.plugins.filter.vrrp_bgp import vrrp_bgp_plan

REPO = Path(__file__).resolve().parents[3]
VI_1 = {"name": "VI_1", "interface": "eth0", "vrid": 51, "version": 3, "advert_int": 0.1,
        "vips": ["198.51.100.200/32"]}


def member(address, gateway, instances=None, **extra):
    facts = {"interfaces": ["lo", "eth0"], "eth0": {"ipv4": {"address": address}},
             "default_ipv4": {"address": address}}
    base = {"vrrp_instances": instances or [VI_1], "ansible_facts": facts, "vrrp_unicast": True,
            "vrrp_announce": "bgp", "vrrp_bgp_asn": 65001,
            "vrrp_bgp_neighbors": [{"address": gateway, "remote_as": 65000}]}
    return dict(base, **extra)


def plans(hostvars, members=("n1", "n2")):
    cluster = vrrp_cluster_plan(hostvars, list(members))
    return cluster, vrrp_bgp_plan(hostvars, list(members), cluster)


def pair(**extra):
    return {"n1": member("198.51.100.10", "198.51.100.1", **extra),
            "n2": member("198.51.100.74", "198.51.100.65", **extra)}


def test_a_routed_pair_gets_its_asn_neighbours_prefix_list_and_bfd():
    cluster, bgp = plans(pair())
    assert cluster["errors"] == [] and bgp["errors"] == []
    n1 = bgp["hosts"]["n1"]
    assert n1["asn"] == 65001 and n1["router_id"] == "198.51.100.10"
    assert n1["neighbors"] == [{"address": "198.51.100.1", "remote_as": 65000, "family": 4}]
    assert n1["prefixes4"] == ["198.51.100.200/32"] and n1["prefixes6"] == []
    assert n1["bfd"] == {"interval_ms": 100, "multiplier": 3} and n1["announce"] == "bgp lease 3"
    assert bgp["hosts"]["n2"]["neighbors"][0]["address"] == "198.51.100.65"


def test_the_router_id_falls_back_to_the_unicast_source():
    hostvars = pair()
    for name in hostvars:
        hostvars[name]["ansible_facts"].pop("default_ipv4")
    _cluster, bgp = plans(hostvars)
    assert bgp["errors"] == [] and bgp["hosts"]["n2"]["router_id"] == "198.51.100.74"


def test_a_neighbour_from_the_inventory():
    hostvars = pair(vrrp_bgp_neighbors=[{"host": "rt"}])
    hostvars["rt"] = {"vrrp_bgp_address": "198.51.100.1", "vrrp_bgp_asn": 65000}
    _cluster, bgp = plans(hostvars)
    assert bgp["errors"] == []
    assert bgp["hosts"]["n1"]["neighbors"][0] == {"address": "198.51.100.1", "remote_as": 65000, "family": 4}


def test_garp_clusters_plan_nothing():
    hostvars = {h: dict(v, vrrp_announce="garp") for h, v in pair().items()}
    assert plans(hostvars)[1] == {"errors": [], "hosts": {}}


@pytest.mark.parametrize("extra, message", [
    ({"vrrp_bgp_neighbors": []}, "n1: vrrp_announce: bgp needs vrrp_bgp_neighbors"),
    ({"vrrp_bgp_asn": 0}, "n1: vrrp_bgp_asn must be a whole number 1..4294967295, got 0"),
    ({"vrrp_bgp_asn": 4294967296}, "n1: vrrp_bgp_asn must be a whole number 1..4294967295"),
    ({"vrrp_bgp_asn": 23456}, "AS_TRANS"),
    ({"vrrp_bgp_asn": "65001"}, "got '65001'"),
    ({"vrrp_bgp_vip_ranges": ["203.0.113.0/24"]},
     "n1: vrrp_instances[VI_1].vips: 198.51.100.200/32 is outside vrrp_bgp_vip_ranges (203.0.113.0/24)"),
    ({"vrrp_bgp_vip_ranges": ["not-a-net"]}, "vrrp_bgp_vip_ranges: 'not-a-net' is not a network"),
    ({"vrrp_engine": "keepalived"}, "n1: vrrp_announce: bgp needs vrrp_engine: agent"),
    ({"vrrp_announce": "ospf"}, "n1: vrrp_announce must be one of garp, bgp, got 'ospf'"),
    ({"vrrp_bgp_neighbors": [{"address": "198.51.100.1", "remote_as": 70000000000}]},
     "n1: vrrp_bgp_neighbors[0].remote_as must be a whole number"),
    ({"vrrp_bgp_neighbors": [{"address": "router", "remote_as": 65000}]},
     "n1: vrrp_bgp_neighbors[0].address must be an IP address, got 'router'"),
    ({"vrrp_bgp_neighbors": [{"host": "nowhere"}]},
     "vrrp_bgp_neighbors[0].host: nowhere is not an inventory host"),
    ({"vrrp_bgp_neighbors": [{"address": "198.51.100.1", "remote_as": 1, "md5": "x"}]}, "unknown keys md5"),
    ({"vrrp_bgp_lease": 1}, "n1: vrrp_bgp_lease must be a whole number 2..3600, got 1"),
    ({"vrrp_bgp_bfd_interval_ms": 5}, "vrrp_bgp_bfd_interval_ms must be a whole number 10..60000"),
    ({"vrrp_bgp_router_id": "2001:db8::1"}, "vrrp_bgp_router_id must be an IPv4 address"),
])
def test_bad_input_is_an_error_naming_host_and_field(extra, message):
    _cluster, bgp = plans(pair(**extra))
    assert any(message in e for e in bgp["errors"]), bgp["errors"]


def test_a_vip_that_is_not_a_host_route_is_refused():
    wide = dict(VI_1, vips=["198.51.100.200/24"])
    _cluster, bgp = plans(pair(vrrp_instances=[wide]))
    assert any("a VIP is a host route: write 198.51.100.200/32" in e for e in bgp["errors"])


def test_announce_must_be_the_same_on_every_member():
    hostvars = pair()
    hostvars["n2"] = dict(hostvars["n2"], vrrp_announce="garp")
    assert any("vrrp_announce differs between members" in e for e in plans(hostvars)[1]["errors"])


def render(host_plan) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(REPO / "roles/vrrp/templates")),
                             trim_blocks=True, undefined=jinja2.StrictUndefined)
    return env.get_template("frr.conf.j2").render(
        __vrrp_bgp_host=host_plan, ansible_managed="Ansible managed", inventory_hostname_short="n1")


def test_frr_conf_lists_only_the_vips_and_puts_every_session_through_the_route_map():
    hostvars = pair(vrrp_instances=[VI_1, dict(VI_1, name="VI_6", vrid=52, vips=["2001:db8:200::1/128"])])
    _cluster, bgp = plans(hostvars)
    text = render(bgp["hosts"]["n1"])
    assert "ip prefix-list VRRP-VIPS seq 5 permit 198.51.100.200/32\n" in text
    assert "ipv6 prefix-list VRRP-VIPS6 seq 5 permit 2001:db8:200::1/128\n" in text
    assert text.count("permit ") == 4  # two prefixes, two route-map entries: nothing else leaves
    assert "  redistribute connected route-map VRRP-VIPS\n" in text
    assert text.count("  neighbor 198.51.100.1 route-map VRRP-VIPS out\n") == 2
    assert " neighbor 198.51.100.1 bfd profile vrrp\n" in text and "  detect-multiplier 3\n" in text
    assert "router bgp 65001\n bgp router-id 198.51.100.10\n" in text


@pytest.mark.skipif(shutil.which("vtysh") is None,
                    reason="FRR's vtysh is not installed (apt-get install frr)")
def test_frr_accepts_the_rendered_conf_and_refuses_a_broken_one(tmp_path):
    _cluster, bgp = plans(pair())
    good = tmp_path / "frr.conf"
    good.write_text(render(bgp["hosts"]["n1"]))
    cp = subprocess.run(["vtysh", "--dryrun", "-f", str(good)], capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    bad = tmp_path / "bad.conf"
    bad.write_text(good.read_text().replace("remote-as 65000", "remote-az 65000"))
    cp = subprocess.run(["vtysh", "--dryrun", "-f", str(bad)], capture_output=True, text=True, timeout=30)
    assert cp.returncode != 0 and "remote-az" in cp.stdout + cp.stderr


def test_the_agent_conf_announces_and_tracks_the_session():
    """vrrp.conf.j2 (Ansible's templar) with a BGP plan: `announce bgp lease N` and the
    weight-0 session tracker, and the agent's parser accepts the result."""
    import yaml
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template
    from vrrp_agent.config import parse_text

    hostvars = pair()
    cluster, bgp = plans(hostvars)
    root = REPO / "roles" / "vrrp"
    variables = yaml.safe_load((root / "defaults" / "main.yml").read_text())
    variables.update(hostvars["n1"])
    variables.update(__vrrp_plan=cluster, __vrrp_bgp=bgp, __vrrp_instances=cluster["hosts"]["n1"],
                     inventory_hostname="n1", ansible_managed="managed", vrrp_router_id="n1")
    templar = Templar(loader=DataLoader(), variables=variables)
    text = templar.template(trust_as_template((root / "templates" / "vrrp.conf.j2").read_text()))
    assert "    announce bgp lease 3\n" in text
    assert 'script "/usr/local/libexec/vrrp/vrrp-bgp-session"' in text
    assert "    track_script {\n        vrrp_bgp_session\n    }\n" in text
    inst = parse_text(text, "vrrp.conf").instances[0]
    assert inst.announce.lease_s == 3 and [t.name for t in inst.tracks] == ["vrrp_bgp_session"]
