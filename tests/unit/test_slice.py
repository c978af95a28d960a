"""adapters/scheduling.py's short slice on the real kernel, no root needed: every thread
under normal scheduling gets a VRRP_AGENT_SLICE_US slice (sched_getattr reads it back),
its nice value kept, the processes it starts the kernel's default (SCHED_RESET_ON_FORK);
the variable's bad values are refused with the default."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from vrrp_agent.adapters import scheduling

AGENT_DIR = Path(__file__).resolve().parents[2] / "files" / "agent"
CUSTOM_SLICES = tuple(int(p) for p in platform.release().split(".")[:2]) >= (6, 12)

# in a child python: the slice of each of its threads, its policy, and a grandchild's slice
PROBE = r"""
import ctypes, json, os, struct, subprocess, sys, threading
from vrrp_agent.adapters import scheduling
libc = ctypes.CDLL(None, use_errno=True)
def runtime(tid):
    out = ctypes.create_string_buffer(56)
    assert libc.syscall(scheduling.sched_setattr_number() + 1, tid, out, 56, 0) == 0, ctypes.get_errno()
    return struct.unpack_from("=IIQiIQ", out.raw)[5]
if sys.argv[1:] == ["child"]:
    print(runtime(0)); sys.exit()
worker = threading.Thread(target=threading.Event().wait, args=(5,), daemon=True)
worker.start()
problems = scheduling.request_short_slice(scheduling.slice_us())
child = subprocess.run([sys.executable, "-c", PROBE_TEXT, "child"], capture_output=True, text=True)
print(json.dumps({"problems": problems, "nice": os.getpriority(os.PRIO_PROCESS, 0),
                  "threads": sorted(runtime(int(t)) for t in os.listdir("/proc/self/task")),
                  "policy": os.sched_getscheduler(0), "child": int(child.stdout or -1)}))
"""


def _probe(slice_env: str, nice: int = 0) -> dict:
    code = "PROBE_TEXT = " + repr(PROBE) + "\n" + PROBE
    env = dict(os.environ, PYTHONPATH=str(AGENT_DIR), VRRP_AGENT_SLICE_US=slice_env)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=30, check=False, preexec_fn=lambda: os.nice(nice) and None)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(scheduling.sched_setattr_number() is None, reason="no sched_setattr number for this ABI")
@pytest.mark.skipif(not CUSTOM_SLICES, reason="a fair task's own slice needs Linux >= 6.12 (EEVDF)")
def test_every_thread_asks_for_the_slice_its_children_do_not():
    default = _probe("0")
    assert default["problems"] == [] and default["policy"] == os.SCHED_OTHER
    assert 100_000 not in default["threads"], "the kernel's default slice, left alone"
    short = _probe("100", nice=3)
    assert short["problems"] == []
    assert short["threads"] == [100_000, 100_000], "the loop thread and the worker"
    assert short["nice"] == 3, "its nice value kept"
    assert short["policy"] == os.SCHED_OTHER | os.SCHED_RESET_ON_FORK
    assert short["child"] == default["child"] != 100_000, "what it starts gets the default"
    assert _probe("2000")["threads"] == [2_000_000, 2_000_000]


@pytest.mark.parametrize("text, value", [("100", 100), ("0", 0), ("100000", 100000),
                                         ("-5", 100), ("fast", 100), ("200000", 100), ("50", 100)])
def test_the_slice_variable(monkeypatch, caplog, text, value):
    monkeypatch.setenv(scheduling.SLICE_ENV, text)
    assert scheduling.slice_us() == value
    refused = value == 100 and text != "100"
    assert (f"{scheduling.SLICE_ENV}={text}: expected" in caplog.text) is refused
