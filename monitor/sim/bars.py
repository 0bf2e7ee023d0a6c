"""Candles in ticks: a bar, how bars merge, a minute's price path, and a day of minute candles."""

from __future__ import annotations

from dataclasses import dataclass

MINUTES = 1440
LAST_TRADE_S = 60.0 - 0.001
"""Seconds into a trading minute of its last trade: the model trades continuously, so the last trade
of a finished minute is at its very end (a forming candle sent at :59.8 said :59.8, so the closed
candle's `last_trade_ts` must not say an earlier :59); the feed measures lag from these stamps."""
Turn = tuple[float, int]
"""Where in its minute (0..1) a price path turns, and at what price: the minute's high or low."""
MinutePath = tuple[int, int, Turn, Turn]
"""A minute's price path: (open, close, first turn, second turn)."""


@dataclass(frozen=True, slots=True)
class Bar:
    """An aggregated candle in ticks and lots; `last_trade` is epoch seconds of its newest trade."""

    open: int
    high: int
    low: int
    close: int
    volume: int
    volume_buy: int
    last_trade: float


def merge(bars: list[Bar]) -> Bar | None:
    """The aggregate of consecutive bars (None for none)."""
    if not bars:
        return None
    if len(bars) == 1:
        return bars[0]
    return Bar(
        bars[0].open,
        max(b.high for b in bars),
        min(b.low for b in bars),
        bars[-1].close,
        sum(b.volume for b in bars),
        sum(b.volume_buy for b in bars),
        bars[-1].last_trade,
    )


def path_price(o: int, c: int, turn1: Turn, turn2: Turn, fraction: float) -> float:
    """A minute's price `fraction` (0..1) of the way through it: open → turn1 → turn2 → close, each
    turn (fraction of the minute, price) the minute's high or low."""
    (f1, x1), (f2, x2) = turn1, turn2
    if fraction < f1:
        return o + (x1 - o) * fraction / f1
    if fraction < f2:
        return x1 + (x2 - x1) * (fraction - f1) / (f2 - f1)
    return x2 + (c - x2) * (fraction - f2) / (1.0 - f2)


@dataclass(frozen=True, slots=True)
class Correction:
    """How a minute's preliminary close differs from its final one (ticks, lots)."""

    close: int
    volume: int
    volume_buy: int


class DayMinutes:
    """The 1440 minute candles of one instrument on one UTC day, restricted to trading minutes."""

    __slots__ = ("base", "close", "corrections", "first", "high", "index", "low", "open", "position",
                 "shape", "volume", "volume_buy")  # fmt: skip

    def __init__(self, base: int, open_: list[int], high: list[int], low: list[int], close: list[int],
                 volume: list[int], volume_buy: list[int], shape: list[tuple[float, float, bool]],
                 corrections: dict[int, Correction], trading: list[int] | None) -> None:  # fmt: skip
        self.base = base  # epoch seconds of 00:00 UTC
        self.index = list(range(MINUTES)) if trading is None else trading
        keep = self.index
        self.position = {m: p for p, m in enumerate(keep)}
        self.open = [open_[m] for m in keep] if trading is not None else open_
        self.high = [high[m] for m in keep] if trading is not None else high
        self.low = [low[m] for m in keep] if trading is not None else low
        self.close = [close[m] for m in keep] if trading is not None else close
        self.volume = [volume[m] for m in keep] if trading is not None else volume
        self.volume_buy = [volume_buy[m] for m in keep] if trading is not None else volume_buy
        self.shape = [shape[m] for m in keep] if trading is not None else shape
        self.corrections = corrections

    def aggregate(self, lo: int, hi: int) -> Bar | None:
        """The aggregate of trading positions [lo, hi) (positions index the trading minutes)."""
        if hi <= lo:
            return None
        return Bar(
            self.open[lo],
            max(self.high[lo:hi]),
            min(self.low[lo:hi]),
            self.close[hi - 1],
            sum(self.volume[lo:hi]),
            sum(self.volume_buy[lo:hi]),
            self.base + self.index[hi - 1] * 60 + LAST_TRADE_S,
        )

    def _turns(self, p: int) -> tuple[Turn, Turn]:
        """Where (fraction of the minute) and at what price position p's path turns: high and low."""
        f1, f2, high_first = self.shape[p]
        x1, x2 = (self.high[p], self.low[p]) if high_first else (self.low[p], self.high[p])
        return (f1, x1), (f2, x2)

    def _price(self, p: int, fraction: float) -> float:
        """Position p's price `fraction` (0..1) of the way through its minute (open → x1 → x2 → close)."""
        return path_price(self.open[p], self.close[p], *self._turns(p), fraction)

    def partial(self, minute: int, fraction: float, at: float) -> Bar | None:
        """Minute `minute` of the day as seen `fraction` (0..1) of the way through it."""
        p = self.position.get(minute)
        return None if p is None else self.span(p, 0.0, fraction, at)

    def span(self, p: int, lo: float, hi: float, last_trade: float) -> Bar:
        """Position p's trading over fractions [lo, hi] of its minute as one bar.

        Prices follow the minute's path and its turns inside the span; volumes are the minute's
        cumulative share at `hi` less that at `lo`, so spans that tile the minute sum to it exactly,
        and [0, f] is the forming minute at f.
        """
        o, c = round(self._price(p, lo)), round(self._price(p, hi))
        seen = [o, c] + [x for f, x in self._turns(p) if lo <= f <= hi]
        volume, buy = self.volume[p], self.volume_buy[p]
        return Bar(o, max(seen), min(seen), c, int(volume * hi) - int(volume * lo),
                   int(buy * hi) - int(buy * lo), last_trade)  # fmt: skip
