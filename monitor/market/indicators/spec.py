"""Indicator specs: what a watchlist's `indicators = ["sma 20", …]` says, parsed and checked."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MAX_PERIOD = 1000
"""Longest period accepted: beyond it an indicator needs more history than a panel holds."""
MAX_WIDTH = 10.0
"""Widest Bollinger band accepted, in standard deviations."""


class IndicatorSpecError(ValueError):
    """An indicator spec is not valid; the message says what is wrong and what is allowed."""


@dataclass(frozen=True, slots=True)
class _Kind:
    params: tuple[str, ...]
    """Parameter names, as the error messages and the picker show them."""
    defaults: tuple[float, ...]
    lines: tuple[str, ...]
    """Names of the lines `IndicatorValues.lines` holds for this kind."""
    pane: bool = False


KINDS: dict[str, _Kind] = {
    "sma": _Kind(("N",), (20,), ("sma",)),
    "ema": _Kind(("N",), (20,), ("ema",)),
    "bb": _Kind(("N", "K"), (20, 2), ("upper", "middle", "lower")),
    "vwap": _Kind((), (), ("vwap",)),
    "rsi": _Kind(("N",), (14,), ("rsi",), pane=True),
    "macd": _Kind(("FAST", "SLOW", "SIGNAL"), (12, 26, 9), ("macd", "signal", "hist"), pane=True),
}
SYNTAX = "sma N, ema N, bb N K, vwap, rsi N, macd FAST SLOW SIGNAL"
_WHOLE = re.compile(r"\+?[0-9]+")


def _number(value: float) -> str:
    """A parameter as the file writes it: `20`, `2`, `2.5`."""
    return str(int(value)) if value.is_integer() else repr(value)


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """One indicator with its parameters (every parameter filled in: `bb` is `bb 20 2`)."""

    kind: str
    """One of sma, ema, bb, vwap, rsi, macd."""
    params: tuple[float, ...] = ()

    @property
    def label(self) -> str:
        """How a panel names it: `SMA 20`, `BB 20 2`, `VWAP`."""
        return " ".join([self.kind.upper(), *(_number(p) for p in self.params)])

    @property
    def pane(self) -> bool:
        """Whether it is drawn in the sub-pane under volume (rsi, macd) rather than over the candles."""
        return KINDS[self.kind].pane

    @property
    def lines(self) -> tuple[str, ...]:
        """Names of its lines in `IndicatorValues.lines`."""
        return KINDS[self.kind].lines

    def period(self, index: int = 0) -> int:
        """Parameter `index` as a whole number of candles."""
        return int(self.params[index])

    def __str__(self) -> str:
        """The canonical spelling the watchlist file holds: `sma 20`, `bb 20 2.5`, `vwap`."""
        return " ".join([self.kind, *(_number(p) for p in self.params)])


def default_spec(kind: str) -> IndicatorSpec:
    """The indicator `kind` with its default parameters."""
    return IndicatorSpec(kind, tuple(float(p) for p in KINDS[kind].defaults))


def parse_indicator(text: str) -> IndicatorSpec:
    """Reads `sma 20`, `ema 50`, `bb 20 2`, `vwap`, `rsi 14`, `macd 12 26 9` (omitted trailing
    parameters take their defaults: `rsi` is `rsi 14`).

    Raises:
        IndicatorSpecError: naming what is wrong and what is allowed.
    """
    words = text.replace(",", " ").split()
    if not words:
        raise IndicatorSpecError(f"empty indicator; expected one of: {SYNTAX}")
    name, *given = words
    kind = KINDS.get(name.lower())
    if kind is None:
        raise IndicatorSpecError(f"unknown indicator {name!r}; expected one of: {SYNTAX}")
    name = name.lower()
    if len(given) > len(kind.params):
        usage = " ".join([name, *kind.params])
        count = f"{len(kind.params)} parameter{'' if len(kind.params) == 1 else 's'}"
        raise IndicatorSpecError(f"{name} takes at most {count} ({usage}), got {len(given)}")
    params = [float(p) for p in kind.defaults]
    for i, word in enumerate(given):
        params[i] = _width(name, word) if kind.params[i] == "K" else _period(name, kind.params[i], word)
    if name == "macd" and params[0] >= params[1]:
        fast, slow = _number(params[0]), _number(params[1])
        raise IndicatorSpecError(f"macd: FAST ({fast}) must be less than SLOW ({slow}), e.g. macd 12 26 9")
    return IndicatorSpec(name, tuple(params))


def _period(kind: str, param: str, word: str) -> float:
    value = int(word) if _WHOLE.fullmatch(word) else 0
    if not 1 <= value <= MAX_PERIOD:
        raise IndicatorSpecError(
            f"{kind}: {param} must be a whole number of candles from 1 to {MAX_PERIOD}, got {word!r}"
        )
    return float(value)


def _width(kind: str, word: str) -> float:
    try:
        value = float(word)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_WIDTH:  # also false for nan and inf
        raise IndicatorSpecError(
            f"{kind}: K (the band width in standard deviations) must be a number above 0 and up to "
            f"{_number(MAX_WIDTH)}, got {word!r}"
        )
    return value
