"""A nemesis cluster in the namespace lab: daemons from a Spec, and every fault applied and undone.

Rules:
- Every node reads the same keepalived-syntax text (its priority, and in
  unicast mode its own source and peers, differ): one VIP, one vrrp_track_file
  (weight 0: a non-zero file is FAULT), no auth.
- `apply(fault, on)` acts and returns at once (a restart waits for the
  daemon); the runner calls it from worker threads at the scheduled times.
- `heal_all()` undoes whatever is still in force; the lab removes the
  namespaces (and with them qdiscs and ebtables rules) on exit.
"""

from __future__ import annotations

import pickle
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List

from agentlab import Agent
from netlab import Keepalived, Lab
from vrrp_agent.control import ControlError, request

from nemesis.schedule import PRIORITIES, Fault, Spec

VIP = "198.51.100.100"
VRID = 51
HTTP_PORT = 8080
HERE = Path(__file__).resolve().parent


def config_text(spec: Spec, lab: Lab, node: int, track_path: Path) -> str:
    me = lab.node(node)
    uni = ""
    if spec.unicast:
        peers = "".join(f"        {lab.node(i).ip4}\n" for i in range(1, spec.nodes + 1) if i != node)
        uni = f"    unicast_src_ip {me.ip4}\n    unicast_peer {{\n{peers}    }}\n"
    return (f"global_defs {{\n    vrrp_version {spec.version}\n}}\n"
            f"vrrp_track_file nemesis_tf {{\n    file {track_path}\n    weight 0\n}}\n"
            f"vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n"
            f"    virtual_router_id {VRID}\n    priority {PRIORITIES[node - 1]}\n"
            f"    advert_int {spec.advert_int:g}\n{uni}"
            f"    virtual_ipaddress {{\n        {VIP}/24\n    }}\n"
            f"    track_file {{\n        nemesis_tf\n    }}\n}}\n")


def garbage_pool(lab: Lab) -> List[bytes]:
    """Malformed datagrams only (never a valid advert, even for a unicast instance)."""
    import flood

    pool = flood.flood_pool(lab, 900, seed=11)[0::3]
    return [p for p in pool if p[8] == 255]  # TTL 255 copies of the malformed kinds


