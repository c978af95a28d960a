"""Instances sharing one interface's sockets (daemon.Driver: one socket pair per
interface and family) each advertise from their own source (RFC 5798 §5.1.1.1:
the IP source is the sending interface's address the checksum was computed over)."""

from __future__ import annotations

import asyncio

from fakehost import FakeLan, until
from test_daemon_fake import Agent, instance, run
from vrrp_agent.router import BACKUP, MASTER

A1, A2, A3 = "198.51.100.1", "198.51.100.2", "198.51.100.3"
VIP2 = ("198.51.100.102/24",)


def test_rfc5798_5_1_1_1_a_second_instance_sends_from_its_own_mcast_src_ip(tmp_path):
    lan = FakeLan()
    h1 = lan.host("n1", A1)
    h1.addresses[2].add(A3)  # a second address on eth0, VI_2's source
    a1 = Agent(h1, instance(priority=150) + instance(
        "VI_2", vrid=52, priority=150, vips=VIP2, extra=f"    mcast_src_ip {A3}\n"), tmp_path)
    a2 = Agent(lan.host("n2", A2), instance(priority=100)
               + instance("VI_2", vrid=52, priority=100, vips=VIP2), tmp_path)

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state("VI_2") == MASTER and a2.state("VI_2") == BACKUP)
        await asyncio.sleep(1.0)  # ten adverts: every one accepted, none failing its checksum
        assert a2.state("VI_2") == BACKUP and a2.status("VI_2")["master_ip"] == A3
        assert a2.daemon.instances[1].discards["checksum"] == 0
        await a1.stop()
        await a2.stop()

    run(scenario)
