"""Tracking accounting (keepalived's vrrp_script / track_* semantics), sans I/O.

Rules:
1. No clock, no process, no file: the driver feeds results in (`now` is only
   recorded for status). This module decides what they mean.
2. A script's health follows keepalived's counter: `result` runs over
   0..rise+fall-1 and the script is OK while result >= rise. A success while
   failed climbs one step (rise successes to become OK); a failure while OK
   steps down (fall failures to fail). At start result = rise-1 (one success
   makes it OK, one failure fails it); `init_fail` starts it failed (0).
   Before the first result a script is "init": no weight, no FAULT.
3. Each tracker of an instance is good or bad (a file has a value):
   - weight 0: bad => FAULT (for a file: a non-zero value => FAULT);
   - weight > 0: + weight while good;  weight < 0: + weight (down) while bad;
   - `reverse` swaps good and bad (script, interface, process) or negates
     the weight (file: value x -weight), as keepalived does;
   - a file contributes value x weight; a contribution <= -254 => FAULT.
4. Effective priority = base + sum of contributions, clamped to 1..254.
   The address owner (255) is never changed by weights (only FAULT applies).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, NamedTuple, Optional

from vrrp_agent.config.model import TrackRef

PRIORITY_MIN, PRIORITY_MAX_TRACKED, OWNER = 1, 254, 255
FILE_FAULT_AT = -254

INIT, OK, FAILED = "init", "ok", "failed"


class ScriptHealth:
    """The rise/fall counter of one vrrp_script (shared by every instance tracking it)."""

    def __init__(self, name: str, rise: int = 1, fall: int = 1, init_fail: bool = False):
        self.name = name
        self.rise = rise
        self.fall = fall
        self.result = 0 if init_fail else rise - 1
        self.state = FAILED if init_fail else INIT
        self.runs = 0
        self.failures = 0
        self.last_ok: Optional[bool] = None
        self.last_at: Optional[float] = None
        self.last_detail = ""

    def reconfigure(self, rise: int, fall: int) -> None:
        """Reload: new thresholds, state kept (result clamped into the new range)."""
        self.rise, self.fall = rise, fall
        if self.state == OK:
            self.result = rise + fall - 1
        elif self.state == FAILED:
            self.result = 0
        else:
            self.result = rise - 1

    def feed(self, ok: bool, now: float, detail: str = "") -> bool:
        """One run's outcome; True when the script changed between OK and failed."""
        self.runs += 1
        self.last_ok = ok
        self.last_at = now
        self.last_detail = detail
        before = self.state
        top = self.rise + self.fall - 1
        if ok:
            if self.result < self.rise - 1:
                self.result += 1
            else:
                self.result = top
                self.state = OK
        else:
            self.failures += 1
            if self.result > self.rise:
                self.result -= 1
            else:
                self.result = 0
                self.state = FAILED
        return self.state != before


class Facts:
    """Everything the trackers know, keyed by name; filled by the driver."""

    def __init__(self) -> None:
        self.scripts: Dict[str, ScriptHealth] = {}
        self.interfaces: Dict[str, bool] = {}
        """Interface name -> link up (a missing interface is down)."""
        self.files: Dict[str, int] = {}
        """vrrp_track_file name -> the integer read (unreadable = 0)."""
        self.processes: Dict[str, int] = {}
        """vrrp_track_process name -> number of matching processes."""
        self.quorum: Dict[str, tuple] = {}
        """vrrp_track_process name -> (quorum, quorum_max or None)."""


def quorum_met(count: int, quorum: int, quorum_max: Optional[int]) -> bool:
    return count >= quorum and (quorum_max is None or count <= quorum_max)


class ProcessDelay:
    """fork_delay / terminate_delay of one vrrp_track_process (keepalived 2.2.7).

    A gain of quorum counts once it has lasted `fork_delay_s`, a loss once it
    has lasted `terminate_delay_s`; a change back before that is as if it had
    not happened. `update(count, now)` returns the count the trackers see.
    Pure: the driver passes `now` (its scans set the resolution).
    """

    def __init__(self, fork_delay_s: float, terminate_delay_s: float, quorum: int,
                 quorum_max: Optional[int]):
        self.delays = (fork_delay_s, terminate_delay_s)
        self.quorum = (quorum, quorum_max)
        self.shown: Optional[int] = None
        self.since: Optional[float] = None
        """When the count seen last crossed the quorum (None: no change pending)."""

    def update(self, count: int, now: float) -> int:
        if self.shown is None or quorum_met(count, *self.quorum) == quorum_met(self.shown, *self.quorum):
            self.shown, self.since = count, None  # the first scan, or no quorum change
            return count
        delay = self.delays[0] if quorum_met(count, *self.quorum) else self.delays[1]
        if self.since is None:
            self.since = now
        if now - self.since >= delay:
            self.shown, self.since = count, None
        return self.shown


