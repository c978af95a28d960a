"""Time `ansible-playbook playbooks/site.yml` on the podman lab (issue 11's measure).

    PYTHONPATH=files/agent python bench/site_timing.py    (also: bench/run.py --only site)

Two labs of Debian 12 systemd containers built from Debian packages
(tools/lab-images/build.sh), the controller on this machine:
- 2 nodes, one cluster (the seed's pair): a cold deployment, then a rerun
  that must report changed=0 (target: under 15 s);
- 8 nodes in 4 two-node clusters: cold, then a rerun.
Figures are wall-clock seconds of the whole ansible-playbook run, facts
gathering included. Nothing is asserted here but the reruns' changed=0.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "ansible"))

from podlab import PodLab, playbook  # noqa: E402

RERUN_TARGET_S = 15.0
INSTANCE = """\
  - name: VI_{n}
    interface: eth0
    vrid: {n}
    advert_int: 1
    vips: [198.51.100.{vip}/24]
"""


def changed_total(output: str) -> int:
    return sum(int(n) for n in re.findall(r"^\S+\s+: ok=\d+\s+changed=(\d+)", output, re.M))


def inventory(lab: PodLab, path: Path, clusters: Dict[str, List[str]]) -> Path:
    lines = ["all:", "  vars:", "    ansible_connection: containers.podman.podman",
             "    ansible_python_interpreter: /usr/bin/python3", "    ansible_become: false",
             "  children:", "    vrrp:", "      children:"]
    for name, hosts in clusters.items():
        lines += [f"        {name}:", "          hosts:"]
        lines += [f"            {h}: {{ansible_host: {lab.container(h)}}}" for h in hosts]
    (path / "group_vars").mkdir(parents=True, exist_ok=True)
    for number, name in enumerate(clusters, start=1):
        (path / "group_vars" / f"{name}.yml").write_text(
            f"vrrp_cluster: {name}\nvrrp_instances:\n" + INSTANCE.format(n=number, vip=100 + number))
    (path / "hosts.yml").write_text("\n".join(lines) + "\n")
    return path / "hosts.yml"


def timed(inv: Path) -> Dict[str, float]:
    started = time.monotonic()
    playbook(inv, "site.yml")
    cold = time.monotonic() - started
    started = time.monotonic()
    out = playbook(inv, "site.yml").stdout
    rerun = time.monotonic() - started
    return {"cold_s": cold, "rerun_s": rerun, "rerun_changed": float(changed_total(out))}


def measure(progress: Callable[[str], None]) -> Dict[str, Dict[str, float]]:
    results = {}
    for label, layout in (("2 nodes, 1 cluster", {"c1": ["s1", "s2"]}),
                          ("8 nodes, 4 clusters", {f"c{k}": [f"s{2 * k - 1}", f"s{2 * k}"]
                                                   for k in range(1, 5)})):
        hosts = {h: 10 + int(h[1:]) for members in layout.values() for h in members}
        with PodLab(hosts) as lab, tempfile.TemporaryDirectory() as tmp:
            progress(f"site.yml: {label}")
            results[label] = timed(inventory(lab, Path(tmp), layout))
            progress(f"  cold {results[label]['cold_s']:.1f} s, rerun {results[label]['rerun_s']:.1f} s "
                     f"(changed={results[label]['rerun_changed']:.0f})")
    return results


def tables(results: Dict[str, Dict[str, float]]) -> str:
    rows = ["| lab | cold deployment | idempotent rerun | rerun changed | rerun target |",
            "|---|---|---|---|---|"]
    for label, r in results.items():
        target = f"< {RERUN_TARGET_S:.0f} s: {'met' if r['rerun_s'] < RERUN_TARGET_S else 'not met'}" \
            if label.startswith("2 nodes") else "-"
        rows.append(f"| {label} | {r['cold_s']:.1f} s | {r['rerun_s']:.1f} s | {r['rerun_changed']:.0f} | "
                    f"{target} |")
    return ("Wall-clock seconds of `ansible-playbook playbooks/site.yml` (facts included) against "
            "podman systemd containers on this machine, the controller here too.\n\n" + "\n".join(rows))


if __name__ == "__main__":
    print(tables(measure(lambda line: print(line, flush=True))))
