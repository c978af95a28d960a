"""The real daemon on fake adapters (fakehost.py): elections, takeover, reload, sync groups,
tracking, resources and shutdown, as a normal user, on virtual time."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from fakehost import FakeHost, FakeLan, VirtualLoop, until
from vrrp_agent import commands
from vrrp_agent.config import load_config
from vrrp_agent.control import ControlError
from vrrp_agent.daemon import Daemon
from vrrp_agent.router import BACKUP, FAULT, INIT, MASTER

VIP = "198.51.100.100"


def instance(name="VI_1", interface="eth0", vrid=51, priority=100, vips=(f"{VIP}/24",),
             extra="", advert_int=0.1):
    lines = "".join(f"        {v}\n" for v in vips)
    return (f"vrrp_instance {name} {{\n    interface {interface}\n    virtual_router_id {vrid}\n"
            f"    priority {priority}\n    advert_int {advert_int}\n    version 3\n"
            f"    virtual_ipaddress {{\n{lines}    }}\n{extra}}}\n")


class Agent:
    def __init__(self, host: FakeHost, text: str, tmp: Path, control: bool = False):
        self.host = host
        self.dir = tmp / host.name
        self.dir.mkdir(exist_ok=True)
        (self.dir / "state").mkdir(exist_ok=True)
        self.conf = self.dir / "agent.conf"
        self.conf.write_text(text)
        self.socket = str(self.dir / "control.sock") if control else None
        self.daemon: Optional[Daemon] = None
        self.task: Optional[asyncio.Task[int]] = None

    async def start(self) -> Agent:
        self.daemon = Daemon(load_config(str(self.conf)), state_dir=str(self.dir / "state"),
                             control_socket=self.socket, adapters=self.host.adapters())
        self.task = asyncio.get_running_loop().create_task(self.daemon.run())
        await until(lambda: any("READY=1" in m for m in self.host.notified) or self.task.done())
        return self

    async def stop(self) -> int:
        assert self.daemon is not None and self.task is not None
        self.daemon.stopping.set()
        return await self.task

    def state(self, name: str = "VI_1") -> str:
        assert self.daemon is not None
        return next(i.router.state for i in self.daemon.instances if i.cfg.name == name)

    def status(self, name: str = "VI_1") -> Dict[str, Any]:
        assert self.daemon is not None
        return next(i for i in self.daemon.status()["instances"] if i["name"] == name)


def run(scenario: Callable[[], Any]) -> None:
    loop = VirtualLoop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(asyncio.wait_for(scenario(), 600))
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:  # a failed scenario leaves daemons running
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def lan() -> FakeLan:
    return FakeLan()


def pair(lan: FakeLan, tmp_path: Path, text1: str, text2: str, **kw: Any):
    return (Agent(lan.host("n1", "198.51.100.1"), text1, tmp_path, **kw),
            Agent(lan.host("n2", "198.51.100.2"), text2, tmp_path, **kw))


# ------------------------------------------------------------------ elections
def test_two_agents_elect_the_higher_priority_and_move_the_vip(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        assert a1.host.has(VIP) and not a2.host.has(VIP)
        assert a2.status()["master_ip"] == "198.51.100.1"
        assert json.loads((a1.dir / "state" / "held-vips.json").read_text()) == [VIP]
        assert any(vip == VIP for _t, _if, vip in a1.host.announced)
        # the master is cut off: the backup takes over; healed: the higher priority wins back
        lan.cut.add("eth0")
        await until(lambda: a2.state() == MASTER)
        lan.cut.clear()
        await until(lambda: a2.state() == BACKUP and a1.state() == MASTER)
        assert a1.status()["counters"]["dual_master_seen"] + a2.status()["counters"]["dual_master_seen"] >= 1
        assert a2.status()["counters"]["released_master"] == 1
        assert not a2.host.has(VIP)
        # graceful stop: priority 0, VIPs removed, the backup takes over at once
        assert await a1.stop() == 0
        assert not a1.host.has(VIP) and json.loads((a1.dir / "state" / "held-vips.json").read_text()) == []
        await until(lambda: a2.state() == MASTER, timeout=0.5)  # skew time, not master-down
        assert a2.status()["counters"]["priority_zero_received"] >= 1
        await a2.stop()

    run(scenario)


def test_garbage_and_foreign_vrids_are_counted_never_raised(lan, tmp_path):
    a1 = Agent(lan.host("n1", "198.51.100.1"), instance(), tmp_path)

    async def scenario():
        await a1.start()
        sock = a1.host.sockets[0]
        sock.arrive(b"\x45junk")
        sock.inject(b"\x31\x07" + b"\0" * 30, b"\xc6\x33\x64\x09", b"\xe0\x00\x00\x12", 255)
        sock.inject(b"", b"\xc6\x33\x64\x09", b"\xe0\x00\x00\x12", 255)
        await asyncio.sleep(0.5)
        agent = a1.daemon.status()["agent"]
        assert agent["discards"]["ip_header"] >= 1
        assert sum(agent["discards"].values()) >= 3
        assert a1.state() == MASTER
        await a1.stop()

    run(scenario)


def test_address_owner_starts_master_and_a_send_failure_is_counted(lan, tmp_path):
    a1 = Agent(lan.host("n1", "198.51.100.1"), instance(priority=255), tmp_path)

    async def scenario():
        await a1.start()
        assert a1.state() == MASTER
        a1.host.send_fails = True
        await asyncio.sleep(0.5)
        assert a1.status()["counters"]["send_errors"] >= 1
        await a1.stop()

    run(scenario)


def test_a_failed_vip_add_is_counted_and_not_recorded_as_held(lan, tmp_path):
    a1 = Agent(lan.host("n1", "198.51.100.1"), instance(vips=(f"{VIP}/24", "198.51.100.101/24")),
               tmp_path)
    a1.host.fail_vips.add("198.51.100.101")

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        await asyncio.sleep(0.1)
        assert a1.status()["counters"]["vip_errors"] == 1
        assert a1.daemon.vips.held == {VIP}
        await a1.stop()

    run(scenario)


# ---------------------------------------------------------- links and interfaces
def test_link_down_is_fault_and_link_up_starts_again(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER)
        a1.host.set_link("eth0", False)
        await until(lambda: a1.state() == FAULT)
        assert a1.status()["tracking"]["faults"] == {"link": "interface down"}
        await until(lambda: a2.state() == MASTER, timeout=1.0)  # priority 0 went out
        a1.host.set_link("eth0", True)
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        await a1.stop()
        await a2.stop()

    run(scenario)


def test_a_missing_interface_is_waited_for(lan, tmp_path):
    host = lan.host("n1", "198.51.100.1", interfaces=("eth0",))
    a1 = Agent(host, instance(interface="eth7"), tmp_path)

    async def scenario():
        await a1.start()
        assert a1.state() == FAULT
        assert "eth7 missing" in a1.status()["tracking"]["faults"]["link"]
        host.add_interface("eth7")
        await until(lambda: a1.state() == MASTER, timeout=10)
        await a1.stop()

    run(scenario)


# ------------------------------------------------------------------ operator
def test_takeover_standby_release_through_the_commands(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        out = await commands.takeover(a2.daemon, {"instances": ["VI_1"]})
        assert out == {"instances": [{"name": "VI_1", "state": MASTER, "override": "takeover"}]}
        await until(lambda: a1.state() == BACKUP)
        assert a2.host.has(VIP) and a2.status()["effective_priority"] == 254
        assert json.loads((a2.dir / "state" / "overrides.json").read_text()) == {"VI_1": "takeover"}
        with pytest.raises(ControlError, match="no such instance"):
            await commands.takeover(a2.daemon, {"instances": ["nope"]})
        with pytest.raises(ControlError, match="advertises priority 254"):
            await commands.takeover(a1.daemon, {})
        await commands.release(a2.daemon, {})
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        await commands.standby(a1.daemon, {})
        await until(lambda: a2.state() == MASTER)
        assert a1.status()["effective_priority"] == 1 and a1.status()["override"] == "standby"
        await commands.release(a1.daemon, {})
        await until(lambda: a1.state() == MASTER)
        await a1.stop()
        await a2.stop()

    run(scenario)


def _watch_adverts(lan: FakeLan, agent: Agent) -> List[Tuple[int, bool, int]]:
    """(priority, VIP held, GARPs sent so far) at each advert `agent` puts on the wire."""
    seen: List[Tuple[int, bool, int]] = []
    deliver = lan.deliver

    def watching(sender: Any, payload: bytes, dst: str) -> None:
        if sender.host is agent.host:
            seen.append((payload[2], agent.host.has(VIP), len(agent.host.announced)))
        deliver(sender, payload, dst)

    lan.deliver = watching  # type: ignore[method-assign]
    return seen


def test_a_takeover_holds_and_announces_the_vip_before_its_first_advert(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        seen = _watch_adverts(lan, a2)
        await commands.takeover(a2.daemon, {"instances": ["VI_1"]})
        await until(lambda: a1.state() == BACKUP)
        first = next(entry for entry in seen if entry[0] == 254)
        assert first[1] and first[2] > 0  # the old master yields to an advert sent after the GARP
        await a1.stop()
        await a2.stop()

    run(scenario)


def test_a_returning_master_preempts_make_before_break(lan, tmp_path):
    a1, a2 = pair(lan, tmp_path, instance(priority=150), instance(priority=100))

    async def scenario():
        await a2.start()
        await until(lambda: a2.state() == MASTER)
        seen = _watch_adverts(lan, a1)
        await a1.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        first = next(entry for entry in seen if entry[0] == 150)
        assert first[1] and first[2] > 0  # it heard a2 alive: VIP and GARP before the advert
        await a1.stop()
        await a2.stop()

    run(scenario)


def test_an_override_survives_a_restart(lan, tmp_path):
    a1 = Agent(lan.host("n1", "198.51.100.1"), instance(priority=100), tmp_path)

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        await commands.standby(a1.daemon, {})
        await a1.stop()
        await a1.start()
        await asyncio.sleep(0.5)
        assert a1.status()["override"] == "standby"
        assert a1.status()["effective_priority"] == 1
        await a1.stop()

    run(scenario)


def test_the_control_socket_and_the_cli_in_process(lan, tmp_path, capsys):
    from vrrp_agent import cli

    a1 = Agent(lan.host("n1", "198.51.100.1"), instance(priority=150), tmp_path, control=True)

    async def scenario():
        loop = asyncio.get_running_loop()
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        with loop.real_time():  # a thread talks to the socket: the loop must wait for it
            status = await loop.run_in_executor(None, cli.main, ["status", "--control-socket", a1.socket])
            as_json = await loop.run_in_executor(
                None, cli.main, ["status", "--json", "--control-socket", a1.socket])
            standby = await loop.run_in_executor(None, cli.main, ["standby", "--control-socket", a1.socket])
            release = await loop.run_in_executor(None, cli.main, ["release", "VI_1", "--control-socket",
                                                                  a1.socket])
            reload = await loop.run_in_executor(None, cli.main, ["reload", "--control-socket", a1.socket])
            bad = await loop.run_in_executor(None, cli.main, ["takeover", "nope", "--control-socket",
                                                              a1.socket])
        assert (status, as_json, standby, release, reload, bad) == (0, 0, 0, 0, 0, 1)
        await a1.stop()

    run(scenario)
    out, err = capsys.readouterr()
    assert "VI_1" in out and '"effective_priority": 150' in out
    assert "VI_1: BACKUP (override: standby)" in out and "reloaded: kept: VI_1" in out
    assert "no such instance: nope" in err


# ------------------------------------------------------------------ reload
def test_reload_applies_changes_keeps_state_and_refuses_bad_configs(lan, tmp_path):
    a1 = Agent(lan.host("n1", "198.51.100.1"), instance(priority=150), tmp_path)

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        a1.conf.write_text(instance(priority=150, vips=(f"{VIP}/24", "198.51.100.101/24"))
                           + instance("VI_2", vrid=52, vips=("198.51.100.102/24",)))
        summary = await a1.daemon.reload()
        assert summary == {"kept": ["VI_1"], "changed": ["VI_1"], "started": ["VI_2"], "stopped": []}
        assert a1.host.has("198.51.100.101")
        await until(lambda: a1.state("VI_2") == MASTER)
        assert a1.status()["counters"]["transitions"] == 2  # state kept
        # a host's own address as VIP: refused like check-config and run, nothing applied
        a1.conf.write_text(instance(priority=150, vips=(f"{VIP}/24", "198.51.100.1/24")))
        with pytest.raises(ControlError, match=r"agent.conf:9: virtual IP 198.51.100.1 is an address"):
            await a1.daemon.reload()
        a1.conf.write_text("vrrp_instance {\n")
        with pytest.raises(ControlError, match="running configuration kept"):
            await a1.daemon.reload()
        assert a1.host.has("198.51.100.101") and a1.state("VI_2") == MASTER
        a1.conf.write_text("global_defs {\n    vrrp_mcast_group4 224.0.0.19\n}\n" + instance(priority=150))
        with pytest.raises(ControlError, match="takes a restart"):
            await a1.daemon.reload()
        # VI_2 removed (stops), VI_1 back to one VIP, a new priority
        a1.conf.write_text(instance(priority=120))
        summary = await a1.daemon.reload()
        assert summary["stopped"] == ["VI_2"] and not a1.host.has("198.51.100.101")
        assert not a1.host.has("198.51.100.102")
        assert a1.status()["base_priority"] == 120 and a1.state() == MASTER
        await a1.stop()

    run(scenario)


def test_sighup_reloads(lan, tmp_path):
    import signal

    a1 = Agent(lan.host("n1", "198.51.100.1"), instance(priority=150), tmp_path)

    async def scenario():
        await a1.start()
        await until(lambda: a1.state() == MASTER)
        a1.conf.write_text(instance(priority=150, vips=(f"{VIP}/24", "198.51.100.101/24")))
        os.kill(os.getpid(), signal.SIGHUP)
        await until(lambda: a1.host.has("198.51.100.101"))
        await a1.stop()

    run(scenario)


# ------------------------------------------------------------------ sync groups
SYNC = "vrrp_sync_group G {\n    group {\n        VI_A\n        VI_B\n    }\n}\n"


def sync_pair(lan: FakeLan, tmp_path: Path):
    """Two hosts with eth0 and eth1, each running sync group G (VI_A on eth0, VI_B on eth1)."""
    h1 = lan.host("n1", "198.51.100.1", interfaces=("eth0", "eth1"))
    h2 = lan.host("n2", "198.51.100.2", interfaces=("eth0", "eth1"))

    def conf(prio):
        return (SYNC + instance("VI_A", priority=prio)
                + instance("VI_B", interface="eth1", vrid=52, priority=prio, vips=("203.0.113.100/24",)))

    return h1, h2, Agent(h1, conf(150), tmp_path), Agent(h2, conf(100), tmp_path)


def test_a_sync_group_moves_as_one_on_a_link_fault(lan, tmp_path):
    h1, h2, a1, a2 = sync_pair(lan, tmp_path)

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state("VI_A") == a1.state("VI_B") == MASTER
                    and a2.state("VI_A") == a2.state("VI_B") == BACKUP)
        h1.set_link("eth1", False)
        await until(lambda: a1.state("VI_A") == FAULT and a1.state("VI_B") == FAULT)
        assert a1.status("VI_A")["tracking"]["faults"] == {"sync": "sync group G: VI_B in FAULT"}
        await until(lambda: a2.state("VI_A") == a2.state("VI_B") == MASTER)
        h1.set_link("eth1", True)
        await until(lambda: a1.state("VI_A") == a1.state("VI_B") == MASTER
                    and a2.state("VI_A") == a2.state("VI_B") == BACKUP)
        # a takeover names one member and moves the group
        out = await commands.takeover(a2.daemon, {"instances": ["VI_B"]})
        assert [i["name"] for i in out["instances"]] == ["VI_A", "VI_B"]
        await until(lambda: a1.state("VI_A") == a1.state("VI_B") == BACKUP)
        await a1.stop()
        await a2.stop()

    run(scenario)


def test_one_cut_segment_holds_the_sync_group_back(lan, tmp_path):
    h1, h2, a1, a2 = sync_pair(lan, tmp_path)

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state("VI_A") == MASTER and a2.state("VI_B") == BACKUP)
        lan.cut.add("eth0")
        await asyncio.sleep(3)
        assert a2.state("VI_A") == a2.state("VI_B") == BACKUP  # VI_B still hears n1
        lan.cut.add("eth1")
        await until(lambda: a2.state("VI_A") == a2.state("VI_B") == MASTER)
        lan.cut.clear()
        await until(lambda: a2.state("VI_A") == a2.state("VI_B") == BACKUP)
        await a1.stop()
        await a2.stop()

    run(scenario)


# ------------------------------------------------------------------ tracking
def test_a_tracked_file_moves_the_priority_and_a_weight_0_file_faults(lan, tmp_path):
    weight = tmp_path / "weight"  # n1's only
    weight.write_text("0\n")
    broken = tmp_path / "broken"  # both nodes'
    broken.write_text("0\n")

    def tracks(path):
        return (f"vrrp_track_file W {{\n    file {path}\n    weight 1\n}}\n"
                f"vrrp_track_file B {{\n    file {broken}\n    weight 0\n}}\n")

    extra = "    track_file {\n        W\n        B\n    }\n"
    a1, a2 = pair(lan, tmp_path, tracks(weight) + instance(priority=150, extra=extra),
                  tracks(tmp_path / "none") + instance(priority=100, extra=extra))

    async def scenario():
        await a1.start()
        await a2.start()
        await until(lambda: a1.state() == MASTER and a2.state() == BACKUP)
        weight.write_text("-100\n")  # n1: 150 - 100 = 50 < 100: n2 preempts it
        await until(lambda: a2.state() == MASTER and a1.state() == BACKUP, timeout=10)
        assert a1.status()["effective_priority"] == 50
        weight.write_text("0\n")
        await until(lambda: a1.state() == MASTER, timeout=10)
        broken.write_text("1\n")
        await until(lambda: a1.state() == FAULT and a2.state() == FAULT, timeout=10)
        broken.write_text("0\n")
        await until(lambda: a1.state() == MASTER, timeout=10)
        await a1.stop()
        await a2.stop()

    run(scenario)


# ------------------------------------------------------------------ resources
def test_resources_start_after_the_vips_and_a_failed_start_is_a_held_fault(lan, tmp_path):
    log = tmp_path / "res.log"
    ok = tmp_path / "ok.sh"
    ok.write_text(f"#!/bin/sh\necho \"$1\" >> {log}\n")
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/sh\n[ \"$1\" = stop ]\n")
    for script in (ok, bad):
        script.chmod(0o755)
    good = f"    resource_group {{\n        script {ok}\n        fault_hold 2\n    }}\n"
    failing = f"    resource_group {{\n        script {bad}\n        fault_hold 2\n    }}\n"
    a1 = Agent(lan.host("n1", "198.51.100.1"), instance(priority=150, extra=good), tmp_path)

    async def scenario():
        loop = asyncio.get_running_loop()
        with loop.real_time():  # real processes
            await a1.start()
            await until(lambda: log.exists() and log.read_text() == "start\n", timeout=20)
            await commands.standby(a1.daemon, {})
            assert log.read_text() == "start\nstop\n"  # stopped before the VIPs went
            await commands.release(a1.daemon, {})
            await until(lambda: log.read_text().count("start") == 2, timeout=20)
            a1.conf.write_text(instance(priority=150, extra=failing))
            await a1.daemon.reload()
            await commands.standby(a1.daemon, {})
            await commands.release(a1.daemon, {})
            await until(lambda: a1.state() == FAULT, timeout=20)
            assert "resources" in a1.status()["tracking"]["faults"]
            await until(lambda: a1.state() != FAULT, timeout=20)  # fault_hold 2 s ran out
            await a1.stop()

    run(scenario)


def test_garp_interval_spaces_the_burst_on_the_loop_clock(lan, tmp_path):
    conf = ("global_defs {\n    vrrp_garp_interval 0.25\n    vrrp_garp_master_repeat 3\n"
            "    vrrp_garp_master_delay 0\n}\n" + instance(priority=255))
    a1 = Agent(lan.host("n1", "198.51.100.1"), conf, tmp_path)

    async def scenario():
        await a1.start()
        await until(lambda: len(a1.host.announced) >= 3)
        stamps = [t for t, _if, _vip in a1.host.announced]
        assert [round(b - a, 6) for a, b in zip(stamps, stamps[1:])] == [0.25, 0.25]
        await a1.stop()

    run(scenario)


def test_stop_from_every_state_reaches_init(lan, tmp_path):
    a1 = Agent(lan.host("n1", "198.51.100.1"), instance(interface="eth9"), tmp_path)

    async def scenario():
        await a1.start()
        assert a1.state() == FAULT
        await a1.stop()
        assert a1.state() == INIT
        assert a1.host.notified[-1] == "STOPPING=1"

    run(scenario)
