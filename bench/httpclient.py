"""HTTP client loop run inside the lab's client namespace (stdlib only).

GET http://VIP:PORT/ every --interval seconds (new connection each time, --timeout
seconds), until SIGTERM; then print one JSON line: requests, failed, and the
longest gap between two successful replies (seconds). Rules: no retries, a
failure is any exception or non-200 reply.
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("vip")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--interval", type=float, default=0.01)
    parser.add_argument("--timeout", type=float, default=0.1)
    args = parser.parse_args()
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    requests = failed = 0
    last_ok = None
    longest_gap = 0.0
    print(json.dumps({"ready": True}), flush=True)
    while running[0]:
        started = time.monotonic()
        requests += 1
        try:
            conn = http.client.HTTPConnection(args.vip, args.port, timeout=args.timeout)
            conn.request("GET", "/")
            ok = conn.getresponse().status == 200
            conn.close()
        except (OSError, http.client.HTTPException):
            ok = False
        now = time.monotonic()
        if ok:
            if last_ok is not None:
                longest_gap = max(longest_gap, now - last_ok)
            last_ok = now
        else:
            failed += 1
        time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    print(json.dumps({"requests": requests, "failed": failed, "longest_gap": longest_gap}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
