"""Pure parts of the OS edge: GARP / unsolicited NA frames (scapy as the oracle),
rtnetlink link messages, and the status table."""

from __future__ import annotations

import socket
import struct

from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import ARP, Ether
from vrrp_agent.adapters.announce import garp_frame, unsolicited_na_frame
from vrrp_agent.adapters.link import IFF_RUNNING, IFF_UP, RTM_DELLINK, RTM_NEWLINK, parse_link_messages
from vrrp_agent.status import render_event, render_table

MAC = bytes.fromhex("020000aabbcc")


def test_garp_is_a_broadcast_request_with_sender_and_target_the_vip():
    frame = Ether(garp_frame(MAC, socket.inet_aton("198.51.100.100")))
    assert frame.dst == "ff:ff:ff:ff:ff:ff" and frame.src == "02:00:00:aa:bb:cc"
    arp = frame[ARP]
    assert (arp.op, arp.hwtype, arp.ptype, arp.hwlen, arp.plen) == (1, 1, 0x0800, 6, 4)
    assert arp.psrc == arp.pdst == "198.51.100.100"
    assert arp.hwsrc == "02:00:00:aa:bb:cc" and arp.hwdst == "ff:ff:ff:ff:ff:ff"


def test_unsolicited_na_matches_scapy_including_the_icmpv6_checksum():
    vip = "2001:db8:100::100"
    raw = unsolicited_na_frame(MAC, socket.inet_pton(socket.AF_INET6, vip))
    frame = Ether(raw)
    assert frame.dst == "33:33:00:00:00:01" and frame.src == "02:00:00:aa:bb:cc"
    ip6 = frame[IPv6]
    assert (ip6.src, ip6.dst, ip6.hlim, ip6.nh) == (vip, "ff02::1", 255, 58)
    na = frame[ICMPv6ND_NA]
    assert (na.R, na.S, na.O, na.tgt) == (0, 0, 1, vip)
    assert frame[ICMPv6NDOptDstLLAddr].lladdr == "02:00:00:aa:bb:cc"
    # scapy computes the checksum itself when it is left out: the same bytes
    rebuilt = (Ether(dst="33:33:00:00:00:01", src="02:00:00:aa:bb:cc")
               / IPv6(src=vip, dst="ff02::1", hlim=255)
               / ICMPv6ND_NA(R=0, S=0, O=1, tgt=vip) / ICMPv6NDOptDstLLAddr(lladdr="02:00:00:aa:bb:cc"))
    assert bytes(rebuilt) == raw
    assert na.cksum == Ether(bytes(rebuilt))[ICMPv6ND_NA].cksum


def _nlmsg(msg_type: int, index: int, flags: int) -> bytes:
    body = struct.pack("=BxHiII", socket.AF_UNSPEC, 1, index, flags, 0xFFFFFFFF)
    return struct.pack("=IHHII", 16 + len(body), msg_type, 0, 0, 0) + body


def test_parse_link_messages_reads_every_newlink_and_dellink():
    up = IFF_UP | IFF_RUNNING
    data = (_nlmsg(RTM_NEWLINK, 2, up) + _nlmsg(RTM_NEWLINK, 3, IFF_UP)  # admin up, no carrier
            + _nlmsg(20, 4, up)  # RTM_NEWADDR: not a link message
            + _nlmsg(RTM_DELLINK, 5, up))
    assert parse_link_messages(data) == [(2, True), (3, False), (5, False)]


def test_parse_link_messages_stops_at_a_truncated_or_bogus_header():
    good = _nlmsg(RTM_NEWLINK, 2, IFF_UP | IFF_RUNNING)
    assert parse_link_messages(good[:20]) == []
    bogus = struct.pack("=IHHII", 8, RTM_NEWLINK, 0, 0, 0)  # length below the header size
    assert parse_link_messages(bogus + good) == []
    assert parse_link_messages(b"") == []


def _status(**inst):
    base = {"name": "VI_1", "interface": "eth0", "vrid": 51, "family": "ipv4", "state": "MASTER",
            "base_priority": 100, "effective_priority": 110, "master_ip": "198.51.100.1",
            "master_priority": 110, "vips": ["198.51.100.100/24"], "excluded_vips": [],
            "override": None, "since_transition_s": 3725.0,
            "tracking": {"trackers": [{"kind": "script", "name": "chk", "state": "ok", "effect": 10,
                                       "fault": False}], "faults": {}},
            "resources": []}
    base.update(inst)
    return {"agent": {"version": "1.0", "pid": 42, "uptime_s": 90061.0, "config": "/etc/a.conf"},
            "instances": [base]}


def test_render_table_lines_up_one_row_per_instance():
    text = render_table(_status())
    lines = text.splitlines()
    assert lines[0].split() == ["INSTANCE", "IFACE", "VRID", "FAM", "STATE", "PRIO", "MASTER", "VIPS",
                                "OVERRIDE", "SINCE"]
    row = lines[1].split()
    assert row[:6] == ["VI_1", "eth0", "51", "v4", "MASTER", "100/110"]
    assert "198.51.100.1 (110)" in lines[1] and "198.51.100.100/24" in lines[1]
    assert lines[0].index("STATE") == lines[1].index("MASTER")  # aligned columns
    assert "VI_1 tracking: script chk ok (+10)" in text
    assert lines[-1].startswith("agent 1.0 pid 42 up ")


def test_render_table_shows_faults_overrides_and_a_backup_without_master():
    text = render_table(_status(state="FAULT", master_ip=None, vips=[], override="standby",
                                tracking={"trackers": [], "faults": {"link": "interface down"}},
                                family="ipv6"))
    row = text.splitlines()[1].split()
    assert row[3:5] == ["v6", "FAULT"] and "standby" in row and row[6] == "-"
    assert "VI_1 fault: interface down" in text


def test_render_event_is_one_line():
    line = render_event({"seq": 7, "time": "t", "type": "transition", "instance": "VI_1", "new": "MASTER"})
    assert line == "t #7 transition instance=VI_1 new=MASTER"
