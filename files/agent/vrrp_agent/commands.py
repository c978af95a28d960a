"""Control-socket commands: the operator API the CLI and the Ansible modules use.

Each handler validates its args (instance names must exist) before anything
changes, then calls one daemon method. Instance lists default to "all".
"""

from __future__ import annotations

from typing import Any, Dict, List

from vrrp_agent.control import ControlError, Stream, command


def _names(daemon: Any, args: Dict[str, Any]) -> List[str]:
    names = args.get("instances") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ControlError("instances must be a list of instance names")
    known = [inst.cfg.name for inst in daemon.instances]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ControlError(
            f"no such instance: {', '.join(unknown)} (known: {', '.join(known) or 'none'})"
        )
    return names or known


@command("status")
async def status(daemon: Any, args: Dict[str, Any]) -> Any:
    """The status document (see status.py for the schema)."""
    return daemon.status()


@command("takeover")
async def takeover(daemon: Any, args: Dict[str, Any]) -> Any:
    """Become master now (make-before-break) and hold it until release."""
    return daemon.set_override(_names(daemon, args), "takeover")


@command("standby")
async def standby(daemon: Any, args: Dict[str, Any]) -> Any:
    """Give master up now (priority 0 advert) and stay backup until release.

    Resource groups stop first, while this node still holds the VIPs (heartbeat's order).
    """
    names = daemon.with_groups(_names(daemon, args))
    await daemon.stop_resources_first([i for i in daemon.instances if i.cfg.name in names])
    return daemon.set_override(names, "standby")


@command("release")
async def release(daemon: Any, args: Dict[str, Any]) -> Any:
    """Drop takeover/standby: back to the configured priority."""
    return daemon.set_override(_names(daemon, args), None)


@command("reload")
async def reload(daemon: Any, args: Dict[str, Any]) -> Any:
    """Re-read the configuration keeping state; an invalid one is refused."""
    return await daemon.reload()


@command("events")
async def events(daemon: Any, args: Dict[str, Any]) -> Any:
    """Stream events (transitions, priorities, scripts, notify runs, resources) as JSON lines.

    args: {"backlog": N} replays the last N events first (default 0).
    """
    backlog = args.get("backlog", 0)
    if not isinstance(backlog, int) or backlog < 0:
        raise ControlError("backlog must be a whole number >= 0")
    sub = daemon.bus.subscribe(backlog)
    return Stream("events", sub.next, sub.close)
