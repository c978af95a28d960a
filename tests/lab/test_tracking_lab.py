"""Tracking in the namespace lab: track_script (weight, fall, rise, FAULT), track_interface,
track_file, sync groups, resource groups, notify order under a flapping check, events.

Check scripts are small files in the lab's logdir that exit with the number in a flag
file, so a test flips a node's health by writing one character. No timing assertions:
order is read from the agent's own event stream and from files the hooks write.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from agentlab import Agent, agent_env, agent_instance
from netlab import Lab, owned_only_by, wait_until

VIP4 = "198.51.100.100"
VIP_B = "203.0.113.100"
SLOW = 25.0
FAST_V3 = dict(version=3, advert_int=0.1)

CHECK = """#!/bin/sh
# exits with the number in the flag file (0 = healthy)
exit "$(cat "$1" 2>/dev/null || echo 0)"
"""


def write_exec(path: Path, text: str) -> Path:
    path.write_text(text)
    os.chmod(path, 0o755)
    return path


class Flag:
    """A flag file read by CHECK: set(1) makes the check fail."""

    def __init__(self, lab: Lab, name: str):
        self.path = lab.logdir / f"{name}.flag"
        self.set(0)

    def set(self, value: int) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(f"{value}\n")
        os.replace(tmp, self.path)


def script_block(lab: Lab, flag: Flag, name: str = "chk", **kw: object) -> str:
    check = write_exec(lab.logdir / "check.sh", CHECK)
    opts = "".join(f"    {k} {v}\n" for k, v in kw.items())
    return f"vrrp_script {name} {{\n    script \"{check} {flag.path}\"\n{opts}}}\n"


class Events:
    """`vrrp-agent events --json` from the test process, into a file."""

    def __init__(self, agent: Agent):
        self.path = agent.lab.logdir / f"{agent.node.label}-{agent.name}-events.jsonl"
        self.fh = open(self.path, "w")  # noqa: SIM115 - closed in close()
        # --backlog: the history since the agent started, so nothing is missed
        argv = agent.cli_argv("events", "--json", "--backlog", "200")
        self.proc = subprocess.Popen(argv, env=agent_env(), stdout=self.fh, stderr=subprocess.STDOUT)
        wait_until(lambda: self.path.stat().st_size > 0, 10, message="events stream started")

    def read(self) -> list:
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)
        self.fh.close()


def tracker(agent: Agent, kind: str, name: str, inst: str = "VI_1") -> dict:
    for t in agent.instance(inst)["tracking"]["trackers"]:
        if t["kind"] == kind and t["name"] == name:
            return t
    raise KeyError(name)


def test_track_script_weight_fall_and_rise_move_the_vip(lab: Lab):
    flag = Flag(lab, "n1")
    scripts = script_block(lab, flag, interval=0.2, fall=3, rise=2, weight=-60)
    track = "    track_script {\n        chk\n    }\n"
    a1 = Agent(lab.node(1), scripts + agent_instance(priority=150, extra=track, **FAST_V3))
    a2 = Agent(lab.node(2), agent_instance(priority=100, **FAST_V3))
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    wait_until(lambda: tracker(a1, "script", "chk")["state"] == "ok", SLOW)
    events = Events(a1)
    try:
        flag.set(1)
        wait_until(lambda: a1.instance()["effective_priority"] == 90, SLOW)
        wait_until(owned_only_by(lab, VIP4, 2), SLOW, message="VIP moves to the peer")
        assert a1.state() == "BACKUP" and a2.state() == "MASTER"
        flag.set(0)
        wait_until(lambda: a1.instance()["effective_priority"] == 150, SLOW)
        wait_until(owned_only_by(lab, VIP4, 1), SLOW, message="VIP comes back (preempt)")
        seen = events.read()
    finally:
        events.close()
    runs = [e for e in seen if e["type"] in ("script", "priority")]
    down = next(i for i, e in enumerate(runs) if e["type"] == "priority" and e["new"] == 90)
    up = next(i for i, e in enumerate(runs) if e["type"] == "priority" and e["new"] == 150)
    # fall 3: three failed runs in a row right before the priority dropped
    assert [e["ok"] for e in runs[down - 3:down]] == [False] * 3, runs[:down + 1]
    assert all(e["ok"] for e in runs[:down - 3] if e["type"] == "script")
    # rise 2: two successful runs in a row right before it came back, after a failure
    assert [e["ok"] for e in runs[up - 2:up]] == [True, True], runs[down:up + 1]
    assert runs[up - 3]["ok"] is False
    t = tracker(a1, "script", "chk")
    assert t["failures"] >= 3 and t["state"] == "ok" and t["effect"] == 0


def test_weight_zero_script_faults_and_missing_script_is_a_counted_failure(lab: Lab):
    flag = Flag(lab, "n1")
    scripts = script_block(lab, flag, interval=0.2)
    scripts += "vrrp_script ghost {\n    script \"/nonexistent/check --now\"\n    interval 0.5\n}\n"
    track = "    track_script {\n        chk\n        ghost weight -1\n    }\n"
    a1 = Agent(lab.node(1), scripts + agent_instance(priority=150, extra=track, **FAST_V3))
    Agent(lab.node(2), agent_instance(priority=100, **FAST_V3))
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    wait_until(lambda: tracker(a1, "script", "ghost")["failures"] >= 2, SLOW)
    ghost = tracker(a1, "script", "ghost")
    assert ghost["state"] == "failed" and "not found" in ghost["last_detail"]
    assert a1.instance()["effective_priority"] == 149
    assert "vrrp_script ghost is now FAILED (not found: /nonexistent/check)" in a1.log_text()
    flag.set(3)
    wait_until(lambda: a1.state() == "FAULT", SLOW)
    wait_until(owned_only_by(lab, VIP4, 2), SLOW)
    assert "script chk failed" in a1.instance()["tracking"]["faults"]["tracking"]
    flag.set(0)
    wait_until(lambda: a1.state() == "MASTER", SLOW)
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)


def test_hanging_script_is_killed_at_its_timeout_and_the_agent_keeps_answering(lab: Lab):
    # ps in a namespace sees every process of the machine (other runs of this test too):
    # a duration of our own tells our sleeps from theirs
    naptime = f"sleep {300 + os.getpid() % 10000}"
    hang = write_exec(lab.logdir / "hang.sh", f"#!/bin/sh\n{naptime} &\n{naptime}\n")
    conf = (f"vrrp_script hang {{\n    script {hang}\n    interval 0.5\n    timeout 0.5\n"
            "    weight -10\n}\n")
    track = "    track_script {\n        hang\n    }\n"
    a1 = Agent(lab.node(1), conf + agent_instance(priority=150, extra=track, **FAST_V3))
    wait_until(lambda: tracker(a1, "script", "hang")["failures"] >= 2, SLOW)
    assert "timed out after 0.5 s" in tracker(a1, "script", "hang")["last_detail"]
    wait_until(lambda: a1.instance()["effective_priority"] == 140, SLOW)
    # the whole process group went: no `sleep 300` is left behind in the node
    out = lab.node(1).run(["ps", "-eo", "args"]).stdout
    assert out.count(naptime) <= 2, out  # at most the run in progress (sh's two sleeps)


def test_track_interface_and_track_file(make_lab):
    lab = make_lab(ifaces=("eth0", "eth1"))
    prio_file = lab.logdir / "n1.prio"
    prio_file.write_text("0\n")
    conf = (f"vrrp_track_file prio {{\n    file {prio_file}\n    weight -10\n}}\n")
    track = ("    track_interface {\n        eth1\n    }\n"
             "    track_file {\n        prio\n    }\n")
    a1 = Agent(lab.node(1), conf + agent_instance(priority=150, extra=track, **FAST_V3))
    Agent(lab.node(2), agent_instance(priority=100, **FAST_V3))
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    lab.node(1).link_down("eth1")
    wait_until(lambda: a1.state() == "FAULT", SLOW)
    wait_until(owned_only_by(lab, VIP4, 2), SLOW)
    assert tracker(a1, "interface", "eth1")["fault"]
    lab.node(1).link_up("eth1")
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    prio_file.write_text("6\n")  # 6 x -10: 150 -> 90, below the peer's 100
    wait_until(lambda: a1.instance()["effective_priority"] == 90, SLOW)
    wait_until(owned_only_by(lab, VIP4, 2), SLOW)
    assert tracker(a1, "file", "prio")["effect"] == -60
    prio_file.write_text("0\n")
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)


def sync_pair(lab: Lab, prio: int, notify: str = "") -> str:
    vi2 = agent_instance("VI_2", interface="eth1", vrid=52, priority=prio, vips=(f"{VIP_B}/24",),
                         **FAST_V3)
    return (agent_instance("VI_1", priority=prio, **FAST_V3) + vi2
            + f"vrrp_sync_group G {{\n    group {{\n        VI_1\n        VI_2\n    }}\n{notify}}}\n")


def test_sync_group_on_two_interfaces_moves_as_one(make_lab):
    lab = make_lab(ifaces=("eth0", "eth1"))
    log = lab.logdir / "group-notify.log"
    hook = write_exec(lab.logdir / "group-notify.sh", f"#!/bin/sh\necho \"$*\" >> {log}\n")
    a1 = Agent(lab.node(1), sync_pair(lab, 150, f"    notify {hook}\n"))
    a2 = Agent(lab.node(2), sync_pair(lab, 100))
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    wait_until(lambda: lab.owner_nodes(VIP_B, ifname="eth1") == {1}, SLOW)
    lab.node(1).link_down("eth1")  # only VI_2's interface
    wait_until(lambda: {a1.state("VI_1"), a1.state("VI_2")} == {"FAULT"}, SLOW)
    wait_until(owned_only_by(lab, VIP4, 2), SLOW, message="VI_1 follows VI_2 to the peer")
    assert "sync group G" in a1.instance("VI_1")["tracking"]["faults"]["sync"]
    assert {a2.state("VI_1"), a2.state("VI_2")} == {"MASTER"}
    lab.node(1).link_up("eth1")
    wait_until(lambda: {a1.state("VI_1"), a1.state("VI_2")} == {"MASTER"}, SLOW)
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    # standby on one member acts on the group
    assert a1.cli("standby", "VI_1").returncode == 0
    wait_until(lambda: {a2.state("VI_1"), a2.state("VI_2")} == {"MASTER"}, SLOW)
    assert a1.instance("VI_2")["override"] == "standby"

    def states() -> list:
        return [line.split()[2] for line in log.read_text().splitlines()] if log.exists() else []

    wait_until(lambda: len(states()) >= 6, SLOW, message="group hooks ran")
    assert states() == ["BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER", "BACKUP"], states()


RESOURCE = """#!/bin/sh
# resource NAME start|stop: logs the action; fails to start when the flag says so
echo "$1 $2" >> {log}
if [ "$2" = start ] && [ "$(cat {flag} 2>/dev/null)" = 1 ]; then exit 1; fi
exit 0
"""


def resource_conf(lab: Lab, node: int, fail: bool) -> str:
    log = lab.logdir / f"n{node}-resources.log"
    flag = lab.logdir / f"n{node}-resource.flag"
    flag.write_text("1\n" if fail else "0\n")
    res = write_exec(lab.logdir / f"n{node}-res.sh", RESOURCE.format(log=log, flag=flag))
    group = ("    resource_group {\n"
             f"        script {res} first\n        script {res} second\n"
             "        timeout 10\n        stop_retries 1\n        fault_hold 0\n    }\n")
    return group


def test_resource_group_start_failure_releases_the_vip_to_the_peer(lab: Lab):
    a2 = Agent(lab.node(2), agent_instance(priority=100, extra=resource_conf(lab, 2, False),
                                           **FAST_V3))
    wait_until(owned_only_by(lab, VIP4, 2), SLOW)
    wait_until(lambda: [r["state"] for r in a2.instance()["resources"]] == ["started"] * 2, SLOW)
    log2 = lab.logdir / "n2-resources.log"
    assert log2.read_text().split("\n")[:2] == ["first start", "second start"]
    a1 = Agent(lab.node(1), agent_instance(priority=150, extra=resource_conf(lab, 1, True),
                                           **FAST_V3))
    # node 1 preempts, fails to start "first", stops it, goes FAULT: the peer takes over again
    wait_until(lambda: a1.state() == "FAULT", SLOW)
    wait_until(owned_only_by(lab, VIP4, 2), SLOW)
    res = a1.instance()["resources"]
    assert res[0]["name"].endswith("n1-res.sh") and "start: exit 1" in res[0]["last_error"]
    assert [r["state"] for r in res] == ["stopped", "stopped"]
    log1 = (lab.logdir / "n1-resources.log").read_text().splitlines()
    assert log1 == ["first start", "first stop"], log1
    assert "resources" in a1.instance()["tracking"]["faults"]
    # node 2 lost mastership to node 1 for a moment: it stopped in reverse, then started again
    wait_until(lambda: [r["state"] for r in a2.instance()["resources"]] == ["started"] * 2, SLOW)
    lines = log2.read_text().splitlines()
    if len(lines) > 2:
        assert lines[2:4] == ["second stop", "first stop"], lines
    # release clears the FAULT; with a working resource node 1 takes over for good
    (lab.logdir / "n1-resource.flag").write_text("0\n")
    assert a1.cli("release").returncode == 0
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    wait_until(lambda: [r["state"] for r in a1.instance()["resources"]] == ["started"] * 2, SLOW)
    table = a1.cli("status")
    assert "resources:" in table.stdout and "started" in table.stdout


NOTIFY = """#!/bin/sh
# records start and end of each run: overlapping runs would interleave
echo "start $*" >> {log}
sleep 0.05
echo "end $*" >> {log}
"""


def test_notify_order_is_preserved_under_a_flapping_check(make_lab):
    lab = make_lab(nodes=1, client=False)
    flag = Flag(lab, "n1")
    log = lab.logdir / "notify.log"
    hook = write_exec(lab.logdir / "notify.sh", NOTIFY.format(log=log))
    conf = script_block(lab, flag, interval=0.1)
    extra = ("    track_script {\n        chk\n    }\n"
             f"    notify_master \"{hook} specific-master\"\n"
             f"    notify_fault \"{hook} specific-fault\"\n"
             f"    notify {hook}\n")
    agent = Agent(lab.node(1), conf + agent_instance(priority=150, extra=extra, **FAST_V3))
    wait_until(lambda: agent.state() == "MASTER", SLOW)
    events = Events(agent)
    try:
        for n in range(12):
            flag.set(n % 2 ^ 1)  # fail, heal, fail, ... faster than the hooks run
            time.sleep(0.15)
        flag.set(0)
        wait_until(lambda: agent.state() == "MASTER", SLOW)

        def streamed() -> int:
            return len([e for e in events.read() if e["type"] == "transition"])

        # the stream is asynchronous: wait until it has every transition the agent counted
        wait_until(lambda: streamed() == agent.instance()["counters"]["transitions"], SLOW,
                   message="every transition streamed")
        seen = events.read()
    finally:
        events.close()
    transitions = [e["new"] for e in seen if e["type"] == "transition"]
    assert "FAULT" in transitions and len(transitions) >= 4, transitions
    expected_generic = [("STOP" if s == "INIT" else s) for s in transitions]

    def generic_states() -> list:
        lines = log.read_text().splitlines() if log.exists() else []
        return [ln.split()[3] for ln in lines if ln.startswith("end INSTANCE")]

    wait_until(lambda: len(generic_states()) >= len(expected_generic), 60,
               message="every queued hook ran")
    lines = log.read_text().splitlines()
    for i in range(0, len(lines), 2):  # never concurrent: start/end pairs, same run
        assert lines[i].startswith("start ") and lines[i + 1] == "end " + lines[i][6:], lines[i:i + 2]
    assert generic_states() == expected_generic, (generic_states(), transitions)
    runs = [ln[6:] for ln in lines if ln.startswith("start ")]
    for i, run in enumerate(runs):  # the specific hook runs right before the generic one
        if run.startswith("specific-"):
            state = run.split("-")[1].upper()
            assert runs[i + 1].startswith(f"INSTANCE VI_1 {state} "), runs[i:i + 2]


def test_track_process_quorum(lab: Lab):
    marker = f"vrrp-lab-{lab.prefix}"
    conf = (f"vrrp_track_process worker {{\n    process sh -c \"sleep 300; true\" {marker}\n"
            "    quorum 1\n}\n")
    track = "    track_process {\n        worker\n    }\n"
    a1 = Agent(lab.node(1), conf + agent_instance(priority=150, extra=track, **FAST_V3))
    Agent(lab.node(2), agent_instance(priority=100, **FAST_V3))
    wait_until(lambda: a1.state() == "FAULT", SLOW, message="no worker: FAULT")
    wait_until(owned_only_by(lab, VIP4, 2), SLOW)
    worker = lab.node(1).popen(["sh", "-c", "sleep 300; true", marker], name="worker")
    wait_until(lambda: tracker(a1, "process", "worker")["state"] == "1 running", SLOW)
    wait_until(owned_only_by(lab, VIP4, 1), SLOW)
    os.killpg(worker.pid, 9)
    worker.wait(5)
    wait_until(lambda: a1.state() == "FAULT", SLOW)
    wait_until(owned_only_by(lab, VIP4, 2), SLOW)


def test_reload_reconfigures_trackers_and_keeps_script_state(lab: Lab):
    flag = Flag(lab, "n1")
    flag.set(1)
    scripts = script_block(lab, flag, interval=0.2, weight=-20)
    track = "    track_script {\n        chk\n    }\n"
    a1 = Agent(lab.node(1), scripts + agent_instance(priority=150, extra=track, **FAST_V3))
    wait_until(lambda: a1.instance()["effective_priority"] == 130, SLOW)
    runs_before = tracker(a1, "script", "chk")["runs"]
    a1.conf_path.write_text(a1.conf_path.read_text().replace("weight -20", "weight -70"))
    assert a1.cli("reload").returncode == 0
    assert a1.instance()["effective_priority"] == 80
    t = tracker(a1, "script", "chk")
    assert t["state"] == "failed" and t["runs"] >= runs_before, "state and counters kept"
    # the override still wins over tracking, release goes back to the tracked priority
    assert a1.cli("standby").returncode == 0
    assert a1.instance()["effective_priority"] == 1
    flag.set(0)
    wait_until(lambda: tracker(a1, "script", "chk")["state"] == "ok", SLOW)
    assert a1.instance()["effective_priority"] == 1
    assert a1.cli("release").returncode == 0
    assert a1.instance()["effective_priority"] == 150


def test_script_security_refuses_a_world_writable_script(lab: Lab):
    loose = write_exec(lab.logdir / "loose.sh", "#!/bin/sh\nexit 0\n")
    os.chmod(loose, 0o777)
    conf = ("global_defs {\n    enable_script_security\n    script_user root\n}\n"
            f"vrrp_script chk {{\n    script {loose}\n}}\n"
            + agent_instance(extra="    track_script {\n        chk\n    }\n", **FAST_V3))
    path = lab.logdir / "secure.conf"
    path.write_text(conf)
    cp = lab.node(1).run([sys.executable, "-m", "vrrp_agent", "check-config", "-f", str(path)],
                         check=False)
    assert cp.returncode == 1
    assert f"{path}:5: script security refuses {loose}: {loose} is writable by any user" in cp.stderr
    try:
        Agent(lab.node(1), conf)
    except Exception as exc:  # the agent refuses to start: FILE:LINE, exit 1
        assert "script security refuses" in str(exc) and "exited with 1" in str(exc)
    else:
        raise AssertionError("the agent started with an unsafe script")
    # fixed permissions: it runs
    os.chmod(loose, 0o755)
    agent = Agent(lab.node(1), conf, name="agent2")
    wait_until(lambda: tracker(agent, "script", "chk")["state"] == "ok", SLOW)
    os.chmod(loose, 0o777)  # made unsafe while running: refused at the next run, FAULT
    wait_until(lambda: agent.state() == "FAULT", SLOW)
    assert "refused: script security" in tracker(agent, "script", "chk")["last_detail"]


def test_events_cli_prints_readable_lines(lab: Lab):
    agent = Agent(lab.node(1), agent_instance(priority=150, **FAST_V3))
    wait_until(lambda: agent.state() == "MASTER", SLOW)
    proc = subprocess.Popen(agent.cli_argv("events", "--backlog", "5"), env=agent_env(),
                            stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        second = proc.stdout.readline()
        assert agent.stop() == 0  # the stream ends with the agent, after its STOP events
        rest = proc.stdout.read()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert " #1 transition instance=VI_1 old=INIT new=BACKUP" in first, first
    assert "new=MASTER" in second and "reason=master down timer expired" in second, second
    assert "transition instance=VI_1 old=MASTER new=INIT reason=stop" in rest, rest


def test_sync_group_waits_for_every_member_when_one_segment_is_cut(make_lab):
    lab = make_lab(ifaces=("eth0", "eth1"))
    a1 = Agent(lab.node(1), sync_pair(lab, 150))
    a2 = Agent(lab.node(2), sync_pair(lab, 100))
    wait_until(lambda: {a1.state("VI_1"), a1.state("VI_2")} == {"MASTER"}, SLOW)
    wait_until(lambda: {a2.state("VI_1"), a2.state("VI_2")} == {"BACKUP"}, SLOW)
    transitions = a2.instance("VI_1")["counters"]["transitions"]
    # node 2 stops hearing VRRP on eth1 only (its link stays up): VI_2 wants master,
    # but VI_1 still hears node 1, so the group stays BACKUP instead of flapping
    # (the switch stops flooding multicast to node 2's eth1 port)
    lab.switch.run(["bridge", "link", "set", "dev", lab.node(2).peers["eth1"], "mcast_flood", "off"])
    wait_until(lambda: "held BACKUP: sync group G waits for VI_1" in a2.log_text(), SLOW)
    time.sleep(2.0)  # many master-down intervals at 0.1 s adverts
    assert {a2.state("VI_1"), a2.state("VI_2")} == {"BACKUP"}
    assert a2.instance("VI_1")["counters"]["transitions"] == transitions
    assert lab.owner_nodes(VIP4) == {1}
    # node 1 goes away: now every member of node 2 wants master, and the group moves
    a1.stop()
    wait_until(lambda: {a2.state("VI_1"), a2.state("VI_2")} == {"MASTER"}, SLOW)
    wait_until(owned_only_by(lab, VIP4, 2), SLOW)