class Contribution(NamedTuple):
    kind: str
    name: str
    state: str
    """init | ok | failed (scripts), up | down, value text, or "N processes"."""
    weight: int
    reverse: bool
    effect: int
    """What it adds to the priority now."""
    fault: bool
    """True when this tracker puts the instance in FAULT."""


class Verdict(NamedTuple):
    priority: int
    fault: bool
    reasons: List[str]
    contributions: List[Contribution]


def _weighted(good: Optional[bool], weight: int, reverse: bool) -> tuple:
    """(effect, fault) for a good/bad tracker; None = not known yet (no effect)."""
    if good is None:
        return 0, False
    if reverse:
        good = not good
    if weight == 0:
        return 0, not good
    if weight > 0:
        return (weight if good else 0), False
    return (0 if good else weight), False


def contribution(ref: TrackRef, facts: Facts) -> Contribution:
    weight = ref.weight or 0
    reverse = bool(ref.reverse)
    if ref.kind == "script":
        health = facts.scripts.get(ref.name)
        state = health.state if health else INIT
        good = None if state == INIT else state == OK
        effect, fault = _weighted(good, weight, reverse)
        return Contribution("script", ref.name, state, weight, reverse, effect, fault)
    if ref.kind == "interface":
        up = facts.interfaces.get(ref.name, False)
        effect, fault = _weighted(up, weight, reverse)
        return Contribution("interface", ref.name, "up" if up else "down", weight, reverse, effect, fault)
    if ref.kind == "process":
        count = facts.processes.get(ref.name)
        quorum, quorum_max = facts.quorum.get(ref.name, (1, None))
        good = None if count is None else quorum_met(count, quorum, quorum_max)
        effect, fault = _weighted(good, weight, reverse)
        state = "unknown" if count is None else f"{count} running"
        return Contribution("process", ref.name, state, weight, reverse, effect, fault)
    value = facts.files.get(ref.name, 0)
    factor = -weight if reverse else weight
    if weight == 0:
        fault = (value == 0) if reverse else (value != 0)
        return Contribution("file", ref.name, str(value), weight, reverse, 0, fault)
    effect = value * factor
    return Contribution("file", ref.name, str(value), weight, reverse,
                        effect if effect > FILE_FAULT_AT else 0, effect <= FILE_FAULT_AT)


def evaluate(base_priority: int, refs: Iterable[TrackRef], facts: Facts) -> Verdict:
    """The effective priority and FAULT verdict of one instance."""
    parts = [contribution(ref, facts) for ref in refs]
    reasons = [f"{c.kind} {c.name} {c.state}" for c in parts if c.fault]
    if base_priority == OWNER:
        return Verdict(OWNER, bool(reasons), reasons, parts)
    total = base_priority + sum(c.effect for c in parts)
    priority = max(PRIORITY_MIN, min(PRIORITY_MAX_TRACKED, total))
    return Verdict(priority, bool(reasons), reasons, parts)


def tracking_status(verdict: Verdict, facts: Facts) -> Dict[str, Any]:
    """The status document's "tracking" object for one instance."""
    out: Dict[str, Any] = {"fault": verdict.fault, "priority": verdict.priority, "trackers": []}
    for c in verdict.contributions:
        item: Dict[str, Any] = {"kind": c.kind, "name": c.name, "state": c.state,
                                "weight": c.weight, "reverse": c.reverse, "effect": c.effect,
                                "fault": c.fault}
        health = facts.scripts.get(c.name) if c.kind == "script" else None
        if health is not None:
            item.update(runs=health.runs, failures=health.failures,
                        last_result="ok" if health.last_ok else (None if health.last_ok is None
                                                                 else "failed"),
                        last_detail=health.last_detail)
        out["trackers"].append(item)
    return out
