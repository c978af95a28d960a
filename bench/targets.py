"""The issue's targets beside this run's figures (a table; goals, never assertions)."""

from __future__ import annotations

import statistics
from typing import Dict, List, Optional

FAILOVERS = ("freeze", "kill", "linkdown")


def _med(samples: list) -> float:
    return statistics.median(s[0] for s in samples)


def table(fail: Optional[dict], cpu: Optional[dict],
          jit: Optional[Dict[str, Dict[str, dict]]]) -> str:
    rows: List[str] = ["| target | this run | met |", "|---|---|---|"]
    if fail:
        timers = list(dict.fromkeys(k[0] for k in fail))
        ratios = [(t, s, _med(fail[(t, s, "agent")]) / _med(fail[(t, s, "keepalived")]))
                  for t in timers for s in FAILOVERS]
        text = ", ".join(f"{t} {s} {r:.2f}" for t, s, r in ratios)
        rows.append(f"| failover ratio agent/keepalived ≤ 1.00 | {text} | "
                    f"{sum(r <= 1.0 for *_, r in ratios)}/{len(ratios)} |")
        takeovers = [(t, _med(fail[(t, "switch", "agent")])) for t in timers]
        rows.append("| takeover < 10 ms | " + ", ".join(f"{t} {v * 1000:.1f} ms" for t, v in takeovers)
                    + f" | {'yes' if all(v < 0.010 for _, v in takeovers) else 'no'} |")
    if cpu:
        parts, met = [], 0
        for (n, engine), res in sorted(cpu.items()):
            if engine != "agent":
                continue
            for role in ("master", "backup"):
                ka = cpu[(n, "keepalived")][role]["cpu_per_1000"]
                r = res[role]["cpu_per_1000"] / ka if ka else float("inf")
                if (n, "ratios") in cpu:  # the same-window rounds: the median of their ratios
                    r = statistics.median(cpu[(n, "ratios")][role])
                met += r <= 1.0
                parts.append(f"{n} {role} ×{r:.1f}")
        rows.append(f"| CPU per advert ≤ keepalived's | {', '.join(parts)} | {met}/{len(parts)} |")
        biggest = max(n for n, _ in cpu)
        rss, ka_rss = (max(cpu[(biggest, e)][r]["rss_mib"] for r in ("master", "backup"))
                       for e in ("agent", "keepalived"))
        rows.append(f"| RSS ≤ 24 MiB with {biggest} instances | {rss:.1f} MiB "
                    f"(keepalived {ka_rss:.1f}) | "
                    f"{'yes' if rss <= 24 else 'no'} |")
    if jit:
        def count(r: dict) -> str:
            return f"{r['spurious']} ({r.get('after_silence', 0)} after a silence of the master)"

        parts = [f"{variant}: agent {count(res['agent'])}, keepalived {count(res['keepalived'])}"
                 for variant, res in jit.items()]
        met = [variant for variant, res in jit.items() if res["agent"]["spurious"] == 0]
        rows.append(f"| 0 spurious failovers at 0.01 s under load | {'; '.join(parts)} | "
                    f"{'with ' + ', '.join(met) if met else 'no'} |")
    return "\n".join(rows)
