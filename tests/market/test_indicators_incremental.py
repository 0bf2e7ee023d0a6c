"""IndicatorBook against a naive full recomputation: appends, live updates, corrections, prepends, trims."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.market import Candle, CandleSeries, Interval, SeriesKey
from monitor.market.indicators import IndicatorBook, IndicatorSpec, parse_indicator
from monitor.market.indicators.compute import _REBASE_CHUNK as CHUNK
from monitor.market.indicators.compute import Bollinger, Calculator, Ema, Inputs, Macd, Rsi, Sma

KEY = SeriesKey("uid", Interval.M1)
MOSCOW = ZoneInfo("Europe/Moscow")
SPECS = [parse_indicator(s) for s in ("sma 3", "ema 4", "bb 5 2", "vwap", "rsi 3", "macd 2 5 3", "sma 1")]
Naive = dict[str, list[float | None]]


# ------------------------------------------------------------------ the naive reference
# Each value from its definition over the whole prefix, nothing carried between calls.


def naive_ema(values: list[float | None], n: int) -> list[float | None]:
    out: list[float | None] = [None] * len(values)
    defined = [i for i, v in enumerate(values) if v is not None]
    if len(defined) < n:
        return out
    first = defined[0]
    seed = first + n - 1
    prev = sum(v for v in values[first : seed + 1] if v is not None) / n
    out[seed] = prev
    for i in range(seed + 1, len(values)):
        value = values[i]
        assert value is not None
        prev = prev + 2 / (n + 1) * (value - prev)
        out[i] = prev
    return out


def naive(spec: IndicatorSpec, candles: list[Candle]) -> Naive:
    close = [c.close for c in candles]
    p = [int(x) for x in spec.params]
    if spec.kind == "sma":
        return {
            "sma": [
                sum(close[i - p[0] + 1 : i + 1]) / p[0] if i >= p[0] - 1 else None for i in range(len(close))
            ]
        }
    if spec.kind == "ema":
        return {"ema": naive_ema(list(close), p[0])}
    if spec.kind == "bb":
        n, k = p[0], spec.params[1]
        windows = [close[i - n + 1 : i + 1] if i >= n - 1 else None for i in range(len(close))]
        middle = [statistics.fmean(w) if w else None for w in windows]
        sd = [statistics.pstdev(w) if w else None for w in windows]
        return {
            "middle": middle,
            "upper": [
                m + k * s if m is not None and s is not None else None
                for m, s in zip(middle, sd, strict=True)
            ],
            "lower": [
                m - k * s if m is not None and s is not None else None
                for m, s in zip(middle, sd, strict=True)
            ],
        }
    if spec.kind == "vwap":
        out: list[float | None] = []
        for i, candle in enumerate(candles):
            day = datetime.fromtimestamp(candle.time, UTC).astimezone(MOSCOW).date()
            same = [
                c
                for c in candles[: i + 1]
                if datetime.fromtimestamp(c.time, UTC).astimezone(MOSCOW).date() == day
            ]
            volume = sum(c.volume for c in same)
            out.append(
                sum((c.high + c.low + c.close) / 3 * c.volume for c in same) / volume if volume else None
            )
        return {"vwap": out}
    if spec.kind == "rsi":
        n = p[0]
        rsi: list[float | None] = [None] * len(close)
        if len(close) > n:
            changes = [close[i] - close[i - 1] for i in range(1, len(close))]
            gain = sum(max(c, 0) for c in changes[:n]) / n
            loss = sum(max(-c, 0) for c in changes[:n]) / n
            for i in range(n, len(close)):
                if i > n:
                    gain = (gain * (n - 1) + max(changes[i - 1], 0)) / n
                    loss = (loss * (n - 1) + max(-changes[i - 1], 0)) / n
                rsi[i] = (50.0 if gain == 0 else 100.0) if loss == 0 else 100 - 100 / (1 + gain / loss)
        return {"rsi": rsi}
    assert spec.kind == "macd"
    fast, slow = naive_ema(list(close), p[0]), naive_ema(list(close), p[1])
    macd = [f - s if f is not None and s is not None else None for f, s in zip(fast, slow, strict=True)]
    signal = naive_ema(macd, p[2])
    hist = [m - s if m is not None and s is not None else None for m, s in zip(macd, signal, strict=True)]
    return {"macd": macd, "signal": signal, "hist": hist}


def assert_matches(book: IndicatorBook, series: CandleSeries, spec: IndicatorSpec) -> None:
    got = book.values(series, spec).lines
    want = naive(spec, list(series))
    assert set(got) == set(want)
    for name, line in want.items():
        assert len(got[name]) == len(line) == len(series), name
        for i, (a, b) in enumerate(zip(got[name], line, strict=True)):
            if b is None:
                assert a is None, (spec, name, i)
            else:
                # Relative to the value, with a floor at the price scale (MACD and hist sit near 0).
                assert a is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * 100), (
                    spec,
                    name,
                    i,
                    a,
                    b,
                )


# ------------------------------------------------------------------ random edit sequences

BASE = int(datetime(2026, 3, 2, 18, 0, tzinfo=UTC).timestamp())  # 21:00 MSK: day changes are near
price = st.floats(min_value=50, max_value=150, allow_nan=False, allow_infinity=False)
operation = st.one_of(
    st.tuples(st.just("append"), st.integers(1, 240), price, st.integers(0, 50)),
    st.tuples(st.just("update"), st.just(0), price, st.integers(1, 50)),
    st.tuples(st.just("correct"), st.integers(0, 10_000), price, st.integers(1, 50)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), price, st.integers(0, 50)),
    st.tuples(st.just("prepend"), st.integers(1, 30), price, st.integers(0, 50)),
    st.tuples(st.just("check"), st.just(0), price, st.just(0)),
)


def bar(time: int, close: float, volume: int, closed: bool = False) -> Candle:
    return Candle(time, close, close + 1.5, close - 0.5, close, volume, closed)


def apply(series: CandleSeries, op: tuple[str, int, float, int]) -> Candle | None:
    """Makes one edit; the candle that changed the series, or None when nothing changed."""
    kind, arg, close, volume = op
    times = [c.time for c in series]
    candle: Candle
    if kind == "append" or not times:
        candle = bar((times[-1] if times else BASE) + 60 * arg, close, volume)
    elif kind == "update":
        newest = series.get(times[-1])
        assert newest is not None
        candle = bar(times[-1], close, newest.volume + volume)
    elif kind == "correct":
        old = series.get(times[arg % len(times)])
        assert old is not None
        candle = bar(old.time, close, old.volume + volume, closed=True)
    elif kind == "insert":
        i = arg % len(times)
        free = [t for t in range(times[i] - 540, times[i], 60) if series.get(t) is None]
        if not free:
            return None
        candle = bar(free[-1], close, volume, closed=True)
    else:
        candle = bar(times[0] - 60 * arg, close, volume, closed=True)
    return candle if series.upsert(candle) else None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(["append"]), st.integers(1, 90), price, st.integers(0, 50)),
        min_size=5,
        max_size=80,
    ),
    st.lists(operation, min_size=5, max_size=80),
    st.integers(2, 40),  # small enough that the series trims its front
)
def test_the_incremental_book_equals_a_full_recomputation(
    history: list[tuple[str, int, float, int]], edits: list[tuple[str, int, float, int]], capacity: int
) -> None:
    series, book = CandleSeries(KEY, capacity=capacity), IndicatorBook()
    for op in history:
        apply(series, op)
    for spec in SPECS:
        assert_matches(book, series, spec)
    for op in edits:
        changed = apply(series, op)
        if changed is not None:
            book.on_candle(KEY, changed)
        if op[0] == "check":
            for spec in SPECS:
                assert_matches(book, series, spec)
    for spec in SPECS:
        assert_matches(book, series, spec)


# ------------------------------------------------------------------ what is recomputed


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every index a calculator resumed at."""
    seen: list[int] = []
    original = Calculator.update

    def spy(self: Calculator, inputs: object, start: int) -> None:
        seen.append(start)
        original(self, inputs, start)  # type: ignore[arg-type]

    monkeypatch.setattr(Calculator, "update", spy)
    return seen


