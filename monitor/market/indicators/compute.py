"""The indicator computations, each resumable from any index of a series (the book's incremental path)."""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from monitor.market.candle import Candle
from monitor.market.indicators.spec import IndicatorSpec

EXCHANGE_TZ = ZoneInfo("Europe/Moscow")
"""The trading session VWAP restarts at is the exchange day: MOEX trades on Moscow time."""

Line = list[float | None]
_AGREE = 1e-12
"""How close (relative to the price) a recomputed head must come to the held values to hand over."""
_REBASE_CHUNK = 256
_REBASE_SEARCH = 20_000
"""Indexes a rebase recomputes looking for agreement before it recomputes the rest outright."""
_SMALL_DEVIATION = 1e-6
"""Below this variance per squared price (deviation under 0.1 % of the price) Bollinger's rolled
M2 is recomputed: its rounding (~1e-16·N²·price²) would otherwise reach the deviation."""


@dataclass(slots=True)
class Inputs:
    """A series' candles as columns, in time order (the book keeps them in step with the series)."""

    times: list[int] = field(default_factory=list)
    high: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)
    close: list[float] = field(default_factory=list)
    volume: list[float] = field(default_factory=list)

    def truncate(self, length: int) -> None:
        """Drops every candle from index `length` on."""
        for column in (self.times, self.high, self.low, self.close, self.volume):
            del column[length:]

    def append(self, candle: Candle) -> None:
        """Adds `candle` at the end."""
        self.times.append(candle.time)
        self.high.append(candle.high)
        self.low.append(candle.low)
        self.close.append(candle.close)
        self.volume.append(float(candle.volume))

    def prepend(self, candles: Sequence[Candle]) -> None:
        """Puts `candles` (older than every held one, in order) before the front."""
        self.times[:0] = [c.time for c in candles]
        self.high[:0] = [c.high for c in candles]
        self.low[:0] = [c.low for c in candles]
        self.close[:0] = [c.close for c in candles]
        self.volume[:0] = [float(c.volume) for c in candles]

    def truncate_front(self, count: int) -> None:
        """Drops the first `count` candles."""
        for column in (self.times, self.high, self.low, self.close, self.volume):
            del column[:count]


@lru_cache(maxsize=8192)
def _exchange_day_of_hour(hour: int) -> int:
    # Offsets change only on whole hours (Moscow has been UTC+3 since 2014; before that it moved).
    moment = datetime.fromtimestamp(hour * 3600, UTC).astimezone(EXCHANGE_TZ)
    return moment.toordinal()


