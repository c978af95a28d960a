"""The role's cluster plan (plugins/filter/vrrp.py, logic in plugins/module_utils/vrrp_plan*.py):
derivation and validation."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from ansible_collections.linuxha.vrrp.plugins.filter.vrrp import vrrp_cluster_plan, vrrp_status_table

VI_1 = {"name": "VI_1", "interface": "eth0", "vrid": 1, "advert_int": 1, "auth_pass": "1111",
        "vips": ["198.51.100.100/24"]}


def host(address, instances=None, **extra):
    facts = {"interfaces": ["lo", "eth0"], "eth0": {"ipv4": {"address": address}},
             "lo": {"ipv4": {"address": "127.0.0.1"}}}
    return dict({"vrrp_instances": instances or [VI_1], "ansible_facts": facts}, **extra)


def test_seed_pair_master_100_backup_10():
    plan = vrrp_cluster_plan({"s1": host("198.51.100.11"), "s2": host("198.51.100.12")}, ["s1", "s2"])
    assert plan["errors"] == []
    (s1,), (s2,) = plan["hosts"]["s1"], plan["hosts"]["s2"]
    assert (s1["state"], s1["priority"]) == ("MASTER", 100)
    assert (s2["state"], s2["priority"]) == ("BACKUP", 10)


def test_vrrp_master_and_further_backups_count_down():
    hostvars = {h: host(f"198.51.100.1{i}") for i, h in enumerate(["a", "b", "c"], 1)}
    plan = vrrp_cluster_plan(hostvars, ["a", "b", "c"], "b")
    priorities = {h: plan["hosts"][h][0]["priority"] for h in hostvars}
    assert priorities == {"b": 100, "a": 10, "c": 9}


def test_unicast_peers_come_from_the_interface_addresses():
    hostvars = {h: host(f"198.51.100.1{i}", vrrp_unicast=True) for i, h in enumerate(["a", "b", "c"], 1)}
    plan = vrrp_cluster_plan(hostvars, ["a", "b", "c"])
    inst = plan["hosts"]["b"][0]
    assert inst["unicast_src_ip"] == "198.51.100.12"
    assert inst["unicast_peers"] == ["198.51.100.11", "198.51.100.13"]


def test_per_host_override_wins():
    override = {"VI_1": {"priority": 50}}
    plan = vrrp_cluster_plan({"s1": host("198.51.100.11"),
                              "s2": host("198.51.100.12", vrrp_instance_overrides=override)}, ["s1", "s2"])
    assert plan["hosts"]["s2"][0]["priority"] == 50


def test_every_error_names_host_and_field():
    bad = dict(VI_1, vrid=300, auth_pass="123456789", advert_int=0.5)
    plan = vrrp_cluster_plan({"s1": host("198.51.100.11", [bad]), "s2": host("198.51.100.12", [bad])},
                             ["s1", "s2"], "s3")
    errors = "\n".join(plan["errors"])
    for text in ("s1: vrrp_master s3 is not a member of the cluster (s1, s2)",
                 "s1: vrrp_instances[VI_1].vrid must be an integer 1..255, got 300",
                 "s2: vrrp_instances[VI_1].auth_pass must be a string of 1..8 characters",
                 "s1: vrrp_instances[VI_1].advert_int must be whole seconds 1..255 with VRRPv2, got 0.5"):
        assert text in errors


def test_duplicate_vrid_on_an_interface_and_vip_equal_to_a_host_address():
    other = {"name": "VI_2", "interface": "eth0", "vrid": 1, "vips": ["198.51.100.12/24"]}
    plan = vrrp_cluster_plan({"s1": host("198.51.100.11", [VI_1, other]),
                              "s2": host("198.51.100.12", [VI_1, other])}, ["s1", "s2"])
    errors = "\n".join(plan["errors"])
    assert "s1: vrrp_instances[VI_2].vrid 1 is used twice on interface eth0" in errors
    assert "vrrp_instances[VI_2].vips: 198.51.100.12 is an address of host s2" in errors


def test_keepalived_engine_refuses_agent_extensions():
    inst = dict(VI_1, resources=[{"service": "httpd"}])
    plan = vrrp_cluster_plan({"s1": host("198.51.100.11", [inst], vrrp_engine="keepalived"),
                              "s2": host("198.51.100.12", [inst])}, ["s1", "s2"])
    assert any("s1: vrrp_instances[VI_1].resources is an agent extension" in e for e in plan["errors"])


def test_a_host_with_a_whole_config_is_not_planned_nor_cross_checked():
    ignored = dict(VI_1, auth_pass="far-too-long-for-v2")
    given = host("198.51.100.11", [ignored], vrrp_config_content="vrrp_instance X {}")
    plan = vrrp_cluster_plan({"s1": given, "s2": host("198.51.100.12")}, ["s1", "s2"])
    assert plan["errors"] == []
    assert plan["hosts"]["s1"] == []
    assert plan["hosts"]["s2"][0]["priority"] == 10


def test_rt_priority_out_of_range_is_named():
    plan = vrrp_cluster_plan({"s1": host("198.51.100.11", vrrp_rt_priority=100),
                              "s2": host("198.51.100.12", vrrp_rt_priority=50)}, ["s1", "s2"])
    assert plan["errors"] == ["s1: vrrp_rt_priority must be 0 (normal scheduling) or a SCHED_RR "
                              "priority 1..99, got 100"]


def info(state, priority, running=True):
    return {"running": running, "vrrp_instances": [{"name": "VI_1", "interface": "eth0", "vrid": 1,
                                                    "family": "ipv4", "state": state,
                                                    "effective_priority": priority}]}


def test_status_table_split_brain_and_no_master():
    both = {"s1": {"vrrp_status_info": info("MASTER", 100)}, "s2": {"vrrp_status_info": info("MASTER", 10)}}
    assert "SPLIT BRAIN" in vrrp_status_table(both, ["s1", "s2"])["problems"][0]
    none = {"s1": {"vrrp_status_info": info("BACKUP", 100)}, "s2": {"vrrp_status_info": info("FAULT", 10)}}
    assert "NO MASTER" in vrrp_status_table(none, ["s1", "s2"])["problems"][0]
    good = {"s1": {"vrrp_status_info": info("MASTER", 100)}, "s2": {"vrrp_status_info": info("BACKUP", 10)}}
    table = vrrp_status_table(good, ["s1", "s2"])
    assert table["problems"] == []
    assert "s1 (100)" in table["lines"][1] and "s2 (10) BACKUP" in table["lines"][1]


# ---------------------------------------------------------------- issue 11: preemption, priorities, model

def cluster(n=2, instances=None, **extra):
    names = ["s%d" % i for i in range(1, n + 1)]
    return {h: host("198.51.100.%d" % (10 + i), instances, **extra) for i, h in enumerate(names, 1)}, names


def errors_of(hostvars, members, master=None):
    return "\n".join(vrrp_cluster_plan(hostvars, members, master)["errors"])


def test_preempt_false_renders_every_member_backup_nopreempt_master_highest():
    hostvars, members = cluster(3, [dict(VI_1, preempt=False)])
    plan = vrrp_cluster_plan(hostvars, members)
    assert plan["errors"] == []
    got = {h: (i[0]["state"], i[0]["priority"], i[0]["nopreempt"]) for h, i in plan["hosts"].items()}
    assert got == {"s1": ("BACKUP", 100, True), "s2": ("BACKUP", 10, True), "s3": ("BACKUP", 9, True)}


def test_cluster_wide_preempt_default_and_the_instance_wins():
    other = {"name": "VI_2", "interface": "eth0", "vrid": 2, "vips": ["198.51.100.101/24"], "preempt": True}
    hostvars, members = cluster(2, [VI_1, other], vrrp_preempt=False)
    plan = vrrp_cluster_plan(hostvars, members)
    assert plan["errors"] == []
    vi1, vi2 = plan["hosts"]["s1"]
    assert (vi1["state"], vi1["nopreempt"]) == ("BACKUP", True)
    assert (vi2["state"], vi2["nopreempt"]) == ("MASTER", False)


def test_legacy_nopreempt_key_is_preempt_false():
    hostvars, members = cluster(2, [dict(VI_1, nopreempt=True)])
    plan = vrrp_cluster_plan(hostvars, members)
    assert plan["errors"] == []
    assert [i[0]["state"] for i in plan["hosts"].values()] == ["BACKUP", "BACKUP"]


def test_preempt_delay_renders_every_member_backup_with_the_delay():
    hostvars, members = cluster(2, [VI_1], vrrp_preempt_delay=30)
    plan = vrrp_cluster_plan(hostvars, members)
    assert plan["errors"] == []
    s1, s2 = plan["hosts"]["s1"][0], plan["hosts"]["s2"][0]
    assert (s1["state"], s1["priority"], s1["preempt_delay"], s1["nopreempt"]) == ("BACKUP", 100, 30, False)
    assert (s2["state"], s2["priority"], s2["preempt_delay"]) == ("BACKUP", 10, 30)


def test_preempt_conflicts_are_named():
    errors = errors_of(*cluster(2, [dict(VI_1, preempt=False, preempt_delay=5)]))
    assert "s1: vrrp_instances[VI_1].preempt_delay cannot be combined with preempt: false" in errors
    errors = errors_of(*cluster(2, [dict(VI_1, preempt=True, nopreempt=True)]))
    assert "s1: vrrp_instances[VI_1]: preempt True and nopreempt True contradict each other" in errors
    hostvars, members = cluster(2)
    hostvars["s2"]["vrrp_instance_overrides"] = {"VI_1": {"preempt": False}}
    errors = errors_of(hostvars, members)
    assert "s1: vrrp_instances[VI_1]: preempt / preempt_delay differ between members" in errors


def test_a_state_key_is_refused_never_dropped():
    hostvars, members = cluster(2)
    hostvars["s2"]["vrrp_instance_overrides"] = {"VI_1": {"state": "MASTER"}}
    errors = errors_of(hostvars, members)
    assert "s2: vrrp_instance_overrides.VI_1.state: state is derived" in errors
    errors = errors_of(*cluster(2, [dict(VI_1, state="BACKUP")]))
    assert "s1: vrrp_instances[VI_1].state: state is derived" in errors


def test_unknown_keys_are_errors_in_instances_overrides_and_definitions():
    hostvars, members = cluster(2, [dict(VI_1, virtual_router_id=5)],
                                vrrp_scripts=[{"name": "chk", "script": "/bin/true", "wieght": -5}])
    hostvars["s2"]["vrrp_instance_overrides"] = {"VI_1": {"prio": 50}}
    errors = errors_of(hostvars, members)
    assert "s1: vrrp_instances[VI_1].virtual_router_id is not a known key (known: " in errors
    assert "s2: vrrp_instance_overrides.VI_1.prio is not a known key" in errors
    assert "s1: vrrp_scripts[chk].wieght is not a known key" in errors


def test_derived_backups_leave_room_for_the_smallest_weight():
    inst = dict(VI_1, track_scripts=["chk"])
    scripts = [{"name": "chk", "script": "/bin/true", "weight": -2}]
    hostvars, members = cluster(3, [inst], vrrp_scripts=scripts)
    plan = vrrp_cluster_plan(hostvars, members)
    assert plan["errors"] == []
    assert [plan["hosts"][h][0]["priority"] for h in members] == [100, 99, 98]
    weighted = dict(VI_1, track_interfaces=["eth1 weight -30"])
    plan = vrrp_cluster_plan(*cluster(2, [weighted]))
    assert [i[0]["priority"] for i in plan["hosts"].values()] == [100, 71]


def test_a_weight_that_cannot_move_the_vip_fails_with_the_numbers():
    inst = dict(VI_1, track_scripts=["chk weight -20"])
    scripts = [{"name": "chk", "script": "/bin/true"}]
    hostvars, members = cluster(2, [inst], vrrp_scripts=scripts, vrrp_backup_priority=10)
    errors = errors_of(hostvars, members)
    assert ("s1: vrrp_instances[VI_1].track_scripts chk weight -20 cannot move the VIP: "
            "100 - 20 = 80 is not below s2's priority 10") in errors
    errors = errors_of(*cluster(2, [dict(VI_1, track_interfaces=["eth1 weight 1"])]))
    assert "s1: vrrp_instances[VI_1]: a tracking weight of 1 cannot move the VIP" in errors


def test_a_positive_weight_on_a_backup_cannot_preempt_a_healthy_master():
    hostvars, members = cluster(2, [VI_1], vrrp_backup_priority=90)
    hostvars["s2"]["vrrp_instance_overrides"] = {"VI_1": {"track_interfaces": ["eth1 weight 20"]}}
    errors = errors_of(hostvars, members)
    assert ("s2: vrrp_instances[VI_1]: positive tracking weights let this backup (90 + 20 = 110) preempt "
            "a healthy preferred master s1 (100 + 0 = 100)") in errors


def test_weights_cannot_act_without_preemption_or_in_a_sync_group():
    inst = dict(VI_1, preempt=False, track_interfaces=["eth1 weight -50"])
    errors = errors_of(*cluster(2, [inst]))
    assert "s1: vrrp_instances[VI_1].track_interfaces eth1 weight -50 cannot act with preempt: false" \
        in errors
    inst = dict(VI_1, track_interfaces=["eth1 weight -50"])
    groups = [{"name": "G", "instances": ["VI_1", "VI_2"]}]
    errors = errors_of(*cluster(2, [inst, VI_2], vrrp_sync_groups=groups))
    assert "s1: vrrp_instances[VI_1].track_interfaces eth1 weight -50 cannot act: the instance is in " \
        "vrrp_sync_groups[G]" in errors
    groups = [{"name": "G", "instances": ["VI_1", "VI_2"], "tracking_weight": True}]
    assert errors_of(*cluster(2, [inst, VI_2], vrrp_sync_groups=groups)) == ""


def test_32_members_derive_valid_priorities_33_is_a_clear_error():
    weighted = [dict(VI_1, track_interfaces=["eth1 weight -5"])]
    for instances in ([VI_1], weighted):
        hostvars, members = cluster(32, instances)
        plan = vrrp_cluster_plan(hostvars, members)
        assert plan["errors"] == []
        priorities = [plan["hosts"][h][0]["priority"] for h in members]
        assert len(set(priorities)) == 32 and all(1 <= p <= 254 for p in priorities)
        assert priorities[0] == 100 and max(priorities[1:]) < 100
    errors = errors_of(*cluster(33))
    assert "s1: the cluster has 33 members; the role derives priorities for at most 32" in errors
    errors = errors_of(*cluster(12, vrrp_master_priority=10))
    assert "s1: vrrp_instances[VI_1]: derived priorities out of range: preferred master 10" in errors


def test_a_preferred_master_per_instance_makes_active_active():
    vi2 = {"name": "VI_2", "interface": "eth0", "vrid": 2, "vips": ["198.51.100.101/24"], "master": "s2"}
    plan = vrrp_cluster_plan(*cluster(2, [VI_1, vi2]))
    assert plan["errors"] == []
    assert [(i["name"], i["state"], i["priority"]) for i in plan["hosts"]["s1"]] == [
        ("VI_1", "MASTER", 100), ("VI_2", "BACKUP", 10)]
    assert [(i["name"], i["state"], i["priority"]) for i in plan["hosts"]["s2"]] == [
        ("VI_1", "BACKUP", 10), ("VI_2", "MASTER", 100)]
    assert plan["masters"] == {"VI_1": "s1", "VI_2": "s2"}


def test_unknown_or_inconsistent_preferred_master_is_named():
    errors = errors_of(*cluster(2, [dict(VI_1, master="s9")]))
    assert "s1: vrrp_instances[VI_1].master s9 is not a member of the cluster (s1, s2)" in errors
    hostvars, members = cluster(2)
    hostvars["s2"]["vrrp_instance_overrides"] = {"VI_1": {"master": "s2"}}
    assert "s1: vrrp_instances[VI_1].master differs between members: s1, s2" in errors_of(hostvars, members)


VI_2 = {"name": "VI_2", "interface": "eth0", "vrid": 2, "vips": ["198.51.100.101/24"]}
VI_6 = {"name": "VI_6", "interface": "eth0", "vrid": 6, "version": 3, "vips": ["2001:db8:51::100/64"],
        "unicast": True}


def host6(address, link_local, **extra):
    hv = host(address, [VI_6], **extra)
    hv["ansible_facts"]["eth0"]["ipv6"] = [{"address": "2001:db8:51::%s" % address.rsplit(".", 1)[1],
                                            "scope": "global"},
                                           {"address": link_local, "scope": "link"}]
    return hv


def test_an_ipv6_instance_gets_ipv6_unicast_peers():
    hostvars = {"s1": host6("198.51.100.11", "fe80::11"), "s2": host6("198.51.100.12", "fe80::12")}
    plan = vrrp_cluster_plan(hostvars, ["s1", "s2"])
    assert plan["errors"] == []
    inst = plan["hosts"]["s1"][0]
    assert (inst["unicast_src_ip"], inst["unicast_peers"]) == ("fe80::11", ["fe80::12"])
    hostvars = {"s1": host6("198.51.100.11", "fe80::11", vrrp_address="198.51.100.11",
                            vrrp_address6="2001:db8:51::11"),
                "s2": host6("198.51.100.12", "fe80::12", vrrp_address="198.51.100.12",
                            vrrp_address6="2001:db8:51::12")}
    plan = vrrp_cluster_plan(hostvars, ["s1", "s2"])
    assert plan["errors"] == []
    inst = plan["hosts"]["s2"][0]
    assert (inst["unicast_src_ip"], inst["unicast_peers"]) == ("2001:db8:51::12", ["2001:db8:51::11"])


def test_unicast_addresses_of_the_wrong_family_are_named():
    hostvars = {"s1": host6("198.51.100.11", "fe80::11", vrrp_address6="198.51.100.11"),
                "s2": host6("198.51.100.12", "fe80::12")}
    errors = errors_of(hostvars, ["s1", "s2"])
    assert ("s1: vrrp_instances[VI_6]: unicast address 198.51.100.11 (vrrp_address6) is IPv4, "
            "the instance is IPv6") in errors
    hostvars, members = cluster(2, [VI_1], vrrp_unicast=True)
    hostvars["s2"]["vrrp_address"] = "2001:db8::12"
    errors = errors_of(hostvars, members)
    assert ("s2: vrrp_instances[VI_1]: unicast address 2001:db8::12 (vrrp_address) is IPv6, "
            "the instance is IPv4") in errors


def test_mixed_families_are_named():
    errors = errors_of(*cluster(2, [dict(VI_1, vips=["198.51.100.100/24", "2001:db8::100/64"])]))
    assert "s1: vrrp_instances[VI_1].vips mixes IPv4 and IPv6" in errors
    hostvars, members = cluster(2, [dict(VI_1, version=3, auth_pass=None)])
    hostvars["s2"]["vrrp_instance_overrides"] = {"VI_1": {"vips": ["2001:db8::100/64"]}}
    errors = errors_of(hostvars, members)
    assert "s1: vrrp_instances[VI_1].vips: the members' VIPs are of different families (IPv4, IPv6)" in errors
    errors = errors_of(*cluster(2, [dict(VI_1, vips=["2001:db8::100/64"], auth_pass=None)]))
    assert "s1: vrrp_instances[VI_1].version: IPv6 VIPs need version: 3" in errors
    errors = errors_of(*cluster(2, [dict(VI_1, mcast_src_ip="2001:db8::1")]))
    assert "s1: vrrp_instances[VI_1].mcast_src_ip 2001:db8::1 is not an IPv4 address" in errors


def test_references_to_undefined_trackers_and_sync_group_members_are_named():
    inst = dict(VI_1, track_scripts=["nope"], track_files=["maint"], track_processes=["httpd weight -10"])
    groups = [{"name": "G", "instances": ["VI_1", "VI_9"]}]
    errors = errors_of(*cluster(2, [inst], vrrp_sync_groups=groups))
    assert "s1: vrrp_instances[VI_1].track_scripts: nope is not defined in vrrp_scripts" in errors
    assert "s1: vrrp_instances[VI_1].track_files: maint is not defined in vrrp_track_files" in errors
    assert "s1: vrrp_instances[VI_1].track_processes: httpd is not defined in vrrp_track_processes" in errors
    assert "s1: vrrp_sync_groups[G].instances: VI_9 is not an instance (known: VI_1)" in errors


def test_an_excluded_vip_equal_to_a_host_address_and_garp_ranges_are_named():
    inst = dict(VI_1, vips_excluded=["198.51.100.12/24"], garp={"master_repeat": -1, "master_dly": 1})
    errors = errors_of(*cluster(2, [inst]))
    assert "s1: vrrp_instances[VI_1].garp.master_repeat must be a whole number 0..1000, got -1" in errors
    assert "s1: vrrp_instances[VI_1].garp.master_dly is not a known key" in errors
    errors = errors_of(*cluster(2, [dict(VI_1, vips_excluded=["198.51.100.12/24"])]))
    assert "vrrp_instances[VI_1].vips: 198.51.100.12 is an address of host s2" in errors


def render(hostvars, members, name, **role_vars):
    """The role's template for one host, rendered by Ansible's own templar."""
    import yaml
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    root = Path(__file__).resolve().parents[3] / "roles" / "vrrp"
    plan = vrrp_cluster_plan(hostvars, members)
    assert plan["errors"] == []
    variables = yaml.safe_load((root / "defaults" / "main.yml").read_text())
    variables.update(hostvars[name], **role_vars)
    variables.update(__vrrp_plan=plan, __vrrp_instances=plan["hosts"][name], inventory_hostname=name,
                     ansible_managed="managed", vrrp_router_id=name)
    templar = Templar(loader=DataLoader(), variables=variables)
    return templar.template(trust_as_template((root / "templates" / "vrrp.conf.j2").read_text()))


def test_the_whole_model_renders_a_configuration_the_agent_accepts():
    from vrrp_agent.config import parse_text

    vi1 = dict(VI_1, preempt=False, vips_excluded=["2001:db8::100/64"], track_scripts=["chk"],
               track_files=["maint"], track_processes=["httpd"], mcast_src_ip="198.51.100.1",
               garp={"master_delay": 2, "master_repeat": 3, "master_refresh": 60, "lower_prio_repeat": 1})
    vi6 = dict(VI_6, master="s2", unicast=False)
    extra = dict(vrrp_scripts=[{"name": "chk", "src": "files/check_web", "interval": 2, "weight": 0},
                               {"name": "up", "script": "/bin/true"}],
                 vrrp_track_files=[{"name": "maint", "file": "/var/run/vrrp-maint", "weight": 0,
                                    "init_file": 0, "init_overwrite": True}],
                 vrrp_track_processes=[{"name": "httpd", "process": "apache2", "params": "-k start",
                                        "param_match": "initial", "quorum": 1}],
                 vrrp_sync_groups=[{"name": "G", "instances": ["VI_1", "VI_2"],
                                    "notify": {"master": "/usr/local/bin/to-master"}}],
                 vrrp_global_defs_extra=["vrrp_garp_interval 0.001", "vrrp_gna_interval 0.001"])
    hostvars = {"s1": host6("198.51.100.11", "fe80::11", **extra),
                "s2": host6("198.51.100.12", "fe80::12", **extra)}
    for name in hostvars:
        hostvars[name]["vrrp_instances"] = [vi1, dict(VI_2, preempt=False), vi6]
        hostvars[name]["vrrp_instance_overrides"] = {"VI_1": {"mcast_src_ip": "198.51.100.1%s" % name[1]}}
    text = render(hostvars, ["s1", "s2"], "s2")
    config = parse_text(text)
    by_name = {i.name: i for i in config.instances}
    vi1 = by_name["VI_1"]
    assert (vi1.initial_state, vi1.priority, vi1.nopreempt) == ("BACKUP", 10, True)
    assert (by_name["VI_6"].initial_state, by_name["VI_6"].priority) == ("MASTER", 100)
    assert by_name["VI_1"].mcast_src_ip == "198.51.100.12"
    assert by_name["VI_1"].garp.master_repeat == 3 and by_name["VI_1"].garp.master_refresh_s == 60
    assert [v.address for v in by_name["VI_1"].excluded_vips] == ["2001:db8::100"]
    assert 'script "/usr/local/libexec/vrrp/check_web"' in text
    assert "vrrp_track_file maint {" in text and "init_file 0 overwrite" in text
    assert "process apache2 -k start" in text
    assert "vrrp_sync_group G {" in text and "vrrp_gna_interval 0.001" in text
    assert "vrrp_script up" not in text  # only what an instance or group tracks
    assert "state" not in text.split("vrrp_sync_group")[1]


@pytest.mark.skipif(not shutil.which("keepalived") or os.geteuid() != 0,
                    reason="keepalived --config-test needs keepalived and root")
def test_the_whole_model_renders_a_configuration_keepalived_accepts(tmp_path):
    vi1 = dict(VI_1, preempt=False, vips_excluded=["2001:db8::100/64"], track_scripts=["chk"],
               track_files=["maint"], track_processes=["httpd"], mcast_src_ip="198.51.100.11",
               garp={"master_delay": 2, "master_repeat": 3, "master_refresh": 60, "master_refresh_repeat": 2,
                     "lower_prio_delay": 1, "lower_prio_repeat": 1})
    extra = dict(vrrp_scripts=[{"name": "chk", "src": "files/check_web", "script": "/bin/true"}],
                 vrrp_track_files=[{"name": "maint", "file": str(tmp_path / "maint"), "weight": 0}],
                 vrrp_track_processes=[{"name": "httpd", "process": "apache2", "quorum": 1}],
                 vrrp_sync_groups=[{"name": "G", "instances": ["VI_1", "VI_2"],
                                    "notify": {"master": "/bin/true"}}],
                 vrrp_global_defs_extra=["vrrp_garp_interval 0.001"])
    hostvars = {"s1": host6("198.51.100.11", "fe80::11", **extra),
                "s2": host6("198.51.100.12", "fe80::12", **extra)}
    for name in hostvars:
        hostvars[name]["vrrp_instances"] = [vi1, dict(VI_2, preempt=False), dict(VI_6, master="s2")]
    conf = tmp_path / "keepalived.conf"
    conf.write_text(render(hostvars, ["s1", "s2"], "s1", vrrp_enable_script_security=True,
                           vrrp_script_user="root"))
    cp = subprocess.run(["keepalived", "--config-test", "-f", str(conf)], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr


def test_a_sync_group_needs_one_preferred_master_and_one_preemption():
    vi2 = {"name": "VI_2", "interface": "eth0", "vrid": 2, "vips": ["198.51.100.101/24"], "master": "s2"}
    groups = [{"name": "G", "instances": ["VI_1", "VI_2"]}]
    errors = errors_of(*cluster(2, [VI_1, vi2], vrrp_sync_groups=groups))
    assert ("s1: vrrp_sync_groups[G]: its instances must share the preferred master and preempt settings "
            "(they move together): VI_1: master s1, preempt True, delay 0.0, VI_2: master s2") in errors
    groups = [{"name": "G", "instances": ["VI_1", "VI_1"]}, {"name": "H", "instances": ["VI_1", "VI_2"]}]
    errors = errors_of(*cluster(2, [VI_1, VI_2], vrrp_sync_groups=groups))
    assert "s1: vrrp_sync_groups[G].instances: VI_1 is already in vrrp_sync_groups[G]" in errors
    assert "s1: vrrp_sync_groups[H].instances: VI_1 is already in vrrp_sync_groups[G]" in errors
    groups = [{"name": "G", "instances": ["VI_1"]}]
    errors = errors_of(*cluster(2, [VI_1], vrrp_sync_groups=groups))
    assert "s1: vrrp_sync_groups[G].instances: a sync group needs at least 2 instances (keepalived" in errors


def test_cluster_wide_values_and_the_escape_hatch_are_checked():
    errors = errors_of(*cluster(2, vrrp_preempt="no", vrrp_preempt_delay=5000,
                                vrrp_global_defs_extra=["a\nb"]))
    assert "s1: vrrp_preempt must be true or false, got 'no'" in errors
    assert "s1: vrrp_preempt_delay must be 0..1000 seconds, got 5000" in errors
    assert "s1: vrrp_global_defs_extra must be a list of single lines (strings)" in errors
    errors = errors_of(*cluster(2, [dict(VI_1, preempt_delay=-1)]))
    assert "s1: vrrp_instances[VI_1].preempt_delay must be 0..1000 seconds, got -1" in errors


def test_a_script_shipped_from_the_controller_lands_in_the_scripts_dir():
    scripts = [{"name": "a", "src": "files/check_a"}, {"name": "b", "src": "files/check_b", "dest": "/opt/b",
                                                       "script": "/opt/b --port 80"},
               {"name": "c", "src": "x", "dest": "relative/c"}]
    plan = vrrp_cluster_plan(*cluster(2, vrrp_scripts=scripts, vrrp_scripts_dir="/srv/vrrp"))
    by_name = {s["name"]: s for s in plan["scripts"]["s1"]}
    assert (by_name["a"]["dest"], by_name["a"]["script"]) == ("/srv/vrrp/check_a", "/srv/vrrp/check_a")
    assert (by_name["b"]["dest"], by_name["b"]["script"]) == ("/opt/b", "/opt/b --port 80")
    assert "s1: vrrp_scripts[c].dest must be an absolute path" in plan["errors"]


# ---------------------------------------------------------------- issue 13: vMAC, routes, strict mode

ROUTED = dict(VI_1, auth_pass=None, use_vmac="vmac1",
              virtual_routes=["203.0.113.0/24 via 198.51.100.1 dev eth0"],
              virtual_rules=["from 198.51.100.100 table 100"], accept=False)


def test_vmac_routes_and_no_accept_render_a_configuration_the_agent_accepts():
    from vrrp_agent.config import parse_text

    hostvars, members = cluster(2, [ROUTED])
    plan = vrrp_cluster_plan(hostvars, members)
    assert plan["errors"] == [] and plan["hosts"]["s1"][0]["filters"] is True
    config = parse_text(render(hostvars, members, "s1"))
    (inst,) = config.instances
    assert inst.vmac is not None and (inst.vmac.name, inst.vmac.mac) == ("vmac1", "00:00:5e:00:01:01")
    assert [r.dst for r in inst.routes] == ["203.0.113.0/24"] and inst.rules[0].table == 100
    assert not inst.accept and inst.filters


def test_vrrp_strict_renders_strict_no_accept_and_needs_nftables():
    from vrrp_agent.config import parse_text

    hostvars, members = cluster(2, [dict(VI_1, auth_pass=None)], vrrp_strict=True)
    plan = vrrp_cluster_plan(hostvars, members)
    assert plan["errors"] == [] and plan["hosts"]["s2"][0]["filters"] is True
    text = render(hostvars, members, "s2")
    assert "    vrrp_strict\n" in text
    (inst,) = parse_text(text).instances
    assert inst.strict and not inst.accept
    accepted = vrrp_cluster_plan(*cluster(2, [dict(VI_1, auth_pass=None, version=3, accept=True)],
                                          vrrp_strict=True))
    assert accepted["errors"] == [] and accepted["hosts"]["s1"][0]["filters"] is False


def test_kernel_keys_are_validated_with_host_instance_and_field():
    bad = dict(VI_1, use_vmac="far-too-long-name", vmac_xmit_base="yes", accept="no",
               virtual_routes=["203.0.113.0/24 via 198.51.100.1 }"], virtual_rules="from all")
    errors = errors_of(*cluster(2, [bad]))
    assert "s1: vrrp_instances[VI_1].use_vmac must be true/false or an interface name" in errors
    assert "s1: vrrp_instances[VI_1].vmac_xmit_base must be true or false, got 'yes'" in errors
    assert "s1: vrrp_instances[VI_1].accept must be true or false, got 'no'" in errors
    assert "vrrp_instances[VI_1].virtual_routes: '203.0.113.0/24 via 198.51.100.1 }' may not hold" in errors
    assert "s1: vrrp_instances[VI_1].virtual_rules must be a list of keepalived rule lines" in errors
    assert "s1: vrrp_instances[VI_1].vmac_xmit_base needs use_vmac" in errors_of(
        *cluster(2, [dict(VI_1, vmac_xmit_base=True)]))
    strict = errors_of(*cluster(2, [dict(VI_1, preempt_delay=5, accept=True)], vrrp_strict=True))
    assert "s1: vrrp_instances[VI_1].auth_pass: strict mode has no authentication" in strict
    assert "s1: vrrp_instances[VI_1].preempt_delay: strict mode has no preempt_delay" in strict
    assert "s1: vrrp_instances[VI_1].accept: strict mode has no accept mode with VRRPv2" in strict
    assert "s1: vrrp_strict must be true or false" in errors_of(*cluster(2, vrrp_strict="on"))
    assert "s1: vrrp_instances[VI_1].use_vmac with unicast needs vmac_xmit_base: true" in errors_of(
        *cluster(2, [dict(VI_1, use_vmac=True)], vrrp_unicast=True))
