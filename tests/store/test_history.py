"""`monitor history`: the store first, the missing pages fetched, output equal to the simulator's history."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from monitor.cli.history import export, missing, progress_bar, render
from monitor.clock import Clock
from monitor.feed import FeedConfig
from monitor.feed.history import plan_chunks
from monitor.market import Interval, SeriesKey
from monitor.sim import SimServer
from monitor.sim.market import price_parts
from monitor.store import CandleStore
from monitor.wire import quotation_to_decimal

DAY = 86_400
SBER = "SBER_TQBR"


def config_for(sim: SimServer) -> FeedConfig:
    return FeedConfig(endpoint=sim.address, token=sim.token, plaintext=True, mode="DEMO")


def expected_csv(sim: SimServer, interval: Interval, start: int, end: int) -> str:
    """The simulator's closed candles as CSV, prices from its own (units, nano): the ground truth."""
    item = sim.state.catalogue.resolve(SBER)
    assert item is not None
    now = sim.clock.now()
    # GetCandles serves nothing before the instrument's first candle (sim.history does not know it).
    first = item.first_1day if interval.seconds >= 86_400 else item.first_1min
    start = max(start, interval.start_of(first))
    lines = ["time,open,high,low,close,volume,source"]
    for candle in sim.history(item.uid, interval, start, end):
        found = sim.market.candle(item.uid, interval, candle.time, now)
        assert found is not None
        bar = found[0]
        prices = [
            format(quotation_to_decimal(*price_parts(item, ticks)).normalize(), "f")
            for ticks in (bar.open, bar.high, bar.low, bar.close)
        ]
        when = f"{_iso(candle.time)}"
        lines.append(f"{when},{','.join(prices)},{bar.volume},history")
    return "\n".join(lines) + "\n"


def _iso(ts: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CandleStore]:
    opened = CandleStore.open(tmp_path / "store.sqlite3")
    yield opened
    opened.close()


def span(sim: SimServer, interval: Interval, days: int) -> tuple[int, int]:
    """`days` of whole periods ending two days before the simulator's now (all closed and settled)."""
    end = interval.start_of(int(sim.clock.now()) - 2 * DAY)
    return interval.start_of(end - days * DAY), end


async def run_export(sim: SimServer, store: CandleStore, interval: Interval, start: int, end: int) -> str:
    clock: Clock = sim.clock
    _, rows = await export(config_for(sim), store, SBER, interval, start, end, clock=clock)
    return render(rows, "csv")


@pytest.mark.parametrize(
    ("interval", "days", "pages"),
    [(Interval.M1, 5, 5), (Interval.H1, 95, 2), (Interval.D1, 8 * 365, 2)],
    ids=["1m", "1h", "1d"],  # 1d: a page is six years and SBER's daily history starts in 2018
)
async def test_output_over_many_pages_equals_the_simulators_history(
    sim: SimServer, store: CandleStore, interval: Interval, days: int, pages: int
) -> None:
    start, end = span(sim, interval, days)
    chunks = plan_chunks(interval, start, end)
    assert len(chunks) >= pages  # the range spans that many GetCandles pages
    text = await run_export(sim, store, interval, start, end)
    assert text == expected_csv(sim, interval, start, end)  # no gap, no duplicate at a seam
    times = [line.split(",")[0] for line in text.splitlines()[1:]]
    assert len(times) == len(set(times))
    assert times[0] < _iso(chunks[0][1]) and times[-1] >= _iso(chunks[-1][0])  # first and last pages


async def test_a_second_run_reads_the_store_and_makes_no_call(sim: SimServer, store: CandleStore) -> None:
    start, end = span(sim, Interval.M1, 2)
    first = await run_export(sim, store, Interval.M1, start, end)
    calls = sim.stats.unary_calls
    again = await run_export(sim, store, Interval.M1, start, end)
    assert again == first
    assert sim.stats.unary_calls == calls  # candles and the instrument both came from the store


async def test_only_the_holes_around_stored_ranges_are_fetched(sim: SimServer, store: CandleStore) -> None:
    start, end = span(sim, Interval.M1, 4)
    middle = (start + DAY + 7 * 60, start + 2 * DAY + 13 * 60)  # off the page boundaries: odd seams
    await run_export(sim, store, Interval.M1, *middle)
    assert store.complete_ranges(SeriesKey(_uid(sim), Interval.M1)) == [middle]
    calls = sim.stats.unary_calls
    text = await run_export(sim, store, Interval.M1, start, end)
    assert text == expected_csv(sim, Interval.M1, start, end)
    holes = missing([middle], start, end)
    assert len(holes) == 2
    assert sim.stats.unary_calls - calls == sum(len(plan_chunks(Interval.M1, a, b)) for a, b in holes)
    assert store.complete_ranges(SeriesKey(_uid(sim), Interval.M1)) == [(start, end)]


async def test_without_a_store_the_output_is_the_same(
    sim: SimServer, store: CandleStore, tmp_path: Path
) -> None:
    start, end = span(sim, Interval.H1, 10)
    off = CandleStore.disabled(tmp_path / "none.sqlite3", "off")
    assert await run_export(sim, off, Interval.H1, start, end) == await run_export(
        sim, store, Interval.H1, start, end
    )


def _uid(sim: SimServer) -> str:
    item = sim.state.catalogue.resolve(SBER)
    assert item is not None
    return item.uid


def test_ndjson_is_one_exact_object_per_candle() -> None:
    rows = [(1_700_000_040, 314_150_000_000, 315_000_000_000, 314_100_000_000, 314_990_000_000, 42, 0)]
    [line] = render(rows, "ndjson").splitlines()
    record = json.loads(line, parse_float=Decimal)
    assert record == {
        "time": "2023-11-14T22:14:00Z",
        "open": Decimal("314.15"),
        "high": 315,
        "low": Decimal("314.1"),
        "close": Decimal("314.99"),
        "volume": 42,
        "source": "stream",
    }


def test_csv_has_a_header_and_iso_utc_times() -> None:
    rows = [(86_400, 100_000_000_001, 100_000_000_001, 100_000_000_001, 100_000_000_001, 1, 1)]
    assert render(rows, "csv") == (
        "time,open,high,low,close,volume,source\n"
        "1970-01-02T00:00:00Z,100.000000001,100.000000001,100.000000001,100.000000001,1,history\n"
    )


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_is_drawn_only_on_a_terminal() -> None:
    assert progress_bar(io.StringIO()) is None
    err = Tty()
    show = progress_bar(err)
    assert show is not None
    show(1, 4)
    show(4, 4)
    assert "1/4 pages" in err.getvalue()
    assert err.getvalue().endswith("4/4 pages\n")