def streamed(count: int) -> tuple[CandleSeries, IndicatorBook]:
    series, book = CandleSeries(KEY, capacity=10_000), IndicatorBook()
    for i in range(count):
        series.upsert(bar(BASE + 60 * i, 100 + i % 7, 10, closed=i < count - 1))  # the newest forms
    return series, book


@pytest.mark.parametrize(
    ("spec", "edit", "resumed_at"),
    [
        ("bb 20 2", bar(BASE + 60 * 499, 111, 99), 499),  # the forming candle trades again
        ("macd 12 26 9", bar(BASE + 60 * 500, 101, 3), 500),  # a new candle opens
        ("rsi 14", bar(BASE + 60 * 200, 90, 50, closed=True), 200),  # a correction in the middle
    ],
    ids=["update-of-the-newest", "append", "correction"],
)
def test_a_change_recomputes_only_from_the_changed_candle(
    starts: list[int], spec: str, edit: Candle, resumed_at: int
) -> None:
    series, book = streamed(500)
    indicator = parse_indicator(spec)
    book.values(series, indicator)
    assert series.upsert(edit)
    book.on_candle(KEY, edit)
    book.values(series, indicator)
    assert starts == [0, resumed_at]
    assert_matches(book, series, indicator)


def test_nothing_changed_recomputes_nothing(starts: list[int]) -> None:
    series, book = streamed(50)
    spec = parse_indicator("sma 5")
    book.values(series, spec)
    book.values(series, spec)
    assert starts == [0]  # the second call found nothing to do


