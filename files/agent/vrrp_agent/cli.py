"""The command line (contract: ARCHITECTURE.md "Agent CLI").

Rules: operator errors print `FILE:LINE: message` (or a plain sentence) on
stderr and exit 1; no traceback reaches a user. `run` logs to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from typing import List, Optional

from vrrp_agent import __version__
from vrrp_agent.errors import ConfigError, VrrpError
from vrrp_agent.validation import HostFacts, validate

DEFAULT_CONF = "/etc/vrrp-agent/vrrp-agent.conf"
DEFAULT_STATE_DIR = "/var/lib/vrrp-agent"
DEFAULT_SOCKET = "/run/vrrp-agent/control.sock"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vrrp-agent", description="VRRP failover agent, wire-compatible with keepalived."
    )
    parser.add_argument("--version", action="version", version=f"vrrp-agent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run the agent in the foreground")
    run.add_argument("-f", "--config", default=DEFAULT_CONF, help="keepalived.conf-syntax file")
    run.add_argument("--control-socket", default=DEFAULT_SOCKET)
    run.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    run.add_argument("--control-group", default=None,
                     help="group that may use the control socket (mode 0660)")
    run.add_argument("--metrics-listen", default=None, metavar="HOST:PORT",
                     help="serve Prometheus metrics at http://HOST:PORT/metrics (off by default)")
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    _config_id_option(run)

    status = sub.add_parser("status", help="show the state of every instance")
    status.add_argument("--json", action="store_true", help="print the stable JSON document")
    status.add_argument("--control-socket", default=DEFAULT_SOCKET)
    for verb, text in (
        ("takeover", "become master now and hold it until release"),
        ("standby", "give master up now and do not take it back until release"),
        ("release", "drop takeover/standby: back to the configured priorities"),
    ):
        op = sub.add_parser(verb, help=text)
        op.add_argument("instances", nargs="*", metavar="INSTANCE", help="default: all")
        op.add_argument("--control-socket", default=DEFAULT_SOCKET)
    reload = sub.add_parser("reload", help="re-read the configuration, keeping state")
    reload.add_argument("--control-socket", default=DEFAULT_SOCKET)
    events = sub.add_parser("events", help="follow the ordered event stream (until Ctrl-C)")
    events.add_argument("--json", action="store_true", help="one JSON object per line")
    events.add_argument("--backlog", type=int, default=0, metavar="N",
                        help="replay the last N events first")
    events.add_argument("--control-socket", default=DEFAULT_SOCKET)

    check = sub.add_parser("check-config", help="validate a configuration and exit")
    check.add_argument("-f", "--config", default=DEFAULT_CONF)
    check.add_argument(
        "--offline", action="store_true",
        help="skip the checks against this host (interfaces, host addresses)",
    )
    check.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    _config_id_option(check)

    imp = sub.add_parser("import-heartbeat", help="print an agent config equivalent to a heartbeat v1 setup")
    imp.add_argument("--ha-cf", required=True, metavar="FILE")
    imp.add_argument("--haresources", required=True, metavar="FILE")
    imp.add_argument("--authkeys", required=True, metavar="FILE")
    imp.add_argument("--node", default=None, help="the node to convert for (default: this host's name)")
    imp.add_argument("--vrid", type=int, default=51, help="VRID of the first resource group (default 51)")
    imp.add_argument("--prefix-len", type=int, default=None,
                     help="prefix length for VIPs written without one (default /24 with a warning)")
    imp.add_argument("--unicast-src", default=None, metavar="IP", help="this node's address, with ucast")
    imp.add_argument("-o", "--output", default=None, metavar="FILE", help="write there instead of stdout")
    return parser


def _config_id_option(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("-i", "--config-id", default=None, metavar="ID",
                     help="keep the config lines prefixed @ID, drop other @... lines, as "
                          "keepalived -i does (default: the host name up to its first dot)")


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check-config":
            return cmd_check_config(args)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "import-heartbeat":
            return cmd_import_heartbeat(args)
        return cmd_control(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except VrrpError as exc:
        print(f"vrrp-agent: {exc}", file=sys.stderr)
        return 1
    except PermissionError as exc:
        print(f"vrrp-agent: permission denied: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


def gather_host_facts(state_dir: Optional[str]) -> HostFacts:
    """This host's interfaces and addresses, and the VIPs a previous run held."""
    from vrrp_agent.adapters.netlink import Netlink, host_facts, host_networks_on_worker
    from vrrp_agent.vips import read_held_vips

    netlink = Netlink()
    try:
        interfaces, addresses = host_facts(netlink)
        networks = netlink.call(host_networks_on_worker, netlink)
    finally:
        netlink.close()
    return HostFacts(interfaces, addresses, read_held_vips(state_dir), networks)


def cmd_check_config(args: argparse.Namespace) -> int:
    facts = None if args.offline else gather_host_facts(args.state_dir)
    config, errors = validate(args.config, facts, interfaces_required=True, config_id=args.config_id)
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if errors:
        for err in errors:
            print(str(err), file=sys.stderr)
        return 1
    n = len(config.instances)
    print(f"{args.config}: OK ({n} instance{'s' if n != 1 else ''})")
    return 0


