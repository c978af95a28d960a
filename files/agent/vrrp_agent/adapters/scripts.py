"""Running operator scripts (track, notify, resources): argv lists, timeouts, process groups.

Rules:
- A command is an argv list (split by the config parser); never `shell=True`.
- Every run gets its own session/process group (start_new_session). On
  timeout the whole group gets SIGTERM, then SIGKILL after KILL_GRACE_S.
- stdin is /dev/null. Track scripts have their stderr captured (its tail is
  logged on failure); notify and resource commands write to /dev/null, as
  keepalived's do, so a daemon they start never holds a pipe of ours.
- Who runs it (`user`, then `script_user`, then `keepalived_script` if that
  user exists and the agent is root, else the agent's own user). As root the child switches
  uid/gid (and drops supplementary groups). An agent that is not root cannot
  switch: a different user is refused (a logged, counted failure), never
  silently run as the agent's user.
- Script security (`enable_script_security`): a command run as root whose
  file, or any directory above it, is owned by a non-root user or writable
  by group/others (sticky directories excepted) is refused. `check-config`
  reports it as FILE:LINE; at run time it is re-checked before every run.
- A missing or non-executable command is a failed run with a clear detail,
  never an exception out of here.
"""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import shutil
import signal
import stat
from typing import List, NamedTuple, Optional, Sequence, Tuple

from vrrp_agent.config.model import Config, GlobalDefs, ScriptUser
from vrrp_agent.errors import ConfigError

KILL_GRACE_S = 2.0
STDERR_TAIL = 300
DEFAULT_SCRIPT_USER = "keepalived_script"
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PRIVATE_ENV = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
               "LISTEN_FDNAMES"}
"""systemd's messages to the agent itself: never inherited by scripts."""


class RunAs(NamedTuple):
    uid: int
    gid: int
    name: str


class RunResult(NamedTuple):
    ok: bool
    rc: Optional[int]
    detail: str
    """"exit 0", "exit 3", "timed out after 2 s", "not found", "refused: ..."."""
    timed_out: bool = False


def resolve_user(user: Optional[ScriptUser], gdefs: GlobalDefs) -> RunAs:
    """The uid/gid a script runs as (raises KeyError naming an unknown user or group)."""
    chosen = user or gdefs.script_user
    if chosen is None:
        if os.geteuid() != 0:  # a non-root agent runs scripts as itself
            return agent_user()
        try:
            entry = pwd.getpwnam(DEFAULT_SCRIPT_USER)
        except KeyError:
            entry = pwd.getpwuid(os.geteuid())
        return RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)
    try:
        entry = pwd.getpwnam(chosen.user)
    except KeyError:
        raise KeyError(f"user {chosen.user!r} does not exist on this host") from None
    gid = entry.pw_gid
    if chosen.group:
        try:
            gid = grp.getgrnam(chosen.group).gr_gid
        except KeyError:
            raise KeyError(f"group {chosen.group!r} does not exist on this host") from None
    return RunAs(entry.pw_uid, gid, entry.pw_name)


def agent_user() -> RunAs:
    """Resources run as the agent itself (root in production): they start services."""
    entry = pwd.getpwuid(os.geteuid())
    return RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)


def find_executable(command: str) -> Optional[str]:
    if "/" in command:
        return command
    return shutil.which(command, path=os.environ.get("PATH") or SAFE_PATH)


def security_problem(command: str) -> Optional[str]:
    """Why running `command` as root would be unsafe, or None (keepalived's script security)."""
    path = find_executable(command)
    if path is None:
        return None  # a missing command fails on its own, with its own message
    real = os.path.realpath(path)
    current = real
    while True:
        try:
            st = os.stat(current)
        except OSError:
            return None
        if st.st_uid != 0:
            return f"{current} is owned by uid {st.st_uid}, not root"
        sticky_dir = stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX
        if not sticky_dir:
            if st.st_mode & stat.S_IWOTH:
                return f"{current} is writable by any user"
            if st.st_mode & stat.S_IWGRP and st.st_gid != 0:
                return f"{current} is writable by group {st.st_gid}"
        if current == "/":
            return None
        current = os.path.dirname(current)


def refusal(argv: Sequence[str], run_as: RunAs, gdefs: GlobalDefs) -> Optional[str]:
    """Why this run must not happen (user switch impossible, unsafe path), or None."""
    euid = os.geteuid()
    if euid != 0 and run_as.uid != euid:
        return (f"the agent runs as uid {euid} and cannot run scripts as {run_as.name}"
                " (run the agent as root, or set the user to the agent's own)")
    if run_as.uid == 0 and gdefs.enable_script_security:
        problem = security_problem(argv[0])
        if problem:
            return f"script security: {problem}"
    return None


