"""The price model: one instrument's minute candles as a pure function of (seed, instrument, time)."""

# Top-down, so any moment is cheap to compute without replaying from the epoch:
# 1. The price at each UTC day boundary is a sum of value-noise layers over days (1, 4, 16, 64, 256
#    day knots, linearly interpolated), so it wanders around the base price with realistic daily moves.
# 2. Each day's high, low and volume come from a hash of (seed, uid, day): a day bar is a few hashes.
# 3. Inside a day, minute-scale value noise pinned to the day's open and close is scaled to touch the
#    day's high and low exactly, so the day bar equals the aggregate of its 1440 minute candles.
# 4. Inside a minute the price runs open → first extreme → second extreme → close, which gives the
#    forming candle and the last price at any second.
# Prices are integers in price steps ("ticks"); volumes are lots.

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from hashlib import blake2b

from monitor.sim.bars import LAST_TRADE_S, MINUTES, Bar, Correction, DayMinutes, MinutePath

_DAY_SCALES = (1, 4, 16, 64, 256)  # days between knots of each inter-day layer
_MINUTE_SCALES = (1, 5, 15, 60, 240)  # minutes between knots; each divides a day, so knots meet at 00:00
_U32 = float(1 << 32)
SHAPES_KEPT = 8
"""Day shapes an instrument keeps (~100 bytes each): today and the days a last price looks back over."""
_CORRECTED = -0.9  # a minute whose "c" knot is below this gets a late correction (one in twenty)


def _digest(*parts: object) -> bytes:
    return blake2b("|".join(map(str, parts)).encode(), digest_size=32).digest()


_EIGHT = struct.Struct("<8I")


def _uniforms(digest: bytes) -> list[float]:
    """Eight uniforms in [0, 1) from one 32-byte digest."""
    return [x / _U32 for x in _EIGHT.unpack(digest)]


def _digests(*prefix: object, start: int, count: int) -> Iterator[bytes]:
    """`_digest(*prefix, n)` for n in start..start+count-1, hashing the shared prefix once.

    A day of minutes needs thousands of these; copying a hasher that has seen the prefix gives the
    same digests for a fraction of the cost (the simulator computes a day per instrument it serves).
    """
    base = blake2b(("|".join(map(str, prefix)) + "|").encode(), digest_size=32)
    for n in range(start, start + count):
        h = base.copy()
        h.update(str(n).encode())
        yield h.digest()


def _knots(seed: int, uid: str, layer: str, scale: int, start: int, count: int) -> list[float]:
    """`_knot(seed, uid, layer, scale, i)` for i in start..start+count-1, in bulk."""
    return [
        int.from_bytes(d[:4], "little") / _U32 * 2.0 - 1.0
        for d in _digests(seed, uid, layer, scale, start=start, count=count)
    ]


@lru_cache(maxsize=65_536)
def _knot(seed: int, uid: str, layer: str, scale: int, index: int) -> float:
    """A value-noise knot in [-1, 1)."""
    return int.from_bytes(_digest(seed, uid, layer, scale, index)[:4], "little") / _U32 * 2.0 - 1.0


@dataclass(frozen=True, slots=True)
class DayShape:
    """What places one minute on its day's path without the other 1440 (see `PriceModel.path_at`):
    the scales of the noise above and below the open→close line, the noise at the day's two ends,
    and the first boundaries where the path is highest and lowest (those minutes touch the day's
    high and low)."""

    up: float
    down: float
    start: float
    end: float
    top: int
    bottom: int


