"""Snapshot tests of the screen states users must be able to tell apart (FakeFeed + ManualClock)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from monitor.feed.health import ConnectionState
from monitor.feed.testing import FakeFeed, ManualClock, wave_candles
from monitor.market import Interval, TradingPhase
from tests.ui.uikit import MAIN, SIZE, WATCHLIST, AppFactory, fill, settle

Snap = Callable[..., bool]


def test_live_2x2(snap_compare: Snap, make: AppFactory, feed: FakeFeed, clock: ManualClock) -> None:
    """Four live panels with prices, changes and LIVE badges."""
    app = make()

    async def run_before(pilot: Pilot[int]) -> None:
        fill(feed, MAIN)
        clock.advance(3)
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_reconnecting(snap_compare: Snap, make: AppFactory, feed: FakeFeed, clock: ManualClock) -> None:
    """A long outage: RECONNECTING badges, attempt and countdown, and a banner saying what to do."""
    app = make()

    async def run_before(pilot: Pilot[int]) -> None:
        fill(feed, MAIN)
        await pilot.pause()
        feed.set_connection(ConnectionState.RECONNECTING, "UNAVAILABLE: connection refused", attempt=1)
        clock.advance(45)
        feed.set_connection(
            ConnectionState.RECONNECTING,
            "UNAVAILABLE: connection refused",
            attempt=5,
            next_retry_at=clock.now() + 12,
        )
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_auth_failed(snap_compare: Snap, make: AppFactory, feed: FakeFeed) -> None:
    """A rejected token: ERROR badges and a banner naming the variable to set."""
    app = make()

    async def run_before(pilot: Pilot[int]) -> None:
        await pilot.pause()
        feed.set_connection(ConnectionState.AUTH_FAILED, "UNAUTHENTICATED: token is invalid", code="40003")
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_unknown_instrument(
    snap_compare: Snap, make: AppFactory, feed: FakeFeed, clock: ManualClock, watchlist_file: Path
) -> None:
    """One entry does not exist: its panel says why, the other three keep streaming."""
    watchlist_file.write_text(WATCHLIST.replace('"LKOH_TQBR"', '"NOPE_TQBR"'))
    app = make()

    async def run_before(pilot: Pilot[int]) -> None:
        fill(feed, [MAIN[0], MAIN[1], MAIN[3]])
        clock.advance(2)
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_market_closed(snap_compare: Snap, make: AppFactory, feed: FakeFeed, clock: ManualClock) -> None:
    """After the close: CLOSED badges and grey dots, never STALE."""
    app = make()

    async def run_before(pilot: Pilot[int]) -> None:
        fill(feed, MAIN)
        for watch_id, _ in MAIN:
            feed.set_phase(watch_id, TradingPhase.CLOSED)
        clock.advance(2 * 3600)
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare: Snap, make: AppFactory, feed: FakeFeed) -> None:
    """The help screen lists every key and what the badges mean."""
    app = make()

    async def run_before(pilot: Pilot[int]) -> None:
        fill(feed, MAIN)
        await settle(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_bad_messages(snap_compare: Snap, make: AppFactory, feed: FakeFeed, clock: ManualClock) -> None:
    """Skipped server messages: a yellow counter in the status bar, panels untouched."""
    app = make()

    async def run_before(pilot: Pilot[int]) -> None:
        fill(feed, MAIN)
        feed.push_bad_message("candle high/low inconsistent", count=3)
        clock.advance(3)
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_cursor_readout(snap_compare: Snap, make: AppFactory, feed: FakeFeed, clock: ManualClock) -> None:
    """→ then ← ←: the cursor on the third newest candle of the focused panel, its readout over the chart."""
    app = make()

    async def run_before(pilot: Pilot[int]) -> None:
        fill(feed, MAIN, 200)
        clock.advance(3)
        await settle(pilot, app)
        await pilot.press("right", "left", "left")
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_history_view(snap_compare: Snap, make: AppFactory, feed: FakeFeed, clock: ManualClock) -> None:
    """Two pages back with new candles waiting: HISTORY −…, +N new in the header, the view kept."""
    app = make()

    async def run_before(pilot: Pilot[int]) -> None:
        fill(feed, MAIN, 200)
        clock.advance(3)
        await settle(pilot, app)
        await pilot.press("right", "shift+left", "shift+left", "escape", "tab", "left", "shift+left")
        clock.advance(120)
        # GAZP's two newer candles arrive while its panel looks back.
        newer = Interval.M1.start_of(int(clock.now())) - 60
        feed.push_candles("GAZP_TQBR", Interval.M1, wave_candles(newer, Interval.M1, 2, 140.0, seed=1))
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_zoomed_in(snap_compare: Snap, make: AppFactory, feed: FakeFeed, clock: ManualClock) -> None:
    """+ +: the focused panel draws each candle 3 cells wide with a visible body."""
    app = make()

    async def run_before(pilot: Pilot[int]) -> None:
        fill(feed, MAIN, 200)
        clock.advance(3)
        await settle(pilot, app)
        await pilot.press("plus", "plus")
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_zoomed_out(snap_compare: Snap, make: AppFactory, feed: FakeFeed, clock: ManualClock) -> None:
    """- - -: 8 candles a column (true OHLCV of each group), the time axis relabelled to fit."""
    app = make()

    async def run_before(pilot: Pilot[int]) -> None:
        fill(feed, MAIN, 600)
        clock.advance(3)
        await settle(pilot, app)
        await pilot.press("minus", "minus", "minus")
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def with_indicators(watchlist_file: Path, layout: str, indicators: str) -> None:
    text = WATCHLIST.replace('layout = "2x2"', f'layout = "{layout}"')
    watchlist_file.write_text(
        text.replace('interval = "1m"\n', f'interval = "1m"\nindicators = {indicators}\n', 1),
        encoding="utf-8",
    )


def test_overlays(
    snap_compare: Snap, make: AppFactory, feed: FakeFeed, clock: ManualClock, watchlist_file: Path
) -> None:
    """SMA 20, EMA 50 and Bollinger bands over the candles of every panel of the list."""
    with_indicators(watchlist_file, "2x2", '["sma 20", "ema 50", "bb 20 2"]')
    app = make()

    async def run_before(pilot: Pilot[int]) -> None:
        fill(feed, MAIN, 200)
        clock.advance(3)
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_rsi_pane(
    snap_compare: Snap, make: AppFactory, feed: FakeFeed, clock: ManualClock, watchlist_file: Path
) -> None:
    """RSI 14 in its pane under the volume, with the cursor's readout naming its value."""
    with_indicators(watchlist_file, "1", '["sma 20", "rsi 14"]')
    app = make()

    async def run_before(pilot: Pilot[int]) -> None:
        fill(feed, MAIN, 200)
        clock.advance(3)
        await settle(pilot, app)
        await pilot.press("right", "left", "left", "left")
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