async def run_command(argv: Sequence[str], timeout_s: float, run_as: RunAs, gdefs: GlobalDefs,
                      capture: bool = False, extra_env: Optional[dict] = None) -> RunResult:
    """Run once; never raises for a bad command, never outlives `timeout_s` + grace."""
    why = refusal(argv, run_as, gdefs)
    if why:
        return RunResult(False, None, f"refused: {why}")
    kwargs: dict = {}
    if os.geteuid() == 0 and run_as.uid != 0:
        kwargs.update(user=run_as.uid, group=run_as.gid, extra_groups=[])
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
    env.setdefault("PATH", SAFE_PATH)
    if extra_env:
        env.update(extra_env)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE if capture else asyncio.subprocess.DEVNULL,
            start_new_session=True, close_fds=True, env=env, **kwargs)
    except FileNotFoundError:
        return RunResult(False, None, f"not found: {argv[0]}")
    except PermissionError:
        return RunResult(False, None, f"not executable (or not reachable) by {run_as.name}: {argv[0]}")
    except OSError as exc:
        return RunResult(False, None, f"cannot start {argv[0]}: {exc.strerror or exc}")
    reader = asyncio.ensure_future(_tail(proc.stderr)) if capture and proc.stderr else None
    timed_out = False
    try:
        rc = await asyncio.wait_for(proc.wait(), timeout_s)
    except asyncio.TimeoutError:
        timed_out = True
        rc = await _kill_group(proc)
    finally:
        if proc.returncode is None:  # cancelled (agent stopping): leave nothing behind
            await _kill_group(proc)
    tail = await _finish_reader(reader)
    if timed_out:
        return RunResult(False, rc, f"timed out after {timeout_s:g} s (process group killed)", True)
    detail = f"exit {rc}" if rc >= 0 else f"killed by signal {-rc}"
    if rc != 0 and tail:
        detail += f": {tail}"
    return RunResult(rc == 0, rc, detail)


async def _kill_group(proc: asyncio.subprocess.Process) -> int:
    for sig, wait_s in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            return await asyncio.wait_for(asyncio.shield(proc.wait()), wait_s)
        except asyncio.TimeoutError:
            continue
    return proc.returncode if proc.returncode is not None else -9


async def _tail(stream: Optional[asyncio.StreamReader]) -> str:
    data = b""
    while stream is not None:
        chunk = await stream.read(65536)
        if not chunk:
            break
        data = (data + chunk)[-4096:]
    text = data.decode(errors="replace").strip().replace("\n", " | ")
    return text[-STDERR_TAIL:]


async def _finish_reader(reader: Optional[asyncio.Future[str]]) -> str:
    if reader is None:
        return ""
    try:
        return await asyncio.wait_for(reader, 0.5)
    except asyncio.TimeoutError:  # a grandchild keeps the pipe open: do not wait for it
        return ""


def host_script_errors(config: Config) -> List[ConfigError]:
    """check-config / run / reload: unknown users, and script-security refusals (FILE:LINE)."""
    errors: List[ConfigError] = []
    gdefs = config.globals
    commands: List[Tuple[Sequence[str], Optional[ScriptUser], str, int, bool]] = []
    for script in config.scripts:
        commands.append((script.argv, script.user, script.file, script.line, False))
    notifies = [i.notify for i in config.instances] + [g.notify for g in config.sync_groups]
    for notify in notifies:
        for hook in (notify.master, notify.backup, notify.fault, notify.stop, notify.generic):
            if hook is not None:
                commands.append((hook.argv, hook.user, hook.file, hook.line, False))
    for inst in config.instances:
        for res in inst.resources.resources if inst.resources else ():
            if res.kind == "script":
                commands.append((res.argv, None, res.file, res.line, True))
    if gdefs.script_user is not None:
        try:
            resolve_user(None, gdefs)
        except KeyError as exc:
            errors.append(ConfigError(f"script_user: {exc.args[0]}", config.path))
    for argv, user, file, line, as_agent in commands:
        try:
            run_as = agent_user() if as_agent else resolve_user(user, gdefs)
        except KeyError as exc:
            if user is not None:
                errors.append(ConfigError(str(exc.args[0]), file, line))
            continue
        if run_as.uid == 0 and gdefs.enable_script_security:
            problem = security_problem(argv[0])
            if problem:
                errors.append(ConfigError(
                    f"script security refuses {argv[0]}: {problem} (it would run as root)", file, line))
    return errors
