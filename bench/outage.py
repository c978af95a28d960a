"""Client-visible outage: HTTP servers on the nodes, a client loop via the VIP.

`Outage(lab)` starts `python -m http.server` bound to 0.0.0.0 in every node
namespace and bench/httpclient.py in the client namespace (a GET every 10 ms,
100 ms timeout). `result()` stops the client and returns its counts: requests,
failed, longest gap between successful replies. Everything runs under the lab,
which kills it on exit.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from common import VIP, Lab, wait_until

PORT = 8080
CLIENT = Path(__file__).resolve().with_name("httpclient.py")


class Outage:
    def __init__(self, lab: Lab, port: int = PORT):
        self.lab = lab
        www = lab.logdir / "www"
        www.mkdir(exist_ok=True)
        for node in lab.nodes:
            (www / "index.html").write_text("ok\n")
            node.popen([sys.executable, "-m", "http.server", str(port), "--bind", "0.0.0.0",
                        "--directory", str(www)], name="http")
        for node in lab.nodes:
            wait_until(lambda n=node: self._listening(n, port), 10, message="http.server up")
        assert lab.client is not None
        self.out = lab.logdir / "cl-httpclient.jsonl"
        fh = open(self.out, "wb", buffering=0)  # noqa: SIM115 - closed by the lab
        lab._files.append(fh)
        self.proc = lab.client.popen([sys.executable, str(CLIENT), VIP, "--port", str(port)],
                                     name="httpclient", stdout=fh)
        wait_until(lambda: "ready" in self.out.read_text(), 10, message="http client ready")

    @staticmethod
    def _listening(node, port: int) -> bool:
        return bool(node.run(["ss", "-ltnH", f"sport = :{port}"], check=False).stdout.strip())

    def result(self) -> dict:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        for line in self.out.read_text().splitlines():
            data = json.loads(line)
            if "requests" in data:
                return data
        raise RuntimeError("http client gave no result")

