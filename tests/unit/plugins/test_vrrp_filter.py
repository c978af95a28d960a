"""The role's cluster plan (plugins/filter/vrrp.py): derivation and validation."""

from __future__ import annotations

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
