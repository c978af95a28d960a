"""nftables rulesets of a lab node, read through libnftables (Debian's python3-nftables)
with the system python3, normalised for comparing the agent's tables with keepalived's."""

from __future__ import annotations

import functools
import json
import subprocess

import pytest
from netlab import Host

NFT_LIST = ("import nftables; n = nftables.Nftables(); n.set_json_output(True); "
            "rc, out, err = n.cmd('list ruleset'); print(out)")


def ruleset(node: Host) -> dict:
    """{(family, table): {"sets": {name: (type, elements)}, "chains": {name: (hook, prio,
    policy)}, "rules": {chain: [expressions]}}}; maps count as sets, counters' values are
    left out (they count traffic, not configuration)."""
    out = json.loads(node.run(["/usr/bin/python3", "-c", NFT_LIST]).stdout)["nftables"]
    tables: dict = {}
    for item in out:
        for kind, body in item.items():
            if kind == "table":
                tables[(body["family"], body["name"])] = {"sets": {}, "chains": {}, "rules": {}}
            elif kind in ("set", "map"):
                t = tables[(body["family"], body["table"])]
                elems = sorted(json.dumps(e) for e in body.get("elem", []))
                t["sets"][body["name"]] = (body["type"], body.get("map"), elems)
            elif kind == "chain":
                t = tables[(body["family"], body["table"])]
                t["chains"][body["name"]] = (body.get("hook"), body.get("prio"), body.get("policy"))
            elif kind == "rule":
                t = tables[(body["family"], body["table"])]
                expr = [{"counter": "present"} if "counter" in e else e for e in body["expr"]]
                t["rules"].setdefault(body["chain"], []).append(json.dumps(expr))
    return tables


@functools.cache
def _nftables_missing() -> bool:
    argv = ["/usr/bin/python3", "-c", "import nftables; nftables.Nftables()"]
    try:
        return subprocess.run(argv, capture_output=True, timeout=30).returncode != 0
    except OSError:
        return True


@pytest.fixture
def nftables_lib() -> None:
    """Skip when Debian's python3-nftables (libnftables) is not installed."""
    if _nftables_missing():
        pytest.skip("python3-nftables is not installed (apt-get install python3-nftables)")
