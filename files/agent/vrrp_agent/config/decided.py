"""keepalived VRRP-half keywords the agent refuses by decision, each with its reason.

Rules:
- These keywords belong to keepalived's VRRP half (or are spelled as if they
  did), but the agent will not act on them; reading them and doing nothing
  would be "parsed and ignored". Each is one FILE:LINE error, built like
  foreign.py's: "'KW' is WHAT: DO", where DO names what to use instead.
- Keywords keepalived 2.2.7 does not know (added by later releases, or only in
  its manual page) are refused as such: keepalived 2.2.7 itself would skip
  them with an "unknown keyword" warning, so the file does not do on 2.2.7
  what its author expects either.
- docs/config.md states each decision; tests/unit/test_config_decided.py
  proves each refusal at its line.
"""

from __future__ import annotations

from typing import Dict, Tuple

from vrrp_agent.config.foreign import refusal
from vrrp_agent.config.syntax import Statement

DUMPS_INSTEAD = ("the agent writes keepalived 2.2.7's dumps on its signals (SIGUSR1 keepalived.data, "
                 "SIGUSR2 keepalived.stats, SIGRTMIN+2 keepalived.json in version 1's layout) into "
                 "$TMPDIR or /tmp, as 2.2.7 does: set TMPDIR in the unit (a systemd drop-in) to move "
                 "them, or read `vrrp-agent status --json`; and remove the line")
NFTABLES_ONLY = ("keepalived 2.2.7 built for nftables only (Debian 12's) reads it as `nftables` "
                 "(table keepalived) with a warning; the agent filters (no_accept, vrrp_strict) "
                 "through nftables only: write `nftables` instead of this line")

GLOBAL: Dict[str, Tuple[str, str]] = {
    "vrrp_iptables": ("keepalived's choice of iptables chains for the DROP rules of no_accept and "
                      "vrrp_strict", NFTABLES_ONLY),
    "vrrp_ipsets": ("keepalived's choice of ipset names for the DROP rules of no_accept and "
                    "vrrp_strict", NFTABLES_ONLY),
    "json_version": ("not a keepalived 2.2.7 keyword (2.2.8 added it: the layout of the "
                     "SIGRTMIN+2 JSON dump)", DUMPS_INSTEAD),
    "json_file_location": ("not a keepalived 2.2.7 keyword (a later manual page lists it for the "
                           "JSON dump)", DUMPS_INSTEAD),
    "state_file_location": ("not a keepalived 2.2.7 keyword (a later manual page lists it for the "
                            "SIGUSR1 data dump)", DUMPS_INSTEAD),
    "stats_file_location": ("not a keepalived 2.2.7 keyword (a later manual page lists it for the "
                            "SIGUSR2 statistics dump)", DUMPS_INSTEAD),
}

INSTANCE: Dict[str, Tuple[str, str]] = {
    "vrf": ("keepalived's binding of an instance without `interface` to a VRF device",
            "name the VRF's member interface with `interface` (the agent binds its sockets to "
            "it), or run the agent in the VRF (`ip vrf exec`), and remove the line"),
    "sync_group_tracking_weight": (
        "a vrrp_sync_group keyword (keepalived 2.2.7 does not know it in a vrrp_instance)",
        "move it into the vrrp_sync_group block"),
}


def check(stmt: Statement, table: Dict[str, Tuple[str, str]]) -> None:
    """Raise the decision's FILE:LINE error when `stmt` is one of `table`'s keywords."""
    error = refusal(stmt, table)
    if error is not None:
        raise error


NOT_YET: Dict[str, str] = {
    # keepalived 2.2.7 keywords of the VRRP half the agent does not carry out (yet), with
    # the reason and what to use; config/parser.py and config/instance.py refuse them here
    "autojoin": (
        "an IPv6 multicast-join flag for host addresses; it has no meaning for a VIP that moves: "
        "remove it"),
    "garp_group": (
        "keepalived's per-interface GARP groups are not implemented; use vrrp_garp_interval / "
        "vrrp_gna_interval, which the agent applies per interface"),
    "home": (
        "the Mobile IPv6 home-address flag; it has no meaning for a VIP that moves: remove it"),
    "mngtmpaddr": (
        "an IPv6 temporary-address (privacy) flag for host addresses; it has no meaning for a "
        "VIP: remove it"),
    "peer": (
        "a point-to-point peer address; a VIP is a host address on a shared segment: remove it"),
    "track_group": (
        "keepalived's track_group only serves static_ipaddress tracking, which the agent does not "
        "watch (every static entry acts as no_track)"),
    "use_ipvlan": (
        "this lab's kernel has no ipvlan, so the agent's use of it could not be compared with "
        "keepalived; use use_vmac"),
    "vmac_addr_prefix": (
        "the agent names per-VIP vMACs by keepalived 2.2.7's default rule; give the instance's "
        "name with use_vmac NAME instead"),
    "vmac_garp_intvl": (
        "periodic GARPs on vMAC interfaces are not implemented; garp_master_refresh repeats them "
        "on every VIP interface"),
    "vmac_prefix": (
        "the agent names vMACs by keepalived 2.2.7's default rule (vrrp.VRID, vrrpN.VRID); give a "
        "name with use_vmac NAME instead"),
    "vrrp_vmac_garp_intvl": (
        "periodic GARPs on vMAC interfaces are not implemented; garp_master_refresh repeats them "
        "on every VIP interface"),
}


def not_yet(stmt: Statement, keyword: str, what: str = "") -> Exception:
    """The FILE:LINE error for one of NOT_YET's keywords (WHAT: e.g. "virtual_ipaddress option ")."""
    return stmt.error(f"{what}'{keyword}' is refused: {NOT_YET[keyword]}")
