"""Every keyword of the agent's tables -> the test that proves it, or why it is not (Must have 4).

Keys are "SCOPE:KEYWORD"; scopes: top (top level), global (global_defs),
instance (vrrp_instance), vip (a virtual_ipaddress option), track_process
(vrrp_track_process). Values:
- "tests/PATH.py::test_name": a test that fails if the keyword is not acted on;
- "noop: REASON": accepted, no effect in the agent, for that reason;
- "refused: REASON": a FILE:LINE error, for that reason;
- "pending: owned elsewhere (HELPER)": refused today; another helper of issue 13
  implements it (the integrator updates the line when merging).
Keywords of other keepalived subsystems (config/foreign.py) point to the test
that walks their table. tests/unit/test_keyword_registry.py checks this file.
"""

REGISTRY = {
    "global:bfd_cpu_affinity":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:bfd_no_swap":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:bfd_priority":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:bfd_process_name":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:bfd_rlimit_rtime":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:bfd_rlimit_rttime":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:bfd_rt_priority":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:checker_cpu_affinity":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:checker_log_all_failures":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:checker_no_swap":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:checker_priority":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:checker_process_name":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:checker_rlimit_rtime":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:checker_rlimit_rttime":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:checker_rt_priority":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:config_save_dir":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:data_use_instance":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:dbus_service_name":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:default_interface":
        "noop: keepalived 2.2.7 uses it only as the device of static_ipaddress entries written without "
        "dev (kept in the globals for them); a vrrp_instance still needs its interface",
    "global:disable_local_igmp":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:dynamic_interfaces":
        "noop: the agent always waits in FAULT for a missing interface (tests/unit/test_daemon_fake.py::"
        "test_a_missing_interface_is_waited_for); allow_if_changes is refused with its reason",
    "global:enable_dbus":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:enable_script_security":
        "tests/unit/test_config_tracking.py::test_vrrp_script_fields_and_argv_split_like_keepalived",
    "global:enable_snmp_checker":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:enable_snmp_keepalived":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:enable_snmp_rfc":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:enable_snmp_rfcv2":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:enable_snmp_rfcv3":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:enable_snmp_vrrp":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:enable_traps":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:fifo_write_vrrp_states_on_reload":
        "tests/unit/test_alerts.py::test_fifo_write_vrrp_states_on_reload",
    "global:include_check":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:instance":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:json_file_location":
        "refused: not a keepalived 2.2.7 keyword; the agent writes 2.2.7's signal dumps into $TMPDIR or /tmp "
        "(tests/lab/test_dumps_lab.py)",
    "global:json_version":
        "refused: not a keepalived 2.2.7 keyword; the agent writes 2.2.7's signal dumps into $TMPDIR or /tmp "
        "(tests/lab/test_dumps_lab.py)",
    "global:log_unknown_vrids":
        ("tests/unit/test_process_link_fake.py::test_log_unknown_vrids_logs_each_foreign_advert_in_kee"
        "palived_words"),
    "global:lvs_flush":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:lvs_flush_on_stop":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:lvs_flush_onstop":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:lvs_id":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:lvs_netlink_cmd_rcv_bufs":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:lvs_netlink_cmd_rcv_bufs_force":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:lvs_netlink_monitor_rcv_bufs":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:lvs_netlink_monitor_rcv_bufs_force":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:lvs_notify_fifo":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:lvs_notify_fifo_script":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:lvs_process_name":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:lvs_sync_daemon":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:lvs_timeouts":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:max_auto_priority":
        "tests/lab/test_scheduling_lab.py::test_max_auto_priority_steps_up_after_the_agent_was_not_scheduled",
    "global:min_auto_priority_delay":
        "tests/unit/test_process_delay_autoprio.py::test_a_late_timer_raises_the_real_time_priority",
    "global:net_namespace":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:net_namespace_ipvs":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:nftables":
        "tests/lab/test_no_accept_lab.py::test_no_accept_drops_traffic_to_the_vip_like_keepalived",
    "global:nftables_ipvs":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:nftables_ipvs_priority":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:nftables_ipvs_start_fwmark":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:no_checker_emails":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:no_email_faults": "tests/unit/test_alerts.py::test_global_smtp_keywords_build_the_mail_settings",
    "global:notification_email":
        "tests/lab/test_alerts_lab.py::test_smtp_alerts_and_fifo_lines_match_keepalived",
    "global:notification_email_from":
        "tests/lab/test_alerts_lab.py::test_smtp_alerts_and_fifo_lines_match_keepalived",
    "global:notify_fifo": "tests/lab/test_alerts_lab.py::test_smtp_alerts_and_fifo_lines_match_keepalived",
    "global:notify_fifo_script":
        "tests/lab/test_alerts_lab.py::test_smtp_alerts_and_fifo_lines_match_keepalived",
    "global:process_monitor_rcv_bufs":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:process_monitor_rcv_bufs_force":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:process_name":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:process_names":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:random_seed":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:reload_check_config":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:reload_file":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:reload_repeat":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:reload_time_file":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:router_id": "tests/unit/test_config.py::test_global_defs_garp_and_instance_override",
    "global:rs_init_notifies":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:script_user":
        "tests/unit/test_config_tracking.py::test_vrrp_script_fields_and_argv_split_like_keepalived",
    "global:shutdown_script":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:shutdown_script_timeout":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:smtp_alert": "tests/unit/test_alerts.py::test_smtp_alert_defaults_follow_keepalived",
    "global:smtp_alert_checker":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:smtp_alert_vrrp": "tests/unit/test_alerts.py::test_smtp_alert_defaults_follow_keepalived",
    "global:smtp_connect_timeout":
        "tests/unit/test_alerts.py::test_smtp_connect_timeout_zero_becomes_one_with_a_warning",
    "global:smtp_helo_name": "tests/lab/test_alerts_lab.py::test_smtp_alerts_and_fifo_lines_match_keepalived",
    "global:smtp_server": "tests/lab/test_alerts_lab.py::test_smtp_alerts_and_fifo_lines_match_keepalived",
    "global:snmp_socket":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:startup_script":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:startup_script_timeout":
        "tests/unit/test_config_foreign.py::test_global_keyword_of_another_subsystem_is_named_at_its_line",
    "global:state_file_location":
        "refused: not a keepalived 2.2.7 keyword; the agent writes 2.2.7's signal dumps into $TMPDIR or /tmp "
        "(tests/lab/test_dumps_lab.py)",
    "global:stats_file_location":
        "refused: not a keepalived 2.2.7 keyword; the agent writes 2.2.7's signal dumps into $TMPDIR or /tmp "
        "(tests/lab/test_dumps_lab.py)",
    "global:tmp_config_directory":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:umask": "tests/unit/test_process_link_fake.py::test_umask_shapes_the_fifo_and_the_scripts",
    "global:v3_checksum_as_v2":
        "tests/unit/test_config_keywords.py::test_global_keyword_reaches_the_instance",
    "global:vmac_addr_prefix":
        ("refused: the agent names per-VIP vMACs by keepalived 2.2.7's default rule; give the "
        "instance's name with use_vmac NAME instead"),
    "global:vmac_prefix":
        ("refused: the agent names vMACs by keepalived 2.2.7's default rule (vrrp.VRID, vrrpN.VRID); "
        "give a name with use_vmac NAME instead"),
    "global:vrrp_check_unicast_src":
        "tests/unit/test_wire_keywords.py::test_check_unicast_src_from_the_instance_or_global_defs",
    "global:vrrp_cpu_affinity":
        ("tests/lab/test_process_limits_lab.py::test_memory_locked_threads_pinned_and_rttime_limited_t"
        "hen_undone_by_reload"),
    "global:vrrp_delay_after_boot":
        "tests/unit/test_process_link_fake.py::test_vrrp_delay_after_boot_counts_from_the_boot",
    "global:vrrp_down_timer_adverts":
        "tests/unit/test_config_keywords.py::test_global_keyword_reaches_the_instance",
    "global:vrrp_garp_extra_if":
        "tests/lab/test_vip_options_lab.py::test_garp_extra_if_like_keepalived",
    "global:vrrp_garp_interval":
        "tests/unit/test_daemon_fake.py::test_garp_interval_spaces_the_burst_on_the_loop_clock",
    "global:vrrp_garp_lower_prio_delay":
        "tests/unit/test_config_keywords.py::test_global_keyword_reaches_the_instance",
    "global:vrrp_garp_lower_prio_repeat":
        "tests/unit/test_config_keywords.py::test_global_keyword_reaches_the_instance",
    "global:vrrp_garp_master_delay":
        "tests/unit/test_daemon_fake.py::test_garp_interval_spaces_the_burst_on_the_loop_clock",
    "global:vrrp_garp_master_refresh":
        "tests/unit/test_config.py::test_global_defs_garp_and_instance_override",
    "global:vrrp_garp_master_refresh_repeat":
        "tests/unit/test_config_keywords.py::test_global_keyword_reaches_the_instance",
    "global:vrrp_garp_master_repeat":
        "tests/unit/test_config.py::test_global_defs_garp_and_instance_override",
    "global:vrrp_gna_interval": "tests/lab/test_agent_lab.py::test_garp_and_gna_intervals_space_the_burst",
    "global:vrrp_higher_prio_send_advert":
        "tests/unit/test_router_answers.py::test_keywords_parse_with_keepalived_booleans_and_global_defaults",
    "global:vrrp_ipsets":
        "refused: keepalived 2.2.7 built for nftables (Debian 12) reads it as nftables with a warning; "
        "the agent filters through nftables only: write nftables instead",
    "global:vrrp_iptables":
        "refused: keepalived 2.2.7 built for nftables (Debian 12) reads it as nftables with a warning; "
        "the agent filters through nftables only: write nftables instead",
    "global:vrrp_lower_prio_no_advert":
        "tests/unit/test_router_answers.py::test_keywords_parse_with_keepalived_booleans_and_global_defaults",
    "global:vrrp_mcast_group4":
        "tests/unit/test_daemon_fake.py::test_reload_applies_changes_keeps_state_and_refuses_bad_configs",
    "global:vrrp_mcast_group6":
        "tests/unit/test_config_keywords.py::test_vrrp_mcast_group6_and_down_timer_guard",
    "global:vrrp_min_garp": "tests/unit/test_config_keywords.py::test_global_keyword_reaches_the_instance",
    "global:vrrp_netlink_cmd_rcv_bufs":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:vrrp_netlink_cmd_rcv_bufs_force":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:vrrp_netlink_monitor_rcv_bufs":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:vrrp_netlink_monitor_rcv_bufs_force":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:vrrp_no_swap":
        ("tests/lab/test_process_limits_lab.py::test_memory_locked_threads_pinned_and_rttime_limited_t"
        "hen_undone_by_reload"),
    "global:vrrp_notify_fifo":
        "tests/lab/test_alerts_lab.py::test_smtp_alerts_and_fifo_lines_match_keepalived",
    "global:vrrp_notify_fifo_script": "tests/unit/test_alerts.py::test_fifo_keywords_with_user_and_script",
    "global:vrrp_notify_priority_changes":
        "tests/lab/test_alerts_lab.py::test_smtp_alerts_and_fifo_lines_match_keepalived",
    "global:vrrp_priority":
        "tests/lab/test_operations_lab.py::test_reload_refuses_a_multicast_group_change_and_applies_globa"
        "l_scheduling",
    "global:vrrp_process_name":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:vrrp_rlimit_rttime":
        ("tests/lab/test_process_limits_lab.py::test_memory_locked_threads_pinned_and_rttime_limited_t"
        "hen_undone_by_reload"),
    "global:vrrp_rt_priority":
        "tests/lab/test_scheduling_lab.py::test_every_thread_is_realtime_and_scripts_are_not",
    "global:vrrp_rx_bufs_multiplier":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:vrrp_rx_bufs_policy":
        "tests/unit/test_config_foreign.py::test_global_noop_is_accepted_and_warns_when_it_has_no_effect",
    "global:vrrp_skip_check_adv_addr":
        "noop: the agent never drops an advert whose address list differs from its own, which is the"
        " check this keyword skips",
    "global:vrrp_startup_delay": "tests/unit/test_config.py::test_global_defs_garp_and_instance_override",
    "global:vrrp_strict":
        "tests/unit/test_config_kernel.py::test_vrrp_strict_resets_like_keepalived_and_warns_with_file_line",
    "global:vrrp_version": "tests/unit/test_config_keywords.py::test_global_keyword_reaches_the_instance",
    "instance:accept":
        "tests/unit/test_config_kernel.py::test_accept_mode_defaults_and_no_accept",
    "instance:advert_int": "tests/unit/test_config.py::test_v3_centiseconds_and_ipv6_forces_version_3",
    "instance:auth_hmac":
        "refused: not a keepalived 2.2.7 keyword (2.4.0); use auth_type PASS or AH",
    "instance:authentication": "tests/unit/test_config.py::test_keepalived_warnings_are_kept_not_fatal",
    "instance:check_unicast_src":
        ("tests/lab/test_unicast_ttl_lab.py::test_forged_unicast_adverts_from_strangers_or_with_wrong_"
        "ttl_are_dropped"),
    "instance:debug": "tests/unit/test_cli_control.py::test_check_config_offline_and_against_this_host",
    "instance:dont_track_primary":
        "tests/unit/test_config_keywords.py::test_instance_keyword_reaches_the_model",
    "instance:down_timer_adverts":
        ("tests/unit/test_wire_keywords.py::test_kernel_rx_buf_size_and_down_timer_adverts_reach_the_s"
        "ocket_and_the_router"),
    "instance:garp_extra_if":
        "tests/lab/test_vip_options_lab.py::test_garp_extra_if_like_keepalived",
    "instance:garp_lower_prio_delay":
        "tests/unit/test_config_keywords.py::test_instance_keyword_reaches_the_model",
    "instance:garp_lower_prio_repeat":
        "tests/unit/test_config_keywords.py::test_instance_keyword_reaches_the_model",
    "instance:garp_master_delay":
        "tests/unit/test_config_keywords.py::test_instance_keyword_reaches_the_model",
    "instance:garp_master_refresh":
        "tests/unit/test_config_keywords.py::test_instance_keyword_reaches_the_model",
    "instance:garp_master_refresh_repeat":
        "tests/unit/test_router.py::test_garp_second_burst_after_delay_and_refresh",
    "instance:garp_master_repeat": "tests/unit/test_config.py::test_global_defs_garp_and_instance_override",
    "instance:higher_prio_send_advert":
        ("tests/unit/test_router_answers.py::test_rfc5798_6_4_3_higher_prio_send_advert_sends_one_befo"
        "re_yielding"),
    "instance:interface":
        "tests/unit/test_config.py::test_seed_master_and_backup_load_with_keepalived_values",
    "instance:kernel_rx_buf_size":
        ("tests/unit/test_wire_keywords.py::test_kernel_rx_buf_size_and_down_timer_adverts_reach_the_s"
        "ocket_and_the_router"),
    "instance:linkbeat_use_polling":
        ("tests/unit/test_config_decided.py::test_linkbeat_keywords_are_accepted_with_a_warning_that_n"
        "etlink_follows_the_link"),
    "instance:lower_prio_no_advert":
        "tests/unit/test_router_answers.py::test_lower_prio_no_advert_keeps_the_garps_and_the_hook",
    "instance:lvs_sync_daemon_inteface":
        "tests/unit/test_config_foreign.py::test_instance_keyword_of_another_subsystem_is_named_at_its_li"
        "ne",
    "instance:lvs_sync_daemon_interface":
        "tests/unit/test_config_foreign.py::test_lvs_sync_daemon_interface_in_an_instance_is_accepted_wit"
        "h_a_warning",
    "instance:mcast_dst_ip":
        "tests/lab/test_unicast_ttl_lab.py::test_mcast_dst_ip_group_is_shared_with_keepalived",
    "instance:mcast_src_ip": "tests/unit/test_config_keywords.py::test_instance_keyword_reaches_the_model",
    "instance:native_ipv6":
        "tests/unit/test_wire_keywords.py::test_mcast_dst_ip_native_ipv6_and_the_timer_keywords",
    "instance:no_accept":
        "tests/lab/test_no_accept_lab.py::test_no_accept_drops_traffic_to_the_vip_like_keepalived",
    "instance:no_virtual_ipaddress":
        "refused: not a keepalived 2.2.7 keyword (2.2.8); give at least one virtual_ipaddress",
    "instance:nopreempt": "tests/unit/test_config.py::test_keepalived_warnings_are_kept_not_fatal",
    "instance:notify":
        "tests/lab/test_tracking_lab.py::test_notify_order_is_preserved_under_a_flapping_check",
    "instance:notify_backup": "tests/unit/test_config_language.py::test_builtin_definitions",
    "instance:notify_deleted":
        "tests/unit/test_alerts.py::test_fifo_lines_through_a_reload_that_removes_an_instance",
    "instance:notify_fault":
        "tests/lab/test_tracking_lab.py::test_notify_order_is_preserved_under_a_flapping_check",
    "instance:notify_master":
        "tests/unit/test_scripts_notify.py::test_notify_hooks_run_in_order_one_at_a_time",
    "instance:notify_master_rx_lower_pri":
        "tests/lab/test_flood.py::test_notify_master_rx_lower_pri_runs_once_per_episode",
    "instance:notify_priority_changes":
        "tests/unit/test_alerts.py::test_notify_priority_changes_instance_then_group_then_global",
    "instance:notify_stop": "tests/unit/test_config_keywords.py::test_instance_keyword_reaches_the_model",
    "instance:old_unicast_checksum":
        "tests/lab/test_unicast_ttl_lab.py::test_old_unicast_checksum_with_keepalived",
    "instance:owner_ignore_adverts":
        "refused: not a keepalived 2.2.7 keyword (2.3.3); the agent follows 2.2.7",
    "instance:preempt":
        "tests/unit/test_router.py::test_rfc5798_6_4_2_preempting_a_live_lower_master_is_make_before_brea"
        "k",
    "instance:preempt_delay": "tests/unit/test_config_keywords.py::test_instance_keyword_reaches_the_model",
    "instance:priority":
        "tests/lab/test_agent_lab.py::test_rfc3768_election_freeze_failover_and_preempt_back",
    "instance:promote_secondaries":
        "tests/lab/test_vip_options_lab.py::test_vip_options_and_promote_secondaries_match_keepalived",
    "instance:resource_group":
        "tests/unit/test_daemon_fake.py::test_resources_start_after_the_vips_and_a_failed_start_is_a_held"
        "_fault",
    "instance:skip_check_adv_addr":
        "tests/unit/test_wire_keywords.py::test_skip_check_adv_addr_compares_the_vip_list_once_per_master",
    "instance:smtp_alert": "tests/unit/test_alerts.py::test_smtp_alert_defaults_follow_keepalived",
    "instance:state": "tests/unit/test_config.py::test_state_master_without_priority_means_owner_255",
    "instance:strict_mode":
        "tests/unit/test_config_kernel.py::test_strict_defaults_accept_to_the_owner_and_needs_a_vip",
    "instance:sync_group_tracking_weight":
        "refused: a vrrp_sync_group keyword (keepalived 2.2.7 does not know it in an instance): move it "
        "into the sync group",
    "instance:timer_expired_backup":
        "refused: not a keepalived 2.2.7 keyword (2.2.8); the agent follows 2.2.7",
    "instance:track_bfd":
        "tests/unit/test_config_foreign.py::test_instance_keyword_of_another_subsystem_is_named_at_its_li"
        "ne",
    "instance:track_file":
        "tests/unit/test_daemon_fake.py::test_a_tracked_file_moves_the_priority_and_a_weight_0_file_fault"
        "s",
    "instance:track_interface":
        "tests/unit/test_cli_control.py::test_a_failing_vrrp_script_faults_and_a_weighted_one_moves_the_p"
        "riority",
    "instance:track_process": "tests/unit/test_cli_control.py::test_a_tracked_process_is_counted",
    "instance:track_script":
        "tests/unit/test_cli_control.py::test_a_failing_vrrp_script_faults_and_a_weighted_one_moves_the_p"
        "riority",
    "instance:track_src_ip":
        "tests/lab/test_unicast_ttl_lab.py::test_track_src_ip_faults_while_the_unicast_source_is_removed",
    "instance:unicast_fault_no_peer":
        "tests/unit/test_wire_keywords.py::test_unicast_fault_no_peer_is_fault_instead_of_multicast",
    "instance:unicast_peer": "tests/lab/test_agent_lab.py::test_unicast_peers_three_nodes",
    "instance:unicast_src_ip":
        "tests/unit/test_heartbeat_import.py::test_subsecond_deadtime_uses_vrrpv3_and_ucast_peers",
    "instance:unicast_ttl":
        "tests/lab/test_unicast_ttl_lab.py::test_unicast_ttl_keepalived_accepts",
    "instance:use_ipvlan":
        ("refused: this lab's kernel has no ipvlan, so the agent's use of it could not be compared "
        "with keepalived; use use_vmac"),
    "instance:use_vmac":
        "tests/lab/test_vmac_lab.py::test_use_vmac_matches_keepalived",
    "instance:use_vmac_addr":
        "tests/lab/test_vmac_lab.py::test_per_vip_vmacs_like_keepalived",
    "instance:v3_checksum_as_v2":
        "tests/unit/test_config_keywords.py::test_instance_keyword_reaches_the_model",
    "instance:version": "tests/unit/test_config.py::test_seed_master_and_backup_load_with_keepalived_values",
    "instance:virtual_ipaddress":
        "tests/unit/test_cli_control.py::test_check_config_offline_and_against_this_host",
    "instance:virtual_ipaddress_excluded": "tests/unit/test_config.py::test_vip_options_and_excluded",
    "instance:virtual_router_id":
        "tests/unit/test_config.py::test_seed_master_and_backup_load_with_keepalived_values",
    "instance:virtual_routes":
        "tests/lab/test_routes_lab.py::test_virtual_routes_and_rules_follow_the_vip_like_keepalived",
    "instance:virtual_rules":
        "tests/lab/test_routes_lab.py::test_virtual_routes_and_rules_follow_the_vip_like_keepalived",
    "instance:vmac_xmit_base":
        "tests/lab/test_vmac_lab.py::test_use_vmac_matches_keepalived",
    "top:SSL":
        "tests/unit/test_config_foreign.py::test_top_level_block_of_another_subsystem_is_named_at_its_lin"
        "e",
    "top:bfd_instance":
        "tests/unit/test_config_foreign.py::test_top_level_block_of_another_subsystem_is_named_at_its_lin"
        "e",
    "top:child_wait_time":
        "tests/unit/test_config_foreign.py::test_top_level_noop_is_accepted_with_a_warning",
    "top:garp_group":
        ("refused: keepalived's per-interface GARP groups are not implemented; use vrrp_garp_interval "
        "/ vrrp_gna_interval, which the agent applies per interface"),
    "top:global_defs": "tests/unit/test_config.py::test_global_defs_garp_and_instance_override",
    "top:include": "tests/unit/test_config.py::test_include_with_glob_relative_to_the_including_file",
    "top:instance":
        "tests/unit/test_config_foreign.py::test_top_level_block_of_another_subsystem_is_named_at_its_lin"
        "e",
    "top:interface_up_down_delays":
        "tests/lab/test_link_delays_lab.py::test_a_cable_blip_shorter_than_the_down_delay_changes_nothing",
    "top:linkbeat_interfaces":
        ("tests/unit/test_config_decided.py::test_linkbeat_keywords_are_accepted_with_a_warning_that_n"
        "etlink_follows_the_link"),
    "top:linkbeat_use_polling":
        "tests/unit/test_config_foreign.py::test_top_level_noop_is_accepted_with_a_warning",
    "top:local_address_group":
        "tests/unit/test_config_foreign.py::test_top_level_block_of_another_subsystem_is_named_at_its_lin"
        "e",
    "top:namespace_with_ipsets":
        "tests/unit/test_config_foreign.py::test_top_level_block_of_another_subsystem_is_named_at_its_lin"
        "e",
    "top:net_namespace":
        "tests/unit/test_config_foreign.py::test_top_level_block_of_another_subsystem_is_named_at_its_lin"
        "e",
    "top:net_namespace_ipvs":
        "tests/unit/test_config_foreign.py::test_top_level_block_of_another_subsystem_is_named_at_its_lin"
        "e",
    "top:static_ipaddress":
        "tests/lab/test_routes_lab.py::test_static_addresses_routes_rules_stay_while_running_like_keepalived",
    "top:static_routes":
        "tests/lab/test_routes_lab.py::test_static_addresses_routes_rules_stay_while_running_like_keepalived",
    "top:static_rules":
        "tests/lab/test_routes_lab.py::test_static_addresses_routes_rules_stay_while_running_like_keepalived",
    "top:track_file":
        "tests/unit/test_daemon_fake.py::test_a_tracked_file_moves_the_priority_and_a_weight_0_file_fault"
        "s",
    "top:track_group":
        ("refused: keepalived's track_group only serves static_ipaddress tracking, which the agent "
        "does not watch (every static entry acts as no_track)"),
    "top:use_pid_dir": "tests/unit/test_config_foreign.py::test_top_level_noop_is_accepted_with_a_warning",
    "top:virtual_server":
        "tests/unit/test_config_foreign.py::test_top_level_block_of_another_subsystem_is_named_at_its_lin"
        "e",
    "top:virtual_server_group":
        "tests/unit/test_config_foreign.py::test_top_level_block_of_another_subsystem_is_named_at_its_lin"
        "e",
    "top:vrrp_instance": "tests/unit/test_cli_control.py::test_check_config_offline_and_against_this_host",
    "top:vrrp_script":
        "tests/unit/test_cli_control.py::test_a_failing_vrrp_script_faults_and_a_weighted_one_moves_the_p"
        "riority",
    "top:vrrp_sync_group": "tests/unit/test_config_foreign.py::test_track_bfd_in_a_sync_group_is_named",
    "top:vrrp_track_file": "tests/unit/test_config_tracking.py::test_track_file_needs_an_absolute_path",
    "top:vrrp_track_process": "tests/unit/test_cli_control.py::test_a_tracked_process_is_counted",
    "track_process:delay":
        "tests/unit/test_process_delay_autoprio.py::test_terminate_and_fork_delay_hold_the_fault_back",
    "track_process:fork_delay":
        "tests/unit/test_process_delay_autoprio.py::test_terminate_and_fork_delay_hold_the_fault_back",
    "track_process:terminate_delay":
        "tests/unit/test_process_delay_autoprio.py::test_terminate_and_fork_delay_hold_the_fault_back",
    "vip:-nodad":
        "tests/lab/test_vip_options_lab.py::test_vip_options_and_promote_secondaries_match_keepalived",
    "vip:autojoin":
        ("refused: an IPv6 multicast-join flag for host addresses; it has no meaning for a VIP that "
        "moves: remove it"),
    "vip:brd": "tests/unit/test_config.py::test_vip_options_and_excluded",
    "vip:broadcast": "tests/unit/test_config_keywords.py::test_vip_broadcast_is_brd",
    "vip:dev": "tests/unit/test_config.py::test_vip_options_and_excluded",
    "vip:home":
        "refused: the Mobile IPv6 home-address flag; it has no meaning for a VIP that moves: remove it",
    "vip:label": "tests/unit/test_config.py::test_vip_options_and_excluded",
    "vip:mngtmpaddr":
        ("refused: an IPv6 temporary-address (privacy) flag for host addresses; it has no meaning for "
        "a VIP: remove it"),
    "vip:no_track":
        "tests/unit/test_config_kernel.py::test_vip_options_nodad_noprefixroute_preferred_lft_no_track",
    "vip:nodad":
        "tests/lab/test_vip_options_lab.py::test_vip_options_and_promote_secondaries_match_keepalived",
    "vip:noprefixroute":
        "tests/lab/test_vip_options_lab.py::test_vip_options_and_promote_secondaries_match_keepalived",
    "vip:peer":
        "refused: a point-to-point peer address; a VIP is a host address on a shared segment: remove it",
    "vip:preferred_lft":
        "tests/lab/test_vip_options_lab.py::test_vip_options_and_promote_secondaries_match_keepalived",
    "vip:scope": "tests/unit/test_config.py::test_vip_options_and_excluded",
    "vip:track_group":
        ("refused: keepalived's track_group only serves static_ipaddress tracking, which the agent "
        "does not watch (every static entry acts as no_track)"),
    "vip:use_vmac":
        "tests/lab/test_vmac_lab.py::test_per_vip_vmacs_like_keepalived",
    "global:nftables_counters":
        "tests/unit/test_config_kernel.py::test_nftables_globals",
    "global:nftables_ifindex":
        "tests/unit/test_config_kernel.py::test_nftables_globals",
    "global:nftables_priority":
        "tests/unit/test_config_kernel.py::test_nftables_globals",
    "global:vrrp_vmac_garp_intvl":
        ("refused: periodic GARPs on vMAC interfaces are not implemented; garp_master_refresh repeats "
        "them on every VIP interface"),
    "global:vrrp_rlimit_rtime": "tests/unit/test_config_decided.py::test_rlimit_warnings_follow_keepalived",
    "instance:vmac_garp_intvl":
        ("refused: periodic GARPs on vMAC interfaces are not implemented; garp_master_refresh repeats "
        "them on every VIP interface"),
    "instance:vrf":
        "refused: the agent has no VRF binding of an interface-less instance; name the VRF's member "
        "interface with interface, or run the agent under ip vrf exec",
    "instance:announce":
        "tests/lab/test_routed_lab.py::test_the_client_follows_the_master_through_every_failure",
}