class Cluster:
    def __init__(self, lab: Lab, spec: Spec):
        self.lab, self.spec = lab, spec
        self.track: Dict[int, Path] = {}
        self.texts: Dict[int, str] = {}
        self.daemons: Dict[int, Any] = {}
        self.cuts: Dict[tuple, int] = {}
        """(in port, out port) -> how many faults want that pair cut (overlapping cuts)."""
        self.lock = threading.Lock()
        self._netem_ok: bool | None = None
        self.skipped: List[str] = []
        """Faults this kernel cannot inject (netem shapes without sch_netem)."""
        for i, engine in enumerate(spec.engines, start=1):
            self.track[i] = lab.logdir / f"n{i}-track"
            self.track[i].write_text("0\n")
            self.texts[i] = config_text(spec, lab, i, self.track[i])
            if engine == "agent":
                self.daemons[i] = Agent(lab.node(i), self.texts[i], extra_args=("--log-level", "info"))
            else:
                self.daemons[i] = Keepalived(lab.node(i), self.texts[i])
        for i in range(1, spec.nodes + 1):  # the service behind the VIP: its body names the node
            www = lab.logdir / f"n{i}-www"
            www.mkdir(exist_ok=True)
            (www / "index.html").write_text(f"n{i}\n")
            lab.node(i).popen([sys.executable, "-m", "http.server", str(HTTP_PORT), "--bind",
                               "0.0.0.0", "--directory", str(www)], name="http")
        self.pool_path = lab.logdir / "nemesis-garbage.pickle"
        self.pool_path.write_bytes(pickle.dumps(garbage_pool(lab)))

    def engine(self, node: int) -> str:
        return self.spec.engines[node - 1]

    # ------------------------------------------------------------------ faults
    def apply(self, fault: Fault, on: bool) -> None:
        getattr(self, f"_{fault.kind}")(fault, on)

    def _kill(self, f: Fault, on: bool) -> None:
        d = self.daemons[f.nodes[0]]
        if on:
            d.kill()
        else:
            d.start()

    def _freeze(self, f: Fault, on: bool) -> None:
        d = self.daemons[f.nodes[0]]
        if not d.running:
            return
        d.freeze() if on else d.thaw()

    def _link(self, f: Fault, on: bool) -> None:
        node = self.lab.node(f.nodes[0])
        node.link_down() if on else node.link_up()

    def _ports(self, nodes) -> List[str]:
        return [self.lab.node(n).peers["eth0"] for n in nodes]

    def _cut(self, group, on: bool) -> None:
        """Nodes in `group` and the other nodes stop hearing each other; the client hears all."""
        rest = [n for n in range(1, self.spec.nodes + 1) if n not in group]
        rules = [(a, b) for a in self._ports(group) for b in self._ports(rest)]
        rules += [(b, a) for a, b in rules]
        with self.lock:
            for pair in rules:
                count = self.cuts.get(pair, 0)
                if on:
                    self.cuts[pair] = count + 1
                    if count == 0:
                        self._ebtables("-A", pair)
                elif count > 0:
                    self.cuts[pair] = count - 1
                    if count == 1:
                        self._ebtables("-D", pair)

    def _ebtables(self, op: str, pair: tuple) -> None:
        self.lab.switch.run(["ebtables", op, "FORWARD", "-i", pair[0], "-o", pair[1], "-j", "DROP"],
                            check=op == "-A")

    def _partition(self, f: Fault, on: bool) -> None:
        self._cut(f.nodes, on)

    def _split(self, f: Fault, on: bool) -> None:
        self._cut(f.nodes, on)

    def _standby(self, f: Fault, on: bool) -> None:
        self._operator(f.nodes[0], "standby" if on else "release")

    def _takeover(self, f: Fault, on: bool) -> None:
        self._operator(f.nodes[0], "takeover" if on else "release")

    def _operator(self, node: int, verb: str) -> None:
        """VERB on NODE's control socket, as the Ansible module sends it: the fault starts
        when the request goes, not after a CLI process has started (0.2 s on a slow host,
        beyond the checker's standby license of Skew_Time + slack)."""
        d = self.daemons[node]
        if d.running and not d.frozen:
            try:
                request(d.socket, verb, {"instances": []}, timeout=10)
            except (ControlError, OSError):
                pass  # as the CLI's exit status was: the checker judges what the wire shows

    def _track(self, f: Fault, on: bool) -> None:
        self.track[f.nodes[0]].write_text("1\n" if on else "0\n")

    def netem_available(self) -> bool:
        """sch_netem present? (Some kernels lack it; then loss is emulated with iptables.)"""
        if self._netem_ok is None:
            node = self.lab.node(1)
            cp = node.run(["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
                          check=False)
            node.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=False)
            self._netem_ok = cp.returncode == 0
        return self._netem_ok

    def _netem(self, f: Fault, on: bool) -> None:
        node = self.lab.node(f.nodes[0])
        if not self.netem_available():
            self._iptables_loss(f, on)
            return
        if not on:
            node.run(["tc", "qdisc", "del", "dev", "eth0", "root"], check=False)
            return
        p = f.params
        args = ["tc", "qdisc", "replace", "dev", "eth0", "root", "netem", "limit", "10000"]
        if "delay_ms" in p:
            args += ["delay", f"{p['delay_ms']:g}ms"]
            if "jitter_ms" in p:
                args += [f"{p['jitter_ms']:g}ms"]
        if "loss_pct" in p:
            args += ["loss", f"{p['loss_pct']:g}%"]
        if "reorder_pct" in p:
            args += ["reorder", f"{p['reorder_pct']:g}%"]
        if "duplicate_pct" in p:
            args += ["duplicate", f"{p['duplicate_pct']:g}%"]
        node.run(args)

    def _iptables_loss(self, f: Fault, on: bool) -> None:
        """Without sch_netem: a loss fault drops that share of the node's adverts; the
        delay, jitter, reorder and duplicate shapes cannot be emulated and are skipped."""
        if "loss_pct" not in f.params:
            if on:
                self.skipped.append(f.describe())
            return
        rule = ["OUTPUT", "-o", "eth0", "-p", "112", "-m", "statistic", "--mode", "random",
                "--probability", f"{f.params['loss_pct'] / 100:.2f}", "-j", "DROP"]
        node = self.lab.node(f.nodes[0])
        node.run(["iptables", "-A" if on else "-D", *rule], check=on)

    def _garbage(self, f: Fault, on: bool) -> None:
        if on:
            self.lab.client.run([sys.executable, str(HERE.parent / "inject.py"), str(self.pool_path),  # type: ignore[union-attr]
                                 str(int(f.params["packets"])), "10000"], timeout=60)

    def _reload(self, f: Fault, on: bool) -> None:
        if on:
            self._reload_with(f.nodes[0], self.texts[f.nodes[0]] + "! nemesis reload\n")

    def _reload_invalid(self, f: Fault, on: bool) -> None:
        node = f.nodes[0]
        if on:
            self._reload_with(node, self.texts[node] + "vrrp_instance {\n")
        else:
            self.daemons[node].conf_path.write_text(self.texts[node])

    def _reload_with(self, node: int, text: str) -> None:
        d = self.daemons[node]
        if not d.running or getattr(d, "frozen", False) or getattr(d, "_frozen", False):
            return
        d.conf_path.write_text(text)
        if isinstance(d, Agent):
            d.signal(signal.SIGHUP)
        else:
            d.proc.send_signal(signal.SIGHUP)

    # ------------------------------------------------------------------ heal
    def heal_all(self) -> None:
        for i, d in self.daemons.items():
            if getattr(d, "frozen", False) or getattr(d, "_frozen", False):
                d.thaw()
            if not d.running:
                d.start()
            self.lab.node(i).link_up()
            self.lab.node(i).run(["tc", "qdisc", "del", "dev", "eth0", "root"], check=False)
            self.lab.node(i).run(["iptables", "-F", "OUTPUT"], check=False)
            self.track[i].write_text("0\n")
            d.conf_path.write_text(self.texts[i])
            if self.engine(i) == "agent":
                d.cli("release")
        with self.lock:
            for pair, count in list(self.cuts.items()):
                if count > 0:
                    self._ebtables("-D", pair)
            self.cuts.clear()

    def stop(self) -> None:
        for d in self.daemons.values():
            d.stop()