class PriceModel:
    """Deterministic day bars and minute candles for one instrument."""

    def __init__(self, seed: int, uid: str, base_ticks: int, daily_vol: float, day_volume: int) -> None:
        self.seed = seed
        self.uid = uid
        self.base_ticks = max(base_ticks, 10)
        self.daily_vol = daily_vol
        self.day_volume = max(day_volume, 20 * MINUTES)
        self.day_bar = lru_cache(maxsize=8192)(self._day_bar)
        self._shapes: dict[int, DayShape] = {}  # by day, the newest SHAPES_KEPT

    def boundary(self, day: int) -> int:
        """The price (ticks) at 00:00 UTC of `day` (days since the epoch)."""
        log_move = 0.0
        for scale in _DAY_SCALES:
            n, r = divmod(day, scale)
            a = _knot(self.seed, self.uid, "d", scale, n)
            b = _knot(self.seed, self.uid, "d", scale, n + 1) if r else a
            amplitude = self.daily_vol * (1.0 if scale == 1 else 0.8 * math.sqrt(scale))
            log_move += amplitude * (a + (b - a) * r / scale)
        return max(1, round(self.base_ticks * math.exp(log_move)))

    def _day_bar(self, day: int) -> Bar:
        """The day's candle over all 1440 minutes (the minute candles aggregate to exactly this)."""
        o, c = self.boundary(day), self.boundary(day + 1)
        u = _uniforms(_digest(self.seed, self.uid, "bar", day))
        spread = self.daily_vol * self.base_ticks
        high = max(o, c) + 1 + int(spread * (0.15 + 0.6 * u[0]))
        low = max(1, min(o, c) - 1 - int(spread * (0.15 + 0.6 * u[1])))
        volume = max(20 * MINUTES, int(self.day_volume * (0.5 + u[2])))
        volume_buy = int(volume * (0.4 + 0.2 * u[3]))
        return Bar(o, high, low, c, volume, volume_buy, day * 86_400 + 86_340 + LAST_TRADE_S)

    def minutes(self, day: int, trading: list[int] | None) -> DayMinutes:
        """Every minute candle of `day`; only `trading` minutes kept when given."""
        bar = self.day_bar(day)
        path, shape_of_day = self._path(day, bar)
        self._remember(day, shape_of_day)
        rng = [_uniforms(d) for d in _digests(self.seed, self.uid, "m", start=day * MINUTES, count=MINUTES)]
        typical = max(1, (bar.high - bar.low) // 30)
        opens, closes = path[:-1], path[1:]
        highs = [
            min(bar.high, max(o, c) + int(u[0] * typical)) for o, c, u in zip(opens, closes, rng, strict=True)
        ]
        lows = [
            max(bar.low, min(o, c) - int(u[1] * typical)) for o, c, u in zip(opens, closes, rng, strict=True)
        ]
        # The scaled path touches the day's extremes; pin them to a minute in case rounding missed.
        highs[min(shape_of_day.top, MINUTES - 1)] = bar.high
        lows[min(shape_of_day.bottom, MINUTES - 1)] = bar.low
        weights = [0.3 + u[2] for u in rng]
        total = sum(weights)
        spare = bar.volume - MINUTES
        volumes = [1 + int(spare * w / total) for w in weights]
        for m in range(bar.volume - sum(volumes)):
            volumes[m % MINUTES] += 1
        buys = [min(v, int(v * (0.4 + 0.2 * u[3]) + 0.5)) for v, u in zip(volumes, rng, strict=True)]
        extra = bar.volume_buy - sum(buys)
        for m in range(MINUTES):  # spread the rounding error of the buy side without breaking 0..volume
            if extra == 0:
                break
            step = max(-buys[m], min(volumes[m] - buys[m], extra))
            buys[m] += step
            extra -= step
        shape = [(0.1 + 0.35 * u[4], 0.55 + 0.35 * u[5], u[6] < 0.5) for u in rng]
        corrections: dict[int, Correction] = {}
        corrected = _knots(self.seed, self.uid, "c", 1, day * MINUTES, MINUTES)
        for m, u in enumerate(rng):
            if corrected[m] < _CORRECTED:
                corrections[m] = self._correction(closes[m], highs[m], lows[m], volumes[m], buys[m], u[6])
        return DayMinutes(
            day * 86_400, opens, highs, lows, closes, volumes, buys, shape, corrections, trading
        )

    def day_shape(self, day: int) -> DayShape:
        """The day's shape: remembered from `minutes` or one path pass (no minute candles are made)."""
        shape = self._shapes.get(day)
        if shape is None:
            shape = self._path(day, self.day_bar(day))[1]
            self._remember(day, shape)
        return shape

    def _remember(self, day: int, shape: DayShape) -> None:
        self._shapes[day] = shape
        while len(self._shapes) > SHAPES_KEPT:
            del self._shapes[next(iter(self._shapes))]  # the oldest remembered

    def path_at(self, day: int, i: int) -> int:
        """`_path(day, bar)[0][i]` alone: ten knots and the day's shape instead of the 1441 boundaries."""
        bar, shape = self.day_bar(day), self.day_shape(day)
        d = self._noise_at(day, i) - (shape.start + (shape.end - shape.start) * i / MINUTES)
        return self._place(bar, i, d, shape.up, shape.down)

    def minute_at(self, day: int, m: int) -> MinutePath:
        """Minute m of the day as `minutes` makes it, alone: (open, close, first turn, second turn)."""
        bar, shape = self.day_bar(day), self.day_shape(day)
        o, c = self.path_at(day, m), self.path_at(day, m + 1)
        u = _uniforms(_digest(self.seed, self.uid, "m", day * MINUTES + m))
        typical = max(1, (bar.high - bar.low) // 30)
        high = min(bar.high, max(o, c) + int(u[0] * typical))
        low = max(bar.low, min(o, c) - int(u[1] * typical))
        high = bar.high if m == min(shape.top, MINUTES - 1) else high  # the pins `minutes` sets
        low = bar.low if m == min(shape.bottom, MINUTES - 1) else low
        f1, f2 = 0.1 + 0.35 * u[4], 0.55 + 0.35 * u[5]
        if u[6] < 0.5:  # the high comes first
            return o, c, (f1, high), (f2, low)
        return o, c, (f1, low), (f2, high)

    def is_corrected(self, minute: int) -> bool:
        """Whether epoch minute `minute` gets a late correction (one in twenty; one hash, no day)."""
        return _knot(self.seed, self.uid, "c", 1, minute) < _CORRECTED

    @staticmethod
    def _correction(close: int, high: int, low: int, volume: int, buy: int, u: float) -> Correction:
        """The preliminary minute differs by one tick of close (kept inside the range) and some lots."""
        shift = 1 if u < 0.25 else -1
        if not low <= close + shift <= high:
            shift = -shift if low <= close - shift <= high else 0
        lots = min(volume - 1, 1 + int(volume * 0.2 * u))
        return Correction(close=shift, volume=lots, volume_buy=min(buy, lots))

    def _noise(self, day: int) -> list[float]:
        """The minute-scale value noise at the 1441 minute boundaries of the day (`_noise_at` in bulk)."""
        first = day * MINUTES
        layers: list[list[float]] = []
        for scale in _MINUTE_SCALES:
            knots = _knots(self.seed, self.uid, "m", scale, first // scale, MINUTES // scale + 1)
            if scale == 1:  # amplitude 1 and no steps between knots: the knots themselves
                layers.append(knots)
                continue
            amplitude = math.sqrt(scale)
            steps = [(b - a) / scale for a, b in itertools.pairwise(knots)]
            layer = [
                amplitude * (a + step * r)
                for a, step in zip(knots[:-1], steps, strict=True)
                for r in range(scale)
            ]
            layer.append(amplitude * knots[-1])
            layers.append(layer)
        return list(map(sum, zip(*layers, strict=True)))

    def _noise_at(self, day: int, i: int) -> float:
        """`_noise(day)[i]` from the ten knots around boundary i, bit for bit (same terms, same order)."""
        first = day * MINUTES
        values: list[float] = []
        for scale in _MINUTE_SCALES:
            k, r = divmod(i, scale)
            a = _knot(self.seed, self.uid, "m", scale, first // scale + k)
            amplitude = math.sqrt(scale)
            if r == 0:  # a knot: amplitude * (a + step * 0) is amplitude * a
                values.append(amplitude * a)
            else:
                b = _knot(self.seed, self.uid, "m", scale, first // scale + k + 1)
                values.append(amplitude * (a + (b - a) / scale * r))
        return sum(values)

    @staticmethod
    def _place(bar: Bar, i: int, d: float, up: float, down: float) -> int:
        """Boundary i's price from its noise deviation `d`: the line plus the scaled deviation, in range."""
        if i == 0:
            p = bar.open
        elif i == MINUTES:
            p = bar.close
        else:
            y = bar.open + (bar.close - bar.open) * i / MINUTES
            p = round(y + d * (up if d > 0 else down))
        return min(bar.high, max(bar.low, p))

    def _path(self, day: int, bar: Bar) -> tuple[list[int], DayShape]:
        """Prices at the 1441 minute boundaries of the day, from bar.open to bar.close within [low, high],
        and the day's shape (what `path_at` needs to give any one of them alone)."""
        noise = self._noise(day)
        start, end = noise[0], noise[MINUTES]
        span, o, move, high, low = end - start, bar.open, bar.close - bar.open, bar.high, bar.low
        dev = [x - (start + span * i / MINUTES) for i, x in enumerate(noise)]
        line = [o + move * i / MINUTES for i in range(MINUTES + 1)]
        up = min([(high - y) / d for y, d in zip(line, dev, strict=True) if d > 0], default=0.0)
        down = min([(y - low) / -d for y, d in zip(line, dev, strict=True) if d < 0], default=0.0)
        # `_place` inlined (this pass runs per instrument and day), its clamp as comparisons.
        path = [round(y + d * (up if d > 0 else down)) for y, d in zip(line, dev, strict=True)]
        path = [p if low <= p <= high else (high if p > high else low) for p in path]
        path[0], path[MINUTES] = min(high, max(low, o)), min(high, max(low, bar.close))
        top, bottom = path.index(max(path)), path.index(min(path))  # the first of each
        return path, DayShape(up, down, start, end, top, bottom)