@pytest.mark.parametrize(
    ("spec", "kind", "most"),
    [
        ("sma 20", Sma, 100 + 20 + CHUNK),  # the head and one window into what was held
        ("bb 20 2", Bollinger, 100 + 20 + CHUNK),
        ("ema 10", Ema, 100 + 400 + CHUNK),  # until the new seed's effect has decayed below 1e-12
        ("rsi 14", Rsi, 100 + 600 + CHUNK),
        ("macd 12 26 9", Macd, 100 + 1_500 + CHUNK),
    ],
)
def test_a_prepend_recomputes_the_new_head_until_it_agrees(
    monkeypatch: pytest.MonkeyPatch, spec: str, kind: type[Calculator], most: int
) -> None:
    series, book = streamed(3_000)
    indicator = parse_indicator(spec)
    book.values(series, indicator)
    reached: list[int] = []
    original = kind._extend

    def spy(self: Calculator, inputs: Inputs, start: int, stop: int) -> None:
        reached.append(stop)
        original(self, inputs, start, stop)

    monkeypatch.setattr(kind, "_extend", spy)
    for i in range(1, 101):  # a scroll-back page of 100 older candles
        older = bar(BASE - 60 * i, 90 + i % 13, 5, closed=True)
        series.upsert(older)
        book.on_candle(KEY, older)
    book.values(series, indicator)
    assert 100 < max(reached) <= most < 3_100  # computed in chunks, never the whole series
    assert_matches(book, series, indicator)


def test_a_change_not_announced_is_still_seen() -> None:
    series, book = streamed(50)
    spec = parse_indicator("sma 5")
    book.values(series, spec)
    series.upsert(bar(BASE + 60 * 10, 150, 99, closed=True))  # no on_candle
    assert_matches(book, series, spec)


def test_fifty_thousand_streamed_candles_do_not_drift() -> None:
    # Prices far from zero with small moves: the worst case for rolling sums and variances.
    series, book = CandleSeries(KEY, capacity=60_000), IndicatorBook()
    specs = [parse_indicator("sma 20"), parse_indicator("bb 20 2")]
    for i in range(50_000):
        candle = bar(BASE + 60 * i, 100_000 + (i * 7919 % 101) / 100, 1 + i % 5, closed=True)
        series.upsert(candle)
        book.on_candle(KEY, candle)
        for spec in specs:
            book.values(series, spec)
    closes = [c.close for c in series][-20:]
    values = book.values(series, specs[1]).at(len(series) - 1)
    assert values["middle"] == pytest.approx(statistics.fmean(closes), rel=1e-12)
    upper = values["upper"]
    assert upper is not None
    assert (upper - statistics.fmean(closes)) / 2 == pytest.approx(statistics.pstdev(closes), rel=1e-6)


def test_a_front_trimmed_by_the_capacity_recomputes_the_series() -> None:
    series, book = CandleSeries(KEY, capacity=10), IndicatorBook()
    specs = [parse_indicator(text) for text in ("sma 3", "bb 4 2", "rsi 3", "vwap")]
    for i in range(80):  # trimmed in chunks of 17 whenever it holds 27
        candle = bar(BASE + 600 * i, 100 + (i * 37 % 11), 1 + i % 3, closed=True)
        series.upsert(candle)
        book.on_candle(KEY, candle)
        for spec in specs:
            assert_matches(book, series, spec)
    assert len(series) < 80


class TailTrimmedSeries(CandleSeries):
    """A series that can lose its newest candles unannounced, as a trim away from a view that
    looks back does (the feed's scroll-back anchors the series; this stands in for it here)."""

    def drop_newest(self, count: int) -> None:
        for time in self._times[-count:]:
            del self._candles[time]
        del self._times[-count:]
        self.version += 1


@pytest.mark.parametrize("appended", [0, 5])
def test_candles_dropped_from_the_newest_end_are_seen(appended: int) -> None:
    series, book = TailTrimmedSeries(KEY, capacity=10_000), IndicatorBook()
    for i in range(40):
        series.upsert(bar(BASE + 60 * i, 100 + i % 9, 3, closed=True))
    for spec in SPECS:
        book.values(series, spec)
    series.drop_newest(12)
    for i in range(appended):  # the live edge goes on filling after the trim
        live = bar(BASE + 60 * (100 + i), 120 - i, 4)
        series.upsert(live)
        book.on_candle(KEY, live)
    for spec in SPECS:
        assert_matches(book, series, spec)
