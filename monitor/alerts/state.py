"""Fired/armed state of alert rules, per watchlist file, kept across restarts (written atomically)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import structlog

from monitor.alerts.rules import AlertRule
from monitor.files import read_bytes_bounded, write_atomically

log = structlog.get_logger()

STATE_CAP = 8 * 1024 * 1024
"""A state file holds a few hundred bytes per rule; anything bigger is not ours."""
_VERSION = 1
_STATE_MODE = 0o600
"""Private to the user, as mkstemp makes it: the state tells what the user watches."""


def default_state_dir() -> Path:
    """`$XDG_STATE_HOME/monitor` or `~/.local/state/monitor` (where the log goes too)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "monitor"


def state_path(watchlist: Path, state_dir: Path | None = None) -> Path:
    """The state file of a watchlist file: one per (resolved) watchlist path."""
    resolved = str(Path(os.path.abspath(watchlist.expanduser())))
    digest = hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return (state_dir or default_state_dir()) / "alerts" / f"{watchlist.stem}-{digest}.json"


@dataclass(slots=True)
class RuleState:
    """Where one rule stands. `ready_up`/`ready_down`: the value was seen on the far side of the
    level (moved back by the hysteresis after a fire), so the next crossing fires; `seen`: the
    newest price time or candle start evaluated (a restart evaluates only what came after)."""

    fingerprint: str
    armed: bool = True
    """The user's switch (arm/disarm); a `once` rule that fired is disarmed."""
    ready_up: bool = False
    ready_down: bool = False
    seen: float | None = None
    fired: int = 0
    last_time: float | None = None
    last_value: float | None = None
    last_offline: bool = False


class AlertState:
    """Every rule's state, loaded from and saved to one JSON file (temp file, fsync, replace).

    An unreadable or corrupt file is moved aside (`….corrupt-TIME`) with a logged notice and the
    rules start afresh; a file that cannot be written is logged, never raised.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        """None: kept in memory only (tests, a stream with no state directory)."""
        self.rules: dict[str, RuleState] = {}
        self.notice: str | None = None
        """What went wrong reading or writing the file, for a status line."""
        self.dirty = False
        if path is not None:
            self._load(path)

    @classmethod
    def for_watchlist(cls, watchlist: Path, state_dir: Path | None = None) -> AlertState:
        """The state kept for a watchlist file in the app's state directory."""
        return cls(state_path(watchlist, state_dir))

    def of(self, rule: AlertRule) -> RuleState:
        """The rule's state; a rule that is new, or whose text changed, starts afresh."""
        found = self.rules.get(rule.id)
        if found is None or found.fingerprint != rule.fingerprint:
            found = self.rules[rule.id] = RuleState(rule.fingerprint)
            self.dirty = True
        return found

    def keep_only(self, ids: set[str]) -> None:
        """Forgets the state of rules no longer in the file."""
        for ident in [i for i in self.rules if i not in ids]:
            del self.rules[ident]
            self.dirty = True

    def _load(self, path: Path) -> None:
        try:
            raw = read_bytes_bounded(path, STATE_CAP)
        except FileNotFoundError:
            return
        except OSError as exc:
            self._set_aside(path, f"cannot read: {exc}")
            return
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict) or data.get("version") != _VERSION:
                raise ValueError("not an alert state file of this version")
            rules = data.get("rules")
            if not isinstance(rules, dict):
                raise ValueError("no rules table")
            self.rules = {str(k): _rule_state(v) for k, v in rules.items()}
        except (ValueError, TypeError, UnicodeDecodeError, RecursionError) as exc:
            self._set_aside(path, f"corrupt: {exc}")

    def _set_aside(self, path: Path, reason: str) -> None:
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        try:
            os.replace(path, aside)
            self.notice = f"alert state {path} was {reason}; moved to {aside.name}, rules start afresh"
        except OSError as exc:
            self.notice = f"alert state {path} was {reason} and could not be moved aside ({exc})"
        log.warning("alert_state_unreadable", path=str(path), reason=reason, notice=self.notice)
        self.rules = {}

    def save(self) -> bool:
        """Writes the state atomically; False (logged, noted) when it could not be written."""
        self.dirty = False
        if self.path is None:
            return True
        body = {"version": _VERSION, "rules": {k: asdict(v) for k, v in self.rules.items()}}
        text = json.dumps(body, separators=(",", ":"), sort_keys=True)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, text, _STATE_MODE)
        except OSError as exc:
            self.notice = f"alert state not saved to {self.path}: {exc}"
            log.warning("alert_state_not_saved", path=str(self.path), error=str(exc))
            return False
        return True


_FIELDS = {f.name: f for f in fields(RuleState)}


def _rule_state(value: Any) -> RuleState:
    """A RuleState from its JSON form; ValueError/TypeError on anything else."""
    if not isinstance(value, dict) or not isinstance(value.get("fingerprint"), str):
        raise ValueError("a rule entry is not a table with a fingerprint")
    known = {k: v for k, v in value.items() if k in _FIELDS}
    state = RuleState(**known)
    for flag in ("armed", "ready_up", "ready_down", "last_offline"):
        if not isinstance(getattr(state, flag), bool):
            raise ValueError(f"{flag} is not a boolean")
    for number in ("seen", "last_time", "last_value"):
        item = getattr(state, number)
        if item is not None and (isinstance(item, bool) or not isinstance(item, int | float)):
            raise ValueError(f"{number} is not a number")
    if isinstance(state.fired, bool) or not isinstance(state.fired, int):
        raise ValueError("fired is not an integer")
    return state
