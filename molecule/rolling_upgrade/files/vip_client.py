#!/usr/bin/python3
"""The rolling_upgrade scenario's client: one HTTP request to the VIP every 10 ms.

    vip_client.py URL OUT_JSON

Each request is a new TCP connection with a 0.5 s timeout; a refused, reset or
timed-out request is a failure. On SIGTERM it writes a summary to OUT_JSON:
requests, failures (with their times), who answered, and the longest gap
between two successful answers (the outage a user of the VIP would see).
"""

import json
import signal
import sys
import time
import urllib.request

PERIOD_S = 0.010
TIMEOUT_S = 0.5

url, out = sys.argv[1], sys.argv[2]
stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
start = time.monotonic()
last_ok = None
longest = (0.0, None)  # (gap seconds, when it ended, seconds since start)
requests = 0
failures = []
answers = {}
switches = []
previous = None
next_at = start
while not stop:
    requests += 1
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            who = resp.read().decode().strip()
    except Exception as exc:  # noqa: BLE001 - every error is a failed request
        failures.append({"at_s": round(t0 - start, 3), "error": str(exc)[:120]})
    else:
        now = time.monotonic()
        answers[who] = answers.get(who, 0) + 1
        if who != previous:
            switches.append({"at_s": round(now - start, 3), "to": who})
            previous = who
        if last_ok is not None and now - last_ok > longest[0]:
            longest = (now - last_ok, round(now - start, 3))
        last_ok = now
    next_at += PERIOD_S
    delay = next_at - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    else:
        next_at = time.monotonic()

with open(out, "w") as fh:
    json.dump({"requests": requests, "failed": len(failures), "failures": failures[:20],
               "longest_gap_s": round(longest[0], 3), "longest_gap_ended_at_s": longest[1],
               "duration_s": round(time.monotonic() - start, 1), "answers": answers,
               "switches": switches[:20]}, fh)
