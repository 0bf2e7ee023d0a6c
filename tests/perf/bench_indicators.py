"""Indicator budget: IndicatorBook per streamed candle and per scroll-back page, against book upserts."""

from __future__ import annotations

import time
from collections.abc import Callable

from monitor.market import Candle, CandleBook, Interval, SeriesKey
from monitor.market.indicators import IndicatorBook, parse_indicator
from tests.perf.harness import Result, median

SERIES = 9
HISTORY = 2_000
"""Candles each series holds before the stream starts (a panel's backfill)."""
UPDATES_PER_CANDLE = 60
"""Streamed updates of the forming candle before the next one opens (1,000/s over 9 series of 1m)."""
OVERLAYS = ("sma 20", "bb 20 2")
RATE = 1_000
"""Updates per second the budget is set at (issue 14)."""
VALUES_BUDGET = 40.0
"""Both overlays brought up to date after every update (the worst case: a redraw per update; the UI
redraws a few times a second) within 40 upserts: ~25 µs at today's 0.6 µs upsert, 2.5 % of a core at
1,000 updates/s. Measured 15-20× (noisy: the reference is sub-microsecond)."""
KEYS = [SeriesKey(f"uid-{i}", Interval.M1) for i in range(SERIES)]


def _stream(count: int) -> list[tuple[SeriesKey, Candle]]:
    """`count` updates round-robin over the series: the forming candle grows, every
    UPDATES_PER_CANDLE-th update of a series opens the next one."""
    out: list[tuple[SeriesKey, Candle]] = []
    for n in range(count):
        key, step = KEYS[n % SERIES], n // SERIES
        time_ = 60 * (HISTORY + step // UPDATES_PER_CANDLE)
        price = 100.0 + (n * 7919 % 211) / 100
        out.append(
            (key, Candle(time_, 100.0, price + 1, price - 1, price, 1 + step % UPDATES_PER_CANDLE, False))
        )
    return out


def _loaded() -> CandleBook:
    book = CandleBook(capacity=50_000)
    for key in KEYS:
        for t in range(HISTORY):
            price = 100.0 + (t * 31 % 97) / 10
            book.upsert(key, Candle(60 * t, price, price + 1, price - 1, price, 10, True))
    return book


def _per_update(
    body: Callable[[CandleBook, IndicatorBook, list[tuple[SeriesKey, Candle]]], None], count: int
) -> float:
    """Seconds per update of `body` over a fresh book and stream (its warm-up values excluded)."""
    book, indicators, stream = _loaded(), IndicatorBook(), _stream(count)
    specs = [parse_indicator(text) for text in OVERLAYS]
    for key in KEYS:  # the panels' first draw: the whole history, not timed
        for spec in specs:
            indicators.values(book.series(key), spec)
    start = time.perf_counter()
    body(book, indicators, stream)
    return (time.perf_counter() - start) / count


def _upsert_only(book: CandleBook, _: IndicatorBook, stream: list[tuple[SeriesKey, Candle]]) -> None:
    upsert = book.upsert
    for key, candle in stream:
        upsert(key, candle)


def _with_listener(
    book: CandleBook, indicators: IndicatorBook, stream: list[tuple[SeriesKey, Candle]]
) -> None:
    upsert, note = book.upsert, indicators.on_candle
    for key, candle in stream:
        if upsert(key, candle):
            note(key, candle)


def _with_values(book: CandleBook, indicators: IndicatorBook, stream: list[tuple[SeriesKey, Candle]]) -> None:
    """The worst case: every update is followed by a redraw reading both overlays."""
    upsert, note, values = book.upsert, indicators.on_candle, indicators.values
    specs = [parse_indicator(text) for text in OVERLAYS]
    for key, candle in stream:
        if upsert(key, candle):
            note(key, candle)
            series = book.series(key)
            for spec in specs:
                values(series, spec)


SCROLL_HELD = 20_000
SCROLL_PAGE = 1_000
"""A scroll-back page: older candles put before a long series (GetCandles' 1m limit is 2,400)."""
SCROLL_SPECS = (*OVERLAYS, "ema 50", "rsi 14")


def _scroll_back(pages: int) -> tuple[float, float]:
    """Seconds per page: the book's upserts of it (the reference), then the indicators' catch-up."""
    book, indicators = CandleBook(capacity=50_000), IndicatorBook()
    key, specs = KEYS[0], [parse_indicator(text) for text in SCROLL_SPECS]
    oldest = 60 * (pages * SCROLL_PAGE)
    for t in range(SCROLL_HELD):
        price = 100.0 + (t * 31 % 97) / 10
        book.upsert(key, Candle(oldest + 60 * t, price, price + 1, price - 1, price, 10, True))
    series = book.series(key)
    for spec in specs:
        indicators.values(series, spec)
    upserts, catch_up = 0.0, 0.0
    for page in range(pages):
        start = time.perf_counter()
        for n in range(SCROLL_PAGE):
            t = oldest - 60 * (page * SCROLL_PAGE + n + 1)
            price = 100.0 + (t // 60 * 17 % 89) / 10
            candle = Candle(t, price, price + 1, price - 1, price, 10, True)
            if book.upsert(key, candle):
                indicators.on_candle(key, candle)
        middle = time.perf_counter()
        for spec in specs:
            indicators.values(series, spec)
        upserts += middle - start
        catch_up += time.perf_counter() - middle
    return upserts / pages, catch_up / pages


def run(quick: bool) -> list[Result]:
    count, rounds = (9_000, 3) if quick else (45_000, 5)
    base, listener, full = [], [], []
    for _ in range(rounds):  # interleaved, so a noisy moment hits all three alike
        base.append(_per_update(_upsert_only, count))
        listener.append(_per_update(_with_listener, count))
        full.append(_per_update(_with_values, count))
    upsert_us = median(base) * 1e6
    listen_us = median(listener) * 1e6 - upsert_us
    values_us = median(full) * 1e6 - upsert_us
    listen_ratio, values_ratio = listen_us / upsert_us, values_us / upsert_us
    core_share = values_us * RATE / 1e6 * 100
    reference = {"upsert_us": upsert_us, "updates": float(count), "series": float(SERIES)}
    scrolls = [_scroll_back(3 if quick else 10) for _ in range(rounds)]
    page_ms = median([s[0] for s in scrolls]) * 1e3
    catch_ms = median([s[1] for s in scrolls]) * 1e3
    scroll_ratio = catch_ms / page_ms
    return [
        Result(
            "indicators: on_candle per update",
            listen_ratio,
            "× upsert",
            "<= 1 × upsert",
            listen_ratio <= 1.0,
            {**reference, "on_candle_us": listen_us},
        ),
        Result(
            "indicators: 2 overlays per update",
            values_ratio,
            "× upsert",
            "<= 40 × upsert",
            values_ratio <= VALUES_BUDGET,
            {**reference, "indicator_us": values_us, "core_at_1000_per_s_pct": core_share},
        ),
        Result(
            "indicators: scroll-back page",
            scroll_ratio,
            "× upsert",
            "<= 3 × page upserts",
            scroll_ratio <= 3.0,
            {
                "page_upserts_ms": page_ms,
                "indicators_ms": catch_ms,
                "held": float(SCROLL_HELD),
                "page": float(SCROLL_PAGE),
                "indicators": float(len(SCROLL_SPECS)),
            },
        ),
    ]
