"""One nemesis run: build the cluster, play the schedule, record, check. Returns counts.

Rules:
- The seed decides the schedule (schedule.py); `run()` prints it first, so a
  violation can always be replayed with `bench/nemesis.py --seed N --spec ...`.
- Faults are applied from worker threads at their scheduled times (a restart
  does not hold the next fault back); each one's real start and end (wall
  clock, the clock of the ARP history) are what the checker licenses.
- Bounded: the run lasts duration + settle; the lab removes everything on exit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Dict, List, Optional

from netlab import Lab, owned_only_by, wait_until

from nemesis import checker
from nemesis.cluster import HTTP_PORT, VIP, Cluster
from nemesis.schedule import PRIORITIES, Fault, Spec, count_by_kind, make_schedule

HERE = Path(__file__).resolve().parent
PERIOD_S = 0.01


def _play(cluster: Cluster, faults: List[Fault], t0: float, applied: List[checker.Applied],
          errors: List[str]) -> None:
    events = sorted([(f.start, 0, i, True) for i, f in enumerate(faults)]
                    + [(f.end, 1, i, False) for i, f in enumerate(faults)])
    starts: Dict[int, float] = {}
    threads: List[threading.Thread] = []
    lock = threading.Lock()

    def act(i: int, on: bool) -> None:
        f = faults[i]
        began = time.time()
        try:
            cluster.apply(f, on)
        except Exception as exc:  # noqa: BLE001 - a lab hiccup is reported, the run goes on
            errors.append(f"{f.describe()} {'on' if on else 'off'}: {exc!r}")
        with lock:
            if on:
                starts[i] = began
            else:
                applied.append(checker.Applied(f.kind, f.nodes, starts.get(i, began), time.time(),
                                               f.describe()))

    for at, _order, i, on in events:
        delay = t0 + at - time.time()
        if delay > 0:
            time.sleep(delay)
        if not on:  # an end waits for its own start to have finished
            for th in threads:
                if th.name == f"f{i}-on":
                    th.join(30)
        th = threading.Thread(target=act, args=(i, on), name=f"f{i}-{'on' if on else 'off'}")
        th.start()
        threads.append(th)
    for th in threads:
        th.join(60)


def _excerpt(pcap: Path, lo: float, hi: float, lines: int = 20) -> List[str]:
    text = subprocess.run(["tcpdump", "-n", "-tt", "-r", str(pcap)], capture_output=True,
                          text=True, timeout=120).stdout.splitlines()
    out = [line for line in text if line[:1].isdigit() and lo - 0.3 <= float(line.split()[0]) <= hi + 0.3
           and "Request who-has" not in line]  # the probe's own requests say nothing
    return out[:lines]


def run(seed: int, spec: Spec, duration_s: float, faults: Optional[List[Fault]] = None,
        log=print) -> Dict[str, Any]:
    faults = make_schedule(seed, spec, duration_s) if faults is None else faults
    log(f"nemesis seed {seed}: {spec.label()}, {duration_s:g} s, {len(faults)} faults")
    bounds = checker.bounds_for(spec.version, spec.advert_int, PRIORITIES[spec.nodes - 1])
    settle = bounds.master_down_s + 2.0
    applied: List[checker.Applied] = []
    errors: List[str] = []
    with Lab(nodes=spec.nodes) as lab:
        cluster = Cluster(lab, spec)
        wait_until(owned_only_by(lab, VIP, 1), 30, message="node 1 holds the VIP")
        cap = lab.capture(lab.client, "eth0", "ip proto 112 or arp", name="nemesis")
        history_path = lab.logdir / "arpwatch.json"
        watch = lab.client.popen([sys.executable, "-I", "-S", str(HERE / "arpwatch.py"), "eth0",  # type: ignore[union-attr]
                                  lab.client.ip4, VIP, str(duration_s + settle + 30),  # type: ignore[union-attr]
                                  str(PERIOD_S), str(history_path), str(HTTP_PORT)], name="arpwatch")
        time.sleep(0.5)
        t0 = time.time()
        try:
            _play(cluster, faults, t0, applied, errors)
        except Exception:  # noqa: BLE001
            errors.append(traceback.format_exc())
        cluster.heal_all()
        applied = [a for a in applied if a.text not in cluster.skipped]
        time.sleep(max(0.0, t0 + duration_s + settle - time.time()))
        watch.terminate()
        watch.wait(30)
        cap.terminate()
        cap.wait(10)
        converged = lab.owner_nodes(VIP, timeout=0.3) == {1}
        raw = json.loads(history_path.read_text())
        history = checker.samples(raw["requests"], [tuple(r) for r in raw["replies"]],
                                  lab.mac_to_node)
        history = [s for s in history if s[0] >= t0]
        found = checker.intervals(history)
        http = checker.http_outages([r for r in raw.get("http", []) if r[0] >= t0])
        bad = checker.violations(found, checker.licenses(applied, bounds))
        for v in bad:
            v["faults_in_force"] = checker.in_force(applied, v["start"], v["end"],  # type: ignore[arg-type]
                                                    bounds.master_down_s)
            v["capture"] = _excerpt(cap.pcap_path, v["start"], v["end"])  # type: ignore[attr-defined,arg-type]
            v["window_s"] = [round(v["start"] - t0, 3), round(v["end"] - t0, 3)]  # type: ignore[operator]
            log(describe_violation(seed, spec, v))
        if bad:
            lab.keep_logs = True
            log(f"nemesis seed {seed}: daemon logs and captures kept in {lab.logdir}")
        skipped, netem = list(cluster.skipped), cluster.netem_available()
        cluster.stop()
    result: Dict[str, Any] = {
        "seed": seed, "spec": spec.label(), "duration_s": duration_s,
        "faults": count_by_kind(applied), "samples": len(history),
        "bounds": {"advert_s": bounds.advert_s, "master_down_s": round(bounds.master_down_s, 3),
                   "skew_s": round(bounds.skew_s, 3), "slack_s": bounds.slack_s},
        **checker.summary(found), **http, "violations": bad, "converged": converged, "errors": errors,
        "skipped": skipped, "netem": netem,
    }
    log(f"nemesis seed {seed}: no owner {result['none_total_s']} s (worst {result['none_worst_s']}), "
        f"two owners {result['dual_total_s']} s (worst {result['dual_worst_s']}), "
        f"HTTP unanswered {result['http_unanswered_total_s']} s "
        f"(worst {result['http_unanswered_worst_s']}), "
        f"{len(bad)} violations, converged {converged}, {len(errors)} errors")
    return result


def describe_violation(seed: int, spec: Spec, v: Dict[str, Any]) -> str:
    what = "no owner" if v["kind"] == "none" else "two owners"
    lines = [f"VIOLATION seed {seed} ({spec.label()}): {what} {v['window_s'][0]}..{v['window_s'][1]} s "
             f"({v['unlicensed_s']} s beyond every bound)",
             "  faults in force: " + ("; ".join(v["faults_in_force"]) or "none")]
    lines += [f"  | {line}" for line in v["capture"]]
    return "\n".join(lines)
