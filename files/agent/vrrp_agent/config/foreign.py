"""keepalived keywords that are not the VRRP half: named, and either refused or a documented no-op.

Rules:
- A keyword of another keepalived subsystem (LVS/IPVS and its checkers, BFD,
  SNMP, DBus, process and reload machinery) is refused with one FILE:LINE
  message saying what it is and what to do: keep keepalived for this host
  (the role's `vrrp_engine: keepalived`), or remove it, or the agent's own
  way to get the same thing.
- A keyword that cannot change what the VRRP half does (it tunes a keepalived
  process the agent does not have, or asks for what the agent always does) is
  accepted as a no-op. When the agent already does what it asks, quietly;
  otherwise with a warning saying that the line has no effect.
- Deprecated spellings: see DEPRECATED_INSTANCE (accepted with a warning or
  refused with the modern spelling, one decision per form, docs/config.md).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from vrrp_agent.config.syntax import Statement
from vrrp_agent.errors import ConfigError

KEEP_OR_REMOVE = ("keep keepalived on this host for it (the role's vrrp_engine: keepalived), "
                  "or remove it to run the VRRP half with the agent")
LVS = "keepalived's LVS (IPVS load balancer) configuration"
CHECKER = "a setting of keepalived's LVS health-checker process"
BFD = "keepalived's BFD (bidirectional forwarding detection) subsystem"
SNMP = ("keepalived's SNMP subagent; the agent has none (read `vrrp-agent status --json` "
        "or the --metrics-listen endpoint instead)")
DBUS = "keepalived's DBus interface; the agent has none (use `vrrp-agent status --json` / takeover / standby)"

# keyword -> (what it is, what to do); the message is "'KW' is WHAT: DO".
TOP_LEVEL: Dict[str, Tuple[str, str]] = {
    "virtual_server": (LVS + " (a virtual server, its real servers and their checkers)", KEEP_OR_REMOVE),
    "virtual_server_group": (LVS + " (a group of virtual servers)", KEEP_OR_REMOVE),
    "SSL": (LVS + " (the SSL context of the SSL_GET checker)", KEEP_OR_REMOVE),
    "local_address_group": ("the LVS FULLNAT local-address block of a patched keepalived "
                            "(not keepalived 2.2.7)", KEEP_OR_REMOVE),
    "bfd_instance": (BFD, KEEP_OR_REMOVE),
    "net_namespace": ("keepalived's switch into a network namespace",
                      "run the agent in that namespace instead (systemd NetworkNamespacePath= "
                      "or `ip netns exec`), and remove the line"),
    "net_namespace_ipvs": (LVS + " (the namespace of IPVS)", KEEP_OR_REMOVE),
    "namespace_with_ipsets": ("keepalived's ipsets-in-namespace switch", KEEP_OR_REMOVE),
    "instance": ("keepalived's instance name (several keepalived processes on one host)",
                 "run one agent per configuration with its own --control-socket and "
                 "--state-dir, and remove the line"),
}

GLOBAL: Dict[str, Tuple[str, str]] = {
    **{k: (LVS, KEEP_OR_REMOVE) for k in (
        "lvs_timeouts", "lvs_flush", "lvs_flush_on_stop", "lvs_flush_onstop", "lvs_sync_daemon",
        "lvs_id", "lvs_notify_fifo", "lvs_notify_fifo_script", "lvs_netlink_cmd_rcv_bufs",
        "lvs_netlink_cmd_rcv_bufs_force", "lvs_netlink_monitor_rcv_bufs",
        "lvs_netlink_monitor_rcv_bufs_force", "nftables_ipvs", "nftables_ipvs_priority",
        "nftables_ipvs_start_fwmark", "net_namespace_ipvs")},
    **{k: (CHECKER, KEEP_OR_REMOVE) for k in (
        "checker_priority", "checker_no_swap", "checker_rt_priority", "checker_cpu_affinity",
        "checker_rlimit_rttime", "checker_rlimit_rtime", "checker_log_all_failures",
        "smtp_alert_checker", "no_checker_emails", "rs_init_notifies", "enable_snmp_checker")},
    **{k: (BFD, KEEP_OR_REMOVE) for k in (
        "bfd_priority", "bfd_no_swap", "bfd_rt_priority", "bfd_cpu_affinity",
        "bfd_rlimit_rttime", "bfd_rlimit_rtime")},
    **{k: (SNMP, KEEP_OR_REMOVE) for k in (
        "snmp_socket", "enable_traps", "enable_snmp_vrrp", "enable_snmp_keepalived",
        "enable_snmp_rfc", "enable_snmp_rfcv2", "enable_snmp_rfcv3")},
    **{k: (DBUS, KEEP_OR_REMOVE) for k in ("enable_dbus", "dbus_service_name")},
    **{k: ("a script keepalived runs when it starts or stops",
           "use an ExecStartPre=/ExecStopPost= drop-in of vrrp-agent.service, and remove the line")
       for k in ("startup_script", "startup_script_timeout", "shutdown_script", "shutdown_script_timeout")},
    "disable_local_igmp": ("keepalived's switch of net.ipv4.igmp_link_local_mcast_reports to 0",
                           "set that sysctl yourself (/etc/sysctl.d), and remove the line"),
    "reload_time_file": ("keepalived's scheduled reload", "run `vrrp-agent reload` when you want it "
                         "(a systemd timer), and remove the line"),
    "reload_repeat": ("keepalived's scheduled reload", "run `vrrp-agent reload` when you want it "
                      "(a systemd timer), and remove the line"),
    "reload_file": ("keepalived's reload-by-file trigger", "run `vrrp-agent reload`, and remove the line"),
    "net_namespace": TOP_LEVEL["net_namespace"],
    "instance": TOP_LEVEL["instance"],
}

INSTANCE: Dict[str, Tuple[str, str]] = {
    "track_bfd": (BFD + " (tracking a BFD session)", KEEP_OR_REMOVE),
    "lvs_sync_daemon_inteface": (
        "a misspelling keepalived 2.2.7 does not know either (it ignores the line with a "
        "warning); the old keyword was lvs_sync_daemon_interface, for LVS's connection-sync daemon",
        "remove the line"),
}
SYNC_GROUP: Dict[str, Tuple[str, str]] = {"track_bfd": INSTANCE["track_bfd"]}

# keyword -> (reason, warn): accepted, no effect in the agent.
NOOP_TOP_LEVEL: Dict[str, Tuple[str, bool]] = {
    "use_pid_dir": ("keepalived's pid files; the agent's pid is systemd's", True),
    "child_wait_time": ("how long keepalived waits for its child processes; the agent has none", True),
    "linkbeat_use_polling": ("keepalived's ioctl link polling; the agent follows links by netlink", True),
    "linkbeat_interfaces": ("keepalived polls these interfaces' carrier with MII/ethtool ioctls; the "
                            "agent follows every link by netlink (IFF_RUNNING), which a driver "
                            "reports when it calls netif_carrier_on/off", True),
}
NOOP_GLOBAL: Dict[str, Tuple[str, bool]] = {
    **{k: ("names of keepalived's processes; the agent is one process", True) for k in (
        "process_names", "process_name", "vrrp_process_name", "checker_process_name",
        "lvs_process_name", "bfd_process_name")},
    "reload_check_config": ("the agent always checks a new configuration before a reload and "
                            "keeps the running one when it is invalid", False),
    "include_check": ("the agent always refuses an include that matches no file", False),
    **{k: ("keepalived's netlink socket buffer size; the agent sizes its own", True) for k in (
        "vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs",
        "vrrp_netlink_monitor_rcv_bufs_force", "process_monitor_rcv_bufs",
        "process_monitor_rcv_bufs_force")},
    **{k: ("keepalived's VRRP receive buffer sizing; the agent keeps the system default", True)
       for k in ("vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier")},
    "config_save_dir": ("where keepalived keeps a copy of its parsed configuration", True),
    "tmp_config_directory": ("where keepalived keeps a copy of its parsed configuration", True),
    "data_use_instance": ("keepalived's data-file naming", True),
    "random_seed": ("seeds ${_RANDOM}; the agent's ${_RANDOM} is not reproducible", True),
}
NOOP_INSTANCE: Dict[str, Tuple[str, bool]] = {
    "lvs_sync_daemon_interface": (
        "deprecated in keepalived (use the global lvs_sync_daemon); it starts LVS's connection-sync "
        "daemon, which the agent does not run (keep keepalived if you use IPVS)", True),
    "linkbeat_use_polling": (
        "deprecated in keepalived (use linkbeat_interfaces); keepalived polls the interface's "
        "carrier with ioctls, the agent follows links by netlink", True),
}


def refusal(stmt: Statement, table: Dict[str, Tuple[str, str]]) -> Optional[ConfigError]:
    entry = table.get(stmt.keyword)
    if entry is None:
        return None
    what, todo = entry
    return stmt.error(f"'{stmt.keyword}' is {what}: {todo}")


def accept_noop(stmt: Statement, table: Dict[str, Tuple[str, bool]], warnings: List[str]) -> bool:
    """True when `stmt` is a documented no-op (a warning is recorded when it says so)."""
    entry = table.get(stmt.keyword)
    if entry is None:
        return False
    reason, warn = entry
    if warn:
        warnings.append(f"{stmt.file}:{stmt.line}: '{stmt.keyword}' has no effect in the agent: {reason}")
    return True


def check(stmt: Statement, refused: Dict[str, Tuple[str, str]], noop: Dict[str, Tuple[str, bool]],
          warnings: List[str]) -> bool:
    """Raise for a refused foreign keyword; True when it is an accepted no-op."""
    error = refusal(stmt, refused)
    if error is not None:
        raise error
    return accept_noop(stmt, noop, warnings)
