"""Prometheus text exposition (format 0.0.4), standard library only. Off by default.

`render(doc)` turns the status document into metric lines (pure); the
`MetricsServer` answers `GET /metrics` on the configured address with it.
Labels: instance, interface, vrid, family. No secret is ever exported.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
from typing import Any, Dict, List, Optional, Tuple

log = logging.getLogger("vrrp_agent.metrics")
STATES = ("INIT", "BACKUP", "MASTER", "FAULT")


def _labels(inst: Dict[str, Any], **extra: Any) -> str:
    pairs = [("instance", inst["name"]), ("interface", inst["interface"]),
             ("vrid", str(inst["vrid"])), ("family", inst["family"])]
    pairs += [(k, str(v)) for k, v in extra.items()]
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(doc: Dict[str, Any]) -> str:
    out: List[str] = []

    def family(name: str, kind: str, help_text: str, samples: List[Tuple[str, float]]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        out.extend(f"{name}{labels} {value:g}" for labels, value in samples)

    insts = doc["instances"]
    family("vrrp_instance_state", "gauge", "1 for the current state of the instance.",
           [(_labels(i, state=s), 1.0 if i["state"] == s else 0.0) for i in insts for s in STATES])
    family("vrrp_instance_base_priority", "gauge", "Configured priority.",
           [(_labels(i), i["base_priority"]) for i in insts])
    family("vrrp_instance_effective_priority", "gauge", "Advertised priority.",
           [(_labels(i), i["effective_priority"]) for i in insts])
    counter_names = sorted({k for i in insts for k in i["counters"] if k != "discards"})
    for name in counter_names:
        family(f"vrrp_instance_{name}_total", "counter", f"Instance counter {name}.",
               [(_labels(i), i["counters"].get(name, 0)) for i in insts])
    family("vrrp_instance_discards_total", "counter", "Received adverts dropped, by reason.",
           [(_labels(i, reason=r), n) for i in insts for r, n in i["counters"]["discards"].items()])
    trackers = [(i, t) for i in insts for t in (i.get("tracking") or {}).get("trackers", [])]
    family("vrrp_tracker_effect", "gauge", "What a tracker adds to the priority now.",
           [(_labels(i, kind=t["kind"], tracker=t["name"]), t["effect"]) for i, t in trackers])
    family("vrrp_tracker_fault", "gauge", "1 while a tracker puts the instance in FAULT.",
           [(_labels(i, kind=t["kind"], tracker=t["name"]), 1.0 if t["fault"] else 0.0)
            for i, t in trackers])
    family("vrrp_script_failures_total", "counter", "Failed runs of a tracked vrrp_script.",
           [(_labels(i, script=t["name"]), t["failures"]) for i, t in trackers if "failures" in t])
    family("vrrp_resource_started", "gauge", "1 while a resource of a resource_group is started.",
           [(_labels(i, resource=r["name"], kind=r["kind"]), 1.0 if r["state"] == "started" else 0.0)
            for i in insts for r in i.get("resources") or []])
    routed = [(i, i["announce"]) for i in insts if (i.get("announce") or {}).get("mode") == "bgp"]
    family("vrrp_instance_announced_routes", "gauge",
           "Routed instances (announce bgp): VIP host routes on the announce device now.",
           [(_labels(i, dev=a["dev"]), len(a["announced"])) for i, a in routed])
    family("vrrp_agent_discards_total", "counter", "Packets no instance claimed, by reason.",
           [(f'{{reason="{r}"}}', n) for r, n in doc["agent"]["discards"].items()])
    family("vrrp_agent_socket_drops_total", "counter",
           "Datagrams the kernel dropped on a full receive socket, by interface and family.",
           [(f'{{socket="{k}"}}', n) for k, n in doc["agent"].get("socket_drops", {}).items()])
    out.extend(_process_metrics())
    return "\n".join(out) + "\n"


def _process_metrics() -> List[str]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    lines = [
        "# HELP process_cpu_seconds_total User and system CPU time spent.",
        "# TYPE process_cpu_seconds_total counter",
        f"process_cpu_seconds_total {usage.ru_utime + usage.ru_stime:g}",
    ]
    rss = _rss_bytes()
    if rss is not None:
        lines += ["# HELP process_resident_memory_bytes Resident memory size.",
                  "# TYPE process_resident_memory_bytes gauge",
                  f"process_resident_memory_bytes {rss}"]
    try:
        fds = len(os.listdir("/proc/self/fd"))
        lines += ["# HELP process_open_fds Open file descriptors.",
                  "# TYPE process_open_fds gauge", f"process_open_fds {fds}"]
    except OSError:
        pass
    return lines


def _rss_bytes() -> Optional[int]:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def parse_listen(text: str) -> Tuple[str, int]:
    """"ADDR:PORT" or "[v6]:PORT" -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"metrics listen address {text!r} is not HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


class MetricsServer:
    def __init__(self, daemon: Any, listen: str):
        self.daemon = daemon
        self.host, self.port = parse_listen(listen)
        self.server: Optional[asyncio.AbstractServer] = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, self.host, self.port)
        log.info("metrics on http://%s:%d/metrics", self.host, self.port)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.split()
            if len(parts) >= 2 and parts[0] == b"GET" and parts[1].split(b"?")[0] == b"/metrics":
                body = render(self.daemon.status()).encode()
                head = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
            else:
                body = b"see /metrics\n"
                head = b"HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n"
            writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