def cmd_import_heartbeat(args: argparse.Namespace) -> int:
    """Convert ha.cf + haresources + authkeys; nothing is printed as config on an error."""
    import socket

    from vrrp_agent.heartbeat.convert import convert
    from vrrp_agent.heartbeat.files import parse_authkeys, parse_ha_cf, parse_haresources

    hacf = parse_ha_cf(args.ha_cf)
    groups = parse_haresources(args.haresources)
    auth = parse_authkeys(args.authkeys)
    if not 1 <= args.vrid <= 255:
        raise ConfigError(f"--vrid {args.vrid} is not 1..255")
    result = convert(hacf, groups, auth, args.node or socket.gethostname(), vrid=args.vrid,
                     prefix_len=args.prefix_len, unicast_src=args.unicast_src)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(result.text)
    else:
        sys.stdout.write(result.text)
    return 0


def cmd_control(args: argparse.Namespace) -> int:
    """status / takeover / standby / release / reload through the control socket."""
    from vrrp_agent.control import request

    if args.command == "events":
        return cmd_events(args)
    if args.command == "status":
        doc = request(args.control_socket, "status")
        if args.json:
            print(json.dumps(doc, indent=2, sort_keys=True))
        else:
            from vrrp_agent.status import render_table

            print(render_table(doc))
        return 0
    if args.command == "reload":
        summary = request(args.control_socket, "reload")
        print("reloaded: " + "; ".join(f"{k}: {', '.join(v) or '-'}" for k, v in summary.items()))
        return 0
    result = request(args.control_socket, args.command, {"instances": args.instances})
    for item in result["instances"]:
        print(f"{item['name']}: {item['state']} (override: {item['override'] or 'none'})")
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    """Print events as they come; `--json` for one JSON object per line."""
    from vrrp_agent.control import stream
    from vrrp_agent.status import render_event

    for event in stream(args.control_socket, "events", {"backlog": max(0, args.backlog)}):
        print(json.dumps(event, sort_keys=True) if args.json else render_event(event), flush=True)
    return 0


def setup_logging(level: str) -> None:
    under_journald = "JOURNAL_STREAM" in os.environ
    fmt = "%(levelname)s %(message)s" if under_journald else "%(asctime)s %(levelname)s %(message)s"
    logging.basicConfig(level=getattr(logging, level.upper()), format=fmt, stream=sys.stderr)
    logging.getLogger("pyroute2").setLevel(logging.WARNING)


def cmd_run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    log = logging.getLogger("vrrp_agent")
    state_dir = _usable_state_dir(args.state_dir, log)
    config, errors = validate(args.config, gather_host_facts(state_dir), interfaces_required=False,
                              config_id=args.config_id)
    for warning in config.warnings:
        log.warning("%s", warning)
    if errors:
        for err in errors:
            print(str(err), file=sys.stderr)
        return 1
    from vrrp_agent.daemon import Daemon

    log.info("vrrp-agent %s starting with %s", __version__, args.config)

    if args.metrics_listen:
        from vrrp_agent.metrics import parse_listen

        try:
            parse_listen(args.metrics_listen)
        except ValueError as exc:
            raise VrrpError(str(exc)) from None

    async def _main() -> int:
        daemon = Daemon(config, state_dir=state_dir, control_socket=args.control_socket,
                        control_group=args.control_group, metrics_listen=args.metrics_listen)
        return await daemon.run()

    _use_event_loop(os.environ.get(EVENT_LOOP_ENV, DEFAULT_EVENT_LOOP), log)
    return asyncio.run(_main())


EVENT_LOOP_ENV = "VRRP_AGENT_EVENT_LOOP"
DEFAULT_EVENT_LOOP = "asyncio"


def _use_event_loop(choice: str, log: logging.Logger) -> None:
    """asyncio's own loop, or python3-uvloop ("uvloop"; "auto": when it is installed).

    Optional: the agent needs nothing beyond python3 and pyroute2 (docs/benchmarks.md
    has the figures both ways).
    """
    if choice not in ("asyncio", "uvloop", "auto"):
        raise VrrpError(f"{EVENT_LOOP_ENV}={choice}: expected asyncio, uvloop or auto")
    if choice == "asyncio":
        return
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        if choice == "uvloop":
            raise VrrpError(f"{EVENT_LOOP_ENV}=uvloop: python3-uvloop is not installed") from None
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    log.info("event loop: uvloop %s", getattr(uvloop, "__version__", "?"))


def _usable_state_dir(path: str, log: logging.Logger) -> Optional[str]:
    try:
        os.makedirs(path, mode=0o750, exist_ok=True)
    except OSError as exc:
        log.warning("state dir %s unusable (%s): nothing will be persisted", path, exc)
        return None
    if not os.access(path, os.W_OK):
        log.warning("state dir %s is not writable: nothing will be persisted", path)
        return None
    return path
