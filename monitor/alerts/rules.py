"""Alert rules: `AlertRule` and the parser of its `when` text (price, close, change, volume)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from monitor.market import Interval, WatchKey

Subject = Literal["price", "close", "change", "volume"]
Direction = Literal["above", "below", "crosses"]
Reference = Literal["level", "sma", "ema"]
Mode = Literal["once", "rearm"]
MODES: tuple[Mode, ...] = ("once", "rearm")
MAX_PERIOD = 5_000
"""Largest SMA/EMA length or volume average window a rule may name."""

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_PRICE = re.compile(rf"price\s+(above|below|crosses)\s+({_NUMBER})")
_CLOSE = re.compile(rf"close\s+(above|below)\s+(?:({_NUMBER})|(sma|ema)\s+(\d+))")
_CHANGE = re.compile(rf"change\s+(above|below)\s+({_NUMBER})\s*%")
_VOLUME = re.compile(rf"volume\s+above\s+({_NUMBER})\s*[x×*]\s*(\d+)")
_SYNTAX = (
    "expected 'price above|below|crosses LEVEL', 'close above|below LEVEL|sma N|ema N', "
    "'change above|below N%' or 'volume above N x M'"
)


class RuleError(ValueError):
    """A `when` text or a rule field is invalid; the message says what is wrong, for the user."""


@dataclass(frozen=True, slots=True)
class Condition:
    """What a rule watches: `subject direction level` (or `close direction sma|ema period`).

    `level` is a price for price/close rules, a percent for change rules and the multiple N for
    volume rules; `period` is the SMA/EMA length or the volume average's M candles.
    """

    subject: Subject
    direction: Direction
    level: float = 0.0
    reference: Reference = "level"
    period: int = 0

    @property
    def on_closed_candles(self) -> bool:
        """Close and volume rules read closed candles only; price and change rules read prices."""
        return self.subject in ("close", "volume")

    @property
    def text(self) -> str:
        """The canonical `when` text (what ids are derived from and the state is keyed by)."""
        if self.subject == "volume":
            return f"volume above {_num(self.level)} x {self.period}"
        if self.subject == "change":
            return f"change {self.direction} {_num(self.level)}%"
        if self.reference != "level":
            return f"close {self.direction} {self.reference} {self.period}"
        return f"{self.subject} {self.direction} {_num(self.level)}"


def _num(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else repr(value)


def parse_when(text: str) -> Condition:
    """Parses a rule's `when` text; RuleError with the accepted forms when it is not one of them."""
    source = " ".join(text.strip().lower().split())
    if match := _PRICE.fullmatch(source):
        return Condition("price", _direction(match[1]), _finite(match[2]))
    if match := _CLOSE.fullmatch(source):
        if match[2] is not None:
            return Condition("close", _direction(match[1]), _finite(match[2]))
        reference: Reference = "sma" if match[3] == "sma" else "ema"
        return Condition("close", _direction(match[1]), reference=reference, period=_period(match[4]))
    if match := _CHANGE.fullmatch(source):
        return Condition("change", _direction(match[1]), _finite(match[2]))
    if match := _VOLUME.fullmatch(source):
        multiple = _finite(match[1])
        if multiple <= 0:
            raise RuleError(f"the volume multiple must be above 0, got {match[1]}")
        return Condition("volume", "above", multiple, period=_period(match[2]))
    raise RuleError(f"cannot read {text.strip()!r}: {_SYNTAX}")


def _direction(word: str) -> Direction:
    return "above" if word == "above" else "below" if word == "below" else "crosses"


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or abs(value) > 1e15:
        raise RuleError(f"{text} is not a usable number")
    return value


def _period(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_PERIOD:
        raise RuleError(f"the period must be 1..{MAX_PERIOD}, got {text}")
    return value


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One alert of a watchlist: an instrument of the list, a condition and how often it fires."""

    id: str
    instrument: str
    """The watchlist id (`TICKER_CLASSCODE`, FIGI or uid), as in the list's instruments."""
    interval: Interval
    """The candle series the rule reads (the instrument's entry interval unless given)."""
    condition: Condition
    mode: Mode = "once"
    note: str = ""
    hysteresis: float | None = None
    """How far (in price) the value must move back before a `rearm` rule fires again; None:
    ten price steps of the instrument."""
    interval_given: bool = False
    """Whether the file names the interval (else it follows the instrument's entry)."""

    @property
    def when(self) -> str:
        """The condition as canonical text."""
        return self.condition.text

    @property
    def key(self) -> WatchKey:
        """The watched series the rule reads."""
        return WatchKey(self.instrument, self.interval)

    @property
    def fingerprint(self) -> str:
        """Everything that makes the rule what it is: a rule whose fingerprint changed is new
        (its fired/armed state starts afresh), a changed note is not."""
        return f"{self.instrument}|{self.interval.code}|{self.when}|{self.mode}|{self.hysteresis}"


def derived_id(instrument: str, condition: Condition) -> str:
    """A stable id from the instrument and the canonical `when` text, e.g. `SBER_TQBR-price-above-354.5`."""
    slug = re.sub(r"[^a-z0-9.%\-]+", "-", condition.text).strip("-")
    return f"{instrument}-{slug}"


def make_rule(
    instrument: str,
    when: str,
    interval: Interval = Interval.M1,
    *,
    mode: str = "once",
    note: str = "",
    rule_id: str | None = None,
    hysteresis: float | None = None,
    interval_given: bool = False,
) -> AlertRule:
    """Builds a rule from its file fields (the UI adds rules through this too); RuleError when
    one is invalid."""
    condition = parse_when(when)
    if mode not in MODES:
        raise RuleError(f"unknown mode {mode!r}; expected once or rearm")
    if hysteresis is not None and not (math.isfinite(hysteresis) and hysteresis >= 0):
        raise RuleError(f"hysteresis must be a price distance of 0 or more, got {hysteresis}")
    ident = rule_id.strip() if rule_id is not None else derived_id(instrument, condition)
    if not ident:
        raise RuleError("the id must not be empty")
    return AlertRule(
        id=ident,
        instrument=instrument,
        interval=interval,
        condition=condition,
        mode="once" if mode == "once" else "rearm",
        note=note,
        hysteresis=hysteresis,
        interval_given=interval_given,
    )