def session_of(time: int) -> int:
    """The exchange day (an ordinal) the candle starting at `time` (UTC epoch s) trades in."""
    return _exchange_day_of_hour(time // 3600)


def _floats() -> array[float]:
    """A state column: raw doubles (8 bytes a value, not a float object and a pointer)."""
    return array("d")


def _window_sum(values: list[float], stop: int, n: int) -> float:
    return math.fsum(values[stop - n : stop])


class Calculator:
    """One indicator's lines over one series; `update(inputs, start)` recomputes from `start`.

    Each value at index i depends only on the inputs and on the state at i - 1, which is kept, so
    resuming at `start` gives the same numbers as computing the whole series.
    """

    def __init__(self, spec: IndicatorSpec) -> None:
        self.spec = spec
        self.lines: dict[str, Line] = {name: [] for name in spec.lines}

    def update(self, inputs: Inputs, start: int) -> None:
        """Recomputes every value from index `start` to the end of `inputs`."""
        for column in self.columns():
            del column[start:]
        self._extend(inputs, start, len(inputs.times))

    def state(self) -> tuple[Any, ...]:
        """The per-index state kept besides the lines (running sums: lists or arrays), truncated with them."""
        return ()

    def columns(self) -> tuple[Any, ...]:
        """The lines and the state, in a fixed order."""
        return (*self.lines.values(), *self.state())

    def rebase(self, inputs: Inputs, shift: int, valid: int) -> int:
        """After `shift` candles were put before the front (> 0, scroll-back) or taken from it
        (< 0, a trim), with `inputs` already moved: recomputes the new head only until it agrees
        with the values held (`valid` of them were up to date), keeps those from there on, and
        returns how many values are up to date now.
        """
        fresh, held = type(self)(self.spec), self.columns()
        usable, length = min(valid + shift, len(inputs.times)), len(inputs.times)
        done, first = 0, max(shift, 0)
        while done < usable and done - first < _REBASE_SEARCH:
            # In chunks: a call per index cost more than the computing.
            stop = min(usable, max(done, first) + _REBASE_CHUNK)
            fresh._extend(inputs, done, stop)
            for i in range(max(done, first), stop):
                if self._agrees(fresh, inputs, i, shift):
                    for new, old in zip(fresh.columns(), held, strict=True):
                        old[:] = new[: i + 1] + old[i + 1 - shift : valid]
                    return usable
            done = stop
        fresh._extend(inputs, done, length)  # never agreed (or nothing held): the fresh values stand
        for new, old in zip(fresh.columns(), held, strict=True):
            old[:] = new
        return length

    def _agrees(self, fresh: Calculator, inputs: Inputs, i: int, shift: int) -> bool:
        """Whether `fresh` at index i matches what is held at i - shift, so that the held values
        after it are what `fresh` would compute (to rounding). This default, for the recursive
        kinds (EMA, RSI, MACD), wants every line and state defined and within 1e-12 of the price."""
        scale = abs(inputs.close[i])
        for new, old in zip(fresh.columns(), self.columns(), strict=True):
            a, b = new[i], old[i - shift]
            if a is None or b is None or abs(a - b) > _AGREE * max(abs(a), abs(b), scale):
                return False  # not warmed up (a count of values decides what comes) or apart
        return True

    def _extend(self, inputs: Inputs, start: int, stop: int) -> None:
        raise NotImplementedError


class Sma(Calculator):
    """Simple moving average of closes over N.

    The window sum rolls (add the new close, drop the old one) and is recomputed exactly at every
    N-th index, so rounding never accumulates over more than N steps however long the series is.
    """

    def __init__(self, spec: IndicatorSpec) -> None:
        super().__init__(spec)
        self.sums = _floats()
        self.mean: Line = self.lines[spec.lines[0] if spec.kind == "sma" else "middle"]

    def state(self) -> tuple[Any, ...]:
        return (self.sums,)

    def _agrees(self, fresh: Calculator, inputs: Inputs, i: int, shift: int) -> bool:
        # A window wholly inside the candles held before: the same closes, the same value.
        return i >= max(shift, 0) + self.spec.period() - 1

    def _extend(self, inputs: Inputs, start: int, stop: int) -> None:
        n, close, sums, out = self.spec.period(), inputs.close, self.sums, self.mean
        for i in range(start, stop):
            if i < n - 1:
                sums.append(0.0)
                out.append(None)
                continue
            total = _window_sum(close, i + 1, n) if i % n == n - 1 else sums[i - 1] + close[i] - close[i - n]
            sums.append(total)
            out.append(total / n)


class Bollinger(Sma):
    """Bollinger bands: the SMA over N (the middle line) ± K population standard deviations over N.

    The window's sum of squared deviations (M2) rolls with the exact sliding update
    M2 += (x_in - x_out)·(x_in - mean_new + x_out - mean_old), free of the cancellation of
    Σx² - n·mean², and is recomputed in two passes wherever the sum is, and wherever it is so
    small next to the price that its rounding would show through the square root (a flat market).
    """

    def __init__(self, spec: IndicatorSpec) -> None:
        super().__init__(spec)
        self.m2 = _floats()

    def state(self) -> tuple[Any, ...]:
        return (self.sums, self.m2)

    def _extend(self, inputs: Inputs, start: int, stop: int) -> None:
        super()._extend(inputs, start, stop)
        n, k, close, sums, m2 = self.spec.period(), self.spec.params[1], inputs.close, self.sums, self.m2
        upper, lower = self.lines["upper"], self.lines["lower"]
        for i in range(start, stop):
            if i < n - 1:
                m2.append(0.0)
                upper.append(None)
                lower.append(None)
                continue
            mean = sums[i] / n
            dev = math.nan
            if i % n != n - 1:
                x_in, x_out = close[i], close[i - n]
                dev = m2[i - 1] + (x_in - x_out) * (x_in - mean + x_out - sums[i - 1] / n)
            if not dev >= _SMALL_DEVIATION * n * mean * mean:
                dev = math.fsum((x - mean) ** 2 for x in close[i + 1 - n : i + 1])
            m2.append(dev)
            width = k * math.sqrt(max(dev, 0.0) / n)
            upper.append(mean + width)
            lower.append(mean - width)


def _ema(source: list[float | None], out: Line, start: int, stop: int, n: int, first: int) -> None:
    """Extends `out` (EMA over N of `source`, whose values start at index `first`) from `start`.

    Seeded with the SMA of the first N values (the common convention: the value at first + N - 1
    is their mean), then e = e_prev + α·(x - e_prev) with α = 2 / (N + 1).
    """
    alpha = 2.0 / (n + 1)
    seed = first + n - 1
    for i in range(start, stop):
        if i < seed:
            out.append(None)
        elif i == seed:
            out.append(math.fsum(x for x in source[first : seed + 1] if x is not None) / n)
        else:
            prev, x = out[i - 1], source[i]
            assert prev is not None and x is not None  # defined from `seed` on
            out.append(prev + alpha * (x - prev))


class Ema(Calculator):
    """Exponential moving average of closes over N, seeded with the SMA of the first N closes."""

    def _extend(self, inputs: Inputs, start: int, stop: int) -> None:
        _ema(inputs.close, self.lines["ema"], start, stop, self.spec.period(), 0)  # type: ignore[arg-type]


class Macd(Calculator):
    """MACD = EMA(FAST) - EMA(SLOW) of closes; signal = EMA(SIGNAL) of MACD; hist = MACD - signal."""

    def __init__(self, spec: IndicatorSpec) -> None:
        super().__init__(spec)
        self.fast: Line = []
        self.slow: Line = []

    def state(self) -> tuple[Any, ...]:
        return (self.fast, self.slow)

    def _extend(self, inputs: Inputs, start: int, stop: int) -> None:
        fast_n, slow_n, signal_n = self.spec.period(0), self.spec.period(1), self.spec.period(2)
        close: list[float | None] = inputs.close  # type: ignore[assignment]
        _ema(close, self.fast, start, stop, fast_n, 0)
        _ema(close, self.slow, start, stop, slow_n, 0)
        macd, signal, hist = self.lines["macd"], self.lines["signal"], self.lines["hist"]
        for i in range(start, stop):
            fast, slow = self.fast[i], self.slow[i]
            macd.append(None if fast is None or slow is None else fast - slow)
        _ema(macd, signal, start, stop, signal_n, slow_n - 1)
        for i in range(start, stop):
            m, s = macd[i], signal[i]
            hist.append(None if m is None or s is None else m - s)


class Rsi(Calculator):
    """Relative strength index over N with Wilder's smoothing.

    The average gain and loss start as the plain means of the first N close-to-close changes (at
    index N), then avg = (avg_prev·(N - 1) + current) / N. RSI = 100 - 100 / (1 + gain / loss):
    100 when there was no loss, 50 when the price did not move at all.
    """

    def __init__(self, spec: IndicatorSpec) -> None:
        super().__init__(spec)
        self.gain = _floats()
        self.loss = _floats()

    def state(self) -> tuple[Any, ...]:
        return (self.gain, self.loss)

    def _extend(self, inputs: Inputs, start: int, stop: int) -> None:
        n, close, gains, losses, out = (
            self.spec.period(),
            inputs.close,
            self.gain,
            self.loss,
            self.lines["rsi"],
        )
        for i in range(start, stop):
            if i < n:
                gains.append(0.0)
                losses.append(0.0)
                out.append(None)
                continue
            if i == n:
                changes = [close[j] - close[j - 1] for j in range(1, n + 1)]
                gain = math.fsum(max(c, 0.0) for c in changes) / n
                loss = math.fsum(max(-c, 0.0) for c in changes) / n
            else:
                change = close[i] - close[i - 1]
                gain = (gains[i - 1] * (n - 1) + max(change, 0.0)) / n
                loss = (losses[i - 1] * (n - 1) + max(-change, 0.0)) / n
            gains.append(gain)
            losses.append(loss)
            if loss == 0.0:
                out.append(50.0 if gain == 0.0 else 100.0)
            else:
                out.append(100.0 - 100.0 / (1.0 + gain / loss))


class Vwap(Calculator):
    """Volume-weighted average price anchored to the session: Σ(typical·volume) / Σvolume since the
    first candle of the exchange day (Moscow), typical = (high + low + close) / 3. None while the
    session has traded no volume."""

    def __init__(self, spec: IndicatorSpec) -> None:
        super().__init__(spec)
        self.pv = _floats()
        self.v = _floats()

    def state(self) -> tuple[Any, ...]:
        return (self.pv, self.v)

    def _agrees(self, fresh: Calculator, inputs: Inputs, i: int, shift: int) -> bool:
        # Both start the session over at a session's first candle.
        return i > 0 and session_of(inputs.times[i]) != session_of(inputs.times[i - 1])

    def _extend(self, inputs: Inputs, start: int, stop: int) -> None:
        times, high, low, close, volume = inputs.times, inputs.high, inputs.low, inputs.close, inputs.volume
        pv, v, out = self.pv, self.v, self.lines["vwap"]
        session = session_of(times[start - 1]) if start > 0 else None
        for i in range(start, stop):
            typical = (high[i] + low[i] + close[i]) / 3.0
            previous, session = session, session_of(times[i])
            if session != previous:
                total_pv, total_v = typical * volume[i], volume[i]
            else:
                total_pv, total_v = pv[i - 1] + typical * volume[i], v[i - 1] + volume[i]
            pv.append(total_pv)
            v.append(total_v)
            out.append(total_pv / total_v if total_v > 0 else None)


_CALCULATORS: dict[str, type[Calculator]] = {
    "sma": Sma,
    "ema": Ema,
    "bb": Bollinger,
    "vwap": Vwap,
    "rsi": Rsi,
    "macd": Macd,
}


def calculator(spec: IndicatorSpec) -> Calculator:
    """A new, empty calculator for `spec`."""
    return _CALCULATORS[spec.kind](spec)
